//! Nothing stuck: a ticket whose pipeline did not finish (the process was killed between
//! two steps, the database went away) stays `new`. At start and then every minute, the
//! sweep takes each such ticket once the pipeline has had time to end: with no step
//! recorded, the pipeline runs on it again (nothing was decided yet); with some steps
//! recorded, it is escalated `step_failed` to a person rather than run twice. Each ticket is
//! claimed first with a lease in the database (a conditional UPDATE), so two servers on one
//! database never both handle it; a client's retry of a stalled submission takes the same
//! lease (`resume_if_stalled`). The sweep also classifies the settled tickets whose
//! classification, left for after their answer while the classifier trained, did not end.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::pipeline::PipelineJob;
use super::tickets::{first_message, TicketCreated};
use super::Desk;
use crate::error::Result;
use crate::store::{Direction, Status, Store, Ticket};

/// How long a claim keeps other servers off a ticket (its pipeline runs meanwhile).
const LEASE_SECS: u64 = 300;
/// Tickets handled per sweep; the rest wait for the next one.
const BATCH: u32 = 100;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Tickets whose pipeline ran again.
    pub resumed: usize,
    /// Tickets escalated `step_failed`.
    pub escalated: usize,
    /// Settled tickets classified (their classification after the answer did not end).
    pub classified: usize,
}

enum Outcome {
    Resumed,
    Escalated,
}

impl Desk {
    /// Resumes or escalates the stalled tickets this server can claim. A pipeline
    /// normally ends in well under a second, an LLM reply within its deadline (20 s by
    /// default): a ticket still `new` after `DEVICEKB_STALLED_AFTER_SECS` (2 minutes) is
    /// stalled.
    pub async fn sweep_stalled(self: &Arc<Self>) -> Result<Swept> {
        self.sweep_stalled_after(self.config().stalled_after_secs.max(1))
            .await
    }

    /// `sweep_stalled` with another idle delay (tests).
    pub async fn sweep_stalled_after(self: &Arc<Self>, idle_secs: u64) -> Result<Swept> {
        let store = self.store()?;
        let mut swept = Swept::default();
        for ticket in store.stalled_tickets(idle_secs, BATCH).await? {
            if self.closing.load(Ordering::Relaxed) {
                break;
            }
            if self.pipelines_running.lock().contains(&ticket.id)
                || !store
                    .claim_stalled(ticket.id, idle_secs, LEASE_SECS)
                    .await?
            {
                continue;
            }
            // One ticket failing (its pipeline, the database for a moment) does not keep
            // the others waiting for the next sweep.
            match self.take_up(&store, &ticket).await {
                Ok(Outcome::Resumed) => swept.resumed += 1,
                Ok(Outcome::Escalated) => swept.escalated += 1,
                Err(e) => tracing::warn!(
                    ticket = ticket.id,
                    error = %e.chain(),
                    "a stalled ticket could not be taken up"
                ),
            }
        }
        swept.classified = self.sweep_unclassified(&store, idle_secs).await?;
        Ok(swept)
    }

    /// Classifies the settled tickets whose classification, left for after their answer
    /// while the classifier trained, did not end (the server stopped first).
    async fn sweep_unclassified(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        idle_secs: u64,
    ) -> Result<usize> {
        // Only with the classifier trained: the sweep never waits for a training (this call
        // starts one, or queues behind the one running) while stalled tickets may be due.
        let classifier = match self.engine.classifier_within(Duration::ZERO).await {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                tracing::warn!(error = %e.chain(), "the classifier could not be trained; unclassified tickets wait");
                return Ok(0);
            }
            None => return Ok(0),
        };
        let mut classified = 0;
        for ticket in store.unclassified_tickets(idle_secs, BATCH).await? {
            if self.closing.load(Ordering::Relaxed) {
                break;
            }
            if self.is_classifying(ticket.id)
                || !store.claim_unclassified(ticket.id, LEASE_SECS).await?
            {
                continue;
            }
            if self
                .classify_unclassified(store, &ticket, classifier.clone())
                .await
            {
                classified += 1;
            }
        }
        Ok(classified)
    }

    /// Resumes a claimed stalled ticket, or escalates it when it stopped half way.
    async fn take_up(self: &Arc<Self>, store: &Arc<dyn Store>, ticket: &Ticket) -> Result<Outcome> {
        let steps = store.pipeline(ticket.id).await?.steps;
        if steps.is_empty() {
            let first = store
                .messages(ticket.id)
                .await?
                .into_iter()
                .find(|m| m.direction == Direction::Inbound)
                .map(|m| m.id);
            self.resume(store, ticket, first, false).await?;
            return Ok(Outcome::Resumed);
        }
        tracing::warn!(
            ticket = ticket.id,
            steps = steps.len(),
            "a ticket's pipeline stopped half way; escalating it"
        );
        store
            .set_status(
                ticket.id,
                Status::Escalated,
                Some("step_failed"),
                "sweep",
                Some("the pipeline was interrupted before its end"),
            )
            .await?;
        Ok(Outcome::Escalated)
    }

    /// A ticket whose first submission stopped before its pipeline ran (the process died,
    /// the database went away between two writes) is still `new` with no step recorded:
    /// a retry runs the pipeline on it. `None` when the ticket needs nothing.
    /// `message_id` is the ticket's first inbound message; `None` when it has none yet
    /// (the first submission stopped before storing it): it is stored once the lease is
    /// taken, so two servers answering retries never store it twice.
    pub(crate) async fn resume_if_stalled(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        ticket: &Ticket,
        message_id: Option<i64>,
    ) -> Result<Option<TicketCreated>> {
        if ticket.status != Status::New || !store.pipeline(ticket.id).await?.steps.is_empty() {
            return Ok(None);
        }
        // The same lease the sweep and the server that stored the ticket take: a retry,
        // another server's sweep and the first submission's pipeline never both run it.
        if !self.pipelines_running.lock().contains(&ticket.id)
            && !store.claim_pipeline(ticket.id, LEASE_SECS).await?
        {
            return Ok(None);
        }
        let message_id = match message_id {
            Some(id) => Some(id),
            None => Some(store.add_message(&first_message(ticket)).await?.0.id),
        };
        self.resume(store, ticket, message_id, true).await.map(Some)
    }

    /// Takes the pipeline lease on a ticket this server has just stored, for as long as a
    /// pipeline may take before the ticket counts as stalled: a retry reaching another
    /// server meanwhile answers with the ticket as it stands instead of running the
    /// pipeline a second time. False when such a retry took it first (it runs it).
    pub(crate) async fn hold_new_ticket(&self, store: &Arc<dyn Store>, id: i64) -> Result<bool> {
        store
            .claim_pipeline(id, self.config().stalled_after_secs.max(1))
            .await
    }

    /// Runs the pipeline on a stalled ticket this server has claimed.
    async fn resume(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        ticket: &Ticket,
        message_id: Option<i64>,
        client_waiting: bool,
    ) -> Result<TicketCreated> {
        tracing::info!(
            ticket = ticket.id,
            "resuming a ticket whose pipeline did not run"
        );
        let job = PipelineJob {
            text: crate::kb::training::ticket_text(&ticket.subject, &ticket.description),
            ticket: ticket.clone(),
            ingestion_ms: 0.0,
            priority_given: ticket.priority_given,
            client_waiting,
            message_id,
        };
        let outcome = self.run_pipeline_detached(store.clone(), job).await?;
        Ok(TicketCreated {
            created: false,
            ..outcome
        })
    }

    /// Sweeps now, then every `every`, until shutdown.
    pub(super) fn spawn_sweeper(self: &Arc<Self>, every: Duration) {
        let weak: Weak<Desk> = Arc::downgrade(self);
        self.engine.runtime().spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(desk) = weak.upgrade() else {
                    return;
                };
                if desk.closing.load(Ordering::Relaxed) {
                    return;
                }
                if desk.store.read().is_none() {
                    continue;
                }
                match desk.sweep_stalled().await {
                    Ok(s) if s.resumed + s.escalated + s.classified > 0 => tracing::info!(
                        resumed = s.resumed,
                        escalated = s.escalated,
                        classified = s.classified,
                        "stalled tickets handled"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e.chain(), "the stalled-ticket sweep failed"),
                }
            }
        });
    }
}
