-- Every write carries a sequence number taken when the broker made it;
-- a row changes only for a newer write, so writes may commit in any
-- order. Removals leave a tombstone (deleted = 1) that keeps an older
-- write from bringing a row back; tombstones are swept at start-up.
ALTER TABLE mqtt_inflight ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mqtt_retained ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mqtt_retained ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mqtt_incoming ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
-- A session that ended: its queued messages written before seq are void.
CREATE TABLE mqtt_cleared (
	client_id TEXT PRIMARY KEY,
	seq       INTEGER NOT NULL
);
