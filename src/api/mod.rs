//! The HTTP API (axum). The only module that knows about HTTP.

mod conversation;
mod error;
mod json;
mod routes;
mod tickets;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::service::Service;

pub use error::status_of;

/// Largest request body accepted (a search query is at most 2 KiB; tickets come later).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/", get(routes::info))
        .route("/health", get(routes::health))
        .route("/models", get(routes::models))
        .route("/knowledge/search", post(routes::search))
        .route(
            "/answer",
            post(routes::answer).layer(DefaultBodyLimit::max(4 * MAX_BODY_BYTES)),
        )
        .route(
            "/extract",
            // The text may be 64 KiB; its JSON escaping may make the body larger.
            post(routes::extract).layer(DefaultBodyLimit::max(4 * MAX_BODY_BYTES)),
        )
        .route("/admin/reindex", post(routes::reindex))
        .route(
            "/customers",
            get(tickets::list_customers).post(tickets::create_customer),
        )
        .route(
            "/tickets",
            get(tickets::list_tickets).post(tickets::create_ticket),
        )
        .route(
            "/tickets/{id}",
            get(tickets::get_ticket).patch(tickets::patch_ticket),
        )
        .route("/tickets/{id}/reply", post(conversation::reply))
        .route("/tickets/{id}/feedback", post(conversation::feedback))
        .route(
            "/customers/{id}/devices",
            get(conversation::customer_devices),
        )
        .route("/devices", post(conversation::create_device))
        .route(
            "/messages",
            post(conversation::create_message).layer(DefaultBodyLimit::max(4 * MAX_BODY_BYTES)),
        )
        .route(
            "/messages/unprocessed",
            get(conversation::unprocessed_messages),
        )
        .route("/extractions", post(conversation::create_extraction))
        .route("/stats/tickets", get(conversation::ticket_stats))
        .route("/stats/pipeline", get(conversation::pipeline_stats))
        .fallback(routes::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(service)
}

/// Serves until Ctrl-C / SIGTERM. `listener` may be bound to port 0 (tests).
pub async fn serve(listener: TcpListener, service: Arc<Service>) -> Result<()> {
    let watcher = service.engine.spawn_generation_watcher();
    let app = router(service);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| Error::io("serving HTTP", e));
    watcher.abort();
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
