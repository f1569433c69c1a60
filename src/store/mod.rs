//! Storage of customers, tickets and everything the pipeline produces: SQLite embedded by
//! default, MySQL / MariaDB in production, chosen by `DATABASE_URL`. Both run the same
//! schema (`migrations/`), applied at start, and pass the same test suite.
//!
//! Every value is bound, never formatted into SQL; a ticket and its history row are written
//! in one transaction, so a failure leaves nothing half-written.

#[macro_use]
pub mod types;
mod connect;
pub mod records;
mod sql;

use std::sync::Arc;

use async_trait::async_trait;

pub mod limits;

pub use records::*;
pub use types::*;

use crate::error::{Error, Result};

/// What the API and the pipeline need from a database.
#[async_trait]
pub trait Store:
    CustomerStore
    + ConversationStore
    + DeviceStore
    + ReportStore
    + KeyStore
    + StalledStore
    + Send
    + Sync
{
    /// "sqlite" or "mysql".
    fn backend(&self) -> &'static str;
    /// A round trip to the database (health checks).
    async fn ping(&self) -> Result<()>;

    /// Creates a ticket and its first history row. With an idempotency key already used for
    /// the same request, returns the ticket created then (`created: false`) and writes
    /// nothing; used for another request, `Error::IdempotencyKeyReused`.
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

/// Who files tickets.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    async fn create_customer(&self, customer: &NewCustomer) -> Result<Customer>;
    async fn customer(&self, id: i64) -> Result<Option<Customer>>;
    async fn customers(&self, limit: u32) -> Result<Vec<Customer>>;
}

/// Messages, predictions and what agents do on a ticket.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Stores a message on a ticket. With an idempotency key already used for the same
    /// request, returns the message stored then (`false`) and writes nothing; used for
    /// another request, `Error::IdempotencyKeyReused`.
    async fn add_message(&self, message: &NewMessage) -> Result<(Message, bool)>;
    /// The message stored under this key, as `add_message` would answer a retry.
    async fn message_by_key(&self, key: &IdempotencyKey) -> Result<Option<Message>>;
    async fn messages(&self, ticket_id: i64) -> Result<Vec<Message>>;
    /// Inbound messages nobody has handled yet, oldest first.
    async fn unprocessed_messages(&self, limit: u32) -> Result<Vec<Message>>;
    /// Marks a ticket's messages handled; returns how many changed.
    async fn mark_processed(&self, ticket_id: i64) -> Result<u64>;
    /// Marks one message handled (the one the pipeline read; others that arrived meanwhile
    /// still wait for a person).
    async fn mark_message_processed(&self, message_id: i64) -> Result<()>;
    /// An agent's reply, in one transaction: the response, the outbound message, the
    /// ticket's messages handled, the new status and its history row.
    async fn record_agent_reply(
        &self,
        ticket_id: i64,
        response: &ResponseRecord,
        message: &NewMessage,
        status: Status,
        actor: &str,
    ) -> Result<Ticket>;
    /// A customer's tickets that are not closed, newest first.
    async fn open_tickets(&self, customer_id: i64, limit: u32) -> Result<Vec<Ticket>>;
    async fn add_prediction(&self, ticket_id: i64, prediction: &PredictionRecord) -> Result<i64>;
    async fn predictions(&self, ticket_id: i64) -> Result<Vec<Stored<PredictionRecord>>>;
    /// Sets what classification found: category and priority (when given), the retention
    /// flag, and the device when the ticket has none.
    async fn classify_ticket(
        &self,
        id: i64,
        category: Option<&str>,
        priority: Option<Priority>,
        retention_flag: bool,
        device_id: Option<i64>,
    ) -> Result<()>;
    /// Replies that confirmed KB entries, oldest first, with their ticket's first customer
    /// message: agents' replies citing entries (drafts excepted) and automatic replies
    /// the customer marked helpful. At most `limit`.
    async fn confirmed_replies(&self, limit: u32) -> Result<Vec<ConfirmedReply>>;
    /// Records feedback on the ticket's latest automatic reply; `None` when it has none.
    async fn set_feedback(
        &self,
        ticket_id: i64,
        helpful: bool,
        comment: Option<&str>,
    ) -> Result<Option<i64>>;
}

/// Customers' devices, and the catalogue and KB rows results point to.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    async fn create_device(&self, device: &NewDevice) -> Result<Device>;
    async fn device(&self, id: i64) -> Result<Option<Device>>;
    async fn devices(&self, customer_id: i64) -> Result<Vec<Device>>;
    /// Brings `printer_models` in line with the catalogue (insert or update by name).
    async fn sync_catalogue(&self, models: &[CatalogueModel]) -> Result<()>;
    /// Records the entries of an index generation (insert or update by id).
    async fn sync_kb_entries(&self, entries: &[KbEntryRow], generation: &str) -> Result<()>;
    async fn kb_entry_count(&self, generation: &str) -> Result<i64>;
}

/// Tickets whose pipeline or classification did not finish, claimed one server at a time.
#[async_trait]
pub trait StalledStore: Send + Sync {
    /// Tickets still `new` more than `idle_secs` after their creation, whose lease (if
    /// any) has run out, oldest first.
    async fn stalled_tickets(&self, idle_secs: u64, limit: u32) -> Result<Vec<Ticket>>;
    /// Takes the lease on a stalled ticket for `lease_secs`; false when it is no longer
    /// stalled or another server holds it.
    async fn claim_stalled(&self, id: i64, idle_secs: u64, lease_secs: u64) -> Result<bool>;
    /// Takes the lease on a `new` ticket whatever its age, for the server about to run its
    /// pipeline (the one that stored it, or one answering a retry); false when the ticket
    /// is no longer `new` or another server holds the lease.
    async fn claim_pipeline(&self, id: i64, lease_secs: u64) -> Result<bool>;
    /// Settled tickets of the last week with no classification step (their classification
    /// waited for the classifier and did not end), created more than `idle_secs` ago,
    /// whose lease has run out, oldest first.
    async fn unclassified_tickets(&self, idle_secs: u64, limit: u32) -> Result<Vec<Ticket>>;
    /// Takes the lease on an unclassified ticket for `lease_secs`; false when it has been
    /// classified meanwhile or another server holds it.
    async fn claim_unclassified(&self, id: i64, lease_secs: u64) -> Result<bool>;
    /// Writes a classification made after the ticket settled, all of it or nothing, unless
    /// the ticket already has a classification step (another server, or a sweep, wrote
    /// one first): false then, and nothing is written.
    async fn record_late_classification(
        &self,
        ticket_id: i64,
        late: &LateClassification,
    ) -> Result<bool>;
}

/// API keys (their hashes) and what each may do.
#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn create_key(&self, key: &NewApiKey) -> Result<ApiKey>;
    /// Every key, revoked ones included, oldest first.
    async fn keys(&self) -> Result<Vec<ApiKey>>;
    /// Marks a key revoked; `None` when no key that is not already revoked has this id.
    async fn revoke_key(&self, id: i64) -> Result<Option<ApiKey>>;
}

/// The figures support staff read.
#[async_trait]
pub trait ReportStore: Send + Sync {
    async fn ticket_stats(&self) -> Result<TicketStats>;
    /// Each ticket created since `since_day` (YYYY-MM-DD, UTC) with its outcome.
    async fn ticket_outcomes(&self, since_day: &str) -> Result<Vec<TicketOutcome>>;
    /// Replaces the `automation_metrics` rows of these days.
    async fn put_daily_metrics(&self, days: &[DailyMetrics]) -> Result<()>;
    async fn daily_metrics(&self, since_day: &str) -> Result<Vec<DailyMetrics>>;
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
