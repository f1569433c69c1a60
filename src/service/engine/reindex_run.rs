//! The reindex in progress, or the last one: its phase and counts while it runs, its
//! report or its error after. `POST /admin/reindex?wait=false` starts one and answers at
//! once; `GET /admin/reindex` follows it, so a build that takes minutes is watched instead
//! of held open, and its progress is not thrown away.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;

use super::Engine;
use crate::error::{Error, Result, ValidationError};
use crate::index::{Progress, ReindexReport};

/// Where a reindex stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// None has run since the server started.
    #[default]
    Idle,
    Running,
    Succeeded,
    Failed,
}

/// The step a running reindex is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Reading and validating the KB files.
    Validating,
    /// Embedding the new or changed passages (`done` of `total`).
    Embedding,
    Indexing,
    Calibrating,
    /// Writing the generation and switching to it.
    Switching,
}

/// What `GET /admin/reindex` answers.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ReindexRun {
    pub state: RunState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Passages embedded so far, while embedding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done: Option<usize>,
    /// Passages to embed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    /// When it started, in seconds since 1970 (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    /// Seconds since it started, or how long it took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// The new generation, when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ReindexReport>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the KB did not validate: every problem, as file:line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ValidationError>>,
}

/// The run's record, shared with the progress callback.
#[derive(Default)]
pub(super) struct RunRecord {
    run: ReindexRun,
    started: Option<Instant>,
}

impl RunRecord {
    fn begin(&mut self) {
        *self = RunRecord::default();
        self.run.state = RunState::Running;
        self.run.phase = Some(Phase::Validating);
        self.run.started_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs());
        self.started = Some(Instant::now());
    }

    fn progress(&mut self, progress: &Progress) {
        let (phase, counts) = match *progress {
            Progress::Embedding { done, total } => (Phase::Embedding, Some((done, total))),
            Progress::Indexing => (Phase::Indexing, None),
            Progress::Calibrating => (Phase::Calibrating, None),
            Progress::Switching => (Phase::Switching, None),
        };
        self.run.phase = Some(phase);
        if let Some((done, total)) = counts {
            self.run.done = Some(done);
            self.run.total = Some(total);
        }
    }

    fn finish(&mut self, outcome: &Result<ReindexReport>) {
        self.run.phase = None;
        self.run.seconds = self.started.map(|s| s.elapsed().as_secs_f64());
        match outcome {
            Ok(report) => {
                self.run.state = RunState::Succeeded;
                self.run.report = Some(report.clone());
            }
            Err(e) => {
                self.run.state = RunState::Failed;
                self.run.error = Some(e.to_string());
                if let Error::KbInvalid(problems) = e {
                    self.run.errors = Some(problems.clone());
                }
            }
        }
    }

    fn snapshot(&self) -> ReindexRun {
        let mut run = self.run.clone();
        if run.state == RunState::Running {
            run.seconds = self.started.map(|s| s.elapsed().as_secs_f64());
        }
        run
    }
}

impl Engine {
    /// The reindex running now, or the last one.
    pub fn reindex_run(&self) -> ReindexRun {
        self.run.lock().snapshot()
    }

    /// Starts a reindex on its own task and answers at once with its state; a reindex
    /// already running is a conflict.
    pub async fn start_reindex(self: &Arc<Self>) -> Result<ReindexRun> {
        let guard = self.claim_reindex()?;
        let engine = self.clone();
        tokio::spawn(async move {
            let outcome = engine.reindex_holding(guard, Arc::new(|_| {})).await;
            if let Err(e) = &outcome {
                tracing::warn!(error = %e.chain(), "reindex failed");
            }
        });
        Ok(self.reindex_run())
    }

    /// The reindex lock, and a new run recorded; a reindex already running is a conflict.
    pub(super) fn claim_reindex(&self) -> Result<tokio::sync::OwnedMutexGuard<()>> {
        let guard = self
            .reindexing
            .clone()
            .try_lock_owned()
            .map_err(|_| Error::Conflict("a reindex is already running".into()))?;
        self.run.lock().begin();
        Ok(guard)
    }

    /// Runs a reindex while holding the reindex lock, recording its progress and outcome.
    pub(super) async fn reindex_holding(
        self: &Arc<Self>,
        _guard: tokio::sync::OwnedMutexGuard<()>,
        progress: ProgressFn,
    ) -> Result<ReindexReport> {
        let record = self.run.clone();
        let report: ProgressFn = Arc::new(move |p: Progress| {
            record.lock().progress(&p);
            progress(p);
        });
        let outcome = self.build_and_switch(report).await;
        self.run.lock().finish(&outcome);
        outcome
    }
}

pub(super) type SharedRun = Arc<Mutex<RunRecord>>;

/// Told of each step of a reindex, from the blocking pool.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;
