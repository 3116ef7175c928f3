-- Settlement: runs, per-merchant batches, their lines, status history, exports and the
-- merchants' payout accounts.
--
-- A redemption is settled exactly once: settlement_lines is keyed by (redemption_id, kind),
-- so a redemption appears in one batch as 'redemption' and, if it is voided after that,
-- in one later batch as a negative 'adjustment'. Closed batches are never rewritten.

CREATE TABLE settlement_runs (
    id          uuid PRIMARY KEY,
    period_end  timestamptz NOT NULL,
    merchant_id uuid REFERENCES merchants (id),   -- NULL: every merchant
    program_id  uuid REFERENCES programs (id),    -- NULL: every program
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE settlement_batches (
    id               uuid PRIMARY KEY,
    run_id           uuid NOT NULL REFERENCES settlement_runs (id),
    merchant_id      uuid NOT NULL REFERENCES merchants (id),
    program_id       uuid REFERENCES programs (id),
    currency         char(3) NOT NULL,
    period_end       timestamptz NOT NULL,
    line_count       integer NOT NULL CHECK (line_count > 0),
    redemption_total bigint NOT NULL CHECK (redemption_total >= 0),
    adjustment_total bigint NOT NULL CHECK (adjustment_total <= 0),
    total            bigint NOT NULL,
    status           text NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'approved', 'paid', 'failed')),
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    payout_reference text,
    CHECK (total = redemption_total + adjustment_total)
);
CREATE INDEX settlement_batches_merchant ON settlement_batches (merchant_id, created_at);
CREATE INDEX settlement_batches_run ON settlement_batches (run_id);

CREATE TABLE settlement_lines (
    batch_id      uuid NOT NULL REFERENCES settlement_batches (id),
    redemption_id uuid NOT NULL REFERENCES redemptions (id),
    kind          text NOT NULL CHECK (kind IN ('redemption', 'adjustment')),
    amount        bigint NOT NULL,
    program_id    uuid NOT NULL,
    voucher_id    uuid NOT NULL,
    occurred_at   timestamptz NOT NULL,   -- when redeemed, or when voided for an adjustment
    PRIMARY KEY (redemption_id, kind),
    CHECK ((kind = 'redemption' AND amount > 0) OR (kind = 'adjustment' AND amount < 0))
);
CREATE INDEX settlement_lines_batch ON settlement_lines (batch_id, occurred_at, redemption_id);

-- Who moved a batch to which status, when, and why: the batch's whole history.
CREATE TABLE settlement_events (
    id         bigserial PRIMARY KEY,
    batch_id   uuid NOT NULL REFERENCES settlement_batches (id),
    status     text NOT NULL,
    actor      text NOT NULL,
    note       text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX settlement_events_batch ON settlement_events (batch_id, id);

-- Every distinct file an export produced, by its SHA-256, so a merchant and the funder can
-- check they hold the same file.
CREATE TABLE settlement_exports (
    batch_id          uuid NOT NULL REFERENCES settlement_batches (id),
    format            text NOT NULL,
    sha256            text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes             bigint NOT NULL,
    first_exported_at timestamptz NOT NULL DEFAULT now(),
    last_exported_at  timestamptz NOT NULL DEFAULT now(),
    times             integer NOT NULL DEFAULT 1,
    PRIMARY KEY (batch_id, format, sha256)
);

-- Where a merchant is paid: the account a credit transfer goes to.
CREATE TABLE settlement_payees (
    merchant_id  uuid PRIMARY KEY REFERENCES merchants (id),
    account_name text NOT NULL,
    account_id   text NOT NULL,     -- IBAN, or the bank's own account number
    agent_bic    text,              -- the merchant's bank, by BIC ...
    agent_id     text,              -- ... or by its clearing member id (e.g. CNAPS code)
    updated_at   timestamptz NOT NULL DEFAULT now()
);
