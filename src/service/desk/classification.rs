//! A ticket's classification (category, priority, churn risk) and its records. The
//! pipeline classifies a ticket before anything is recorded when the classifier is ready;
//! a server's first training embeds the whole labelled set (seconds, far longer on a busy
//! machine), and a ticket arriving meanwhile is not held for it: it is answered and
//! settled, then classified in the background once the classifier is trained. The
//! classification step is recorded last, so a ticket whose deferred classification did not
//! end (the server stopped) is found by its missing step and classified by the sweep.

use std::sync::Arc;
use std::time::Duration;

use super::Desk;
use crate::answer::Answer;
use crate::classify::{Classification, Classifier, MODEL_NAME, MODEL_VERSION};
use crate::error::Result;
use crate::store::{
    LateClassification, PredictionRecord, Priority, StepRecord, StepStatus, Store, Ticket,
};

/// The name of a ticket's classification step: a ticket without one is not classified yet.
pub(super) const CLASSIFICATION_STEP: &str = "classification";

/// What classification decided for a ticket, and how long it took.
pub(super) struct Classified {
    pub classification: Option<Classification>,
    pub ms: f64,
    pub error: Option<String>,
}

impl Classified {
    fn failed(ms: f64, error: String) -> Classified {
        Classified {
            classification: None,
            ms,
            error: Some(error),
        }
    }
}

/// One ticket's classification records, written by the pipeline or after it.
pub(super) struct TicketClassification<'a> {
    pub desk: &'a Arc<Desk>,
    pub store: &'a dyn Store,
    pub ticket_id: i64,
    /// The client chose the priority: classification keeps it.
    pub priority_given: bool,
}

impl TicketClassification<'_> {
    /// Classifies `text` now if the classifier is trained within `wait`; `None` when it is
    /// still training then, and the ticket is classified later (`classify_later`).
    #[tracing::instrument(name = "classification", skip_all)]
    pub async fn classify_now(
        &self,
        text: &str,
        answer: &Result<Answer>,
        wait: Duration,
    ) -> Option<Classified> {
        let answer = match answer {
            Ok(a) => a,
            Err(e) => return Some(Classified::failed(0.0, format!("not run: {e}"))),
        };
        let started = std::time::Instant::now();
        let classifier = match self.desk.engine.classifier_within(wait).await? {
            Ok(c) => c,
            Err(e) => {
                // As if still training: classified after the answer, or by the sweep once
                // training works, never marked failed for good by a passing overload.
                log_untrained(&e);
                return None;
            }
        };
        let mut classified = self.classify_with(classifier, text, Some(answer)).await;
        // The step's duration counts the wait for the classifier too.
        classified.ms = crate::service::elapsed_ms(started);
        Some(classified)
    }

    /// Classifies `text` with a trained classifier, from the evidence `answer` gathered
    /// (from scratch without one).
    async fn classify_with(
        &self,
        classifier: Option<Arc<Classifier>>,
        text: &str,
        answer: Option<&Answer>,
    ) -> Classified {
        let started = std::time::Instant::now();
        let engine = &self.desk.engine;
        let evidence = match answer {
            Some(a) => engine.evidence_from_answer(text, a).await,
            None => engine.evidence(text).await,
        };
        let result = match evidence {
            Ok(evidence) => engine.classify_with(classifier, evidence).await,
            Err(e) => Err(e),
        };
        let ms = crate::service::elapsed_ms(started);
        match result {
            Ok(classification) => Classified {
                classification,
                ms,
                error: None,
            },
            Err(e) => {
                tracing::warn!(error = %e.chain(), "classification failed");
                Classified::failed(ms, e.to_string())
            }
        }
    }

    /// The classification step and, when there is one, the three predictions.
    pub async fn record(&self, classified: &Classified) {
        self.record_step(classified).await;
        if let Some(c) = &classified.classification {
            self.store_predictions(c).await;
        }
    }

    async fn record_step(&self, classified: &Classified) {
        let step = classification_step(classified);
        crate::telemetry::pipeline_step(
            &step.step,
            step.status.as_str(),
            step.duration_ms / 1000.0,
        );
        let written = self.store.add_step(self.ticket_id, &step).await;
        self.logged(written.map(drop), "a pipeline step was not stored");
    }

    /// Stores the three predictions with their confidence and the model's version.
    #[tracing::instrument(name = "predictions", skip_all)]
    async fn store_predictions(&self, c: &Classification) {
        for record in &predictions_of(c) {
            let written = self.store.add_prediction(self.ticket_id, record).await;
            self.logged(written.map(drop), "a prediction was not stored");
        }
    }

    /// What classification decided, and the device, in one write: the category, the
    /// priority unless the client chose one, the retention flag (returned).
    pub async fn store_on_ticket(
        &self,
        classified: Option<&Classified>,
        device_id: Option<i64>,
    ) -> bool {
        let c = classified.and_then(|c| c.classification.as_ref());
        let retention = self.retention(c);
        let priority = self.priority(c);
        if c.is_some() || device_id.is_some() {
            let category = c.map(|c| c.category.label.as_str());
            let written = self
                .store
                .classify_ticket(self.ticket_id, category, priority, retention, device_id)
                .await;
            self.logged(written, "the classification was not stored");
        }
        retention
    }

    fn retention(&self, c: Option<&Classification>) -> bool {
        c.is_some_and(|c| c.churn_risk >= self.desk.config().retention_threshold)
    }

    /// The predicted priority, unless the client chose one.
    fn priority(&self, c: Option<&Classification>) -> Option<Priority> {
        c.filter(|_| !self.priority_given)
            .and_then(|c| Priority::parse(&c.priority.label).ok())
    }

    fn logged(&self, written: Result<()>, what: &str) {
        if let Err(e) = written {
            tracing::error!(ticket = self.ticket_id, error = %e.chain(), "{what}");
        }
    }

    /// Classifies a settled ticket with `classifier` and writes it all at once, unless the
    /// ticket was classified meanwhile (by another server's sweep). A failure is recorded
    /// only when `record_failure` (the sweep's last word); after an answer it is left for
    /// the sweep to try again.
    async fn classify_late(
        &self,
        classifier: Option<Arc<Classifier>>,
        text: &str,
        answer: Option<&Answer>,
        record_failure: bool,
    ) -> bool {
        let classified = self.classify_with(classifier, text, answer).await;
        if classified.error.is_some() && !record_failure {
            return false;
        }
        let c = classified.classification.as_ref();
        let late = LateClassification {
            step: classification_step(&classified),
            predictions: c.map(predictions_of).unwrap_or_default(),
            category: c.map(|c| c.category.label.clone()),
            priority: self.priority(c),
            retention_flag: self.retention(c),
        };
        match self
            .store
            .record_late_classification(self.ticket_id, &late)
            .await
        {
            Ok(true) => {
                let step = &late.step;
                crate::telemetry::pipeline_step(
                    &step.step,
                    step.status.as_str(),
                    step.duration_ms / 1000.0,
                );
                tracing::info!(
                    ticket = self.ticket_id,
                    category = late.category.as_deref(),
                    "classified a ticket after it settled"
                );
                true
            }
            Ok(false) => {
                tracing::info!(
                    ticket = self.ticket_id,
                    "the ticket was classified meanwhile; this classification is dropped"
                );
                false
            }
            Err(e) => {
                self.logged(Err(e), "the late classification was not stored");
                false
            }
        }
    }
}

/// Removes a ticket from the set waiting to be classified however its task ends.
struct Classifying<'a>(&'a Desk, i64);

impl Drop for Classifying<'_> {
    fn drop(&mut self) {
        self.0.classifying.lock().remove(&self.1);
    }
}

impl Desk {
    /// Classifies a ticket the pipeline has settled without waiting for the classifier,
    /// on its own task, once the classifier is trained.
    pub(super) fn classify_later(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        ticket_id: i64,
        priority_given: bool,
        text: String,
        answer: Answer,
    ) {
        let desk = self.clone();
        desk.classifying.lock().insert(ticket_id);
        tokio::spawn(async move {
            let _pending = Classifying(&desk, ticket_id);
            let classifier = match desk.engine.classifier().await {
                Ok(c) => c,
                Err(e) => {
                    // Left without its step: the sweep classifies it once training works.
                    log_untrained(&e);
                    return;
                }
            };
            TicketClassification {
                desk: &desk,
                store: store.as_ref(),
                ticket_id,
                priority_given,
            }
            .classify_late(classifier, &text, Some(&answer), false)
            .await;
        });
    }

    /// Whether this server is classifying the ticket after its answer now.
    pub(super) fn is_classifying(&self, ticket_id: i64) -> bool {
        self.classifying.lock().contains(&ticket_id)
    }

    /// Classifies a settled ticket with no classification step, found by the sweep (its
    /// classification after the answer did not end) and claimed by this server, with the
    /// trained `classifier`; its priority is predicted unless the client chose it. A
    /// failure is recorded as the ticket's classification step. True when this server
    /// wrote it.
    pub(super) async fn classify_unclassified(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        ticket: &Ticket,
        classifier: Option<Arc<Classifier>>,
    ) -> bool {
        tracing::info!(ticket = ticket.id, "classifying a ticket left unclassified");
        self.classifying.lock().insert(ticket.id);
        let _pending = Classifying(self, ticket.id);
        let text = crate::kb::training::ticket_text(&ticket.subject, &ticket.description);
        TicketClassification {
            desk: self,
            store: store.as_ref(),
            ticket_id: ticket.id,
            priority_given: ticket.priority_given,
        }
        .classify_late(classifier, &text, None, true)
        .await
    }
}

/// Logs why a ticket is left for the sweep to classify: a training that failed now is a
/// warning; the same failure remembered (`NotReady`, until its back-off ends; logged
/// when it happened) is not repeated at that level for every ticket.
fn log_untrained(e: &crate::error::Error) {
    if matches!(e, crate::error::Error::NotReady(_)) {
        tracing::debug!(error = %e.chain(), "the classifier is not trained; the sweep will classify the ticket");
    } else {
        tracing::warn!(error = %e.chain(), "the classifier could not be trained; the sweep will classify the ticket");
    }
}

/// Classification's record: skipped (and why) when the KB trains no classifier.
fn classification_step(classified: &Classified) -> StepRecord {
    StepRecord {
        step: CLASSIFICATION_STEP.into(),
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
    }
}

/// The three predictions of a classification, with their confidence and the model's version.
fn predictions_of(c: &Classification) -> Vec<PredictionRecord> {
    let prediction =
        |task: &str, label: &str, confidence: f32, score: Option<f64>| PredictionRecord {
            task: task.into(),
            label: label.into(),
            confidence: f64::from(confidence),
            score,
            model: MODEL_NAME.into(),
            version: MODEL_VERSION.into(),
        };
    vec![
        prediction("category", &c.category.label, c.category.confidence, None),
        prediction("priority", &c.priority.label, c.priority.confidence, None),
        prediction(
            "churn_risk",
            &c.churn_level.label,
            c.churn_level.confidence,
            Some(f64::from(c.churn_risk)),
        ),
    ]
}
