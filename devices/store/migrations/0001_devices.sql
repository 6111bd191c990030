-- Devices, their entities, current states and commands, owned by
-- devices/store.

CREATE TABLE devices (
	id         TEXT PRIMARY KEY,
	data       TEXT NOT NULL,  -- JSON of devices.Device (without entities)
	status     TEXT NOT NULL CHECK (status IN ('pending', 'paired', 'ignored')),
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);

CREATE TABLE entities (
	id              TEXT PRIMARY KEY,
	device_id       TEXT,
	discovery_topic TEXT NOT NULL,
	data            TEXT NOT NULL  -- JSON of devices.Entity
);
CREATE INDEX entities_device ON entities (device_id);
CREATE UNIQUE INDEX entities_topic ON entities (discovery_topic, id);

CREATE TABLE states (
	entity_id TEXT PRIMARY KEY,
	data      TEXT NOT NULL  -- JSON of devices.State
);

CREATE TABLE commands (
	id         TEXT PRIMARY KEY,
	entity_id  TEXT NOT NULL,
	status     TEXT NOT NULL,
	data       TEXT NOT NULL,  -- JSON of devices.Command
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX commands_status ON commands (status);
