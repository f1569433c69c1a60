//! The bodies the HTTP layer assembles itself (lists, probes, the earlier project's
//! aliases), as types: the handlers serialise them and the OpenAPI document describes
//! them, so the two cannot differ.

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ValidationError;
use crate::service::tickets::Customer;

/// Every 4xx and 5xx answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code: `invalid_request`, `unprocessable`, `not_found`, `unauthorized`,
    /// `forbidden`, `rate_limited`, `conflict`, `idempotency_key_reused`, `kb_invalid`,
    /// `payload_too_large`, `overloaded`, `timeout`, `not_ready`, `database_unavailable`,
    /// `internal`.
    pub error: String,
    /// What went wrong, for a person; for a 5xx it holds nothing internal.
    pub detail: String,
    /// The field, parameter or header at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `kb_invalid`: every problem found in the KB files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ValidationError>>,
}

/// `GET /livez`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Alive {
    /// Always `alive`.
    pub status: &'static str,
}

/// `GET /readyz`: 200 when ready, 503 with the same shape when not.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// The index generation in service.
    pub generation: String,
    /// `unreachable` when the ticket database does not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
}

/// `GET /`: what this server is and serves.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceInfo {
    pub service: &'static str,
    pub version: &'static str,
    pub generation: String,
    pub entries: usize,
    pub embedding_model: String,
    /// `embedded` or `qdrant`.
    pub vector_store: &'static str,
    /// The LLM model that rewrites replies, when one is configured.
    pub llm: Option<String>,
    /// Counts of the small-talk replies answered without the pipeline.
    #[schema(value_type = Object)]
    pub smart_replies: serde_json::Value,
    /// `METHOD /path` of every route; `/openapi.json` describes them.
    pub endpoints: Vec<String>,
}

/// One printer model of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    /// The canonical name the extractor and the search filter use.
    pub model_name: String,
    pub manufacturer: String,
    pub name: String,
    pub series: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub aliases: Vec<String>,
    /// KB entries that name the model.
    pub kb_entries: usize,
}

/// `GET /models`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelInfo>,
    pub count: usize,
}

/// A customer in this API's field names and the earlier project's.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    #[serde(flatten)]
    pub customer: Customer,
    pub company_name: Option<String>,
    pub contact_name: String,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    /// On creation, as the earlier project answered: the new id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<i64>,
    /// On creation: `created`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

impl CustomerView {
    pub fn new(customer: Customer) -> CustomerView {
        CustomerView {
            company_name: customer.company.clone(),
            contact_name: customer.name.clone(),
            contact_email: customer.email.clone(),
            contact_phone: customer.phone.clone(),
            customer,
            customer_id: None,
            status: None,
        }
    }

    /// What `POST /customers` answers.
    pub fn created(customer: Customer) -> CustomerView {
        let id = customer.id;
        CustomerView {
            customer_id: Some(id),
            status: Some("created"),
            ..CustomerView::new(customer)
        }
    }
}

/// `GET /customers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerList {
    pub customers: Vec<CustomerView>,
    pub count: usize,
}

/// `POST /extractions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtractionRecorded {
    pub extraction_id: i64,
    pub ticket_id: i64,
    /// `recorded`, as the earlier project answered.
    pub status: &'static str,
}

/// A list and its length, as every list endpoint answers.
macro_rules! list_body {
    ($(#[$meta:meta])* $name:ident, $field:ident: $item:ty) => {
        $(#[$meta])*
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub $field: Vec<$item>,
            pub count: usize,
        }

        impl From<Vec<$item>> for $name {
            fn from($field: Vec<$item>) -> $name {
                $name { count: $field.len(), $field }
            }
        }
    };
}

list_body!(
    /// `GET /tickets`.
    TicketList, tickets: crate::service::tickets::Ticket
);
list_body!(
    /// `GET /messages/unprocessed`.
    MessageList, messages: crate::service::tickets::Message
);
list_body!(
    /// `GET /customers/{id}/devices`.
    DeviceList, devices: crate::service::tickets::Device
);
