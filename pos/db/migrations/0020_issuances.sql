-- Batch issuance, reissue and top-ups.
--
-- An issuance is one batch of vouchers for one program, from one beneficiary list. Its id
-- is derived from the list's content unless the caller names it, so running the same file
-- again finds the finished batch instead of issuing twice. The whole batch is written in
-- one transaction: a batch is either all there or absent.

CREATE TABLE issuances (
    id            uuid PRIMARY KEY,
    program_id    uuid NOT NULL REFERENCES programs (id),
    content_hash  bytea NOT NULL,          -- SHA-256 of the normalised rows
    voucher_count integer NOT NULL CHECK (voucher_count > 0),
    source        text NOT NULL CHECK (source IN ('cli', 'api')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX issuances_program ON issuances (program_id, created_at);

-- Which batch (and which row of it) a voucher came from, so cards and the list of codes
-- can be printed again in the order of the original list; a note the program keeps with
-- the voucher (never shown to the holder or the till).
ALTER TABLE vouchers
    ADD COLUMN issuance_id   uuid REFERENCES issuances (id),
    ADD COLUMN issuance_line integer,
    ADD COLUMN note          text;
CREATE INDEX vouchers_issuance ON vouchers (issuance_id, issuance_line)
    WHERE issuance_id IS NOT NULL;

-- Manual codes replaced by a reissue: the holder page says "replaced" instead of
-- "unknown", and the till can tell the two apart.
CREATE TABLE retired_codes (
    code_hash  bytea PRIMARY KEY,
    voucher_id uuid NOT NULL REFERENCES vouchers (id),
    retired_at timestamptz NOT NULL DEFAULT now()
);

-- Top-ups are admin writes that move value, so a retried request must not grant twice:
-- the Idempotency-Key, what was asked, and the answer given.
CREATE TABLE credit_grants (
    voucher_id      uuid NOT NULL REFERENCES vouchers (id),
    idempotency_key text NOT NULL,
    request_hash    bytea NOT NULL,
    credit_id       bigint NOT NULL,
    response_body   jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (voucher_id, idempotency_key)
);
