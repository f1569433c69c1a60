//! Tickets, their status history and what the pipeline recorded for each (steps,
//! extraction, retrieved entries, replies).

use async_trait::async_trait;
use sqlx::{FromRow, Row};

use super::dialect::{InsertedId, MYSQL, SQLITE};
use super::{db_error, MySqlStore, SqliteStore, MAX_TICKETS};
use crate::error::{Error, Result};
use crate::store::types::*;
use crate::store::Store;

/// Whether a row stored under `key` answers this request: it must have been stored for
/// the same request (same digest), else the key is being reused for another one.
///
/// A row without a digest was written before migration 0002: nothing tells which request
/// wrote it, so it is taken as matching, the key alone deciding as it did then. Refusing it
/// would turn the retry of a request in flight across the upgrade into an error, and the
/// service still refuses such a key from another customer.
pub(super) fn same_request(stored_hash: Option<&str>, key: &IdempotencyKey) -> Result<()> {
    match stored_hash {
        Some(stored) if stored != key.request_hash => Err(Error::IdempotencyKeyReused {
            key: key.key.clone(),
        }),
        _ => Ok(()),
    }
}

/// A ticket's printer model, read in a query over `tickets`: the device's catalogue model
/// or the name it was given, else the model the extractor found last (what the ticket
/// figures count by model too).
pub(super) const MODEL_OF_TICKET: &str =
    "COALESCE((SELECT COALESCE(m.canonical, d.model_name) FROM devices d \
     LEFT JOIN printer_models m ON m.id = d.model_id WHERE d.id = tickets.device_id), \
     (SELECT e.model FROM extractions e WHERE e.ticket_id = tickets.id AND e.model IS NOT NULL \
     ORDER BY e.id DESC LIMIT 1))";

/// The work queue's order (`TicketOrder::Queue`): escalated, then waiting, then handled;
/// the first two by priority then oldest first (they wait for someone), the handled ones
/// newest first (what was just done).
const QUEUE_ORDER: &str = "CASE status WHEN 'escalated' THEN 0 WHEN 'new' THEN 1 WHEN 'open' THEN 1 \
     WHEN 'in_progress' THEN 1 ELSE 2 END, \
     CASE WHEN status IN ('answered', 'auto_resolved', 'closed') THEN 0 \
     ELSE CASE priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END END, \
     CASE WHEN status IN ('answered', 'auto_resolved', 'closed') THEN -id ELSE id END";

macro_rules! ticket_store {
    ($store:ident, $db:ty, $d:expr) => {
        impl $store {
            pub(super) fn ticket_columns() -> String {
                format!(
                    "id, customer_id, device_id, subject, description, channel, category, priority, status, \
                     escalation_reason, CAST(retention_flag AS SIGNED) AS retention_flag, \
                     CAST(priority_given AS SIGNED) AS priority_given, {MODEL_OF_TICKET} AS model, \
                     {} AS created_at, {} AS updated_at, {} AS closed_at",
                    $d.ts("created_at"),
                    $d.ts("updated_at"),
                    $d.ts("closed_at")
                )
            }

            pub(super) fn ticket_row(row: &<$db as sqlx::Database>::Row) -> Result<Ticket> {
                Ticket::from_row(row).map_err(|e| db_error("reading a ticket", e))
            }

            pub(super) async fn ticket_in<'c, E>(executor: E, id: i64) -> Result<Option<Ticket>>
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

            /// The row of `table` (read as `columns`) stored under `key`, when it was
            /// stored for the same request; an `IdempotencyKeyReused` error when it was
            /// stored for another. Tickets and messages both carry keys.
            pub(super) async fn row_by_key(
                conn: &mut <$db as sqlx::Database>::Connection,
                table: &str,
                columns: &str,
                key: &IdempotencyKey,
            ) -> Result<Option<<$db as sqlx::Database>::Row>> {
                let sql = format!("SELECT {columns}, request_hash FROM {table} WHERE idempotency_key = ?");
                let row = sqlx::query(&sql)
                    .bind(&key.key)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(|e| db_error("checking the idempotency key", e))?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let stored: Option<String> =
                    row.try_get("request_hash").map_err(|e| db_error("checking the idempotency key", e))?;
                same_request(stored.as_deref(), key)?;
                Ok(Some(row))
            }

            /// The ticket stored under `key` (see `row_by_key`).
            pub(super) async fn ticket_by_key(
                conn: &mut <$db as sqlx::Database>::Connection,
                key: &IdempotencyKey,
            ) -> Result<Option<Ticket>> {
                let row = Self::row_by_key(conn, "tickets", &Self::ticket_columns(), key).await?;
                row.as_ref().map(Self::ticket_row).transpose()
            }

            /// Sets a ticket's status (and escalation reason, when given) and records who did
            /// it, inside `tx`.
            pub(super) async fn change_status_in(
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
                let closed = if status == Status::Closed { $d.now } else { "NULL" };
                let sql = format!(
                    "UPDATE tickets SET status = ?, escalation_reason = COALESCE(?, escalation_reason), \
                     updated_at = {}, closed_at = {closed} WHERE id = ?",
                    $d.now
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

            pub(super) async fn insert_step<'c, E>(executor: E, ticket_id: i64, r: &StepRecord) -> Result<i64>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                let res = sqlx::query("INSERT INTO processing_steps (ticket_id, step, status, duration_ms, error) VALUES (?, ?, ?, ?, ?)")
                    .bind(ticket_id)
                    .bind(&r.step)
                    .bind(r.status.as_str())
                    .bind(r.duration_ms.max(0.0))
                    .bind(&r.error)
                    .execute(executor)
                    .await
                    .map_err(|e| db_error("recording a step", e))?;
                Ok(res.inserted_id())
            }

            pub(super) async fn insert_prediction<'c, E>(executor: E, ticket_id: i64, p: &crate::store::PredictionRecord) -> Result<i64>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                let res = sqlx::query(
                    "INSERT INTO predictions (ticket_id, task, label, confidence, score, model, version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(ticket_id)
                .bind(&p.task)
                .bind(&p.label)
                .bind(p.confidence.clamp(0.0, 1.0))
                .bind(p.score)
                .bind(&p.model)
                .bind(&p.version)
                .execute(executor)
                .await
                .map_err(|e| db_error("recording a prediction", e))?;
                Ok(res.inserted_id())
            }

            pub(super) async fn insert_response<'c, E>(executor: E, ticket_id: i64, r: &ResponseRecord) -> Result<i64>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                let res = sqlx::query(
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
                Ok(res.inserted_id())
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $d.backend
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| db_error("ping", e))
            }

            async fn create_ticket(&self, t: &NewTicket, actor: &str) -> Result<(Ticket, bool)> {
                let mut tx = self.pool.begin_with($d.begin).await.map_err(|e| db_error("starting a transaction", e))?;
                if let Some(key) = &t.idempotency {
                    if let Some(ticket) = Self::ticket_by_key(&mut *tx, key).await? {
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
                let res = sqlx::query(
                    "INSERT INTO tickets (customer_id, device_id, subject, description, channel, priority, \
                     priority_given, status, idempotency_key, request_hash) VALUES (?, ?, ?, ?, ?, ?, ?, 'new', ?, ?)",
                )
                .bind(t.customer_id)
                .bind(t.device_id)
                .bind(&t.subject)
                .bind(&t.description)
                .bind(t.channel.as_str())
                .bind(t.priority.as_str())
                .bind(i64::from(t.priority_given))
                .bind(t.idempotency.as_ref().map(|k| k.key.as_str()))
                .bind(t.idempotency.as_ref().map(|k| k.request_hash.as_str()))
                .execute(&mut *tx)
                .await;
                let res = match (res, &t.idempotency) {
                    (Ok(done), _) => done,
                    // Another request with the same key committed first (the unique index
                    // decides; MySQL made this insert wait for it): answer as its retry would
                    // be answered, from a fresh read outside this transaction.
                    (Err(sqlx::Error::Database(d)), Some(key)) if d.is_unique_violation() => {
                        drop(tx);
                        let mut conn = self.pool.acquire().await.map_err(|e| db_error("checking the idempotency key", e))?;
                        return Self::ticket_by_key(&mut *conn, key)
                            .await?
                            .map(|t| (t, false))
                            .ok_or_else(|| Error::storage("an idempotent ticket vanished"));
                    }
                    (Err(e), _) => return Err(db_error("creating a ticket", e)),
                };
                let id: i64 = res.inserted_id();
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
                let order = match f.order {
                    TicketOrder::Newest => "id DESC",
                    TicketOrder::Queue => QUEUE_ORDER,
                };
                let sql = format!(
                    "SELECT {} FROM tickets WHERE (? IS NULL OR status = ?) AND (? IS NULL OR priority = ?) \
                     AND (? IS NULL OR category = ?) AND (? IS NULL OR {MODEL_OF_TICKET} = ?) \
                     AND (? IS NULL OR retention_flag = ?) ORDER BY {order} LIMIT ?",
                    Self::ticket_columns()
                );
                let status = f.status.map(Status::as_str);
                let priority = f.priority.map(Priority::as_str);
                let flagged = f.retention_flag.map(i64::from);
                let rows = sqlx::query(&sql)
                    .bind(status)
                    .bind(status)
                    .bind(priority)
                    .bind(priority)
                    .bind(&f.category)
                    .bind(&f.category)
                    .bind(&f.model)
                    .bind(&f.model)
                    .bind(flagged)
                    .bind(flagged)
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
                let mut tx = self.pool.begin_with($d.begin).await.map_err(|e| db_error("starting a transaction", e))?;
                let ticket = Self::change_status_in(&mut tx, id, status, escalation_reason, actor, note).await?;
                tx.commit().await.map_err(|e| db_error("committing a status change", e))?;
                Ok(ticket)
            }

            async fn add_step(&self, ticket_id: i64, r: &StepRecord) -> Result<i64> {
                Self::insert_step(&self.pool, ticket_id, r).await
            }

            async fn add_extraction(&self, ticket_id: i64, r: &ExtractionRecord) -> Result<i64> {
                let res = sqlx::query(
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
                Ok(res.inserted_id())
            }

            async fn add_rag_result(&self, ticket_id: i64, r: &RagRecord) -> Result<i64> {
                let res = sqlx::query("INSERT INTO rag_results (ticket_id, query, mode, generation, results) VALUES (?, ?, ?, ?, ?)")
                    .bind(ticket_id)
                    .bind(&r.query)
                    .bind(&r.mode)
                    .bind(&r.generation)
                    .bind(r.results.to_string())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("recording retrieval results", e))?;
                Ok(res.inserted_id())
            }

            async fn add_response(&self, ticket_id: i64, r: &ResponseRecord) -> Result<i64> {
                Self::insert_response(&self.pool, ticket_id, r).await
            }

            async fn pipeline(&self, ticket_id: i64) -> Result<PipelineRows> {
                let json = |c: &str| $d.json(c);
                let failed = |e: sqlx::Error| db_error("reading the pipeline records", e);

                let sql = format!(
                    "SELECT id, message_id, source, model, manufacturer, {} AS error_codes, serial, {} AS entities, {} AS created_at \
                     FROM extractions WHERE ticket_id = ? ORDER BY id",
                    json("error_codes"), json("entities"), $d.ts("created_at")
                );
                let extractions = sqlx::query_as(&sql).bind(ticket_id).fetch_all(&self.pool).await.map_err(failed)?;

                let sql = format!(
                    "SELECT id, query, mode, generation, {} AS results, {} AS created_at FROM rag_results \
                     WHERE ticket_id = ? ORDER BY id DESC LIMIT 1",
                    json("results"), $d.ts("created_at")
                );
                let rag_result = sqlx::query_as(&sql).bind(ticket_id).fetch_optional(&self.pool).await.map_err(failed)?;

                let sql = format!(
                    "SELECT id, responder, author, body, {} AS citations, confidence, send_status, llm_model, \
                     CAST(prompt_tokens AS SIGNED) AS prompt_tokens, CAST(completion_tokens AS SIGNED) AS completion_tokens, \
                     CAST(latency_ms AS SIGNED) AS latency_ms, {} AS created_at FROM responses WHERE ticket_id = ? ORDER BY id",
                    json("citations"), $d.ts("created_at")
                );
                let responses = sqlx::query_as(&sql).bind(ticket_id).fetch_all(&self.pool).await.map_err(failed)?;

                let sql = format!(
                    "SELECT id, step, status, duration_ms, error, {} AS created_at FROM processing_steps WHERE ticket_id = ? ORDER BY id",
                    $d.ts("created_at")
                );
                let steps = sqlx::query_as(&sql).bind(ticket_id).fetch_all(&self.pool).await.map_err(failed)?;

                Ok(PipelineRows { extractions, rag_result, responses, steps })
            }

            async fn history(&self, ticket_id: i64) -> Result<Vec<HistoryEntry>> {
                let sql = format!(
                    "SELECT id, ticket_id, from_status, to_status, actor, note, {} AS created_at \
                     FROM ticket_history WHERE ticket_id = ? ORDER BY id",
                    $d.ts("created_at")
                );
                sqlx::query_as(&sql)
                    .bind(ticket_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("reading the history", e))
            }
        }
    };
}

ticket_store!(SqliteStore, sqlx::Sqlite, SQLITE);
ticket_store!(MySqlStore, sqlx::MySql, MYSQL);

#[cfg(test)]
mod tests {
    use super::QUEUE_ORDER;
    use crate::store::types::Status;

    /// The queue's order names statuses in SQL: each must be one, and every status must be
    /// placed (escalated, waiting or handled).
    #[test]
    fn the_queue_order_names_every_status_and_only_statuses() {
        let named: Vec<&str> = QUEUE_ORDER
            .split('\'')
            .skip(1)
            .step_by(2)
            .filter(|w| !["critical", "high", "medium"].contains(w))
            .collect();
        for name in &named {
            assert!(Status::parse(name).is_ok(), "`{name}` is not a status");
        }
        for status in Status::ALL {
            assert!(named.contains(&status.as_str()), "{status:?} is not placed");
        }
    }
}
