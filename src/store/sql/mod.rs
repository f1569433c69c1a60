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

use crate::error::Error;

/// The most rows one list returns.
pub(super) const MAX_TICKETS: u32 = 500;

pub struct SqliteStore {
    pub(super) pool: sqlx::SqlitePool,
}

pub struct MySqlStore {
    pub(super) pool: sqlx::MySqlPool,
}

/// Maps a driver error: an unreachable database is a 503 for the client, the rest a 500.
/// A column our own decoding refused (an enumeration column holding an unexpected value)
/// gives that decoding's storage error as is.
pub(super) fn db_error(context: &str, e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::ColumnDecode { index, source } => match source.downcast::<Error>() {
            Ok(ours) => *ours,
            Err(source) => Error::storage_caused(
                context.to_string(),
                sqlx::Error::ColumnDecode { index, source },
            ),
        },
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Error::StorageUnavailable(format!("{context}: {e}")),
        other => Error::storage_caused(context.to_string(), other),
    }
}
