//! The engine façade: search, extraction, answers and classification over the current
//! index generation. It owns the embedder, the generation (swapped atomically on
//! reindex), the query-embedding cache, the ticket classifier of the generation and the
//! bound on CPU work. It knows nothing of tickets, the database or HTTP.

pub mod answer;
pub mod classify;
pub mod eval;
pub mod extract;
pub mod health;
pub mod search;
pub mod tasks;
mod training_vectors;
pub use training_vectors::TRAINING_VECTORS_FILE;
mod words;

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use lru::LruCache;
use parking_lot::Mutex;
use tasks::ProgressFn;
use tokio::sync::{watch, Semaphore};

use crate::answer::DecisionConfig;
use crate::config::Config;
use crate::embed::{Embedder, QueryQueue};
use crate::error::{Error, Result};
use crate::index::generation::{current_generation_name, generations_dir};
use crate::index::recovery::{
    lock_holder, open_serving, remove_stale_partials, try_lock_reindex, wait_for_reindex, Fallback,
    ReindexLock,
};
use crate::index::reindex::{lock_data_dir, reindex_locked, ReindexOptions, VectorPublisher};
use crate::index::{Generation, Progress, ReindexReport};
use crate::llm::LlmClient;
use crate::qdrant::{self, QdrantPublisher, QdrantVectors};
use answer::SmartCounters;

pub struct Engine {
    config: Config,
    embedder: Arc<dyn Embedder>,
    query_queue: QueryQueue,
    current: ArcSwap<Generation>,
    /// Tells the ticket desk (and anyone else) which generation is served now.
    switched: watch::Sender<String>,
    /// Why the generation served is not the one `CURRENT` names, when it is not.
    fallback: Mutex<Option<Fallback>>,
    cpu: Arc<Semaphore>,
    /// Query vectors by the SHA-256 of the query's words: a long query costs 32 bytes of
    /// key, not its text.
    query_cache: Mutex<LruCache<[u8; 32], Arc<Vec<f32>>>>,
    /// Held by the reindex running, so two never overlap.
    reindexing: Arc<tokio::sync::Mutex<()>>,
    /// The reindex tasks: the one running and the last ones.
    tasks: tasks::SharedTasks,
    qdrant: Option<Arc<qdrant_client::Qdrant>>,
    runtime: tokio::runtime::Handle,
    llm: Option<LlmClient>,
    /// Messages answered or routed by pattern.
    pub smart: SmartCounters,
    /// The ticket classifier, trained for the generation it names when first needed.
    classifier: tokio::sync::Mutex<classify::ClassifierSlot>,
    /// The last health check and when it ran: `/health` needs no key, so a flood of
    /// probes gets the same result for a second instead of an embedding each.
    health_cache: tokio::sync::Mutex<Option<(std::time::Instant, health::Health)>>,
}

/// Runs CPU-bound or file `work` on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("a blocking task failed: {e}")))?
}

impl Engine {
    /// Opens the current generation of `config.data_dir`, building one from
    /// `config.kb_dir` first when there is none. A damaged current generation gives way
    /// to the newest one that opens (see `recovery::open_serving`; `health` says so).
    /// Must run inside a tokio runtime.
    pub async fn start(config: Config, embedder: Arc<dyn Embedder>) -> Result<Arc<Engine>> {
        let runtime = tokio::runtime::Handle::current();
        let qdrant = connect_qdrant(&config)?;
        let serving = {
            let config = config.clone();
            let embedder = embedder.clone();
            let qdrant = qdrant.clone();
            let runtime = runtime.clone();
            blocking(move || {
                // A reindex killed mid-build leaves its `.partial`; one still running keeps it.
                match remove_stale_partials(&config.data_dir) {
                    Ok(removed) => {
                        for build in removed {
                            tracing::info!(%build, "removed an unfinished build left by a stopped reindex");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e.chain(), "cannot remove the unfinished builds"),
                }
                if current_generation_name(&config.data_dir)?.is_none() {
                    first_generation(&config, embedder.as_ref(), qdrant.as_ref(), &runtime)?;
                }
                open_serving(&config.data_dir, &|dir| {
                    let generation = open_generation(dir, qdrant.as_ref(), &runtime)?;
                    check_model(&generation, embedder.as_ref())?;
                    Ok(generation)
                })
            })
            .await?
        };
        let generation = serving.generation;
        let cache_size = NonZeroUsize::new(config.query_cache_size.max(1)).expect("at least 1");
        let llm = match &config.llm {
            Some(c) => Some(
                LlmClient::new(c.clone())
                    .map_err(|e| Error::Config(format!("the LLM client: {e}")))?,
            ),
            None => None,
        };
        let (switched, _) = watch::channel(generation.name.clone());
        Ok(Arc::new(Engine {
            fallback: Mutex::new(serving.fallback),
            classifier: tokio::sync::Mutex::new(Default::default()),
            health_cache: tokio::sync::Mutex::new(None),
            llm,
            smart: SmartCounters::default(),
            cpu: Arc::new(Semaphore::new(config.search_concurrency.max(1))),
            query_cache: Mutex::new(LruCache::new(cache_size)),
            reindexing: Arc::new(tokio::sync::Mutex::new(())),
            tasks: Default::default(),
            current: ArcSwap::from(generation),
            switched,
            query_queue: QueryQueue::new(embedder.clone()),
            config,
            embedder,
            qdrant,
            runtime,
        }))
    }

    /// The name of the generation served, updated on every switch: the ticket desk
    /// watches it to store the reference rows of the new KB.
    pub fn watch_generation(&self) -> watch::Receiver<String> {
        self.switched.subscribe()
    }

    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn generation(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    /// Why the generation served is not the one `CURRENT` names, when it is not.
    pub fn generation_note(&self) -> Option<String> {
        self.fallback.lock().as_ref().map(Fallback::to_string)
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
    pub async fn reindex(self: &Arc<Self>, progress: ProgressFn) -> Result<ReindexReport> {
        let claim = self.claim_reindex().await?;
        self.spawn_reindex(claim, progress)
            .await
            .map_err(|e| Error::Internal(format!("the reindex task failed: {e}")))?
    }

    /// Builds a generation of the KB and serves it.
    async fn build_and_switch(
        self: &Arc<Self>,
        lock: ReindexLock,
        progress: ProgressFn,
    ) -> Result<ReindexReport> {
        let engine = self.clone();
        let report = blocking(move || {
            build_generation_locked(
                lock,
                &engine.config,
                engine.embedder.as_ref(),
                engine.qdrant.as_ref(),
                &engine.runtime,
                &*progress,
            )
        })
        .await?;
        self.reload_if_changed().await?;
        Ok(report)
    }

    /// Switches to the generation `CURRENT` names if it is not the one loaded. One that
    /// cannot be served is reported once and remembered (see `generation_note`); the
    /// generation loaded stays until `CURRENT` names another.
    pub async fn reload_if_changed(self: &Arc<Self>) -> Result<bool> {
        let engine = self.clone();
        blocking(move || {
            let Some(name) = current_generation_name(&engine.config.data_dir)? else {
                return Ok(false);
            };
            let loaded = engine.current.load().name.clone();
            if name == loaded {
                return Ok(false);
            }
            // Generation numbers are never reused (see `reindex`): the same name is the
            // same damaged files, not worth a warning on every tick.
            if engine.fallback.lock().as_ref().is_some_and(|f| f.wanted == name) {
                return Ok(false);
            }
            let dir = generations_dir(&engine.config.data_dir).join(&name);
            let opened = open_generation(&dir, engine.qdrant.as_ref(), &engine.runtime).and_then(|generation| {
                // A generation embedded by another model would make every vector search wrong.
                check_model(&generation, engine.embedder.as_ref())?;
                Ok(generation)
            });
            let generation = match opened {
                Ok(generation) => generation,
                Err(e) => {
                    *engine.fallback.lock() = Some(Fallback { wanted: name, reason: e.chain(), serving: loaded });
                    return Err(e);
                }
            };
            tracing::info!(generation = %generation.name, entries = generation.entries.len(), "switched to a new index generation");
            engine.current.store(generation);
            *engine.fallback.lock() = None;
            Ok(true)
        })
        .await
        .inspect(|switched| {
            if *switched {
                self.switched.send_replace(self.current.load().name.clone());
            }
        })
    }

    /// Polls `CURRENT` so a reindex run by the CLI is picked up without a restart.
    pub fn spawn_generation_watcher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        let period = Duration::from_millis(engine.config.watch_interval_ms.max(50));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                if let Err(e) = engine.reload_if_changed().await {
                    tracing::warn!(error = %e.chain(), "cannot load the new index generation; still serving the previous one");
                }
            }
        })
    }

    /// The query vector, from the cache when this exact query was seen before.
    /// Blocking: for the blocking pool and the CLI.
    fn query_vector(&self, query: &str) -> Result<Arc<Vec<f32>>> {
        let key = QueryKey::of(query);
        if let Some(v) = self.cached_vector(&key) {
            return Ok(v);
        }
        let vector = Arc::new(self.query_queue.embed(&key.words)?);
        self.query_cache.lock().put(key.digest, vector.clone());
        Ok(vector)
    }

    /// Like `query_vector`, waiting for the embedding thread without holding a thread or
    /// a CPU permit, so concurrent searches' queries are embedded in one batch.
    pub(crate) async fn query_vector_async(&self, query: &str) -> Result<Arc<Vec<f32>>> {
        let key = QueryKey::of(query);
        match self.cached_vector(&key) {
            Some(v) => Ok(v),
            None => self.embed_query_async(&key).await,
        }
    }

    /// The cached vector of a query, counted as a hit or a miss.
    pub(crate) fn cached_vector(&self, key: &QueryKey) -> Option<Arc<Vec<f32>>> {
        let found = self.peek_vector(key);
        crate::telemetry::query_cache(found.is_some());
        found
    }

    /// The cached vector of a query, not counted: for a search that may not need it.
    pub(crate) fn peek_vector(&self, key: &QueryKey) -> Option<Arc<Vec<f32>>> {
        self.query_cache.lock().get(&key.digest).cloned()
    }

    /// Embeds the query (after a cache miss) and caches its vector.
    pub(crate) async fn embed_query_async(&self, key: &QueryKey) -> Result<Arc<Vec<f32>>> {
        let vector = Arc::new(self.query_queue.embed_async(&key.words).await?);
        self.query_cache.lock().put(key.digest, vector.clone());
        Ok(vector)
    }

    /// Whether the LLM's circuit breaker skips calls now (`None` without an LLM).
    pub fn llm_circuit_open(&self) -> Option<bool> {
        self.llm.as_ref().map(LlmClient::circuit_is_open)
    }
}

/// A query as it is embedded (its words, single-spaced) and its cache key.
pub(crate) struct QueryKey {
    words: String,
    pub(super) digest: [u8; 32],
}

impl QueryKey {
    pub(crate) fn of(query: &str) -> QueryKey {
        use sha2::{Digest, Sha256};
        // What retrieval reads of a long message is all the model would read anyway.
        let words = crate::index::query::retrieval_prefix(query)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let digest = Sha256::digest(words.as_bytes()).into();
        QueryKey { words, digest }
    }
}

impl Engine {
    /// The decision thresholds for `generation`: the configured ones, with the relevance
    /// threshold read off the generation's calibration for the target precision (or the
    /// fixed one configured). No threshold reaching the target: nothing is automatic.
    /// A calibration fitted under another fusion than the server's gives none.
    pub fn decision_config(&self, generation: &Generation) -> DecisionConfig {
        let mut decision = self.config.decision;
        decision.min_confidence = generation
            .calibration
            .served_threshold(
                self.config.answer_threshold,
                self.config.target_precision,
                self.config.fusion.method,
            )
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
    let lock = lock_data_dir(&config.data_dir)?;
    build_generation_locked(lock, config, embedder, qdrant, runtime, progress)
}

/// `build_generation` with the data directory's reindex lock already held.
fn build_generation_locked(
    lock: ReindexLock,
    config: &Config,
    embedder: &dyn Embedder,
    qdrant: Option<&Arc<qdrant_client::Qdrant>>,
    runtime: &tokio::runtime::Handle,
    progress: &dyn Fn(Progress),
) -> Result<ReindexReport> {
    let publisher = qdrant
        .zip(config.qdrant.as_ref())
        .map(|(c, q)| QdrantPublisher::new(c.clone(), runtime.clone(), q.alias.clone()));
    reindex_locked(
        lock,
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

/// Builds the first generation of an empty data directory. When another server sharing
/// the directory is already building it, waits for that build instead of failing, and
/// builds only if it ended without one.
fn first_generation(
    config: &Config,
    embedder: &dyn Embedder,
    qdrant: Option<&Arc<qdrant_client::Qdrant>>,
    runtime: &tokio::runtime::Handle,
) -> Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| Error::io(format!("creating {}", config.data_dir.display()), e))?;
    let lock = match try_lock_reindex(&config.data_dir)? {
        Some(lock) => lock,
        None => {
            let holder = lock_holder(&config.data_dir)
                .map_or_else(|| "another process".into(), |h| h.to_string());
            tracing::info!(%holder, "no index yet and another reindex is building one: waiting for it");
            wait_for_reindex(&config.data_dir)?;
            if current_generation_name(&config.data_dir)?.is_some() {
                return Ok(());
            }
            lock_data_dir(&config.data_dir)?
        }
    };
    // The lock may have been taken just after another server's build ended.
    if current_generation_name(&config.data_dir)?.is_some() {
        return Ok(());
    }
    tracing::info!(kb_dir = %config.kb_dir.display(), "no index yet: building the first generation");
    build_generation_locked(lock, config, embedder, qdrant, runtime, &|_| {}).map(drop)
}

/// Connects to Qdrant when the configuration names a server.
pub fn connect_qdrant(config: &Config) -> Result<Option<Arc<qdrant_client::Qdrant>>> {
    config.qdrant.as_ref().map(qdrant::connect).transpose()
}

/// Refuses a generation embedded by another model than the server's.
fn check_model(generation: &Generation, embedder: &dyn Embedder) -> Result<()> {
    if generation.manifest.model == embedder.name() && generation.manifest.dim == embedder.dim() {
        return Ok(());
    }
    Err(Error::Config(format!(
        "generation {} was built with model {} ({} dimensions) but this server runs {} ({}); run `devicekb reindex` or restart with that model",
        generation.name,
        generation.manifest.model,
        generation.manifest.dim,
        embedder.name(),
        embedder.dim()
    )))
}

/// Opens the generation in `dir`, its vectors in Qdrant when a server is configured.
fn open_generation(
    dir: &Path,
    qdrant: Option<&Arc<qdrant_client::Qdrant>>,
    runtime: &tokio::runtime::Handle,
) -> Result<Arc<Generation>> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
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
    Generation::open(dir, vectors)
}
