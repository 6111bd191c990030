-- Broker state owned by hub/persist: sessions that outlive their
-- connection, their subscriptions, QoS 1/2 messages in flight or queued,
-- retained messages, and the incoming log that makes an acknowledgement
-- durable before the message has been fanned out.

CREATE TABLE mqtt_sessions (
	client_id TEXT PRIMARY KEY,
	data      BLOB NOT NULL,   -- JSON of mochi's storage.Client
	updated   INTEGER NOT NULL -- unix seconds
);

CREATE TABLE mqtt_subscriptions (
	client_id TEXT NOT NULL,
	filter    TEXT NOT NULL,
	data      BLOB NOT NULL,   -- JSON of mochi's storage.Subscription
	PRIMARY KEY (client_id, filter)
) WITHOUT ROWID;

CREATE TABLE mqtt_inflight (
	client_id TEXT NOT NULL,
	packet_id INTEGER NOT NULL,
	type      INTEGER NOT NULL, -- MQTT packet type: PUBLISH, PUBREC or PUBREL
	created   INTEGER NOT NULL,
	expiry    INTEGER NOT NULL, -- unix seconds; 0 = never
	packet    BLOB,             -- the PUBLISH, wire-encoded as MQTT 5
	PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;

CREATE TABLE mqtt_retained (
	topic   TEXT PRIMARY KEY,
	created INTEGER NOT NULL,
	expiry  INTEGER NOT NULL,
	version INTEGER NOT NULL,   -- protocol version of the publisher
	packet  BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE mqtt_incoming (
	id        INTEGER PRIMARY KEY,
	origin    TEXT NOT NULL,
	packet_id INTEGER NOT NULL,
	created   INTEGER NOT NULL,
	expiry    INTEGER NOT NULL,
	version   INTEGER NOT NULL,
	packet    BLOB NOT NULL
);
