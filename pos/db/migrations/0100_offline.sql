-- Offline tills: each tablet's own signing key, the offline limits a program publishes,
-- the signed kits handed to tills, and sales made offline and forwarded later.
--
-- A forwarded offline sale is always honoured for the merchant. When the voucher no longer
-- holds the value (spent elsewhere meanwhile) the voucher goes to zero and the difference
-- is booked to the program's offline-risk account (account 'program_offline_risk'), never
-- to a negative balance: pos_redeem_offline below, called by pos.storage.offline_sales.

-- The tablet's Ed25519 public key (raw, base64url), registered when it pairs.
ALTER TABLE tills ADD COLUMN device_public_key text;

-- Limits per program, and optionally per merchant (a merchant's row wins over the
-- program's row, which wins over the service's [offline] configuration).
CREATE TABLE offline_limits (
    program_id        uuid NOT NULL REFERENCES programs (id),
    merchant_id       uuid REFERENCES merchants (id),
    enabled           boolean NOT NULL DEFAULT true,
    max_per_sale      bigint NOT NULL CHECK (max_per_sale >= 0),
    max_till_total    bigint NOT NULL CHECK (max_till_total >= 0),
    max_offline_seconds integer NOT NULL CHECK (max_offline_seconds > 0),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX offline_limits_program_merchant
    ON offline_limits (program_id, coalesce(merchant_id, '00000000-0000-0000-0000-000000000000'));

-- Every kit handed out, with exactly what it allowed, so a forwarded sale is checked
-- against the kit the till used, not against today's settings.
CREATE TABLE offline_kits (
    version     bigserial PRIMARY KEY,
    till_id     uuid NOT NULL REFERENCES tills (id),
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    max_till_total bigint NOT NULL,
    programs    jsonb NOT NULL         -- program id -> {rules, limits, ...} as in the kit
);
CREATE INDEX offline_kits_till ON offline_kits (till_id, version);

ALTER TABLE redemptions
    ADD COLUMN offline      boolean NOT NULL DEFAULT false,
    ADD COLUMN shortfall    bigint NOT NULL DEFAULT 0 CHECK (shortfall >= 0),
    ADD COLUMN kit_version  bigint,
    ADD COLUMN forwarded_at timestamptz;
CREATE INDEX redemptions_offline ON redemptions (program_id) WHERE offline;

ALTER TABLE redemptions DROP CONSTRAINT redemptions_covered_check;
ALTER TABLE redemptions ADD CONSTRAINT redemptions_covered_check
    CHECK (covered > 0 AND shortfall <= covered);


-- Book a forwarded offline sale, under the voucher's lock, at the time it happened. The
-- merchant is owed `p_covered` in full; the voucher gives what it still holds (oldest
-- credit first), the offline-risk account the rest. Writes the idempotency answer in the
-- same transaction, as pos_redeem does.
CREATE FUNCTION pos_redeem_offline(
    p_redemption_id uuid,
    p_voucher_id    uuid,
    p_merchant_id   uuid,
    p_till_id       uuid,
    p_idem_key      text,
    p_idem_owner    uuid,
    p_currency      text,
    p_basket_total  bigint,
    p_eligible_total bigint,
    p_covered       bigint,
    p_channel       text,
    p_lines         jsonb,
    p_response      jsonb,
    p_occurred_at   timestamptz,
    p_kit_version   bigint
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v         vouchers%ROWTYPE;
    v_avail   bigint;
    v_take    bigint;
    v_left    bigint;
    v_short   bigint;
    v_part    bigint;
    v_uses    integer;
    v_txn     uuid := gen_random_uuid();
    c         record;
    v_answer  jsonb;
BEGIN
    SELECT * INTO v FROM vouchers WHERE id = p_voucher_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found');
    END IF;

    -- What the voucher still holds in credits that were live when the sale happened.
    SELECT coalesce(sum(remaining), 0) INTO v_avail
      FROM credits
     WHERE voucher_id = p_voucher_id AND remaining > 0
       AND valid_from <= p_occurred_at AND valid_until > p_occurred_at;
    v_take := least(p_covered, v_avail);
    v_short := p_covered - v_take;

    INSERT INTO redemptions (id, voucher_id, program_id, merchant_id, till_id, currency,
                             basket_total, eligible_total, covered, remainder, channel,
                             created_at, offline, shortfall, kit_version, forwarded_at)
    VALUES (p_redemption_id, p_voucher_id, v.program_id, p_merchant_id, p_till_id, p_currency,
            p_basket_total, p_eligible_total, p_covered, p_basket_total - p_covered, p_channel,
            p_occurred_at, true, v_short, p_kit_version, now());

    INSERT INTO redemption_lines (redemption_id, line_no, sku, gtin, category, description,
                                  quantity, unit_price, line_total, eligible, rule, reason)
    SELECT p_redemption_id, l.line_no, l.sku, l.gtin, l.category, l.description,
           l.quantity, l.unit_price, l.line_total, l.eligible, l.rule, l.reason
      FROM jsonb_to_recordset(p_lines) AS l(line_no integer, sku text, gtin text,
           category text, description text, quantity integer, unit_price bigint,
           line_total bigint, eligible boolean, rule text, reason text);

    v_left := v_take;
    FOR c IN
        SELECT id, remaining FROM credits
         WHERE voucher_id = p_voucher_id AND remaining > 0
           AND valid_from <= p_occurred_at AND valid_until > p_occurred_at
         ORDER BY valid_from, valid_until, id
         FOR UPDATE
    LOOP
        EXIT WHEN v_left = 0;
        v_part := least(c.remaining, v_left);
        UPDATE credits SET remaining = remaining - v_part
         WHERE voucher_id = p_voucher_id AND id = c.id;
        INSERT INTO redemption_credits (redemption_id, voucher_id, credit_id, amount)
        VALUES (p_redemption_id, p_voucher_id, c.id, v_part);
        v_left := v_left - v_part;
    END LOOP;

    UPDATE vouchers
       SET uses_left = CASE WHEN uses_left IS NULL THEN NULL
                            ELSE greatest(uses_left - 1, 0) END,
           updated_at = now()
     WHERE id = p_voucher_id
    RETURNING uses_left INTO v_uses;

    INSERT INTO ledger_entries (txn_id, kind, account, account_id, amount, currency,
                                program_id, voucher_id, redemption_id)
    SELECT v_txn, 'redeem', e.account, e.account_id, e.amount, p_currency, v.program_id,
           p_voucher_id, p_redemption_id
      FROM (VALUES ('voucher', p_voucher_id, -v_take),
                   ('program_offline_risk', v.program_id, -v_short),
                   ('merchant_payable', p_merchant_id, p_covered)) AS e(account, account_id, amount)
     WHERE e.amount <> 0;

    v_answer := p_response || jsonb_build_object(
        'covered', p_covered,
        'remainder', p_basket_total - p_covered,
        'from_voucher', v_take,
        'shortfall', v_short,
        'balance_after', v_avail - v_take,
        'uses_left', v_uses);

    UPDATE idempotency_keys
       SET status = 'done', response_status = 201, response_body = v_answer
     WHERE till_id = p_till_id AND key = p_idem_key AND owner = p_idem_owner;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PV001', MESSAGE = 'pos_idempotency_lease_lost';
    END IF;

    RETURN jsonb_build_object('outcome', 'ok', 'answer', v_answer);
END;
$$;
