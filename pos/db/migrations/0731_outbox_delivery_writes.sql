-- What delivering an event costs the database (issue 15), measured with
-- bench/redeem_writes.py: per delivered event 12 WAL records and 2,178 bytes, 3.8 index
-- entries and 3.8 row locks, more than half of what the redemption itself wrote.
--
-- 1. Each listener's success was a row of `outbox_deliveries` (a speculative insert, its
--    primary key, and a KEY SHARE lock of the event's row for the foreign key). It is now
--    kept on the event itself, `taken` (listener -> the attempt that took it), written by
--    the update that records what became of the event, which is made anyway: no row, no
--    index entry, no lock more per listener. A retry still skips the listeners in it.
-- 2. An event's row is updated twice (claimed, then delivered) soon after it is written.
--    With full pages each update moved the row, all 700 bytes of it, to another page,
--    with new index entries; half-empty pages keep both versions beside the first, so the
--    claim is a HOT update and the WAL logs only the bytes that changed.

ALTER TABLE outbox_events ADD COLUMN taken jsonb;
UPDATE outbox_events e SET taken = d.taken
  FROM (SELECT event_id, jsonb_object_agg(listener, attempts) AS taken
          FROM outbox_deliveries GROUP BY event_id) AS d
 WHERE e.id = d.event_id;
DROP TABLE outbox_deliveries;

ALTER TABLE outbox_events SET (fillfactor = 50);
