//! Handlers: parse, call the service, map errors. Nothing else.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::error::ApiError;
use super::json::JsonBody;
use crate::error::Error;
use crate::service::{AnswerRequest, ExtractRequest, SearchRequest, Service};

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
    let models: Vec<_> = generation
        .catalogue
        .models()
        .iter()
        .map(|m| {
            let canonical = m.canonical();
            let entries = generation
                .entries
                .iter()
                .filter(|e| e.models.contains(&canonical))
                .count();
            json!({
                "model_name": canonical,
                "manufacturer": m.manufacturer,
                "name": m.name,
                "series": m.series,
                "type": m.kind,
                "aliases": m.aliases,
                "kb_entries": entries,
            })
        })
        .collect();
    Json(json!({ "models": models, "count": models.len() })).into_response()
}

pub async fn info(State(service): State<AppState>) -> Response {
    let generation = service.engine.generation();
    Json(json!({
        "service": "devicekb",
        "version": env!("CARGO_PKG_VERSION"),
        "generation": generation.name,
        "entries": generation.entries.len(),
        "embedding_model": service.engine.embedder().name(),
        "vector_store": generation.vectors.backend(),
        "llm": service.engine.config().llm.as_ref().map(|l| l.model.clone()),
        "smart_replies": service.engine.smart.snapshot(),
        "endpoints": [
            "POST /knowledge/search",
            "POST /extract",
            "POST /answer",
            "GET|POST /customers",
            "GET|POST /tickets",
            "GET|PATCH /tickets/{id}",
            "POST /tickets/{id}/reply",
            "POST /tickets/{id}/feedback",
            "POST /messages",
            "GET /messages/unprocessed",
            "POST /extractions",
            "POST /devices",
            "GET /customers/{id}/devices",
            "GET /stats/tickets",
            "GET /stats/pipeline",
            "GET /health",
            "GET /models",
            "POST /admin/reindex",
        ],
    }))
    .into_response()
}

/// Whether two secrets are equal, in a time that tells nothing of where they differ nor of
/// their lengths: their SHA-256 digests (always 32 bytes) are compared in full.
fn same_secret(given: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Checks the admin key from `Authorization: Bearer KEY` or `X-Api-Key: KEY`.
fn authorize(service: &Service, headers: &HeaderMap) -> Result<(), Error> {
    let Some(expected) = service.engine.config().admin_api_key.as_deref() else {
        return Err(Error::Unauthorized(
            "admin endpoints are disabled: set DEVICEKB_ADMIN_KEY".into(),
        ));
    };
    let given = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        })
        .ok_or_else(|| {
            Error::Unauthorized("missing admin key (Authorization: Bearer KEY)".into())
        })?;
    if same_secret(given, expected) {
        Ok(())
    } else {
        Err(Error::Unauthorized("wrong admin key".into()))
    }
}

pub async fn reindex(
    State(service): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&service, &headers)?;
    let report = service.engine.reindex(Arc::new(|_| {})).await?;
    Ok(Json(report).into_response())
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

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_by_digest_whatever_their_length() {
        assert!(same_secret("s3cret-key", "s3cret-key"));
        assert!(!same_secret("s3cret-key", "s3cret-kez"));
        assert!(!same_secret("s3cret", "s3cret-key"));
        assert!(!same_secret("", "s3cret-key"));
    }
}
