-- Money a payment channel moved at a provider for the remainder of a basket, journalled so
-- a redemption is never half-done: a row is written before the provider is called, bound to
-- the redemption in the redemption's own transaction, and anything collected but not bound
-- (the redemption was refused, the provider's answer never came, the process died) is moved
-- to refund_pending and reversed by the background task until the provider confirms.
--
--   collecting ─▶ collected ─▶ bound ─(void)─▶ refund_pending ─▶ refunded
--        │             └──────────────────────────▲
--        ├──▶ declined                            │
--        └────────────────────────────────────────┘  (answer unknown: reverse by key)

CREATE TABLE channel_payments (
    id              uuid PRIMARY KEY,
    till_id         uuid NOT NULL,
    idem_key        text NOT NULL,            -- the till's Idempotency-Key
    channel         text NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    currency        char(3) NOT NULL,
    provider_key    text NOT NULL UNIQUE,     -- the idempotency key sent to the provider
    status          text NOT NULL CHECK (status IN ('collecting', 'collected', 'declined',
                                                    'bound', 'refund_pending', 'refunded')),
    reference       text,                     -- the provider's own id
    redemption_id   uuid UNIQUE,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channel_payments_request ON channel_payments (till_id, idem_key);
CREATE INDEX channel_payments_pending ON channel_payments (next_attempt_at)
    WHERE status IN ('collecting', 'collected', 'refund_pending');
CREATE INDEX channel_payments_reference ON channel_payments (channel, reference);

-- Provider webhooks taken, for idempotency (event_id) and replay refusal (fingerprint).
CREATE TABLE channel_webhook_events (
    channel     text NOT NULL,
    event_id    text NOT NULL,
    fingerprint text NOT NULL,
    type        text NOT NULL,
    reference   text,
    data        jsonb NOT NULL DEFAULT '{}',
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, event_id)
);
CREATE UNIQUE INDEX channel_webhook_fingerprint ON channel_webhook_events (channel, fingerprint);
