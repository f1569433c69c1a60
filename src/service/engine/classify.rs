//! Ticket classification in the service: gathering the evidence the classifier reads,
//! training it on the current generation's labelled set (once, when first needed) and
//! measuring it, by cross-validation or on tickets written apart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::search::{SearchMode, ValidSearch};
use super::{Engine, QueryKey};
use crate::answer::Answer;
use crate::classify::eval::{cross_validate, report, ClassifyReport, Method};
use crate::classify::{Classification, Classifier, Evidence};
use crate::error::{Error, Result};
use crate::index::query::clean_query;
use crate::kb::training::LabelledTicket;

/// The classifier trained for one generation, and the last training that failed.
#[derive(Default)]
pub(crate) struct ClassifierSlot {
    trained: Option<(String, Option<Arc<Classifier>>)>,
    failed: Option<TrainingFailure>,
}

/// A training that failed: until `retry_at`, callers get its error at once instead of
/// each training again (every ticket arriving meanwhile asks for the classifier).
struct TrainingFailure {
    generation: String,
    retry_at: Instant,
    /// Doubles with each failure of the same generation, up to `RETRY_AT_MOST`.
    backoff: Duration,
    error: String,
}

/// How long after a failed training the next one may start, the first time.
const RETRY_AT_FIRST: Duration = Duration::from_secs(15);
/// The longest wait between two trainings of a generation that keep failing.
const RETRY_AT_MOST: Duration = Duration::from_secs(600);

/// Labelled tickets whose evidence is computed at once when training or evaluating.
const EVIDENCE_IN_FLIGHT: usize = 4;

/// How long a training or an evaluation may wait in all for room in the embedding queue.
/// Live queries fill it in a burst and are refused when it is full; training is
/// background work and can wait for them rather than fail, but not hold the classifier
/// (every ticket arriving meanwhile waits for it) through a load that does not end.
const ROOM_WAIT: Duration = Duration::from_secs(120);

impl Engine {
    /// What the classifier reads about `text`: extraction, signals, the best entry of a
    /// hybrid search and the query embedding (shared with retrieval through the cache).
    pub async fn evidence(self: &Arc<Self>, text: &str) -> Result<Evidence> {
        let generation = self.generation();
        let extraction = generation.extractor.extract(text);
        let signals = super::answer::read_signals(text);
        let found = self
            .search_valid(ValidSearch {
                query: text.to_string(),
                model_filter: None,
                limit: 1,
                mode: SearchMode::Hybrid,
            })
            .await?;
        let top_entry = found.results.first().and_then(|hit| {
            generation.ord_of(&hit.kb_id).map(|ord| {
                (
                    generation.entry(ord).category.as_str().to_string(),
                    hit.relevance,
                )
            })
        });
        let embedding = self.query_vector_async(&clean_query(text)).await?;
        Ok(Evidence {
            text: text.to_string(),
            embedding: embedding.to_vec(),
            has_error_code: !extraction.error_codes.is_empty(),
            has_model: extraction.model.is_some(),
            has_serial: extraction.serial.is_some(),
            signals,
            top_entry,
        })
    }

    /// The evidence of a message the pipeline has just answered: nothing is recomputed
    /// but the embedding, which retrieval left in the cache, or which it did not need
    /// (BM25 alone was decisive) and is computed now, after the answer.
    pub(crate) async fn evidence_from_answer(
        self: &Arc<Self>,
        text: &str,
        answer: &Answer,
    ) -> Result<Evidence> {
        if answer.retrieved.is_empty() {
            // Answered by pattern without retrieval: look the best entry up as training did.
            return self.evidence(text).await;
        }
        let embedding = self.query_vector_async(&clean_query(text)).await?;
        Ok(Evidence {
            text: text.to_string(),
            embedding: embedding.to_vec(),
            has_error_code: !answer.extraction.error_codes.is_empty(),
            has_model: answer.extraction.model.is_some(),
            has_serial: answer.extraction.serial.is_some(),
            signals: answer.signals.clone(),
            top_entry: answer
                .retrieved
                .first()
                .map(|r| (r.category.clone(), r.relevance)),
        })
    }

    async fn evidence_for_all(
        self: &Arc<Self>,
        tickets: &[LabelledTicket],
    ) -> Result<Vec<Evidence>> {
        // A few at a time: the labelled set is hundreds of tickets, and the embedding
        // queue is bounded for live queries, which must find room in it meanwhile.
        let in_flight = Arc::new(tokio::sync::Semaphore::new(EVIDENCE_IN_FLIGHT));
        let no_room_after = Instant::now() + ROOM_WAIT;
        let mut tasks = tokio::task::JoinSet::new();
        for (i, t) in tickets.iter().enumerate() {
            let service = self.clone();
            let text = t.text();
            let in_flight = in_flight.clone();
            tasks.spawn(async move {
                let _permit = in_flight.acquire_owned().await;
                (
                    i,
                    service
                        .evidence_when_there_is_room(&text, no_room_after)
                        .await,
                )
            });
        }
        let mut evidence: Vec<Option<Evidence>> = vec![None; tickets.len()];
        while let Some(joined) = tasks.join_next().await {
            let (i, e) =
                joined.map_err(|e| Error::Internal(format!("an evidence task failed: {e}")))?;
            evidence[i] = Some(e?);
        }
        Ok(evidence.into_iter().flatten().collect())
    }

    /// The evidence of a labelled ticket, waiting while the embedding queue is full (until
    /// `no_room_after`) instead of failing the whole training or evaluation.
    async fn evidence_when_there_is_room(
        self: &Arc<Self>,
        text: &str,
        no_room_after: Instant,
    ) -> Result<Evidence> {
        let mut pause = Duration::from_millis(50);
        loop {
            match self.evidence(text).await {
                Err(Error::Overloaded(_)) if Instant::now() < no_room_after => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                done => return done,
            }
        }
    }

    /// The classifier of the current generation, trained on its labelled tickets the first
    /// time it is asked for; `None` when the KB has no labelled set. After a failed
    /// training, callers get its error (`NotReady`) until the next one may start: 15 s
    /// later, doubling with each failure up to 10 min; a new generation trains at once.
    pub async fn classifier(self: &Arc<Self>) -> Result<Option<Arc<Classifier>>> {
        let mut slot = self.classifier.lock().await;
        // Read once the lock is held: a caller that waited through a training and a
        // reindex trains the generation served now, not the one it arrived under.
        let generation = self.generation();
        if let Some((name, trained)) = slot.trained.as_ref() {
            if *name == generation.name {
                return Ok(trained.clone());
            }
        }
        // Another generation's failure says nothing of this one's.
        let earlier = slot
            .failed
            .as_ref()
            .filter(|f| f.generation == generation.name);
        if let Some(failure) = earlier {
            let now = Instant::now();
            if now < failure.retry_at {
                return Err(Error::NotReady(format!(
                    "the classifier's last training failed ({}); it is tried again in {} s",
                    failure.error,
                    (failure.retry_at - now).as_secs().max(1)
                )));
            }
        }
        let backoff = earlier.map_or(RETRY_AT_FIRST, |f| (f.backoff * 2).min(RETRY_AT_MOST));
        match self.train(&generation).await {
            Ok(trained) => {
                slot.trained = Some((generation.name.clone(), trained.clone()));
                slot.failed = None;
                Ok(trained)
            }
            Err(e) => {
                tracing::warn!(
                    generation = %generation.name,
                    error = %e.chain(),
                    retry_in_s = backoff.as_secs(),
                    "the ticket classifier's training failed"
                );
                slot.failed = Some(TrainingFailure {
                    generation: generation.name.clone(),
                    retry_at: Instant::now() + backoff,
                    backoff,
                    error: e.to_string(),
                });
                Err(e)
            }
        }
    }

    /// Trains a classifier on `generation`'s labelled tickets; `None` without any.
    async fn train(
        self: &Arc<Self>,
        generation: &Arc<crate::index::Generation>,
    ) -> Result<Option<Arc<Classifier>>> {
        let trained = if generation.training.is_empty() {
            None
        } else {
            let started = std::time::Instant::now();
            let tickets = generation.training.clone();
            let keys: Arc<Vec<QueryKey>> = Arc::new(
                tickets
                    .iter()
                    .map(|t| QueryKey::of(&clean_query(&t.text())))
                    .collect(),
            );
            let (service, k) = (self.clone(), keys.clone());
            let preloaded = self
                .cpu(move || Ok(service.preload_training_vectors(&k)))
                .await?;
            let evidence = self.evidence_for_all(&tickets).await?;
            if preloaded < Engine::distinct(&keys) {
                // Kept for the next start, in the background: the first ticket waiting for
                // this classifier should not wait for a file write too.
                let service = self.clone();
                let vectors: Vec<Vec<f32>> = evidence.iter().map(|e| e.embedding.clone()).collect();
                let keys = keys.clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = service.store_training_vectors(&keys, &vectors) {
                        tracing::warn!(error = %e.chain(), "could not keep the training vectors");
                    }
                });
            }
            let fit_started = std::time::Instant::now();
            let classifier = self
                .cpu(move || Ok(Classifier::train(&tickets, &evidence)))
                .await?;
            let fit_ms = fit_started.elapsed().as_millis() as u64;
            tracing::info!(
                generation = %generation.name,
                tickets = classifier.trained_on,
                vectors_kept = preloaded,
                took_ms = started.elapsed().as_millis() as u64,
                fit_ms,
                "trained the ticket classifier"
            );
            Some(Arc::new(classifier))
        };
        Ok(trained)
    }

    /// The current generation's classifier if it is trained now (`Some(None)`: the KB has
    /// no labelled set); `None` while it trains or before it is first asked for.
    pub fn trained_classifier(&self) -> Option<Option<Arc<Classifier>>> {
        let generation = self.generation();
        let slot = self.classifier.try_lock().ok()?;
        match slot.trained.as_ref() {
            Some((name, trained)) if *name == generation.name => Some(trained.clone()),
            _ => None,
        }
    }

    /// The current generation's classifier if it is trained within `wait`; `None` when it
    /// is still training then. Training goes on in the background either way (a first
    /// training embeds hundreds of tickets: seconds, longer on a busy machine), so a
    /// caller that cannot wait that long asks again later.
    pub async fn classifier_within(
        self: &Arc<Self>,
        wait: std::time::Duration,
    ) -> Option<Result<Option<Arc<Classifier>>>> {
        if let Some(trained) = self.trained_classifier() {
            return Some(Ok(trained));
        }
        let engine = self.clone();
        let training = tokio::spawn(async move { engine.classifier().await });
        match tokio::time::timeout(wait, training).await {
            Ok(joined) => Some(joined.unwrap_or_else(|e| {
                Err(Error::Internal(format!(
                    "the classifier's training failed: {e}"
                )))
            })),
            Err(_) => None,
        }
    }

    /// Classifies a message (category, priority, churn risk); `None` without a classifier.
    pub async fn classify(self: &Arc<Self>, evidence: Evidence) -> Result<Option<Classification>> {
        let classifier = self.classifier().await?;
        self.classify_with(classifier, evidence).await
    }

    /// Classifies a message with a classifier already trained; `None` without one.
    pub async fn classify_with(
        self: &Arc<Self>,
        classifier: Option<Arc<Classifier>>,
        evidence: Evidence,
    ) -> Result<Option<Classification>> {
        let Some(classifier) = classifier else {
            return Ok(None);
        };
        self.cpu(move || Ok(Some(classifier.classify(&evidence))))
            .await
    }

    /// Cross-validated figures of the classifier on `tickets`.
    pub async fn eval_classify(
        self: &Arc<Self>,
        tickets: Vec<LabelledTicket>,
        folds: usize,
    ) -> Result<ClassifyReport> {
        let evidence = self.evidence_for_all(&tickets).await?;
        let threshold = self.config().retention_threshold;
        self.cpu(move || {
            let predictions = cross_validate(&tickets, &evidence, folds);
            let method = Method::CrossValidation { folds };
            Ok(report(&tickets, &predictions, method, threshold))
        })
        .await
    }

    /// Figures of the classifier the current generation serves (trained on its labelled
    /// set) on `tickets`, which it never saw: refused when the KB has no labelled set.
    pub async fn eval_classify_held_out(
        self: &Arc<Self>,
        tickets: Vec<LabelledTicket>,
    ) -> Result<ClassifyReport> {
        // Tickets the classifier trained on would flatter it: refused, naming a few.
        let trained_on = &self.generation().training;
        let seen: Vec<&str> = tickets
            .iter()
            .filter(|t| trained_on.iter().any(|l| l.id == t.id))
            .map(|t| t.id.as_str())
            .collect();
        if !seen.is_empty() {
            return Err(Error::invalid(
                "FILE",
                format!(
                    "{} of its tickets are in the KB's labelled set, which the classifier trains on (ids {}): held-out tickets must be others",
                    seen.len(),
                    seen.iter().take(5).copied().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let Some(classifier) = self.classifier().await? else {
            return Err(Error::invalid(
                "training",
                "the KB has no labelled tickets to train the classifier on",
            ));
        };
        let evidence = self.evidence_for_all(&tickets).await?;
        let threshold = self.config().retention_threshold;
        self.cpu(move || {
            let predictions: Vec<Classification> =
                evidence.iter().map(|e| classifier.classify(e)).collect();
            let method = Method::HeldOut {
                trained_on: classifier.trained_on,
            };
            Ok(report(&tickets, &predictions, method, threshold))
        })
        .await
    }
}
