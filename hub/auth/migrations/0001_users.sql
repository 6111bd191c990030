-- Users that may connect to the broker. password_hash is a bcrypt hash;
-- plaintext passwords are never stored. Times are RFC 3339 UTC.
CREATE TABLE users (
	name          TEXT NOT NULL PRIMARY KEY,
	role          TEXT NOT NULL CHECK (role IN ('admin', 'service', 'device')),
	password_hash TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL
);
