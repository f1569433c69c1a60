//! Shared test support: the real embedding model (loaded once for the suite), services
//! over a KB directory, and the real HTTP app spawned on port 0.
#![allow(dead_code)]

pub mod browser;
pub mod db;
pub mod http;
pub mod llm_server;
pub mod process;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use devicekb::config::Config;
use devicekb::embed::{Embedder, OnnxEmbedder};
use devicekb::service::engine::TRAINING_VECTORS_FILE;
use devicekb::service::{build_generation, Service};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The configuration tests start from: defaults, with the KB and data dirs given.
pub fn config(kb_dir: &Path, data_dir: &Path) -> Config {
    let mut config = Config::from_vars(|_| None).expect("test configuration");
    config.kb_dir = kb_dir.to_path_buf();
    config.data_dir = data_dir.to_path_buf();
    config.qdrant = None;
    config.watch_interval_ms = 100;
    config
}

/// The real model. A missing model fails the test (never a silent skip): run `make setup`.
pub fn embedder() -> Arc<dyn Embedder> {
    static EMBEDDER: OnceLock<Arc<dyn Embedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| {
            let config = Config::from_vars(|_| None).expect("test configuration");
            match OnnxEmbedder::load(&config.model_dir, &config.ort_dylib, 2) {
                Ok(e) => Arc::new(e),
                Err(e) => {
                    panic!("the embedding model is required for this test ({e}); run `make setup`")
                }
            }
        })
        .clone()
}

/// A runtime that outlives every test, for services shared across tests.
fn shared_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// Builds (or refreshes) an index of `kb_dir` in `data_dir` and starts a service on it.
pub async fn start_service(kb_dir: &Path, data_dir: &Path) -> Arc<Service> {
    start_service_with(kb_dir, data_dir, |_| {}).await
}

/// Like `start_service`, with a chance to change the configuration first.
pub async fn start_service_with(
    kb_dir: &Path,
    data_dir: &Path,
    tweak: impl FnOnce(&mut Config),
) -> Arc<Service> {
    seed_training_vectors(data_dir);
    start_cold_service_with(kb_dir, data_dir, tweak).await
}

/// Like `start_service_with`, on a data directory that starts without the labelled
/// tickets' vectors: for a test of the classifier's first training.
pub async fn start_cold_service_with(
    kb_dir: &Path,
    data_dir: &Path,
    tweak: impl FnOnce(&mut Config),
) -> Arc<Service> {
    let mut config = config(kb_dir, data_dir);
    tweak(&mut config);
    build_index(&config).await;
    Service::start(config, embedder())
        .await
        .expect("service starts")
}

/// Builds a generation of `config`'s KB with the real model, starting no service (a
/// service's first sweep would start training its classifier).
pub async fn build_index(config: &Config) {
    let config = config.clone();
    let embedder = embedder();
    let runtime = tokio::runtime::Handle::current();
    // With a Qdrant server configured, the generation's vectors go there too.
    let qdrant = devicekb::service::connect_qdrant(&config).expect("the Qdrant client");
    tokio::task::spawn_blocking(move || {
        build_generation(
            &config,
            embedder.as_ref(),
            qdrant.as_ref(),
            &runtime,
            &|_| {},
        )
    })
    .await
    .expect("join")
    .expect("the KB indexes");
}

/// Gives a fresh data directory the product's labelled tickets' vectors, as the shared
/// service kept them (the product's cache, `training-vectors.json`, read at training): a
/// test service would otherwise embed the 1080 tickets again, ~29 s of both cores each.
/// A directory with a file of its own keeps it; a KB with other labelled tickets embeds
/// those it does not find.
fn seed_training_vectors(data_dir: &Path) {
    static SHARED: OnceLock<Option<PathBuf>> = OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        let path = repo_service()
            .engine
            .config()
            .data_dir
            .join(TRAINING_VECTORS_FILE);
        // Written in the background once the shared service trained (or by an earlier run).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !path.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if !path.exists() {
            eprintln!(
                "note: the shared service kept no training vectors in {}; test services train cold",
                path.display()
            );
        }
        path.exists().then_some(path)
    });
    let target = data_dir.join(TRAINING_VECTORS_FILE);
    if let Some(shared) = shared {
        if !target.exists() {
            std::fs::create_dir_all(data_dir).expect("the data directory");
            std::fs::copy(shared, &target).expect("the training vectors copied");
        }
    }
}

/// One service over the repository's own KB, shared by every test of the suite. Its
/// data dir lives under target/ so vectors are reused from one test run to the next.
pub fn repo_service() -> Arc<Service> {
    static SERVICE: OnceLock<Arc<Service>> = OnceLock::new();
    SERVICE
        .get_or_init(|| {
            let data = repo()
                .join("target")
                .join("test-data")
                .join(env!("CARGO_CRATE_NAME"));
            // The store starts empty on every run (the index beside it is kept, so its
            // vectors are reused): a key or a pile of messages left by an earlier run would
            // change what the tests see. No test may add a key to it (its keyless loopback
            // access would close for all): they take `repo_index_with_own_store`.
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(data.join(format!("devicekb.db{suffix}")));
            }
            // Tests call this from inside their own runtime, where blocking is not allowed.
            std::thread::spawn(move || {
                shared_runtime().block_on(async {
                    let service = start_cold_service_with(&repo().join("kb"), &data, |_| {}).await;
                    warm(&service).await;
                    service
                })
            })
            .join()
            .expect("the shared service starts")
        })
        .clone()
}

/// A service over the bundled KB's index, the shared service's (built once: nothing is
/// embedded again), configured otherwise by `tweak`: another store, an unreachable
/// database, an operator's key.
pub async fn repo_index_with(tweak: impl FnOnce(&mut Config)) -> Arc<Service> {
    let mut config = repo_service().engine.config().clone();
    tweak(&mut config);
    Service::start(config, embedder())
        .await
        .expect("service starts")
}

/// A service over the bundled KB's index with a store of its own, empty: for a test that
/// adds keys (which would close the shared service's keyless loopback access) or counts
/// what is in the store while other tests add tickets to the shared one's. The directory
/// holds the store.
pub async fn repo_index_with_own_store() -> (Arc<Service>, tempfile::TempDir) {
    let store = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", store.path().join("devicekb.db").display());
    let service = repo_index_with(|c| c.database_url = url).await;
    warm(&service).await;
    (service, store)
}

/// Trains the service's ticket classifier now, as `devicekb serve` does at start, so the
/// first ticket does not wait for it: several test services training at once on a
/// 2-core machine would push that ticket past the request timeout.
pub async fn warm(service: &Service) {
    service
        .engine
        .classifier()
        .await
        .expect("the ticket classifier trains");
}

/// The real app on 127.0.0.1, port 0. Returns its base URL.
pub async fn spawn_app(service: Arc<Service>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(devicekb::api::serve(listener, service));
    format!("http://{addr}")
}

/// Copies the KB's catalogue and the entries whose id matches `keep` into a fresh dir.
pub fn small_kb(keep: impl Fn(&str) -> bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = repo().join("kb");
    std::fs::create_dir_all(dir.path().join("catalogue")).unwrap();
    std::fs::copy(
        src.join("catalogue/models.toml"),
        dir.path().join("catalogue/models.toml"),
    )
    .unwrap();
    let out = dir.path().join("entries/test");
    std::fs::create_dir_all(&out).unwrap();
    let mut stack = vec![src.join("entries")];
    while let Some(d) = stack.pop() {
        for item in std::fs::read_dir(&d).unwrap().flatten() {
            let p = item.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                if keep(stem) {
                    std::fs::copy(&p, out.join(p.file_name().unwrap())).unwrap();
                }
            }
        }
    }
    dir
}

/// Mints an API key in `service`'s store (pinned to a channel and customer when given)
/// and refreshes the service's key ring so it works at once. Returns the key.
pub async fn mint_key(
    service: &Service,
    name: &str,
    role: devicekb::service::access::Role,
    channel: Option<devicekb::store::Channel>,
    customer_id: Option<i64>,
) -> String {
    use devicekb::service::access::keys::{self, NewKeyRequest};
    let store = service.desk.store().unwrap();
    let (_, secret) = keys::create(
        store.as_ref(),
        NewKeyRequest {
            name: name.into(),
            role,
            channel,
            customer_id,
        },
    )
    .await
    .unwrap();
    service.access.refresh(&service.desk).await;
    secret
}
