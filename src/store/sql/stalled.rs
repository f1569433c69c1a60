//! Tickets whose pipeline did not finish, and the lease that lets one server, of several on
//! one database, handle each of them.

use async_trait::async_trait;

use super::dialect::{MYSQL, SQLITE};
use super::{db_error, MySqlStore, SqliteStore};
use crate::error::Result;
use crate::store::types::*;
use crate::store::StalledStore;

/// The time `?` seconds from now (negative: ago), as each dialect writes it; the offset is
/// bound as an integer.
const SQLITE_OFFSET: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ? || ' seconds')";
const MYSQL_OFFSET: &str = "DATE_ADD(UTC_TIMESTAMP(3), INTERVAL ? SECOND)";

macro_rules! stalled_store {
    ($store:ident, $d:expr, $offset:expr) => {
        #[async_trait]
        impl StalledStore for $store {
            async fn stalled_tickets(&self, idle_secs: u64, limit: u32) -> Result<Vec<Ticket>> {
                let sql = format!(
                    "SELECT {} FROM tickets WHERE status = 'new' AND created_at < {offset} \
                     AND (pipeline_lease_until IS NULL OR pipeline_lease_until < {now}) \
                     ORDER BY id LIMIT ?",
                    Self::ticket_columns(),
                    offset = $offset,
                    now = $d.now,
                );
                let rows = sqlx::query(&sql)
                    .bind(-(idle_secs as i64))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("listing stalled tickets", e))?;
                rows.iter().map(Self::ticket_row).collect()
            }

            async fn claim_stalled(
                &self,
                id: i64,
                idle_secs: u64,
                lease_secs: u64,
            ) -> Result<bool> {
                // The same conditions as the listing, checked again in the UPDATE itself:
                // between two servers' listings and claims, only one UPDATE changes the row.
                let sql = format!(
                    "UPDATE tickets SET pipeline_lease_until = {offset} \
                     WHERE id = ? AND status = 'new' AND created_at < {offset} \
                     AND (pipeline_lease_until IS NULL OR pipeline_lease_until < {now})",
                    offset = $offset,
                    now = $d.now,
                );
                let done = sqlx::query(&sql)
                    .bind(lease_secs as i64)
                    .bind(id)
                    .bind(-(idle_secs as i64))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("claiming a stalled ticket", e))?;
                Ok(done.rows_affected() == 1)
            }

            async fn claim_pipeline(&self, id: i64, lease_secs: u64) -> Result<bool> {
                let sql = format!(
                    "UPDATE tickets SET pipeline_lease_until = {offset} \
                     WHERE id = ? AND status = 'new' \
                     AND (pipeline_lease_until IS NULL OR pipeline_lease_until < {now})",
                    offset = $offset,
                    now = $d.now,
                );
                let done = sqlx::query(&sql)
                    .bind(lease_secs as i64)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("claiming a ticket's pipeline", e))?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

stalled_store!(SqliteStore, SQLITE, SQLITE_OFFSET);
stalled_store!(MySqlStore, MYSQL, MYSQL_OFFSET);
