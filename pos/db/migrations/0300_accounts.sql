-- Named accounts with roles, their console sessions and personal API tokens, and the
-- top-ups and reissues that wait for a second account's confirmation.
--
-- Secrets are stored only as SHA-256 (sessions, tokens) or Argon2id (passwords).

CREATE TABLE accounts (
    id                   uuid PRIMARY KEY,
    login                text NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
    role                 text NOT NULL CHECK (role IN ('admin', 'officer', 'finance', 'auditor')),
    password_hash        text NOT NULL,
    must_change_password boolean NOT NULL DEFAULT true,
    failed_sign_ins      integer NOT NULL DEFAULT 0,
    locked_until         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    disabled_at          timestamptz
);

CREATE TABLE account_sessions (
    id_hash    bytea PRIMARY KEY,            -- SHA-256 of the cookie's random value
    account_id uuid NOT NULL REFERENCES accounts (id),
    csrf_token text NOT NULL,                -- sent back in X-CSRF-Token by the console
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX account_sessions_account ON account_sessions (account_id);

CREATE TABLE account_tokens (
    id         uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    name       text NOT NULL,
    token_hash bytea NOT NULL UNIQUE,        -- SHA-256 of the bearer token
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX account_tokens_account ON account_tokens (account_id);

-- A top-up or reissue above the configured amount, asked for by one account and carried
-- out only when a different account confirms it.
CREATE TABLE pending_confirmations (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('top_up', 'reissue')),
    voucher_id      uuid NOT NULL REFERENCES vouchers (id),
    amount          bigint NOT NULL CHECK (amount >= 0),
    payload         jsonb NOT NULL,
    requested_by    text NOT NULL,
    requested_by_id uuid,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'confirmed', 'cancelled')),
    decided_by      text,
    decided_at      timestamptz,
    outcome         jsonb
);
CREATE INDEX pending_confirmations_open ON pending_confirmations (requested_at)
    WHERE status = 'pending';

-- Who cut a settlement run, as an account id: a batch is approved by another account.
ALTER TABLE settlement_runs ADD COLUMN created_by_account uuid
    DEFAULT nullif(current_setting('pos.actor_id', true), '')::uuid;
