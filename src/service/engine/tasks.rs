//! Reindexes as tasks, as Meilisearch's are: `POST /admin/reindex` starts one and answers
//! at once with its id; `GET /admin/tasks/{id}` follows it (phase, counts, then the
//! generation it produced or every problem as file:line). A build that takes minutes is
//! watched instead of held open, and its progress is not thrown away.
//!
//! Tasks live in the server's memory, the last [`KEPT_TASKS`] of them. Their ids count up
//! from the time the server started in milliseconds, so an id is never given twice, even
//! across restarts: a client polling a task of a server that has restarted gets a 404, not
//! another task.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;

use super::Engine;
use crate::error::{Error, Result, ValidationError};
use crate::index::recovery::ReindexLock;
use crate::index::reindex::lock_data_dir;
use crate::index::{Progress, ReindexReport};

/// How many finished tasks are remembered (the running one is always kept).
pub const KEPT_TASKS: usize = 100;

/// What a task does. One kind today; the field says so, as Meilisearch's `type` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Reindex,
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
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
    /// Embedding the KB's new words for the glossary (`words_done` of `words_total`).
    Glossary,
    Indexing,
    Calibrating,
    /// Writing the generation and switching to it.
    Switching,
}

/// What `GET /admin/tasks/{id}` answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Task {
    /// Never given twice by a server, even across restarts.
    pub id: u64,
    pub kind: TaskKind,
    pub status: TaskStatus,
    /// The step it is at, while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Entries in the KB, once its files validated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<usize>,
    /// Passages embedded so far (new or changed ones; the others are reused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done: Option<usize>,
    /// Passages to embed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    /// The glossary's words embedded so far (words a previous generation had are reused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words_done: Option<usize>,
    /// The glossary's words to embed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words_total: Option<usize>,
    /// When it started, in seconds since 1970 (UTC).
    pub started_at: u64,
    /// When it ended, in seconds since 1970 (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
    /// Seconds since it started, or how long it took.
    pub seconds: f64,
    /// The generation it produced, when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
    /// The reindex report, when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ReindexReport>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the KB did not validate: every problem, as file:line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ValidationError>>,
}

/// What `GET /admin/tasks` answers: newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskList {
    pub tasks: Vec<Task>,
}

/// A task and the clock its `seconds` are read from.
struct Tracked {
    task: Task,
    started: Instant,
}

impl Tracked {
    fn snapshot(&self) -> Task {
        let mut task = self.task.clone();
        if task.status == TaskStatus::Running {
            task.seconds = self.started.elapsed().as_secs_f64();
        }
        task
    }
}

/// The tasks of this server, newest last.
pub(super) struct TaskBook {
    next_id: u64,
    tasks: VecDeque<Tracked>,
}

fn unix_now() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

impl Default for TaskBook {
    fn default() -> Self {
        TaskBook {
            next_id: (unix_now().as_millis() as u64).max(1),
            tasks: VecDeque::new(),
        }
    }
}

impl TaskBook {
    /// The running task, if any.
    fn running(&self) -> Option<&Tracked> {
        self.tasks
            .iter()
            .rev()
            .find(|t| t.task.status == TaskStatus::Running)
    }

    /// Records a new running reindex and gives its id.
    fn begin(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.tasks.push_back(Tracked {
            task: Task {
                id,
                kind: TaskKind::Reindex,
                status: TaskStatus::Running,
                phase: Some(Phase::Validating),
                entries: None,
                done: None,
                total: None,
                words_done: None,
                words_total: None,
                started_at: unix_now().as_secs(),
                finished_at: None,
                seconds: 0.0,
                generation: None,
                report: None,
                error: None,
                errors: None,
            },
            started: Instant::now(),
        });
        while self.tasks.len() > KEPT_TASKS {
            let oldest_done = self
                .tasks
                .iter()
                .position(|t| t.task.status != TaskStatus::Running);
            match oldest_done {
                Some(at) => self.tasks.remove(at),
                None => break,
            };
        }
        id
    }

    fn get(&self, id: u64) -> Option<&Tracked> {
        self.tasks.iter().find(|t| t.task.id == id)
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut Tracked> {
        self.tasks.iter_mut().find(|t| t.task.id == id)
    }

    fn progress(&mut self, id: u64, progress: &Progress) {
        let Some(tracked) = self
            .get_mut(id)
            .filter(|t| t.task.status == TaskStatus::Running)
        else {
            return;
        };
        let task = &mut tracked.task;
        task.phase = Some(match *progress {
            Progress::Validated { entries } => {
                task.entries = Some(entries);
                Phase::Embedding
            }
            Progress::Embedding { done, total } => {
                task.done = Some(done);
                task.total = Some(total);
                Phase::Embedding
            }
            Progress::Glossary { done, total } => {
                task.words_done = Some(done);
                task.words_total = Some(total);
                Phase::Glossary
            }
            Progress::Indexing => Phase::Indexing,
            Progress::Calibrating => Phase::Calibrating,
            Progress::Switching => Phase::Switching,
        });
    }

    fn finish(&mut self, id: u64, outcome: &Result<ReindexReport>) {
        let Some(tracked) = self.get_mut(id) else {
            return;
        };
        let seconds = tracked.started.elapsed().as_secs_f64();
        let task = &mut tracked.task;
        task.phase = None;
        task.seconds = seconds;
        task.finished_at = Some(unix_now().as_secs());
        match outcome {
            Ok(report) => {
                task.status = TaskStatus::Succeeded;
                task.generation = Some(report.generation.clone());
                task.report = Some(report.clone());
            }
            Err(e) => {
                task.status = TaskStatus::Failed;
                task.error = Some(e.to_string());
                if let Error::KbInvalid(problems) = e {
                    task.errors = Some(problems.clone());
                }
            }
        }
    }
}

/// Holds the reindex lock for a task, and fails the task if it is dropped before the
/// task finished (a panic, a cancelled request), so no task stays `running` forever.
pub(super) struct Claim {
    id: u64,
    book: SharedTasks,
    finished: bool,
    /// The data directory's reindex lock, handed to the build (any server sharing the
    /// directory is refused while it is held).
    data_lock: Option<ReindexLock>,
    _lock: tokio::sync::OwnedMutexGuard<()>,
}

impl Claim {
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// Records how the task ended; the lock goes when the claim does.
    fn finish(mut self, outcome: &Result<ReindexReport>) {
        self.book.lock().finish(self.id, outcome);
        self.finished = true;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.finished {
            let stopped = Err(Error::Internal(
                "the reindex stopped before it ended".into(),
            ));
            self.book.lock().finish(self.id, &stopped);
        }
    }
}

impl Engine {
    /// One task by id.
    pub fn task(&self, id: u64) -> Result<Task> {
        self.tasks
            .lock()
            .get(id)
            .map(Tracked::snapshot)
            .ok_or_else(|| Error::NotFound {
                what: "task".into(),
                id: id.to_string(),
            })
    }

    /// The tasks remembered, newest first.
    pub fn tasks(&self) -> TaskList {
        let book = self.tasks.lock();
        TaskList {
            tasks: book.tasks.iter().rev().map(Tracked::snapshot).collect(),
        }
    }

    /// Starts a reindex on its own tokio task and answers at once with its task; a reindex
    /// already running is a conflict that names it.
    pub async fn start_reindex(self: &Arc<Self>) -> Result<Task> {
        let claim = self.claim_reindex().await?;
        let id = claim.id();
        // Followed at GET /admin/tasks/{id}: nobody waits on the handle.
        drop(self.spawn_reindex(claim, Arc::new(|_| {})));
        self.task(id)
    }

    /// Runs a claimed reindex on a tokio task of its own, so a caller that stops waiting
    /// (a client gone) neither stops the build nor marks its task failed while it goes on.
    pub(super) fn spawn_reindex(
        self: &Arc<Self>,
        claim: Claim,
        progress: ProgressFn,
    ) -> tokio::task::JoinHandle<Result<ReindexReport>> {
        let engine = self.clone();
        tokio::spawn(async move {
            let id = claim.id();
            let outcome = engine.reindex_holding(claim, progress).await;
            if let Err(e) = &outcome {
                tracing::warn!(task = id, error = %e.chain(), "reindex failed");
            }
            outcome
        })
    }

    /// The reindex locks (this server's, then the data directory's), and a new task
    /// recorded; a reindex already running is a conflict naming its task, or the process
    /// and host running it when that is another server sharing the directory.
    pub(super) async fn claim_reindex(&self) -> Result<Claim> {
        let Ok(lock) = self.reindexing.clone().try_lock_owned() else {
            let book = self.tasks.lock();
            return Err(Error::Conflict(match book.running() {
                Some(t) => format!(
                    "a reindex is already running: task {} (GET /admin/tasks/{})",
                    t.task.id, t.task.id
                ),
                None => "a reindex is already running".into(),
            }));
        };
        let data_dir = self.config.data_dir.clone();
        let data_lock = super::blocking(move || lock_data_dir(&data_dir)).await?;
        let id = self.tasks.lock().begin();
        Ok(Claim {
            id,
            book: self.tasks.clone(),
            finished: false,
            data_lock: Some(data_lock),
            _lock: lock,
        })
    }

    /// Runs a reindex while holding its claim, recording its progress and outcome.
    async fn reindex_holding(
        self: &Arc<Self>,
        mut claim: Claim,
        progress: ProgressFn,
    ) -> Result<ReindexReport> {
        let (book, id) = (claim.book.clone(), claim.id);
        let data_lock = claim
            .data_lock
            .take()
            .expect("a claim holds the lock until its build");
        let report: ProgressFn = Arc::new(move |p: Progress| {
            book.lock().progress(id, &p);
            progress(p);
        });
        let started = Instant::now();
        let outcome = self.build_and_switch(data_lock, report).await;
        crate::telemetry::reindex(outcome.is_ok(), started.elapsed());
        claim.finish(&outcome);
        outcome
    }
}

pub(super) type SharedTasks = Arc<Mutex<TaskBook>>;

/// Told of each step of a reindex, from the blocking pool.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_reused_and_the_oldest_finished_tasks_go_first() {
        let mut book = TaskBook::default();
        let first = book.begin();
        book.finish(first, &Err(Error::Internal("x".into())));
        let mut last = first;
        for _ in 0..KEPT_TASKS + 5 {
            let id = book.begin();
            assert!(id > last);
            last = id;
            book.finish(id, &Err(Error::Internal("x".into())));
        }
        assert_eq!(book.tasks.len(), KEPT_TASKS);
        assert!(book.tasks.iter().all(|t| t.task.id != first));
        assert_eq!(book.tasks.back().unwrap().task.id, last);
    }

    #[test]
    fn a_claim_dropped_before_the_end_fails_its_task() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        let book: SharedTasks = Arc::default();
        let id = book.lock().begin();
        let claim = Claim {
            id,
            book: book.clone(),
            finished: false,
            data_lock: None,
            _lock: runtime.block_on(lock.clone().lock_owned()),
        };
        drop(claim);
        let task = book.lock().get(id).unwrap().snapshot();
        assert_eq!(task.status, TaskStatus::Failed);
        assert!(task.error.unwrap().contains("stopped before it ended"));
        assert!(lock.try_lock().is_ok(), "the lock is released");
    }
}
