-- API bearer tokens. Only the SHA-256 of a token's secret is stored: the
-- secret is shown once, when the token is created, and never again. A
-- fast hash is enough because a secret is 256 random bits, not a
-- password. Times are RFC 3339 UTC; last_used_at is NULL until first use
-- and is refreshed at most once a minute.
CREATE TABLE api_tokens (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	role          TEXT NOT NULL CHECK (role IN ('admin', 'service')),
	secret_sha256 BLOB NOT NULL UNIQUE CHECK (length(secret_sha256) = 32),
	created_at    TEXT NOT NULL,
	last_used_at  TEXT
);
