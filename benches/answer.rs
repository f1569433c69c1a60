//! Reply latency of the whole answer path (signals, extraction, hybrid retrieval with the
//! real model, decision, extractive reply), p50 / p95 / max over the labelled messages:
//! once with every query embedded (cold cache) and once with the embeddings cached.
//!
//!     cargo bench --bench answer
//!
//! Percentiles need every sample, so this is a plain timing harness, not criterion.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use devicekb::answer::eval::load;
use devicekb::config::Config;
use devicekb::embed::OnnxEmbedder;
use devicekb::service::{build_generation, AnswerRequest, Service};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    // `cargo test --benches` runs bench binaries with --test: stay quick there.
    let quick = std::env::args().any(|a| a == "--test");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = Config::from_env().unwrap();
    config.kb_dir = repo().join("kb");
    config.data_dir = repo().join("target/bench-data/answer");
    config.qdrant = None;
    config.llm = None;
    let embedder = Arc::new(
        OnnxEmbedder::load(&config.model_dir, &config.ort_dylib, config.embed_threads)
            .expect("run `make setup` first"),
    );
    let service = rt.block_on(async {
        let (c, e, h) = (
            config.clone(),
            embedder.clone(),
            tokio::runtime::Handle::current(),
        );
        tokio::task::spawn_blocking(move || build_generation(&c, e.as_ref(), None, &h, &|_| {}))
            .await
            .unwrap()
            .unwrap();
        Service::start(config, embedder).await.unwrap()
    });
    let mut messages = load(&repo().join("tests/data/answer_messages.jsonl")).unwrap();
    if quick {
        messages.truncate(5);
    }
    for pass in ["cold (query embedded)", "warm (embedding cached)"] {
        let mut samples = Vec::new();
        for m in &messages {
            let started = Instant::now();
            let a = rt
                .block_on(service.engine.answer(AnswerRequest {
                    text: m.text.clone(),
                    model: None,
                }))
                .unwrap();
            samples.push(started.elapsed());
            std::hint::black_box(a);
        }
        samples.sort();
        println!(
            "answer {pass}: {} messages, p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
            samples.len(),
            percentile(&samples, 0.5),
            percentile(&samples, 0.95),
            samples.last().unwrap().as_secs_f64() * 1000.0
        );
    }
}
