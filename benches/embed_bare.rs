//! Reindex embedding through devicekb against the bare runtime, in the same run: every
//! passage of the bundled KB, or of the KB in `KB=DIR` (what `devicekb reindex` embeds),
//! through the passage session of `OnnxEmbedder`, then through an `ort` session built
//! directly on the same model file and threads (no fastembed), first one text per run as
//! devicekb does, then in length-sorted batches of 16 padded to the batch's longest
//! (what the runtime allows when vectors may depend on their batch). Prints seconds for
//! each and the ratios.
//!
//!   cargo bench --bench embed_bare            # ROUNDS=2 by default, alternated A B C A B C
//!   KB=DIR cargo bench --bench embed_bare     # another KB's passages

use std::time::Instant;

use devicekb::config::Config;
use devicekb::embed::{init_onnx_runtime, Embedder, OnnxEmbedder};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;

fn bare_session(config: &Config) -> Session {
    let env = init_onnx_runtime(&config.ort_dylib).expect("ONNX Runtime");
    let bytes = std::fs::read(config.model_dir.join("model.onnx")).expect("model.onnx");
    Session::builder(&env)
        .expect("builder")
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .expect("optimisation level")
        .with_intra_threads(config.embed_threads)
        .expect("threads")
        // The same arithmetic as devicekb's sessions (exact int8 products on AVX2-only
        // processors), so the comparison is of the code around the runtime only.
        .with_config_entry("session.x64quantprecision", "1")
        .expect("int8 precision")
        .commit_from_memory(&bytes)
        .expect("session")
}

/// Mean-pooled, normalised vectors of `batch` (token ids, padded to the longest).
fn run_bare(session: &mut Session, batch: &[&Vec<u32>]) -> Vec<Vec<f32>> {
    let width = batch.iter().map(|ids| ids.len()).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(batch.len() * width);
    let mut mask = Vec::with_capacity(batch.len() * width);
    for text in batch {
        for i in 0..width {
            ids.push(text.get(i).map_or(1, |&t| i64::from(t)));
            mask.push(i64::from(i < text.len()));
        }
    }
    let shape = [batch.len(), width];
    let outputs = session
        .run(ort::inputs![
            "input_ids" => Tensor::from_array((shape, ids)).expect("ids"),
            "attention_mask" => Tensor::from_array((shape, mask.clone())).expect("mask"),
            "token_type_ids" => Tensor::from_array((shape, vec![0i64; mask.len()])).expect("types"),
        ])
        .expect("run");
    let (out_shape, hidden) = outputs[0]
        .try_extract_tensor::<f32>()
        .expect("hidden states");
    let dim = out_shape[2] as usize;
    (0..batch.len())
        .map(|b| {
            let mut pooled = vec![0f32; dim];
            let mut count = 0f32;
            for t in 0..width {
                if mask[b * width + t] == 1 {
                    count += 1.0;
                    let row = &hidden[(b * width + t) * dim..(b * width + t + 1) * dim];
                    pooled.iter_mut().zip(row).for_each(|(p, h)| *p += h);
                }
            }
            let norm = pooled
                .iter()
                .map(|v| (v / count).powi(2))
                .sum::<f32>()
                .sqrt();
            pooled.iter().map(|v| v / count / norm).collect()
        })
        .collect()
}

fn main() {
    let config = Config::from_vars(|k| std::env::var(k).ok()).expect("configuration");
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    // `KB=DIR` measures another KB (an imported FAQ, say) instead of the bundled one.
    let kb_dir = std::env::var_os("KB").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("kb"),
        std::path::PathBuf::from,
    );
    let kb = devicekb::extract::load_kb(&kb_dir).expect("a valid KB");
    let passages: Vec<String> = kb
        .entries
        .iter()
        .flat_map(devicekb::index::chunk::chunk_entry)
        .collect();
    let texts: Vec<&str> = passages.iter().map(String::as_str).collect();
    let embedder = OnnxEmbedder::load_with(
        &config.model_dir,
        &config.ort_dylib,
        config.embed_threads,
        1,
    )
    .expect("the model (run `make setup`)");
    let prefix = embedder.spec().passage_prefix.clone();
    let mut session = bare_session(&config);
    // Token ids as devicekb's tokenizer gives them (truncated as the model's max length).
    let max = embedder.spec().max_length;
    let tokens: Vec<Vec<u32>> = texts
        .iter()
        .map(|t| {
            let mut ids = embedder.token_ids(&format!("{prefix}{t}")).expect("tokens");
            ids.truncate(max);
            ids
        })
        .collect();
    let mut sorted: Vec<&Vec<u32>> = tokens.iter().collect();
    sorted.sort_by_key(|ids| ids.len());
    println!(
        "{} passages of {}, {} tokens on average, {} intra-op threads, {}",
        texts.len(),
        kb_dir.display(),
        tokens.iter().map(Vec::len).sum::<usize>() / tokens.len().max(1),
        config.embed_threads,
        config.model_dir.display()
    );
    for round in 1..=rounds {
        let started = Instant::now();
        let ours = embedder.embed_passages(&texts).expect("devicekb");
        let devicekb = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let alone: Vec<Vec<f32>> = tokens
            .iter()
            .flat_map(|ids| run_bare(&mut session, &[ids]))
            .collect();
        let bare_alone = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let batched: Vec<Vec<f32>> = sorted
            .chunks(16)
            .flat_map(|b| run_bare(&mut session, b))
            .collect();
        let bare_batched = started.elapsed().as_secs_f64();
        let agree = ours
            .iter()
            .zip(&alone)
            .map(|(a, b)| devicekb::embed::dot(a, b))
            .fold(f32::INFINITY, f32::min);
        println!(
            "round {round}: devicekb {devicekb:.1} s | bare runtime, one text a run {bare_alone:.1} s \
             (devicekb / bare {:.2}x) | bare, sorted batches of 16 {bare_batched:.1} s (devicekb / bare {:.2}x) \
             | min cosine devicekb vs bare {agree:.4} ({} batched vectors)",
            devicekb / bare_alone,
            devicekb / bare_batched,
            batched.len()
        );
    }
}
