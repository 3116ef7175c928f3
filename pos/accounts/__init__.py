"""Named accounts and what holds people to account: passwords (Argon2id), console sessions,
personal API tokens, the second account's confirmation that money moves need (four eyes),
and checking the hash-chained audit log that migration 0301 writes."""
