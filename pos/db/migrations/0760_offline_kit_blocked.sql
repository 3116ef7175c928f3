-- The vouchers a kit told its till to refuse (its `blocked`: suspended, revoked, expired or
-- spent when the kit was made). A forwarded sale of one of them is refused, as the till
-- should have refused it (`pos.till.forwarded_sales`); one blocked only since is honoured.
ALTER TABLE offline_kits ADD COLUMN blocked uuid[] NOT NULL DEFAULT '{}';
