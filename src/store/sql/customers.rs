//! Customers: who files tickets.

use async_trait::async_trait;
use sqlx::FromRow;

use super::dialect::{InsertedId, MYSQL, SQLITE};
use super::{db_error, MySqlStore, SqliteStore, MAX_TICKETS};
use crate::error::{Error, Result};
use crate::store::types::*;
use crate::store::CustomerStore;

macro_rules! customer_store {
    ($store:ident, $db:ty, $d:expr) => {
        impl $store {
            pub(super) fn customer_columns() -> String {
                format!(
                    "id, name, email, phone, company, address, {} AS created_at, {} AS updated_at",
                    $d.ts("created_at"),
                    $d.ts("updated_at")
                )
            }

            pub(super) fn customer_row(row: &<$db as sqlx::Database>::Row) -> Result<Customer> {
                Customer::from_row(row).map_err(|e| db_error("reading a customer", e))
            }

            /// A 404 naming `customer_id` unless that customer exists.
            pub(super) async fn require_customer<'c, E>(executor: E, id: i64) -> Result<()>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                let found: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM customers WHERE id = ?")
                        .bind(id)
                        .fetch_optional(executor)
                        .await
                        .map_err(|e| db_error("checking the customer", e))?;
                found.map(|_| ()).ok_or_else(|| Error::NotFound {
                    what: "customer_id".into(),
                    id: id.to_string(),
                })
            }
        }

        #[async_trait]
        impl CustomerStore for $store {
            async fn create_customer(&self, c: &NewCustomer) -> Result<Customer> {
                let res = sqlx::query(
                    "INSERT INTO customers (name, email, phone, company, address) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(&c.name)
                .bind(&c.email)
                .bind(&c.phone)
                .bind(&c.company)
                .bind(&c.address)
                .execute(&self.pool)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(d) if d.is_unique_violation() => {
                        Error::Conflict("a customer with this email already exists".into())
                    }
                    other => db_error("creating a customer", other),
                })?;
                let id: i64 = res.inserted_id();
                self.customer(id)
                    .await?
                    .ok_or_else(|| Error::storage("a customer vanished after its insert"))
            }

            async fn customer(&self, id: i64) -> Result<Option<Customer>> {
                let sql = format!(
                    "SELECT {} FROM customers WHERE id = ?",
                    Self::customer_columns()
                );
                let row = sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| db_error("reading a customer", e))?;
                row.as_ref().map(Self::customer_row).transpose()
            }

            async fn customers(&self, limit: u32) -> Result<Vec<Customer>> {
                let sql = format!(
                    "SELECT {} FROM customers ORDER BY id LIMIT ?",
                    Self::customer_columns()
                );
                let rows = sqlx::query(&sql)
                    .bind(i64::from(limit.clamp(1, MAX_TICKETS)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("listing customers", e))?;
                rows.iter().map(Self::customer_row).collect()
            }
        }
    };
}

customer_store!(SqliteStore, sqlx::Sqlite, SQLITE);
customer_store!(MySqlStore, sqlx::MySql, MYSQL);
