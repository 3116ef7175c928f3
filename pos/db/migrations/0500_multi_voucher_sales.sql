-- Several vouchers paying one basket. A sale is what the till sees (one id, one answer,
-- one idempotency key); each voucher that pays is one ordinary redemption of its own (its
-- part), written by pos_redeem (migration 0002) in the sale's transaction, so every part
-- has its own ledger movement, program, outbox event and settlement line. The part that
-- carries the remainder (and its channel payment) is the lead: the parts' basket totals
-- and remainders add up to the sale's. Written by pos.storage.sale_records.

CREATE TABLE sales (
    id                 uuid PRIMARY KEY,
    merchant_id        uuid NOT NULL REFERENCES merchants (id),
    till_id            uuid NOT NULL REFERENCES tills (id),
    currency           char(3) NOT NULL,
    basket_total       bigint NOT NULL CHECK (basket_total >= 0),
    covered            bigint NOT NULL CHECK (covered > 0),
    remainder          bigint NOT NULL CHECK (remainder >= 0),
    channel            text NOT NULL,
    lead_redemption_id uuid NOT NULL REFERENCES redemptions (id),
    status             text NOT NULL DEFAULT 'captured'
                       CHECK (status IN ('captured', 'voided')),
    answer             jsonb NOT NULL,         -- the till's answer as first given
    created_at         timestamptz NOT NULL DEFAULT now(),
    voided_at          timestamptz,
    CHECK (basket_total = covered + remainder)
);
CREATE INDEX sales_merchant ON sales (merchant_id, created_at);

-- One row per voucher listed, in scan order; a voucher the basket did not need pays 0 and
-- has no redemption.
CREATE TABLE sale_parts (
    sale_id       uuid NOT NULL REFERENCES sales (id),
    position      smallint NOT NULL CHECK (position BETWEEN 1 AND 10),
    voucher_id    uuid NOT NULL REFERENCES vouchers (id),
    redemption_id uuid UNIQUE REFERENCES redemptions (id),
    amount        bigint NOT NULL CHECK (amount >= 0),
    CHECK ((amount = 0) = (redemption_id IS NULL)),
    PRIMARY KEY (sale_id, position),
    UNIQUE (sale_id, voucher_id)
);

-- Which voucher paid how much of which basket line: a line is never paid beyond its total.
CREATE TABLE sale_line_parts (
    sale_id    uuid NOT NULL REFERENCES sales (id),
    line_no    integer NOT NULL,
    voucher_id uuid NOT NULL,
    amount     bigint NOT NULL CHECK (amount > 0),
    PRIMARY KEY (sale_id, line_no, voucher_id)
);
