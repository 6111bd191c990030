-- The order in which messages were queued for a session, so that they are
-- resent in that order after a restart.
ALTER TABLE mqtt_inflight ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
