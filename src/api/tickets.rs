//! Customers and tickets over HTTP: parse, call the service, map errors.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use serde::Deserialize;

use super::bodies::{CustomerList, CustomerView, TicketList};
use super::error::ApiError;
use super::json::JsonBody;
use super::params::{id, idempotency_key, limit};
use super::routes::AppState;
use crate::error::Error;
use crate::service::access::Caller;
use crate::service::tickets::{CreateCustomer, CreateTicket, TicketQuery};

pub async fn create_customer(
    State(service): State<AppState>,
    JsonBody(request): JsonBody<CreateCustomer>,
) -> Result<Response, ApiError> {
    let customer = service.desk.create_customer(request).await?;
    Ok((StatusCode::CREATED, Json(CustomerView::created(customer))).into_response())
}

pub async fn list_customers(
    State(service): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let customers = service.desk.customers(limit(query.get("limit"))?).await?;
    let customers: Vec<CustomerView> = customers.into_iter().map(CustomerView::new).collect();
    Ok(Json(CustomerList {
        count: customers.len(),
        customers,
    })
    .into_response())
}

pub async fn create_ticket(
    State(service): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(mut request): JsonBody<CreateTicket>,
) -> Result<Response, ApiError> {
    caller.pin_ticket(&mut request)?;
    let created = service
        .desk
        .create_ticket(request, idempotency_key(&headers)?, &caller.actor())
        .await?;
    let status = if created.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(created)).into_response())
}

pub async fn list_tickets(
    State(service): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    const FILTERS: [&str; 7] = [
        "status",
        "priority",
        "category",
        "model",
        "retention_flag",
        "order",
        "limit",
    ];
    if let Some(unknown) = query.keys().find(|k| !FILTERS.contains(&k.as_str())) {
        return Err(Error::invalid(
            unknown.as_str(),
            format!("is not a filter ({})", FILTERS.join(", ")),
        )
        .into());
    }
    let text = |name: &str| query.get(name).cloned();
    let tickets = service
        .desk
        .tickets(&TicketQuery {
            status: text("status"),
            priority: text("priority"),
            category: text("category"),
            model: text("model"),
            retention_flag: text("retention_flag"),
            order: text("order"),
            limit: limit(query.get("limit"))?,
        })
        .await?;
    Ok(Json(TicketList::from(tickets)).into_response())
}

pub async fn get_ticket(
    State(service): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(service.desk.ticket_details(id(&raw, "id")?).await?).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTicket {
    status: String,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

pub async fn patch_ticket(
    State(service): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(raw): Path<String>,
    JsonBody(patch): JsonBody<PatchTicket>,
) -> Result<Response, ApiError> {
    // The person the client names, else the key it called with.
    let by_key = match &caller {
        Caller::Key(_) => caller.actor(),
        _ => "agent".to_string(),
    };
    let actor = patch
        .actor
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or(&by_key);
    let ticket = service
        .desk
        .set_ticket_status(id(&raw, "id")?, &patch.status, actor, patch.note.as_deref())
        .await?;
    Ok(Json(ticket).into_response())
}
