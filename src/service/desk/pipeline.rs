//! The ticket pipeline once a ticket is stored: answer (extraction, retrieval, decision,
//! reply), classification, the device, the status, and a record of every step. Each
//! write is its own transaction; a failing step is recorded and escalates the ticket,
//! never loses it. `Run::run` reads as the pipeline, one function per step.

use std::sync::Arc;

use super::classification::TicketClassification;
use super::tickets::TicketCreated;
use super::Desk;
use crate::answer::pii::KnownCustomer;
use crate::answer::{Answer, Decision, Reason};
use crate::error::{Error, Result};
use crate::service::AnswerRequest;
use crate::store::{
    Direction, ExtractionRecord, NewDevice, NewMessage, RagRecord, ResponderKind, ResponseRecord,
    SendStatus, Status, StepRecord, StepStatus, Store, Ticket,
};

/// What the pipeline reads: a stored ticket and the text to answer.
pub(crate) struct PipelineJob {
    pub ticket: Ticket,
    /// The subject and the message, as the classifier was trained on them.
    pub text: String,
    /// Time spent storing the ticket and its message before the pipeline.
    pub ingestion_ms: f64,
    /// The client chose the priority: classification keeps it.
    pub priority_given: bool,
    /// A client waits for the outcome: the pipeline waits a little for a classifier still
    /// training (`DEVICEKB_CLASSIFY_WAIT_MS`); a sweep's run does not wait at all.
    pub client_waiting: bool,
    /// The message the pipeline reads, marked processed once it is handled.
    pub message_id: Option<i64>,
}

/// Removes a ticket from the set of running pipelines when its run ends, however it ends.
struct Running<'a>(&'a Desk, i64);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.pipelines_running.lock().remove(&self.1);
    }
}

impl Desk {
    /// Runs the pipeline on its own task, so a client that disconnects cannot stop it half
    /// way, and never twice at once for one ticket (a retry while it runs gets the ticket as
    /// it stands).
    pub(crate) async fn run_pipeline_detached(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        job: PipelineJob,
    ) -> Result<TicketCreated> {
        if !self.pipelines_running.lock().insert(job.ticket.id) {
            // Its pipeline runs now, classification included.
            return Ok(TicketCreated::existing(job.ticket, true));
        }
        let desk = self.clone();
        tokio::spawn(async move {
            let _running = Running(&desk, job.ticket.id);
            Run {
                desk: &desk,
                store: &store,
                job,
            }
            .run()
            .await
        })
        .await
        .map_err(|e| Error::Internal(format!("the pipeline task failed: {e}")))?
    }
}

/// One run of the pipeline on one ticket.
struct Run<'a> {
    desk: &'a Arc<Desk>,
    store: &'a Arc<dyn Store>,
    job: PipelineJob,
}

impl Run<'_> {
    #[tracing::instrument(name = "pipeline", skip_all, fields(ticket = self.job.ticket.id, message = ?self.job.message_id))]
    async fn run(self) -> Result<TicketCreated> {
        let answer = self.answer().await;
        // Classified before anything is recorded: until the first step is stored, a retry
        // of a submission that died here resumes the ticket (`resume_if_stalled`). `None`:
        // the classifier is still training, and the ticket is classified after it settles.
        let classifying = self.classification();
        let wait = if self.job.client_waiting {
            std::time::Duration::from_millis(self.desk.config().classify_wait_ms)
        } else {
            std::time::Duration::ZERO
        };
        let classified = classifying
            .classify_now(&self.job.text, &answer, wait)
            .await;
        self.record_answer(&answer).await;
        if let Some(classified) = &classified {
            classifying.record(classified).await;
        }
        let device_id = match &answer {
            Ok(a) if self.job.ticket.device_id.is_none() => self.link_device(a).await,
            _ => None,
        };
        let retention = classifying
            .store_on_ticket(classified.as_ref(), device_id)
            .await;
        let (ticket, reason) = self.settle(&answer).await?;
        let answer = answer.ok();
        if let Some(a) = &answer {
            self.close_message(a).await;
            self.send_reply(&ticket, a).await;
            if classified.is_none() {
                self.desk.classify_later(
                    self.store.clone(),
                    ticket.id,
                    self.job.priority_given,
                    self.job.text.clone(),
                    a.clone(),
                );
            }
        }
        self.desk.refresh_today_metrics(self.store.as_ref()).await;
        let classification_pending = classified.is_none();
        let classification = classified.and_then(|c| c.classification);
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
            classification_pending,
        })
    }

    fn ticket_id(&self) -> i64 {
        self.job.ticket.id
    }

    fn classification(&self) -> TicketClassification<'_> {
        TicketClassification {
            desk: self.desk,
            store: self.store.as_ref(),
            ticket_id: self.ticket_id(),
            priority_given: self.job.priority_given,
        }
    }

    /// Extraction, retrieval, decision and reply, by the engine, which keeps the ticket's
    /// customer (name, e-mail, phone) out of what an LLM reads. A customer the store cannot
    /// read leaves the masking to patterns: the message is still answered.
    async fn answer(&self) -> Result<Answer> {
        let customer = match self.store.customer(self.job.ticket.customer_id).await {
            Ok(found) => found.map(|c| KnownCustomer {
                name: Some(c.name),
                email: c.email,
                phone: c.phone,
            }),
            Err(e) => {
                tracing::warn!(ticket = self.ticket_id(), error = %e.chain(), "cannot read the ticket's customer");
                None
            }
        };
        let request = AnswerRequest {
            text: self.job.text.clone(),
            model: None,
        };
        let customer = customer.unwrap_or_default();
        self.desk.engine.answer_for(request, &customer).await
    }

    /// Stores a record; a failed write is logged and does not undo the others: the ticket
    /// and its status are already safe.
    async fn record(&self, step: Option<StepRecord>) {
        if let Some(step) = step {
            crate::telemetry::pipeline_step(
                &step.step,
                step.status.as_str(),
                step.duration_ms / 1000.0,
            );
            let written = self.store.add_step(self.ticket_id(), &step).await;
            self.logged(written.map(drop), "a pipeline step was not stored");
        }
    }

    fn logged(&self, written: Result<()>, what: &str) {
        if let Err(e) = written {
            tracing::error!(ticket = self.ticket_id(), error = %e.chain(), "{what}");
        }
    }

    /// The answer's records (extraction, retrieved entries, reply) and its steps.
    #[tracing::instrument(name = "records", skip_all)]
    async fn record_answer(&self, answer: &Result<Answer>) {
        self.record(step("ingestion", Some(self.job.ingestion_ms), None))
            .await;
        let a = match answer {
            Ok(a) => a,
            Err(e) => {
                return self
                    .record(step("extraction", None, Some(e.to_string())))
                    .await
            }
        };
        self.record_extraction(a).await;
        self.record(step("extraction", a.timings.extraction_ms, None))
            .await;
        if a.timings.retrieval_ms.is_some() {
            let failed = a.reason == Some(Reason::StepFailed);
            if !failed {
                self.record_retrieval(a).await;
            }
            let error = failed.then(|| a.notes.join("; "));
            self.record(step("retrieval", a.timings.retrieval_ms, error))
                .await;
        }
        self.record(step("decision", a.timings.decision_ms.or(Some(0.0)), None))
            .await;
        if self.record_response(a).await {
            self.record(step("response", a.timings.response_ms, None))
                .await;
        }
    }

    async fn record_extraction(&self, a: &Answer) {
        let x = &a.extraction;
        let record = ExtractionRecord {
            source: "devicekb".into(),
            message_id: None,
            model: x.model.clone(),
            manufacturer: x.manufacturer.clone(),
            error_codes: serde_json::json!(x.error_codes),
            serial: x.serial.clone(),
            entities: serde_json::to_value(&x.entities).unwrap_or_default(),
        };
        let written = self.store.add_extraction(self.ticket_id(), &record).await;
        self.logged(written.map(drop), "the extraction was not stored");
    }

    async fn record_retrieval(&self, a: &Answer) {
        let record = RagRecord {
            query: self.job.text.clone(),
            mode: "hybrid".into(),
            generation: a.generation.clone(),
            results: serde_json::to_value(&a.retrieved).unwrap_or_default(),
        };
        let written = self.store.add_rag_result(self.ticket_id(), &record).await;
        self.logged(written.map(drop), "the retrieved entries were not stored");
    }

    /// The reply (sent) or the draft (for an agent); false when there is neither.
    async fn record_response(&self, a: &Answer) -> bool {
        let Some(body) = a.reply.as_ref().or(a.draft.as_ref()) else {
            return false;
        };
        let llm = a.llm.as_ref().filter(|l| l.used);
        let record = ResponseRecord {
            responder: ResponderKind::Auto,
            author: a.responder.map(|r| r.as_str().to_string()),
            body: body.clone(),
            citations: serde_json::json!(a.citations.iter().map(|c| &c.kb_id).collect::<Vec<_>>()),
            confidence: Some(f64::from(a.confidence)),
            send_status: if a.reply.is_some() {
                SendStatus::Pending
            } else {
                SendStatus::Draft
            },
            llm_model: llm.map(|l| l.usage.model.clone()),
            prompt_tokens: llm.map(|l| i64::from(l.usage.prompt_tokens)),
            completion_tokens: llm.map(|l| i64::from(l.usage.completion_tokens)),
            latency_ms: llm.map(|l| l.usage.latency_ms as i64),
        };
        let written = self.store.add_response(self.ticket_id(), &record).await;
        self.logged(written.map(drop), "the reply was not stored");
        true
    }

    /// The customer's device the message speaks of: found by the extracted serial number
    /// (or created with it), or the customer's only device of the extracted model.
    #[tracing::instrument(name = "device", skip_all)]
    async fn link_device(&self, answer: &Answer) -> Option<i64> {
        let x = &answer.extraction;
        let ticket = &self.job.ticket;
        if x.serial.is_none() && x.model.is_none() {
            return None;
        }
        let devices = match self.store.devices(ticket.customer_id).await {
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
            let created = self
                .store
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

    /// The ticket's status: resolved when answered automatically, else escalated with the
    /// reason. The one write the pipeline cannot do without.
    async fn settle(&self, answer: &Result<Answer>) -> Result<(Ticket, Option<String>)> {
        let (status, reason, note) = match answer {
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
                tracing::warn!(ticket = self.ticket_id(), error = %e.chain(), "the pipeline failed; escalating");
                (
                    Status::Escalated,
                    Some("step_failed".to_string()),
                    e.to_string(),
                )
            }
        };
        let ticket = self
            .store
            .set_status(
                self.ticket_id(),
                status,
                reason.as_deref(),
                "pipeline",
                Some(&note),
            )
            .await?;
        Ok((ticket, reason))
    }

    /// The pipeline has handled the message it read (answered, or escalated with its
    /// evidence); any that arrived meanwhile still wait for a person. A failed retrieval
    /// leaves it unprocessed, for a person to read.
    async fn close_message(&self, a: &Answer) {
        if a.reason == Some(Reason::StepFailed) {
            return;
        }
        if let Some(id) = self.job.message_id {
            let written = self.store.mark_message_processed(id).await;
            self.logged(written, "the message was not marked processed");
        }
    }

    /// An automatic reply joins the conversation as an outbound message.
    async fn send_reply(&self, ticket: &Ticket, a: &Answer) {
        let Some(reply) = a.reply.as_ref().filter(|_| a.decision == Decision::Auto) else {
            return;
        };
        let outbound = NewMessage {
            ticket_id: ticket.id,
            customer_id: Some(ticket.customer_id),
            direction: Direction::Outbound,
            channel: ticket.channel,
            subject: Some(super::subject::reply_subject(&ticket.subject)),
            body: reply.clone(),
            transcription: None,
            processed: true,
            idempotency: None,
            attachments: Vec::new(),
        };
        let written = self.store.add_message(&outbound).await;
        self.logged(
            written.map(drop),
            "the automatic reply was not stored as a message",
        );
    }
}

/// A step's record: failed with its error, or ok with its duration; `None` when the step
/// did not run.
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
