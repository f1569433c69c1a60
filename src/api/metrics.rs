//! `GET /metrics`: what a Prometheus server scrapes, in the OpenMetrics text format.
//!
//! Requests are counted and timed by route template (never by raw path, so ids do not
//! explode the series) as the gate lets them out; the index and the ticket figures are
//! read when scraped, so they cannot drift from what `/health` and `/stats/tickets` say.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::error::ApiError;
use super::routes::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GenerationLabels {
    generation: String,
    vector_store: String,
    embedding_model: String,
}

/// The request counters one router shares between its gates and its `/metrics`.
pub struct HttpMetrics {
    started: Instant,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
}

fn duration_histogram() -> Histogram {
    // 1 ms to ~16 s: a cached search to a reindex-sized answer.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl HttpMetrics {
    pub fn new() -> Arc<HttpMetrics> {
        Arc::new(HttpMetrics {
            started: Instant::now(),
            requests: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
        })
    }

    /// Counts one request, answered with `status` after `took`.
    pub fn observe(&self, method: &'static str, route: &'static str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels { method, route })
            .observe(took.as_secs_f64());
    }
}

/// The scrape: request figures, the index in service, and tickets by status (left out,
/// and said so in `devicekb_store_up`, when the database does not answer).
pub async fn metrics(
    State(service): State<AppState>,
    Extension(http): Extension<Arc<HttpMetrics>>,
) -> Result<Response, ApiError> {
    let mut registry = Registry::with_prefix("devicekb");
    registry.register(
        "http_requests",
        "Requests answered, by route template and status",
        http.requests.clone(),
    );
    registry.register(
        "http_request_duration_seconds",
        "Time to answer a request, by route template",
        http.durations.clone(),
    );
    let uptime: Gauge<f64, std::sync::atomic::AtomicU64> = Gauge::default();
    uptime.set(http.started.elapsed().as_secs_f64());
    registry.register("uptime_seconds", "Seconds since the server started", uptime);

    let generation = service.engine.generation();
    let info: Family<GenerationLabels, Gauge> = Family::default();
    info.get_or_create(&GenerationLabels {
        generation: generation.name.clone(),
        vector_store: generation.vectors.backend().to_string(),
        embedding_model: service.engine.embedder().name().to_string(),
    })
    .set(1);
    registry.register(
        "index_info",
        "The index generation in service (value 1)",
        info,
    );
    let entries: Gauge = Gauge::default();
    entries.set(generation.entries.len() as i64);
    registry.register(
        "index_entries",
        "KB entries in the generation in service",
        entries,
    );

    let store_up: Gauge = Gauge::default();
    match service.desk.ticket_stats().await {
        Ok(stats) => {
            store_up.set(1);
            let tickets: Family<StatusLabels, Gauge> = Family::default();
            for group in &stats.by_status {
                tickets
                    .get_or_create(&StatusLabels {
                        status: group.value.clone().unwrap_or_default(),
                    })
                    .set(group.count);
            }
            registry.register("tickets", "Tickets stored, by status", tickets);
        }
        Err(e) => tracing::warn!(error = %e.chain(), "metrics: the ticket figures cannot be read"),
    }
    registry.register(
        "store_up",
        "Whether the ticket database answered this scrape (1) or not (0)",
        store_up,
    );

    let mut body = String::new();
    encode(&mut body, &registry)
        .map_err(|e| crate::Error::Internal(format!("encoding the metrics: {e}")))?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response())
}
