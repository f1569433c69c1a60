//! The HTTP API (axum). The only module that knows about HTTP.

mod access;
mod bodies;
mod conversation;
mod docs;
mod error;
mod json;
mod metrics;
mod openapi;
mod params;
mod routes;
mod serve;
mod tickets;
mod ui;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use tokio::sync::Semaphore;

use crate::service::access::Role;
use crate::service::access::{IntakeKind, Rule};
use crate::service::{self as svc, Service};

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
    /// How the OpenAPI document describes it.
    doc: openapi::Doc,
    handler: MethodRouter<routes::AppState>,
    /// Bodies larger than the default (`MAX_BODY_BYTES`) are accepted.
    body_limit: Option<usize>,
    /// Exempt from the per-request timeout (the work is the point, and is bounded
    /// elsewhere).
    long_running: bool,
}

fn route<H, T>(verb: Verb, path: &'static str, rule: Rule, doc: openapi::Doc, handler: H) -> Route
where
    H: Handler<T, routes::AppState>,
    T: 'static,
{
    Route {
        spec: RouteSpec { verb, path, rule },
        doc,
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

/// Every route of the API, each with the rule its caller must satisfy and its description
/// in the OpenAPI document. The router is built from this table only, so a route cannot
/// exist without a rule or undocumented.
fn table() -> Vec<Route> {
    use openapi::doc;
    use Verb::{Get, Patch, Post};
    let anyone = Rule::Anyone;
    let intake = Rule::Needs(Role::Intake);
    let staff = Rule::Needs(Role::Staff);
    let admin = Rule::Needs(Role::Admin);
    // The text may be 64 KiB; its JSON escaping may make the body larger.
    let text_body = 4 * MAX_BODY_BYTES;
    let replayed = &[(
        200,
        "an Idempotency-Key or message id seen before: the first result",
    )];
    vec![
        route(
            Get,
            "/livez",
            anyone,
            doc("probes", "Liveness: the process answers").answers::<bodies::Alive>(),
            routes::livez,
        ),
        route(
            Get,
            "/readyz",
            anyone,
            doc(
                "probes",
                "Readiness: the index is loaded and the database answers",
            )
            .answers::<bodies::Readiness>()
            .also(&[(503, "not ready: the database does not answer")]),
            routes::readyz,
        ),
        route(
            Get,
            "/health",
            anyone,
            doc("probes", "Every component checked, an embedding included")
                .answers::<svc::Health>()
                .also(&[(503, "a component is not ready")]),
            routes::health,
        ),
        route(
            Get,
            "/metrics",
            staff,
            doc(
                "operations",
                "Prometheus metrics (404 when DEVICEKB_METRICS=false)",
            )
            .answers_media("text/plain"),
            metrics::metrics,
        ),
        route(
            Get,
            "/openapi.json",
            anyone,
            doc("operations", "This document").answers_media("application/json"),
            docs::openapi_json,
        ),
        route(
            Get,
            "/docs",
            anyone,
            doc("operations", "The API documentation page (works offline)")
                .answers_media("text/html"),
            docs::page,
        ),
        route(
            Get,
            "/docs/swagger-ui.css",
            anyone,
            doc("operations", "The documentation page's style sheet").answers_media("text/css"),
            docs::stylesheet,
        ),
        route(
            Get,
            "/docs/swagger-ui-bundle.js",
            anyone,
            doc("operations", "The documentation page's script").answers_media("text/javascript"),
            docs::script,
        ),
        route(
            Get,
            "/",
            intake,
            doc(
                "operations",
                "What this server is, its index and its routes",
            )
            .answers::<bodies::ServiceInfo>(),
            routes::info,
        ),
        route(
            Get,
            "/models",
            intake,
            doc("knowledge", "The printer models of the catalogue").answers::<bodies::ModelList>(),
            routes::models,
        ),
        route(
            Post,
            "/knowledge/search",
            staff,
            doc("knowledge", "Search the KB (BM25, vector or hybrid)")
                .takes::<svc::SearchRequest>()
                .answers::<svc::SearchResponse>(),
            routes::search,
        ),
        route(
            Post,
            "/answer",
            staff,
            doc("knowledge", "Answer a message from the KB, or say why not")
                .takes::<svc::AnswerRequest>()
                .answers::<svc::Answer>(),
            routes::answer,
        )
        .body_limit(text_body),
        route(
            Post,
            "/extract",
            staff,
            doc(
                "knowledge",
                "Read printer model, error codes and serial from a text",
            )
            .takes::<svc::ExtractRequest>()
            .answers::<svc::Extraction>(),
            routes::extract,
        )
        .body_limit(text_body),
        route(
            Post,
            "/admin/reindex",
            admin,
            doc(
                "operations",
                "Rebuild the index from the KB files, as a task",
            )
            .describe(
                "Starts a reindex and answers 202 with its task at once (its URL in \
                     `Location`); `GET /admin/tasks/{id}` follows it: the KB validated, \
                     new or changed entries embedded, the new generation switched to, or \
                     every problem of a KB that does not validate as file:line. With \
                     `wait=true` the answer is the report once the generation is served \
                     (a 422 listing the problems when the KB does not validate).",
            )
            .string_param(
                "wait",
                "`true`: answer when the reindex has ended, with its report (default `false`)",
            )
            .answers::<svc::engine::tasks::Task>()
            .status(202)
            .header(202, "Location", "the task to follow: /admin/tasks/{id}")
            .also_answers::<svc::ReindexReport>(200, "ended (wait=true): the report")
            .conflict("a reindex is already running (the detail names its task)")
            .unprocessable("wait=true: the KB does not validate (the detail lists its problems)"),
            routes::reindex,
        )
        .long_running(),
        route(
            Post,
            "/admin/learn",
            admin,
            doc(
                "operations",
                "Write the answers the desk confirmed into the KB, for the next reindex",
            )
            .describe(
                "Reads the tickets whose reply cited KB entries (an agent's reply with \
                     `citations`, or an automatic reply the customer marked helpful) and \
                     writes each ticket's first message with the entries it cited into the \
                     KB's `confirmed/answers.jsonl`, keeping the lines an editor wrote \
                     there; the next reindex (`POST /admin/reindex`) searches them beside \
                     the entries and calibrates on them. An automatic reply the customer \
                     marked unhelpful is written too, its entries as the line's \
                     `not_answered_by`: after the reindex a message like it is not answered \
                     automatically with them. With `dry_run=true` nothing is \
                     kept (a temporary file probes the folder) and `not_writable` says \
                     why the export would fail, if it would. A line of the file that does not parse is a 422 naming it; a \
                     KB folder the server may not write (mounted read-only) is a 409 saying \
                     so.",
            )
            .string_param(
                "dry_run",
                "`true`: report what would be written, write nothing (default `false`)",
            )
            .answers::<svc::desk::confirmed::LearnReport>()
            .conflict("the KB folder is not writable by the server (the detail names it)")
            .unprocessable(
                "a line of the KB's confirmed/answers.jsonl does not parse (the detail names it)",
            ),
            routes::learn,
        )
        .long_running(),
        route(
            Get,
            "/admin/tasks",
            admin,
            doc(
                "operations",
                "The reindex tasks this server remembers (the last 100), newest first",
            )
            .answers::<svc::engine::tasks::TaskList>(),
            routes::tasks,
        ),
        route(
            Get,
            "/admin/tasks/{id}",
            admin,
            doc(
                "operations",
                "A reindex task: phase and counts while it runs, then its generation or errors",
            )
            .answers::<svc::engine::tasks::Task>(),
            routes::task,
        ),
        route(
            Get,
            "/customers",
            staff,
            doc("desk", "Customers, newest first")
                .integer_param("limit", "at most this many (1-500)")
                .answers::<bodies::CustomerList>(),
            tickets::list_customers,
        ),
        route(
            Post,
            "/customers",
            intake,
            doc("desk", "Create a customer")
                .describe(
                    "Takes this API's field names or the earlier project's (company_name, \
                       contact_name, contact_email, contact_phone) and answers both.",
                )
                .takes::<svc::tickets::CreateCustomer>()
                .answers::<bodies::CustomerView>()
                .status(201),
            tickets::create_customer,
        ),
        route(
            Get,
            "/tickets",
            staff,
            doc("desk", "Tickets, newest first, filtered")
                .string_param("status", "one ticket status")
                .string_param("priority", "low, medium, high or critical")
                .string_param("category", "one category")
                .integer_param("limit", "at most this many (1-500)")
                .answers::<bodies::TicketList>(),
            tickets::list_tickets,
        ),
        route(
            Post,
            "/tickets",
            Rule::Intake(IntakeKind::Ticket),
            doc(
                "desk",
                "File a ticket; the pipeline answers it or escalates it",
            )
            .takes::<svc::tickets::CreateTicket>()
            .answers::<svc::tickets::TicketCreated>()
            .status(201)
            .also(replayed)
            .idempotent(),
            tickets::create_ticket,
        ),
        route(
            Get,
            "/tickets/{id}",
            staff,
            doc(
                "desk",
                "A ticket with its conversation, pipeline steps and history",
            )
            .answers::<svc::tickets::TicketDetails>(),
            tickets::get_ticket,
        ),
        route(
            Patch,
            "/tickets/{id}",
            staff,
            doc("desk", "Change a ticket's status")
                .takes::<tickets::PatchTicket>()
                .answers::<svc::tickets::Ticket>(),
            tickets::patch_ticket,
        ),
        route(
            Post,
            "/tickets/{id}/reply",
            staff,
            doc("desk", "Send an agent's reply")
                .takes::<svc::AgentReply>()
                .answers::<svc::tickets::Ticket>()
                .status(201),
            conversation::reply,
        ),
        route(
            Post,
            "/tickets/{id}/feedback",
            intake,
            doc("desk", "Say whether the automatic reply helped")
                .takes::<svc::Feedback>()
                .answers::<svc::FeedbackRecorded>()
                .conflict("the ticket has no automatic reply to rate"),
            conversation::feedback,
        ),
        route(
            Get,
            "/customers/{id}/devices",
            staff,
            doc("desk", "A customer's devices").answers::<bodies::DeviceList>(),
            conversation::customer_devices,
        ),
        route(
            Post,
            "/devices",
            staff,
            doc("desk", "Register a customer's device")
                .takes::<svc::desk::devices::CreateDevice>()
                .answers::<svc::tickets::Device>()
                .status(201),
            conversation::create_device,
        ),
        route(
            Post,
            "/messages",
            Rule::Intake(IntakeKind::Message),
            doc(
                "desk",
                "Receive a message (e-mail, SMS, chat, call) into its conversation",
            )
            .takes::<svc::conversation::CreateMessage>()
            .answers::<svc::conversation::MessageAccepted>()
            .status(201)
            .also(replayed)
            .idempotent(),
            conversation::create_message,
        )
        .body_limit(text_body),
        route(
            Get,
            "/messages/unprocessed",
            staff,
            doc("desk", "Messages the pipeline has not answered yet")
                .integer_param("limit", "at most this many (1-500)")
                .answers::<bodies::MessageList>(),
            conversation::unprocessed_messages,
        ),
        route(
            Post,
            "/extractions",
            staff,
            doc("desk", "Record what an external extractor read on a ticket")
                .takes::<svc::ExternalExtraction>()
                .answers::<bodies::ExtractionRecorded>()
                .status(201),
            conversation::create_extraction,
        ),
        route(
            Get,
            "/stats/tickets",
            staff,
            doc(
                "stats",
                "Tickets by status, priority, category and decision",
            )
            .answers::<svc::stats::TicketStats>(),
            conversation::ticket_stats,
        ),
        route(
            Get,
            "/stats/pipeline",
            staff,
            doc("stats", "Pipeline timings, decisions and feedback per day")
                .integer_param("days", "the last this many days")
                .answers::<svc::stats::PipelineStats>(),
            conversation::pipeline_stats,
        ),
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
    metrics::install(config.metrics);
    let mut router = Router::new();
    for route in table() {
        let gate = access::Gate {
            service: service.clone(),
            rule: route.spec.rule,
            network,
            in_flight: in_flight.clone(),
            timeout: (!route.long_running).then_some(timeout),
            route: route.spec.path,
            figures: Arc::new(metrics::RouteFigures::new(
                route.spec.verb.as_str(),
                route.spec.path,
            )),
            page: false,
        };
        let mut handler = route
            .handler
            .route_layer(axum::middleware::from_fn_with_state(gate, access::gate));
        if let Some(bytes) = route.body_limit {
            handler = handler.layer(DefaultBodyLimit::max(bytes));
        }
        router = router.route(route.spec.path, handler);
    }
    let mut pages = Router::new();
    for (path, methods, handler) in ui::routes() {
        let gate = access::Gate {
            service: service.clone(),
            rule: Rule::Anyone,
            network,
            in_flight: in_flight.clone(),
            timeout: Some(timeout),
            route: path,
            figures: Arc::new(metrics::RouteFigures::new(methods, path)),
            page: true,
        };
        pages = pages.route(
            path,
            handler.route_layer(axum::middleware::from_fn_with_state(gate, access::gate)),
        );
    }
    let pages = pages
        .layer(DefaultBodyLimit::max(ui::MAX_FORM_BYTES))
        .with_state(ui::UiState {
            service: service.clone(),
            network,
        });
    router
        .fallback(routes::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(service)
        .merge(pages)
}

/// The OpenAPI 3.1 document of every route, as JSON.
pub fn openapi_document() -> &'static str {
    openapi::document_json(table)
}
