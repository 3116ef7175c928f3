-- What an issued voucher costs to write (issue 15), measured with bench/issue.py and
-- EXPLAIN (ANALYZE, BUFFERS, WAL) of each chunk: more than half of the database's time per
-- chunk went to four foreign-key checks per voucher, each a lookup and a row lock run as a
-- trigger for every row (the voucher's program, its signing key and its batch, and the
-- credit's voucher). The rows they point at are never in doubt where vouchers and credits
-- are written:
--
-- * `vouchers.program_id`: the program is read before its vouchers are issued, and
--   programs are never deleted (`programs_never_deleted`, migration 0701).
-- * `vouchers.token_kid`: the active key, read from `signing_keys` (issue, reissue).
-- * `vouchers.issuance_id`: the batch's row, inserted by the transaction that writes its
--   vouchers (`pos.vouchers.issuance`).
-- * `credits.voucher_id`: the voucher is written in the same transaction (issue) or locked
--   by it (top-up, `pos.storage.voucher_changes.add_credit`).
--
-- None of those rows is ever deleted, and the statement triggers below refuse a DELETE or
-- TRUNCATE of them, as 0701 does for the tables the redemption path stopped checking, so
-- nothing can be left pointing nowhere. The other keys on `vouchers` (redemptions, sale
-- parts, retired codes, ...) stay: they are checked when those rows are written, not when
-- a voucher is issued.

ALTER TABLE vouchers DROP CONSTRAINT vouchers_program_id_fkey,
                     DROP CONSTRAINT vouchers_token_kid_fkey,
                     DROP CONSTRAINT vouchers_issuance_id_fkey;
ALTER TABLE credits DROP CONSTRAINT credits_voucher_id_fkey;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['vouchers', 'issuances', 'signing_keys'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION pos_never_deleted()',
                       t || '_never_deleted', t);
    END LOOP;
END
$$;
