//! What agents and other systems do on a ticket: an agent's reply, the customer's feedback
//! on an automatic reply, and an external extractor's findings.

use serde::{Deserialize, Serialize};

use super::conversation::{not_empty, MAX_MESSAGE_BYTES};
use super::tickets::{check_length, either_name};
use super::Desk;
use crate::error::{Error, Result};
use crate::store::limits;
use crate::store::{
    Direction, ExtractionRecord, NewMessage, ResponderKind, ResponseRecord, SendStatus, Status,
    Store, Ticket,
};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentReply {
    pub body: String,
    #[serde(default)]
    pub author: Option<String>,
    /// The ticket's status after the reply (default `answered`).
    #[serde(default)]
    pub status: Option<String>,
    /// KB entries the agent cites.
    #[serde(default)]
    pub citations: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    pub helpful: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

/// What an external extractor found, in this API's field names or the earlier
/// project's (`extractor_name`, `extracted_fields` as one object, `confidence`), whose
/// clients keep working unchanged.
/// What `feedback` recorded, and the ticket's status after it (an unhelpful automatic
/// reply reopens the ticket).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedbackRecorded {
    pub ticket_id: i64,
    pub response_id: i64,
    pub helpful: bool,
    pub status: Status,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalExtraction {
    pub ticket_id: i64,
    #[serde(default)]
    pub message_id: Option<i64>,
    /// The extractor's name (this or `extractor_name`).
    #[serde(default)]
    pub source: Option<String>,
    /// The earlier project's name for `source`.
    #[serde(default)]
    pub extractor_name: Option<String>,
    /// The earlier project's free-form fields: the model, manufacturer, error codes and
    /// serial are read from their usual names; every field is kept as an entity.
    #[serde(default)]
    pub extracted_fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// The extractor's confidence in the whole extraction, 0 to 1.
    #[serde(default)]
    pub confidence: Option<f64>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub manufacturer: Option<String>,
    #[serde(default)]
    pub error_codes: Vec<String>,
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default)]
    pub entities: Vec<serde_json::Value>,
}

impl Desk {
    async fn existing_ticket(&self, store: &dyn Store, id: i64) -> Result<Ticket> {
        store.ticket(id).await?.ok_or_else(|| Error::NotFound {
            what: "ticket".into(),
            id: id.to_string(),
        })
    }

    /// An agent's reply: stored as a response and an outbound message, the ticket's
    /// messages handled, its status set (answered unless told otherwise).
    pub async fn agent_reply(&self, ticket_id: i64, reply: AgentReply) -> Result<Ticket> {
        let body = reply.body.trim().to_string();
        if body.is_empty() {
            return Err(Error::rejected("body", "must not be empty"));
        }
        if body.len() > MAX_MESSAGE_BYTES {
            return Err(Error::PayloadTooLarge(format!(
                "body: more than {MAX_MESSAGE_BYTES} bytes"
            )));
        }
        let status = Status::parse(reply.status.as_deref().unwrap_or("answered"))?;
        let generation = self.generation();
        if let Some(unknown) = reply
            .citations
            .iter()
            .find(|c| generation.ord_of(c).is_none())
        {
            return Err(Error::rejected(
                "citations",
                format!("`{unknown}` is not a KB entry"),
            ));
        }
        let author = reply
            .author
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "agent".into());
        check_length("author", Some(&author), limits::AUTHOR)?;
        let store = self.store()?;
        let ticket = self.existing_ticket(store.as_ref(), ticket_id).await?;
        store
            .record_agent_reply(
                ticket_id,
                &ResponseRecord {
                    responder: ResponderKind::Agent,
                    author: Some(author.clone()),
                    body: body.clone(),
                    citations: serde_json::json!(reply.citations),
                    confidence: None,
                    send_status: SendStatus::Pending,
                    llm_model: None,
                    prompt_tokens: None,
                    completion_tokens: None,
                    latency_ms: None,
                },
                &NewMessage {
                    ticket_id,
                    customer_id: Some(ticket.customer_id),
                    direction: Direction::Outbound,
                    channel: ticket.channel,
                    subject: Some(super::subject::reply_subject(&ticket.subject)),
                    body,
                    transcription: None,
                    processed: true,
                    idempotency: None,
                    attachments: Vec::new(),
                },
                status,
                &author,
            )
            .await
    }

    /// Whether the automatic reply helped. An unhelpful one reopens the ticket for a person.
    pub async fn feedback(&self, ticket_id: i64, feedback: Feedback) -> Result<FeedbackRecorded> {
        let comment = feedback
            .comment
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        if comment
            .as_ref()
            .is_some_and(|c| c.len() > MAX_MESSAGE_BYTES)
        {
            return Err(Error::PayloadTooLarge(format!(
                "comment: more than {MAX_MESSAGE_BYTES} bytes"
            )));
        }
        let store = self.store()?;
        let ticket = self.existing_ticket(store.as_ref(), ticket_id).await?;
        let response_id = store
            .set_feedback(ticket_id, feedback.helpful, comment.as_deref())
            .await?
            .ok_or_else(|| {
                Error::Conflict(format!("ticket {ticket_id} has no automatic reply to rate"))
            })?;
        let ticket = if !feedback.helpful && ticket.status == Status::AutoResolved {
            store
                .set_status(
                    ticket_id,
                    Status::Open,
                    None,
                    "customer",
                    Some("the automatic reply did not help"),
                )
                .await?
        } else {
            ticket
        };
        Ok(FeedbackRecorded {
            ticket_id,
            response_id,
            helpful: feedback.helpful,
            status: ticket.status,
        })
    }

    /// Records what an external extractor found on a ticket (or one of its messages).
    pub async fn record_extraction(&self, x: ExternalExtraction) -> Result<i64> {
        let x = x.with_extracted_fields()?;
        let source = either_name(
            "source",
            x.source.clone(),
            "extractor_name",
            x.extractor_name.clone(),
        )?
        .ok_or_else(|| Error::invalid("source", "is missing (or give extractor_name)"))?;
        if source.chars().count() > limits::EXTRACTOR_NAME {
            return Err(Error::rejected("source", "must be 1 to 64 characters"));
        }
        check_length(
            "model",
            x.model.as_deref().map(str::trim),
            limits::MODEL_NAME,
        )?;
        check_length(
            "manufacturer",
            x.manufacturer.as_deref().map(str::trim),
            limits::MANUFACTURER,
        )?;
        check_length("serial", x.serial.as_deref().map(str::trim), limits::SERIAL)?;
        if let Some(i) = x.error_codes.iter().position(|c| c.trim().is_empty()) {
            return Err(Error::rejected(
                format!("error_codes[{i}]"),
                "must not be empty",
            ));
        }
        let store = self.store()?;
        self.existing_ticket(store.as_ref(), x.ticket_id)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::NotFound {
                    what: "ticket_id".into(),
                    id: x.ticket_id.to_string(),
                },
                other => other,
            })?;
        if let Some(message_id) = x.message_id {
            let on_ticket = store
                .messages(x.ticket_id)
                .await?
                .iter()
                .any(|m| m.id == message_id);
            if !on_ticket {
                return Err(Error::NotFound {
                    what: "message_id".into(),
                    id: message_id.to_string(),
                });
            }
        }
        store
            .add_extraction(
                x.ticket_id,
                &ExtractionRecord {
                    source,
                    message_id: x.message_id,
                    model: not_empty("model", x.model)?,
                    manufacturer: not_empty("manufacturer", x.manufacturer)?,
                    error_codes: serde_json::json!(x
                        .error_codes
                        .iter()
                        .map(|c| c.trim())
                        .collect::<Vec<_>>()),
                    serial: not_empty("serial", x.serial)?,
                    entities: serde_json::Value::Array(x.entities),
                },
            )
            .await
    }
}

/// The names under which the earlier project's extractors sent each typed field.
const MODEL_KEYS: &[&str] = &["model", "printer_model", "modele", "modèle"];
const MANUFACTURER_KEYS: &[&str] = &["manufacturer", "brand", "marque", "fabricant"];
const SERIAL_KEYS: &[&str] = &["serial", "serial_number", "numero_serie", "numéro_de_série"];
const ERROR_CODE_KEYS: &[&str] = &["error_codes", "error_code", "code_erreur", "codes_erreur"];

impl ExternalExtraction {
    /// Folds `extracted_fields` and `confidence` into the typed fields and the entities.
    /// A typed field given both ways must agree; a value of the wrong shape is named.
    fn with_extracted_fields(mut self) -> Result<Self> {
        if let Some(c) = self.confidence {
            if !(0.0..=1.0).contains(&c) {
                return Err(Error::rejected("confidence", "must be between 0 and 1"));
            }
        }
        let Some(fields) = self.extracted_fields.take() else {
            if let Some(c) = self.confidence {
                // Kept, not dropped, when no field carries it.
                self.entities
                    .push(serde_json::json!({ "kind": "confidence", "value": c }));
            }
            return Ok(self);
        };
        for (key, value) in &fields {
            let lower = key.to_lowercase();
            let field = format!("extracted_fields.{key}");
            let text = || match value {
                serde_json::Value::String(s) => Ok(Some(s.clone())),
                serde_json::Value::Number(n) => Ok(Some(n.to_string())),
                serde_json::Value::Null => Ok(None),
                _ => Err(Error::rejected(field.clone(), "must be a string")),
            };
            if MODEL_KEYS.contains(&lower.as_str()) {
                self.model = self.model.or(text()?);
            } else if MANUFACTURER_KEYS.contains(&lower.as_str()) {
                self.manufacturer = self.manufacturer.or(text()?);
            } else if SERIAL_KEYS.contains(&lower.as_str()) {
                self.serial = self.serial.or(text()?);
            } else if ERROR_CODE_KEYS.contains(&lower.as_str()) {
                let codes = match value {
                    serde_json::Value::Array(items) => items
                        .iter()
                        .map(|v| match v {
                            serde_json::Value::String(s) => Ok(s.clone()),
                            serde_json::Value::Number(n) => Ok(n.to_string()),
                            _ => Err(Error::rejected(
                                field.clone(),
                                "must be a string or a list of strings",
                            )),
                        })
                        .collect::<Result<Vec<_>>>()?,
                    _ => text()?.into_iter().collect(),
                };
                for code in codes {
                    if !self.error_codes.contains(&code) {
                        self.error_codes.push(code);
                    }
                }
            }
            self.entities.push(serde_json::json!({
                "kind": key,
                "value": value,
                "confidence": self.confidence,
            }));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn earlier(fields: serde_json::Value) -> Result<ExternalExtraction> {
        let x: ExternalExtraction = serde_json::from_value(serde_json::json!({
            "ticket_id": 1,
            "extractor_name": "ner-v2",
            "extracted_fields": fields,
            "confidence": 0.87,
        }))
        .unwrap();
        x.with_extracted_fields()
    }

    #[test]
    fn the_earlier_project_s_extraction_fills_the_typed_fields() {
        let x = earlier(serde_json::json!({
            "printer_model": "Lexmark C750",
            "error_code": "88",
            "serial_number": 7921,
            "toner": "cyan",
        }))
        .unwrap();
        assert_eq!(x.extractor_name.as_deref(), Some("ner-v2"));
        assert_eq!(x.model.as_deref(), Some("Lexmark C750"));
        assert_eq!(x.error_codes, vec!["88".to_string()]);
        assert_eq!(x.serial.as_deref(), Some("7921"));
        assert_eq!(x.entities.len(), 4, "every field is kept");
        assert!(x
            .entities
            .iter()
            .any(|e| e["kind"] == "toner" && e["value"] == "cyan" && e["confidence"] == 0.87));
    }

    #[test]
    fn a_field_of_the_wrong_shape_is_named() {
        let err = earlier(serde_json::json!({"model": {"name": "C750"}})).unwrap_err();
        assert!(
            matches!(&err, Error::Rejected { field, .. } if field == "extracted_fields.model"),
            "{err:?}"
        );
        let err = earlier(serde_json::json!({"error_codes": [88, ["x"]]})).unwrap_err();
        assert!(
            matches!(&err, Error::Rejected { field, .. } if field == "extracted_fields.error_codes"),
            "{err:?}"
        );
    }
}
