//! Sustained HTTP throughput of `POST /knowledge/search` at 16 connections, per mode,
//! against the real app on 127.0.0.1 (real model, repository KB), and the server's
//! resident memory. `hybrid_keyed` is `hybrid` with a staff key checked and its rate
//! limit counted on every request, between two open runs (`hybrid`, `hybrid_open`): the
//! cost of access control, measured against its peer in the same run.
//!
//!     cargo bench --bench http            (DEVICEKB_HTTP_SECONDS=10 by default)
//!
//! The load generator runs in the same process on the same two cores as the server,
//! so the figures are a floor for a dedicated server.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use devicekb::config::Config;
use devicekb::embed::{Embedder, OnnxEmbedder};
use devicekb::service::access::keys::{self, NewKeyRequest};
use devicekb::service::access::Role;
use devicekb::service::{build_generation, Service};

const CONNECTIONS: usize = 16;
const QUERIES: &[&str] = &[
    "88 toner cyan bas",
    "bourrage papier tiroir 2",
    "les impressions sont pâles et délavées",
    "the printer shows 49.4C02 after a firmware update",
    "imprimente affiche des losanges",
    "wifi setup brother",
    "Bonjour, notre C750 affiche 201 bourrage papier et rien ne sort",
    "ink pad end of service life ET-2850",
];

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: u64 = std::env::var("DEVICEKB_HTTP_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = Config::from_env().unwrap();
    config.kb_dir = repo.join("kb");
    config.data_dir = repo.join("target/bench-data/real");
    config.qdrant = None;
    // Counted on every keyed request, never reached: the bench measures the check.
    config.limits.key_requests_per_minute = u32::MAX;
    config.admin_api_key = None;
    let before = rss_mib();
    let embedder: Arc<dyn Embedder> = Arc::new(
        OnnxEmbedder::load(&config.model_dir, &config.ort_dylib, config.embed_threads)
            .expect("run `make setup` first"),
    );
    {
        let (c, e, h) = (
            config.clone(),
            embedder.clone(),
            tokio::runtime::Handle::current(),
        );
        tokio::task::spawn_blocking(move || build_generation(&c, e.as_ref(), None, &h, &|_| {}))
            .await
            .unwrap()
            .unwrap();
    }
    let service = Service::start(config, embedder).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/knowledge/search", listener.local_addr().unwrap());
    tokio::spawn(devicekb::api::serve(listener, service.clone()));
    println!(
        "memory: {before:.0} MiB before loading, {:.0} MiB with model and index loaded",
        rss_mib()
    );

    // "hybrid_unique": every query is new, so each request embeds its query.
    let store = service.desk.store().unwrap();
    let mut key: Option<String> = None;
    for label in [
        "bm25",
        "hybrid",
        "vector",
        "hybrid_unique",
        "hybrid_keyed",
        "hybrid_open",
    ] {
        let unique = label == "hybrid_unique";
        let mode = match label {
            "bm25" | "vector" => label,
            _ => "hybrid",
        };
        match (label, &key) {
            ("hybrid_keyed", None) => {
                let (_, secret) = keys::create(
                    store.as_ref(),
                    NewKeyRequest {
                        name: "bench".into(),
                        role: Role::Staff,
                        channel: None,
                        customer_id: None,
                    },
                )
                .await
                .unwrap();
                key = Some(secret);
                service.access.refresh(&service.desk).await;
            }
            ("hybrid_open", Some(_)) => {
                keys::revoke(store.as_ref(), "bench").await.unwrap();
                key = None;
                service.access.refresh(&service.desk).await;
            }
            _ => {}
        }
        // Warm-up also fills the query-embedding cache, as repeated tickets would.
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = &key {
            headers.insert(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {key}").parse().unwrap(),
            );
        }
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(CONNECTIONS)
            .default_headers(headers)
            .build()
            .unwrap();
        for q in QUERIES {
            let r = client
                .post(&url)
                .json(&serde_json::json!({"query": q, "mode": mode}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{label}: {}", r.status());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..CONNECTIONS {
            let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                let mut i = c;
                while !stop.load(Ordering::Relaxed) && latencies.len() < 1_000_000 {
                    let t = Instant::now();
                    let query = if unique {
                        format!("{} {c}-{i}", QUERIES[i % QUERIES.len()])
                    } else {
                        QUERIES[i % QUERIES.len()].to_string()
                    };
                    let body = serde_json::json!({"query": query, "mode": mode});
                    match client.post(&url).json(&body).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            latencies.push(t.elapsed());
                        }
                        _ => errors += 1,
                    }
                    i += 1;
                }
                (latencies, errors)
            }));
        }
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await.unwrap();
            all.extend(l);
            errors += e;
        }
        let elapsed = started.elapsed().as_secs_f64();
        all.sort();
        let pct = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0)
        };
        println!(
            "{label:<14} {:>8.0} req/s at {CONNECTIONS} connections  p50 {:.2} ms  p99 {:.2} ms  errors {errors}  ({} requests in {elapsed:.1} s)",
            all.len() as f64 / elapsed,
            pct(0.5),
            pct(0.99),
            all.len()
        );
    }
    println!("memory after load: {:.0} MiB", rss_mib());
}
