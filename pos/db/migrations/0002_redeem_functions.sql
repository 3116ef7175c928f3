-- The two value-moving writes of the till, each one statement and one transaction:
-- the voucher row is locked, the credits drawn oldest first (or restored), the redemption,
-- its lines, the ledger entries and the idempotency answer written together. The caller
-- has already verified the token and decided the basket lines; what can change under
-- concurrency (status, balance, uses) is decided here, under the lock.
--
-- A lost idempotency lease is raised with our own SQLSTATE PV001, which
-- pos.storage.driver_errors reads (never the message text).

CREATE FUNCTION pos_redeem(
    p_redemption_id uuid,
    p_voucher_id    uuid,
    p_merchant_id   uuid,
    p_till_id       uuid,
    p_idem_key      text,
    p_idem_owner    uuid,
    p_currency      text,
    p_basket_total  bigint,
    p_eligible_total bigint,
    p_wanted        bigint,     -- min(eligible total, per-visit cap, unit price)
    p_requested     bigint,     -- an explicit amount asked by the till, or NULL
    p_channel       text,
    p_lines         jsonb,
    p_response      jsonb,      -- the answer, without the figures decided here
    p_token_iat     bigint      -- the token generation the caller checked
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v        vouchers%ROWTYPE;
    v_avail  bigint;
    v_cover  bigint;
    v_left   bigint;
    v_take   bigint;
    v_uses   integer;
    v_txn    uuid := gen_random_uuid();
    c        record;
    v_answer jsonb;
BEGIN
    SELECT * INTO v FROM vouchers WHERE id = p_voucher_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found');
    END IF;
    IF v.status <> 'active' THEN
        RETURN jsonb_build_object('outcome', 'voucher_' || v.status);
    END IF;
    IF v.token_iat <> p_token_iat THEN
        -- Reissued after the caller checked the token or code: the old one is dead.
        RETURN jsonb_build_object('outcome', 'voucher_revoked');
    END IF;
    IF v.uses_left IS NOT NULL AND v.uses_left = 0 THEN
        RETURN jsonb_build_object('outcome', 'voucher_exhausted');
    END IF;

    SELECT coalesce(sum(remaining), 0) INTO v_avail
      FROM credits
     WHERE voucher_id = p_voucher_id AND remaining > 0
       AND valid_from <= now() AND valid_until > now();

    v_cover := least(p_wanted, v_avail);
    IF v_cover <= 0 THEN
        RETURN jsonb_build_object('outcome', 'voucher_exhausted');
    END IF;
    IF p_requested IS NOT NULL THEN
        IF p_requested > v_cover THEN
            RETURN jsonb_build_object('outcome', 'amount_exceeds_coverage', 'covered', v_cover);
        END IF;
        v_cover := p_requested;
    END IF;

    INSERT INTO redemptions (id, voucher_id, program_id, merchant_id, till_id, currency,
                             basket_total, eligible_total, covered, remainder, channel)
    VALUES (p_redemption_id, p_voucher_id, v.program_id, p_merchant_id, p_till_id, p_currency,
            p_basket_total, p_eligible_total, v_cover, p_basket_total - v_cover, p_channel);

    INSERT INTO redemption_lines (redemption_id, line_no, sku, gtin, category, description,
                                  quantity, unit_price, line_total, eligible, rule, reason)
    SELECT p_redemption_id, l.line_no, l.sku, l.gtin, l.category, l.description,
           l.quantity, l.unit_price, l.line_total, l.eligible, l.rule, l.reason
      FROM jsonb_to_recordset(p_lines) AS l(line_no integer, sku text, gtin text,
           category text, description text, quantity integer, unit_price bigint,
           line_total bigint, eligible boolean, rule text, reason text);

    -- Oldest live credit first.
    v_left := v_cover;
    FOR c IN
        SELECT id, remaining FROM credits
         WHERE voucher_id = p_voucher_id AND remaining > 0
           AND valid_from <= now() AND valid_until > now()
         ORDER BY valid_from, valid_until, id
         FOR UPDATE
    LOOP
        v_take := least(c.remaining, v_left);
        UPDATE credits SET remaining = remaining - v_take
         WHERE voucher_id = p_voucher_id AND id = c.id;
        INSERT INTO redemption_credits (redemption_id, voucher_id, credit_id, amount)
        VALUES (p_redemption_id, p_voucher_id, c.id, v_take);
        v_left := v_left - v_take;
        EXIT WHEN v_left = 0;
    END LOOP;
    IF v_left <> 0 THEN
        RAISE EXCEPTION 'credits changed under lock for voucher %', p_voucher_id;
    END IF;

    UPDATE vouchers
       SET uses_left = CASE WHEN uses_left IS NULL THEN NULL ELSE uses_left - 1 END,
           updated_at = now()
     WHERE id = p_voucher_id
    RETURNING uses_left INTO v_uses;

    INSERT INTO ledger_entries (txn_id, kind, account, account_id, amount, currency,
                                program_id, voucher_id, redemption_id)
    VALUES (v_txn, 'redeem', 'voucher', p_voucher_id, -v_cover, p_currency,
            v.program_id, p_voucher_id, p_redemption_id),
           (v_txn, 'redeem', 'merchant_payable', p_merchant_id, v_cover, p_currency,
            v.program_id, p_voucher_id, p_redemption_id);

    v_answer := p_response || jsonb_build_object(
        'covered', v_cover,
        'remainder', p_basket_total - v_cover,
        'balance_after', v_avail - v_cover,
        'uses_left', v_uses);

    UPDATE idempotency_keys
       SET status = 'done', response_status = 201, response_body = v_answer
     WHERE till_id = p_till_id AND key = p_idem_key AND owner = p_idem_owner;
    IF NOT FOUND THEN
        -- Our lease ran out and another attempt took the key over: write nothing.
        RAISE EXCEPTION USING ERRCODE = 'PV001', MESSAGE = 'pos_idempotency_lease_lost';
    END IF;

    RETURN jsonb_build_object('outcome', 'ok', 'answer', v_answer);
END;
$$;


CREATE FUNCTION pos_void(
    p_redemption_id uuid,
    p_merchant_id   uuid,
    p_till_id       uuid,
    p_window        interval,
    p_idem_key      text,
    p_idem_owner    uuid
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r        redemptions%ROWTYPE;
    v_txn    uuid := gen_random_uuid();
    v_uses   integer;
    v_avail  bigint;
    v_answer jsonb;
BEGIN
    SELECT * INTO r FROM redemptions WHERE id = p_redemption_id;
    IF NOT FOUND OR r.merchant_id <> p_merchant_id THEN
        RETURN jsonb_build_object('outcome', 'not_found');
    END IF;
    -- Lock the voucher first, as pos_redeem does, so the two never deadlock.
    PERFORM 1 FROM vouchers WHERE id = r.voucher_id FOR UPDATE;
    SELECT * INTO r FROM redemptions WHERE id = p_redemption_id FOR UPDATE;
    IF r.status = 'voided' THEN
        RETURN jsonb_build_object('outcome', 'already_voided');
    END IF;
    IF r.created_at + p_window < now() THEN
        RETURN jsonb_build_object('outcome', 'void_window_closed');
    END IF;

    UPDATE credits c
       SET remaining = c.remaining + rc.amount
      FROM redemption_credits rc
     WHERE rc.redemption_id = p_redemption_id
       AND c.voucher_id = rc.voucher_id AND c.id = rc.credit_id;

    UPDATE vouchers
       SET uses_left = CASE WHEN uses_left IS NULL THEN NULL ELSE uses_left + 1 END,
           updated_at = now()
     WHERE id = r.voucher_id
    RETURNING uses_left INTO v_uses;

    UPDATE redemptions
       SET status = 'voided', voided_at = now(), voided_by_till = p_till_id
     WHERE id = p_redemption_id;

    INSERT INTO ledger_entries (txn_id, kind, account, account_id, amount, currency,
                                program_id, voucher_id, redemption_id)
    VALUES (v_txn, 'void', 'voucher', r.voucher_id, r.covered, r.currency,
            r.program_id, r.voucher_id, p_redemption_id),
           (v_txn, 'void', 'merchant_payable', r.merchant_id, -r.covered, r.currency,
            r.program_id, r.voucher_id, p_redemption_id);

    SELECT coalesce(sum(remaining), 0) INTO v_avail
      FROM credits
     WHERE voucher_id = r.voucher_id AND remaining > 0
       AND valid_from <= now() AND valid_until > now();

    v_answer := jsonb_build_object(
        'id', p_redemption_id, 'voucher_id', r.voucher_id, 'status', 'voided',
        'restored', r.covered, 'balance_after', v_avail, 'uses_left', v_uses,
        'currency', r.currency);

    UPDATE idempotency_keys
       SET status = 'done', response_status = 200, response_body = v_answer
     WHERE till_id = p_till_id AND key = p_idem_key AND owner = p_idem_owner;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PV001', MESSAGE = 'pos_idempotency_lease_lost';
    END IF;

    RETURN jsonb_build_object('outcome', 'ok', 'answer', v_answer);
END;
$$;
