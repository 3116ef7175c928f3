-- `/readyz` and `/metrics` ask how many events wait and how many were parked. The query
-- filtered only on `delivered_at IS NULL`, which no index covers, so each probe read the
-- whole outbox: a week of delivered events, millions of rows at a busy service. Waiting
-- events are read through `outbox_events_due` (migration 0010); parked ones, rare, through
-- this index. A new event is never parked, so a sale writes no entry in it.
CREATE INDEX outbox_events_parked ON outbox_events (created_at)
    WHERE failed_at IS NOT NULL AND delivered_at IS NULL;
