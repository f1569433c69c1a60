//! Tickets per second through the whole pipeline (store the ticket and its message,
//! extraction, hybrid retrieval with the real model, decision, extractive reply,
//! classification, every record written), on SQLite and on MySQL / MariaDB:
//!
//!     cargo bench --bench tickets            # MySQL at DEVICEKB_BENCH_MYSQL
//!                                            # (default mysql://root@127.0.0.1:3306)
//!
//! Each ticket is one of the KB's labelled tickets with a unique reference appended, so
//! no query embedding comes from the cache: every ticket pays for its own embedding.
//! One pass submits tickets one at a time (latency p50 / p95), one keeps 8 in flight
//! (throughput). A plain timing harness: percentiles need every sample.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use devicekb::config::Config;
use devicekb::embed::OnnxEmbedder;
use devicekb::kb::training::parse_training;
use devicekb::service::tickets::{CreateCustomer, CreateTicket};
use devicekb::service::{build_generation, Service};
use sqlx::Connection;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn submit(
    service: &Arc<Service>,
    customer: i64,
    text: &(String, String),
    n: usize,
) -> Duration {
    let started = Instant::now();
    service
        .desk
        .create_ticket(
            CreateTicket {
                customer_id: customer,
                device_id: None,
                subject: text.0.clone(),
                description: format!("{}\n\n(réf. dossier B-{n})", text.1),
                priority: None,
                channel: None,
            },
            None,
            "bench",
        )
        .await
        .expect("ticket stored");
    started.elapsed()
}

async fn run(service: Arc<Service>, label: &str, texts: &[(String, String)], count: usize) {
    let customer = service
        .desk
        .create_customer(CreateCustomer {
            name: Some("Bench".into()),
            ..CreateCustomer::default()
        })
        .await
        .unwrap()
        .id;
    // The first ticket trains the classifier: not part of the figures.
    submit(&service, customer, &texts[0], 0).await;
    let mut latencies = Vec::new();
    let started = Instant::now();
    for n in 1..=count {
        latencies.push(submit(&service, customer, &texts[n % texts.len()], n).await);
    }
    let sequential = count as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    let p = |q: f64| ms(latencies[((latencies.len() - 1) as f64 * q).round() as usize]);

    let in_flight = 8;
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(count + 1));
    let texts = Arc::new(texts.to_vec());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let (service, next, texts) = (service.clone(), next.clone(), texts.clone());
        tasks.spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n > 2 * count {
                    return;
                }
                submit(&service, customer, &texts[n % texts.len()], n).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let concurrent = count as f64 / started.elapsed().as_secs_f64();
    println!(
        "{label:<7} {count} tickets: one at a time {sequential:.1} tickets/s (p50 {:.1} ms, p95 {:.1} ms); {in_flight} in flight {concurrent:.1} tickets/s",
        p(0.5),
        p(0.95)
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let count = if quick { 3 } else { 120 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = Config::from_env().unwrap();
    config.kb_dir = repo().join("kb");
    config.data_dir = repo().join("target/bench-data/tickets");
    config.qdrant = None;
    config.llm = None;
    let embedder = Arc::new(
        OnnxEmbedder::load(&config.model_dir, &config.ort_dylib, config.embed_threads)
            .expect("run `make setup` first"),
    );
    let path = repo()
        .join("kb")
        .join(devicekb::kb::training::TRAINING_FILE);
    let texts: Vec<(String, String)> =
        parse_training(&std::fs::read_to_string(&path).unwrap(), "tickets.jsonl")
            .unwrap()
            .into_iter()
            .map(|t| (t.subject, t.description))
            .collect();
    rt.block_on(async {
        let (c, e, h) = (
            config.clone(),
            embedder.clone(),
            tokio::runtime::Handle::current(),
        );
        tokio::task::spawn_blocking(move || build_generation(&c, e.as_ref(), None, &h, &|_| {}))
            .await
            .unwrap()
            .unwrap();

        let sqlite_dir = tempfile::tempdir().unwrap();
        let mut sqlite = config.clone();
        sqlite.database_url = format!("sqlite://{}", sqlite_dir.path().join("bench.db").display());
        let service = Service::start(sqlite, embedder.clone()).await.unwrap();
        run(service, "sqlite", &texts, count).await;

        let server = std::env::var("DEVICEKB_BENCH_MYSQL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
        let db = format!("devicekb_bench_{}", std::process::id());
        let Ok(mut admin) = sqlx::MySqlConnection::connect(&format!("{server}/test")).await else {
            println!("mysql   not measured: no server at {server}");
            return;
        };
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut mysql = config.clone();
        mysql.database_url = format!("{server}/{db}");
        let service = Service::start(mysql, embedder.clone()).await.unwrap();
        run(service, "mysql", &texts, count).await;
        sqlx::query(&format!("DROP DATABASE {db}"))
            .execute(&mut admin)
            .await
            .unwrap();
    });
}
