//! Messages and their attachments, predictions, agents' replies and feedback.

use async_trait::async_trait;
use sqlx::FromRow;

use super::dialect::{InsertedId, MYSQL, SQLITE};
use super::{db_error, MySqlStore, SqliteStore, MAX_TICKETS};
use crate::error::{Error, Result};
use crate::store::records::*;
use crate::store::types::*;
use crate::store::ConversationStore;

/// An attachment with the message it belongs to (read for several messages at once).
#[derive(sqlx::FromRow)]
struct AttachmentRow {
    message_id: i64,
    #[sqlx(flatten)]
    attachment: Attachment,
}

macro_rules! conversation_store {
    ($store:ident, $db:ty, $d:expr) => {
        impl $store {
            pub(super) fn message_columns() -> String {
                format!(
                    "id, ticket_id, customer_id, direction, channel, subject, body, transcription, \
                     CAST(processed AS SIGNED) AS processed, {} AS created_at",
                    $d.ts("created_at")
                )
            }

            pub(super) fn message_row(row: &<$db as sqlx::Database>::Row) -> Result<Message> {
                Message::from_row(row).map_err(|e| db_error("reading a message", e))
            }

            /// Inserts a message row (not its attachments); the driver's error is returned
            /// as is, so a caller can tell an idempotency-key race from a failure.
            pub(super) async fn insert_message_row<'c, E>(executor: E, m: &NewMessage) -> std::result::Result<i64, sqlx::Error>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                let res = sqlx::query(
                    "INSERT INTO messages (ticket_id, customer_id, direction, channel, subject, body, transcription, processed, \
                     idempotency_key, request_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(m.ticket_id)
                .bind(m.customer_id)
                .bind(m.direction.as_str())
                .bind(m.channel.as_str())
                .bind(&m.subject)
                .bind(&m.body)
                .bind(&m.transcription)
                .bind(i64::from(m.processed))
                .bind(m.idempotency.as_ref().map(|k| k.key.as_str()))
                .bind(m.idempotency.as_ref().map(|k| k.request_hash.as_str()))
                .execute(executor)
                .await?;
                Ok(res.inserted_id())
            }

            /// The message stored under `key` with its attachments, when it was stored for
            /// the same request; an `IdempotencyKeyReused` error when it was stored for another.
            pub(super) async fn message_by_key_in(
                conn: &mut <$db as sqlx::Database>::Connection,
                key: &IdempotencyKey,
            ) -> Result<Option<Message>> {
                let columns = Self::message_columns();
                let Some(row) = Self::row_by_key(&mut *conn, "messages", &columns, key).await? else {
                    return Ok(None);
                };
                let message = Self::message_row(&row)?;
                Ok(Self::with_attachments(&mut *conn, vec![message]).await?.pop())
            }

            /// Reads the attachments of `messages` (one query, every id bound).
            pub(super) async fn with_attachments<'c, E>(executor: E, mut messages: Vec<Message>) -> Result<Vec<Message>>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                if messages.is_empty() {
                    return Ok(messages);
                }
                let placeholders = vec!["?"; messages.len()].join(", ");
                let sql = format!(
                    "SELECT id, message_id, filename, content_type, size_bytes, sha256 FROM attachments \
                     WHERE message_id IN ({placeholders}) ORDER BY id"
                );
                let mut query = sqlx::query_as::<_, AttachmentRow>(&sql);
                for m in &messages {
                    query = query.bind(m.id);
                }
                let rows = query
                    .fetch_all(executor)
                    .await
                    .map_err(|e| db_error("reading attachments", e))?;
                for AttachmentRow { message_id, attachment } in rows {
                    if let Some(m) = messages.iter_mut().find(|m| m.id == message_id) {
                        m.attachments.push(attachment);
                    }
                }
                Ok(messages)
            }
        }

        #[async_trait]
        impl ConversationStore for $store {
            async fn add_message(&self, m: &NewMessage) -> Result<(Message, bool)> {
                let mut tx = self.pool.begin_with($d.begin).await.map_err(|e| db_error("starting a transaction", e))?;
                if let Some(key) = &m.idempotency {
                    if let Some(message) = Self::message_by_key_in(&mut *tx, key).await? {
                        return Ok((message, false));
                    }
                }
                let inserted = Self::insert_message_row(&mut *tx, m).await;
                let id = match (inserted, &m.idempotency) {
                    (Ok(id), _) => id,
                    // Another request with the same key committed first (the unique index
                    // decides; MySQL made this insert wait for it): answer as its retry would
                    // be answered, from a fresh read outside this transaction.
                    (Err(sqlx::Error::Database(d)), Some(key)) if d.is_unique_violation() => {
                        drop(tx);
                        let stored = self.message_by_key(key).await?.ok_or_else(|| {
                            Error::storage("an idempotent message vanished")
                        })?;
                        return Ok((stored, false));
                    }
                    (Err(e), _) => return Err(db_error("storing a message", e)),
                };
                for a in &m.attachments {
                    sqlx::query(
                        "INSERT INTO attachments (message_id, filename, content_type, size_bytes, sha256) VALUES (?, ?, ?, ?, ?)",
                    )
                    .bind(id)
                    .bind(&a.filename)
                    .bind(&a.content_type)
                    .bind(a.size_bytes)
                    .bind(&a.sha256)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error("storing an attachment", e))?;
                }
                let sql = format!("SELECT {} FROM messages WHERE id = ?", Self::message_columns());
                let row = sqlx::query(&sql)
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| db_error("reading a message", e))?;
                let message = Self::message_row(&row)?;
                let mut stored = Self::with_attachments(&mut *tx, vec![message]).await?;
                tx.commit().await.map_err(|e| db_error("committing a message", e))?;
                Ok((stored.remove(0), true))
            }

            async fn message_by_key(&self, key: &IdempotencyKey) -> Result<Option<Message>> {
                let mut conn = self.pool.acquire().await.map_err(|e| db_error("reading a message", e))?;
                Self::message_by_key_in(&mut *conn, key).await
            }

            async fn messages(&self, ticket_id: i64) -> Result<Vec<Message>> {
                let sql = format!("SELECT {} FROM messages WHERE ticket_id = ? ORDER BY id", Self::message_columns());
                let rows = sqlx::query(&sql)
                    .bind(ticket_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("reading messages", e))?;
                let messages = rows.iter().map(Self::message_row).collect::<Result<Vec<_>>>()?;
                Self::with_attachments(&self.pool, messages).await
            }

            async fn unprocessed_messages(&self, limit: u32) -> Result<Vec<Message>> {
                let sql = format!(
                    "SELECT {} FROM unprocessed_messages ORDER BY created_at, id LIMIT ?",
                    Self::message_columns()
                );
                let rows = sqlx::query(&sql)
                    .bind(i64::from(limit.clamp(1, MAX_TICKETS)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("listing unprocessed messages", e))?;
                let messages = rows.iter().map(Self::message_row).collect::<Result<Vec<_>>>()?;
                Self::with_attachments(&self.pool, messages).await
            }

            async fn mark_processed(&self, ticket_id: i64) -> Result<u64> {
                sqlx::query("UPDATE messages SET processed = 1 WHERE ticket_id = ? AND processed = 0")
                    .bind(ticket_id)
                    .execute(&self.pool)
                    .await
                    .map(|r| r.rows_affected())
                    .map_err(|e| db_error("marking messages processed", e))
            }

            async fn mark_message_processed(&self, message_id: i64) -> Result<()> {
                sqlx::query("UPDATE messages SET processed = 1 WHERE id = ?")
                    .bind(message_id)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| db_error("marking a message processed", e))
            }

            async fn record_agent_reply(
                &self,
                ticket_id: i64,
                r: &ResponseRecord,
                m: &NewMessage,
                status: Status,
                actor: &str,
            ) -> Result<Ticket> {
                let mut tx = self.pool.begin_with($d.begin).await.map_err(|e| db_error("starting a transaction", e))?;
                // The status first: it answers 404 for a missing ticket before any insert.
                let ticket = Self::change_status_in(&mut tx, ticket_id, status, None, actor, Some("agent reply")).await?;
                Self::insert_response(&mut *tx, ticket_id, r).await?;
                Self::insert_message_row(&mut *tx, &NewMessage { ticket_id, processed: true, ..m.clone() })
                    .await
                    .map_err(|e| db_error("storing the reply message", e))?;
                sqlx::query("UPDATE messages SET processed = 1 WHERE ticket_id = ? AND processed = 0")
                    .bind(ticket_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error("marking messages processed", e))?;
                tx.commit().await.map_err(|e| db_error("committing a reply", e))?;
                Ok(ticket)
            }

            async fn open_tickets(&self, customer_id: i64, limit: u32) -> Result<Vec<Ticket>> {
                let sql = format!(
                    "SELECT {} FROM tickets WHERE customer_id = ? AND status <> 'closed' ORDER BY id DESC LIMIT ?",
                    Self::ticket_columns()
                );
                let rows = sqlx::query(&sql)
                    .bind(customer_id)
                    .bind(i64::from(limit.clamp(1, MAX_TICKETS)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("listing open tickets", e))?;
                rows.iter().map(Self::ticket_row).collect()
            }

            async fn add_prediction(&self, ticket_id: i64, p: &PredictionRecord) -> Result<i64> {
                Self::insert_prediction(&self.pool, ticket_id, p).await
            }

            async fn predictions(&self, ticket_id: i64) -> Result<Vec<Stored<PredictionRecord>>> {
                let sql = format!(
                    "SELECT id, task, label, confidence, score, model, version, {} AS created_at FROM predictions \
                     WHERE ticket_id = ? ORDER BY id",
                    $d.ts("created_at")
                );
                sqlx::query_as(&sql)
                    .bind(ticket_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("reading predictions", e))
            }

            async fn classify_ticket(
                &self,
                id: i64,
                category: Option<&str>,
                priority: Option<Priority>,
                retention_flag: bool,
                device_id: Option<i64>,
            ) -> Result<()> {
                let sql = format!(
                    "UPDATE tickets SET category = COALESCE(?, category), priority = COALESCE(?, priority), \
                     retention_flag = ?, device_id = COALESCE(device_id, ?), updated_at = {} WHERE id = ?",
                    $d.now
                );
                sqlx::query(&sql)
                    .bind(category)
                    .bind(priority.map(Priority::as_str))
                    .bind(i64::from(retention_flag))
                    .bind(device_id)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| db_error("classifying a ticket", e))
            }

            async fn confirmed_replies(&self, limit: u32) -> Result<Vec<ConfirmedReply>> {
                let sql = format!(
                    "SELECT r.ticket_id AS ticket_id, r.id AS response_id, r.responder AS responder, {} AS citations, \
                     CAST(r.helpful AS SIGNED) AS helpful, \
                     CASE WHEN r.responder = 'auto' AND r.helpful = 0 THEN \
                     COALESCE((SELECT {} FROM rag_results rr WHERE rr.id = \
                     (SELECT MAX(x.id) FROM rag_results x WHERE x.ticket_id = r.ticket_id AND x.created_at <= r.created_at)), '[]') \
                     ELSE '[]' END AS retrieved, \
                     m.subject AS subject, m.body AS body, m.transcription AS transcription \
                     FROM responses r JOIN messages m ON m.id = \
                     (SELECT MIN(f.id) FROM messages f WHERE f.ticket_id = r.ticket_id AND f.direction = 'inbound') \
                     WHERE (r.responder = 'agent' AND r.send_status <> 'draft') \
                     OR (r.responder = 'auto' AND r.send_status <> 'draft' AND r.helpful IS NOT NULL) \
                     ORDER BY r.id LIMIT ?",
                    $d.json("r.citations"),
                    $d.json("rr.results")
                );
                sqlx::query_as(&sql)
                    .bind(i64::from(limit.max(1)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("listing confirmed replies", e))
            }

            async fn set_feedback(&self, ticket_id: i64, helpful: bool, comment: Option<&str>) -> Result<Option<i64>> {
                let mut tx = self.pool.begin_with($d.begin).await.map_err(|e| db_error("starting a transaction", e))?;
                let id: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM responses WHERE ticket_id = ? AND responder = 'auto' AND send_status <> 'draft' \
                     ORDER BY id DESC LIMIT 1",
                )
                .bind(ticket_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| db_error("finding the automatic reply", e))?;
                let Some(id) = id else {
                    return Ok(None);
                };
                sqlx::query("UPDATE responses SET helpful = ?, feedback_comment = ? WHERE id = ?")
                    .bind(i64::from(helpful))
                    .bind(comment)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error("recording feedback", e))?;
                tx.commit().await.map_err(|e| db_error("committing feedback", e))?;
                Ok(Some(id))
            }
        }
    };
}

conversation_store!(SqliteStore, sqlx::Sqlite, SQLITE);
conversation_store!(MySqlStore, sqlx::MySql, MYSQL);
