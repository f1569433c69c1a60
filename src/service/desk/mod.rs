//! The ticket desk: customers, tickets and their conversations in the store, the pipeline
//! each new ticket or message runs (through the engine), the agents' actions and the
//! figures staff read. It owns the store connection; the engine knows nothing of it.

pub mod agent;
mod classification;
pub mod confirmed;
pub mod conversation;
pub mod devices;
mod pipeline;
pub mod stats;
mod subject;
pub mod sweep;
pub mod tickets;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use super::engine::Engine;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::index::Generation;
use crate::store::Store;

/// The store `config` names (`DATABASE_URL`, else the SQLite file in the data directory,
/// created with its directory), migrated: what the server and `devicekb keys` both open.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    if config.database_url.is_empty() {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| Error::io(format!("creating {}", config.data_dir.display()), e))?;
    }
    crate::store::connect(&config.database_url()).await
}

pub struct Desk {
    engine: Arc<Engine>,
    /// The ticket database; `None` while it cannot be reached (searches go on).
    store: RwLock<Option<Arc<dyn Store>>>,
    /// Tickets whose pipeline is running now.
    pipelines_running: Mutex<HashSet<i64>>,
    /// Tickets settled before the classifier was trained, waiting for it to be classified.
    classifying: Mutex<HashSet<i64>>,
    /// Held while confirmed answers are exported: two exports at once would each merge
    /// the file as it was before the other's.
    learning: tokio::sync::Mutex<()>,
    /// When today's automation metrics were last refreshed (Unix seconds).
    metrics_refreshed_at: AtomicU64,
    /// Set on shutdown: the sweep starts no more pipelines.
    closing: AtomicBool,
}

impl Desk {
    /// Connects to the configured database (or creates the embedded one). An unreachable
    /// database is not fatal: ticket endpoints answer 503 and a task retries every 5 s.
    /// The catalogue and KB rows are stored for the engine's generation, and again after
    /// each switch.
    pub async fn start(engine: Arc<Engine>) -> Result<Arc<Desk>> {
        let store = match open_store(engine.config()).await {
            Ok(store) => Some(store),
            Err(e @ Error::StorageUnavailable(_)) => {
                tracing::warn!(error = %e.chain(), "the database is unreachable; ticket endpoints answer 503 until it is back");
                None
            }
            Err(e) => return Err(e),
        };
        let reconnect = store.is_none();
        let desk = Arc::new(Desk {
            engine,
            store: RwLock::new(store),
            pipelines_running: Mutex::new(HashSet::new()),
            classifying: Mutex::new(HashSet::new()),
            learning: tokio::sync::Mutex::new(()),
            metrics_refreshed_at: AtomicU64::new(0),
            closing: AtomicBool::new(false),
        });
        if reconnect {
            desk.spawn_store_reconnect();
        } else {
            desk.spawn_reference_sync();
        }
        desk.spawn_generation_follower();
        desk.spawn_sweeper(Duration::from_millis(
            desk.config().sweep_interval_ms.max(1_000),
        ));
        Ok(desk)
    }

    /// Shutdown: the sweep starts no more pipelines, then this waits until none runs and no
    /// ticket waits to be classified, or `deadline` has passed (a ticket whose pipeline or
    /// classification is cut is taken up at the next start, but a finished one costs
    /// nothing).
    pub async fn wait_for_pipelines(&self, deadline: tokio::time::Instant) {
        self.closing.store(true, Ordering::Relaxed);
        loop {
            let running = self.pipelines_running.lock().len() + self.classifying.lock().len();
            if running == 0 {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    running,
                    "pipelines still running at the end of the grace period"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The ticket database, or 503 (`StorageUnavailable`) while it is unreachable.
    pub fn store(&self) -> Result<Arc<dyn Store>> {
        self.store.read().clone().ok_or_else(|| {
            Error::StorageUnavailable("the database is unreachable; retrying".into())
        })
    }

    /// Writes the answers the desk confirmed into the KB folder, for the next reindex
    /// (see `confirmed::learn`); `dry_run` reports without writing.
    /// It runs as its own task, so a request dropped on the way (a timeout, the client
    /// gone) neither stops a write half-way nor lets a second export start meanwhile.
    pub async fn learn(self: &Arc<Self>, dry_run: bool) -> Result<confirmed::LearnReport> {
        let desk = self.clone();
        tokio::spawn(async move {
            let _one_export = desk.learning.lock().await;
            let store = desk.store()?;
            confirmed::learn(store.as_ref(), &desk.config().kb_dir, dry_run).await
        })
        .await
        .map_err(|e| Error::Internal(format!("the export of confirmed answers failed: {e}")))?
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn config(&self) -> &Config {
        self.engine.config()
    }

    fn generation(&self) -> Arc<Generation> {
        self.engine.generation()
    }

    /// Tries to connect again every 5 seconds until the database answers.
    fn spawn_store_reconnect(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let url = self.config().database_url();
        self.engine.runtime().spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let Some(desk) = weak.upgrade() else {
                    return;
                };
                match crate::store::connect(&url).await {
                    Ok(store) => {
                        tracing::info!(backend = store.backend(), "the database is back");
                        *desk.store.write() = Some(store);
                        desk.spawn_reference_sync();
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.chain(), "the database is still unreachable")
                    }
                }
            }
        });
    }

    /// Stores the reference rows of every generation the engine switches to.
    fn spawn_generation_follower(self: &Arc<Self>) {
        let weak: Weak<Desk> = Arc::downgrade(self);
        let mut switched = self.engine.watch_generation();
        self.engine.runtime().spawn(async move {
            while switched.changed().await.is_ok() {
                let Some(desk) = weak.upgrade() else {
                    return;
                };
                if desk.store.read().is_some() {
                    desk.spawn_reference_sync();
                }
            }
        });
    }

    /// `sync_reference_rows` in the background, logged.
    fn spawn_reference_sync(self: &Arc<Self>) {
        let desk = self.clone();
        self.engine.runtime().spawn(async move {
            let generation = desk.generation();
            match desk.sync_reference_rows(&generation).await {
                Ok(()) => tracing::debug!(generation = %generation.name, "catalogue and KB rows stored"),
                Err(e) => tracing::warn!(generation = %generation.name, error = %e.chain(), "catalogue and KB rows not stored"),
            }
        });
    }
}
