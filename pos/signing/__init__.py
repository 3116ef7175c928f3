"""Voucher tokens and the keys that sign them: compact Ed25519 JWTs, key files in the data
folder, public keys cached from PostgreSQL and published as JWKS."""
