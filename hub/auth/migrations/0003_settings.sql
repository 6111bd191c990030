-- Small hub-wide settings owned by hub/auth, such as the end of the
-- pairing window.
CREATE TABLE auth_settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
