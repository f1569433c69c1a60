//! The OpenAPI 3.1 document, built from the route table: each route declares its summary,
//! its body and answer types (whose schemas come from their Rust types), and the table's
//! rule gives its security and its error answers. A route cannot be served without being
//! described, and the schemas cannot drift from what the handlers serialise.

use std::sync::OnceLock;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, HttpMethod, InfoBuilder, OpenApi, OpenApiBuilder, PathItem,
    PathsBuilder, Ref, RefOr, Required, ResponseBuilder, Schema,
};
use utoipa::ToSchema;

use super::bodies::ErrorBody;
use super::{Route, Verb};
use crate::service::access::{Role, Rule};

/// Collects the named schemas a type needs and answers a reference to the type's own.
type SchemaFn = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

fn schema_of<T: ToSchema>(all: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schemas(all);
    let name = T::name();
    all.push((name.to_string(), T::schema()));
    Ref::from_schema_name(name).into()
}

/// What a route answers when it succeeds.
#[derive(Clone, Copy)]
enum Answer {
    Json(SchemaFn),
    /// Not JSON (the metrics' text format, the docs page): the media type.
    Other(&'static str),
}

/// One query parameter of a route.
#[derive(Clone)]
struct QueryParam {
    name: &'static str,
    kind: Type,
    description: &'static str,
}

/// How a route is described in the OpenAPI document.
#[derive(Clone)]
pub(super) struct Doc {
    tag: &'static str,
    summary: &'static str,
    description: Option<&'static str>,
    request: Option<SchemaFn>,
    answer: Answer,
    success: u16,
    /// Other statuses that carry the same body (a replayed ticket is 200, not 201).
    also: &'static [(u16, &'static str)],
    /// Other successes with another body (a reindex started is 202 with its run).
    other: Vec<(u16, &'static str, SchemaFn)>,
    /// Headers a success carries: status, name, what it holds.
    headers: Vec<(u16, &'static str, &'static str)>,
    query: Vec<QueryParam>,
    idempotent: bool,
    conflict: Option<&'static str>,
    /// Why a route without a body may answer 422 (a KB file it reads does not validate).
    unprocessable: Option<&'static str>,
}

/// A route's description: its group in the docs and one line saying what it does.
pub(super) fn doc(tag: &'static str, summary: &'static str) -> Doc {
    Doc {
        tag,
        summary,
        description: None,
        request: None,
        answer: Answer::Other("application/json"),
        success: 200,
        also: &[],
        other: Vec::new(),
        headers: Vec::new(),
        query: Vec::new(),
        idempotent: false,
        conflict: None,
        unprocessable: None,
    }
}

impl Doc {
    pub(super) fn describe(mut self, text: &'static str) -> Doc {
        self.description = Some(text);
        self
    }

    /// The JSON body the route reads.
    pub(super) fn takes<T: ToSchema>(mut self) -> Doc {
        self.request = Some(schema_of::<T>);
        self
    }

    /// The JSON body the route answers with.
    pub(super) fn answers<T: ToSchema>(mut self) -> Doc {
        self.answer = Answer::Json(schema_of::<T>);
        self
    }

    /// A body that is not JSON, by media type.
    pub(super) fn answers_media(mut self, media_type: &'static str) -> Doc {
        self.answer = Answer::Other(media_type);
        self
    }

    pub(super) fn status(mut self, success: u16) -> Doc {
        self.success = success;
        self
    }

    pub(super) fn also(mut self, statuses: &'static [(u16, &'static str)]) -> Doc {
        self.also = statuses;
        self
    }

    /// Another success, with its own body.
    pub(super) fn also_answers<T: ToSchema>(
        mut self,
        status: u16,
        description: &'static str,
    ) -> Doc {
        self.other.push((status, description, schema_of::<T>));
        self
    }

    /// A header the success with `status` carries (the error answers' own are added
    /// from their status: `Retry-After`, `WWW-Authenticate`).
    pub(super) fn header(
        mut self,
        status: u16,
        name: &'static str,
        description: &'static str,
    ) -> Doc {
        self.headers.push((status, name, description));
        self
    }

    pub(super) fn integer_param(self, name: &'static str, description: &'static str) -> Doc {
        self.param(name, Type::Integer, description)
    }

    pub(super) fn string_param(self, name: &'static str, description: &'static str) -> Doc {
        self.param(name, Type::String, description)
    }

    fn param(mut self, name: &'static str, kind: Type, description: &'static str) -> Doc {
        self.query.push(QueryParam {
            name,
            kind,
            description,
        });
        self
    }

    /// Takes an `Idempotency-Key` header: a retry with the same key is answered once.
    pub(super) fn idempotent(mut self) -> Doc {
        self.idempotent = true;
        self
    }

    /// May answer 409, for the reason given.
    pub(super) fn conflict(mut self, when: &'static str) -> Doc {
        self.conflict = Some(when);
        self
    }

    /// May answer 422 though it reads no body, for the reason given.
    pub(super) fn unprocessable(mut self, when: &'static str) -> Doc {
        self.unprocessable = Some(when);
        self
    }
}

/// The document as JSON, built once: the route table is only read the first time.
pub(super) fn document_json(routes: impl FnOnce() -> Vec<Route>) -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        build(&routes())
            .to_json()
            .expect("an OpenAPI document always serialises")
    })
}

const DESCRIPTION: &str = "devicekb answers printer-support tickets from a knowledge base: \
search, extraction, grounded replies, and the ticket desk.\n\n\
Keys are sent as `Authorization: Bearer KEY` or `X-Api-Key: KEY`; a route names the role it \
needs (intake < staff < admin). A server with no key configured listens on loopback only \
and asks for none. Every client mistake is a 4xx with a JSON body `{\"error\", \"detail\", \
\"field\"}` naming the field.";

fn build(routes: &[Route]) -> OpenApi {
    let mut schemas = Vec::new();
    let error = schema_of::<ErrorBody>(&mut schemas);
    let mut paths = PathsBuilder::new();
    let mut tags: Vec<&'static str> = Vec::new();
    for route in routes {
        if !tags.contains(&route.doc.tag) {
            tags.push(route.doc.tag);
        }
        let operation = operation(route, &mut schemas, &error);
        let method = match route.spec.verb {
            Verb::Get => HttpMethod::Get,
            Verb::Post => HttpMethod::Post,
            Verb::Patch => HttpMethod::Patch,
        };
        paths = paths.path(route.spec.path, PathItem::new(method, operation));
    }
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        )
        .security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("devicekb")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(DESCRIPTION))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .tags(Some(
            tags.into_iter().map(|t| TagBuilder::new().name(t).build()),
        ))
        .build()
}

fn operation(
    route: &Route,
    schemas: &mut Vec<(String, RefOr<Schema>)>,
    error: &RefOr<Schema>,
) -> Operation {
    let doc = &route.doc;
    let spec = &route.spec;
    let mut op = OperationBuilder::new()
        .tag(doc.tag)
        .summary(Some(doc.summary))
        .description(doc.description)
        .operation_id(Some(operation_id(spec.verb, spec.path)));
    for name in path_params(spec.path) {
        op = op.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("a positive integer"))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                )),
        );
    }
    for param in &doc.query {
        op = op.parameter(
            ParameterBuilder::new()
                .name(param.name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(param.description))
                .schema(Some(ObjectBuilder::new().schema_type(param.kind.clone()))),
        );
    }
    if doc.idempotent {
        op = op.parameter(
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "a retry with the same key and body is answered with the first result \
                     (200) instead of filing twice; the same key with another body is a 409",
                ))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
        );
    }
    if let Some(request) = doc.request {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(request(schemas))).build(),
                )
                .build(),
        ));
    }
    let success = match doc.answer {
        Answer::Json(answer) => {
            let schema = answer(schemas);
            let body = || ContentBuilder::new().schema(Some(schema.clone())).build();
            for (status, description) in doc.also {
                op = op.response(
                    status.to_string(),
                    ResponseBuilder::new()
                        .description(*description)
                        .content("application/json", body()),
                );
            }
            ResponseBuilder::new()
                .description("success")
                .content("application/json", body())
        }
        Answer::Other(media_type) => ResponseBuilder::new()
            .description("success")
            .content(media_type, ContentBuilder::new().build()),
    };
    let with_headers = |status: u16, mut response: ResponseBuilder| {
        for &(_, name, description) in doc
            .headers
            .iter()
            .chain(&ERROR_HEADERS)
            .filter(|(s, _, _)| *s == status)
        {
            response = response.header(
                name,
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some(description))
                    .build(),
            );
        }
        response
    };
    op = op.response(doc.success.to_string(), with_headers(doc.success, success));
    for (status, description, answer) in &doc.other {
        let schema = answer(schemas);
        op = op.response(
            status.to_string(),
            with_headers(
                *status,
                ResponseBuilder::new().description(*description).content(
                    "application/json",
                    ContentBuilder::new().schema(Some(schema)).build(),
                ),
            ),
        );
    }
    for (status, description) in error_answers(route) {
        op = op.response(
            status.to_string(),
            with_headers(
                status,
                ResponseBuilder::new().description(description).content(
                    "application/json",
                    ContentBuilder::new().schema(Some(error.clone())).build(),
                ),
            ),
        );
    }
    op.securities(Some(security(spec.rule))).build()
}

/// Who may call: a key of the role (either way of sending it), or for intake also no key
/// when the public intake is on; probes ask for nothing.
fn security(rule: Rule) -> Vec<SecurityRequirement> {
    let keyed = || {
        vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("api_key", Vec::<String>::new()),
        ]
    };
    match rule {
        Rule::Anyone => Vec::new(),
        Rule::Needs(_) => keyed(),
        Rule::Intake(_) => {
            let mut options = keyed();
            options.push(SecurityRequirement::default());
            options
        }
    }
}

/// Headers every error answer of a status carries (`api::error` sets them).
const ERROR_HEADERS: [(u16, &str, &str); 3] = [
    (
        401,
        "WWW-Authenticate",
        "the scheme to send a key with: Bearer",
    ),
    (
        429,
        "Retry-After",
        "seconds to wait before the next request",
    ),
    (503, "Retry-After", "seconds to wait before retrying"),
];

/// The error answers a route can give, from what it reads and who may call it.
fn error_answers(route: &Route) -> Vec<(u16, &'static str)> {
    let doc = &route.doc;
    let spec = &route.spec;
    let mut answers = Vec::new();
    let reads_input = doc.request.is_some() || !doc.query.is_empty() || spec.path.contains('{');
    if reads_input {
        answers.push((400, "the input cannot be read; `field` names the culprit"));
    }
    if let Some(forbidden) = forbidden(spec.rule) {
        answers.push((401, "no key, or a key that matches none"));
        answers.push((403, forbidden));
    }
    if spec.path.contains('{') {
        answers.push((404, "no such record"));
    }
    if let Some(when) = doc.conflict {
        answers.push((409, when));
    } else if doc.idempotent {
        answers.push((409, "the Idempotency-Key was used for a different request"));
    }
    if doc.request.is_some() {
        answers.push((413, "the body is larger than the route accepts"));
        answers.push((
            422,
            "the input reads well but a rule refuses it; `field` names it",
        ));
    } else if let Some(when) = doc.unprocessable {
        answers.push((422, when));
    }
    if !matches!(spec.rule, Rule::Anyone) {
        answers.push((
            429,
            "too many requests from this address or key; see Retry-After",
        ));
    }
    answers.push((
        503,
        "not ready, overloaded, timed out, or the database is unavailable; retry",
    ));
    answers.push((500, "a server fault; the detail is in the server log"));
    answers
}

/// Why a key can be refused here; `None` for the probes, which look at no key.
fn forbidden(rule: Rule) -> Option<&'static str> {
    match rule {
        Rule::Anyone => None,
        Rule::Intake(_) | Rule::Needs(Role::Intake) => {
            Some("the key's role does not include intake")
        }
        Rule::Needs(Role::Staff) => Some("the route needs a staff or admin key"),
        Rule::Needs(Role::Admin) => Some("the route needs an admin key"),
    }
}

/// `{id}` and the like, in order.
fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

/// `post_tickets_id_reply` for `POST /tickets/{id}/reply`: unique, since the table has one
/// route per verb and path.
fn operation_id(verb: Verb, path: &str) -> String {
    let mut id = verb.as_str().to_ascii_lowercase();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.push_str(segment.trim_matches(|c| c == '{' || c == '}'));
    }
    if path == "/" {
        id.push_str("_root");
    }
    id
}
