//! Rows and the enumerations the schema constrains, with their allowed values for error
//! messages ("status must be one of new, open, ...").

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a value, or says which values are allowed (a 422 for clients).
            pub fn parse(value: &str) -> Result<$name> {
                match value {
                    $($text => Ok($name::$variant),)+
                    other => Err(Error::Rejected {
                        field: $field.into(),
                        message: format!(
                            "`{other}` is not one of {}",
                            [$($text),+].join(", ")
                        ),
                    }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;

            /// A value read from a column; one outside the enumeration fails the read, as a
            /// broken row should, with a storage error (not the client's 422 of `parse`).
            fn try_from(value: String) -> Result<$name> {
                $name::parse(&value).map_err(|_| {
                    Error::storage(format!("unexpected value `{value}` in the database"))
                })
            }
        }

        /// Stored as text: a field of this type (or an `Option` of it, for a nullable
        /// column) is read by `FromRow` as is.
        impl<DB: ::sqlx::Database> ::sqlx::Type<DB> for $name
        where
            String: ::sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as ::sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as ::sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: ::sqlx::Database> ::sqlx::Decode<'r, DB> for $name
        where
            String: ::sqlx::Decode<'r, DB>,
        {
            /// The text, then `try_from`: the driver hands our storage error back as the
            /// cause of its `ColumnDecode`, which `db_error` returns as is.
            fn decode(
                value: <DB as ::sqlx::Database>::ValueRef<'r>,
            ) -> std::result::Result<$name, ::sqlx::error::BoxDynError> {
                let text = <String as ::sqlx::Decode<'r, DB>>::decode(value)?;
                Ok($name::try_from(text)?)
            }
        }
    };
}

/// A JSON column read as text (the dialect's `json(..)` fragment), for `FromRow`'s
/// `try_from = "JsonText"`. The value is parsed leniently: text that is not JSON reads
/// as `null` rather than failing the row.
#[derive(sqlx::Type)]
#[sqlx(transparent, no_pg_array)]
pub(crate) struct JsonText(String);

impl From<JsonText> for serde_json::Value {
    fn from(text: JsonText) -> serde_json::Value {
        serde_json::from_str(&text.0).unwrap_or(serde_json::Value::Null)
    }
}

string_enum!(
    /// Where a message came from.
    Channel, "channel" { Email = "email", Sms = "sms", Call = "call", Chat = "chat", Webhook = "webhook" }
);
string_enum!(Priority, "priority" { Low = "low", Medium = "medium", High = "high", Critical = "critical" });
string_enum!(
    Status, "status" {
        New = "new", Open = "open", InProgress = "in_progress", AutoResolved = "auto_resolved",
        Escalated = "escalated", Answered = "answered", Closed = "closed",
    }
);

string_enum!(
    /// How a pipeline step ended.
    StepStatus, "status" { Ok = "ok", Failed = "failed", Skipped = "skipped" }
);
string_enum!(
    /// Who a stored reply is from: the pipeline or a support agent.
    ResponderKind, "responder" { Auto = "auto", Agent = "agent" }
);
string_enum!(
    /// Where a stored reply is on its way to the customer (a draft waits for an agent).
    SendStatus, "send_status" { Draft = "draft", Pending = "pending", Sent = "sent", Failed = "failed" }
);

string_enum!(
    /// What an API key may do. Each role includes the ones below it: an admin key works
    /// wherever a staff key does, and a staff key wherever an intake key does.
    Role, "role" { Intake = "intake", Staff = "staff", Admin = "admin" }
);

impl Role {
    /// Whether a key of this role may call a route that needs `needed`.
    pub fn grants(self, needed: Role) -> bool {
        self.rank() >= needed.rank()
    }

    fn rank(self) -> u8 {
        match self {
            Role::Intake => 0,
            Role::Staff => 1,
            Role::Admin => 2,
        }
    }
}

/// An API key as stored: its SHA-256 (hex), never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub role: Role,
    #[serde(skip)]
    pub key_hash: String,
    /// The key's first characters, to recognise it in a list.
    pub key_prefix: String,
    /// The channel every ticket filed with this (intake) key gets.
    pub channel: Option<String>,
    /// The customer every ticket filed with this (intake) key belongs to.
    pub customer_id: Option<i64>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub role: Role,
    pub key_hash: String,
    pub key_prefix: String,
    pub channel: Option<Channel>,
    pub customer_id: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewCustomer {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub address: Option<String>,
}

/// Read with `FromRow`: the columns are the fields.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub address: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct NewTicket {
    pub customer_id: i64,
    pub device_id: Option<i64>,
    pub subject: String,
    pub description: String,
    pub channel: Channel,
    pub priority: Priority,
    /// The client chose `priority`: classification keeps it.
    pub priority_given: bool,
    pub idempotency: Option<IdempotencyKey>,
}

/// A client's `Idempotency-Key` with the digest of the request it came with. A row keeps
/// both: the same key with the same request is a retry (answered with that row), with
/// another request a conflict. Keys are compared byte for byte on both databases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    /// SHA-256 (hex) of the request's canonical JSON.
    pub request_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Ticket {
    pub id: i64,
    pub customer_id: i64,
    pub device_id: Option<i64>,
    pub subject: String,
    pub description: String,
    pub channel: Channel,
    pub category: Option<String>,
    pub priority: Priority,
    /// The client chose the priority (classification keeps it); otherwise it is the
    /// classifier's, or `medium` until the ticket is classified. Tickets stored before
    /// this was recorded count as chosen: their priority is kept as it is.
    pub priority_given: bool,
    pub status: Status,
    pub escalation_reason: Option<String>,
    pub retention_flag: bool,
    /// The printer model: the device's, else the one the extractor read last.
    pub model: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

/// The order of a list of tickets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TicketOrder {
    /// The newest first (the API's lists).
    #[default]
    Newest,
    /// The work queue's order: escalated tickets first, then those still waiting for
    /// someone (both the most urgent first, then the oldest), then the handled ones,
    /// newest first.
    Queue,
}

impl TicketOrder {
    pub fn parse(value: &str) -> Result<TicketOrder> {
        match value {
            "newest" => Ok(TicketOrder::Newest),
            "queue" => Ok(TicketOrder::Queue),
            other => Err(Error::Rejected {
                field: "order".into(),
                message: format!("`{other}` is not one of newest, queue"),
            }),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub category: Option<String>,
    /// The ticket's model (as `Ticket::model` reads it), exactly.
    pub model: Option<String>,
    pub retention_flag: Option<bool>,
    pub order: TicketOrder,
    /// 1..=500.
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub id: i64,
    pub ticket_id: i64,
    pub from_status: Option<Status>,
    pub to_status: Status,
    pub actor: String,
    pub note: Option<String>,
    pub created_at: String,
}

/// One pipeline step, as `processing_steps` records it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct StepRecord {
    pub step: String,
    pub status: StepStatus,
    pub duration_ms: f64,
    pub error: Option<String>,
}

/// The JSON columns are read leniently (`JsonText`), as are those of the records below.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ExtractionRecord {
    /// "devicekb", or the external extractor's name.
    pub source: String,
    /// The message it was read from, when an external extractor says so.
    pub message_id: Option<i64>,
    pub model: Option<String>,
    pub manufacturer: Option<String>,
    #[sqlx(try_from = "JsonText")]
    pub error_codes: serde_json::Value,
    pub serial: Option<String>,
    #[sqlx(try_from = "JsonText")]
    pub entities: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RagRecord {
    pub query: String,
    pub mode: String,
    pub generation: String,
    /// Ranked [{kb_id, relevance, bm25_rank, vector_rank}].
    #[sqlx(try_from = "JsonText")]
    pub results: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ResponseRecord {
    pub responder: ResponderKind,
    pub author: Option<String>,
    pub body: String,
    #[sqlx(try_from = "JsonText")]
    pub citations: serde_json::Value,
    pub confidence: Option<f64>,
    pub send_status: SendStatus,
    pub llm_model: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub latency_ms: Option<i64>,
}

/// What the pipeline stored for a ticket, each row with its id and time.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct PipelineRows {
    pub extractions: Vec<Stored<ExtractionRecord>>,
    pub rag_result: Option<Stored<RagRecord>>,
    pub responses: Vec<Stored<ResponseRecord>>,
    pub steps: Vec<Stored<StepRecord>>,
}

/// Read with `FromRow`: `id`, `created_at` and the record's own columns, all in one row.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Stored<T> {
    pub id: i64,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub record: T,
    pub created_at: String,
}
