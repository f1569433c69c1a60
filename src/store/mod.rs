//! Storage of customers, tickets and everything the pipeline produces: SQLite embedded by
//! default, MySQL / MariaDB in production, chosen by `DATABASE_URL`. Both run the same
//! schema (`migrations/`), applied at start, and pass the same test suite.
//!
//! Every value is bound, never formatted into SQL; a ticket and its history row are written
//! in one transaction, so a failure leaves nothing half-written.

mod sql;
pub mod types;

use std::sync::Arc;

use async_trait::async_trait;

pub use types::*;

use crate::error::{Error, Result};

/// What the API and the pipeline need from a database.
#[async_trait]
pub trait Store: Send + Sync {
    /// "sqlite" or "mysql".
    fn backend(&self) -> &'static str;
    /// A round trip to the database (health checks).
    async fn ping(&self) -> Result<()>;

    async fn create_customer(&self, customer: &NewCustomer) -> Result<Customer>;
    async fn customer(&self, id: i64) -> Result<Option<Customer>>;
    async fn customers(&self, limit: u32) -> Result<Vec<Customer>>;

    /// Creates a ticket and its first history row. With an idempotency key already used,
    /// returns the ticket created then (`created: false`) and writes nothing.
    async fn create_ticket(&self, ticket: &NewTicket, actor: &str) -> Result<(Ticket, bool)>;
    async fn ticket(&self, id: i64) -> Result<Option<Ticket>>;
    async fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>>;
    /// Changes a ticket's status (and its escalation reason, when given) and records who
    /// did it, atomically.
    async fn set_status(
        &self,
        id: i64,
        status: Status,
        escalation_reason: Option<&str>,
        actor: &str,
        note: Option<&str>,
    ) -> Result<Ticket>;
    async fn history(&self, ticket_id: i64) -> Result<Vec<HistoryEntry>>;

    // What the pipeline produced: each write is its own statement, hence its own
    // transaction, so one failing step never takes the others with it.
    async fn add_step(&self, ticket_id: i64, step: &StepRecord) -> Result<i64>;
    async fn add_extraction(&self, ticket_id: i64, record: &ExtractionRecord) -> Result<i64>;
    async fn add_rag_result(&self, ticket_id: i64, record: &RagRecord) -> Result<i64>;
    async fn add_response(&self, ticket_id: i64, record: &ResponseRecord) -> Result<i64>;
    async fn pipeline(&self, ticket_id: i64) -> Result<PipelineRows>;
}

/// Opens the database `url` points at (`sqlite://FILE` or `mysql://USER:PASS@HOST/DB`)
/// and applies the migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sql::SqliteStore::connect(url).await?))
    } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
        Ok(Arc::new(
            sql::MySqlStore::connect(&url.replacen("mariadb:", "mysql:", 1)).await?,
        ))
    } else {
        Err(Error::Config(format!(
            "DATABASE_URL must start with sqlite: or mysql: (got `{}`)",
            url.split(':').next().unwrap_or_default()
        )))
    }
}
