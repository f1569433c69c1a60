//! A database per test, on SQLite (a temporary file) or on the MariaDB / MySQL server at
//! `DEVICEKB_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`, as on the CI
//! machines): created for the test, dropped (MySQL) or deleted (SQLite) at its end.

use std::borrow::Cow;
use std::sync::Arc;

use devicekb::store::{self, Store};
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Mysql,
}

pub fn mysql_server() -> String {
    std::env::var("DEVICEKB_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

pub struct TestDb {
    pub backend: Backend,
    /// What `DATABASE_URL` would say to reach it.
    pub url: String,
    /// The store on it, every migration applied.
    pub store: Arc<dyn Store>,
    mysql_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        TestDb::new(Backend::Sqlite, None, &[]).await
    }

    pub async fn mysql() -> TestDb {
        TestDb::new(Backend::Mysql, None, &[]).await
    }

    /// A database that ran the migrations up to `version` only, then the statements of
    /// `seed` (rows as an older release wrote them), then was opened by the store, which
    /// applies the rest: an existing database upgraded.
    pub async fn upgraded(backend: Backend, version: i64, seed: &[&str]) -> TestDb {
        TestDb::new(backend, Some(version), seed).await
    }

    async fn new(backend: Backend, until: Option<i64>, seed: &[&str]) -> TestDb {
        let (url, mysql_name, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("devicekb.db").display());
                (url, None, Some(dir))
            }
            Backend::Mysql => {
                let name = format!(
                    "devicekb_test_{}_{}",
                    std::process::id(),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_nanos()
                        % 1_000_000_000
                );
                let server = mysql_server();
                let mut admin = sqlx::MySqlConnection::connect(&server)
                    .await
                    .unwrap_or_else(|e| panic!("the MySQL tests need a server at {server} ({e})"));
                sqlx::query(&format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                (format!("{server}/{name}"), Some(name), None)
            }
        };
        if let Some(version) = until {
            old_schema(backend, &url, version, seed).await;
        }
        let store = store::connect(&url).await.expect("the store opens");
        TestDb {
            backend,
            url,
            store,
            mysql_name,
            _dir: dir,
        }
    }

    /// Runs one statement on the database, beside the store (to set up what the store
    /// would not write).
    pub async fn execute(&self, statement: &str) {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query(statement).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
            Backend::Mysql => {
                let mut conn = sqlx::MySqlConnection::connect(&self.url).await.unwrap();
                sqlx::query(statement).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
        }
    }

    /// The names of a table's or a view's columns, in order, as the database lists them.
    pub async fn columns(&self, table: &str) -> Vec<String> {
        use sqlx::Row;
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                let rows = sqlx::query("SELECT name FROM pragma_table_info(?) ORDER BY cid")
                    .bind(table)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                rows.iter().map(|r| r.get::<String, _>("name")).collect()
            }
            Backend::Mysql => {
                let mut conn = sqlx::MySqlConnection::connect(&self.url).await.unwrap();
                let rows = sqlx::query(
                    "SELECT CAST(column_name AS CHAR) AS name FROM information_schema.columns \
                     WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(&mut conn)
                .await
                .unwrap();
                conn.close().await.unwrap();
                rows.iter().map(|r| r.get::<String, _>("name")).collect()
            }
        }
    }

    pub async fn drop_db(self) {
        if let Some(name) = self.mysql_name {
            let mut admin = sqlx::MySqlConnection::connect(&mysql_server())
                .await
                .unwrap();
            sqlx::query(&format!("DROP DATABASE `{name}`"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }
}

/// The repository's migrations of `backend` up to `version`, read from disk as the server
/// embeds them (so the store later finds the same checksums).
async fn migrations_until(backend: Backend, version: i64) -> sqlx::migrate::Migrator {
    let dir = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Mysql => "mysql",
    };
    let path = super::repo().join("migrations").join(dir);
    let mut migrator = sqlx::migrate::Migrator::new(path.as_path())
        .await
        .expect("the migrations read");
    let older: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= version)
        .cloned()
        .collect();
    assert!(
        older.iter().any(|m| m.version == version),
        "no migration {version}"
    );
    migrator.migrations = Cow::Owned(older);
    migrator
}

async fn old_schema(backend: Backend, url: &str, version: i64, seed: &[&str]) {
    let migrator = migrations_until(backend, version).await;
    match backend {
        Backend::Sqlite => {
            use std::str::FromStr;
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .unwrap()
                .create_if_missing(true)
                .foreign_keys(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            migrator.run(&mut conn).await.expect("the old schema");
            for statement in seed {
                sqlx::query(statement).execute(&mut conn).await.unwrap();
            }
            conn.close().await.unwrap();
        }
        Backend::Mysql => {
            let mut conn = sqlx::MySqlConnection::connect(url).await.unwrap();
            migrator.run(&mut conn).await.expect("the old schema");
            for statement in seed {
                sqlx::query(statement).execute(&mut conn).await.unwrap();
            }
            conn.close().await.unwrap();
        }
    }
}
