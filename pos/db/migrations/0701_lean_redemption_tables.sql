-- What a redemption's rows cost to write (issue 15), measured with bench/redeem_writes.py:
-- per redemption it wrote 12 index entries, 6 row locks (a MultiXact nearly every time)
-- and called two audit triggers, against TPC-B's 1 index entry and 1 row lock.
--
-- 1. Foreign keys whose check locks a row every till shares. Each insert into
--    `redemptions` took a KEY SHARE lock on its program's, merchant's and till's row:
--    with many tills of one program or shop, every redemption added itself to a MultiXact
--    on the same few rows (a WAL record and a MultiXact each, serialised on them). The
--    values come from rows the redemption has just read (the program from the locked
--    voucher, the till and its merchant from the till's authenticated claim), and programs,
--    merchants and tills are never deleted (a till is disabled): the statement triggers
--    below refuse a DELETE or TRUNCATE of them, and of redemptions, so nothing can leave a
--    redemption pointing nowhere. The key on the voucher stays (its row is locked by the
--    redemption already, so the check takes no new lock).
--    `redemption_lines` and `redemption_credits` lose their key on `redemptions` for the
--    same reason: pos_redeem and pos_redeem_offline write them in the statement (or the
--    function) that writes their redemption, whose row the check would lock again.
-- 2. `ledger_account` indexed every entry by (account, account_id); its readers look up
--    rare accounts (offline risk, settlement batches, expiry) or scan a whole class of
--    account (verify, reconciliation), which a sequential scan does as well. Its two
--    entries per redemption, one on a random page of a million vouchers, go: it now covers
--    only accounts other than the voucher and merchant accounts every redemption writes.
-- 3. The audit triggers on `credits` and `vouchers` updates run only with an actor set
--    (a person or a `pos` command): the trigger function returned at once for a till, but
--    it was still called on every redemption. The log covers exactly what it covered.
-- 4. `idempotency_keys` leaves room on each page so that marking a claim done (same
--    page, same key) is a HOT update, never a second index entry.

ALTER TABLE redemptions DROP CONSTRAINT redemptions_program_id_fkey,
                        DROP CONSTRAINT redemptions_merchant_id_fkey,
                        DROP CONSTRAINT redemptions_till_id_fkey;
ALTER TABLE redemption_lines DROP CONSTRAINT redemption_lines_redemption_id_fkey;
ALTER TABLE redemption_credits DROP CONSTRAINT redemption_credits_redemption_id_fkey;

CREATE FUNCTION pos_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted: redemptions and the ledger point at them',
        TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['programs', 'merchants', 'tills', 'redemptions'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION pos_never_deleted()',
                       t || '_never_deleted', t);
    END LOOP;
END
$$;

DROP INDEX ledger_account;
CREATE INDEX ledger_account ON ledger_entries (account, account_id)
    WHERE account NOT IN ('voucher', 'merchant_payable');

DROP TRIGGER credits_audit_update ON credits;
CREATE TRIGGER credits_audit_update AFTER UPDATE ON credits
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT WHEN (current_setting('pos.actor', true) <> '')
    EXECUTE FUNCTION pos_audit_update();
DROP TRIGGER vouchers_audit_update ON vouchers;
CREATE TRIGGER vouchers_audit_update AFTER UPDATE ON vouchers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT WHEN (current_setting('pos.actor', true) <> '')
    EXECUTE FUNCTION pos_audit_update();

ALTER TABLE idempotency_keys SET (fillfactor = 70);
