//! The conversation on a ticket: customer messages from any channel (a new message opens a
//! ticket or joins the open one it belongs to), agents' replies, feedback on automatic
//! replies, and extractions recorded by an external extractor.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::pipeline::PipelineJob;
use super::subject::{first_line, normalized_subject};
use super::tickets::{idempotency_of, list_limit, TicketCreated, MESSAGE_KEY_PREFIX};
use super::Desk;
use crate::error::{Error, Result};
use crate::store::limits;
use crate::store::{
    Channel, Direction, IdempotencyKey, Message, NewAttachment, NewMessage, NewTicket, Priority,
    Status, Store, Ticket,
};

/// Longest message body (the request body limit is the same).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Attachments one message may list.
pub const MAX_ATTACHMENTS: usize = 20;
/// A customer's open tickets a new message is compared with.
const OPEN_TICKETS_SCANNED: u32 = 50;

/// Serialize gives the canonical form an `Idempotency-Key`'s request digest is taken of.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMessage {
    #[serde(default)]
    pub customer_id: Option<i64>,
    #[serde(default)]
    pub ticket_id: Option<i64>,
    pub channel: String,
    pub direction: String,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub transcription: Option<String>,
    /// Metadata of attached files: {filename, content_type?, size_bytes?, sha256?}.
    #[serde(default)]
    pub attachments: Vec<NewAttachment>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageAccepted {
    pub message_id: i64,
    pub ticket_id: i64,
    /// False when an `Idempotency-Key` already stored this message.
    pub created: bool,
    /// True when the message opened a new ticket (the pipeline ran on it).
    pub new_ticket: bool,
    pub status: Status,
    /// The pipeline's outcome, for a message that opened a ticket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<TicketCreated>,
}

pub(super) fn not_empty(field: &str, value: Option<String>) -> Result<Option<String>> {
    match value.map(|v| v.trim().to_string()) {
        Some(v) if v.is_empty() => Err(Error::rejected(field, "must not be empty when given")),
        other => Ok(other),
    }
}

/// Checks attachment metadata; the hash is kept in lower case.
fn valid_attachments(attachments: Vec<NewAttachment>) -> Result<Vec<NewAttachment>> {
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(Error::rejected(
            "attachments",
            format!("at most {MAX_ATTACHMENTS} per message"),
        ));
    }
    attachments
        .into_iter()
        .enumerate()
        .map(|(i, mut a)| {
            let bad = |field: &str, message: &str| {
                Error::rejected(format!("attachments[{i}].{field}"), message)
            };
            a.filename = a.filename.trim().to_string();
            if a.filename.is_empty()
                || a.filename.chars().count() > limits::FILENAME
                || a.filename.chars().any(char::is_control)
            {
                return Err(bad(
                    "filename",
                    "must be 1 to 255 characters, without control characters",
                ));
            }
            if a.content_type
                .as_ref()
                .is_some_and(|c| c.is_empty() || c.len() > limits::CONTENT_TYPE || !c.contains('/'))
            {
                return Err(bad(
                    "content_type",
                    "must be a media type such as application/pdf",
                ));
            }
            if a.size_bytes.is_some_and(|n| n < 0) {
                return Err(bad("size_bytes", "must not be negative"));
            }
            if let Some(hash) = &mut a.sha256 {
                if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(bad("sha256", "must be 64 hexadecimal characters"));
                }
                *hash = hash.to_ascii_lowercase();
            }
            Ok(a)
        })
        .collect()
}

impl Desk {
    /// Stores a message. Inbound: it joins `ticket_id`, or the customer's open ticket with
    /// the same subject (or about the same device), or it opens a ticket and the pipeline
    /// runs on it. Outbound: it is a reply already sent, so the ticket's messages are
    /// handled.
    pub async fn create_message(
        self: &Arc<Self>,
        request: CreateMessage,
        idempotency_key: Option<String>,
    ) -> Result<MessageAccepted> {
        let idempotency = idempotency_of(idempotency_key, &request)?;
        let channel = Channel::parse(&request.channel)?;
        let direction = Direction::parse(&request.direction)?;
        let attachments = valid_attachments(request.attachments)?;
        let body = request.body.trim().to_string();
        let transcription = not_empty("transcription", request.transcription)?;
        let subject = request
            .subject
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if body.is_empty() && transcription.is_none() {
            return Err(Error::rejected(
                "body",
                "must not be empty (or give a transcription)",
            ));
        }
        if body.len() > MAX_MESSAGE_BYTES
            || transcription
                .as_ref()
                .is_some_and(|t| t.len() > MAX_MESSAGE_BYTES)
        {
            return Err(Error::PayloadTooLarge(format!(
                "body: more than {MAX_MESSAGE_BYTES} bytes"
            )));
        }
        if subject
            .as_ref()
            .is_some_and(|s| s.chars().count() > super::tickets::MAX_SUBJECT_CHARS)
        {
            return Err(Error::Rejected {
                field: "subject".into(),
                message: format!(
                    "is longer than {} characters",
                    super::tickets::MAX_SUBJECT_CHARS
                ),
            });
        }
        let store = self.store()?;
        if let Some(key) = &idempotency {
            // The store refuses the key when it came with another request.
            if let Some(message) = store.message_by_key(key).await? {
                let other_customer = request
                    .customer_id
                    .is_some_and(|c| message.customer_id.is_some_and(|m| m != c));
                let other_ticket = request
                    .ticket_id
                    .is_some_and(|t| message.ticket_id != Some(t));
                if other_customer || other_ticket {
                    // Only a message stored before request digests gets here (a request for
                    // another customer or ticket has another digest).
                    return Err(Error::IdempotencyKeyReused {
                        key: key.key.clone(),
                    });
                }
                return self.accepted_again(&store, message).await;
            }
        }
        // What the pipeline reads: a call's transcription is what the customer said.
        let text = match (&transcription, channel) {
            (Some(t), Channel::Call) => t.clone(),
            (Some(t), _) if body.is_empty() => t.clone(),
            _ => body.clone(),
        };

        let target = match request.ticket_id {
            Some(id) => {
                let ticket = store.ticket(id).await?.ok_or_else(|| Error::NotFound {
                    what: "ticket_id".into(),
                    id: id.to_string(),
                })?;
                if request.customer_id.is_some_and(|c| c != ticket.customer_id) {
                    return Err(Error::rejected(
                        "ticket_id",
                        format!("ticket {id} belongs to another customer"),
                    ));
                }
                Some(ticket)
            }
            None => {
                let customer_id = request.customer_id.ok_or_else(|| {
                    Error::rejected("customer_id", "give customer_id or ticket_id")
                })?;
                if store.customer(customer_id).await?.is_none() {
                    return Err(Error::NotFound {
                        what: "customer_id".into(),
                        id: customer_id.to_string(),
                    });
                }
                self.open_ticket_for(store.as_ref(), customer_id, subject.as_deref(), &text)
                    .await?
            }
        };

        let Some(ticket) = target else {
            if direction == Direction::Outbound {
                return Err(Error::rejected(
                    "direction",
                    "an outbound message needs a ticket to answer (ticket_id)",
                ));
            }
            let customer_id = request.customer_id.unwrap_or_default();
            let message = NewMessage {
                ticket_id: 0,
                customer_id: Some(customer_id),
                direction,
                channel,
                subject,
                body,
                transcription,
                processed: false,
                idempotency,
                attachments,
            };
            return self.open_ticket_with(store, message, text).await;
        };

        let (message, created) = store
            .add_message(&NewMessage {
                ticket_id: ticket.id,
                customer_id: Some(ticket.customer_id),
                direction,
                channel,
                subject,
                body: if body.is_empty() { text.clone() } else { body },
                transcription,
                processed: direction == Direction::Outbound,
                idempotency,
                attachments,
            })
            .await?;
        let ticket = if created {
            self.after_follow_up(store.as_ref(), ticket, direction)
                .await?
        } else {
            ticket
        };
        Ok(MessageAccepted {
            message_id: message.id,
            ticket_id: ticket.id,
            created,
            new_ticket: false,
            status: ticket.status,
            pipeline: None,
        })
    }

    /// The answer to a retried message: the message and its ticket as they stand, after
    /// running the pipeline if the first submission stopped before it ran.
    async fn accepted_again(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        message: Message,
    ) -> Result<MessageAccepted> {
        let ticket_id = message.ticket_id.unwrap_or_default();
        let ticket = store.ticket(ticket_id).await?.ok_or_else(|| {
            Error::storage(format!("message {} points at a missing ticket", message.id))
        })?;
        let resumed = self
            .resume_if_stalled(store, &ticket, Some(message.id))
            .await?;
        Ok(MessageAccepted {
            message_id: message.id,
            ticket_id,
            created: false,
            new_ticket: false,
            status: resumed.as_ref().map_or(ticket.status, |r| r.status),
            pipeline: resumed,
        })
    }

    /// The customer's open ticket this message continues: same subject, or, without a
    /// subject match, the one about the device (serial number, else model) it names.
    async fn open_ticket_for(
        &self,
        store: &dyn Store,
        customer_id: i64,
        subject: Option<&str>,
        text: &str,
    ) -> Result<Option<Ticket>> {
        let open = store
            .open_tickets(customer_id, OPEN_TICKETS_SCANNED)
            .await?;
        if let Some(subject) = subject.map(normalized_subject).filter(|s| !s.is_empty()) {
            if let Some(t) = open
                .iter()
                .find(|t| normalized_subject(&t.subject) == subject)
            {
                return Ok(Some(t.clone()));
            }
        }
        let extraction = self.generation().extractor.extract(text);
        if extraction.serial.is_none() && extraction.model.is_none() {
            return Ok(None);
        }
        for t in &open {
            let Some(device_id) = t.device_id else {
                continue;
            };
            let Some(device) = store.device(device_id).await? else {
                continue;
            };
            let same_serial = extraction.serial.is_some() && device.serial == extraction.serial;
            let same_model = extraction.serial.is_none()
                && extraction.model.is_some()
                && device.model == extraction.model;
            if same_serial || same_model {
                return Ok(Some(t.clone()));
            }
        }
        Ok(None)
    }

    /// Opens a ticket for `message` (its `ticket_id` is filled here) and runs the pipeline
    /// on `text`.
    async fn open_ticket_with(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        mut message: NewMessage,
        text: String,
    ) -> Result<MessageAccepted> {
        let ingestion = std::time::Instant::now();
        let customer_id = message.customer_id.unwrap_or_default();
        let ticket_subject = message
            .subject
            .clone()
            .unwrap_or_else(|| first_line(&text, 120));
        // The ticket carries the key too (prefixed, with the message request's digest), so a
        // retry after a crash between the two writes finds the same ticket.
        let client_key = message.idempotency.as_ref().map(|k| k.key.clone());
        let reused = || Error::IdempotencyKeyReused {
            key: client_key.clone().unwrap_or_default(),
        };
        let (ticket, created) = store
            .create_ticket(
                &NewTicket {
                    customer_id,
                    device_id: None,
                    subject: ticket_subject.clone(),
                    description: text.clone(),
                    channel: message.channel,
                    priority: Priority::Medium,
                    priority_given: false,
                    idempotency: message.idempotency.as_ref().map(|k| IdempotencyKey {
                        key: format!("{MESSAGE_KEY_PREFIX}{}", k.key),
                        request_hash: k.request_hash.clone(),
                    }),
                },
                "api",
            )
            .await
            // The client's key is named, not the ticket's prefixed one.
            .map_err(|e| match e {
                Error::IdempotencyKeyReused { .. } => reused(),
                e => e,
            })?;
        if ticket.customer_id != customer_id {
            // A ticket stored before request digests, for another customer.
            return Err(reused());
        }
        message.ticket_id = ticket.id;
        if message.body.is_empty() {
            message.body = text.clone();
        }
        // Held before the message is stored: a retry reaching another server then finds
        // the ticket taken, not stalled.
        let held = created && self.hold_new_ticket(&store, ticket.id).await?;
        let (message, _) = store.add_message(&message).await?;
        if !held {
            return self.accepted_again(&store, message).await;
        }
        let ingestion_ms = crate::service::elapsed_ms(ingestion);
        let full_text = crate::kb::training::ticket_text(&ticket_subject, &text);
        let job = PipelineJob {
            ticket,
            text: full_text,
            ingestion_ms,
            priority_given: false,
            client_waiting: true,
            message_id: Some(message.id),
        };
        let outcome = self.run_pipeline_detached(store, job).await?;
        Ok(MessageAccepted {
            message_id: message.id,
            ticket_id: outcome.ticket_id,
            created: true,
            new_ticket: true,
            status: outcome.status,
            pipeline: Some(outcome),
        })
    }

    /// A customer writing again on an answered ticket reopens it for a person; a reply
    /// sent from elsewhere handles the ticket's messages.
    async fn after_follow_up(
        &self,
        store: &dyn Store,
        ticket: Ticket,
        direction: Direction,
    ) -> Result<Ticket> {
        match direction {
            Direction::Outbound => {
                store.mark_processed(ticket.id).await?;
                Ok(ticket)
            }
            Direction::Inbound => match ticket.status {
                Status::AutoResolved | Status::Answered | Status::Closed => {
                    store
                        .set_status(
                            ticket.id,
                            Status::Open,
                            None,
                            "customer",
                            Some("the customer wrote again"),
                        )
                        .await
                }
                _ => Ok(ticket),
            },
        }
    }

    pub async fn unprocessed_messages(&self, limit: Option<u32>) -> Result<Vec<Message>> {
        self.store()?.unprocessed_messages(list_limit(limit)?).await
    }
}
