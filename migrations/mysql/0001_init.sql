-- devicekb storage, MySQL / MariaDB flavour (production). Same tables, columns,
-- constraints and views as migrations/sqlite. Times are UTC, DATETIME(3).

CREATE TABLE customers (
    id          BIGINT PRIMARY KEY AUTO_INCREMENT,
    name        VARCHAR(255) NOT NULL CHECK (CHAR_LENGTH(TRIM(name)) > 0),
    email       VARCHAR(255) NULL,
    phone       VARCHAR(64) NULL,
    company     VARCHAR(255) NULL,
    created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY customers_email (email)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE printer_models (
    id            BIGINT PRIMARY KEY AUTO_INCREMENT,
    canonical     VARCHAR(191) NOT NULL UNIQUE,
    manufacturer  VARCHAR(100) NOT NULL,
    name          VARCHAR(150) NOT NULL,
    series        VARCHAR(150) NULL,
    kind          VARCHAR(100) NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE devices (
    id           BIGINT PRIMARY KEY AUTO_INCREMENT,
    customer_id  BIGINT NOT NULL,
    model_id     BIGINT NULL,
    model_name   VARCHAR(191) NULL,
    serial       VARCHAR(64) NULL,
    location     VARCHAR(255) NULL,
    created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY devices_customer_serial (customer_id, serial),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (model_id) REFERENCES printer_models (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE kb_entries (
    id            VARCHAR(191) PRIMARY KEY,
    title         VARCHAR(500) NOT NULL,
    content_hash  CHAR(64) NOT NULL,
    generation    VARCHAR(32) NOT NULL,
    updated_at    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE tickets (
    id                 BIGINT PRIMARY KEY AUTO_INCREMENT,
    customer_id        BIGINT NOT NULL,
    device_id          BIGINT NULL,
    subject            VARCHAR(500) NOT NULL DEFAULT '',
    description        MEDIUMTEXT NOT NULL,
    channel            VARCHAR(16) NOT NULL DEFAULT 'email'
                       CHECK (channel IN ('email', 'sms', 'call', 'chat', 'webhook')),
    category           VARCHAR(32) NULL,
    priority           VARCHAR(16) NOT NULL DEFAULT 'medium'
                       CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    status             VARCHAR(16) NOT NULL DEFAULT 'new'
                       CHECK (status IN ('new', 'open', 'in_progress', 'auto_resolved',
                                         'escalated', 'answered', 'closed')),
    escalation_reason  VARCHAR(32) NULL,
    retention_flag     TINYINT(1) NOT NULL DEFAULT 0 CHECK (retention_flag IN (0, 1)),
    idempotency_key    VARCHAR(191) NULL UNIQUE,
    created_at         DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at         DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    closed_at          DATETIME(3) NULL,
    CONSTRAINT tickets_not_empty CHECK (CHAR_LENGTH(TRIM(subject)) > 0 OR CHAR_LENGTH(TRIM(description)) > 0),
    KEY tickets_status (status, priority),
    KEY tickets_customer (customer_id, status),
    KEY tickets_created (created_at),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (device_id) REFERENCES devices (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE messages (
    id               BIGINT PRIMARY KEY AUTO_INCREMENT,
    ticket_id        BIGINT NULL,
    customer_id      BIGINT NULL,
    direction        VARCHAR(16) NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel          VARCHAR(16) NOT NULL CHECK (channel IN ('email', 'sms', 'call', 'chat', 'webhook')),
    subject          VARCHAR(500) NULL,
    body             MEDIUMTEXT NOT NULL,
    transcription    MEDIUMTEXT NULL,
    processed        TINYINT(1) NOT NULL DEFAULT 0 CHECK (processed IN (0, 1)),
    idempotency_key  VARCHAR(191) NULL UNIQUE,
    created_at       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY messages_ticket (ticket_id),
    KEY messages_unprocessed (processed, created_at),
    FOREIGN KEY (ticket_id) REFERENCES tickets (id),
    FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE attachments (
    id            BIGINT PRIMARY KEY AUTO_INCREMENT,
    message_id    BIGINT NOT NULL,
    filename      VARCHAR(255) NOT NULL,
    content_type  VARCHAR(127) NULL,
    size_bytes    BIGINT NULL CHECK (size_bytes IS NULL OR size_bytes >= 0),
    sha256        CHAR(64) NULL,
    created_at    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    FOREIGN KEY (message_id) REFERENCES messages (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE extractions (
    id            BIGINT PRIMARY KEY AUTO_INCREMENT,
    ticket_id     BIGINT NULL,
    message_id    BIGINT NULL,
    source        VARCHAR(64) NOT NULL DEFAULT 'devicekb',
    model         VARCHAR(191) NULL,
    manufacturer  VARCHAR(100) NULL,
    error_codes   JSON NOT NULL,
    serial        VARCHAR(64) NULL,
    entities      JSON NOT NULL,
    created_at    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    CONSTRAINT extractions_owner CHECK (ticket_id IS NOT NULL OR message_id IS NOT NULL),
    KEY extractions_ticket (ticket_id),
    FOREIGN KEY (ticket_id) REFERENCES tickets (id),
    FOREIGN KEY (message_id) REFERENCES messages (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE rag_results (
    id          BIGINT PRIMARY KEY AUTO_INCREMENT,
    ticket_id   BIGINT NOT NULL,
    query       MEDIUMTEXT NOT NULL,
    mode        VARCHAR(16) NOT NULL CHECK (mode IN ('bm25', 'vector', 'hybrid')),
    generation  VARCHAR(32) NOT NULL,
    results     JSON NOT NULL,
    created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY rag_results_ticket (ticket_id),
    FOREIGN KEY (ticket_id) REFERENCES tickets (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE predictions (
    id          BIGINT PRIMARY KEY AUTO_INCREMENT,
    ticket_id   BIGINT NOT NULL,
    task        VARCHAR(16) NOT NULL CHECK (task IN ('category', 'priority', 'intent', 'churn_risk')),
    label       VARCHAR(64) NOT NULL,
    confidence  DOUBLE NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    score       DOUBLE NULL,
    model       VARCHAR(100) NOT NULL,
    version     VARCHAR(64) NOT NULL,
    created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY predictions_ticket (ticket_id, task),
    FOREIGN KEY (ticket_id) REFERENCES tickets (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE responses (
    id                 BIGINT PRIMARY KEY AUTO_INCREMENT,
    ticket_id          BIGINT NOT NULL,
    responder          VARCHAR(16) NOT NULL CHECK (responder IN ('auto', 'agent')),
    author             VARCHAR(100) NULL,
    body               MEDIUMTEXT NOT NULL,
    citations          JSON NOT NULL,
    confidence         DOUBLE NULL CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
    send_status        VARCHAR(16) NOT NULL DEFAULT 'pending'
                       CHECK (send_status IN ('draft', 'pending', 'sent', 'failed')),
    llm_model          VARCHAR(100) NULL,
    prompt_tokens      INT NULL,
    completion_tokens  INT NULL,
    latency_ms         INT NULL,
    helpful            TINYINT(1) NULL CHECK (helpful IS NULL OR helpful IN (0, 1)),
    feedback_comment   TEXT NULL,
    created_at         DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY responses_ticket (ticket_id),
    FOREIGN KEY (ticket_id) REFERENCES tickets (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE processing_steps (
    id           BIGINT PRIMARY KEY AUTO_INCREMENT,
    ticket_id    BIGINT NOT NULL,
    step         VARCHAR(16) NOT NULL CHECK (step IN ('ingestion', 'extraction', 'classification',
                                                      'retrieval', 'decision', 'response')),
    status       VARCHAR(16) NOT NULL CHECK (status IN ('ok', 'failed', 'skipped')),
    duration_ms  DOUBLE NOT NULL CHECK (duration_ms >= 0),
    error        TEXT NULL,
    created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY processing_steps_ticket (ticket_id),
    KEY processing_steps_day (created_at),
    FOREIGN KEY (ticket_id) REFERENCES tickets (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE ticket_history (
    id           BIGINT PRIMARY KEY AUTO_INCREMENT,
    ticket_id    BIGINT NOT NULL,
    from_status  VARCHAR(16) NULL,
    to_status    VARCHAR(16) NOT NULL,
    actor        VARCHAR(100) NOT NULL,
    note         TEXT NULL,
    created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY ticket_history_ticket (ticket_id),
    FOREIGN KEY (ticket_id) REFERENCES tickets (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE automation_metrics (
    day            DATE PRIMARY KEY,
    tickets        INT NOT NULL DEFAULT 0,
    auto_resolved  INT NOT NULL DEFAULT 0,
    escalated      INT NOT NULL DEFAULT 0,
    mean_ms        DOUBLE NULL,
    p95_ms         DOUBLE NULL,
    updated_at     DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE VIEW actionable_tickets AS
SELECT t.*,
       CASE t.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END AS priority_rank
FROM tickets t
WHERE t.status IN ('new', 'open', 'in_progress', 'escalated');

CREATE VIEW daily_pipeline_performance AS
SELECT DATE(t.created_at) AS day,
       COUNT(*) AS tickets,
       SUM(CASE WHEN t.status = 'auto_resolved' THEN 1 ELSE 0 END) AS auto_resolved,
       SUM(CASE WHEN t.escalation_reason IS NOT NULL THEN 1 ELSE 0 END) AS escalated,
       AVG((SELECT SUM(s.duration_ms) FROM processing_steps s WHERE s.ticket_id = t.id)) AS mean_ms
FROM tickets t
GROUP BY DATE(t.created_at);

CREATE VIEW unprocessed_messages AS
SELECT * FROM messages WHERE processed = 0;
