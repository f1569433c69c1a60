-- Idempotency keys remember the request they came with: the same key with the same request
-- is a retry (answered with the row it created), with another request a conflict.
--
-- The keys themselves need no change here: SQLite compares TEXT with the BINARY collation
-- (memcmp, no padding) unless a column says otherwise, so the UNIQUE of 0001 on
-- tickets.idempotency_key and messages.idempotency_key is already byte for byte.
--
-- request_hash: SHA-256 (hex) of the request's canonical JSON. Rows written before this
-- migration have none; a retry with their key is answered as before (the key alone).

ALTER TABLE tickets ADD COLUMN request_hash CHAR(64)
    CHECK (request_hash IS NULL OR length(request_hash) = 64);

ALTER TABLE messages ADD COLUMN request_hash CHAR(64)
    CHECK (request_hash IS NULL OR length(request_hash) = 64);
