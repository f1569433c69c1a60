//! Rows of the conversation (messages), the customers' devices, the classifier's
//! predictions and the figures support staff read (stats).

use serde::{Deserialize, Serialize};

use super::types::{Channel, IdempotencyKey, JsonText, Priority, ResponderKind, StepRecord};
use crate::error::{Error, Result};

string_enum!(Direction, "direction" { Inbound = "inbound", Outbound = "outbound" });

#[derive(Debug, Clone)]
pub struct NewDevice {
    pub customer_id: i64,
    /// Canonical catalogue name ("Lexmark C750"), linked to `printer_models` when known.
    pub model: Option<String>,
    pub serial: Option<String>,
    pub location: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Device {
    pub id: i64,
    pub customer_id: i64,
    /// The catalogue's name when the model is known, else the name given.
    pub model: Option<String>,
    pub manufacturer: Option<String>,
    pub serial: Option<String>,
    pub location: Option<String>,
    pub created_at: String,
}

/// A model of the catalogue, as `printer_models` holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueModel {
    pub canonical: String,
    pub manufacturer: String,
    pub name: String,
    pub series: Option<String>,
    pub kind: Option<String>,
}

/// A KB entry as results point to it.
#[derive(Debug, Clone, PartialEq)]
pub struct KbEntryRow {
    pub id: String,
    pub title: String,
    pub content_hash: String,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub ticket_id: i64,
    pub customer_id: Option<i64>,
    pub direction: Direction,
    pub channel: Channel,
    pub subject: Option<String>,
    pub body: String,
    pub transcription: Option<String>,
    /// Outbound messages and messages the pipeline handled are born processed.
    pub processed: bool,
    pub idempotency: Option<IdempotencyKey>,
    /// Metadata of the files that came with it (the files stay where they are).
    pub attachments: Vec<NewAttachment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAttachment {
    pub filename: String,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<i64>,
    /// Hex SHA-256 of the content, 64 characters.
    #[serde(default)]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Attachment {
    pub id: i64,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub meta: NewAttachment,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Message {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub direction: Direction,
    pub channel: Channel,
    pub subject: Option<String>,
    pub body: String,
    pub transcription: Option<String>,
    pub processed: bool,
    /// Read apart (`attachments` table).
    #[sqlx(skip)]
    pub attachments: Vec<Attachment>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PredictionRecord {
    /// category, priority, intent or churn_risk.
    pub task: String,
    pub label: String,
    pub confidence: f64,
    /// The churn risk, 0-100, for that task.
    pub score: Option<f64>,
    pub model: String,
    pub version: String,
}

/// A classification made after its ticket settled, written at once: the step, the
/// predictions and what it sets on the ticket (category, priority when given, retention).
#[derive(Debug, Clone, PartialEq)]
pub struct LateClassification {
    pub step: StepRecord,
    pub predictions: Vec<PredictionRecord>,
    pub category: Option<String>,
    pub priority: Option<Priority>,
    pub retention_flag: bool,
}

/// Ticket counts, each list sorted by count then name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TicketStats {
    pub total: i64,
    pub by_status: Vec<Count>,
    pub by_priority: Vec<Count>,
    pub by_category: Vec<Count>,
    pub by_model: Vec<Count>,
    pub retention_flagged: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Count {
    /// `null` groups tickets without a value (no category yet, no known model).
    pub value: Option<String>,
    #[sqlx(rename = "n")]
    pub count: i64,
}

/// One ticket's outcome for the daily pipeline figures.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TicketOutcome {
    /// YYYY-MM-DD, UTC.
    pub day: String,
    pub auto_resolved: bool,
    pub escalated: bool,
    /// Why it was escalated (`low_confidence`, `out_of_scope`, ...).
    pub escalation_reason: Option<String>,
    /// The customer's feedback on its automatic reply: 1 helpful, 0 not, none given.
    pub helpful: Option<i64>,
    /// Sum of its processing steps.
    pub processing_ms: f64,
}

/// A day of `automation_metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DailyMetrics {
    pub day: String,
    pub tickets: i64,
    pub auto_resolved: i64,
    pub escalated: i64,
    pub mean_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// A reply that confirmed KB entries for a ticket (an agent's reply citing them, an
/// automatic reply the customer found helpful) or showed that they did not answer it (an
/// automatic reply found unhelpful), with the ticket's first customer message.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ConfirmedReply {
    pub ticket_id: i64,
    pub response_id: i64,
    pub responder: ResponderKind,
    /// The entries cited (a JSON array of ids).
    #[sqlx(try_from = "JsonText")]
    pub citations: serde_json::Value,
    /// The customer's feedback on an automatic reply: 1 helpful, 0 not (an agent's: none).
    pub helpful: Option<i64>,
    /// For an automatic reply found unhelpful, what the ticket's retrieval found before
    /// it (its stored `results`): each entry's version, against which the mark holds.
    /// Empty (`[]`) for the other replies, which need none.
    #[sqlx(try_from = "JsonText")]
    pub retrieved: serde_json::Value,
    pub subject: Option<String>,
    pub body: String,
    pub transcription: Option<String>,
}
