-- API keys: who may call which routes. Only the SHA-256 of a key is stored (hex); the
-- prefix is the key's first characters, enough to recognise it in `devicekb keys list`.
-- An intake key may pin the channel and the customer of the tickets it files.

CREATE TABLE api_keys (
    id           BIGINT PRIMARY KEY AUTO_INCREMENT,
    name         VARCHAR(100) NOT NULL,
    role         VARCHAR(16) NOT NULL CHECK (role IN ('admin', 'staff', 'intake')),
    key_hash     CHAR(64) CHARACTER SET ascii NOT NULL,
    key_prefix   VARCHAR(16) NOT NULL,
    channel      VARCHAR(16) NULL,
    customer_id  BIGINT NULL,
    created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    revoked_at   DATETIME(3) NULL,
    UNIQUE KEY api_keys_hash (key_hash),
    FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
