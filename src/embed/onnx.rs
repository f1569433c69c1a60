//! The real embedder: an ONNX sentence-embedding model run by ONNX Runtime via fastembed.
//! ONNX Runtime is loaded from a shared library at run time (no download at build time),
//! once per process.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use parking_lot::Mutex;

use super::{Embedder, ModelSpec};
use crate::error::{Error, Result};

static ORT_ENV: OnceLock<std::result::Result<ort::environment::Environment, String>> =
    OnceLock::new();

/// Loads ONNX Runtime from `dylib` (once per process) and returns its environment.
/// A missing or too-old library is an error here rather than a panic later.
pub fn init_onnx_runtime(dylib: &Path) -> Result<ort::environment::Environment> {
    ORT_ENV
        .get_or_init(|| {
            if !dylib.is_file() {
                return Err(format!(
                    "ONNX Runtime library not found at {}; run `make setup` or set ORT_DYLIB_PATH",
                    dylib.display()
                ));
            }
            let builder = ort::init_from(dylib)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", dylib.display()))?;
            builder
                .with_name("devicekb")
                .build()
                .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
        })
        .clone()
        .map_err(Error::Config)
}

pub struct OnnxEmbedder {
    spec: ModelSpec,
    /// One model run at a time, taken per text (never for a whole batch), so a query
    /// waits for at most one passage.
    model: Mutex<TextEmbedding>,
    /// Queries waiting for the model: passages give way to them (queries first), so a
    /// reindex does not hold searches behind its batches.
    queries_waiting: AtomicUsize,
}

/// How long a passage gives way to waiting queries before it runs anyway.
const PASSAGE_MAX_WAIT: Duration = Duration::from_millis(100);

/// Who is asking: queries go first.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Asker {
    Query,
    Passage,
}

fn read(dir: &Path, file: &str) -> Result<Vec<u8>> {
    let path = dir.join(file);
    std::fs::read(&path).map_err(|e| {
        Error::Config(format!(
            "embedding model file {} is missing or unreadable ({e}); run `make setup`",
            path.display()
        ))
    })
}

impl OnnxEmbedder {
    /// Loads the model in `model_dir` (see `ModelSpec`) with `threads` intra-op threads.
    pub fn load(model_dir: &Path, ort_dylib: &Path, threads: usize) -> Result<Self> {
        let spec = ModelSpec::load(model_dir)?;
        let env = init_onnx_runtime(ort_dylib)?;
        let tokenizer_files = TokenizerFiles {
            tokenizer_file: read(model_dir, "tokenizer.json")?,
            config_file: read(model_dir, "config.json")?,
            special_tokens_map_file: read(model_dir, "special_tokens_map.json")?,
            tokenizer_config_file: read(model_dir, "tokenizer_config.json")?,
        };
        let onnx = read(model_dir, "model.onnx")?;
        let pooling = match spec.pooling.as_str() {
            "cls" => Pooling::Cls,
            _ => Pooling::Mean,
        };
        let model = UserDefinedEmbeddingModel::new(onnx, tokenizer_files).with_pooling(pooling);
        let options = InitOptionsUserDefined::new()
            .with_environment(env)
            .with_max_length(spec.max_length)
            .with_intra_threads(threads.max(1));
        let embedding = TextEmbedding::try_new_from_user_defined(model, options).map_err(|e| {
            Error::Config(format!(
                "cannot load the embedding model in {}: {e}",
                model_dir.display()
            ))
        })?;
        let embedder = OnnxEmbedder {
            spec,
            model: Mutex::new(embedding),
            queries_waiting: AtomicUsize::new(0),
        };
        // A model that loads but cannot run (wrong inputs, wrong output size) fails here.
        let probe = embedder.embed_queries(&["test"])?;
        if probe.first().map(Vec::len) != Some(embedder.spec.dim) {
            return Err(Error::Config(format!(
                "the model in {} returns vectors of size {:?}, but its {} says dim = {}",
                model_dir.display(),
                probe.first().map(Vec::len),
                super::spec::SPEC_FILE,
                embedder.spec.dim
            )));
        }
        Ok(embedder)
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Token ids the model sees for `text` (special tokens included), for tests and tuning.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        let model = self.model.lock();
        let encoding = model
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Embedding(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Embeds texts exactly as given, without the model's prefixes.
    pub fn embed_raw(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_with_prefix("", texts, Asker::Passage)
    }

    fn embed_with_prefix(
        &self,
        prefix: &str,
        texts: &[&str],
        asker: Asker,
    ) -> Result<Vec<Vec<f32>>> {
        // One text per model run. The int8 model quantises its activations with one
        // scale per input tensor, so a text run beside others (and their padding) gets a
        // slightly different vector: the same ticket could rank its entries differently
        // depending on what else was being embedded. Alone, a text always gets the same
        // vector, and there is no padding to compute.
        let mut out = Vec::with_capacity(texts.len());
        for text in texts {
            let input = [format!("{prefix}{text}")];
            let run = || self.model.lock().embed(&input, Some(1));
            let embedded = match asker {
                Asker::Query => {
                    self.queries_waiting.fetch_add(1, Ordering::SeqCst);
                    let embedded = run();
                    self.queries_waiting.fetch_sub(1, Ordering::SeqCst);
                    embedded
                }
                Asker::Passage => {
                    // Bounded, so a steady stream of queries slows a reindex but never
                    // stops it.
                    let since = Instant::now();
                    while self.queries_waiting.load(Ordering::SeqCst) > 0
                        && since.elapsed() < PASSAGE_MAX_WAIT
                    {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    run()
                }
            };
            let mut vector = embedded
                .map_err(|e| Error::Embedding(e.to_string()))?
                .pop()
                .ok_or_else(|| Error::Embedding("the model returned no vector".into()))?;
            // fastembed normalises mean-pooled vectors; normalise again so CLS models are too.
            super::normalize(&mut vector);
            out.push(vector);
        }
        Ok(out)
    }
}

impl Embedder for OnnxEmbedder {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn dim(&self) -> usize {
        self.spec.dim
    }

    fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_with_prefix(&self.spec.query_prefix, texts, Asker::Query)
    }

    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_with_prefix(&self.spec.passage_prefix, texts, Asker::Passage)
    }
}
