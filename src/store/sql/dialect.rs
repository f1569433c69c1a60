//! Everything SQLite and MySQL / MariaDB spell differently, in one place. The queries are
//! otherwise the same text (`?` placeholders work in both), so the table-group modules
//! write each query once and read the dialect's fragments from here.

/// One database's spelling of the few things the two disagree on.
pub(super) struct Dialect {
    /// "sqlite" or "mysql", as `Store::backend` reports it.
    pub backend: &'static str,
    /// `SELECT` expression reading a time column `{c}` back as ISO 8601 text.
    ts: &'static str,
    /// The civil day (YYYY-MM-DD) of a time column `{c}`.
    day: &'static str,
    /// The current time, with milliseconds, in UTC.
    pub now: &'static str,
    /// How a write transaction starts.
    pub begin: &'static str,
    /// What makes a `SELECT` in a write transaction read the latest committed rows and
    /// lock them (SQLite's write transaction already does both).
    pub locking_read: &'static str,
    /// `SELECT` expression reading a JSON column `{c}` as text.
    json: &'static str,
    /// Insert or replace one day of `automation_metrics`.
    pub upsert_metrics: &'static str,
}

impl Dialect {
    pub fn ts(&self, column: &str) -> String {
        self.ts.replace("{c}", column)
    }

    pub fn day(&self, column: &str) -> String {
        self.day.replace("{c}", column)
    }

    pub fn json(&self, column: &str) -> String {
        self.json.replace("{c}", column)
    }
}

pub(super) const SQLITE: Dialect = Dialect {
    backend: "sqlite",
    ts: "{c}",
    day: "substr({c}, 1, 10)",
    now: "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    // Take the write lock at once: a read-then-write transaction cannot wait for another
    // writer and fails with SQLITE_BUSY instead.
    begin: "BEGIN IMMEDIATE",
    locking_read: "",
    json: "{c}",
    upsert_metrics: "INSERT INTO automation_metrics (day, tickets, auto_resolved, escalated, mean_ms, p95_ms) \
        VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (day) DO UPDATE SET tickets = excluded.tickets, \
        auto_resolved = excluded.auto_resolved, escalated = excluded.escalated, mean_ms = excluded.mean_ms, \
        p95_ms = excluded.p95_ms, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
};

pub(super) const MYSQL: Dialect = Dialect {
    backend: "mysql",
    // Milliseconds and a Z, like SQLite's text; NULL stays NULL.
    ts: "CONCAT(DATE_FORMAT({c}, '%Y-%m-%dT%H:%i:%s.'), LPAD(FLOOR(MICROSECOND({c}) / 1000), 3, '0'), 'Z')",
    day: "DATE_FORMAT({c}, '%Y-%m-%d')",
    now: "UTC_TIMESTAMP(3)",
    begin: "START TRANSACTION",
    locking_read: " FOR UPDATE",
    // MySQL 8 has a real JSON type the driver will not read as text.
    json: "CAST({c} AS CHAR)",
    upsert_metrics: "INSERT INTO automation_metrics (day, tickets, auto_resolved, escalated, mean_ms, p95_ms) \
        VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE tickets = VALUES(tickets), \
        auto_resolved = VALUES(auto_resolved), escalated = VALUES(escalated), mean_ms = VALUES(mean_ms), \
        p95_ms = VALUES(p95_ms), updated_at = UTC_TIMESTAMP(3)",
};

/// The id of the row an `INSERT` created, as each driver reports it.
pub(super) trait InsertedId {
    fn inserted_id(&self) -> i64;
}

impl InsertedId for sqlx::sqlite::SqliteQueryResult {
    fn inserted_id(&self) -> i64 {
        self.last_insert_rowid()
    }
}

impl InsertedId for sqlx::mysql::MySqlQueryResult {
    fn inserted_id(&self) -> i64 {
        self.last_insert_id() as i64
    }
}
