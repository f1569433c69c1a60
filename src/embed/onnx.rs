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

/// A text to its token ids (special tokens included), or why it could not be tokenised.
type Encoder = Box<dyn Fn(&str) -> std::result::Result<Vec<u32>, String> + Send + Sync>;

pub struct OnnxEmbedder {
    spec: ModelSpec,
    /// The sessions queries run on, one ONNX Runtime thread each (`DEVICEKB_QUERY_SESSIONS`
    /// of them): a short query gains nothing from a second thread (measured: the same
    /// 4.7 ms median with one or two), so two queries run side by side on two cores
    /// instead of one after the other. Queries never wait for a passage to finish: passages
    /// have their own session.
    query_models: Vec<Mutex<QuerySession>>,
    /// The model's tokenizer (truncating at its maximum length), shared by the query
    /// sessions: tokenising needs no session.
    encode: Encoder,
    /// Whether the model's vector is its first token's (else the mean of all tokens).
    cls_pooling: bool,
    /// Spreads queries over the query sessions when all are busy.
    next_query_model: AtomicUsize,
    /// The session passages run on, taken per text (never for a whole batch).
    passage_model: Mutex<TextEmbedding>,
    /// Queries being embedded or waiting to be: a passage does not start while there are
    /// any (for up to `PASSAGE_MAX_WAIT`), so during a reindex the cores go to searches.
    queries_waiting: AtomicUsize,
}

/// How long a passage gives way to waiting queries before it runs anyway.
const PASSAGE_MAX_WAIT: Duration = Duration::from_millis(100);

/// ONNX Runtime's session option that makes an int8 model's products exact on every x86
/// processor. Without it, a processor with AVX2 but no VNNI instructions (most AMD EPYC
/// before Zen 4, Intel before Cascade Lake) adds pairs of 8-bit products in 16 bits that
/// saturate: the same model and text give another vector (cosine 0.997-0.998 to an AVX-512
/// VNNI machine's, measured under an emulated Haswell), and so other calibrations and
/// answers (on one such machine the seed KB's calibrated threshold read 0.56 instead of
/// 0.59). With it, those processors widen to 16-bit operands (slower there; no effect where
/// VNNI exists, nor on a float model), and a KB's figures no longer depend on the hardware.
const EXACT_INT8_PRODUCTS: (&str, &str) = ("session.x64quantprecision", "1");

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
    /// Loads the model in `model_dir` (see `ModelSpec`): passages on a session of
    /// `threads` intra-op threads, queries on `threads` sessions of one thread.
    pub fn load(model_dir: &Path, ort_dylib: &Path, threads: usize) -> Result<Self> {
        OnnxEmbedder::load_with(model_dir, ort_dylib, threads, threads)
    }

    /// `load` with `query_sessions` sessions for queries (each holds its own copy of the
    /// model: ~130 MB for multilingual-e5-small int8, whose 250k-word table dominates).
    pub fn load_with(
        model_dir: &Path,
        ort_dylib: &Path,
        threads: usize,
        query_sessions: usize,
    ) -> Result<Self> {
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
        let cls_pooling = matches!(pooling, Pooling::Cls);
        // The query sessions are `ort` sessions built directly: a fastembed `TextEmbedding`
        // carries its own tokenizer and copies besides the session (~510 MB of RSS with the
        // default model, against ~130 MB for the session alone).
        let query_models = (0..query_sessions.max(1))
            .map(|_| QuerySession::build(&env, &onnx).map(Mutex::new))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| {
                Error::Config(format!(
                    "cannot load the embedding model in {}: {e}",
                    model_dir.display()
                ))
            })?;
        let model = UserDefinedEmbeddingModel::new(onnx, tokenizer_files).with_pooling(pooling);
        // Passages on their own session: a query never waits behind a passage. ONNX
        // Runtime's threads keep spinning between runs (its default): turning that off cost
        // a quarter of the idle query throughput in `benches/load/search_during_reindex.sh`.
        let session = |threads: usize| {
            let options = InitOptionsUserDefined::new()
                .with_environment(env.clone())
                .with_max_length(spec.max_length)
                .with_intra_threads(threads.max(1))
                .with_session_config(EXACT_INT8_PRODUCTS.0, EXACT_INT8_PRODUCTS.1);
            TextEmbedding::try_new_from_user_defined(model.clone(), options).map_err(|e| {
                Error::Config(format!(
                    "cannot load the embedding model in {}: {e}",
                    model_dir.display()
                ))
            })
        };
        let passage_model = session(threads)?;
        let tokenizer = passage_model.tokenizer.clone();
        let embedder = OnnxEmbedder {
            query_models,
            encode: Box::new(move |text| {
                tokenizer
                    .encode(text, true)
                    .map(|e| e.get_ids().to_vec())
                    .map_err(|e| e.to_string())
            }),
            cls_pooling,
            next_query_model: AtomicUsize::new(0),
            passage_model: Mutex::new(passage_model),
            spec,
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
        (self.encode)(text).map_err(Error::Embedding)
    }

    /// A free query session, or, when all are busy, the next one in turn to wait for.
    fn query_session(&self) -> parking_lot::MutexGuard<'_, QuerySession> {
        for model in &self.query_models {
            if let Some(free) = model.try_lock() {
                return free;
            }
        }
        let turn = self.next_query_model.fetch_add(1, Ordering::Relaxed);
        self.query_models[turn % self.query_models.len()].lock()
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
        let workers = match asker {
            Asker::Query => self.query_models.len().min(texts.len()),
            Asker::Passage => 1,
        };
        if workers <= 1 {
            return texts
                .iter()
                .map(|text| self.embed_one(prefix, text, asker))
                .collect();
        }
        // Several queries at once (the calibration's pseudo-queries): spread over the
        // query sessions, each text still alone in its run.
        let next = AtomicUsize::new(0);
        let mut out: Vec<Option<Result<Vec<f32>>>> = (0..texts.len()).map(|_| None).collect();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(text) = texts.get(i) else {
                                return done;
                            };
                            done.push((i, self.embed_one(prefix, text, asker)));
                        }
                    })
                })
                .collect();
            for handle in handles {
                for (i, vector) in handle.join().unwrap_or_default() {
                    out[i] = Some(vector);
                }
            }
        });
        out.into_iter()
            .map(|v| {
                v.unwrap_or_else(|| Err(Error::Embedding("an embedding worker stopped".into())))
            })
            .collect()
    }

    /// One text through the model, alone in its run.
    fn embed_one(&self, prefix: &str, text: &str, asker: Asker) -> Result<Vec<f32>> {
        let input = format!("{prefix}{text}");
        let mut vector = match asker {
            Asker::Query => {
                self.queries_waiting.fetch_add(1, Ordering::SeqCst);
                let embedded = (self.encode)(&input)
                    .map_err(Error::Embedding)
                    .and_then(|ids| self.query_session().embed(&ids, self.cls_pooling));
                self.queries_waiting.fetch_sub(1, Ordering::SeqCst);
                embedded?
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
                self.passage_model
                    .lock()
                    .embed(&[input], Some(1))
                    .map_err(|e| Error::Embedding(e.to_string()))?
                    .pop()
                    .ok_or_else(|| Error::Embedding("the model returned no vector".into()))?
            }
        };
        // fastembed normalises mean-pooled vectors, the query sessions do not; normalised
        // here, CLS models' vectors are too.
        super::normalize(&mut vector);
        Ok(vector)
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

    fn glossary_min_cosine(&self) -> f32 {
        self.spec.glossary_min_cosine
    }

    fn query_parallelism(&self) -> usize {
        self.query_models.len()
    }
}

/// One ONNX Runtime session of the model, one thread, for queries: a text's token ids in,
/// its pooled vector out (the same as fastembed computes for a text alone: no padding, so
/// the mean is over every token).
struct QuerySession {
    session: ort::session::Session,
    takes_token_types: bool,
    /// Index of the token-level output (fastembed's order of preference).
    output: usize,
}

impl QuerySession {
    fn build(env: &ort::environment::Environment, onnx: &[u8]) -> Result<QuerySession> {
        let fail = |e: String| Error::Config(e);
        let session = ort::session::Session::builder(env)
            .map_err(|e| fail(e.to_string()))?
            .with_optimization_level(ort::session::builder::GraphOptimizationLevel::Level3)
            .map_err(|e| fail(e.to_string()))?
            .with_intra_threads(1)
            .map_err(|e| fail(e.to_string()))?
            .with_config_entry(EXACT_INT8_PRODUCTS.0, EXACT_INT8_PRODUCTS.1)
            .map_err(|e| fail(e.to_string()))?
            .commit_from_memory(onnx)
            .map_err(|e| fail(e.to_string()))?;
        let takes_token_types = session
            .inputs()
            .iter()
            .any(|i| i.name() == "token_type_ids");
        let names: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        let output = if names.len() == 1 {
            0
        } else {
            ["text_embeds", "last_hidden_state", "sentence_embedding"]
                .iter()
                .find_map(|wanted| names.iter().position(|n| n == wanted))
                .ok_or_else(|| fail(format!("no embedding output among {names:?}")))?
        };
        Ok(QuerySession {
            session,
            takes_token_types,
            output,
        })
    }

    fn embed(&mut self, ids: &[u32], cls: bool) -> Result<Vec<f32>> {
        use ort::value::Tensor;
        let failed = |e: ort::Error| Error::Embedding(e.to_string());
        let shape = [1usize, ids.len()];
        let ids: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
        let mut inputs = ort::inputs![
            "input_ids" => Tensor::from_array((shape, ids)).map_err(failed)?,
            "attention_mask" => Tensor::from_array((shape, vec![1i64; shape[1]])).map_err(failed)?,
        ];
        if self.takes_token_types {
            inputs.push((
                "token_type_ids".into(),
                Tensor::from_array((shape, vec![0i64; shape[1]]))
                    .map_err(failed)?
                    .into(),
            ));
        }
        let outputs = self.session.run(inputs).map_err(failed)?;
        let (out_shape, hidden) = outputs[self.output]
            .try_extract_tensor::<f32>()
            .map_err(failed)?;
        match out_shape.len() {
            // Pooled by the model itself.
            2 => Ok(hidden.to_vec()),
            3 => {
                let (tokens, dim) = (out_shape[1] as usize, out_shape[2] as usize);
                if cls || tokens == 0 {
                    return Ok(hidden[..dim].to_vec());
                }
                let mut pooled = vec![0f32; dim];
                for row in hidden.chunks_exact(dim).take(tokens) {
                    pooled.iter_mut().zip(row).for_each(|(p, h)| *p += h);
                }
                pooled.iter_mut().for_each(|p| *p /= tokens as f32);
                Ok(pooled)
            }
            _ => Err(Error::Embedding(format!(
                "the model returned an output of shape {out_shape:?}"
            ))),
        }
    }
}
