-- Idempotency keys compared byte for byte, and remembering the request they came with: the
-- same key with the same request is a retry (answered with the row it created), with
-- another request a conflict.
--
-- 0001 gave the keys the tables' utf8mb4_unicode_ci collation, under which `Mail-4711` and
-- `mail-4711` (and `a` and `a `) are one key. VARBINARY compares bytes, without the
-- trailing-space padding utf8mb4_bin would keep, and means the same on MySQL 8 and MariaDB.
-- Keys are visible ASCII of at most 188 bytes (180 and a `message:` prefix), so every
-- stored key fits; keys unique under the old collation stay unique under this finer one.
-- The UNIQUE index of 0001 is kept (MODIFY leaves it in place, rebuilt on the new type).
-- sqlx will not decode a binary column (VARBINARY, or any *_bin collation) as a String:
-- select CAST(idempotency_key AS CHAR) to read a key back (no query reads it today).
--
-- request_hash: SHA-256 (hex) of the request's canonical JSON, compared by the server, not
-- in SQL (plain ascii, so the driver reads it as text). Rows written before this migration
-- have none; a retry with their key is answered as before (the key alone).

ALTER TABLE tickets
    MODIFY idempotency_key VARBINARY(191) NULL,
    ADD COLUMN request_hash CHAR(64) CHARACTER SET ascii NULL AFTER idempotency_key,
    ADD CONSTRAINT tickets_request_hash CHECK (request_hash IS NULL OR CHAR_LENGTH(request_hash) = 64);

ALTER TABLE messages
    MODIFY idempotency_key VARBINARY(191) NULL,
    ADD COLUMN request_hash CHAR(64) CHARACTER SET ascii NULL AFTER idempotency_key,
    ADD CONSTRAINT messages_request_hash CHECK (request_hash IS NULL OR CHAR_LENGTH(request_hash) = 64);
