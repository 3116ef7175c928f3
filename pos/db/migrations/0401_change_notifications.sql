-- Every process keeps small caches of rarely changing rows (a till's credential, public
-- keys). A change to those rows is announced on the channel `pos_changes`, with the table's
-- name as the payload, so every process drops its copy at once instead of serving a disabled
-- till or a re-paired tablet's old secret until a cache timer runs out.

CREATE FUNCTION pos_announce_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pos_changes', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER tills_announce AFTER UPDATE OR DELETE ON tills
    FOR EACH STATEMENT EXECUTE FUNCTION pos_announce_change();
CREATE TRIGGER signing_keys_announce AFTER INSERT OR UPDATE OR DELETE ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION pos_announce_change();
