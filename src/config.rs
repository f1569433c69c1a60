//! Configuration from the environment (12-factor), with defaults that run offline on
//! the embedded stores. CLI flags override the matching variables.

use crate::answer::decide::DecisionConfig;
use crate::llm::LlmConfig;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::index::FusionConfig;
use crate::qdrant::QdrantConfig;

pub const DEFAULT_ADDR: &str = "127.0.0.1:8000";
pub const ORT_LIBRARY: &str = "libonnxruntime.so.1.31.1";
/// multilingual-e5-small with int8 weights: a 10-token query embeds in ~2.6 ms instead of
/// ~13 ms for the f32 model on two cores, with the same retrieval quality on the labelled
/// set (see README).
pub const DEFAULT_MODEL: &str = "multilingual-e5-small-int8";

/// The quotas, each a count per period (`DEVICEKB_LIMIT_*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitsConfig {
    /// Tickets one address may file without a key, per hour (the earlier product's 5).
    pub public_tickets_per_hour: u32,
    /// Messages one address may add without a key, per minute (the earlier product's 20).
    pub public_messages_per_minute: u32,
    /// Requests one key may make, per minute.
    pub key_requests_per_minute: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            public_tickets_per_hour: 5,
            public_messages_per_minute: 20,
            key_requests_per_minute: 1200,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub kb_dir: PathBuf,
    pub data_dir: PathBuf,
    pub addr: String,
    /// Directory with model.onnx, tokenizer files and devicekb-model.toml.
    pub model_dir: PathBuf,
    /// ONNX Runtime shared library.
    pub ort_dylib: PathBuf,
    pub embed_threads: usize,
    /// Queries embedded at once, each on its own one-thread session of the model.
    pub query_sessions: usize,
    /// Searches (and embeddings) running at once on the blocking pool.
    pub search_concurrency: usize,
    pub query_cache_size: usize,
    /// An admin key of the operator's own (`DEVICEKB_ADMIN_KEY`), beside the keys
    /// `devicekb keys create` stores.
    pub admin_api_key: Option<String>,
    /// How often the stored API keys are read again (`DEVICEKB_KEYS_REFRESH_MS`): a key
    /// revoked by another process stops working within this delay.
    pub keys_refresh_ms: u64,
    /// Tickets and messages accepted with no key, limited per address
    /// (`DEVICEKB_PUBLIC_INTAKE=true`): a website's contact form.
    pub public_intake: bool,
    /// Whether figures are recorded and `GET /metrics` serves them (`DEVICEKB_METRICS`,
    /// default true; false measures what they cost, or turns them off).
    pub metrics: bool,
    /// Read the client's address from the last `X-Forwarded-For` hop
    /// (`DEVICEKB_TRUST_FORWARDED_FOR=true`, behind a reverse proxy only).
    pub trust_forwarded_for: bool,
    /// `DEVICEKB_LIMIT_*`.
    pub limits: LimitsConfig,
    /// A request that takes longer is answered 503 (`DEVICEKB_REQUEST_TIMEOUT_MS`).
    pub request_timeout_ms: u64,
    /// A client that has not sent its headers by then is cut (`DEVICEKB_HEADER_TIMEOUT_MS`).
    pub header_read_timeout_ms: u64,
    /// Open connections at most (`DEVICEKB_MAX_CONNECTIONS`); more wait to be accepted.
    pub max_connections: usize,
    /// Requests handled at once at most (`DEVICEKB_MAX_CONCURRENT_REQUESTS`); more are
    /// answered 503 with `Retry-After` at once rather than queued.
    pub max_concurrent_requests: usize,
    /// How often tickets whose pipeline did not finish are looked for
    /// (`DEVICEKB_SWEEP_INTERVAL_MS`, default a minute; the first sweep runs at start).
    pub sweep_interval_ms: u64,
    /// How long after its creation a ticket still `new` counts as stalled
    /// (`DEVICEKB_STALLED_AFTER_SECS`): longer than any pipeline, LLM reply included.
    pub stalled_after_secs: u64,
    pub qdrant: Option<QdrantConfig>,
    pub fusion: FusionConfig,
    /// How often a server checks whether another process switched generations.
    pub watch_interval_ms: u64,
    /// `sqlite://FILE` (default: `devicekb.db` in the data dir) or `mysql://...`.
    pub database_url: String,
    /// Auto-answer thresholds (`DEVICEKB_ANSWER_*`). Its `min_confidence` is replaced by
    /// the generation's calibrated threshold unless `answer_threshold` is set.
    pub decision: DecisionConfig,
    /// Precision automatic answers must reach: the relevance threshold is read off each
    /// generation's calibration for it (`DEVICEKB_ANSWER_TARGET_PRECISION`, default 0.95).
    pub target_precision: f32,
    /// A fixed relevance threshold instead (`DEVICEKB_ANSWER_MIN_CONFIDENCE`).
    pub answer_threshold: Option<f32>,
    /// The LLM for replies (`LLM_BASE_URL`, ...); extractive replies without it.
    pub llm: Option<LlmConfig>,
    /// Churn risk (0-100) from which a ticket is flagged for retention
    /// (`DEVICEKB_RETENTION_THRESHOLD`).
    pub retention_threshold: u8,
    /// How long a ticket's pipeline waits for the classifier's first training
    /// (`DEVICEKB_CLASSIFY_WAIT_MS`, default 2 s); past it the ticket is answered and
    /// classified once the classifier is trained.
    pub classify_wait_ms: u64,
}

fn llm_from(vars: &Vars<'_>) -> Result<Option<LlmConfig>> {
    let Some(base_url) = vars.var("LLM_BASE_URL") else {
        return Ok(None);
    };
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(Error::Config(format!(
            "LLM_BASE_URL={base_url} must start with http:// or https://"
        )));
    }
    let mut llm = LlmConfig::new(
        base_url,
        vars.var("LLM_MODEL").unwrap_or_else(|| "default".into()),
    );
    llm.api_key = vars.var("LLM_API_KEY");
    llm.api_version = vars.var("LLM_API_VERSION");
    llm.deadline = std::time::Duration::from_millis(vars.parsed("LLM_TIMEOUT_MS", 20_000u64)?);
    llm.max_retries = vars.parsed("LLM_MAX_RETRIES", llm.max_retries)?;
    llm.max_tokens = vars.parsed("LLM_MAX_TOKENS", llm.max_tokens)?;
    llm.send_schema = match vars.var("LLM_RESPONSE_FORMAT").as_deref() {
        None | Some("json_object") => false,
        Some("json_schema") => true,
        Some(other) => {
            return Err(Error::Config(format!(
                "LLM_RESPONSE_FORMAT={other}: expected json_object or json_schema"
            )))
        }
    };
    Ok(Some(llm))
}

/// The cache directory where `make setup` puts the model and ONNX Runtime.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DEVICEKB_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("devicekb")
}

/// Where the settings come from: the process environment, or (tests, embedders) a
/// lookup of their own. An empty value counts as unset.
struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn var(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn parsed<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T> {
        match self.var(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| Error::Config(format!("{name}={v} is not a valid value"))),
        }
    }
}

impl Config {
    /// `DATABASE_URL`, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("devicekb.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The configuration from the process environment (12-factor).
    pub fn from_env() -> Result<Self> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// The configuration from `lookup` instead of the environment: `|_| None` gives the
    /// defaults, whatever the shell running the tests has set.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = Vars(&lookup);
        let cache = cache_dir();
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let method = vars.parsed("DEVICEKB_FUSION", FusionConfig::default().method)?;
        let fusion_default = FusionConfig::for_method(method);
        let fusion = FusionConfig {
            method,
            rrf_k: vars.parsed("DEVICEKB_RRF_K", fusion_default.rrf_k)?,
            bm25_weight: vars.parsed("DEVICEKB_BM25_WEIGHT", fusion_default.bm25_weight)?,
            vector_weight: vars.parsed("DEVICEKB_VECTOR_WEIGHT", fusion_default.vector_weight)?,
            candidates: vars.parsed("DEVICEKB_FUSION_CANDIDATES", fusion_default.candidates)?,
            code_weight: vars.parsed("DEVICEKB_CODE_WEIGHT", fusion_default.code_weight)?,
        };
        let weights = [fusion.bm25_weight, fusion.vector_weight, fusion.code_weight];
        if !(fusion.rrf_k.is_finite() && fusion.rrf_k > 0.0)
            || weights.iter().any(|w| !w.is_finite() || *w < 0.0)
            || fusion.bm25_weight + fusion.vector_weight <= 0.0
            || fusion.candidates == 0
        {
            return Err(Error::Config(
                "fusion settings must be finite and positive, with a BM25 or vector weight above 0"
                    .into(),
            ));
        }
        let d = DecisionConfig::default();
        let answer_threshold = match vars.var("DEVICEKB_ANSWER_MIN_CONFIDENCE") {
            Some(_) => Some(vars.parsed("DEVICEKB_ANSWER_MIN_CONFIDENCE", d.min_confidence)?),
            None => None,
        };
        let target_precision: f32 = vars.parsed("DEVICEKB_ANSWER_TARGET_PRECISION", 0.95)?;
        if !(0.5..=1.0).contains(&target_precision) {
            return Err(Error::Config(format!(
                "DEVICEKB_ANSWER_TARGET_PRECISION={target_precision} must be between 0.5 and 1"
            )));
        }
        let decision = DecisionConfig {
            min_confidence: answer_threshold.unwrap_or(d.min_confidence),
            min_margin: vars.parsed("DEVICEKB_ANSWER_MIN_MARGIN", d.min_margin)?,
            out_of_scope_below: vars
                .parsed("DEVICEKB_ANSWER_OUT_OF_SCOPE_BELOW", d.out_of_scope_below)?,
            churn_threshold: vars.parsed("DEVICEKB_CHURN_THRESHOLD", d.churn_threshold)?,
            max_rank: vars.parsed("DEVICEKB_ANSWER_MAX_RANK", d.max_rank)?,
        };
        if !(0.0..=1.0).contains(&decision.min_confidence)
            || !(0.0..=1.0).contains(&decision.out_of_scope_below)
        {
            return Err(Error::Config(
                "answer thresholds must be between 0 and 1".into(),
            ));
        }
        let limits = LimitsConfig::default();
        if let Some(key) = vars.var("DEVICEKB_ADMIN_KEY") {
            if key.trim() != key || key.len() < 16 {
                return Err(Error::Config(
                    "DEVICEKB_ADMIN_KEY must be at least 16 characters, without surrounding spaces \
                     (e.g. `openssl rand -hex 24`)"
                        .into(),
                ));
            }
        }
        let retention_threshold: u8 = vars.parsed("DEVICEKB_RETENTION_THRESHOLD", 50)?;
        if retention_threshold > 100 {
            return Err(Error::Config(format!(
                "DEVICEKB_RETENTION_THRESHOLD={retention_threshold} must be between 0 and 100"
            )));
        }
        Ok(Config {
            kb_dir: vars
                .var("DEVICEKB_KB_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("kb")),
            data_dir: vars
                .var("DEVICEKB_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("data")),
            addr: vars
                .var("DEVICEKB_ADDR")
                .unwrap_or_else(|| DEFAULT_ADDR.to_string()),
            model_dir: vars
                .var("DEVICEKB_MODEL_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| cache.join("models").join(DEFAULT_MODEL)),
            ort_dylib: vars
                .var("ORT_DYLIB_PATH")
                .map(PathBuf::from)
                .unwrap_or_else(|| cache.join("ort").join(ORT_LIBRARY)),
            embed_threads: vars.parsed("DEVICEKB_EMBED_THREADS", cores.min(4))?,
            query_sessions: vars.parsed("DEVICEKB_QUERY_SESSIONS", cores.min(2))?,
            search_concurrency: vars.parsed("DEVICEKB_SEARCH_CONCURRENCY", (cores * 2).max(2))?,
            query_cache_size: vars.parsed("DEVICEKB_QUERY_CACHE", 10_000)?,
            admin_api_key: vars.var("DEVICEKB_ADMIN_KEY"),
            keys_refresh_ms: vars.parsed("DEVICEKB_KEYS_REFRESH_MS", 5_000)?,
            public_intake: vars.parsed("DEVICEKB_PUBLIC_INTAKE", false)?,
            metrics: vars.parsed("DEVICEKB_METRICS", true)?,
            trust_forwarded_for: vars.parsed("DEVICEKB_TRUST_FORWARDED_FOR", false)?,
            limits: LimitsConfig {
                public_tickets_per_hour: vars.parsed(
                    "DEVICEKB_LIMIT_PUBLIC_TICKETS_PER_HOUR",
                    limits.public_tickets_per_hour,
                )?,
                public_messages_per_minute: vars.parsed(
                    "DEVICEKB_LIMIT_PUBLIC_MESSAGES_PER_MINUTE",
                    limits.public_messages_per_minute,
                )?,
                key_requests_per_minute: vars.parsed(
                    "DEVICEKB_LIMIT_KEY_REQUESTS_PER_MINUTE",
                    limits.key_requests_per_minute,
                )?,
            },
            request_timeout_ms: vars.parsed("DEVICEKB_REQUEST_TIMEOUT_MS", 30_000)?,
            header_read_timeout_ms: vars.parsed("DEVICEKB_HEADER_TIMEOUT_MS", 10_000)?,
            max_connections: vars.parsed("DEVICEKB_MAX_CONNECTIONS", 1_024)?,
            max_concurrent_requests: vars.parsed("DEVICEKB_MAX_CONCURRENT_REQUESTS", 256)?,
            sweep_interval_ms: vars.parsed("DEVICEKB_SWEEP_INTERVAL_MS", 60_000)?,
            stalled_after_secs: vars.parsed("DEVICEKB_STALLED_AFTER_SECS", 120)?,
            qdrant: vars.var("QDRANT_URL").map(|url| QdrantConfig {
                url,
                api_key: vars.var("QDRANT_API_KEY"),
                alias: vars
                    .var("QDRANT_COLLECTION")
                    .unwrap_or_else(|| "devicekb".into()),
            }),
            fusion,
            target_precision,
            answer_threshold,
            watch_interval_ms: vars.parsed("DEVICEKB_WATCH_INTERVAL_MS", 1000)?,
            database_url: vars.var("DATABASE_URL").unwrap_or_default(),
            decision,
            llm: llm_from(&vars)?,
            retention_threshold,
            classify_wait_ms: vars.parsed("DEVICEKB_CLASSIFY_WAIT_MS", 2_000)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_lookup_given() {
        let defaults = Config::from_vars(|_| None).unwrap();
        assert_eq!(defaults.kb_dir, PathBuf::from("kb"));
        assert_eq!(defaults.target_precision, 0.95);
        assert!(defaults.llm.is_none() && defaults.qdrant.is_none());
        let set = Config::from_vars(|name| match name {
            "DEVICEKB_KB_DIR" => Some("/srv/kb".into()),
            "DEVICEKB_ANSWER_TARGET_PRECISION" => Some("0.9".into()),
            "DEVICEKB_RRF_K" => Some(" ".into()),
            "DEVICEKB_FUSION" => Some("RRF".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(set.kb_dir, PathBuf::from("/srv/kb"));
        assert_eq!(set.target_precision, 0.9);
        assert_eq!(set.fusion.rrf_k, FusionConfig::default().rrf_k);
        assert_eq!(set.fusion.method, crate::index::fusion::FusionMethod::Rrf);
        // Rank fusion's own weights, unless set.
        assert_eq!(
            (set.fusion.bm25_weight, set.fusion.vector_weight),
            (1.0, 1.0)
        );
        assert_eq!(defaults.fusion.bm25_weight, 0.4);
        for (name, value) in [
            ("DEVICEKB_BM25_WEIGHT", "NaN"),
            ("DEVICEKB_VECTOR_WEIGHT", "inf"),
            ("DEVICEKB_FUSION_CANDIDATES", "0"),
        ] {
            let bad = Config::from_vars(|n| (n == name).then(|| value.into()));
            assert!(matches!(&bad, Err(Error::Config(_))), "{name}={value}");
        }
        let neither = Config::from_vars(|n| {
            matches!(n, "DEVICEKB_BM25_WEIGHT" | "DEVICEKB_VECTOR_WEIGHT").then(|| "0".into())
        });
        assert!(matches!(&neither, Err(Error::Config(m)) if m.contains("weight")));
        let unknown = Config::from_vars(|name| (name == "DEVICEKB_FUSION").then(|| "sum".into()));
        assert!(matches!(&unknown, Err(Error::Config(m)) if m.contains("DEVICEKB_FUSION")));
        let short =
            Config::from_vars(|name| (name == "DEVICEKB_ADMIN_KEY").then(|| "change-me".into()));
        assert!(matches!(&short, Err(Error::Config(m)) if m.contains("16 characters")));
        let bad = Config::from_vars(|name| (name == "DEVICEKB_QUERY_CACHE").then(|| "lots".into()));
        assert!(
            matches!(&bad, Err(Error::Config(m)) if m.contains("DEVICEKB_QUERY_CACHE")),
            "{:?}",
            bad.err()
        );
    }
}
