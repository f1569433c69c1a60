//! Tickets whose pipeline did not finish or whose classification was left undone, and the
//! lease that lets one server, of several on one database, handle each of them.

use async_trait::async_trait;

use super::dialect::{MYSQL, SQLITE};
use super::{db_error, MySqlStore, SqliteStore};
use crate::error::{Error, Result};
use crate::store::records::LateClassification;
use crate::store::types::*;
use crate::store::StalledStore;

/// The time `?` seconds from now (negative: ago), as each dialect writes it; the offset is
/// bound as an integer.
const SQLITE_OFFSET: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ? || ' seconds')";
const MYSQL_OFFSET: &str = "DATE_ADD(UTC_TIMESTAMP(3), INTERVAL ? SECOND)";

/// How far back the sweep looks for tickets left unclassified: a week (the query stays
/// cheap on a large database; an older one was left by a server stopped for longer).
const UNCLASSIFIED_WITHIN_SECS: u64 = 7 * 24 * 3600;

macro_rules! stalled_store {
    ($store:ident, $d:expr, $offset:expr) => {
        impl $store {
            /// Takes a `new` ticket's pipeline lease for `lease_secs` unless another server
            /// holds it; with `idle_secs`, only if the ticket is older than that (stalled).
            /// The conditions are checked in the UPDATE itself: of two servers claiming
            /// at once, only one UPDATE changes the row.
            async fn claim_lease(
                &self,
                id: i64,
                idle_secs: Option<u64>,
                lease_secs: u64,
            ) -> Result<bool> {
                let age = if idle_secs.is_some() {
                    format!("AND created_at < {}", $offset)
                } else {
                    String::new()
                };
                let sql = format!(
                    "UPDATE tickets SET pipeline_lease_until = {offset} \
                     WHERE id = ? AND status = 'new' {age} \
                     AND (pipeline_lease_until IS NULL OR pipeline_lease_until < {now})",
                    offset = $offset,
                    now = $d.now,
                );
                let mut query = sqlx::query(&sql).bind(lease_secs as i64).bind(id);
                if let Some(idle) = idle_secs {
                    query = query.bind(-(idle as i64));
                }
                let done = query
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("claiming a ticket's pipeline", e))?;
                Ok(done.rows_affected() == 1)
            }
        }

        impl $store {
            /// Tickets matching `condition` (its `?` bound to `offsets`, seconds from now)
            /// whose lease, if any, has run out, oldest first.
            async fn unleased_tickets(
                &self,
                condition: &str,
                offsets: &[i64],
                limit: u32,
                what: &str,
            ) -> Result<Vec<Ticket>> {
                let sql = format!(
                    "SELECT {} FROM tickets WHERE {condition} \
                     AND (pipeline_lease_until IS NULL OR pipeline_lease_until < {now}) \
                     ORDER BY id LIMIT ?",
                    Self::ticket_columns(),
                    now = $d.now,
                );
                let mut query = sqlx::query(&sql);
                for offset in offsets {
                    query = query.bind(*offset);
                }
                let rows = query
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error(what, e))?;
                rows.iter().map(Self::ticket_row).collect()
            }
        }

        #[async_trait]
        impl StalledStore for $store {
            async fn stalled_tickets(&self, idle_secs: u64, limit: u32) -> Result<Vec<Ticket>> {
                let condition = format!("status = 'new' AND created_at < {}", $offset);
                let offsets = [-(idle_secs as i64)];
                self.unleased_tickets(&condition, &offsets, limit, "listing stalled tickets")
                    .await
            }

            async fn claim_stalled(
                &self,
                id: i64,
                idle_secs: u64,
                lease_secs: u64,
            ) -> Result<bool> {
                self.claim_lease(id, Some(idle_secs), lease_secs).await
            }

            async fn claim_pipeline(&self, id: i64, lease_secs: u64) -> Result<bool> {
                self.claim_lease(id, None, lease_secs).await
            }

            async fn unclassified_tickets(
                &self,
                idle_secs: u64,
                limit: u32,
            ) -> Result<Vec<Ticket>> {
                let condition = format!(
                    "status <> 'new' AND created_at < {offset} AND created_at > {offset} \
                     AND NOT EXISTS (SELECT 1 FROM processing_steps s \
                     WHERE s.ticket_id = tickets.id AND s.step = 'classification')",
                    offset = $offset,
                );
                let offsets = [-(idle_secs as i64), -(UNCLASSIFIED_WITHIN_SECS as i64)];
                self.unleased_tickets(&condition, &offsets, limit, "listing unclassified tickets")
                    .await
            }

            async fn record_late_classification(
                &self,
                ticket_id: i64,
                late: &LateClassification,
            ) -> Result<bool> {
                let mut tx = self
                    .pool
                    .begin_with($d.begin)
                    .await
                    .map_err(|e| db_error("starting a transaction", e))?;
                // The ticket's row first, with what the classification sets on it: of two
                // writers, the second waits here until the first commits, then sees its
                // step below (a locking read, which sees the latest committed rows whatever
                // the isolation level) and rolls its update back.
                let touched = sqlx::query(&format!(
                    "UPDATE tickets SET category = COALESCE(?, category), priority = COALESCE(?, priority), \
                     retention_flag = ?, updated_at = {} WHERE id = ?",
                    $d.now
                ))
                .bind(late.category.as_deref())
                .bind(late.priority.map(Priority::as_str))
                .bind(i64::from(late.retention_flag))
                .bind(ticket_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error("classifying a ticket", e))?;
                if touched.rows_affected() == 0 {
                    let _ = tx.rollback().await;
                    return Err(Error::NotFound { what: "ticket".into(), id: ticket_id.to_string() });
                }
                let (steps,): (i64,) = sqlx::query_as(&format!(
                    "SELECT COUNT(*) FROM processing_steps WHERE ticket_id = ? AND step = 'classification'{}",
                    $d.locking_read
                ))
                .bind(ticket_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| db_error("reading a ticket's steps", e))?;
                if steps > 0 {
                    // Released now rather than when the connection is next used.
                    let _ = tx.rollback().await;
                    return Ok(false);
                }
                for p in &late.predictions {
                    Self::insert_prediction(&mut *tx, ticket_id, p).await?;
                }
                Self::insert_step(&mut *tx, ticket_id, &late.step).await?;
                tx.commit()
                    .await
                    .map_err(|e| db_error("committing a classification", e))?;
                Ok(true)
            }

            async fn claim_unclassified(&self, id: i64, lease_secs: u64) -> Result<bool> {
                let sql = format!(
                    "UPDATE tickets SET pipeline_lease_until = {offset} \
                     WHERE id = ? AND status <> 'new' \
                     AND (pipeline_lease_until IS NULL OR pipeline_lease_until < {now}) \
                     AND NOT EXISTS (SELECT 1 FROM processing_steps s \
                     WHERE s.ticket_id = tickets.id AND s.step = 'classification')",
                    offset = $offset,
                    now = $d.now,
                );
                let done = sqlx::query(&sql)
                    .bind(lease_secs as i64)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("claiming a ticket's classification", e))?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

stalled_store!(SqliteStore, SQLITE, SQLITE_OFFSET);
stalled_store!(MySqlStore, MYSQL, MYSQL_OFFSET);
