-- Core schema: programs, merchants, tills, keys, vouchers, credits, redemptions, ledger,
-- idempotency. Hot tables carry voucher_id so they can be hash-distributed by it on Citus;
-- programs, merchants and signing_keys are small reference tables.

CREATE TABLE programs (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    currency         char(3) NOT NULL,
    restrictions     text[] NOT NULL,
    rule_settings    jsonb NOT NULL DEFAULT '{}',
    face_value       bigint NOT NULL CHECK (face_value >= 0),
    per_visit_cap    bigint CHECK (per_visit_cap > 0),
    uses             integer CHECK (uses > 0),
    unit_price       bigint CHECK (unit_price > 0),
    valid_from       timestamptz NOT NULL,
    valid_until      timestamptz NOT NULL,
    allowance        jsonb,
    require_identity boolean NOT NULL DEFAULT false,
    channels         text[] NOT NULL DEFAULT '{cash}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_until > valid_from),
    CHECK ((uses IS NULL) = (unit_price IS NULL))
);

CREATE TABLE merchants (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE program_merchants (
    program_id  uuid NOT NULL REFERENCES programs (id),
    merchant_id uuid NOT NULL REFERENCES merchants (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, merchant_id)
);

CREATE TABLE tills (
    id          uuid PRIMARY KEY,
    merchant_id uuid NOT NULL REFERENCES merchants (id),
    name        text NOT NULL,
    secret_hash bytea NOT NULL UNIQUE,   -- SHA-256 of a 256-bit random secret
    created_at  timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);
CREATE INDEX tills_merchant ON tills (merchant_id);

CREATE TABLE signing_keys (
    kid        text PRIMARY KEY,
    public_key text NOT NULL,            -- raw Ed25519 public key, base64url
    status     text NOT NULL CHECK (status IN ('active', 'retired', 'revoked')),
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz,
    revoked_at timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (status) WHERE status = 'active';

CREATE TABLE vouchers (
    id              uuid PRIMARY KEY,
    program_id      uuid NOT NULL REFERENCES programs (id),
    beneficiary_ref text NOT NULL,
    holder_ref      text,
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'suspended', 'revoked', 'expired')),
    token_kid       text NOT NULL REFERENCES signing_keys (kid),
    token_iat       bigint NOT NULL,     -- only the token with this iat and kid is current
    token_exp       bigint NOT NULL,
    code_hash       bytea NOT NULL UNIQUE,
    uses_left       integer CHECK (uses_left >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (program_id, beneficiary_ref)
);

CREATE TABLE credits (
    id          bigserial,
    voucher_id  uuid NOT NULL REFERENCES vouchers (id),
    kind        text NOT NULL CHECK (kind IN ('grant', 'allowance', 'topup')),
    amount      bigint NOT NULL CHECK (amount > 0),
    remaining   bigint NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    valid_from  timestamptz NOT NULL,
    valid_until timestamptz NOT NULL,
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (voucher_id, id)
);

CREATE TABLE redemptions (
    id              uuid PRIMARY KEY,
    voucher_id      uuid NOT NULL REFERENCES vouchers (id),
    program_id      uuid NOT NULL REFERENCES programs (id),
    merchant_id     uuid NOT NULL REFERENCES merchants (id),
    till_id         uuid NOT NULL REFERENCES tills (id),
    currency        char(3) NOT NULL,
    basket_total    bigint NOT NULL CHECK (basket_total >= 0),
    eligible_total  bigint NOT NULL CHECK (eligible_total >= 0),
    covered         bigint NOT NULL CHECK (covered > 0),
    remainder       bigint NOT NULL CHECK (remainder >= 0),
    channel         text NOT NULL,
    status          text NOT NULL DEFAULT 'captured' CHECK (status IN ('captured', 'voided')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    voided_at       timestamptz,
    voided_by_till  uuid
);
CREATE INDEX redemptions_voucher ON redemptions (voucher_id, created_at);
CREATE INDEX redemptions_merchant ON redemptions (merchant_id, created_at);

CREATE TABLE redemption_lines (
    redemption_id uuid NOT NULL REFERENCES redemptions (id),
    line_no       integer NOT NULL,
    sku           text NOT NULL,
    gtin          text,
    category      text NOT NULL,
    description   text NOT NULL,
    quantity      integer NOT NULL CHECK (quantity > 0),
    unit_price    bigint NOT NULL CHECK (unit_price >= 0),
    line_total    bigint NOT NULL CHECK (line_total >= 0),
    eligible      boolean NOT NULL,
    rule          text NOT NULL,
    reason        text NOT NULL,
    PRIMARY KEY (redemption_id, line_no)
);

CREATE TABLE redemption_credits (
    redemption_id uuid NOT NULL REFERENCES redemptions (id),
    voucher_id    uuid NOT NULL,
    credit_id     bigint NOT NULL,
    amount        bigint NOT NULL CHECK (amount > 0),
    PRIMARY KEY (redemption_id, credit_id)
);

-- Double entry: every transaction (txn_id) sums to zero. Accounts:
--   program_funding/<program>  value promised by the funder, negative as vouchers are issued
--   voucher/<voucher>          what the holder may still spend (equals the credits' remaining)
--   merchant_payable/<merchant> owed to the merchant for captured redemptions
--   program_expired/<program>  value that went unused past its validity
CREATE TABLE ledger_entries (
    id            bigserial PRIMARY KEY,
    txn_id        uuid NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('issue', 'redeem', 'void', 'expire', 'topup',
                                                 'settle', 'adjust')),
    account       text NOT NULL,
    account_id    uuid NOT NULL,
    amount        bigint NOT NULL,
    currency      char(3) NOT NULL,
    program_id    uuid NOT NULL,
    voucher_id    uuid,
    redemption_id uuid,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_account ON ledger_entries (account, account_id);
CREATE INDEX ledger_txn ON ledger_entries (txn_id);

CREATE TABLE idempotency_keys (
    till_id         uuid NOT NULL,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    owner           uuid NOT NULL,
    status          text NOT NULL CHECK (status IN ('running', 'done')),
    lease_until     timestamptz NOT NULL,
    response_status integer,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (till_id, key)
);
