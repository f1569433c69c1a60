//! The HTTP API (axum). The only module that knows about HTTP.

mod access;
mod conversation;
mod error;
mod json;
mod metrics;
mod routes;
mod serve;
mod tickets;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use tokio::sync::Semaphore;

use crate::service::access::Role;
use crate::service::access::{IntakeKind, Rule};
use crate::service::Service;

pub use access::Network;
pub use error::status_of;
pub use serve::serve;

/// Largest request body accepted (a search query is at most 2 KiB; tickets come later).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Patch,
}

impl Verb {
    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Patch => MethodFilter::PATCH,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
        }
    }
}

/// One route as the table declares it: what answers it and who may call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub verb: Verb,
    pub path: &'static str,
    pub rule: Rule,
}

struct Route {
    spec: RouteSpec,
    handler: MethodRouter<routes::AppState>,
    /// Bodies larger than the default (`MAX_BODY_BYTES`) are accepted.
    body_limit: Option<usize>,
    /// Exempt from the per-request timeout (the work is the point, and is bounded
    /// elsewhere).
    long_running: bool,
}

fn route<H, T>(verb: Verb, path: &'static str, rule: Rule, handler: H) -> Route
where
    H: Handler<T, routes::AppState>,
    T: 'static,
{
    Route {
        spec: RouteSpec { verb, path, rule },
        handler: on(verb.filter(), handler),
        body_limit: None,
        long_running: false,
    }
}

impl Route {
    fn body_limit(mut self, bytes: usize) -> Route {
        self.body_limit = Some(bytes);
        self
    }

    fn long_running(mut self) -> Route {
        self.long_running = true;
        self
    }
}

/// Every route of the API, each with the rule its caller must satisfy. The router is
/// built from this table only, so a route cannot exist without a rule.
fn table() -> Vec<Route> {
    use Verb::{Get, Patch, Post};
    let anyone = Rule::Anyone;
    let intake = Rule::Needs(Role::Intake);
    let staff = Rule::Needs(Role::Staff);
    let admin = Rule::Needs(Role::Admin);
    // The text may be 64 KiB; its JSON escaping may make the body larger.
    let text_body = 4 * MAX_BODY_BYTES;
    vec![
        route(Get, "/livez", anyone, routes::livez),
        route(Get, "/readyz", anyone, routes::readyz),
        route(Get, "/health", anyone, routes::health),
        route(Get, "/metrics", staff, metrics::metrics),
        route(Get, "/", intake, routes::info),
        route(Get, "/models", intake, routes::models),
        route(Post, "/knowledge/search", staff, routes::search),
        route(Post, "/answer", staff, routes::answer).body_limit(text_body),
        route(Post, "/extract", staff, routes::extract).body_limit(text_body),
        route(Post, "/admin/reindex", admin, routes::reindex).long_running(),
        route(Get, "/customers", staff, tickets::list_customers),
        route(Post, "/customers", intake, tickets::create_customer),
        route(Get, "/tickets", staff, tickets::list_tickets),
        route(
            Post,
            "/tickets",
            Rule::Intake(IntakeKind::Ticket),
            tickets::create_ticket,
        ),
        route(Get, "/tickets/{id}", staff, tickets::get_ticket),
        route(Patch, "/tickets/{id}", staff, tickets::patch_ticket),
        route(Post, "/tickets/{id}/reply", staff, conversation::reply),
        route(
            Post,
            "/tickets/{id}/feedback",
            intake,
            conversation::feedback,
        ),
        route(
            Get,
            "/customers/{id}/devices",
            staff,
            conversation::customer_devices,
        ),
        route(Post, "/devices", staff, conversation::create_device),
        route(
            Post,
            "/messages",
            Rule::Intake(IntakeKind::Message),
            conversation::create_message,
        )
        .body_limit(text_body),
        route(
            Get,
            "/messages/unprocessed",
            staff,
            conversation::unprocessed_messages,
        ),
        route(Post, "/extractions", staff, conversation::create_extraction),
        route(Get, "/stats/tickets", staff, conversation::ticket_stats),
        route(Get, "/stats/pipeline", staff, conversation::pipeline_stats),
    ]
}

/// The routes and their rules, for the root document and for tests.
pub fn route_table() -> Vec<RouteSpec> {
    table().into_iter().map(|r| r.spec).collect()
}

/// The API over `service`, reached as `network` says.
pub fn router(service: Arc<Service>, network: Network) -> Router {
    let config = service.engine.config();
    let in_flight = Arc::new(Semaphore::new(config.max_concurrent_requests.max(1)));
    let timeout = Duration::from_millis(config.request_timeout_ms.max(1));
    let metrics = metrics::HttpMetrics::new();
    let mut router = Router::new();
    for route in table() {
        let gate = access::Gate {
            service: service.clone(),
            rule: route.spec.rule,
            network,
            in_flight: in_flight.clone(),
            timeout: (!route.long_running).then_some(timeout),
            route: route.spec.path,
            method: route.spec.verb.as_str(),
            metrics: metrics.clone(),
        };
        let mut handler = route
            .handler
            .route_layer(axum::middleware::from_fn_with_state(gate, access::gate));
        if let Some(bytes) = route.body_limit {
            handler = handler.layer(DefaultBodyLimit::max(bytes));
        }
        router = router.route(route.spec.path, handler);
    }
    router
        .fallback(routes::not_found)
        .layer(axum::Extension(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(service)
}
