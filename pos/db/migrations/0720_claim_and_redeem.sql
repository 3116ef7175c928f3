-- A fresh cash sale in one statement (issue 15).
--
-- The till's common sale (a key it never used, no remainder to collect through a channel,
-- no rule details to store) claims its idempotency key and moves the value in one
-- statement, so in one transaction of its own: no BEGIN and COMMIT round trips, and one
-- commit per sale. Its voucher was loaded just before, read only (`pos.storage.
-- claim_and_redeem`).
--
-- The key is inserted as a running claim; `pos_redeem` marks it done with the answer. A
-- key another request holds (or held) is left alone: the answer is 'key_taken', nothing is
-- written, and the service judges the request the general way (`pos.till.claims`), which
-- replays, refuses a different request or says it is still running. A refusal of
-- `pos_redeem` removes the claim again, so the statement writes nothing at all, exactly as
-- the general path rolls its transaction back.

CREATE FUNCTION pos_claim_and_redeem(
    p_redemption_id uuid,
    p_voucher_id    uuid,
    p_merchant_id   uuid,
    p_till_id       uuid,
    p_idem_key      text,
    p_idem_owner    uuid,
    p_currency      text,
    p_basket_total  bigint,
    p_eligible_total bigint,
    p_wanted        bigint,
    p_requested     bigint,
    p_channel       text,
    p_lines         jsonb,
    p_response      jsonb,
    p_token_iat     bigint,
    p_request_hash  bytea,
    p_lease_seconds double precision
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_doc jsonb;
BEGIN
    -- Waits for an open transaction holding the same key, then does nothing if it kept it.
    INSERT INTO idempotency_keys (till_id, key, request_hash, owner, status, lease_until)
    VALUES (p_till_id, p_idem_key, p_request_hash, p_idem_owner, 'running',
            now() + make_interval(secs => p_lease_seconds))
    ON CONFLICT (till_id, key) DO NOTHING;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'key_taken');
    END IF;
    v_doc := pos_redeem(p_redemption_id, p_voucher_id, p_merchant_id, p_till_id, p_idem_key,
                        p_idem_owner, p_currency, p_basket_total, p_eligible_total,
                        p_wanted, p_requested, p_channel, p_lines, p_response, p_token_iat);
    IF v_doc->>'outcome' <> 'ok' THEN
        DELETE FROM idempotency_keys
         WHERE till_id = p_till_id AND key = p_idem_key AND owner = p_idem_owner;
    END IF;
    RETURN v_doc;
END;
$$;
