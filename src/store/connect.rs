//! Opening each SQL store: connection options per dialect, then the schema's migrations
//! (`migrations/sqlite`, `migrations/mysql`), applied before the first query.

use super::sql::{db_error, MySqlStore, SqliteStore};
use crate::error::{Error, Result};

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self> {
        use std::str::FromStr;
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("DATABASE_URL: {e}")))?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| db_error("opening the SQLite database", e))?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| Error::storage_caused("applying the SQLite migrations", e))?;
        Ok(SqliteStore { pool })
    }
}

impl MySqlStore {
    pub async fn connect(url: &str) -> Result<Self> {
        use std::str::FromStr;
        let options = sqlx::mysql::MySqlConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("DATABASE_URL: {e}")))?
            .timezone(Some("+00:00".into()));
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect_with(options)
            .await
            .map_err(|e| db_error("connecting to MySQL", e))?;
        sqlx::migrate!("migrations/mysql")
            .run(&pool)
            .await
            .map_err(|e| Error::storage_caused("applying the MySQL migrations", e))?;
        Ok(MySqlStore { pool })
    }
}
