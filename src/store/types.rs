//! Rows and the enumerations the schema constrains, with their allowed values for error
//! messages ("status must be one of new, open, ...").

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
                    other => Err(Error::Unprocessable {
                        field: $field.into(),
                        message: format!(
                            "`{other}` is not one of {}",
                            [$($text),+].join(", ")
                        ),
                    }),
                }
            }
        }
    };
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

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewCustomer {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
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
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ticket {
    pub id: i64,
    pub customer_id: i64,
    pub device_id: Option<i64>,
    pub subject: String,
    pub description: String,
    pub channel: Channel,
    pub category: Option<String>,
    pub priority: Priority,
    pub status: Status,
    pub escalation_reason: Option<String>,
    pub retention_flag: bool,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub category: Option<String>,
    /// 1..=500.
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub ticket_id: i64,
    pub from_status: Option<Status>,
    pub to_status: Status,
    pub actor: String,
    pub note: Option<String>,
    pub created_at: String,
}
