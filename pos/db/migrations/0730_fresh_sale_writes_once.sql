-- A fresh sale writes each row once (issue 15). Measured with bench/redeem_writes.py: the
-- fresh sale's statement wrote 22.7 WAL records (3,824 bytes) and 10 index entries, and
-- called three PL/pgSQL functions, against TPC-B's 7.1 records.
--
-- 1. The fresh sale's idempotency record is inserted once, already done with its answer,
--    by the statement that moves the value: `pos_redeem` with a request hash (the key is
--    new) instead of `pos_claim_and_redeem` (migration 0720), which inserted a running
--    claim (a speculative insert, confirmed) and then marked it done (a second version of
--    a row carrying the whole answer). That claim was never seen by anyone else: it was
--    inserted and marked done in the same transaction. A key another request holds now
--    either fails the key's advisory lock at once (an open claim holds it, as
--    `pos.storage.till_lookup` takes it) or raises unique_violation at the insert (a
--    finished or committed one): the statement, a transaction of its own, rolls back whole
--    and the service judges the request the general way. No EXCEPTION block (a
--    subtransaction per sale). The advisory lock also keeps the order of locks the general
--    path takes (the key, then the voucher), so the two can never deadlock on a key. A
--    refusal under the voucher's lock returns before any write: nothing to remove.
-- 2. The redemption's outbox event is written by the same statement, not by the trigger
--    `redemptions_outbox_committed`, whose queued call at commit cost a trigger event, a
--    PL/pgSQL call and a statement of its own per sale. The trigger now fires only for the
--    other writer of redemptions, `pos_redeem_offline` (an offline sale, `offline` true);
--    the void trigger is unchanged. A committed event's id is its redemption's (a void's
--    event still draws its own).
-- 3. That event carries no payload: it was a second copy of the redemption row (a fifth of
--    the sale's WAL once the key's answer is its only other large value). The row as
--    inserted is read when the event is claimed for delivery (`pos.storage.event_queue`),
--    as the lines already are: a redemption's row changes only when it is voided (status,
--    voided_at, voided_by_till, all set back to what they were at insert). A void's event
--    and an offline sale's keep theirs, as before.

DROP FUNCTION pos_claim_and_redeem(uuid, uuid, uuid, uuid, text, uuid, text, bigint, bigint,
                                   bigint, bigint, text, jsonb, jsonb, bigint, bytea,
                                   double precision);
DROP FUNCTION pos_redeem(uuid, uuid, uuid, uuid, text, uuid, text, bigint, bigint, bigint,
                         bigint, text, jsonb, jsonb, bigint);

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
    p_wanted        bigint,     -- what the caller worked out (eligible, capped, sessions)
    p_requested     bigint,     -- an explicit amount asked by the till, or NULL
    p_channel       text,
    p_lines         jsonb,
    p_response      jsonb,      -- the answer, without the figures decided here
    p_token_iat     bigint,     -- the token generation the caller checked
    -- NULL: the caller holds the key's claim, marked done here. Given: the key is new, and
    -- is inserted done with the answer (a fresh sale, `pos.storage.claim_and_redeem`).
    p_request_hash  bytea DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_program uuid;
    v_status  text;
    v_iat     bigint;
    v_uses    integer;
    v_uses_after integer;
    v_unit    bigint;
    v_cap     bigint;
    v_limits  jsonb;
    v_avail   bigint;
    v_cover   bigint;
    v_wanted  bigint := p_wanted;
    v_sess    integer := NULL;
    v_scover  bigint;
    v_room    jsonb;
    v_drawn   bigint;
    v_stored  integer;
    v_answer  jsonb;
BEGIN
    -- A new key: an open claim of it (or another fresh sale with it) holds this lock.
    IF p_request_hash IS NOT NULL AND NOT pg_try_advisory_xact_lock(
            hashtextextended(p_till_id::text || ':' || p_idem_key, 15)) THEN
        RETURN jsonb_build_object('outcome', 'key_taken');
    END IF;
    -- The program's terms as they are now: a change applies from the next redemption on.
    SELECT v.program_id, v.status, v.token_iat, v.uses_left,
           p.unit_price, p.per_visit_cap, p.limits
      INTO v_program, v_status, v_iat, v_uses, v_unit, v_cap, v_limits
      FROM vouchers v JOIN programs p ON p.id = v.program_id
     WHERE v.id = p_voucher_id
       FOR UPDATE OF v;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'not_found');
    END IF;
    IF v_status <> 'active' THEN
        RETURN jsonb_build_object('outcome', 'voucher_' || v_status);
    END IF;
    IF v_iat <> p_token_iat THEN
        -- Reissued after the caller checked the token or code: the old one is dead.
        RETURN jsonb_build_object('outcome', 'voucher_revoked');
    END IF;
    IF v_uses IS NOT NULL AND v_uses = 0 THEN
        RETURN jsonb_build_object('outcome', 'voucher_exhausted');
    END IF;

    IF v_uses IS NOT NULL AND v_unit IS NOT NULL THEN
        -- One session per eligible unit, up to the uses left now (under the lock).
        SELECT s.sessions, s.cover INTO v_sess, v_scover
          FROM pos_session_cover(p_lines, v_unit, v_uses) s;
        IF v_sess = 0 THEN
            RETURN jsonb_build_object('outcome', 'voucher_exhausted');
        END IF;
        v_wanted := least(v_wanted, v_scover);
    END IF;
    IF v_cap IS NOT NULL OR v_limits <> '[]'::jsonb THEN
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
        v_sess := pos_sessions_for(p_lines, v_unit, v_uses, v_cover);
    END IF;
    -- A voucher counted in uses spends the sessions paid, or one use.
    v_uses_after := v_uses - coalesce(v_sess, 1);

    v_answer := p_response || jsonb_build_object(
        'covered', v_cover,
        'remainder', p_basket_total - v_cover,
        'balance_after', v_avail - v_cover,
        'uses_left', v_uses_after);
    IF v_sess IS NOT NULL THEN
        v_answer := v_answer || jsonb_build_object('sessions_used', v_sess,
                                                   'sessions_left', v_uses_after);
    END IF;

    WITH redemption AS (
        INSERT INTO redemptions (id, voucher_id, program_id, merchant_id, till_id, currency,
                                 basket_total, eligible_total, covered, remainder, channel,
                                 sessions)
        VALUES (p_redemption_id, p_voucher_id, v_program, p_merchant_id, p_till_id,
                p_currency, p_basket_total, p_eligible_total, v_cover,
                p_basket_total - v_cover, p_channel, v_sess)
    ), event AS (
        -- Named by the redemption's id (unique and time-ordered, made by the service): no
        -- random draw of the server. No payload: the row as inserted is read at delivery.
        INSERT INTO outbox_events (id, kind, redemption_id, program_id)
        VALUES (p_redemption_id, 'redemption.committed', p_redemption_id, v_program)
    ), lines AS (
        INSERT INTO redemption_lines (redemption_id, line_no, sku, gtin, category,
                                      description, quantity, unit_price, line_total,
                                      eligible, rule, reason)
        SELECT p_redemption_id, l.line_no, l.sku, l.gtin, l.category, l.description,
               l.quantity, l.unit_price, l.line_total, l.eligible, l.rule, l.reason
          FROM jsonb_to_recordset(p_lines) AS l(line_no integer, sku text, gtin text,
               category text, description text, quantity integer, unit_price bigint,
               line_total bigint, eligible boolean, rule text, reason text)
    ), plan AS (
        -- Oldest live credit first: each gives what is left to draw after the older ones.
        SELECT id, least(remaining, v_cover - (sum(remaining) OVER oldest_first - remaining))
                   AS take
          FROM credits
         WHERE voucher_id = p_voucher_id AND remaining > 0
           AND valid_from <= now() AND valid_until > now()
        WINDOW oldest_first AS (ORDER BY valid_from, valid_until, id)
    ), drawn AS (
        UPDATE credits c SET remaining = c.remaining - plan.take
          FROM plan
         WHERE c.voucher_id = p_voucher_id AND c.id = plan.id AND plan.take > 0
           AND c.remaining >= plan.take
        RETURNING c.id, plan.take
    ), credit_parts AS (
        INSERT INTO redemption_credits (redemption_id, voucher_id, credit_id, amount)
        SELECT p_redemption_id, p_voucher_id, id, take FROM drawn
    ), entries AS (
        INSERT INTO ledger_entries (txn_id, kind, account, account_id, amount, currency,
                                    program_id, voucher_id, redemption_id)
        SELECT p_redemption_id, 'redeem', e.account, e.account_id, e.amount, p_currency,
               v_program, p_voucher_id, p_redemption_id
          FROM (VALUES ('voucher', p_voucher_id, -v_cover),
                       ('merchant_payable', p_merchant_id, v_cover))
               AS e(account, account_id, amount)
    ), answer AS (
        UPDATE idempotency_keys
           SET status = 'done', response_status = 201, response_body = v_answer
         WHERE p_request_hash IS NULL
           AND till_id = p_till_id AND key = p_idem_key AND owner = p_idem_owner
        RETURNING 1
    ), new_key AS (
        -- Raises unique_violation when the key was used meanwhile: nothing is written.
        INSERT INTO idempotency_keys (till_id, key, request_hash, owner, status, lease_until,
                                      response_status, response_body)
        SELECT p_till_id, p_idem_key, p_request_hash, p_idem_owner, 'done', now(), 201,
               v_answer
         WHERE p_request_hash IS NOT NULL
        RETURNING 1
    )
    SELECT (SELECT coalesce(sum(take), 0) FROM drawn),
           (SELECT count(*) FROM answer) + (SELECT count(*) FROM new_key)
      INTO v_drawn, v_stored;

    IF v_stored = 0 THEN
        -- Our lease ran out and another attempt took the key over: write nothing.
        RAISE EXCEPTION USING ERRCODE = 'PV001', MESSAGE = 'pos_idempotency_lease_lost';
    END IF;
    IF v_drawn <> v_cover THEN
        RAISE EXCEPTION 'credits changed under lock for voucher %', p_voucher_id;
    END IF;
    IF v_uses IS NOT NULL THEN
        UPDATE vouchers SET uses_left = v_uses_after, updated_at = now()
         WHERE id = p_voucher_id;
    END IF;

    RETURN jsonb_build_object('outcome', 'ok', 'answer', v_answer);
END;
$$;

ALTER TABLE outbox_events ALTER COLUMN payload DROP NOT NULL;

DROP TRIGGER redemptions_outbox_committed ON redemptions;
CREATE CONSTRAINT TRIGGER redemptions_outbox_committed
    AFTER INSERT ON redemptions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.offline)
    EXECUTE FUNCTION pos_outbox_redemption_event();
