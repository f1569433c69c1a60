-- devicekb storage, SQLite flavour (the embedded default). The MySQL flavour in
-- migrations/mysql has the same tables, columns, constraints and views.
-- Times are UTC, ISO 8601 text with milliseconds; JSON columns hold JSON text.

-- Foreign keys are switched on by the connection (sqlx: foreign_keys(true)).

CREATE TABLE customers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL CHECK (length(trim(name)) > 0),
    email       TEXT,
    phone       TEXT,
    company     TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX customers_email ON customers (email) WHERE email IS NOT NULL;

CREATE TABLE printer_models (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    canonical     TEXT NOT NULL UNIQUE,            -- "Lexmark C750"
    manufacturer  TEXT NOT NULL,
    name          TEXT NOT NULL,
    series        TEXT,
    kind          TEXT
);

CREATE TABLE devices (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id  INTEGER NOT NULL REFERENCES customers (id),
    model_id     INTEGER REFERENCES printer_models (id),
    model_name   TEXT,                              -- as given, when not in the catalogue
    serial       TEXT,
    location     TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX devices_customer_serial ON devices (customer_id, serial) WHERE serial IS NOT NULL;

-- What retrieval results point to: one row per KB entry, updated at each reindex.
CREATE TABLE kb_entries (
    id            TEXT PRIMARY KEY,                 -- the entry's slug
    title         TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    generation    TEXT NOT NULL,
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE tickets (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id        INTEGER NOT NULL REFERENCES customers (id),
    device_id          INTEGER REFERENCES devices (id),
    subject            TEXT NOT NULL DEFAULT '',
    description        TEXT NOT NULL DEFAULT '',
    channel            TEXT NOT NULL DEFAULT 'email'
                       CHECK (channel IN ('email', 'sms', 'call', 'chat', 'webhook')),
    category           TEXT,
    priority           TEXT NOT NULL DEFAULT 'medium'
                       CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    status             TEXT NOT NULL DEFAULT 'new'
                       CHECK (status IN ('new', 'open', 'in_progress', 'auto_resolved',
                                         'escalated', 'answered', 'closed')),
    escalation_reason  TEXT,
    retention_flag     INTEGER NOT NULL DEFAULT 0 CHECK (retention_flag IN (0, 1)),
    idempotency_key    TEXT UNIQUE,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    closed_at          TEXT,
    CHECK (length(trim(subject)) > 0 OR length(trim(description)) > 0)
);
CREATE INDEX tickets_status ON tickets (status, priority);
CREATE INDEX tickets_customer ON tickets (customer_id, status);
CREATE INDEX tickets_created ON tickets (created_at);

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id        INTEGER REFERENCES tickets (id),
    customer_id      INTEGER REFERENCES customers (id),
    direction        TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'call', 'chat', 'webhook')),
    subject          TEXT,
    body             TEXT NOT NULL,
    transcription    TEXT,
    processed        INTEGER NOT NULL DEFAULT 0 CHECK (processed IN (0, 1)),
    idempotency_key  TEXT UNIQUE,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX messages_ticket ON messages (ticket_id);
CREATE INDEX messages_unprocessed ON messages (processed, created_at);

CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id    INTEGER NOT NULL REFERENCES messages (id),
    filename      TEXT NOT NULL,
    content_type  TEXT,
    size_bytes    INTEGER CHECK (size_bytes IS NULL OR size_bytes >= 0),
    sha256        TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE extractions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id     INTEGER REFERENCES tickets (id),
    message_id    INTEGER REFERENCES messages (id),
    source        TEXT NOT NULL DEFAULT 'devicekb',  -- or the external extractor's name
    model         TEXT,
    manufacturer  TEXT,
    error_codes   TEXT NOT NULL DEFAULT '[]',        -- JSON array
    serial        TEXT,
    entities      TEXT NOT NULL DEFAULT '[]',        -- JSON array of {kind, value, normalized, start, end, confidence}
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK (ticket_id IS NOT NULL OR message_id IS NOT NULL)
);
CREATE INDEX extractions_ticket ON extractions (ticket_id);

CREATE TABLE rag_results (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    query       TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('bm25', 'vector', 'hybrid')),
    generation  TEXT NOT NULL,
    results     TEXT NOT NULL DEFAULT '[]',          -- JSON: ranked [{kb_id, relevance, fused_score}]
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX rag_results_ticket ON rag_results (ticket_id);

CREATE TABLE predictions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    task        TEXT NOT NULL CHECK (task IN ('category', 'priority', 'intent', 'churn_risk')),
    label       TEXT NOT NULL,
    confidence  REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    score       REAL,                                -- e.g. churn risk 0-100
    model       TEXT NOT NULL,
    version     TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX predictions_ticket ON predictions (ticket_id, task);

CREATE TABLE responses (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id          INTEGER NOT NULL REFERENCES tickets (id),
    responder          TEXT NOT NULL CHECK (responder IN ('auto', 'agent')),
    author             TEXT,                         -- agent name, or extractive / llm / smart
    body               TEXT NOT NULL,
    citations          TEXT NOT NULL DEFAULT '[]',   -- JSON array of entry ids
    confidence         REAL CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
    send_status        TEXT NOT NULL DEFAULT 'pending'
                       CHECK (send_status IN ('draft', 'pending', 'sent', 'failed')),
    llm_model          TEXT,
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER,
    latency_ms         INTEGER,
    helpful            INTEGER CHECK (helpful IS NULL OR helpful IN (0, 1)),
    feedback_comment   TEXT,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX responses_ticket ON responses (ticket_id);

CREATE TABLE processing_steps (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id    INTEGER NOT NULL REFERENCES tickets (id),
    step         TEXT NOT NULL CHECK (step IN ('ingestion', 'extraction', 'classification',
                                               'retrieval', 'decision', 'response')),
    status       TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'skipped')),
    duration_ms  REAL NOT NULL CHECK (duration_ms >= 0),
    error        TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX processing_steps_ticket ON processing_steps (ticket_id);
CREATE INDEX processing_steps_day ON processing_steps (created_at);

CREATE TABLE ticket_history (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id    INTEGER NOT NULL REFERENCES tickets (id),
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    actor        TEXT NOT NULL,                      -- "pipeline", an agent, an API key name
    note         TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id);

CREATE TABLE automation_metrics (
    day            TEXT PRIMARY KEY,                 -- YYYY-MM-DD
    tickets        INTEGER NOT NULL DEFAULT 0,
    auto_resolved  INTEGER NOT NULL DEFAULT 0,
    escalated      INTEGER NOT NULL DEFAULT 0,
    mean_ms        REAL,
    p95_ms         REAL,
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Tickets a person has to act on, most urgent first.
CREATE VIEW actionable_tickets AS
SELECT t.*,
       CASE t.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END AS priority_rank
FROM tickets t
WHERE t.status IN ('new', 'open', 'in_progress', 'escalated');

-- Per day: tickets, automatic and escalated shares, mean pipeline time.
CREATE VIEW daily_pipeline_performance AS
SELECT substr(t.created_at, 1, 10) AS day,
       COUNT(*) AS tickets,
       SUM(CASE WHEN t.status = 'auto_resolved' THEN 1 ELSE 0 END) AS auto_resolved,
       SUM(CASE WHEN t.escalation_reason IS NOT NULL THEN 1 ELSE 0 END) AS escalated,
       AVG((SELECT SUM(s.duration_ms) FROM processing_steps s WHERE s.ticket_id = t.id)) AS mean_ms
FROM tickets t
GROUP BY substr(t.created_at, 1, 10);

CREATE VIEW unprocessed_messages AS
SELECT * FROM messages WHERE processed = 0;
