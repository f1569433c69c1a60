-- API keys: who may call which routes. Only the SHA-256 of a key is stored (hex); the
-- prefix is the key's first characters, enough to recognise it in `devicekb keys list`.
-- An intake key may pin the channel and the customer of the tickets it files.

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'intake')),
    key_hash     TEXT NOT NULL UNIQUE,
    key_prefix   TEXT NOT NULL,
    channel      TEXT,
    customer_id  INTEGER REFERENCES customers (id),
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    revoked_at   TEXT
);
