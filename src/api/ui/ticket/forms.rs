//! The ticket page's forms: an agent's reply (the draft edited), a status change, the
//! customer's feedback on an automatic reply. Each checks the session's CSRF token, calls
//! the desk, and goes back to the page; a refusal shows the page again with the problem
//! and what was typed.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::{no_such_ticket, render, ticket_id, Kept};
use crate::api::ui::session::Viewer;
use crate::api::ui::{accept_form, desk_unavailable, error_page, see_other, UiState};
use crate::error::Error;
use crate::service::access::Role;
use crate::service::{AgentReply, Feedback};

/// Who a change is recorded as: the key's name, or the local open access.
fn actor(viewer: &Viewer) -> String {
    viewer
        .name
        .clone()
        .unwrap_or_else(|| "local staff".to_string())
}

/// A form posted on ticket `raw` (its page's path): the viewer, the ticket's id and the
/// fields, or the page to answer instead (see `accept_form`; an id that cannot be one is
/// the ticket's 404 page).
fn accept_on_ticket<T>(
    state: &UiState,
    headers: &HeaderMap,
    raw: &str,
    form: Result<Form<T>, FormRejection>,
    token: impl Fn(&T) -> &str,
) -> Result<(Viewer, i64, T), Box<Response>> {
    let here = format!("/ui/tickets/{raw}");
    let (viewer, form) = accept_form(state, headers, Role::Staff, &here, form, token)?;
    match ticket_id(raw) {
        Some(id) => Ok((viewer, id, form)),
        None => Err(Box::new(no_such_ticket(viewer.lang, raw))),
    }
}

/// Back to the ticket's page, at its history, once a form is done.
fn to_history(id: i64) -> Response {
    see_other(&format!("/ui/tickets/{id}#history"))
}

#[derive(Debug, Default, Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    status: Option<String>,
    /// The KB entry the agent cites (one of those retrieved; empty: none).
    #[serde(default)]
    cite: Option<String>,
}

pub async fn reply(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    form: Result<Form<ReplyForm>, FormRejection>,
) -> Response {
    let (viewer, id, form) = match accept_on_ticket(&state, &headers, &raw, form, |f| &f.csrf) {
        Ok(accepted) => accepted,
        Err(response) => return *response,
    };
    let reply = AgentReply {
        body: form.body.clone(),
        author: Some(actor(&viewer)),
        status: form.status.clone(),
        citations: form
            .cite
            .iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect(),
    };
    match state.service.desk.agent_reply(id, reply).await {
        Ok(_) => to_history(id),
        Err(e) => {
            let kept = Some((form.body, form.status));
            refused(&state, &viewer, &raw, e, kept).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: Option<String>,
}

pub async fn change_status(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    form: Result<Form<StatusForm>, FormRejection>,
) -> Response {
    let (viewer, id, form) = match accept_on_ticket(&state, &headers, &raw, form, |f| &f.csrf) {
        Ok(accepted) => accepted,
        Err(response) => return *response,
    };
    let note = form
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    match state
        .service
        .desk
        .set_ticket_status(id, &form.status, &actor(&viewer), note)
        .await
    {
        Ok(_) => to_history(id),
        Err(e) => refused(&state, &viewer, &raw, e, None).await,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct FeedbackForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    helpful: String,
    #[serde(default)]
    comment: Option<String>,
}

pub async fn feedback(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    form: Result<Form<FeedbackForm>, FormRejection>,
) -> Response {
    let (viewer, id, form) = match accept_on_ticket(&state, &headers, &raw, form, |f| &f.csrf) {
        Ok(accepted) => accepted,
        Err(response) => return *response,
    };
    let helpful = match form.helpful.as_str() {
        "true" => true,
        "false" => false,
        other => {
            let e = Error::invalid("helpful", format!("`{other}` is not one of true, false"));
            return refused(&state, &viewer, &raw, e, None).await;
        }
    };
    let feedback = Feedback {
        helpful,
        comment: form.comment,
    };
    match state.service.desk.feedback(id, feedback).await {
        Ok(_) => to_history(id),
        Err(e) => refused(&state, &viewer, &raw, e, None).await,
    }
}

/// A form the service refused: a client mistake shows the page again with the problem
/// (and the reply typed, so nothing is lost); anything else is an error page.
async fn refused(
    state: &UiState,
    viewer: &Viewer,
    raw: &str,
    error: Error,
    reply: Option<(String, Option<String>)>,
) -> Response {
    let lang = viewer.lang;
    match error {
        Error::NotFound { .. } => no_such_ticket(lang, raw),
        Error::StorageUnavailable(_) => desk_unavailable(lang, viewer),
        e @ (Error::InvalidInput { .. }
        | Error::Rejected { .. }
        | Error::PayloadTooLarge(_)
        | Error::Conflict(_)) => {
            let (status, _) = crate::api::status_of(&e);
            let (reply, reply_status) = reply.unzip();
            let kept = Kept {
                problem: Some(e.to_string()),
                reply,
                reply_status: reply_status.flatten(),
            };
            render(state, viewer, raw, status, kept).await
        }
        e => error_page(lang, &e),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct EscalateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ticket: String,
    /// The search that found nothing, kept in the history's note.
    #[serde(default)]
    q: String,
}

/// A search found nothing: the agent escalates the ticket to a technician.
pub async fn escalate(
    State(state): State<UiState>,
    headers: HeaderMap,
    form: Result<Form<EscalateForm>, FormRejection>,
) -> Response {
    let (viewer, form) = match accept_form(&state, &headers, Role::Staff, "/ui/search", form, |f| {
        &f.csrf
    }) {
        Ok(accepted) => accepted,
        Err(response) => return *response,
    };
    let raw = form.ticket.trim();
    let Some(id) = ticket_id(raw) else {
        return no_such_ticket(viewer.lang, raw);
    };
    let searched: String = form.q.trim().chars().take(200).collect();
    let note = format!("nothing in the KB for «{searched}»");
    match state
        .service
        .desk
        .escalate_ticket(id, &actor(&viewer), Some(&note))
        .await
    {
        Ok(_) => to_history(id),
        Err(e) => refused(&state, &viewer, raw, e, None).await,
    }
}
