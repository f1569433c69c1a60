//! Messages, agents' actions, external extractions, devices and statistics over HTTP:
//! parse, call the service, map errors.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;

use super::bodies::{DeviceList, ExtractionRecorded, MessageList};
use super::error::ApiError;
use super::json::JsonBody;
use super::params::{id, idempotency_key, limit, only_params};
use super::routes::AppState;
use crate::service::access::Caller;
use crate::service::conversation::CreateMessage;
use crate::service::desk::devices::CreateDevice;
use crate::service::{AgentReply, ExternalExtraction, Feedback};

pub async fn create_message(
    State(service): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(mut request): JsonBody<CreateMessage>,
) -> Result<Response, ApiError> {
    caller.pin_message(&mut request)?;
    let accepted = service
        .desk
        .create_message(request, idempotency_key(&headers)?)
        .await?;
    let status = if accepted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(accepted)).into_response())
}

pub async fn unprocessed_messages(
    State(service): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    only_params(&query, &["limit"])?;
    let messages = service
        .desk
        .unprocessed_messages(limit(query.get("limit"))?)
        .await?;
    Ok(Json(MessageList::from(messages)).into_response())
}

pub async fn reply(
    State(service): State<AppState>,
    Path(raw): Path<String>,
    JsonBody(reply): JsonBody<AgentReply>,
) -> Result<Response, ApiError> {
    let ticket = service.desk.agent_reply(id(&raw, "id")?, reply).await?;
    Ok((StatusCode::CREATED, Json(ticket)).into_response())
}

pub async fn feedback(
    State(service): State<AppState>,
    Path(raw): Path<String>,
    JsonBody(feedback): JsonBody<Feedback>,
) -> Result<Response, ApiError> {
    Ok(Json(service.desk.feedback(id(&raw, "id")?, feedback).await?).into_response())
}

pub async fn create_extraction(
    State(service): State<AppState>,
    JsonBody(extraction): JsonBody<ExternalExtraction>,
) -> Result<Response, ApiError> {
    let ticket_id = extraction.ticket_id;
    let extraction_id = service.desk.record_extraction(extraction).await?;
    Ok((
        StatusCode::CREATED,
        // `status` as the earlier project answered.
        Json(ExtractionRecorded {
            extraction_id,
            ticket_id,
            status: "recorded",
        }),
    )
        .into_response())
}

pub async fn create_device(
    State(service): State<AppState>,
    JsonBody(request): JsonBody<CreateDevice>,
) -> Result<Response, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(service.desk.create_device(request).await?),
    )
        .into_response())
}

pub async fn customer_devices(
    State(service): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let devices = service.desk.devices(id(&raw, "id")?).await?;
    Ok(Json(DeviceList::from(devices)).into_response())
}

pub async fn ticket_stats(State(service): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(service.desk.ticket_stats().await?).into_response())
}

pub async fn pipeline_stats(
    State(service): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    only_params(&query, &["days"])?;
    let days = query
        .get("days")
        .map(|v| {
            v.parse::<u32>()
                .map_err(|_| crate::Error::invalid("days", format!("`{v}` is not a number")))
        })
        .transpose()?;
    Ok(Json(service.desk.pipeline_stats(days).await?).into_response())
}
