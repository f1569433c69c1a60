//! The two SQL stores, SQLite and MySQL / MariaDB, one module per table group. Each query
//! is written once; what the dialects spell differently comes from `dialect`, and one
//! macro per table group writes the code for both stores from it, so they cannot drift
//! apart. The same suite runs against both (tests/store.rs).

mod conversation;
mod customers;
mod devices;
mod dialect;
mod keys;
mod reports;
mod stalled;
mod tickets;

use crate::error::{Error, Result};

/// The most rows one list returns.
pub(super) const MAX_TICKETS: u32 = 500;

pub struct SqliteStore {
    pub(super) pool: sqlx::SqlitePool,
}

pub struct MySqlStore {
    pub(super) pool: sqlx::MySqlPool,
}

/// Maps a driver error: an unreachable database is a 503 for the client, the rest a 500.
pub(super) fn db_error(context: &str, e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Error::StorageUnavailable(format!("{context}: {e}")),
        other => Error::storage_caused(context.to_string(), other),
    }
}

fn parse_enum<T>(value: &str, parse: fn(&str) -> Result<T>) -> Result<T> {
    parse(value).map_err(|_| Error::storage(format!("unexpected value `{value}` in the database")))
}
