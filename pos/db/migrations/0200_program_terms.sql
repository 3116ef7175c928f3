-- Programs live in a time zone, limit what a voucher pays per visit and per period, and
-- record every change; a beneficiary may hold several grants of one program.
--
-- Replaces pos_redeem and pos_void (migration 0002): under the voucher's lock they now also
-- read the program's current terms (so a change applies to later redemptions only), keep
-- the per-visit cap per merchant and local day, keep the period limits across merchants,
-- and count one session per eligible unit for programs counted in uses.

ALTER TABLE programs
    ADD COLUMN time_zone text NOT NULL DEFAULT 'Asia/Shanghai',
    -- [{"period": "day"|"week"|"month", "max_redemptions": n?, "max_amount": n?}]
    ADD COLUMN limits    jsonb NOT NULL DEFAULT '[]';

-- Who changed what in a program, and when: {"field": {"from": ..., "to": ...}}.
CREATE TABLE program_changes (
    id         bigserial PRIMARY KEY,
    program_id uuid NOT NULL REFERENCES programs (id),
    changed_by text NOT NULL,
    changes    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX program_changes_program ON program_changes (program_id, created_at);

-- One voucher per beneficiary per grant ('' when the program gives one voucher each).
ALTER TABLE vouchers ADD COLUMN grant_label text NOT NULL DEFAULT '';
ALTER TABLE vouchers DROP CONSTRAINT vouchers_program_id_beneficiary_ref_key;
ALTER TABLE vouchers ADD CONSTRAINT vouchers_beneficiary_grant
    UNIQUE (program_id, beneficiary_ref, grant_label);

-- Sessions in a redemption of a program counted in uses.
ALTER TABLE redemptions ADD COLUMN sessions integer CHECK (sessions > 0);


-- What a voucher may still pay now at a merchant under its program's per-visit cap and
-- period limits, all in the program's local time. Captured redemptions count; voided
-- ones gave their share back. Answers {"room": n or null (no limit), and when room is 0,
-- "period" and "resets_at" (local wall time, ISO 8601) of the limit that is used up}.
CREATE FUNCTION pos_limit_room(p_voucher_id uuid, p_merchant_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p        programs%ROWTYPE;
    v_local  timestamp;
    v_start  timestamp;
    v_next   timestamp;
    v_used   bigint;
    v_count  bigint;
    v_room   bigint := NULL;
    v_left   bigint;
    v_period text := NULL;
    v_reset  timestamp := NULL;
    l        jsonb;
BEGIN
    SELECT pr.* INTO p FROM programs pr JOIN vouchers v ON v.program_id = pr.id
     WHERE v.id = p_voucher_id;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('room', NULL);
    END IF;
    v_local := now() AT TIME ZONE p.time_zone;

    IF p.per_visit_cap IS NOT NULL THEN
        v_start := date_trunc('day', v_local);
        SELECT coalesce(sum(covered), 0) INTO v_used FROM redemptions
         WHERE voucher_id = p_voucher_id AND merchant_id = p_merchant_id
           AND status = 'captured' AND created_at >= (v_start AT TIME ZONE p.time_zone);
        v_room := greatest(p.per_visit_cap - v_used, 0);
        IF v_room = 0 THEN
            v_period := 'visit';
            v_reset := v_start + interval '1 day';
        END IF;
    END IF;

    FOR l IN SELECT * FROM jsonb_array_elements(p.limits) LOOP
        v_start := date_trunc(l->>'period', v_local);
        v_next := v_start + ('1 ' || (l->>'period'))::interval;
        SELECT coalesce(sum(covered), 0), count(*) INTO v_used, v_count FROM redemptions
         WHERE voucher_id = p_voucher_id AND status = 'captured'
           AND created_at >= (v_start AT TIME ZONE p.time_zone);
        v_left := NULL;
        IF l ? 'max_redemptions' AND v_count >= (l->>'max_redemptions')::bigint THEN
            v_left := 0;
        ELSIF l ? 'max_amount' THEN
            v_left := greatest((l->>'max_amount')::bigint - v_used, 0);
        END IF;
        IF v_left IS NOT NULL AND (v_room IS NULL OR v_left < v_room
                                   OR (v_left = 0 AND v_next > coalesce(v_reset, v_next))) THEN
            v_room := v_left;
            IF v_left = 0 THEN
                v_period := l->>'period';
                v_reset := v_next;
            END IF;
        END IF;
    END LOOP;

    IF v_room = 0 THEN
        RETURN jsonb_build_object('room', 0, 'period', v_period,
                                  'resets_at', to_char(v_reset, 'YYYY-MM-DD"T"HH24:MI:SS'));
    END IF;
    RETURN jsonb_build_object('room', v_room);
END;
$$;


-- What the sessions of a basket are worth for a program counted in uses: one session per
-- eligible unit, dearest first, each covered up to the session price, at most p_sessions.
CREATE FUNCTION pos_session_cover(p_lines jsonb, p_unit_price bigint, p_sessions integer)
RETURNS TABLE (sessions integer, cover bigint)
LANGUAGE sql IMMUTABLE AS $$
    SELECT count(*)::integer, coalesce(sum(least(u.unit_price, p_unit_price)), 0)::bigint
      FROM (SELECT l.unit_price
              FROM jsonb_to_recordset(p_lines) AS l(eligible boolean, quantity integer,
                                                    unit_price bigint)
              CROSS JOIN LATERAL generate_series(1, l.quantity)
             WHERE l.eligible
             ORDER BY l.unit_price DESC
             LIMIT greatest(p_sessions, 0)) AS u
$$;


-- How many sessions an amount covered from those units uses: the dearest units first, every
-- unit that any of the amount falls on (at least one).
CREATE FUNCTION pos_sessions_for(p_lines jsonb, p_unit_price bigint, p_sessions integer,
                                 p_cover bigint)
RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT greatest(count(*), 1)::integer
      FROM (SELECT sum(least(u.unit_price, p_unit_price)) OVER (
                       ORDER BY u.unit_price DESC, u.n ROWS UNBOUNDED PRECEDING)
                   - least(u.unit_price, p_unit_price) AS before
              FROM (SELECT l.unit_price, row_number() OVER () AS n
                      FROM jsonb_to_recordset(p_lines) AS l(eligible boolean, quantity integer,
                                                            unit_price bigint)
                      CROSS JOIN LATERAL generate_series(1, l.quantity)
                     WHERE l.eligible
                     ORDER BY l.unit_price DESC
                     LIMIT greatest(p_sessions, 0)) AS u) AS c
     WHERE c.before < p_cover
$$;


CREATE OR REPLACE FUNCTION pos_redeem(
    p_redemption_id uuid,
    p_voucher_id    uuid,
    p_merchant_id   uuid,
    p_till_id       uuid,
    p_idem_key      text,
    p_idem_owner    uuid,
    p_currency      text,
    p_basket_total  bigint,
    p_eligible_total bigint,
    p_wanted        bigint,     -- what the caller worked out (eligible, capped, sessions)
    p_requested     bigint,     -- an explicit amount asked by the till, or NULL
    p_channel       text,
    p_lines         jsonb,
    p_response      jsonb,      -- the answer, without the figures decided here
    p_token_iat     bigint      -- the token generation the caller checked
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v        vouchers%ROWTYPE;
    p        programs%ROWTYPE;
    v_avail  bigint;
    v_cover  bigint;
    v_wanted bigint := p_wanted;
    v_left   bigint;
    v_take   bigint;
    v_uses   integer;
    v_sess   integer := NULL;
    v_scover bigint;
    v_room   jsonb;
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
    -- The program's terms as they are now: a change applies from the next redemption on.
    SELECT * INTO p FROM programs WHERE id = v.program_id;

    IF v.uses_left IS NOT NULL AND p.unit_price IS NOT NULL THEN
        -- One session per eligible unit, up to the uses left now (under the lock).
        SELECT s.sessions, s.cover INTO v_sess, v_scover
          FROM pos_session_cover(p_lines, p.unit_price, v.uses_left) s;
        IF v_sess = 0 THEN
            RETURN jsonb_build_object('outcome', 'voucher_exhausted');
        END IF;
        v_wanted := least(v_wanted, v_scover);
    END IF;
    IF p.per_visit_cap IS NOT NULL OR p.limits <> '[]'::jsonb THEN
        v_room := pos_limit_room(p_voucher_id, p_merchant_id);
        IF (v_room->>'room') IS NOT NULL THEN
            IF (v_room->>'room')::bigint = 0 THEN
                RETURN v_room || jsonb_build_object('outcome', 'limit_reached');
            END IF;
            v_wanted := least(v_wanted, (v_room->>'room')::bigint);
        END IF;
    END IF;

    SELECT coalesce(sum(remaining), 0) INTO v_avail
      FROM credits
     WHERE voucher_id = p_voucher_id AND remaining > 0
       AND valid_from <= now() AND valid_until > now();

    v_cover := least(v_wanted, v_avail);
    IF v_cover <= 0 THEN
        RETURN jsonb_build_object('outcome', 'voucher_exhausted');
    END IF;
    IF p_requested IS NOT NULL THEN
        IF p_requested > v_cover THEN
            RETURN jsonb_build_object('outcome', 'amount_exceeds_coverage', 'covered', v_cover);
        END IF;
        v_cover := p_requested;
    END IF;
    IF v_sess IS NOT NULL THEN
        -- The sessions this amount actually pays (a cap or a split sale may pay fewer).
        v_sess := pos_sessions_for(p_lines, p.unit_price, v.uses_left, v_cover);
    END IF;

    INSERT INTO redemptions (id, voucher_id, program_id, merchant_id, till_id, currency,
                             basket_total, eligible_total, covered, remainder, channel,
                             sessions)
    VALUES (p_redemption_id, p_voucher_id, v.program_id, p_merchant_id, p_till_id, p_currency,
            p_basket_total, p_eligible_total, v_cover, p_basket_total - v_cover, p_channel,
            v_sess);

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
       SET uses_left = CASE WHEN uses_left IS NULL THEN NULL
                            ELSE uses_left - coalesce(v_sess, 1) END,
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
    IF v_sess IS NOT NULL THEN
        v_answer := v_answer || jsonb_build_object('sessions_used', v_sess,
                                                   'sessions_left', v_uses);
    END IF;

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


-- As in 0002, except that a void gives back every session the redemption used.
CREATE OR REPLACE FUNCTION pos_void(
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
       SET uses_left = CASE WHEN uses_left IS NULL THEN NULL
                            ELSE uses_left + coalesce(r.sessions, 1) END,
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
    IF r.sessions IS NOT NULL THEN
        v_answer := v_answer || jsonb_build_object('sessions_restored', r.sessions,
                                                   'sessions_left', v_uses);
    END IF;

    UPDATE idempotency_keys
       SET status = 'done', response_status = 200, response_body = v_answer
     WHERE till_id = p_till_id AND key = p_idem_key AND owner = p_idem_owner;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PV001', MESSAGE = 'pos_idempotency_lease_lost';
    END IF;

    RETURN jsonb_build_object('outcome', 'ok', 'answer', v_answer);
END;
$$;
