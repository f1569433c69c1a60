//! What the server counts and times, for Prometheus: one name per figure, written here
//! once, recorded through the `metrics` facade from whichever layer sees the event.
//!
//! Recording costs a few atomic operations when a recorder is installed (the HTTP layer
//! installs the Prometheus one at start unless `DEVICEKB_METRICS=false`) and nothing but a
//! branch when none is, so the engine can record without knowing who listens.

use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

pub const HTTP_REQUESTS: &str = "devicekb_http_requests_total";
pub const HTTP_DURATION: &str = "devicekb_http_request_duration_seconds";
pub const PIPELINE_STEP: &str = "devicekb_pipeline_step_duration_seconds";
pub const ANSWERS: &str = "devicekb_answers_total";
pub const LLM_CALLS: &str = "devicekb_llm_calls_total";
pub const LLM_CIRCUIT_OPEN: &str = "devicekb_llm_circuit_open";
pub const EMBEDDING_BATCH: &str = "devicekb_embedding_batch_size";
pub const EMBEDDING_QUEUE: &str = "devicekb_embedding_queue_depth";
pub const QUERY_CACHE: &str = "devicekb_query_cache_lookups_total";
pub const VECTOR_SKIPPED: &str = "devicekb_searches_without_query_vector_total";
pub const REINDEX_DURATION: &str = "devicekb_reindex_duration_seconds";
/// Read at each scrape.
pub const UPTIME: &str = "devicekb_uptime_seconds";
pub const INDEX_INFO: &str = "devicekb_index_info";
pub const INDEX_ENTRIES: &str = "devicekb_index_entries";
pub const STORE_UP: &str = "devicekb_store_up";
pub const TICKETS: &str = "devicekb_tickets";

/// Says what each figure means, for the `# HELP` lines. Call once the recorder is
/// installed.
pub fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "Requests answered, by method, route template and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "Time to answer a request, by method and route template"
    );
    describe_histogram!(
        PIPELINE_STEP,
        metrics::Unit::Seconds,
        "Time of each step of the ticket pipeline, by step and outcome (ok, failed or skipped)"
    );
    describe_counter!(
        ANSWERS,
        "Messages decided, automatic or escalated, with the escalation reason and who wrote the reply"
    );
    describe_counter!(
        LLM_CALLS,
        "Calls to the LLM server by outcome: ok, or the kind of failure"
    );
    describe_gauge!(
        LLM_CIRCUIT_OPEN,
        "1 while the LLM circuit breaker is open (calls are skipped), else 0"
    );
    describe_histogram!(
        EMBEDDING_BATCH,
        "Texts per call to the embedding model, by kind (query, passage or word)"
    );
    describe_gauge!(EMBEDDING_QUEUE, "Queries waiting for the embedding thread");
    describe_counter!(
        QUERY_CACHE,
        "Query-vector cache lookups, by result (hit or miss)"
    );
    describe_counter!(
        VECTOR_SKIPPED,
        "Hybrid searches answered by BM25 alone because it was decisive (model and error code)"
    );
    describe_histogram!(
        REINDEX_DURATION,
        metrics::Unit::Seconds,
        "Time of a reindex run by the server, by outcome (succeeded or failed)"
    );
    describe_gauge!(
        UPTIME,
        metrics::Unit::Seconds,
        "Seconds since the server started"
    );
    describe_gauge!(
        INDEX_INFO,
        "The index generation in service (1; the one it replaced 0)"
    );
    describe_gauge!(INDEX_ENTRIES, "KB entries in the generation in service");
    describe_gauge!(
        STORE_UP,
        "Whether the ticket database answered this scrape (1) or not (0)"
    );
    describe_gauge!(TICKETS, "Tickets stored, by status");
}

/// The histogram buckets of the `_seconds` figures: 1 ms to ~33 s, then a reindex's scale.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
    8.192, 16.384, 32.768, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

/// The buckets of batch sizes.
pub const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

/// One step of a ticket's pipeline: `outcome` is `ok`, `failed` or `skipped`.
pub fn pipeline_step(step: &str, outcome: &'static str, seconds: f64) {
    histogram!(PIPELINE_STEP, "step" => step.to_string(), "outcome" => outcome).record(seconds);
}

/// One message decided: `decision` is `auto` or `escalate`; `reason` the escalation's
/// (empty for an automatic answer); `responder` who wrote the reply (empty when none).
pub fn answer(decision: &'static str, reason: &'static str, responder: &'static str) {
    counter!(ANSWERS, "decision" => decision, "reason" => reason, "responder" => responder)
        .increment(1);
}

/// One LLM call: `outcome` is `ok` or the failure's kind.
pub fn llm_call(outcome: &'static str) {
    counter!(LLM_CALLS, "outcome" => outcome).increment(1);
}

pub fn llm_circuit(open: bool) {
    gauge!(LLM_CIRCUIT_OPEN).set(if open { 1.0 } else { 0.0 });
}

/// One call to the model with `size` texts; `kind` is `query`, `passage` or `word` (the
/// glossary's words embedded at reindex or off the query queue).
pub fn embedding_batch(kind: &'static str, size: usize) {
    histogram!(EMBEDDING_BATCH, "kind" => kind).record(size as f64);
}

/// Queries waiting for the embedding thread now.
pub fn embedding_queue(depth: usize) {
    gauge!(EMBEDDING_QUEUE).set(depth as f64);
}

pub fn query_cache(hit: bool) {
    counter!(QUERY_CACHE, "result" => if hit { "hit" } else { "miss" }).increment(1);
}

pub fn vector_skipped() {
    counter!(VECTOR_SKIPPED).increment(1);
}

pub fn reindex(succeeded: bool, took: Duration) {
    let outcome = if succeeded { "succeeded" } else { "failed" };
    histogram!(REINDEX_DURATION, "outcome" => outcome).record(took.as_secs_f64());
}
