//! The figures staff follow, as charts drawn on the server (SVG, no script): automatic
//! resolution and escalation per day with the reasons, pipeline time, volume by category
//! and model, feedback, tickets flagged for retention. Every number is read from the
//! same service calls as `GET /stats/pipeline` and `GET /stats/tickets`, so the page and
//! the API agree.

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
use crate::service::stats::PipelineDay;

/// The periods offered, in days.
const PERIODS: [u32; 3] = [7, 30, 90];

#[derive(Debug, Default, Deserialize)]
pub struct KpiQuery {
    #[serde(default)]
    days: Option<u32>,
}

pub async fn page(
    State(state): State<UiState>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<KpiQuery>, QueryRejection>,
) -> Response {
    let days = query
        .ok()
        .and_then(|Query(q)| q.days)
        .filter(|d| PERIODS.contains(d))
        .unwrap_or(30);
    let here = uri.path_and_query().map_or("/ui/kpis", |p| p.as_str());
    let viewer = match Viewer::of(&state, &headers, Role::Staff, here) {
        Ok(viewer) => viewer,
        Err(response) => return *response,
    };
    let lang = viewer.lang;
    let desk = &state.service.desk;
    let (pipeline, tickets) = tokio::join!(desk.pipeline_stats(Some(days)), desk.ticket_stats());
    let (pipeline, tickets) = match (pipeline, tickets) {
        (Ok(p), Ok(t)) => (p, t),
        (Err(Error::StorageUnavailable(_)), _) | (_, Err(Error::StorageUnavailable(_))) => {
            return desk_unavailable(lang, &viewer)
        }
        (Err(e), _) | (_, Err(e)) => return error_page(lang, &e),
    };
    let total = &pipeline.total;
    let ms = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| format!("{v:.0} ms"));
    let pct = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| format!("{v:.1} %"));
    let body = html! {
        h1 { (lang.pick("Indicateurs", "Key figures")) }
        nav.counts aria-label=(lang.pick("Période", "Period")) {
            @for d in PERIODS {
                a href={ "/ui/kpis?days=" (d) } aria-current=[(d == days).then_some("page")] {
                    (d) " " (lang.pick("jours", "days"))
                }
            }
        }
        dl.kpis {
            (figure(lang.pick("Tickets", "Tickets"), "tickets", total.tickets.to_string()))
            (figure(lang.pick("Résolus automatiquement", "Resolved automatically"), "auto_resolved_pct", pct(total.auto_resolved_pct)))
            (figure(lang.pick("Escaladés", "Escalated"), "escalated_pct", pct(total.escalated_pct)))
            (figure(lang.pick("Temps médian du pipeline", "Median pipeline time"), "median_ms", ms(total.median_ms)))
            (figure(lang.pick("Temps p95 du pipeline", "p95 pipeline time"), "p95_ms", ms(total.p95_ms)))
            (figure(lang.pick("Réponses utiles", "Helpful replies"), "helpful", total.helpful.to_string()))
            (figure(lang.pick("Réponses pas utiles", "Unhelpful replies"), "unhelpful", total.unhelpful.to_string()))
            (figure(lang.pick("Signalés (risque de départ)", "Flagged (churn risk)"), "retention_flagged", tickets.retention_flagged.to_string()))
        }
        section {
            h2 { (lang.pick("Résolution automatique et escalade par jour", "Automatic resolution and escalation per day")) }
            (daily_chart(lang, &pipeline.days))
        }
        section {
            h2 { (lang.pick("Raisons d'escalade", "Escalation reasons")) }
            (bars(lang, &total.escalation_reasons.iter().map(|(k, v)| (reason_label(lang, k), *v)).collect::<Vec<_>>(), "reasons"))
        }
        section {
            h2 { (lang.pick("Temps du pipeline par jour (médiane et p95)", "Pipeline time per day (median and p95)")) }
            (timing_chart(lang, &pipeline.days))
        }
        section {
            h2 { (lang.pick("Avis sur les réponses automatiques", "Feedback on automatic replies")) }
            (bars(lang, &[(lang.pick("utiles", "helpful").to_string(), total.helpful), (lang.pick("pas utiles", "not helpful").to_string(), total.unhelpful)], "feedback"))
        }
        section {
            h2 { (lang.pick("Volume par catégorie", "Volume by category")) }
            (bars(lang, &counted(lang, &tickets.by_category), "categories"))
        }
        section {
            h2 { (lang.pick("Volume par modèle", "Volume by model")) }
            (bars(lang, &counted(lang, &tickets.by_model), "models"))
        }
    };
    respond(
        StatusCode::OK,
        layout(
            lang,
            lang.pick("Indicateurs", "Key figures"),
            Some((&viewer, Section::Kpis)),
            body,
        ),
    )
}

fn figure(label: &str, key: &str, value: String) -> Markup {
    html! { div { dt { (label) } dd data-kpi=(key) { (value) } } }
}

fn counted(lang: Lang, counts: &[Count]) -> Vec<(String, i64)> {
    counts
        .iter()
        .map(|c| {
            let label = c
                .value
                .clone()
                .unwrap_or_else(|| lang.pick("non renseigné", "not known").to_string());
            (label, c.count)
        })
        .collect()
}

/// Horizontal bars, one per (label, value), scaled to the largest; a table for readers
/// without the picture.
fn bars(lang: Lang, items: &[(String, i64)], name: &str) -> Markup {
    if items.is_empty() {
        return html! { p.meta { (lang.pick("Rien sur la période.", "Nothing in the period.")) } };
    }
    let most = items.iter().map(|(_, v)| *v).max().unwrap_or(1).max(1) as f64;
    let row = 22.0;
    let height = row * items.len() as f64 + 4.0;
    html! {
        figure.chart data-chart=(name) {
            svg width="600" height=(height) viewBox={ "0 0 600 " (height) } role="img" aria-label=(name) {
                @for (i, (label, value)) in items.iter().enumerate() {
                    @let y = i as f64 * row + 2.0;
                    @let w = (*value as f64 / most * 330.0).max(1.0);
                    text x="0" y=(y + 15.0) font-size="13" fill="#1b1f24" { (shortened(label, 34)) }
                    rect x="240" y=(y + 3.0) width=(w) height="14" fill="#0b5cad" {}
                    text x=(245.0 + w) y=(y + 15.0) font-size="13" fill="#1b1f24" { (value) }
                }
            }
            table.sr {
                @for (label, value) in items { tr { th scope="row" { (label) } td data-value=(value) { (value) } } }
            }
        }
    }
}

/// Per day: automatically resolved, escalated and other tickets, stacked.
fn daily_chart(lang: Lang, days: &[PipelineDay]) -> Markup {
    let most = days.iter().map(|d| d.tickets).max().unwrap_or(0).max(1) as f64;
    let (width, height) = (600.0, 160.0);
    let step = width / days.len().max(1) as f64;
    let bar = (step * 0.7).max(1.0);
    let y_of = |n: i64| n as f64 / most * (height - 20.0);
    html! {
        figure.chart data-chart="daily" {
            svg width=(width) height=(height + 20.0) viewBox={ "0 0 " (width) " " (height + 20.0) } role="img"
                aria-label=(lang.pick("tickets par jour", "tickets per day")) {
                @for (i, d) in days.iter().enumerate() {
                    @let x = i as f64 * step;
                    @let escalated = d.escalated.min(d.tickets - d.auto_resolved).max(0);
                    @let other = (d.tickets - d.auto_resolved - escalated).max(0);
                    @let a = y_of(d.auto_resolved);
                    @let e = y_of(escalated);
                    @let o = y_of(other);
                    rect x=(x) y=(height - a) width=(bar) height=(a) fill="#17622f" { title { (d.day) " · " (lang.pick("automatiques ", "automatic ")) (d.auto_resolved) } }
                    rect x=(x) y=(height - a - e) width=(bar) height=(e) fill="#a40e26" { title { (d.day) " · " (lang.pick("escaladés ", "escalated ")) (d.escalated) } }
                    rect x=(x) y=(height - a - e - o) width=(bar) height=(o) fill="#8c959f" { title { (d.day) " · " (lang.pick("autres ", "other ")) (other) } }
                }
                @if let (Some(first), Some(last)) = (days.first(), days.last()) {
                    text x="0" y=(height + 16.0) font-size="12" fill="#4b5563" { (first.day) }
                    text x=(width) y=(height + 16.0) font-size="12" fill="#4b5563" text-anchor="end" { (last.day) }
                }
            }
            figcaption.legend {
                span.key.auto {} (lang.pick(" résolus automatiquement ", " resolved automatically "))
                span.key.esc {} (lang.pick(" escaladés ", " escalated "))
                span.key.other {} (lang.pick(" autres", " other"))
            }
            details {
                summary { (lang.pick("Les chiffres par jour", "The figures per day")) }
                table.days {
                    thead { tr {
                        th { (lang.pick("jour", "day")) } th { "tickets" } th { (lang.pick("auto", "auto")) }
                        th { (lang.pick("escaladés", "escalated")) } th { (lang.pick("raisons", "reasons")) }
                    } }
                    tbody {
                        @for d in days.iter().rev().filter(|d| d.tickets > 0) {
                            tr data-day=(d.day) {
                                td { (d.day) } td { (d.tickets) } td { (d.auto_resolved) } td { (d.escalated) }
                                td { @for (r, n) in &d.escalation_reasons { (reason_label(lang, r)) " " (n) "; " } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Per day with tickets: the median and p95 pipeline times as two bars.
fn timing_chart(lang: Lang, days: &[PipelineDay]) -> Markup {
    let timed: Vec<&PipelineDay> = days.iter().filter(|d| d.p95_ms.is_some()).collect();
    if timed.is_empty() {
        return html! { p.meta { (lang.pick("Aucun ticket sur la période.", "No ticket in the period.")) } };
    }
    let most = timed
        .iter()
        .filter_map(|d| d.p95_ms)
        .fold(1.0_f64, f64::max);
    let (width, height) = (600.0, 140.0);
    let step = width / timed.len() as f64;
    let bar = (step * 0.35).max(1.0);
    html! {
        figure.chart data-chart="timing" {
            svg width=(width) height=(height + 20.0) viewBox={ "0 0 " (width) " " (height + 20.0) } role="img"
                aria-label=(lang.pick("temps du pipeline", "pipeline time")) {
                @for (i, d) in timed.iter().enumerate() {
                    @let x = i as f64 * step;
                    @let m = d.median_ms.unwrap_or(0.0) / most * (height - 20.0);
                    @let p = d.p95_ms.unwrap_or(0.0) / most * (height - 20.0);
                    rect x=(x) y=(height - m) width=(bar) height=(m) fill="#0b5cad" { title { (d.day) " · " (lang.pick("médiane ", "median ")) (format!("{:.0} ms", d.median_ms.unwrap_or(0.0))) } }
                    rect x=(x + bar) y=(height - p) width=(bar) height=(p) fill="#7a4500" { title { (d.day) " · p95 " (format!("{:.0} ms", d.p95_ms.unwrap_or(0.0))) } }
                }
                text x="0" y=(height + 16.0) font-size="12" fill="#4b5563" { (format!("max {most:.0} ms")) }
            }
            figcaption.legend {
                span.key.median {} (lang.pick(" médiane ", " median ")) span.key.p95 {} " p95"
            }
        }
    }
}
