//! One ticket: the conversation with what the extractor read marked in it, the entries
//! retrieved with their evidence, the decision and its reason, the draft reply to edit and
//! send, feedback on an automatic reply, status changes with their history, and the
//! pipeline's steps with their timings. Each form posts here and comes back to the page;
//! a refused one shows the page again with the problem and what was typed.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

mod forms;

pub use forms::{change_status, escalate, feedback, reply};

use super::marks::marked;
use super::pages::{layout, reason_label, Section};
use super::queue::{priority_label, short_time, status_label, subject_of};
use super::session::{encode_component, Lang, Viewer};
use super::{desk_unavailable, error_page, html as respond, UiState};
use crate::error::Error;
use crate::service::access::Role;
use crate::service::tickets::TicketDetails;
use crate::service::tickets::{Direction, ResponderKind, SendStatus, Status, Ticket};

/// What a refused form sends back to the page: the problem and the text to keep.
#[derive(Default)]
pub(super) struct Kept {
    pub(super) problem: Option<String>,
    pub(super) reply: Option<String>,
    /// The status chosen to follow the refused reply.
    pub(super) reply_status: Option<String>,
}

pub async fn page(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Response {
    let here = format!("/ui/tickets/{raw}");
    let viewer = match Viewer::of(&state, &headers, Role::Staff, &here) {
        Ok(viewer) => viewer,
        Err(response) => return *response,
    };
    render(&state, &viewer, &raw, StatusCode::OK, Kept::default()).await
}

pub(super) async fn render(
    state: &UiState,
    viewer: &Viewer,
    raw: &str,
    status: StatusCode,
    kept: Kept,
) -> Response {
    let lang = viewer.lang;
    let Some(id) = ticket_id(raw) else {
        return no_such_ticket(lang, raw);
    };
    let details = match state.service.desk.ticket_details(id).await {
        Ok(details) => details,
        Err(Error::NotFound { .. }) => return no_such_ticket(lang, raw),
        Err(Error::StorageUnavailable(_)) => return desk_unavailable(lang, viewer),
        Err(e) => return error_page(lang, &e),
    };
    let title = format!("#{} · {}", id, subject_of(lang, &details.ticket));
    let body = html! {
        (header(lang, &details))
        @if let Some(problem) = &kept.problem { p.problem role="alert" { (problem) } }
        div.ticket {
            div.main-col {
                (conversation(lang, &details))
                (reply_form(lang, viewer, &details, kept.reply.as_deref(), kept.reply_status.as_deref()))
                (feedback_form(lang, viewer, &details))
            }
            div.side-col {
                (decision(lang, &details))
                (retrieved(lang, &details))
                (status_form(lang, viewer, &details))
                (history(lang, &details))
                (steps(lang, &details))
            }
        }
    };
    respond(
        status,
        layout(lang, &title, Some((viewer, Section::Queue)), body),
    )
}

pub(super) fn ticket_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

pub(super) fn no_such_ticket(lang: Lang, raw: &str) -> Response {
    let detail = match lang {
        Lang::Fr => format!("Le ticket « {raw} » n'existe pas."),
        Lang::En => format!("Ticket `{raw}` does not exist."),
    };
    respond(
        StatusCode::NOT_FOUND,
        super::pages::message(
            lang,
            lang.pick("Ticket introuvable", "Ticket not found"),
            &detail,
        ),
    )
}

fn header(lang: Lang, d: &TicketDetails) -> Markup {
    let t = &d.ticket;
    html! {
        p.back { a href="/ui/queue" { "← " (lang.pick("File des tickets", "Ticket queue")) } }
        h1 { "#" (t.id) " · " (subject_of(lang, t)) }
        p.meta #ticket-status {
            span class={ "status " (t.status.as_str()) } data-status=(t.status.as_str()) { (status_label(lang, t.status)) }
            " · " (lang.pick("priorité ", "priority ")) span class={ "priority " (t.priority.as_str()) } { (priority_label(lang, t.priority)) }
            " · " (t.category.as_deref().unwrap_or("—"))
            " · " (t.model.as_deref().unwrap_or("—"))
            " · " (t.channel.as_str())
            " · " time datetime=(t.created_at) { (short_time(&t.created_at)) }
            @if t.retention_flag { " · " span.flag { (lang.pick("risque de départ", "churn risk")) } }
        }
        form.search-ticket method="get" action="/ui/search" {
            input type="hidden" name="ticket" value=(t.id);
            label for="ticket-search" { (lang.pick("Chercher dans la base pour ce ticket", "Search the KB for this ticket")) }
            input #ticket-search type="search" name="q" value=(search_text(t));
            button type="submit" { (lang.pick("Chercher", "Search")) }
        }
    }
}

/// What a search for this ticket starts from: the start of its description, else its
/// subject.
fn search_text(t: &Ticket) -> String {
    let text = if t.description.trim().is_empty() {
        &t.subject
    } else {
        &t.description
    };
    text.split_whitespace()
        .take(30)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The messages, oldest first, with what the extractor read marked.
fn conversation(lang: Lang, d: &TicketDetails) -> Markup {
    let found = extracted(d);
    html! {
        section #conversation aria-labelledby="conversation-h" {
            h2 #conversation-h { (lang.pick("Conversation", "Conversation")) }
            @if d.messages.is_empty() {
                p.meta { (lang.pick("Aucun message.", "No message.")) }
            }
            @for m in &d.messages {
                article class={ "message " (if m.direction == Direction::Inbound { "inbound" } else { "outbound" }) } {
                    p.meta {
                        (if m.direction == Direction::Inbound { lang.pick("Client", "Customer") } else { lang.pick("Support", "Support") })
                        " · " (m.channel.as_str()) " · " time datetime=(m.created_at) { (short_time(&m.created_at)) }
                    }
                    @if let Some(subject) = &m.subject { p.subject { strong { (marked(subject, &found)) } } }
                    div.body { (marked(&m.body, &found)) }
                    @if let Some(text) = &m.transcription { div.body.transcription { (marked(text, &found)) } }
                }
            }
            @if !found.is_empty() {
                p.legend {
                    (lang.pick("Lu par l'extracteur : ", "Read by the extractor: "))
                    @for (value, kind) in &found { mark class=(kind) title=(kind) { (value) } " " }
                }
            }
        }
    }
}

/// The phrases the extractor read (as written), with their kind, from its last run.
fn extracted(d: &TicketDetails) -> Vec<(String, String)> {
    let Some(last) = d.pipeline.extractions.last() else {
        return Vec::new();
    };
    // An external extractor's entities may carry numbers or nulls: only text is marked.
    let entities = last.record.entities.as_array().cloned().unwrap_or_default();
    let mut found: Vec<(String, String)> = entities
        .iter()
        .filter_map(|e| {
            let value = e.get("value")?.as_str()?.trim();
            let kind = e.get("kind").and_then(|k| k.as_str()).unwrap_or("found");
            (!value.is_empty()).then(|| (value.to_string(), kind.to_string()))
        })
        .collect();
    found.dedup();
    found
}

fn decision(lang: Lang, d: &TicketDetails) -> Markup {
    let t = &d.ticket;
    let auto = d
        .pipeline
        .responses
        .iter()
        .rev()
        .find(|r| r.record.responder == ResponderKind::Auto);
    let confidence = auto.and_then(|r| r.record.confidence);
    html! {
        section #decision aria-labelledby="decision-h" {
            h2 #decision-h { (lang.pick("Décision", "Decision")) }
            p {
                @match (&t.escalation_reason, auto) {
                    (Some(reason), _) => { strong { (lang.pick("Escaladé", "Escalated")) } " : " span.reason data-reason=(reason) { (reason_label(lang, reason)) } }
                    (None, Some(r)) if r.record.send_status != SendStatus::Draft => { strong { (lang.pick("Répondu automatiquement", "Answered automatically")) } }
                    _ => { (lang.pick("Pas de décision automatique enregistrée.", "No automatic decision recorded.")) }
                }
            }
            @if let Some(c) = confidence {
                p.meta { (lang.pick("Pertinence calibrée ", "Calibrated relevance ")) (format!("{:.0} %", c * 100.0)) }
            }
        }
    }
}

/// One entry the pipeline retrieved for the ticket, as its RAG record stores it.
#[derive(Deserialize)]
struct Hit {
    kb_id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    relevance: f32,
    #[serde(default)]
    bm25_rank: Option<usize>,
    #[serde(default)]
    vector_rank: Option<usize>,
    #[serde(default)]
    unhelpful_before: bool,
}

fn retrieved_hits(d: &TicketDetails) -> Vec<Hit> {
    d.pipeline
        .rag_result
        .as_ref()
        .and_then(|r| serde_json::from_value(r.record.results.clone()).ok())
        .unwrap_or_default()
}

fn retrieved(lang: Lang, d: &TicketDetails) -> Markup {
    let hits = retrieved_hits(d);
    let rank = |r: Option<usize>| r.map_or_else(|| "—".to_string(), |r| r.to_string());
    html! {
        section #retrieved aria-labelledby="retrieved-h" {
            h2 #retrieved-h { (lang.pick("Entrées retrouvées", "Entries retrieved")) }
            @if hits.is_empty() {
                p.meta { (lang.pick("Aucune entrée retrouvée.", "No entry retrieved.")) }
            } @else {
                ol.hits {
                    @for h in &hits {
                        @let percent = (h.relevance.clamp(0.0, 1.0) * 100.0).round() as u32;
                        li {
                            a href={ "/ui/kb/entries/" (encode_component(&h.kb_id)) } { (if h.title.is_empty() { &h.kb_id } else { &h.title }) }
                            div.relevance {
                                span.bar { span.fill style={ "width:" (percent) "%" } {} }
                                span.value { (percent) " %" }
                            }
                            p.evidence {
                                code { (h.kb_id) } " · BM25 " (rank(h.bm25_rank))
                                " · " (lang.pick("vecteurs ", "vectors ")) (rank(h.vector_rank))
                                @if h.unhelpful_before {
                                    " · " strong.unhelpful { (lang.pick("jugée inutile pour un message semblable", "found unhelpful for a like message")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The reply box: the pipeline's draft (or what the agent typed before a refusal).
fn reply_form(
    lang: Lang,
    viewer: &Viewer,
    d: &TicketDetails,
    kept: Option<&str>,
    kept_status: Option<&str>,
) -> Markup {
    let draft = d
        .pipeline
        .responses
        .iter()
        .rev()
        .find(|r| r.record.send_status == SendStatus::Draft)
        .map(|r| r.record.body.as_str());
    let text = kept.or(draft).unwrap_or_default();
    html! {
        section #reply aria-labelledby="reply-h" {
            h2 #reply-h { (lang.pick("Répondre", "Reply")) }
            @if draft.is_some() && kept.is_none() {
                p.meta { (lang.pick("Brouillon préparé par le pipeline, à relire avant l'envoi.", "Draft prepared by the pipeline: read it before sending.")) }
            }
            form method="post" action={ "/ui/tickets/" (d.ticket.id) "/reply" } {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label for="reply-body" { (lang.pick("Réponse au client", "Reply to the customer")) }
                textarea #reply-body name="body" rows="10" { (text) }
                label for="reply-status" { (lang.pick("Statut après l'envoi", "Status after sending")) }
                select #reply-status name="status" {
                    @for s in [Status::Answered, Status::Closed, Status::InProgress] {
                        option value=(s.as_str()) selected[kept_status == Some(s.as_str())] { (status_label(lang, s)) }
                    }
                }
                @let hits = retrieved_hits(d);
                @if !hits.is_empty() {
                    // What the agent cites is what the next reindex learns from (`devicekb learn`).
                    label for="reply-cite" { (lang.pick("Entrée de la base qui répond (citée, et apprise pour les prochains tickets)", "KB entry that answers (cited, and learned for the next tickets)")) }
                    select #reply-cite name="cite" {
                        option value="" { (lang.pick("— aucune —", "— none —")) }
                        @for h in &hits {
                            option value=(h.kb_id) { (if h.title.is_empty() { &h.kb_id } else { &h.title }) }
                        }
                    }
                }
                button type="submit" { (lang.pick("Envoyer la réponse", "Send the reply")) }
            }
        }
    }
}

/// Feedback on the automatic reply sent, when there is one.
fn feedback_form(lang: Lang, viewer: &Viewer, d: &TicketDetails) -> Markup {
    let sent = d.pipeline.responses.iter().any(|r| {
        r.record.responder == ResponderKind::Auto && r.record.send_status != SendStatus::Draft
    });
    if !sent {
        return html! {};
    }
    html! {
        section #feedback aria-labelledby="feedback-h" {
            h2 #feedback-h { (lang.pick("La réponse automatique a-t-elle aidé ?", "Did the automatic reply help?")) }
            form method="post" action={ "/ui/tickets/" (d.ticket.id) "/feedback" } {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label for="feedback-comment" { (lang.pick("Commentaire (facultatif)", "Comment (optional)")) }
                input #feedback-comment type="text" name="comment";
                button type="submit" name="helpful" value="true" { (lang.pick("Utile", "Helpful")) }
                " "
                button.secondary type="submit" name="helpful" value="false" { (lang.pick("Pas utile", "Not helpful")) }
            }
        }
    }
}

fn status_form(lang: Lang, viewer: &Viewer, d: &TicketDetails) -> Markup {
    html! {
        section #change-status aria-labelledby="status-h" {
            h2 #status-h { (lang.pick("Changer le statut", "Change the status")) }
            form method="post" action={ "/ui/tickets/" (d.ticket.id) "/status" } {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label for="new-status" { (lang.pick("Nouveau statut", "New status")) }
                select #new-status name="status" {
                    @for s in Status::ALL {
                        option value=(s.as_str()) selected[*s == d.ticket.status] { (status_label(lang, *s)) }
                    }
                }
                label for="status-note" { (lang.pick("Note (facultative)", "Note (optional)")) }
                input #status-note type="text" name="note";
                button type="submit" { (lang.pick("Enregistrer", "Save")) }
            }
        }
    }
}

fn history(lang: Lang, d: &TicketDetails) -> Markup {
    html! {
        section #history aria-labelledby="history-h" {
            h2 #history-h { (lang.pick("Historique", "History")) }
            ol.history {
                @for h in &d.history {
                    li data-to=(h.to_status.as_str()) {
                        time datetime=(h.created_at) { (short_time(&h.created_at)) } " · "
                        @if let Some(from) = h.from_status { (status_label(lang, from)) " → " }
                        strong { (status_label(lang, h.to_status)) }
                        " · " span.actor { (h.actor) }
                        @if let Some(note) = &h.note { br; small { (note) } }
                    }
                }
            }
        }
    }
}

/// The pipeline's steps, each with its time as a bar against the slowest.
fn steps(lang: Lang, d: &TicketDetails) -> Markup {
    let slowest = d
        .pipeline
        .steps
        .iter()
        .map(|s| s.record.duration_ms)
        .fold(0.0_f64, f64::max);
    let total: f64 = d.pipeline.steps.iter().map(|s| s.record.duration_ms).sum();
    html! {
        section #steps aria-labelledby="steps-h" {
            h2 #steps-h { (lang.pick("Étapes du traitement", "Pipeline steps")) }
            @if d.pipeline.steps.is_empty() {
                p.meta { (lang.pick("Aucune étape enregistrée.", "No step recorded.")) }
            } @else {
                table.steps {
                    @for s in &d.pipeline.steps {
                        @let width = if slowest > 0.0 { (s.record.duration_ms / slowest * 100.0).round() } else { 0.0 };
                        tr {
                            th scope="row" { (s.record.step) }
                            td { (s.record.status.as_str()) }
                            td.ms { (format!("{:.1} ms", s.record.duration_ms)) }
                            td.timing { span.bar { span.fill style={ "width:" (width) "%" } {} } }
                        }
                        @if let Some(error) = &s.record.error { tr { td colspan="4" { small { (error) } } } }
                    }
                    tr.total { th scope="row" { (lang.pick("total", "total")) } td {} td.ms { (format!("{total:.1} ms")) } td {} }
                }
            }
        }
    }
}
