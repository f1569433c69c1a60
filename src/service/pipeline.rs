//! The ticket pipeline once a ticket is stored: answer (extraction, retrieval, decision,
//! reply), classification, the device, and a record of every step. Each write is its own
//! transaction; a failing step is recorded and escalates the ticket, never loses it.

use std::sync::Arc;

use super::{AnswerRequest, Service};
use crate::answer::{Answer, Decision};
use crate::classify::{Classification, MODEL_NAME, MODEL_VERSION};
use crate::error::{Error, Result};
use crate::store::{
    Direction, ExtractionRecord, NewDevice, NewMessage, PredictionRecord, Priority, RagRecord,
    ResponderKind, ResponseRecord, SendStatus, Status, StepRecord, StepStatus, Store, Ticket,
};

use super::tickets::TicketCreated;

fn step(name: &str, ms: Option<f64>, error: Option<String>) -> Option<StepRecord> {
    let status = if error.is_some() {
        StepStatus::Failed
    } else {
        StepStatus::Ok
    };
    ms.or(error.as_ref().map(|_| 0.0))
        .map(|duration_ms| StepRecord {
            step: name.into(),
            status,
            duration_ms,
            error,
        })
}

/// Stores what the pipeline produced for a ticket. A failed write is logged and does not
/// undo the others: the ticket and its status are already safe.
#[tracing::instrument(name = "records", skip_all)]
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
                            message_id: None,
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
                                responder: ResponderKind::Auto,
                                author: a.responder.map(|r| r.as_str().to_string()),
                                body: body.clone(),
                                citations: serde_json::json!(a
                                    .citations
                                    .iter()
                                    .map(|c| &c.kb_id)
                                    .collect::<Vec<_>>()),
                                confidence: Some(f64::from(a.confidence)),
                                send_status: if a.reply.is_some() {
                                    SendStatus::Pending
                                } else {
                                    SendStatus::Draft
                                },
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
            tracing::error!(ticket = ticket_id, error = %e.chain(), "a pipeline record was not stored");
        }
    }
}

/// What classification decided for a ticket, and how long it took.
struct Classified {
    classification: Option<Classification>,
    ms: f64,
    error: Option<String>,
}

/// Removes a ticket from the set of running pipelines when its run ends, however it ends.
struct Running<'a>(&'a Service, i64);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.pipelines_running.lock().remove(&self.1);
    }
}

impl Service {
    /// Runs the pipeline on its own task, so a client that disconnects cannot stop it half
    /// way, and never twice at once for one ticket (a retry while it runs gets the ticket as
    /// it stands). `message_id`: the message the pipeline reads.
    pub(crate) async fn run_pipeline_detached(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        ticket: Ticket,
        text: String,
        ingestion_ms: f64,
        priority_given: bool,
        message_id: Option<i64>,
    ) -> Result<TicketCreated> {
        if !self.pipelines_running.lock().insert(ticket.id) {
            return Ok(TicketCreated::existing(ticket));
        }
        let service = self.clone();
        tokio::spawn(async move {
            let _running = Running(&service, ticket.id);
            service
                .run_pipeline(
                    &store,
                    ticket,
                    text,
                    ingestion_ms,
                    priority_given,
                    message_id,
                )
                .await
        })
        .await
        .map_err(|e| Error::Internal(format!("the pipeline task failed: {e}")))?
    }

    /// A ticket whose first submission stopped before its pipeline ran (the process died,
    /// the database went away between two writes) is still `new` with no step recorded:
    /// a retry runs the pipeline on it. `None` when the ticket needs nothing.
    pub(crate) async fn resume_if_stalled(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        ticket: &Ticket,
        message_id: Option<i64>,
    ) -> Result<Option<TicketCreated>> {
        if ticket.status != Status::New || !store.pipeline(ticket.id).await?.steps.is_empty() {
            return Ok(None);
        }
        tracing::info!(
            ticket = ticket.id,
            "resuming a ticket whose pipeline did not run"
        );
        let text = crate::kb::training::ticket_text(&ticket.subject, &ticket.description);
        let outcome = self
            .run_pipeline_detached(store.clone(), ticket.clone(), text, 0.0, true, message_id)
            .await?;
        Ok(Some(TicketCreated {
            created: false,
            ..outcome
        }))
    }

    /// Runs the pipeline on a stored ticket whose text is `text`, records everything and
    /// sets its status. `priority_given`: the client chose the priority, keep it.
    #[tracing::instrument(name = "pipeline", skip_all, fields(ticket = ticket.id, message = ?message_id))]
    async fn run_pipeline(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        ticket: Ticket,
        text: String,
        ingestion_ms: f64,
        priority_given: bool,
        message_id: Option<i64>,
    ) -> Result<TicketCreated> {
        let answer = self
            .answer(AnswerRequest {
                text: text.clone(),
                model: None,
            })
            .await;
        let classified = match &answer {
            Ok(a) => self.classify_answered(&text, a).await,
            Err(e) => Classified {
                classification: None,
                ms: 0.0,
                error: Some(format!("not run: {e}")),
            },
        };
        record_pipeline(store.as_ref(), ticket.id, &text, ingestion_ms, &answer).await;
        let classification_step = StepRecord {
            step: "classification".into(),
            status: match (&classified.error, &classified.classification) {
                (Some(_), _) => StepStatus::Failed,
                (None, None) => StepStatus::Skipped,
                (None, Some(_)) => StepStatus::Ok,
            },
            duration_ms: classified.ms,
            error: classified.error.clone().or_else(|| {
                classified
                    .classification
                    .is_none()
                    .then(|| "the KB has no labelled tickets (training/tickets.jsonl)".into())
            }),
        };
        if let Err(e) = store.add_step(ticket.id, &classification_step).await {
            tracing::error!(ticket = ticket.id, error = %e.chain(), "a pipeline record was not stored");
        }
        if let Some(c) = &classified.classification {
            self.store_predictions(store.as_ref(), &ticket, c).await;
        }
        let device_id = match &answer {
            Ok(a) if ticket.device_id.is_none() => {
                self.link_device(store.as_ref(), &ticket, a).await
            }
            _ => None,
        };
        // What classification decided, and the device, in one write: the category, the
        // priority unless the client chose one, the retention flag.
        let c = classified.classification.as_ref();
        let retention = c.is_some_and(|c| c.churn_risk >= self.config().retention_threshold);
        let priority = c
            .filter(|_| !priority_given)
            .and_then(|c| Priority::parse(&c.priority.label).ok());
        if c.is_some() || device_id.is_some() {
            let category = c.map(|c| c.category.label.as_str());
            if let Err(e) = store
                .classify_ticket(ticket.id, category, priority, retention, device_id)
                .await
            {
                tracing::error!(ticket = ticket.id, error = %e.chain(), "the classification was not stored");
            }
        }

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
                tracing::warn!(ticket = ticket.id, error = %e.chain(), "the pipeline failed; escalating");
                (
                    Status::Escalated,
                    Some("step_failed".to_string()),
                    e.to_string(),
                )
            }
        };
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
        if let Some(a) = &answer {
            if a.reason != Some(crate::answer::Reason::StepFailed) {
                // The pipeline has handled the message it read (answered, or escalated with
                // its evidence); any that arrived meanwhile still wait for a person.
                if let Some(id) = message_id {
                    if let Err(e) = store.mark_message_processed(id).await {
                        tracing::error!(ticket = ticket.id, error = %e.chain(), "the message was not marked processed");
                    }
                }
            }
            if let Some(reply) = a.reply.as_ref().filter(|_| a.decision == Decision::Auto) {
                let outbound = NewMessage {
                    ticket_id: ticket.id,
                    customer_id: Some(ticket.customer_id),
                    direction: Direction::Outbound,
                    channel: ticket.channel,
                    subject: Some(reply_subject(&ticket.subject)),
                    body: reply.clone(),
                    transcription: None,
                    processed: true,
                    idempotency_key: None,
                    attachments: Vec::new(),
                };
                if let Err(e) = store.add_message(&outbound).await {
                    tracing::error!(ticket = ticket.id, error = %e.chain(), "the automatic reply was not stored as a message");
                }
            }
        }
        self.refresh_today_metrics(store.as_ref()).await;
        let classification = classified.classification;
        Ok(TicketCreated {
            ticket_id: ticket.id,
            status: ticket.status,
            created: true,
            decision: answer.as_ref().map(|a| a.decision),
            reason,
            confidence: answer.as_ref().map(|a| a.confidence),
            reply: answer.as_ref().and_then(|a| a.reply.clone()),
            citations: answer.map(|a| a.citations).unwrap_or_default(),
            category: classification.as_ref().map(|c| c.category.label.clone()),
            priority: ticket.priority,
            churn_risk: classification.as_ref().map(|c| c.churn_risk),
            retention_flag: retention,
        })
    }

    #[tracing::instrument(name = "classification", skip_all)]
    async fn classify_answered(self: &Arc<Self>, text: &str, answer: &Answer) -> Classified {
        let started = std::time::Instant::now();
        let result = match self.evidence_from_answer(text, answer).await {
            Ok(evidence) => self.classify(evidence).await,
            Err(e) => Err(e),
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(classification) => Classified {
                classification,
                ms,
                error: None,
            },
            Err(e) => {
                tracing::warn!(error = %e.chain(), "classification failed");
                Classified {
                    classification: None,
                    ms,
                    error: Some(e.to_string()),
                }
            }
        }
    }

    /// Stores the three predictions with their confidence and the model's version.
    #[tracing::instrument(name = "predictions", skip_all)]
    async fn store_predictions(&self, store: &dyn Store, ticket: &Ticket, c: &Classification) {
        let prediction =
            |task: &str, label: &str, confidence: f32, score: Option<f64>| PredictionRecord {
                task: task.into(),
                label: label.into(),
                confidence: f64::from(confidence),
                score,
                model: MODEL_NAME.into(),
                version: MODEL_VERSION.into(),
            };
        let records = [
            prediction("category", &c.category.label, c.category.confidence, None),
            prediction("priority", &c.priority.label, c.priority.confidence, None),
            prediction(
                "churn_risk",
                &c.churn_level.label,
                c.churn_level.confidence,
                Some(f64::from(c.churn_risk)),
            ),
        ];
        for record in &records {
            if let Err(e) = store.add_prediction(ticket.id, record).await {
                tracing::error!(ticket = ticket.id, error = %e.chain(), "a prediction was not stored");
            }
        }
    }

    /// The customer's device the message speaks of: found by the extracted serial number
    /// (or created with it), or the customer's only device of the extracted model.
    #[tracing::instrument(name = "device", skip_all)]
    async fn link_device(
        &self,
        store: &dyn Store,
        ticket: &Ticket,
        answer: &Answer,
    ) -> Option<i64> {
        let x = &answer.extraction;
        if x.serial.is_none() && x.model.is_none() {
            return None;
        }
        let devices = match store.devices(ticket.customer_id).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(ticket = ticket.id, error = %e.chain(), "cannot read the customer's devices");
                return None;
            }
        };
        if let Some(serial) = &x.serial {
            if let Some(d) = devices
                .iter()
                .find(|d| d.serial.as_deref() == Some(serial.as_str()))
            {
                return Some(d.id);
            }
            let created = store
                .create_device(&NewDevice {
                    customer_id: ticket.customer_id,
                    model: x.model.clone(),
                    serial: Some(serial.clone()),
                    location: None,
                })
                .await;
            return match created {
                Ok(d) => Some(d.id),
                Err(e) => {
                    tracing::warn!(ticket = ticket.id, error = %e.chain(), "cannot record the customer's device");
                    None
                }
            };
        }
        let same_model: Vec<_> = devices
            .iter()
            .filter(|d| d.model.is_some() && d.model == x.model)
            .collect();
        match same_model.as_slice() {
            [only] => Some(only.id),
            _ => None,
        }
    }
}

/// "Re: " and the ticket's subject, once.
/// The subject of a reply: "Re: " and the ticket's subject without its own reply and
/// forward prefixes, within the 500 characters a subject may have.
pub(crate) fn reply_subject(subject: &str) -> String {
    let base = super::conversation::strip_reply_prefixes(subject);
    if base.is_empty() {
        "Re: votre demande".into()
    } else {
        let cut: String = base
            .chars()
            .take(super::tickets::MAX_SUBJECT_CHARS - 4)
            .collect();
        format!("Re: {cut}")
    }
}
