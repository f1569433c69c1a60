//! API keys: the hash of each key, its role and what it pins. Revoking keeps the row, so
//! `keys list` still shows who had access and until when.

use async_trait::async_trait;
use sqlx::FromRow;

use super::dialect::{InsertedId, MYSQL, SQLITE};
use super::{db_error, MySqlStore, SqliteStore};
use crate::error::{Error, Result};
use crate::store::types::*;
use crate::store::KeyStore;

macro_rules! key_store {
    ($store:ident, $db:ty, $d:expr) => {
        impl $store {
            fn key_columns() -> String {
                format!(
                    "id, name, role, key_hash, key_prefix, channel, customer_id, \
                     {} AS created_at, {} AS revoked_at",
                    $d.ts("created_at"),
                    $d.ts("revoked_at")
                )
            }

            async fn key_by_id(&self, id: i64) -> Result<Option<ApiKey>> {
                let sql = format!("SELECT {} FROM api_keys WHERE id = ?", Self::key_columns());
                let row = sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| db_error("reading an API key", e))?;
                row.as_ref()
                    .map(|r| ApiKey::from_row(r).map_err(|e| db_error("reading an API key", e)))
                    .transpose()
            }
        }

        #[async_trait]
        impl KeyStore for $store {
            async fn create_key(&self, key: &NewApiKey) -> Result<ApiKey> {
                if let Some(customer_id) = key.customer_id {
                    Self::require_customer(&self.pool, customer_id).await?;
                }
                let res = sqlx::query(
                    "INSERT INTO api_keys (name, role, key_hash, key_prefix, channel, customer_id) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(&key.name)
                .bind(key.role.as_str())
                .bind(&key.key_hash)
                .bind(&key.key_prefix)
                .bind(key.channel.map(|c| c.as_str()))
                .bind(key.customer_id)
                .execute(&self.pool)
                .await
                .map_err(|e| db_error("storing an API key", e))?;
                self.key_by_id(res.inserted_id())
                    .await?
                    .ok_or_else(|| Error::storage("an API key vanished after its insert"))
            }

            async fn keys(&self) -> Result<Vec<ApiKey>> {
                let sql = format!("SELECT {} FROM api_keys ORDER BY id", Self::key_columns());
                let rows = sqlx::query(&sql)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("listing API keys", e))?;
                rows.iter()
                    .map(|r| ApiKey::from_row(r).map_err(|e| db_error("reading an API key", e)))
                    .collect()
            }

            async fn revoke_key(&self, id: i64) -> Result<Option<ApiKey>> {
                let sql = format!(
                    "UPDATE api_keys SET revoked_at = {} WHERE id = ? AND revoked_at IS NULL",
                    $d.now
                );
                let done = sqlx::query(&sql)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| db_error("revoking an API key", e))?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                self.key_by_id(id).await
            }
        }
    };
}

key_store!(SqliteStore, sqlx::Sqlite, SQLITE);
key_store!(MySqlStore, sqlx::MySql, MYSQL);
