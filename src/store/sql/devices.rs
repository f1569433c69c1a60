//! Customers' devices and the reference rows they point to (catalogue models, KB entries).

use async_trait::async_trait;
use sqlx::FromRow;

use super::dialect::{InsertedId, MYSQL, SQLITE};
use super::{db_error, MySqlStore, SqliteStore};
use crate::error::{Error, Result};
use crate::store::records::*;
use crate::store::DeviceStore;

macro_rules! device_store {
    ($store:ident, $db:ty, $d:expr) => {
        impl $store {
            pub(super) fn device_select() -> String {
                format!(
                    "SELECT d.id, d.customer_id, COALESCE(m.canonical, d.model_name) AS model, m.manufacturer, \
                     d.serial, d.location, {} AS created_at FROM devices d LEFT JOIN printer_models m ON m.id = d.model_id",
                    $d.ts("d.created_at")
                )
            }

            pub(super) fn device_row(row: &<$db as sqlx::Database>::Row) -> Result<Device> {
                Device::from_row(row).map_err(|e| db_error("reading a device", e))
            }
        }

        #[async_trait]
        impl DeviceStore for $store {
            async fn create_device(&self, d: &NewDevice) -> Result<Device> {
                let mut tx = self.pool.begin_with($d.begin).await.map_err(|e| db_error("starting a transaction", e))?;
                Self::require_customer(&mut *tx, d.customer_id).await?;
                let model_id: Option<i64> = match &d.model {
                    Some(name) => sqlx::query_scalar("SELECT id FROM printer_models WHERE canonical = ?")
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| db_error("finding the model", e))?,
                    None => None,
                };
                let res = sqlx::query(
                    "INSERT INTO devices (customer_id, model_id, model_name, serial, location) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(d.customer_id)
                .bind(model_id)
                .bind(&d.model)
                .bind(&d.serial)
                .bind(&d.location)
                .execute(&mut *tx)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(
                        "this customer already has a device with this serial number".into(),
                    ),
                    other => db_error("creating a device", other),
                })?;
                let id: i64 = res.inserted_id();
                tx.commit().await.map_err(|e| db_error("committing a device", e))?;
                self.device(id)
                    .await?
                    .ok_or_else(|| Error::storage("a device vanished after its insert"))
            }

            async fn device(&self, id: i64) -> Result<Option<Device>> {
                let sql = format!("{} WHERE d.id = ?", Self::device_select());
                let row = sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| db_error("reading a device", e))?;
                row.as_ref().map(Self::device_row).transpose()
            }

            async fn devices(&self, customer_id: i64) -> Result<Vec<Device>> {
                let sql = format!("{} WHERE d.customer_id = ? ORDER BY d.id", Self::device_select());
                let rows = sqlx::query(&sql)
                    .bind(customer_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("listing devices", e))?;
                rows.iter().map(Self::device_row).collect()
            }

            async fn sync_catalogue(&self, models: &[CatalogueModel]) -> Result<()> {
                let mut tx = self.pool.begin_with($d.begin).await.map_err(|e| db_error("starting a transaction", e))?;
                let known: Vec<String> = sqlx::query_scalar("SELECT canonical FROM printer_models")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(|e| db_error("reading the models", e))?;
                let known: std::collections::HashSet<String> = known.into_iter().collect();
                for m in models {
                    let sql = if known.contains(&m.canonical) {
                        "UPDATE printer_models SET manufacturer = ?, name = ?, series = ?, kind = ? WHERE canonical = ?"
                    } else {
                        "INSERT INTO printer_models (manufacturer, name, series, kind, canonical) VALUES (?, ?, ?, ?, ?)"
                    };
                    sqlx::query(sql)
                        .bind(&m.manufacturer)
                        .bind(&m.name)
                        .bind(&m.series)
                        .bind(&m.kind)
                        .bind(&m.canonical)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| db_error("storing a model", e))?;
                }
                tx.commit().await.map_err(|e| db_error("committing the models", e))
            }

            async fn sync_kb_entries(&self, entries: &[KbEntryRow], generation: &str) -> Result<()> {
                let mut tx = self.pool.begin_with($d.begin).await.map_err(|e| db_error("starting a transaction", e))?;
                let known: Vec<String> = sqlx::query_scalar("SELECT id FROM kb_entries")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(|e| db_error("reading the KB entries", e))?;
                let known: std::collections::HashSet<String> = known.into_iter().collect();
                for e in entries {
                    let sql = if known.contains(&e.id) {
                        format!("UPDATE kb_entries SET title = ?, content_hash = ?, generation = ?, updated_at = {} WHERE id = ?", $d.now)
                    } else {
                        "INSERT INTO kb_entries (title, content_hash, generation, id) VALUES (?, ?, ?, ?)".to_string()
                    };
                    sqlx::query(&sql)
                        .bind(&e.title)
                        .bind(&e.content_hash)
                        .bind(generation)
                        .bind(&e.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(|err| db_error("storing a KB entry", err))?;
                }
                tx.commit().await.map_err(|e| db_error("committing the KB entries", e))
            }

            async fn kb_entry_count(&self, generation: &str) -> Result<i64> {
                sqlx::query_scalar("SELECT COUNT(*) FROM kb_entries WHERE generation = ?")
                    .bind(generation)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| db_error("counting KB entries", e))
            }
        }
    };
}

device_store!(SqliteStore, sqlx::Sqlite, SQLITE);
device_store!(MySqlStore, sqlx::MySql, MYSQL);
