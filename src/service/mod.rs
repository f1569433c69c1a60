//! The service layer: what the HTTP API and the CLI both call. It owns the embedder,
//! the current index generation (swapped atomically on reindex), the query-embedding
//! cache and the bound on CPU work. It knows nothing of HTTP.

mod agent;
mod answer;
mod classify;
pub mod conversation;
pub mod eval;
mod extract;
mod health;
mod pipeline;
pub mod search;
pub mod stats;
pub mod tickets;

pub use agent::{AgentReply, ExternalExtraction, Feedback};
pub use answer::{AnswerRequest, SmartCounters, MAX_ANSWER_BYTES};
pub use extract::{ExtractRequest, MAX_EXTRACT_BYTES};
pub use health::{Check, Health};
pub use search::{
    SearchMode, SearchRequest, SearchResponse, SearchResult, MAX_LIMIT, MAX_QUERY_BYTES,
};

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use lru::LruCache;
use parking_lot::Mutex;
use tokio::sync::Semaphore;

use crate::answer::DecisionConfig;
use crate::config::Config;
use crate::embed::{Embedder, QueryQueue};
use crate::error::{Error, Result};
use crate::index::generation::{current_generation_name, generations_dir};
use crate::index::reindex::{ReindexOptions, VectorPublisher};
use crate::index::{reindex, Generation, Progress, ReindexReport};
use crate::llm::LlmClient;
use crate::qdrant::{self, QdrantPublisher, QdrantVectors};
use crate::store::Store;

pub struct Service {
    config: Config,
    embedder: Arc<dyn Embedder>,
    query_queue: QueryQueue,
    current: ArcSwap<Generation>,
    cpu: Arc<Semaphore>,
    query_cache: Mutex<LruCache<String, Arc<Vec<f32>>>>,
    reindexing: tokio::sync::Mutex<()>,
    qdrant: Option<Arc<qdrant_client::Qdrant>>,
    runtime: tokio::runtime::Handle,
    llm: Option<LlmClient>,
    /// Messages answered or routed by pattern.
    pub smart: SmartCounters,
    /// The ticket database; `None` while it cannot be reached (searches go on).
    store: parking_lot::RwLock<Option<Arc<dyn Store>>>,
    /// The ticket classifier, trained for the generation it names when first needed.
    classifier: tokio::sync::Mutex<classify::TrainedClassifier>,
    /// Tickets whose pipeline is running now.
    pipelines_running: Mutex<std::collections::HashSet<i64>>,
    /// When today's automation metrics were last refreshed (Unix seconds).
    metrics_refreshed_at: std::sync::atomic::AtomicU64,
}

/// Runs CPU-bound `work` on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("a blocking task failed: {e}")))?
}

impl Service {
    /// Opens the current generation of `config.data_dir`, building one from
    /// `config.kb_dir` first when there is none. Must run inside a tokio runtime.
    pub async fn start(config: Config, embedder: Arc<dyn Embedder>) -> Result<Arc<Service>> {
        let runtime = tokio::runtime::Handle::current();
        let qdrant = connect_qdrant(&config)?;
        let generation = {
            let config = config.clone();
            let embedder = embedder.clone();
            let qdrant = qdrant.clone();
            let runtime = runtime.clone();
            blocking(move || {
                if current_generation_name(&config.data_dir)?.is_none() {
                    tracing::info!(kb_dir = %config.kb_dir.display(), "no index yet: building the first generation");
                    build_generation(&config, embedder.as_ref(), qdrant.as_ref(), &runtime, &|_| {})?;
                }
                open_current(&config.data_dir, qdrant.as_ref(), &runtime)
            })
            .await?
        };
        if generation.manifest.model != embedder.name() || generation.manifest.dim != embedder.dim()
        {
            return Err(Error::Config(format!(
                "the index was built with model {} ({} dimensions) but the configured model is {} ({}); run `devicekb reindex`",
                generation.manifest.model,
                generation.manifest.dim,
                embedder.name(),
                embedder.dim()
            )));
        }
        let cache_size = NonZeroUsize::new(config.query_cache_size.max(1)).expect("at least 1");
        let llm = match &config.llm {
            Some(c) => Some(
                LlmClient::new(c.clone())
                    .map_err(|e| Error::Config(format!("the LLM client: {e}")))?,
            ),
            None => None,
        };
        if config.database_url.is_empty() {
            std::fs::create_dir_all(&config.data_dir)
                .map_err(|e| Error::io(format!("creating {}", config.data_dir.display()), e))?;
        }
        let store = match crate::store::connect(&config.database_url()).await {
            Ok(store) => Some(store),
            Err(e @ Error::StorageUnavailable(_)) => {
                tracing::warn!(error = %e.chain(), "the database is unreachable; ticket endpoints answer 503 until it is back");
                None
            }
            Err(e) => return Err(e),
        };
        let reconnect = store.is_none();
        let service = Arc::new(Service {
            store: parking_lot::RwLock::new(store),
            classifier: tokio::sync::Mutex::new(None),
            metrics_refreshed_at: std::sync::atomic::AtomicU64::new(0),
            pipelines_running: Mutex::new(std::collections::HashSet::new()),
            llm,
            smart: SmartCounters::default(),
            cpu: Arc::new(Semaphore::new(config.search_concurrency.max(1))),
            query_cache: Mutex::new(LruCache::new(cache_size)),
            reindexing: tokio::sync::Mutex::new(()),
            current: ArcSwap::from(generation),
            query_queue: QueryQueue::new(embedder.clone()),
            config,
            embedder,
            qdrant,
            runtime,
        });
        if reconnect {
            service.spawn_store_reconnect();
        } else {
            service.spawn_reference_sync();
        }
        Ok(service)
    }

    /// The ticket database, or 503 (`StorageUnavailable`) while it is unreachable.
    pub fn store(&self) -> Result<Arc<dyn Store>> {
        self.store.read().clone().ok_or_else(|| {
            Error::StorageUnavailable("the database is unreachable; retrying".into())
        })
    }

    /// Tries to connect again every 5 seconds until the database answers.
    fn spawn_store_reconnect(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let url = self.config.database_url();
        self.runtime.spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let Some(service) = weak.upgrade() else {
                    return;
                };
                match crate::store::connect(&url).await {
                    Ok(store) => {
                        tracing::info!(backend = store.backend(), "the database is back");
                        *service.store.write() = Some(store);
                        service.spawn_reference_sync();
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.chain(), "the database is still unreachable")
                    }
                }
            }
        });
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn generation(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Runs `work` on the blocking pool, at most `search_concurrency` at once.
    pub(crate) async fn cpu<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .cpu
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::NotReady("the service is shutting down".into()))?;
        blocking(work).await
    }

    /// Rebuilds the index from the KB directory and switches to it; searches in flight
    /// finish on the generation they started with.
    pub async fn reindex(
        self: &Arc<Self>,
        progress: Arc<dyn Fn(Progress) + Send + Sync>,
    ) -> Result<ReindexReport> {
        let _guard = self
            .reindexing
            .try_lock()
            .map_err(|_| Error::Conflict("a reindex is already running".into()))?;
        let service = self.clone();
        let report = blocking(move || {
            build_generation(
                &service.config,
                service.embedder.as_ref(),
                service.qdrant.as_ref(),
                &service.runtime,
                &*progress,
            )
        })
        .await?;
        self.reload_if_changed().await?;
        Ok(report)
    }

    /// Switches to the generation `CURRENT` names if it is not the one loaded.
    pub async fn reload_if_changed(self: &Arc<Self>) -> Result<bool> {
        let service = self.clone();
        blocking(move || {
            let Some(name) = current_generation_name(&service.config.data_dir)? else {
                return Ok(false);
            };
            if name == service.current.load().name {
                return Ok(false);
            }
            let generation = open_current(&service.config.data_dir, service.qdrant.as_ref(), &service.runtime)?;
            // A generation embedded by another model would make every vector search wrong.
            if generation.manifest.model != service.embedder.name() || generation.manifest.dim != service.embedder.dim() {
                return Err(Error::Config(format!(
                    "generation {} was built with model {} but this server runs {}; restart it with that model",
                    generation.name,
                    generation.manifest.model,
                    service.embedder.name()
                )));
            }
            tracing::info!(generation = %generation.name, entries = generation.entries.len(), "switched to a new index generation");
            service.current.store(generation);
            Ok(true)
        })
        .await
        .inspect(|switched| {
            if *switched && self.store.read().is_some() {
                self.spawn_reference_sync();
            }
        })
    }

    /// Polls `CURRENT` so a reindex run by the CLI is picked up without a restart.
    pub fn spawn_generation_watcher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        let period = Duration::from_millis(service.config.watch_interval_ms.max(50));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                if let Err(e) = service.reload_if_changed().await {
                    tracing::warn!(error = %e.chain(), "cannot load the new index generation; still serving the previous one");
                }
            }
        })
    }

    fn cache_key(query: &str) -> String {
        query.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The query vector, from the cache when this exact query was seen before.
    /// Blocking: for the blocking pool and the CLI.
    fn query_vector(&self, query: &str) -> Result<Arc<Vec<f32>>> {
        let key = Self::cache_key(query);
        if let Some(v) = self.query_cache.lock().get(&key) {
            return Ok(v.clone());
        }
        let vector = Arc::new(self.query_queue.embed(&key)?);
        self.query_cache.lock().put(key, vector.clone());
        Ok(vector)
    }

    /// Like `query_vector`, waiting for the embedding thread without holding a thread or
    /// a CPU permit, so concurrent searches' queries are embedded in one batch.
    pub(crate) async fn query_vector_async(&self, query: &str) -> Result<Arc<Vec<f32>>> {
        let key = Self::cache_key(query);
        if let Some(v) = self.query_cache.lock().get(&key) {
            return Ok(v.clone());
        }
        let vector = Arc::new(self.query_queue.embed_async(&key).await?);
        self.query_cache.lock().put(key, vector.clone());
        Ok(vector)
    }
}

impl Service {
    /// The decision thresholds for `generation`: the configured ones, with the relevance
    /// threshold read off the generation's calibration for the target precision (or the
    /// fixed one configured). No threshold reaching the target: nothing is automatic.
    pub fn decision_config(&self, generation: &Generation) -> DecisionConfig {
        let mut decision = self.config.decision;
        decision.min_confidence = self
            .config
            .answer_threshold
            .or_else(|| {
                generation
                    .calibration
                    .threshold_for(self.config.target_precision)
            })
            .unwrap_or(f32::INFINITY);
        decision
    }
}

/// Validates the KB and builds the next generation (vectors pushed to Qdrant when
/// configured). Blocking: call it from the blocking pool inside a tokio runtime.
pub fn build_generation(
    config: &Config,
    embedder: &dyn Embedder,
    qdrant: Option<&Arc<qdrant_client::Qdrant>>,
    runtime: &tokio::runtime::Handle,
    progress: &dyn Fn(Progress),
) -> Result<ReindexReport> {
    let publisher = qdrant
        .zip(config.qdrant.as_ref())
        .map(|(c, q)| QdrantPublisher::new(c.clone(), runtime.clone(), q.alias.clone()));
    reindex(
        &config.kb_dir,
        &config.data_dir,
        embedder,
        publisher.as_ref().map(|p| p as &dyn VectorPublisher),
        &ReindexOptions {
            fusion: config.fusion,
            target_precision: config.target_precision,
        },
        progress,
    )
}

/// Connects to Qdrant when the configuration names a server.
pub fn connect_qdrant(config: &Config) -> Result<Option<Arc<qdrant_client::Qdrant>>> {
    config.qdrant.as_ref().map(qdrant::connect).transpose()
}

/// Opens the generation `CURRENT` points at.
fn open_current(
    data_dir: &Path,
    qdrant: Option<&Arc<qdrant_client::Qdrant>>,
    runtime: &tokio::runtime::Handle,
) -> Result<Arc<Generation>> {
    let name = current_generation_name(data_dir)?.ok_or_else(|| {
        Error::NotReady(format!(
            "no index in {}; run `devicekb reindex`",
            data_dir.display()
        ))
    })?;
    let dir = generations_dir(data_dir).join(&name);
    let manifest: crate::index::generation::Manifest =
        crate::index::generation::read_json(&dir.join(crate::index::generation::MANIFEST_FILE))?;
    let vectors: Option<Box<dyn crate::index::vector::VectorStore>> = match (qdrant, &manifest.qdrant_collection) {
        (Some(client), Some(collection)) => Some(Box::new(QdrantVectors::new(
            client.clone(),
            runtime.clone(),
            collection.clone(),
            manifest.chunks,
        ))),
        (Some(_), None) => {
            return Err(Error::Config(format!(
                "QDRANT_URL is set but generation {name} was built without Qdrant; run `devicekb reindex`"
            )))
        }
        (None, _) => None,
    };
    Generation::open(&dir, vectors)
}
