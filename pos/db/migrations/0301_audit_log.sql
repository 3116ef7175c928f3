-- The tamper-evident audit log: every state-changing admin action, appended in the same
-- transaction as the change by statement-level triggers, each row carrying the SHA-256 of
-- the row before it.
--
-- Who acts is a connection setting: the service sets `pos.actor` (JSON: login, account id,
-- role, address, action, request id) on a pooled connection while it serves a signed-in
-- person or a `pos` command (pos/db/actor.py), and `RESET ALL` clears it when the
-- connection goes back to the pool. Writes without an actor (tills redeeming, the
-- background loop) are not admin actions and are not logged here; the ledger holds them.
--
-- The chain: hash = sha256(prev_hash || canonical text of the row), where the canonical
-- text is `pos_audit_text(row)`. `audit_head` holds the last sequence number and hash; its
-- single row is updated by every append, which serialises appends (the row lock is held to
-- commit) so the chain never forks, whatever the isolation level of the writer.

CREATE TABLE audit_log (
    seq          bigint PRIMARY KEY,
    at           timestamptz NOT NULL,
    request_id   text,
    actor_login  text NOT NULL,
    actor_id     uuid,
    actor_role   text NOT NULL,
    address      text,
    action       text NOT NULL,
    object_table text NOT NULL,
    operation    text NOT NULL,
    object_id    text,
    row_count    bigint NOT NULL,
    before       jsonb,
    after        jsonb,
    prev_hash    bytea NOT NULL,
    hash         bytea NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor_login, seq);
CREATE INDEX audit_log_object ON audit_log (object_table, object_id);

CREATE TABLE audit_head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seq      bigint NOT NULL,
    hash     bytea NOT NULL
);
INSERT INTO audit_head (seq, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- The text a row's hash covers: every column but the hash, the time as exact epoch
-- seconds (independent of the session's time zone).
CREATE FUNCTION pos_audit_text(a audit_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'seq', a.seq, 'at', extract(epoch FROM a.at)::text, 'request_id', a.request_id,
        'actor_login', a.actor_login, 'actor_id', a.actor_id, 'actor_role', a.actor_role,
        'address', a.address, 'action', a.action, 'object_table', a.object_table,
        'operation', a.operation, 'object_id', a.object_id, 'row_count', a.row_count,
        'before', a.before, 'after', a.after, 'prev_hash', encode(a.prev_hash, 'hex'))::text
$$;

-- Rows as the log keeps them: secrets' hashes left out, at most 100 rows per statement.
CREATE FUNCTION pos_audit_rows(rows jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_agg(r - 'secret_hash' - 'password_hash' - 'token_hash' - 'id_hash'
                       - 'code_hash' - 'content_hash')
      FROM jsonb_array_elements(rows) r
$$;

CREATE FUNCTION pos_audit_append(p_table text, p_operation text, p_before jsonb,
                                 p_after jsonb, p_count bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    actor jsonb := nullif(current_setting('pos.actor', true), '')::jsonb;
    head audit_head;
    entry audit_log;
    object text;
    sample jsonb := coalesce(p_after, p_before);
BEGIN
    IF actor IS NULL OR p_count = 0 THEN
        RETURN;
    END IF;
    IF p_count = 1 THEN
        object := coalesce(sample -> 0 ->> 'id', sample -> 0 ->> 'voucher_id',
                           sample -> 0 ->> 'batch_id', sample -> 0 ->> 'program_id');
    END IF;
    UPDATE audit_head SET seq = seq + 1 RETURNING * INTO head;
    entry := ROW(head.seq, clock_timestamp(), actor ->> 'request_id', actor ->> 'login',
                 nullif(actor ->> 'account_id', '')::uuid, actor ->> 'role',
                 actor ->> 'address', actor ->> 'action', p_table, p_operation, object,
                 p_count, pos_audit_rows(p_before), pos_audit_rows(p_after), head.hash,
                 '\x'::bytea);
    -- Timestamps are kept to the microsecond, as the text the hash covers says.
    entry.hash := sha256(entry.prev_hash || convert_to(pos_audit_text(entry), 'UTF8'));
    INSERT INTO audit_log VALUES (entry.*);
    UPDATE audit_head SET hash = entry.hash;
END
$$;

CREATE FUNCTION pos_audit_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nullif(current_setting('pos.actor', true), '') IS NOT NULL THEN
        PERFORM pos_audit_append(TG_TABLE_NAME, 'insert', NULL,
            (SELECT jsonb_agg(to_jsonb(n)) FROM (SELECT * FROM new_rows LIMIT 100) n),
            (SELECT count(*) FROM new_rows));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION pos_audit_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nullif(current_setting('pos.actor', true), '') IS NOT NULL THEN
        PERFORM pos_audit_append(TG_TABLE_NAME, 'update',
            (SELECT jsonb_agg(to_jsonb(o)) FROM (SELECT * FROM old_rows LIMIT 100) o),
            (SELECT jsonb_agg(to_jsonb(n)) FROM (SELECT * FROM new_rows LIMIT 100) n),
            (SELECT count(*) FROM new_rows));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION pos_audit_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nullif(current_setting('pos.actor', true), '') IS NOT NULL THEN
        PERFORM pos_audit_append(TG_TABLE_NAME, 'delete',
            (SELECT jsonb_agg(to_jsonb(o)) FROM (SELECT * FROM old_rows LIMIT 100) o), NULL,
            (SELECT count(*) FROM old_rows));
    END IF;
    RETURN NULL;
END
$$;

-- The tables an admin action changes. Statement-level, so issuing 100,000 vouchers is one
-- log row (with the first 100 rows and the count), not 100,000.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['programs', 'merchants', 'program_merchants', 'tills',
                             'till_pairing_codes', 'vouchers', 'credits', 'credit_grants',
                             'issuances', 'signing_keys', 'approved_product_lists',
                             'settlement_runs', 'settlement_batches', 'settlement_exports',
                             'settlement_payees', 'accounts', 'account_tokens',
                             'pending_confirmations']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION pos_audit_insert()',
                       t || '_audit_insert', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows '
                       'NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pos_audit_update()',
                       t || '_audit_update', t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION pos_audit_delete()',
                       t || '_audit_delete', t);
    END LOOP;
END
$$;

-- The log is append-only for the service: changing or deleting a row needs someone who can
-- switch this trigger off, and then the chain shows it.
CREATE FUNCTION pos_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION pos_audit_append_only();
