//! Customers and tickets: validation, the ticket pipeline, status changes. Handlers parse,
//! call these, map errors.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::pipeline::PipelineJob;
use super::Desk;
use crate::answer::{Citation, Decision};
use crate::error::{Error, Result};
/// The ticket categories the classifier gives, for the layers above.
pub use crate::kb::training::CATEGORIES;
use crate::store::limits;
use crate::store::{
    Channel, HistoryEntry, IdempotencyKey, NewCustomer, NewMessage, NewTicket, PipelineRows,
    PredictionRecord, Stored, TicketFilter, TicketOrder,
};
/// Customers, tickets and their records as the store reads them, for the layers above.
pub use crate::store::{
    Customer, Device, Direction, Message, Priority, ResponderKind, SendStatus, Status, Ticket,
};

pub const MAX_SUBJECT_CHARS: usize = 500;
pub const MAX_LIST: u32 = 500;

/// A new customer, in this API's field names or the earlier project's (`company_name`
/// required there, `contact_name`, `contact_email`, `contact_phone`, `address`), whose
/// clients keep working unchanged. A customer is named by its contact, else its company.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    /// The contact's name; the customer is named by it, else by its company.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    /// The earlier project's name for `name`.
    #[serde(default)]
    pub contact_name: Option<String>,
    /// The earlier project's name for `email`.
    #[serde(default)]
    pub contact_email: Option<String>,
    /// The earlier project's name for `phone`.
    #[serde(default)]
    pub contact_phone: Option<String>,
    /// The earlier project's name for `company`.
    #[serde(default)]
    pub company_name: Option<String>,
}

/// A field given under its name or under the earlier project's: one of them, or both
/// with the same value.
pub(crate) fn either_name(
    field: &str,
    value: Option<String>,
    earlier: &str,
    earlier_value: Option<String>,
) -> Result<Option<String>> {
    match (optional_text(value), optional_text(earlier_value)) {
        (Some(a), Some(b)) if a != b => Err(Error::rejected(
            earlier,
            format!("differs from `{field}`; give one of the two"),
        )),
        (a, b) => Ok(a.or(b)),
    }
}

/// Serialize gives the canonical form an `Idempotency-Key`'s request digest is taken of.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicket {
    pub customer_id: i64,
    #[serde(default)]
    pub device_id: Option<i64>,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
}

/// What `POST /tickets` answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketCreated {
    pub ticket_id: i64,
    pub status: Status,
    /// False when an `Idempotency-Key` already created this ticket.
    pub created: bool,
    pub decision: Option<Decision>,
    pub reason: Option<String>,
    pub confidence: Option<f32>,
    pub reply: Option<String>,
    pub citations: Vec<Citation>,
    /// What classification found: absent when the KB has no labelled tickets, or while
    /// `classification_pending`.
    pub category: Option<String>,
    pub priority: Priority,
    pub churn_risk: Option<u8>,
    pub retention_flag: bool,
    /// The ticket's classification is not recorded yet: it was answered before the
    /// classifier was trained (a server's first seconds) and is classified in the
    /// background, or, for a retried submission, its pipeline is still under way. Its
    /// category, priority (unless given), churn risk and retention flag are then read
    /// with `GET /tickets/{id}`; `priority` and `retention_flag` here are not the
    /// classifier's yet.
    pub classification_pending: bool,
}

impl TicketCreated {
    /// The answer to a retried submission: the ticket as it stands, nothing re-run;
    /// `classification_pending` when no classification is recorded for it yet.
    pub fn existing(ticket: Ticket, classification_pending: bool) -> TicketCreated {
        TicketCreated {
            ticket_id: ticket.id,
            status: ticket.status,
            created: false,
            decision: None,
            reason: ticket.escalation_reason,
            confidence: None,
            reply: None,
            citations: Vec::new(),
            category: ticket.category,
            priority: ticket.priority,
            churn_risk: None,
            retention_flag: ticket.retention_flag,
            classification_pending,
        }
    }
}

/// A list of tickets as a client asks for it: each filter as given (checked here, so the
/// API and the workspace refuse the same values the same way).
#[derive(Debug, Clone, Default)]
pub struct TicketQuery {
    pub status: Option<String>,
    pub priority: Option<String>,
    pub category: Option<String>,
    pub model: Option<String>,
    /// `true` or `false`.
    pub retention_flag: Option<String>,
    /// `newest` (default) or `queue`.
    pub order: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketDetails {
    pub ticket: Ticket,
    pub device: Option<Device>,
    pub messages: Vec<Message>,
    pub predictions: Vec<Stored<PredictionRecord>>,
    pub history: Vec<HistoryEntry>,
    /// extractions, rag_result, responses, steps.
    #[serde(flatten)]
    pub pipeline: PipelineRows,
}

fn optional_text(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Desk {
    pub async fn create_customer(&self, request: CreateCustomer) -> Result<Customer> {
        let company = either_name(
            "company",
            request.company,
            "company_name",
            request.company_name,
        )?;
        let name = either_name("name", request.name, "contact_name", request.contact_name)?;
        let Some(name) = name.or_else(|| company.clone()) else {
            return Err(Error::rejected(
                "name",
                "must not be empty (or give company_name)",
            ));
        };
        check_length("name", Some(&name), limits::CUSTOMER_NAME)?;
        let email = either_name(
            "email",
            request.email,
            "contact_email",
            request.contact_email,
        )?;
        if email
            .as_ref()
            .is_some_and(|e| !e.contains('@') || e.chars().count() > limits::CUSTOMER_EMAIL)
        {
            return Err(Error::rejected("email", "is not an e-mail address"));
        }
        let phone = either_name(
            "phone",
            request.phone,
            "contact_phone",
            request.contact_phone,
        )?;
        let address = optional_text(request.address);
        check_length("phone", phone.as_deref(), limits::CUSTOMER_PHONE)?;
        check_length("company", company.as_deref(), limits::CUSTOMER_COMPANY)?;
        check_length("address", address.as_deref(), limits::CUSTOMER_ADDRESS)?;
        self.store()?
            .create_customer(&NewCustomer {
                name,
                email,
                phone,
                company,
                address,
            })
            .await
    }

    pub async fn customers(&self, limit: Option<u32>) -> Result<Vec<Customer>> {
        self.store()?.customers(list_limit(limit)?).await
    }

    /// Stores the ticket, runs the pipeline on it (extraction, retrieval, decision, reply)
    /// and records the outcome. A failing pipeline step escalates the ticket, never loses it.
    /// `actor` is who filed it, as its first history row says (e.g. `key:web-form`).
    pub async fn create_ticket(
        self: &Arc<Self>,
        request: CreateTicket,
        idempotency_key: Option<String>,
        actor: &str,
    ) -> Result<TicketCreated> {
        let idempotency = idempotency_of(idempotency_key, &request)?;
        let subject = request.subject.trim().to_string();
        let description = request.description.trim().to_string();
        if subject.is_empty() && description.is_empty() {
            return Err(Error::rejected(
                "subject",
                "subject and description are both empty",
            ));
        }
        if subject.chars().count() > MAX_SUBJECT_CHARS {
            return Err(Error::rejected(
                "subject",
                format!("is longer than {MAX_SUBJECT_CHARS} characters"),
            ));
        }
        let priority_given = request.priority.is_some();
        let priority = request
            .priority
            .as_deref()
            .map(Priority::parse)
            .transpose()?
            .unwrap_or(Priority::Medium);
        let channel = request
            .channel
            .as_deref()
            .map(Channel::parse)
            .transpose()?
            .unwrap_or(Channel::Email);
        let store = self.store()?;
        let ingestion = std::time::Instant::now();
        let (ticket, created) = store
            .create_ticket(
                &NewTicket {
                    customer_id: request.customer_id,
                    device_id: request.device_id,
                    subject: subject.clone(),
                    description: description.clone(),
                    channel,
                    priority,
                    priority_given,
                    idempotency: idempotency.clone(),
                },
                actor,
            )
            .await?;
        if !created && ticket.customer_id != request.customer_id {
            // Only a ticket stored before request digests gets here (another customer's
            // request has another digest): its key still answers no one else.
            return Err(Error::IdempotencyKeyReused {
                key: idempotency.map(|k| k.key).unwrap_or_default(),
            });
        }
        if !created {
            let first = store.messages(ticket.id).await?.first().map(|m| m.id);
            if let Some(resumed) = self.resume_if_stalled(&store, &ticket, first).await? {
                return Ok(resumed);
            }
            // The pipeline records its classification step before the ticket's fields
            // and settles the ticket last: while it is `new` (its pipeline under way,
            // not stalled), its classification is still to come.
            if ticket.status == Status::New {
                return Ok(TicketCreated::existing(ticket, true));
            }
            // Steps first, then the ticket as it stands after them: a classification
            // written meanwhile shows in both or in the ticket alone, never in the steps
            // alone.
            let steps = store.pipeline(ticket.id).await?.steps;
            let classified = steps
                .iter()
                .any(|s| s.record.step == super::classification::CLASSIFICATION_STEP);
            let ticket = store.ticket(ticket.id).await?.unwrap_or(ticket);
            return Ok(TicketCreated::existing(ticket, !classified));
        }
        if !self.hold_new_ticket(&store, ticket.id).await? {
            // A retry took the pipeline first: it runs there, classification included.
            return Ok(TicketCreated::existing(ticket, true));
        }
        let (message, _) = store.add_message(&first_message(&ticket)).await?;
        let ingestion_ms = crate::service::elapsed_ms(ingestion);
        let text = crate::kb::training::ticket_text(&subject, &description);
        let job = PipelineJob {
            ticket,
            text,
            ingestion_ms,
            priority_given,
            client_waiting: true,
            message_id: Some(message.id),
        };
        self.run_pipeline_detached(store, job).await
    }

    pub async fn ticket_details(&self, id: i64) -> Result<TicketDetails> {
        let store = self.store()?;
        let ticket = store.ticket(id).await?.ok_or_else(|| Error::NotFound {
            what: "ticket".into(),
            id: id.to_string(),
        })?;
        let history = store.history(id).await?;
        let pipeline = store.pipeline(id).await?;
        let device = match ticket.device_id {
            Some(device) => store.device(device).await?,
            None => None,
        };
        Ok(TicketDetails {
            device,
            messages: store.messages(id).await?,
            predictions: store.predictions(id).await?,
            ticket,
            history,
            pipeline,
        })
    }

    pub async fn tickets(&self, query: &TicketQuery) -> Result<Vec<Ticket>> {
        if let Some(c) = query
            .category
            .as_deref()
            .filter(|c| !crate::kb::training::CATEGORIES.contains(c))
        {
            return Err(Error::Rejected {
                field: "category".into(),
                message: format!(
                    "`{c}` is not one of {}",
                    crate::kb::training::CATEGORIES.join(", ")
                ),
            });
        }
        let retention_flag = match query.retention_flag.as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                return Err(Error::rejected(
                    "retention_flag",
                    format!("`{other}` is not one of true, false"),
                ))
            }
        };
        check_length("model", query.model.as_deref(), limits::MODEL_NAME)?;
        let filter = TicketFilter {
            status: query.status.as_deref().map(Status::parse).transpose()?,
            priority: query.priority.as_deref().map(Priority::parse).transpose()?,
            category: query.category.clone(),
            model: query.model.clone(),
            retention_flag,
            order: query
                .order
                .as_deref()
                .map(TicketOrder::parse)
                .transpose()?
                .unwrap_or_default(),
            limit: list_limit(query.limit)?,
        };
        self.store()?.tickets(&filter).await
    }

    /// An agent's status change, recorded in the history.
    pub async fn set_ticket_status(
        &self,
        id: i64,
        status: &str,
        actor: &str,
        note: Option<&str>,
    ) -> Result<Ticket> {
        let status = Status::parse(status)?;
        check_length("actor", Some(actor), limits::ACTOR)?;
        check_length("note", note, limits::NOTE)?;
        self.store()?
            .set_status(id, status, None, actor, note)
            .await
    }

    /// An agent hands a ticket to a technician because the KB has no answer: escalated
    /// with reason `ESCALATED_BY_AGENT`, so the figures count it with the pipeline's
    /// escalations.
    pub async fn escalate_ticket(
        &self,
        id: i64,
        actor: &str,
        note: Option<&str>,
    ) -> Result<Ticket> {
        check_length("actor", Some(actor), limits::ACTOR)?;
        check_length("note", note, limits::NOTE)?;
        self.store()?
            .set_status(id, Status::Escalated, Some(ESCALATED_BY_AGENT), actor, note)
            .await
    }
}

/// The escalation reason of a ticket an agent escalated (the pipeline's are the decision's
/// reasons: `low_confidence`, `out_of_scope`, ...).
pub const ESCALATED_BY_AGENT: &str = "no_kb_answer";

/// The customer's first message of a ticket: its description (or its subject alone).
pub(super) fn first_message(ticket: &Ticket) -> NewMessage {
    NewMessage {
        ticket_id: ticket.id,
        customer_id: Some(ticket.customer_id),
        direction: Direction::Inbound,
        channel: ticket.channel,
        subject: Some(ticket.subject.clone()).filter(|s| !s.is_empty()),
        body: if ticket.description.is_empty() {
            ticket.subject.clone()
        } else {
            ticket.description.clone()
        },
        transcription: None,
        processed: false,
        idempotency: None,
        attachments: Vec::new(),
    }
}

/// Longest `Idempotency-Key`: the column holds 191 characters (the longest indexable key
/// in MySQL) and a message's ticket carries the key with a `message:` prefix.
pub const MAX_IDEMPOTENCY_KEY: usize = 180;
/// The prefix of the keys the service gives tickets opened by a message.
pub(crate) const MESSAGE_KEY_PREFIX: &str = "message:";

/// A request's `Idempotency-Key`, checked, with the digest of the request: what the store
/// keeps to tell a retry (same request) from a key reused for another request.
pub(crate) fn idempotency_of(
    key: Option<String>,
    request: &impl Serialize,
) -> Result<Option<IdempotencyKey>> {
    check_idempotency_key(key.as_deref())?;
    key.map(|key| {
        Ok(IdempotencyKey {
            key,
            request_hash: request_hash(request)?,
        })
    })
    .transpose()
}

/// SHA-256 (hex) of a parsed request serialised again: a struct writes its fields in one
/// order, so neither the order of the client's JSON keys nor its whitespace changes it,
/// and a field left out hashes like its default given.
pub fn request_hash(request: &impl Serialize) -> Result<String> {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::to_vec(request)
        .map_err(|e| Error::Internal(format!("serialising a request for its digest: {e}")))?;
    Ok(hex::encode(Sha256::digest(&canonical)))
}

fn check_idempotency_key(key: Option<&str>) -> Result<()> {
    if key.is_some_and(|k| k.is_empty() || k.len() > MAX_IDEMPOTENCY_KEY) {
        return Err(Error::invalid(
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY} characters"),
        ));
    }
    if key.is_some_and(|k| k.starts_with(MESSAGE_KEY_PREFIX)) {
        return Err(Error::invalid(
            "Idempotency-Key",
            format!("must not start with `{MESSAGE_KEY_PREFIX}` (reserved)"),
        ));
    }
    Ok(())
}

/// A text no longer than its database column (the MySQL schema's limits), or a 422.
pub(crate) fn check_length(field: &str, value: Option<&str>, max: usize) -> Result<()> {
    if value.is_some_and(|v| v.chars().count() > max) {
        return Err(Error::rejected(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    Ok(())
}

pub(crate) fn list_limit(limit: Option<u32>) -> Result<u32> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=MAX_LIST).contains(&n) => Ok(n),
        Some(n) => Err(Error::rejected(
            "limit",
            format!("must be between 1 and {MAX_LIST}, got {n}"),
        )),
    }
}
