//! The staff workspace in the browser (`/ui`): pages rendered on the server from the same
//! service the JSON API calls, with their assets compiled into the binary (no CDN, works
//! offline).
//!
//! Staff sign in with their API key; the browser then carries a signed session cookie
//! (`HttpOnly`, `SameSite=Strict`, `Secure` behind a TLS proxy), never the key. Every form
//! carries the session's CSRF token. A loopback server with no key anywhere is open, as
//! the API is. Pages answer HTML, never the API's JSON errors: an ended session goes back
//! to the sign-in page with a message.

mod kb;
mod kpis;
mod marks;
mod pages;
mod queue;
mod search;
mod session;
mod ticket;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, SET_COOKIE, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use serde::Deserialize;

use super::access::Network;
use super::routes::AppState;
use crate::service::access::Role;
use session::{Viewer, CSRF_COOKIE, LANG_COOKIE, SESSION_COOKIE};

pub use session::Lang;

/// What every page handler gets: the service and how the server is reached.
#[derive(Clone)]
pub struct UiState {
    pub service: AppState,
    pub network: Network,
}

const STYLE: &str = include_str!("assets/app.css");
const SCRIPT: &str = include_str!("assets/app.js");

/// The workspace's routes, under `/ui`, each with its path template and methods (the API's router
/// puts each behind the request gate, for the log, the metrics and the timeout; pages
/// check their session themselves, as they answer with the sign-in page, not a 401).
pub fn routes() -> Vec<(&'static str, &'static str, MethodRouter<UiState>)> {
    vec![
        ("/ui", "GET", get(home)),
        ("/ui/", "GET", get(home)),
        ("/ui/signin", "GET,POST", get(signin_page).post(signin)),
        ("/ui/signout", "POST", post(signout)),
        ("/ui/lang", "GET", get(switch_lang)),
        ("/ui/search", "GET", get(search::page)),
        ("/ui/queue", "GET", get(queue::page)),
        ("/ui/tickets/{id}", "GET", get(ticket::page)),
        ("/ui/tickets/{id}/reply", "POST", post(ticket::reply)),
        (
            "/ui/tickets/{id}/status",
            "POST",
            post(ticket::change_status),
        ),
        ("/ui/tickets/{id}/feedback", "POST", post(ticket::feedback)),
        ("/ui/escalate", "POST", post(ticket::escalate)),
        ("/ui/kpis", "GET", get(kpis::page)),
        ("/ui/kb", "GET", get(kb::page)),
        ("/ui/kb/entries/{id}", "GET", get(kb::entry)),
        ("/ui/kb/reindex", "POST", post(kb::reindex)),
        ("/ui/kb/learn", "POST", post(kb::learn)),
        ("/ui/kb/tasks/{id}", "GET", get(kb::task)),
        ("/ui/{*rest}", "GET", get(not_found)),
        (
            "/ui/assets/app.css",
            "GET",
            get(|| asset(STYLE, "text/css")),
        ),
        (
            "/ui/assets/app.js",
            "GET",
            get(|| asset(SCRIPT, "text/javascript")),
        ),
    ]
}

/// Largest form accepted: a reply of the largest message the desk takes, percent-encoded
/// (a character outside ASCII takes up to three times its bytes).
pub const MAX_FORM_BYTES: usize = 3 * crate::service::conversation::MAX_MESSAGE_BYTES + 4096;

async fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(kind)),
            (CACHE_CONTROL, HeaderValue::from_static("max-age=3600")),
        ],
        body,
    )
        .into_response()
}

/// A 303 to `to` (after a form, the browser GETs the next page).
fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let location =
        HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/ui/search"));
    response.headers_mut().insert(LOCATION, location);
    response
}

/// A page of the workspace as a response, never cached (it shows tickets and KB text).
fn html(status: StatusCode, markup: maud::Markup) -> Response {
    (
        status,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // No other site may frame a page (clickjacking).
            (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("frame-ancestors 'none'"),
            ),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// Any other page of the workspace: a page saying so, not the API's JSON.
async fn not_found(headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers);
    html(
        StatusCode::NOT_FOUND,
        pages::message(
            lang,
            lang.pick("Page introuvable", "Page not found"),
            lang.pick(
                "Cette page n'existe pas dans l'espace du support.",
                "This page does not exist in the staff workspace.",
            ),
        ),
    )
}

async fn home() -> Response {
    see_other("/ui/search")
}

#[derive(Debug, Default, Deserialize)]
struct SigninQuery {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

async fn signin_page(
    State(state): State<UiState>,
    headers: HeaderMap,
    query: Result<Query<SigninQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let lang = Lang::of(&headers);
    if session::open_mode(&state, &headers) {
        return see_other("/ui/search");
    }
    let next = session::safe_next(query.next.as_deref());
    let reason = query
        .reason
        .as_deref()
        .map(|r| session::reason_text(lang, r));
    signin_response(&state, &headers, lang, StatusCode::OK, &next, reason)
}

/// The sign-in page with a fresh token for its form, also set as a cookie (the form's
/// field and the cookie must match: a page of another site can send neither).
fn signin_response(
    state: &UiState,
    headers: &HeaderMap,
    lang: Lang,
    status: StatusCode,
    next: &str,
    problem: Option<String>,
) -> Response {
    let pre = session::new_pre_session_token();
    let mut response = html(status, pages::signin(lang, &pre, next, problem));
    session::set_cookie(
        &mut response,
        headers,
        state.network,
        CSRF_COOKIE,
        &pre,
        3600,
    );
    response
}

#[derive(Debug, Deserialize)]
struct SigninForm {
    key: String,
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

async fn signin(
    State(state): State<UiState>,
    headers: HeaderMap,
    form: Result<Form<SigninForm>, FormRejection>,
) -> Response {
    let lang = Lang::of(&headers);
    // A form without its fields is not one of ours: refused as a forged one is.
    let Ok(Form(form)) = form else {
        return forbidden(lang);
    };
    let next = session::safe_next(form.next.as_deref());
    // Sign-in itself is a form: a page of another site must not sign the browser in
    // with its own key (the token is in a cookie that site cannot read).
    let expected = session::cookie(&headers, CSRF_COOKIE);
    if expected.is_none_or(|c| !session::same_token(c, &form.csrf)) {
        return forbidden(lang);
    }
    let access = &state.service.access;
    let mut status = StatusCode::UNAUTHORIZED;
    let refused = match access.keys.find(form.key.trim()) {
        Ok(principal) if principal.role.grants(Role::Staff) => {
            let digest = crate::service::access::keys::digest(form.key.trim());
            let token = access
                .sessions
                .issue(principal.key_id, &digest, session::unix_now());
            let mut response = see_other(&next);
            let lifetime = crate::service::access::sessions::SESSION_LIFETIME.as_secs();
            session::set_cookie(
                &mut response,
                &headers,
                state.network,
                SESSION_COOKIE,
                &token,
                lifetime,
            );
            session::set_cookie(&mut response, &headers, state.network, CSRF_COOKIE, "", 0);
            return response;
        }
        Ok(principal) => {
            status = StatusCode::FORBIDDEN;
            not_staff(lang, &principal)
        }
        Err(e) => match e {
            crate::Error::StorageUnavailable(_) => lang
                .pick(
                    "Les clés ne peuvent pas être lues : la base de données ne répond pas.",
                    "The keys cannot be read: the database does not answer.",
                )
                .to_string(),
            _ => lang
                .pick("Clé inconnue ou révoquée.", "Unknown or revoked key.")
                .to_string(),
        },
    };
    signin_response(&state, &headers, lang, status, &next, Some(refused))
}

fn not_staff(lang: Lang, principal: &crate::service::access::Principal) -> String {
    match lang {
        Lang::Fr => format!(
            "La clé « {} » n'est pas une clé du support (rôle {}).",
            principal.name,
            principal.role.as_str()
        ),
        Lang::En => format!(
            "The key `{}` is not a staff key (role {}).",
            principal.name,
            principal.role.as_str()
        ),
    }
}

/// A form that carries nothing but its token (sign-out, reindex).
#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn signout(
    State(state): State<UiState>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    if let Err(response) = accept_form(&state, &headers, Role::Staff, "/ui/search", form, |f| {
        &f.csrf
    }) {
        return *response;
    }
    let mut response = see_other("/ui/signin?reason=signed_out");
    session::set_cookie(
        &mut response,
        &headers,
        state.network,
        SESSION_COOKIE,
        "",
        0,
    );
    response
}

#[derive(Debug, Default, Deserialize)]
struct LangQuery {
    #[serde(default)]
    to: String,
    #[serde(default)]
    back: Option<String>,
}

/// Switches the language (a cookie) and goes back where the link was.
async fn switch_lang(
    State(state): State<UiState>,
    headers: HeaderMap,
    query: Result<Query<LangQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let lang = Lang::parse(&query.to).unwrap_or_default();
    let mut response = see_other(&session::safe_next(query.back.as_deref()));
    session::set_cookie(
        &mut response,
        &headers,
        state.network,
        LANG_COOKIE,
        lang.code(),
        365 * 24 * 3600,
    );
    response
}

/// A form without its session's token: refused, with a page saying so.
fn forbidden(lang: Lang) -> Response {
    html(
        StatusCode::FORBIDDEN,
        pages::message(
            lang,
            lang.pick("Formulaire refusé", "Form refused"),
            lang.pick(
                "Ce formulaire ne vient pas de cette session (jeton CSRF absent ou faux). Rechargez la page et recommencez.",
                "This form did not come from this session (CSRF token missing or wrong). Reload the page and try again.",
            ),
        ),
    )
}

/// A posted form's viewer and fields, or the page to answer instead: the sign-in page, a
/// refusal of the key's role, a form too long (413), or one without this session's token
/// (403). Every form of the workspace goes through here before it acts.
fn accept_form<T>(
    state: &UiState,
    headers: &HeaderMap,
    needed: Role,
    here: &str,
    form: Result<Form<T>, FormRejection>,
    token: impl Fn(&T) -> &str,
) -> Result<(Viewer, T), Box<Response>> {
    let viewer = Viewer::of(state, headers, needed, here)?;
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return Err(Box::new(form_refused(viewer.lang, &rejection))),
    };
    if !viewer.csrf_ok(state, headers, token(&form)) {
        return Err(Box::new(forbidden(viewer.lang)));
    }
    Ok((viewer, form))
}

/// A form that could not be read: too long (a 413 page saying so), else not one of ours
/// (refused as a forged one is).
fn form_refused(lang: Lang, rejection: &FormRejection) -> Response {
    if rejection.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return forbidden(lang);
    }
    html(
        StatusCode::PAYLOAD_TOO_LARGE,
        pages::message(
            lang,
            lang.pick("Texte trop long", "Text too long"),
            lang.pick(
                "Ce formulaire dépasse la taille acceptée ; raccourcissez le texte et recommencez.",
                "This form is over the accepted size: shorten the text and try again.",
            ),
        ),
    )
}

/// Adds a `Set-Cookie` value already formatted (see `session::set_cookie`).
fn append_cookie(response: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().append(SET_COOKIE, v);
    }
}

/// The ticket desk's database does not answer: the pages that read it say so, and point
/// to search, which does not need it.
fn desk_unavailable(lang: Lang, viewer: &session::Viewer) -> Response {
    let body = maud::html! {
        section.message {
            h1 { (lang.pick("Guichet des tickets indisponible", "Ticket desk unavailable")) }
            p role="alert" { (lang.pick(
                "La base de données des tickets ne répond pas pour le moment. La recherche dans la base de connaissances fonctionne toujours.",
                "The ticket database does not answer right now. Searching the knowledge base still works."
            )) }
            p { a href="/ui/search" { (lang.pick("Aller à la recherche", "Go to search")) } }
        }
    };
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::layout(
            lang,
            lang.pick(
                "Guichet des tickets indisponible",
                "Ticket desk unavailable",
            ),
            Some((viewer, pages::Section::Queue)),
            body,
        ),
    )
}

/// A page for an error the service returned: what the API would say, with the same
/// status; server faults logged and shown without their internals.
fn error_page(lang: Lang, error: &crate::Error) -> Response {
    let (status, _) = super::status_of(error);
    let detail = if status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::warn!(error = %error.chain(), "a workspace page could not be served");
        lang.pick(
            "Le service n'est pas disponible pour le moment ; réessayez dans un instant.",
            "The service is not available right now; try again in a moment.",
        )
        .to_string()
    } else if status.is_server_error() {
        tracing::error!(error = %error.chain(), "a workspace page failed");
        lang.pick(
            "Erreur interne ; voir le journal du serveur.",
            "Internal error; see the server log.",
        )
        .to_string()
    } else {
        error.to_string()
    };
    let title = if status.is_server_error() {
        lang.pick("Service indisponible", "Service unavailable")
    } else {
        lang.pick("Demande refusée", "Request refused")
    };
    html(status, pages::message(lang, title, &detail))
}
