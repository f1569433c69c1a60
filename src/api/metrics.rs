//! `GET /metrics`: what a Prometheus server scrapes, in its text format.
//!
//! Every layer records through the `metrics` facade (names in `crate::telemetry`); this
//! module installs the Prometheus recorder once per process and renders it. Requests are
//! counted by route template (never the raw path, so ids do not explode the series). The
//! index, the tickets and the LLM breaker are read when scraped, so they cannot drift from
//! what `/health` and `/stats/tickets` say (while the database does not answer,
//! `devicekb_store_up` is 0 and the ticket counts are the last ones read).

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics::{counter, gauge, histogram, Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use parking_lot::{Mutex, RwLock};

use super::error::ApiError;
use super::routes::AppState;
use crate::telemetry;

/// Histogram samples are folded into their buckets this often between scrapes, so an
/// unscraped server does not hold every sample.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

struct Installed {
    handle: PrometheusHandle,
    started: Instant,
}

static RECORDER: OnceLock<Option<Installed>> = OnceLock::new();

type InfoLabels = [(&'static str, String); 3];

/// The labels of the last `devicekb_index_info` set to 1.
static LAST_INDEX_INFO: Mutex<Option<InfoLabels>> = Mutex::new(None);

/// Every ticket status a scrape has reported: one that no ticket has any more reads 0, not
/// its last count.
static TICKET_STATUSES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Installs the Prometheus recorder for the process, the first time a router asks for it
/// with `enabled`; a process whose first router had them off records nothing.
pub fn install(enabled: bool) {
    RECORDER.get_or_init(|| {
        if !enabled {
            return None;
        }
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_seconds".into()),
                telemetry::SECONDS_BUCKETS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(telemetry::EMBEDDING_BATCH.into()),
                    telemetry::BATCH_BUCKETS,
                )
            })
            .map(PrometheusBuilder::build_recorder);
        let recorder = match recorder {
            Ok(recorder) => recorder,
            Err(e) => {
                tracing::warn!(error = %e, "metrics are off: the Prometheus recorder was refused");
                return None;
            }
        };
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            tracing::warn!(error = %e, "metrics are off: another recorder is installed");
            return None;
        }
        telemetry::describe();
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("devicekb-metrics".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            })
            .ok()?;
        Some(Installed {
            handle,
            started: Instant::now(),
        })
    });
}

/// One route's request figures, registered once: a request then costs an atomic add and a
/// sample, not a lookup of its labels in the registry (measured: that lookup was most of
/// what the figures cost on the cheapest route).
pub struct RouteFigures {
    method: &'static str,
    route: &'static str,
    duration: Histogram,
    by_status: RwLock<HashMap<u16, Counter>>,
}

impl RouteFigures {
    /// Call after the recorder is installed: handles taken before it record nothing.
    pub fn new(method: &'static str, route: &'static str) -> RouteFigures {
        RouteFigures {
            method,
            route,
            duration: histogram!(telemetry::HTTP_DURATION, "method" => method, "route" => route),
            by_status: RwLock::new(HashMap::new()),
        }
    }

    /// One request answered with `status` after `took`.
    pub fn observe(&self, status: u16, took: Duration) {
        self.duration.record(took.as_secs_f64());
        if let Some(counter) = self.by_status.read().get(&status) {
            counter.increment(1);
            return;
        }
        let counter = counter!(
            telemetry::HTTP_REQUESTS,
            "method" => self.method,
            "route" => self.route,
            "status" => status.to_string()
        );
        counter.increment(1);
        self.by_status.write().insert(status, counter);
    }
}

/// The scrape: every figure recorded, plus the index in service, the ticket counts by
/// status and the LLM breaker.
pub async fn metrics(State(service): State<AppState>) -> Result<Response, ApiError> {
    let Some(Some(installed)) = RECORDER.get() else {
        return Err(crate::Error::NotFound {
            what: "metrics".into(),
            id: "they are off (DEVICEKB_METRICS=false)".into(),
        }
        .into());
    };
    gauge!(telemetry::UPTIME).set(installed.started.elapsed().as_secs_f64());

    let generation = service.engine.generation();
    let info = [
        ("generation", generation.name.clone()),
        ("vector_store", generation.vectors.backend().to_string()),
        (
            "embedding_model",
            service.engine.embedder().name().to_string(),
        ),
    ];
    {
        // The generation served is 1, the one it replaced 0: one series stays at 1.
        let mut last = LAST_INDEX_INFO.lock();
        if let Some(previous) = last.as_ref().filter(|p| **p != info) {
            gauge!(telemetry::INDEX_INFO, previous).set(0.0);
        }
        gauge!(telemetry::INDEX_INFO, &info).set(1.0);
        *last = Some(info);
    }
    gauge!(telemetry::INDEX_ENTRIES).set(generation.entries.len() as f64);
    if let Some(open) = service.engine.llm_circuit_open() {
        telemetry::llm_circuit(open);
    }

    match service.desk.ticket_stats().await {
        Ok(stats) => {
            gauge!(telemetry::STORE_UP).set(1.0);
            let mut seen = TICKET_STATUSES.lock();
            let counts: HashMap<String, i64> = stats
                .by_status
                .iter()
                .map(|g| (g.value.clone().unwrap_or_default(), g.count))
                .collect();
            seen.extend(counts.keys().cloned());
            for status in seen.iter() {
                let count = counts.get(status).copied().unwrap_or(0);
                gauge!(telemetry::TICKETS, "status" => status.clone()).set(count as f64);
            }
        }
        Err(e) => {
            gauge!(telemetry::STORE_UP).set(0.0);
            tracing::warn!(error = %e.chain(), "metrics: the ticket figures cannot be read");
        }
    }

    let handle = installed.handle.clone();
    let body = tokio::task::spawn_blocking(move || handle.render())
        .await
        .map_err(|e| crate::Error::Internal(format!("rendering the metrics: {e}")))?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}
