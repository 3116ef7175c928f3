-- The event outbox: one row per event, written in the transaction that made the change, so
-- an event exists exactly when its redemption (or void) committed. A background task
-- delivers it to every listener plugin, recording each listener's success separately so a
-- retry never calls a listener that already took the event.
--
-- Events are written by deferred constraint triggers on `redemptions` rather than inside
-- pos_redeem / pos_void: the triggers run at commit, after the lines are written, and they
-- keep working whichever migration later replaces those functions.

CREATE TABLE outbox_events (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind            text NOT NULL,            -- 'redemption.committed', 'redemption.voided'
    redemption_id   uuid,
    program_id      uuid,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,               -- a worker holds it until then
    delivered_at    timestamptz,               -- every listener took it
    failed_at       timestamptz,               -- gave up after the last attempt
    last_error      text
);
CREATE INDEX outbox_events_due ON outbox_events (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_events_redemption ON outbox_events (redemption_id);

CREATE TABLE outbox_deliveries (
    event_id     uuid NOT NULL REFERENCES outbox_events (id),
    listener     text NOT NULL,                -- the plugin's name
    attempts     integer NOT NULL,
    delivered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, listener)
);

CREATE FUNCTION pos_outbox_redemption_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_kind    text;
    v_payload jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_kind := 'redemption.committed';
    ELSE
        v_kind := 'redemption.voided';
    END IF;
    SELECT to_jsonb(r) || jsonb_build_object('lines', coalesce(
               (SELECT jsonb_agg(to_jsonb(l) - 'redemption_id' ORDER BY l.line_no)
                  FROM redemption_lines l WHERE l.redemption_id = r.id), '[]'::jsonb))
      INTO v_payload
      FROM redemptions r WHERE r.id = NEW.id;
    INSERT INTO outbox_events (kind, redemption_id, program_id, payload)
    VALUES (v_kind, NEW.id, NEW.program_id, v_payload);
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER redemptions_outbox_committed
    AFTER INSERT ON redemptions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION pos_outbox_redemption_event();

CREATE CONSTRAINT TRIGGER redemptions_outbox_voided
    AFTER UPDATE OF status ON redemptions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.status = 'voided' AND OLD.status <> 'voided')
    EXECUTE FUNCTION pos_outbox_redemption_event();
