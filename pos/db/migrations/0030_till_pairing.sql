-- Pairing a tablet with a till: an administrator makes a short-lived, one-time code, and
-- the tablet trades it for a fresh till secret (which replaces the till's previous one).
-- Only the SHA-256 of each code is kept, like till secrets.
CREATE TABLE till_pairing_codes (
    code_hash  bytea PRIMARY KEY,
    till_id    uuid NOT NULL REFERENCES tills (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz            -- set once, when a tablet paired with it
);
CREATE INDEX till_pairing_codes_till ON till_pairing_codes (till_id);
