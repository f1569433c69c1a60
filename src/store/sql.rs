//! The two SQL stores. Their queries are the same text (`?` placeholders work in both); what
//! differs is spelled in one place per dialect: how a time is read back as ISO 8601 text,
//! what "now" is, and how the id of an inserted row comes back. One macro writes both
//! implementations from that, so they cannot drift apart.

use async_trait::async_trait;
use sqlx::Row;

use super::records::*;
use super::types::*;
use super::{ConversationStore, DeviceStore, ReportStore, Store};
use crate::error::{Error, Result};

/// Maps a driver error: an unreachable database is a 503 for the client, the rest a 500.
pub(super) fn db_error(context: &str, e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Error::StorageUnavailable(format!("{context}: {e}")),
        other => Error::storage_caused(context.to_string(), other),
    }
}

fn parse_enum<T>(value: &str, parse: fn(&str) -> Result<T>) -> Result<T> {
    parse(value).map_err(|_| Error::storage(format!("unexpected value `{value}` in the database")))
}

pub const MAX_TICKETS: u32 = 500;

macro_rules! sql_store {
    (
        $store:ident, $db:ty, $pool:ty, backend = $backend:literal,
        ts = $ts:literal, now = $now:literal, begin = $begin:literal, json = $json:literal,
        last_id = |$res:ident| $last_id:expr
    ) => {
        pub struct $store {
            pub(super) pool: $pool,
        }

        impl $store {
            /// `SELECT` expression for a time column, as ISO 8601 text.
            fn ts(column: &str) -> String {
                format!($ts, c = column)
            }

            fn customer_columns() -> String {
                format!(
                    "id, name, email, phone, company, {} AS created_at, {} AS updated_at",
                    Self::ts("created_at"),
                    Self::ts("updated_at")
                )
            }

            fn ticket_columns() -> String {
                format!(
                    "id, customer_id, device_id, subject, description, channel, category, priority, status, \
                     escalation_reason, CAST(retention_flag AS SIGNED) AS retention_flag, {} AS created_at, {} AS updated_at, {} AS closed_at",
                    Self::ts("created_at"),
                    Self::ts("updated_at"),
                    Self::ts("closed_at")
                )
            }

            fn customer_row(row: &<$db as sqlx::Database>::Row) -> Result<Customer> {
                let get = |e: sqlx::Error| db_error("reading a customer", e);
                Ok(Customer {
                    id: row.try_get("id").map_err(get)?,
                    name: row.try_get("name").map_err(get)?,
                    email: row.try_get("email").map_err(get)?,
                    phone: row.try_get("phone").map_err(get)?,
                    company: row.try_get("company").map_err(get)?,
                    created_at: row.try_get("created_at").map_err(get)?,
                    updated_at: row.try_get("updated_at").map_err(get)?,
                })
            }

            fn ticket_row(row: &<$db as sqlx::Database>::Row) -> Result<Ticket> {
                let get = |e: sqlx::Error| db_error("reading a ticket", e);
                let channel: String = row.try_get("channel").map_err(get)?;
                let priority: String = row.try_get("priority").map_err(get)?;
                let status: String = row.try_get("status").map_err(get)?;
                let retention: i64 = row.try_get("retention_flag").map_err(get)?;
                Ok(Ticket {
                    id: row.try_get("id").map_err(get)?,
                    customer_id: row.try_get("customer_id").map_err(get)?,
                    device_id: row.try_get("device_id").map_err(get)?,
                    subject: row.try_get("subject").map_err(get)?,
                    description: row.try_get("description").map_err(get)?,
                    channel: parse_enum(&channel, Channel::parse)?,
                    category: row.try_get("category").map_err(get)?,
                    priority: parse_enum(&priority, Priority::parse)?,
                    status: parse_enum(&status, Status::parse)?,
                    escalation_reason: row.try_get("escalation_reason").map_err(get)?,
                    retention_flag: retention != 0,
                    created_at: row.try_get("created_at").map_err(get)?,
                    updated_at: row.try_get("updated_at").map_err(get)?,
                    closed_at: row.try_get("closed_at").map_err(get)?,
                })
            }

            async fn ticket_in<'c, E>(executor: E, id: i64) -> Result<Option<Ticket>>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                let sql = format!("SELECT {} FROM tickets WHERE id = ?", Self::ticket_columns());
                let row = sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(executor)
                    .await
                    .map_err(|e| db_error("reading a ticket", e))?;
                row.as_ref().map(Self::ticket_row).transpose()
            }

            /// A 404 naming `customer_id` unless that customer exists.
            async fn require_customer<'c, E>(executor: E, id: i64) -> Result<()>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                let found: Option<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE id = ?")
                    .bind(id)
                    .fetch_optional(executor)
                    .await
                    .map_err(|e| db_error("checking the customer", e))?;
                found
                    .map(|_| ())
                    .ok_or_else(|| Error::NotFound { what: "customer_id".into(), id: id.to_string() })
            }

            /// Sets a ticket's status (and escalation reason, when given) and records who did
            /// it, inside `tx`.
            async fn change_status_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: i64,
                status: Status,
                escalation_reason: Option<&str>,
                actor: &str,
                note: Option<&str>,
            ) -> Result<Ticket> {
                let before = Self::ticket_in(&mut **tx, id)
                    .await?
                    .ok_or_else(|| Error::NotFound { what: "ticket".into(), id: id.to_string() })?;
                let closed = if status == Status::Closed { $now } else { "NULL" };
                let sql = format!(
                    "UPDATE tickets SET status = ?, escalation_reason = COALESCE(?, escalation_reason), \
                     updated_at = {}, closed_at = {closed} WHERE id = ?",
                    $now
                );
                sqlx::query(&sql)
                    .bind(status.as_str())
                    .bind(escalation_reason)
                    .bind(id)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| db_error("updating a ticket", e))?;
                sqlx::query("INSERT INTO ticket_history (ticket_id, from_status, to_status, actor, note) VALUES (?, ?, ?, ?, ?)")
                    .bind(id)
                    .bind(before.status.as_str())
                    .bind(status.as_str())
                    .bind(actor)
                    .bind(note)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| db_error("recording the history", e))?;
                Self::ticket_in(&mut **tx, id)
                    .await?
                    .ok_or_else(|| Error::storage("a ticket vanished during its update"))
            }

            async fn insert_response<'c, E>(executor: E, ticket_id: i64, r: &ResponseRecord) -> Result<i64>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                let $res = sqlx::query(
                    "INSERT INTO responses (ticket_id, responder, author, body, citations, confidence, send_status, llm_model, \
                     prompt_tokens, completion_tokens, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(ticket_id)
                .bind(r.responder.as_str())
                .bind(&r.author)
                .bind(&r.body)
                .bind(r.citations.to_string())
                .bind(r.confidence)
                .bind(r.send_status.as_str())
                .bind(&r.llm_model)
                .bind(r.prompt_tokens)
                .bind(r.completion_tokens)
                .bind(r.latency_ms)
                .execute(executor)
                .await
                .map_err(|e| db_error("recording a response", e))?;
                Ok($last_id)
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| db_error("ping", e))
            }

            async fn create_customer(&self, c: &NewCustomer) -> Result<Customer> {
                let $res = sqlx::query("INSERT INTO customers (name, email, phone, company) VALUES (?, ?, ?, ?)")
                    .bind(&c.name)
                    .bind(&c.email)
                    .bind(&c.phone)
                    .bind(&c.company)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| match e {
                        sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict(
                            "a customer with this email already exists".into(),
                        ),
                        other => db_error("creating a customer", other),
                    })?;
                let id: i64 = $last_id;
                self.customer(id)
                    .await?
                    .ok_or_else(|| Error::storage("a customer vanished after its insert"))
            }

            async fn customer(&self, id: i64) -> Result<Option<Customer>> {
                let sql = format!("SELECT {} FROM customers WHERE id = ?", Self::customer_columns());
                let row = sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| db_error("reading a customer", e))?;
                row.as_ref().map(Self::customer_row).transpose()
            }

            async fn customers(&self, limit: u32) -> Result<Vec<Customer>> {
                let sql = format!("SELECT {} FROM customers ORDER BY id LIMIT ?", Self::customer_columns());
                let rows = sqlx::query(&sql)
                    .bind(i64::from(limit.clamp(1, MAX_TICKETS)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("listing customers", e))?;
                rows.iter().map(Self::customer_row).collect()
            }

            async fn create_ticket(&self, t: &NewTicket, actor: &str) -> Result<(Ticket, bool)> {
                let mut tx = self.pool.begin_with($begin).await.map_err(|e| db_error("starting a transaction", e))?;
                if let Some(key) = &t.idempotency_key {
                    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM tickets WHERE idempotency_key = ?")
                        .bind(key)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| db_error("checking the idempotency key", e))?;
                    if let Some(id) = existing {
                        let ticket = Self::ticket_in(&mut *tx, id).await?.ok_or_else(|| {
                            Error::storage("an idempotent ticket vanished")
                        })?;
                        return Ok((ticket, false));
                    }
                }
                Self::require_customer(&mut *tx, t.customer_id).await?;
                if let Some(device) = t.device_id {
                    let owner: Option<i64> = sqlx::query_scalar("SELECT customer_id FROM devices WHERE id = ?")
                        .bind(device)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| db_error("checking the device", e))?;
                    if owner != Some(t.customer_id) {
                        return Err(Error::NotFound { what: "device_id".into(), id: device.to_string() });
                    }
                }
                let $res = sqlx::query(
                    "INSERT INTO tickets (customer_id, device_id, subject, description, channel, priority, status, idempotency_key) \
                     VALUES (?, ?, ?, ?, ?, ?, 'new', ?)",
                )
                .bind(t.customer_id)
                .bind(t.device_id)
                .bind(&t.subject)
                .bind(&t.description)
                .bind(t.channel.as_str())
                .bind(t.priority.as_str())
                .bind(&t.idempotency_key)
                .execute(&mut *tx)
                .await;
                let $res = match $res {
                    Ok(done) => done,
                    // Another request with the same key won the race: answer with its ticket.
                    Err(sqlx::Error::Database(d)) if d.is_unique_violation() && t.idempotency_key.is_some() => {
                        drop(tx);
                        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM tickets WHERE idempotency_key = ?")
                            .bind(&t.idempotency_key)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(|e| db_error("checking the idempotency key", e))?;
                        let ticket = match id {
                            Some(id) => Self::ticket_in(&self.pool, id).await?,
                            None => None,
                        };
                        return ticket
                            .map(|t| (t, false))
                            .ok_or_else(|| Error::storage("an idempotent ticket vanished"));
                    }
                    Err(e) => return Err(db_error("creating a ticket", e)),
                };
                let id: i64 = $last_id;
                sqlx::query("INSERT INTO ticket_history (ticket_id, from_status, to_status, actor, note) VALUES (?, NULL, 'new', ?, 'created')")
                    .bind(id)
                    .bind(actor)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error("recording the history", e))?;
                let ticket = Self::ticket_in(&mut *tx, id)
                    .await?
                    .ok_or_else(|| Error::storage("a ticket vanished after its insert"))?;
                tx.commit().await.map_err(|e| db_error("committing a ticket", e))?;
                Ok((ticket, true))
            }

            async fn ticket(&self, id: i64) -> Result<Option<Ticket>> {
                Self::ticket_in(&self.pool, id).await
            }

            async fn tickets(&self, f: &TicketFilter) -> Result<Vec<Ticket>> {
                // The filters are bound; a NULL parameter switches its condition off.
                let sql = format!(
                    "SELECT {} FROM tickets WHERE (? IS NULL OR status = ?) AND (? IS NULL OR priority = ?) \
                     AND (? IS NULL OR category = ?) ORDER BY id DESC LIMIT ?",
                    Self::ticket_columns()
                );
                let status = f.status.map(Status::as_str);
                let priority = f.priority.map(Priority::as_str);
                let rows = sqlx::query(&sql)
                    .bind(status)
                    .bind(status)
                    .bind(priority)
                    .bind(priority)
                    .bind(&f.category)
                    .bind(&f.category)
                    .bind(i64::from(f.limit.clamp(1, MAX_TICKETS)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("listing tickets", e))?;
                rows.iter().map(Self::ticket_row).collect()
            }

            async fn set_status(
                &self,
                id: i64,
                status: Status,
                escalation_reason: Option<&str>,
                actor: &str,
                note: Option<&str>,
            ) -> Result<Ticket> {
                let mut tx = self.pool.begin_with($begin).await.map_err(|e| db_error("starting a transaction", e))?;
                let ticket = Self::change_status_in(&mut tx, id, status, escalation_reason, actor, note).await?;
                tx.commit().await.map_err(|e| db_error("committing a status change", e))?;
                Ok(ticket)
            }

            async fn add_step(&self, ticket_id: i64, r: &StepRecord) -> Result<i64> {
                let $res = sqlx::query("INSERT INTO processing_steps (ticket_id, step, status, duration_ms, error) VALUES (?, ?, ?, ?, ?)")
                    .bind(ticket_id)
                    .bind(&r.step)
                    .bind(r.status.as_str())
                    .bind(r.duration_ms.max(0.0))
                    .bind(&r.error)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("recording a step", e))?;
                Ok($last_id)
            }

            async fn add_extraction(&self, ticket_id: i64, r: &ExtractionRecord) -> Result<i64> {
                let $res = sqlx::query(
                    "INSERT INTO extractions (ticket_id, message_id, source, model, manufacturer, error_codes, serial, entities) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(ticket_id)
                .bind(r.message_id)
                .bind(&r.source)
                .bind(&r.model)
                .bind(&r.manufacturer)
                .bind(r.error_codes.to_string())
                .bind(&r.serial)
                .bind(r.entities.to_string())
                .execute(&self.pool)
                .await
                .map_err(|e| db_error("recording an extraction", e))?;
                Ok($last_id)
            }

            async fn add_rag_result(&self, ticket_id: i64, r: &RagRecord) -> Result<i64> {
                let $res = sqlx::query("INSERT INTO rag_results (ticket_id, query, mode, generation, results) VALUES (?, ?, ?, ?, ?)")
                    .bind(ticket_id)
                    .bind(&r.query)
                    .bind(&r.mode)
                    .bind(&r.generation)
                    .bind(r.results.to_string())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("recording retrieval results", e))?;
                Ok($last_id)
            }

            async fn add_response(&self, ticket_id: i64, r: &ResponseRecord) -> Result<i64> {
                Self::insert_response(&self.pool, ticket_id, r).await
            }

            async fn pipeline(&self, ticket_id: i64) -> Result<PipelineRows> {
                let json = |c: &str| format!($json, c = c);
                let get = |e: sqlx::Error| db_error("reading the pipeline records", e);
                let parse = |text: String| serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
                let mut rows = PipelineRows::default();

                let sql = format!(
                    "SELECT id, message_id, source, model, manufacturer, {} AS error_codes, serial, {} AS entities, {} AS created_at \
                     FROM extractions WHERE ticket_id = ? ORDER BY id",
                    json("error_codes"), json("entities"), Self::ts("created_at")
                );
                for row in sqlx::query(&sql).bind(ticket_id).fetch_all(&self.pool).await.map_err(get)? {
                    rows.extractions.push(Stored {
                        id: row.try_get("id").map_err(get)?,
                        record: ExtractionRecord {
                            source: row.try_get("source").map_err(get)?,
                            message_id: row.try_get("message_id").map_err(get)?,
                            model: row.try_get("model").map_err(get)?,
                            manufacturer: row.try_get("manufacturer").map_err(get)?,
                            error_codes: parse(row.try_get("error_codes").map_err(get)?),
                            serial: row.try_get("serial").map_err(get)?,
                            entities: parse(row.try_get("entities").map_err(get)?),
                        },
                        created_at: row.try_get("created_at").map_err(get)?,
                    });
                }

                let sql = format!(
                    "SELECT id, query, mode, generation, {} AS results, {} AS created_at FROM rag_results \
                     WHERE ticket_id = ? ORDER BY id DESC LIMIT 1",
                    json("results"), Self::ts("created_at")
                );
                if let Some(row) = sqlx::query(&sql).bind(ticket_id).fetch_optional(&self.pool).await.map_err(get)? {
                    rows.rag_result = Some(Stored {
                        id: row.try_get("id").map_err(get)?,
                        record: RagRecord {
                            query: row.try_get("query").map_err(get)?,
                            mode: row.try_get("mode").map_err(get)?,
                            generation: row.try_get("generation").map_err(get)?,
                            results: parse(row.try_get("results").map_err(get)?),
                        },
                        created_at: row.try_get("created_at").map_err(get)?,
                    });
                }

                let sql = format!(
                    "SELECT id, responder, author, body, {} AS citations, confidence, send_status, llm_model, \
                     CAST(prompt_tokens AS SIGNED) AS prompt_tokens, CAST(completion_tokens AS SIGNED) AS completion_tokens, \
                     CAST(latency_ms AS SIGNED) AS latency_ms, {} AS created_at FROM responses WHERE ticket_id = ? ORDER BY id",
                    json("citations"), Self::ts("created_at")
                );
                for row in sqlx::query(&sql).bind(ticket_id).fetch_all(&self.pool).await.map_err(get)? {
                    rows.responses.push(Stored {
                        id: row.try_get("id").map_err(get)?,
                        record: ResponseRecord {
                            responder: parse_enum(&row.try_get::<String, _>("responder").map_err(get)?, ResponderKind::parse)?,
                            author: row.try_get("author").map_err(get)?,
                            body: row.try_get("body").map_err(get)?,
                            citations: parse(row.try_get("citations").map_err(get)?),
                            confidence: row.try_get("confidence").map_err(get)?,
                            send_status: parse_enum(&row.try_get::<String, _>("send_status").map_err(get)?, SendStatus::parse)?,
                            llm_model: row.try_get("llm_model").map_err(get)?,
                            prompt_tokens: row.try_get("prompt_tokens").map_err(get)?,
                            completion_tokens: row.try_get("completion_tokens").map_err(get)?,
                            latency_ms: row.try_get("latency_ms").map_err(get)?,
                        },
                        created_at: row.try_get("created_at").map_err(get)?,
                    });
                }

                let sql = format!(
                    "SELECT id, step, status, duration_ms, error, {} AS created_at FROM processing_steps WHERE ticket_id = ? ORDER BY id",
                    Self::ts("created_at")
                );
                for row in sqlx::query(&sql).bind(ticket_id).fetch_all(&self.pool).await.map_err(get)? {
                    rows.steps.push(Stored {
                        id: row.try_get("id").map_err(get)?,
                        record: StepRecord {
                            step: row.try_get("step").map_err(get)?,
                            status: parse_enum(&row.try_get::<String, _>("status").map_err(get)?, StepStatus::parse)?,
                            duration_ms: row.try_get("duration_ms").map_err(get)?,
                            error: row.try_get("error").map_err(get)?,
                        },
                        created_at: row.try_get("created_at").map_err(get)?,
                    });
                }
                Ok(rows)
            }

            async fn history(&self, ticket_id: i64) -> Result<Vec<HistoryEntry>> {
                let sql = format!(
                    "SELECT id, ticket_id, from_status, to_status, actor, note, {} AS created_at \
                     FROM ticket_history WHERE ticket_id = ? ORDER BY id",
                    Self::ts("created_at")
                );
                let rows = sqlx::query(&sql)
                    .bind(ticket_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("reading the history", e))?;
                rows.iter()
                    .map(|row| {
                        let get = |e: sqlx::Error| db_error("reading the history", e);
                        let from: Option<String> = row.try_get("from_status").map_err(get)?;
                        let to: String = row.try_get("to_status").map_err(get)?;
                        Ok(HistoryEntry {
                            id: row.try_get("id").map_err(get)?,
                            ticket_id: row.try_get("ticket_id").map_err(get)?,
                            from_status: from.as_deref().map(|s| parse_enum(s, Status::parse)).transpose()?,
                            to_status: parse_enum(&to, Status::parse)?,
                            actor: row.try_get("actor").map_err(get)?,
                            note: row.try_get("note").map_err(get)?,
                            created_at: row.try_get("created_at").map_err(get)?,
                        })
                    })
                    .collect()
            }
        }
    };
}

sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::SqlitePool,
    backend = "sqlite",
    ts = "{c}",
    now = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    // Take the write lock at once: a read-then-write transaction cannot wait for another
    // writer and fails with SQLITE_BUSY instead.
    begin = "BEGIN IMMEDIATE",
    json = "{c}",
    last_id = |res| res.last_insert_rowid()
);

sql_store!(
    MySqlStore, sqlx::MySql, sqlx::MySqlPool,
    backend = "mysql",
    // Milliseconds and a Z, like SQLite's text; NULL stays NULL.
    ts = "CONCAT(DATE_FORMAT({c}, '%Y-%m-%dT%H:%i:%s.'), LPAD(FLOOR(MICROSECOND({c}) / 1000), 3, '0'), 'Z')",
    now = "UTC_TIMESTAMP(3)",
    begin = "START TRANSACTION",
    // MySQL 8 has a real JSON type the driver will not read as text.
    json = "CAST({c} AS CHAR)",
    last_id = |res| res.last_insert_id() as i64
);

sql_store_more!(
    SqliteStore,
    sqlx::Sqlite,
    backend = "sqlite",
    ts = "{c}",
    day = "substr({c}, 1, 10)",
    now = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    begin = "BEGIN IMMEDIATE",
    upsert_metrics = "INSERT INTO automation_metrics (day, tickets, auto_resolved, escalated, mean_ms, p95_ms) \
        VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (day) DO UPDATE SET tickets = excluded.tickets, \
        auto_resolved = excluded.auto_resolved, escalated = excluded.escalated, mean_ms = excluded.mean_ms, \
        p95_ms = excluded.p95_ms, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    last_id = |res| res.last_insert_rowid()
);

sql_store_more!(
    MySqlStore, sqlx::MySql,
    backend = "mysql",
    ts = "CONCAT(DATE_FORMAT({c}, '%Y-%m-%dT%H:%i:%s.'), LPAD(FLOOR(MICROSECOND({c}) / 1000), 3, '0'), 'Z')",
    day = "DATE_FORMAT({c}, '%Y-%m-%d')",
    now = "UTC_TIMESTAMP(3)",
    begin = "START TRANSACTION",
    upsert_metrics = "INSERT INTO automation_metrics (day, tickets, auto_resolved, escalated, mean_ms, p95_ms) \
        VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE tickets = VALUES(tickets), \
        auto_resolved = VALUES(auto_resolved), escalated = VALUES(escalated), mean_ms = VALUES(mean_ms), \
        p95_ms = VALUES(p95_ms), updated_at = UTC_TIMESTAMP(3)",
    last_id = |res| res.last_insert_id() as i64
);
