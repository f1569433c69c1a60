//! The figures staff read: counts by status, category and model; daily automation metrics.

use async_trait::async_trait;

use super::dialect::{MYSQL, SQLITE};
use super::tickets::MODEL_OF_TICKET;
use super::{db_error, MySqlStore, SqliteStore};
use crate::error::Result;
use crate::store::records::*;
use crate::store::ReportStore;

macro_rules! report_store {
    ($store:ident, $db:ty, $d:expr) => {
        impl $store {
            pub(super) async fn counts(&self, expression: &str) -> Result<Vec<Count>> {
                let sql = format!(
                    "SELECT value, COUNT(*) AS n FROM (SELECT {expression} AS value FROM tickets) grouped \
                     GROUP BY value ORDER BY n DESC, value"
                );
                sqlx::query_as::<_, Count>(&sql)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("counting tickets", e))
            }
        }

        #[async_trait]
        impl ReportStore for $store {
            async fn ticket_stats(&self) -> Result<TicketStats> {
                let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| db_error("counting tickets", e))?;
                let flagged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE retention_flag = 1")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| db_error("counting tickets", e))?;
                Ok(TicketStats {
                    total,
                    by_status: self.counts("status").await?,
                    by_priority: self.counts("priority").await?,
                    by_category: self.counts("category").await?,
                    // The device's model, else the model the extractor found last: the
                    // ticket's `model`, which the lists filter on.
                    by_model: self.counts(MODEL_OF_TICKET).await?,
                    retention_flagged: flagged,
                })
            }

            async fn ticket_outcomes(&self, since_day: &str) -> Result<Vec<TicketOutcome>> {
                let sql = format!(
                    "SELECT {} AS day, CAST(CASE WHEN t.status = 'auto_resolved' THEN 1 ELSE 0 END AS SIGNED) AS auto_resolved, \
                     CAST(CASE WHEN t.escalation_reason IS NULL THEN 0 ELSE 1 END AS SIGNED) AS escalated, t.escalation_reason, \
                     CAST((SELECT r.helpful FROM responses r WHERE r.ticket_id = t.id AND r.responder = 'auto' \
                     AND r.send_status <> 'draft' ORDER BY r.id DESC LIMIT 1) AS SIGNED) AS helpful, \
                     COALESCE((SELECT SUM(s.duration_ms) FROM processing_steps s WHERE s.ticket_id = t.id), 0e0) AS processing_ms \
                     FROM tickets t WHERE t.created_at >= ? ORDER BY t.id",
                    $d.day("t.created_at")
                );
                sqlx::query_as(&sql)
                    .bind(since_day)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("reading ticket outcomes", e))
            }

            async fn put_daily_metrics(&self, days: &[DailyMetrics]) -> Result<()> {
                let mut tx = self.pool.begin_with($d.begin).await.map_err(|e| db_error("starting a transaction", e))?;
                // One upsert per day: a delete-then-insert takes gap locks on InnoDB that two
                // concurrent refreshes of a new day turn into a deadlock.
                for d in days {
                    sqlx::query($d.upsert_metrics)
                        .bind(&d.day)
                        .bind(d.tickets)
                        .bind(d.auto_resolved)
                        .bind(d.escalated)
                        .bind(d.mean_ms)
                        .bind(d.p95_ms)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| db_error("storing daily metrics", e))?;
                }
                tx.commit().await.map_err(|e| db_error("committing daily metrics", e))
            }

            async fn daily_metrics(&self, since_day: &str) -> Result<Vec<DailyMetrics>> {
                let sql = format!(
                    "SELECT {} AS day, CAST(tickets AS SIGNED) AS tickets, CAST(auto_resolved AS SIGNED) AS auto_resolved, \
                     CAST(escalated AS SIGNED) AS escalated, mean_ms, p95_ms FROM automation_metrics WHERE day >= ? ORDER BY day",
                    $d.day("day")
                );
                sqlx::query_as::<_, DailyMetrics>(&sql)
                    .bind(since_day)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("reading daily metrics", e))
            }
        }
    };
}

report_store!(SqliteStore, sqlx::Sqlite, SQLITE);
report_store!(MySqlStore, sqlx::MySql, MYSQL);
