//! The queue: the tickets staff work on, escalated first, then by priority and age, with
//! the API's filters and the counts per status. The page refreshes its list by itself
//! (the script polls the same URL and swaps the list when it changed).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::pages::{layout, reason_label, shortened, Section};
use super::session::{Lang, Viewer};
use super::{desk_unavailable, error_page, html as respond, UiState};
use crate::error::Error;
use crate::service::access::Role;
use crate::service::stats::Count;
use crate::service::tickets::TicketQuery;
use crate::service::tickets::{Priority, Status, Ticket, CATEGORIES};

/// Tickets listed at most (the API's largest page).
const SHOWN: u32 = 200;

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    retention: Option<String>,
}

impl QueueQuery {
    /// Each filter trimmed, an empty one (the form's "all") dropped.
    fn value(field: &Option<String>) -> Option<String> {
        field
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    fn to_request(&self) -> TicketQuery {
        TicketQuery {
            status: Self::value(&self.status),
            priority: Self::value(&self.priority),
            category: Self::value(&self.category),
            model: Self::value(&self.model),
            retention_flag: Self::value(&self.retention),
            order: Some("queue".into()),
            limit: Some(SHOWN),
        }
    }
}

pub async fn page(
    State(state): State<UiState>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let here = uri.path_and_query().map_or("/ui/queue", |p| p.as_str());
    let viewer = match Viewer::of(&state, &headers, Role::Staff, here) {
        Ok(viewer) => viewer,
        Err(response) => return *response,
    };
    let lang = viewer.lang;
    let desk = &state.service.desk;
    let request = query.to_request();
    let (stats, tickets) = tokio::join!(desk.ticket_stats(), desk.tickets(&request));
    let stats = match stats {
        Ok(stats) => stats,
        Err(Error::StorageUnavailable(_)) => return desk_unavailable(lang, &viewer),
        Err(e) => return error_page(lang, &e),
    };
    let (status, list) = match tickets {
        Ok(tickets) => (StatusCode::OK, list(lang, &tickets)),
        Err(e @ (Error::InvalidInput { .. } | Error::Rejected { .. })) => (
            StatusCode::BAD_REQUEST,
            html! { p.problem role="alert" { (e.to_string()) } },
        ),
        Err(Error::StorageUnavailable(_)) => return desk_unavailable(lang, &viewer),
        Err(e) => return error_page(lang, &e),
    };
    let models: Vec<String> = stats
        .by_model
        .iter()
        .filter_map(|c| c.value.clone())
        .collect();
    let body = html! {
        h1 { (lang.pick("File des tickets", "Ticket queue")) }
        (counts(lang, &stats.by_status, stats.total, &request))
        (filters(lang, &request, &models))
        div #queue data-refresh="15" { (list) }
    };
    respond(
        status,
        layout(
            lang,
            lang.pick("File des tickets", "Ticket queue"),
            Some((&viewer, Section::Queue)),
            body,
        ),
    )
}

/// One link per status with its count; the current one marked.
fn counts(lang: Lang, by_status: &[Count], total: i64, request: &TicketQuery) -> Markup {
    let current = request.status.as_deref();
    let count_of = |status: Status| {
        by_status
            .iter()
            .find(|c| c.value.as_deref() == Some(status.as_str()))
            .map_or(0, |c| c.count)
    };
    html! {
        nav.counts aria-label=(lang.pick("Tickets par statut", "Tickets by status")) {
            a href="/ui/queue" aria-current=[current.is_none().then_some("page")] {
                (lang.pick("tous", "all")) " " span.n { (total) }
            }
            @for status in Status::ALL {
                a href={ "/ui/queue?status=" (status.as_str()) }
                    aria-current=[(current == Some(status.as_str())).then_some("page")]
                    data-status=(status.as_str()) {
                    (status_label(lang, *status)) " " span.n { (count_of(*status)) }
                }
            }
        }
    }
}

fn filters(lang: Lang, request: &TicketQuery, models: &[String]) -> Markup {
    let chosen = |field: &Option<String>, value: &str| field.as_deref() == Some(value);
    html! {
        form.filters method="get" action="/ui/queue" {
            label { (lang.pick("Statut", "Status"))
                select name="status" {
                    option value="" { (lang.pick("tous", "all")) }
                    @for s in Status::ALL {
                        option value=(s.as_str()) selected[chosen(&request.status, s.as_str())] { (status_label(lang, *s)) }
                    }
                }
            }
            label { (lang.pick("Priorité", "Priority"))
                select name="priority" {
                    option value="" { (lang.pick("toutes", "all")) }
                    @for p in Priority::ALL.iter().rev() {
                        option value=(p.as_str()) selected[chosen(&request.priority, p.as_str())] { (priority_label(lang, *p)) }
                    }
                }
            }
            label { (lang.pick("Catégorie", "Category"))
                select name="category" {
                    option value="" { (lang.pick("toutes", "all")) }
                    @for c in CATEGORIES {
                        option value=(c) selected[chosen(&request.category, c)] { (c) }
                    }
                }
            }
            label { (lang.pick("Modèle", "Model"))
                select name="model" {
                    option value="" { (lang.pick("tous", "all")) }
                    @for m in models {
                        option value=(m) selected[chosen(&request.model, m)] { (m) }
                    }
                }
            }
            label { (lang.pick("Risque de départ", "Churn risk"))
                select name="retention" {
                    option value="" { (lang.pick("tous", "all")) }
                    option value="true" selected[chosen(&request.retention_flag, "true")] { (lang.pick("signalés", "flagged")) }
                    option value="false" selected[chosen(&request.retention_flag, "false")] { (lang.pick("non signalés", "not flagged")) }
                }
            }
            button type="submit" { (lang.pick("Filtrer", "Filter")) }
        }
    }
}

/// The list; its `data-version` changes when any listed ticket does, so the refresh
/// only swaps it when there is something new.
fn list(lang: Lang, tickets: &[Ticket]) -> Markup {
    let version = version_of(tickets);
    html! {
        div data-version=(version) {
            @if tickets.is_empty() {
                p.empty { (lang.pick("Aucun ticket ne correspond à ces filtres.", "No ticket matches these filters.")) }
            } @else {
                table.queue {
                    caption { (tickets.len()) " " (lang.pick("ticket(s), les escaladés d'abord, puis par priorité et ancienneté", "ticket(s), escalated first, then by priority and age")) }
                    thead { tr {
                        th scope="col" { "#" }
                        th scope="col" { (lang.pick("Objet", "Subject")) }
                        th scope="col" { (lang.pick("Statut", "Status")) }
                        th scope="col" { (lang.pick("Priorité", "Priority")) }
                        th scope="col" { (lang.pick("Catégorie", "Category")) }
                        th scope="col" { (lang.pick("Modèle", "Model")) }
                        th scope="col" { (lang.pick("Reçu", "Received")) }
                    } }
                    tbody {
                        @for t in tickets {
                            tr data-ticket=(t.id) {
                                td { a href={ "/ui/tickets/" (t.id) } { (t.id) } }
                                td {
                                    a href={ "/ui/tickets/" (t.id) } { (subject_of(lang, t)) }
                                    @if t.retention_flag { " " span.flag title=(lang.pick("risque de départ", "churn risk")) { (lang.pick("départ ?", "churn?")) } }
                                    @if let Some(reason) = &t.escalation_reason { br; small.meta { (reason_label(lang, reason)) } }
                                }
                                td { span class={ "status " (t.status.as_str()) } { (status_label(lang, t.status)) } }
                                td { span class={ "priority " (t.priority.as_str()) } { (priority_label(lang, t.priority)) } }
                                td { (t.category.as_deref().unwrap_or("—")) }
                                td { (t.model.as_deref().unwrap_or("—")) }
                                td { time datetime=(t.created_at) { (short_time(&t.created_at)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A digest of what the list shows (ids, statuses, last changes).
fn version_of(tickets: &[Ticket]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for t in tickets {
        hash.update(t.id.to_le_bytes());
        hash.update(t.status.as_str());
        hash.update(&t.updated_at);
    }
    hex::encode(&hash.finalize()[..8])
}

pub fn subject_of(lang: Lang, ticket: &Ticket) -> String {
    let subject = if ticket.subject.trim().is_empty() {
        ticket.description.trim()
    } else {
        ticket.subject.trim()
    };
    if subject.is_empty() {
        return lang.pick("(sans objet)", "(no subject)").to_string();
    }
    shortened(subject, 90)
}

/// `2026-12-04T10:11:12Z` as `2026-12-04 10:11`.
pub fn short_time(stamp: &str) -> String {
    stamp.replace('T', " ").chars().take(16).collect()
}

pub fn status_label(lang: Lang, status: Status) -> &'static str {
    match status {
        Status::New => lang.pick("nouveau", "new"),
        Status::Open => lang.pick("ouvert", "open"),
        Status::InProgress => lang.pick("en cours", "in progress"),
        Status::AutoResolved => lang.pick("répondu automatiquement", "answered automatically"),
        Status::Escalated => lang.pick("escaladé", "escalated"),
        Status::Answered => lang.pick("répondu", "answered"),
        Status::Closed => lang.pick("fermé", "closed"),
    }
}

pub fn priority_label(lang: Lang, priority: Priority) -> &'static str {
    match priority {
        Priority::Low => lang.pick("basse", "low"),
        Priority::Medium => lang.pick("normale", "medium"),
        Priority::High => lang.pick("haute", "high"),
        Priority::Critical => lang.pick("critique", "critical"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shortened_to_the_minute() {
        assert_eq!(short_time("2026-12-04T10:11:12Z"), "2026-12-04 10:11");
        assert_eq!(short_time("2026-12-04 10:11:12"), "2026-12-04 10:11");
    }

    #[test]
    fn empty_filters_are_dropped() {
        let query = QueueQuery {
            status: Some("".into()),
            model: Some(" Lexmark C750 ".into()),
            ..Default::default()
        };
        let request = query.to_request();
        assert_eq!(request.status, None);
        assert_eq!(request.model.as_deref(), Some("Lexmark C750"));
        assert_eq!(request.order.as_deref(), Some("queue"));
    }
}
