//! Handlers: parse, call the service, map errors. Nothing else.

use std::sync::Arc;

use super::bodies::{Alive, ModelInfo, ModelList, Readiness, ServiceInfo};
use super::error::ApiError;
use super::json::JsonBody;
use super::params::{flag, only_params};
use crate::service::{AnswerRequest, ExtractRequest, SearchRequest, Service};
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub type AppState = Arc<Service>;

pub async fn search(
    State(service): State<AppState>,
    JsonBody(request): JsonBody<SearchRequest>,
) -> Result<Response, ApiError> {
    Ok(Json(service.engine.search(request).await?).into_response())
}

pub async fn answer(
    State(service): State<AppState>,
    JsonBody(request): JsonBody<AnswerRequest>,
) -> Result<Response, ApiError> {
    Ok(Json(service.engine.answer(request).await?).into_response())
}

pub async fn extract(
    State(service): State<AppState>,
    JsonBody(request): JsonBody<ExtractRequest>,
) -> Result<Response, ApiError> {
    Ok(Json(service.engine.extract(request).await?).into_response())
}

pub async fn health(State(service): State<AppState>) -> Response {
    let health = service.engine.health().await;
    let status = if health.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health)).into_response()
}

pub async fn models(State(service): State<AppState>) -> Response {
    let generation = service.engine.generation();
    let models: Vec<ModelInfo> = generation
        .catalogue
        .models()
        .iter()
        .map(|m| {
            let canonical = m.canonical();
            let kb_entries = generation
                .entries
                .iter()
                .filter(|e| e.models.contains(&canonical))
                .count();
            ModelInfo {
                model_name: canonical,
                manufacturer: m.manufacturer.clone(),
                name: m.name.clone(),
                series: m.series.clone(),
                kind: m.kind.clone(),
                aliases: m.aliases.clone(),
                kb_entries,
            }
        })
        .collect();
    Json(ModelList {
        count: models.len(),
        models,
    })
    .into_response()
}

pub async fn info(State(service): State<AppState>) -> Response {
    let generation = service.engine.generation();
    let endpoints: Vec<String> = super::route_table()
        .iter()
        .map(|r| format!("{} {}", r.verb.as_str(), r.path))
        .collect();
    Json(ServiceInfo {
        service: "devicekb",
        version: env!("CARGO_PKG_VERSION"),
        generation: generation.name.clone(),
        entries: generation.entries.len(),
        embedding_model: service.engine.embedder().name().to_string(),
        vector_store: generation.vectors.backend(),
        llm: service
            .engine
            .config()
            .llm
            .as_ref()
            .map(|l| l.model.clone()),
        smart_replies: service.engine.smart.snapshot(),
        endpoints,
    })
    .into_response()
}

/// Liveness: the process answers HTTP. Nothing else is looked at, so a slow search or
/// database never gets the server restarted.
pub async fn livez() -> Response {
    Json(Alive { status: "alive" }).into_response()
}

/// Readiness: the index is loaded and the ticket database answers.
pub async fn readyz(State(service): State<AppState>) -> Response {
    let store = match service.desk.store() {
        Ok(store) => store.ping().await,
        Err(e) => Err(e),
    };
    let generation = service.engine.generation();
    match store {
        Ok(()) => Json(Readiness {
            status: "ready",
            generation: generation.name.clone(),
            database: None,
        })
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e.chain(), "not ready: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Readiness {
                    status: "not_ready",
                    generation: generation.name.clone(),
                    database: Some("unreachable"),
                }),
            )
                .into_response()
        }
    }
}

/// Starts a reindex (the gate has checked the admin key) and answers 202 with its task,
/// followed at `GET /admin/tasks/{id}`; with `?wait=true` it answers the report when the
/// generation is served.
pub async fn reindex(
    State(service): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    only_params(&query, &["wait"])?;
    let wait = flag(&query, "wait")?;
    if wait {
        let report = service.engine.reindex(Arc::new(|_| {})).await?;
        return Ok(Json(report).into_response());
    }
    let task = service.engine.start_reindex().await?;
    let location = format!("/admin/tasks/{}", task.id);
    Ok((
        StatusCode::ACCEPTED,
        [(axum::http::header::LOCATION, location)],
        Json(task),
    )
        .into_response())
}

/// Writes the answers the desk confirmed into the KB folder (the gate has checked the
/// admin key), for the next reindex; with `?dry_run=true` only reports what it would.
pub async fn learn(
    State(service): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    only_params(&query, &["dry_run"])?;
    let dry_run = flag(&query, "dry_run")?;
    Ok(Json(service.desk.learn(dry_run).await?).into_response())
}

/// The reindex tasks remembered, newest first.
pub async fn tasks(State(service): State<AppState>) -> Response {
    Json(service.engine.tasks()).into_response()
}

/// One reindex task: its phase and counts while it runs, then its generation or errors.
pub async fn task(
    State(service): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = super::params::id(&raw, "id")?;
    Ok(Json(service.engine.task(id as u64)?).into_response())
}

pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(super::error::error_body(
            "not_found",
            "no such endpoint",
            None,
        )),
    )
        .into_response()
}
