//! Customers and tickets: validation, the ticket pipeline, status changes. Handlers parse,
//! call these, map errors.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{AnswerRequest, Service};
use crate::answer::{Answer, Citation, Decision};
use crate::error::{Error, Result};
use crate::store::{
    Channel, Customer, ExtractionRecord, HistoryEntry, NewCustomer, NewTicket, PipelineRows,
    Priority, RagRecord, ResponseRecord, Status, StepRecord, Store, Ticket, TicketFilter,
};

pub const MAX_SUBJECT_CHARS: usize = 500;
pub const MAX_LIST: u32 = 500;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Serialize)]
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
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketDetails {
    pub ticket: Ticket,
    pub history: Vec<HistoryEntry>,
    /// extractions, rag_result, responses, steps.
    #[serde(flatten)]
    pub pipeline: PipelineRows,
}

fn step(name: &str, ms: Option<f64>, error: Option<String>) -> Option<StepRecord> {
    let status = if error.is_some() { "failed" } else { "ok" };
    ms.or(error.as_ref().map(|_| 0.0))
        .map(|duration_ms| StepRecord {
            step: name.into(),
            status: status.into(),
            duration_ms,
            error,
        })
}

/// Stores what the pipeline produced for a ticket. A failed write is logged and does not
/// undo the others: the ticket and its status are already safe.
async fn record_pipeline(
    store: &dyn Store,
    ticket_id: i64,
    query: &str,
    ingestion_ms: f64,
    answer: &std::result::Result<Answer, Error>,
) {
    let mut steps = vec![step("ingestion", Some(ingestion_ms), None)];
    let mut writes: Vec<Result<i64>> = Vec::new();
    match answer {
        Ok(a) => {
            let x = &a.extraction;
            writes.push(
                store
                    .add_extraction(
                        ticket_id,
                        &ExtractionRecord {
                            source: "devicekb".into(),
                            model: x.model.clone(),
                            manufacturer: x.manufacturer.clone(),
                            error_codes: serde_json::json!(x.error_codes),
                            serial: x.serial.clone(),
                            entities: serde_json::to_value(&x.entities).unwrap_or_default(),
                        },
                    )
                    .await,
            );
            steps.push(step("extraction", a.timings.extraction_ms, None));
            let retrieval_failed = a.reason == Some(crate::answer::Reason::StepFailed);
            if a.timings.retrieval_ms.is_some() {
                if !retrieval_failed {
                    writes.push(
                        store
                            .add_rag_result(
                                ticket_id,
                                &RagRecord {
                                    query: query.to_string(),
                                    mode: "hybrid".into(),
                                    generation: a.generation.clone(),
                                    results: serde_json::to_value(&a.retrieved).unwrap_or_default(),
                                },
                            )
                            .await,
                    );
                }
                let error = retrieval_failed.then(|| a.notes.join("; "));
                steps.push(step("retrieval", a.timings.retrieval_ms, error));
            }
            steps.push(step("decision", a.timings.decision_ms.or(Some(0.0)), None));
            if let Some(body) = a.reply.as_ref().or(a.draft.as_ref()) {
                let llm = a.llm.as_ref().filter(|l| l.used);
                writes.push(
                    store
                        .add_response(
                            ticket_id,
                            &ResponseRecord {
                                responder: "auto".into(),
                                author: a.responder.map(|r| format!("{r:?}").to_lowercase()),
                                body: body.clone(),
                                citations: serde_json::json!(a
                                    .citations
                                    .iter()
                                    .map(|c| &c.kb_id)
                                    .collect::<Vec<_>>()),
                                confidence: Some(f64::from(a.confidence)),
                                send_status: if a.reply.is_some() {
                                    "pending"
                                } else {
                                    "draft"
                                }
                                .into(),
                                llm_model: llm.map(|l| l.usage.model.clone()),
                                prompt_tokens: llm.map(|l| i64::from(l.usage.prompt_tokens)),
                                completion_tokens: llm
                                    .map(|l| i64::from(l.usage.completion_tokens)),
                                latency_ms: llm.map(|l| l.usage.latency_ms as i64),
                            },
                        )
                        .await,
                );
                steps.push(step("response", a.timings.response_ms, None));
            }
        }
        Err(e) => steps.push(step("extraction", None, Some(e.to_string()))),
    }
    for s in steps.into_iter().flatten() {
        writes.push(store.add_step(ticket_id, &s).await);
    }
    for w in writes {
        if let Err(e) = w {
            tracing::error!(ticket = ticket_id, error = %e, "a pipeline record was not stored");
        }
    }
}

fn optional_text(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Service {
    pub async fn create_customer(&self, request: CreateCustomer) -> Result<Customer> {
        let name = request.name.trim().to_string();
        if name.is_empty() {
            return Err(Error::Unprocessable {
                field: "name".into(),
                message: "must not be empty".into(),
            });
        }
        if name.chars().count() > 255 {
            return Err(Error::Unprocessable {
                field: "name".into(),
                message: "is longer than 255 characters".into(),
            });
        }
        let email = optional_text(request.email);
        if email
            .as_ref()
            .is_some_and(|e| !e.contains('@') || e.len() > 255)
        {
            return Err(Error::Unprocessable {
                field: "email".into(),
                message: "is not an e-mail address".into(),
            });
        }
        self.store()?
            .create_customer(&NewCustomer {
                name,
                email,
                phone: optional_text(request.phone),
                company: optional_text(request.company),
            })
            .await
    }

    pub async fn customers(&self, limit: Option<u32>) -> Result<Vec<Customer>> {
        self.store()?.customers(list_limit(limit)?).await
    }

    /// Stores the ticket, runs the pipeline on it (extraction, retrieval, decision, reply)
    /// and records the outcome. A failing pipeline step escalates the ticket, never loses it.
    pub async fn create_ticket(
        self: &Arc<Self>,
        request: CreateTicket,
        idempotency_key: Option<String>,
    ) -> Result<TicketCreated> {
        let subject = request.subject.trim().to_string();
        let description = request.description.trim().to_string();
        if subject.is_empty() && description.is_empty() {
            return Err(Error::Unprocessable {
                field: "subject".into(),
                message: "subject and description are both empty".into(),
            });
        }
        if subject.chars().count() > MAX_SUBJECT_CHARS {
            return Err(Error::Unprocessable {
                field: "subject".into(),
                message: format!("is longer than {MAX_SUBJECT_CHARS} characters"),
            });
        }
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
        if idempotency_key
            .as_ref()
            .is_some_and(|k| k.is_empty() || k.len() > 191)
        {
            return Err(Error::invalid(
                "Idempotency-Key",
                "must be 1 to 191 characters",
            ));
        }
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
                    idempotency_key,
                },
                "api",
            )
            .await?;
        if !created {
            return Ok(TicketCreated {
                ticket_id: ticket.id,
                status: ticket.status,
                created: false,
                decision: None,
                reason: ticket.escalation_reason,
                confidence: None,
                reply: None,
                citations: Vec::new(),
            });
        }
        let ingestion_ms = ingestion.elapsed().as_secs_f64() * 1000.0;
        let text = [subject.as_str(), description.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("\n");
        let answer = self
            .answer(AnswerRequest {
                text: text.clone(),
                model: None,
            })
            .await;
        let (status, reason, note) = match &answer {
            Ok(a) if a.decision == Decision::Auto => {
                (Status::AutoResolved, None, a.notes.join("; "))
            }
            Ok(a) => (
                Status::Escalated,
                Some(
                    a.reason
                        .map_or("low_confidence", |r| r.as_str())
                        .to_string(),
                ),
                a.notes.join("; "),
            ),
            Err(e) => {
                tracing::warn!(ticket = ticket.id, error = %e, "the pipeline failed; escalating");
                (
                    Status::Escalated,
                    Some("step_failed".to_string()),
                    e.to_string(),
                )
            }
        };
        record_pipeline(store.as_ref(), ticket.id, &text, ingestion_ms, &answer).await;
        let ticket = store
            .set_status(
                ticket.id,
                status,
                reason.as_deref(),
                "pipeline",
                Some(&note),
            )
            .await?;
        let answer = answer.ok();
        Ok(TicketCreated {
            ticket_id: ticket.id,
            status: ticket.status,
            created: true,
            decision: answer.as_ref().map(|a| a.decision),
            reason,
            confidence: answer.as_ref().map(|a| a.confidence),
            reply: answer.as_ref().and_then(|a| a.reply.clone()),
            citations: answer.map(|a| a.citations).unwrap_or_default(),
        })
    }

    pub async fn ticket_details(&self, id: i64) -> Result<TicketDetails> {
        let store = self.store()?;
        let ticket = store.ticket(id).await?.ok_or_else(|| Error::NotFound {
            what: "ticket".into(),
            id: id.to_string(),
        })?;
        let history = store.history(id).await?;
        let pipeline = store.pipeline(id).await?;
        Ok(TicketDetails {
            ticket,
            history,
            pipeline,
        })
    }

    pub async fn tickets(
        &self,
        status: Option<&str>,
        priority: Option<&str>,
        category: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<Ticket>> {
        let filter = TicketFilter {
            status: status.map(Status::parse).transpose()?,
            priority: priority.map(Priority::parse).transpose()?,
            category: category.map(str::to_string),
            limit: list_limit(limit)?,
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
        self.store()?
            .set_status(id, status, None, actor, note)
            .await
    }
}

fn list_limit(limit: Option<u32>) -> Result<u32> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=MAX_LIST).contains(&n) => Ok(n),
        Some(n) => Err(Error::Unprocessable {
            field: "limit".into(),
            message: format!("must be between 1 and {MAX_LIST}, got {n}"),
        }),
    }
}
