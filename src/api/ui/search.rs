//! The search page: one box, the model filter and the mode; the URL carries all three,
//! so a search can be bookmarked and shared (`/ui/search?q=…&model=…&mode=…`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::pages::{fold, highlighted, layout, Section};
use super::session::{Lang, Viewer};
use super::{error_page, html as respond, UiState};
use crate::error::Error;
use crate::service::access::Role;
use crate::service::{SearchMode, SearchRequest, SearchResponse, SearchResult};

/// Results shown on the page.
const SHOWN: i64 = 10;
/// Below this calibrated relevance (the chance the first hit is the right entry), the
/// page says no entry clearly answers and offers to escalate.
const WEAK: f32 = 0.25;

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    /// The ticket the agent searches for (from its page): a search that finds nothing
    /// offers to escalate it.
    #[serde(default)]
    ticket: Option<String>,
}

pub async fn page(
    State(state): State<UiState>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Response {
    // A query string that does not parse is an empty search, not a plain-text 400.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let here = uri.path_and_query().map_or("/ui/search", |p| p.as_str());
    let viewer = match Viewer::of(&state, &headers, Role::Staff, here) {
        Ok(viewer) => viewer,
        Err(response) => return *response,
    };
    let lang = viewer.lang;
    let text = query
        .q
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    let model = query
        .model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty());
    let mode = query
        .mode
        .as_deref()
        .and_then(SearchMode::parse)
        .unwrap_or_default();
    let mut models: Vec<String> = state
        .service
        .engine
        .generation()
        .catalogue
        .models()
        .iter()
        .map(|m| m.canonical())
        .collect();
    models.sort();
    models.dedup();
    let ticket = query
        .ticket
        .as_deref()
        .and_then(|t| t.trim().parse::<i64>().ok())
        .filter(|id| *id > 0);
    let form = search_form(lang, &text, model, mode, &models, ticket);
    if text.is_empty() {
        let body = html! { (form) p.hint { (lang.pick(
            "Tapez « / » pour aller à la recherche, les flèches pour parcourir les résultats, Entrée pour en ouvrir un.",
            "Press “/” to reach the search box, the arrows to move through the results, Enter to open one."
        )) } };
        return respond(
            StatusCode::OK,
            layout(
                lang,
                lang.pick("Recherche", "Search"),
                Some((&viewer, Section::Search)),
                body,
            ),
        );
    }
    let request = SearchRequest {
        query: text.clone(),
        model_filter: model.map(str::to_string),
        limit: Some(SHOWN),
        mode: Some(mode),
    };
    let (status, results) = match state.service.engine.search(request).await {
        Ok(response) => (
            StatusCode::OK,
            results(lang, &response, &escalate_offer(&viewer, &text, ticket)),
        ),
        // The page shows what was wrong with the query beside the box.
        Err(e @ Error::InvalidInput { .. }) => (
            StatusCode::BAD_REQUEST,
            html! { p.problem role="alert" { (e.to_string()) } },
        ),
        Err(e) => return error_page(lang, &e),
    };
    let title = format!("{} · {}", text, lang.pick("Recherche", "Search"));
    let body = html! { (form) (results) };
    respond(
        status,
        layout(lang, &title, Some((&viewer, Section::Search)), body),
    )
}

fn search_form(
    lang: Lang,
    text: &str,
    model: Option<&str>,
    mode: SearchMode,
    models: &[String],
    ticket: Option<i64>,
) -> Markup {
    let modes = [
        (SearchMode::Hybrid, "hybrid", lang.pick("hybride", "hybrid")),
        (
            SearchMode::Bm25,
            "bm25",
            lang.pick("mots (BM25)", "words (BM25)"),
        ),
        (
            SearchMode::Vector,
            "vector",
            lang.pick("sens (vecteurs)", "meaning (vectors)"),
        ),
    ];
    html! {
        form.search method="get" action="/ui/search" role="search" {
            label for="q" { (lang.pick("Rechercher dans la base de connaissances", "Search the knowledge base")) }
            input #q type="search" name="q" value=(text) data-search-box autocomplete="off"
                placeholder=(lang.pick("ex. bourrage papier tiroir 2, erreur 49", "e.g. paper jam tray 2, error 49"));
            label for="model" { (lang.pick("Modèle", "Model")) }
            select #model name="model" {
                option value="" selected[model.is_none()] { (lang.pick("tous les modèles", "all models")) }
                @for m in models {
                    option value=(m) selected[model == Some(m.as_str())] { (m) }
                }
            }
            label for="mode" { (lang.pick("Mode", "Mode")) }
            select #mode name="mode" {
                @for (value, code, label) in modes {
                    option value=(code) selected[mode == value] { (label) }
                }
            }
            @if let Some(id) = ticket { input type="hidden" name="ticket" value=(id); }
            button type="submit" { (lang.pick("Rechercher", "Search")) }
        }
    }
}

/// What a search that finds nothing offers: escalating the ticket searched for (or one
/// the agent names) to a technician, with the search in the history's note.
fn escalate_offer(viewer: &Viewer, text: &str, ticket: Option<i64>) -> Markup {
    let lang = viewer.lang;
    html! {
        form.escalate method="post" action="/ui/escalate" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            input type="hidden" name="q" value=(text);
            label for="escalate-ticket" { (lang.pick("Ticket à escalader vers un technicien", "Ticket to escalate to a technician")) }
            input #escalate-ticket type="number" min="1" name="ticket" required value=[ticket];
            button type="submit" { (lang.pick("Escalader", "Escalate")) }
        }
    }
}

fn results(lang: Lang, response: &SearchResponse, offer: &Markup) -> Markup {
    let words: Vec<String> = response
        .query
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| w.chars().count() >= 3 || w.chars().any(|c| c.is_ascii_digit()))
        .map(fold)
        .collect();
    html! {
        p.summary aria-live="polite" {
            (response.count) " " (lang.pick("résultat(s)", "result(s)"))
            @if let Some(model) = &response.model_filter {
                " · " (lang.pick("modèle", "model")) " " strong { (model) }
                @if response.model_source == Some("query") { " " (lang.pick("(lu dans la question)", "(read in the query)")) }
            }
            " · " (format!("{:.1}", response.took_ms)) " ms"
        }
        @if response.results.is_empty() {
            section.empty {
                h2 { (lang.pick("Aucune entrée ne répond à cette recherche.", "No entry answers this search.")) }
                p { (lang.pick(
                    "Essayez d'autres mots, retirez le filtre de modèle, ou transmettez la demande à un technicien.",
                    "Try other words, remove the model filter, or pass the request on to a technician."
                )) }
                (offer)
            }
        } @else {
            @if response.results[0].relevance < WEAK {
                // The vectors always return neighbours: far ones are shown, but as such.
                section.empty {
                    h2 { (lang.pick("Aucune entrée ne répond clairement à cette recherche.", "No entry clearly answers this search.")) }
                    p { (lang.pick(
                        "Les entrées ci-dessous en sont les plus proches, sans en être la réponse probable. Essayez d'autres mots, ou transmettez la demande à un technicien.",
                        "The entries below are the nearest, not a likely answer. Try other words, or pass the request on to a technician."
                    )) }
                    (offer)
                }
            }
            ol.results {
                @for (i, hit) in response.results.iter().enumerate() {
                    li { (result(lang, i, hit, &words)) }
                }
            }
        }
    }
}

fn result(lang: Lang, index: usize, hit: &SearchResult, words: &[String]) -> Markup {
    let percent = (hit.relevance.clamp(0.0, 1.0) * 100.0).round() as u32;
    html! {
        article.result data-result tabindex="0" aria-labelledby={ "r" (index) } {
            details {
                summary {
                    h2 id={ "r" (index) } { (highlighted(&hit.problem_title, words)) }
                    div.relevance title=(lang.pick("pertinence calibrée", "calibrated relevance")) {
                        span.bar { span.fill style={ "width:" (percent) "%" } {} }
                        span.value { (percent) " %" }
                    }
                    p.meta {
                        code { (hit.kb_id) }
                        @if !hit.models.is_empty() { " · " (hit.models.join(", ")) }
                        @if !hit.error_codes.is_empty() {
                            " · " (lang.pick("codes", "codes")) " "
                            @for code in &hit.error_codes { span.code { (code) } " " }
                        }
                        " · " (hit.category)
                    }
                }
                @if !hit.problem_description.is_empty() {
                    p { (highlighted(&hit.problem_description, words)) }
                }
                @if !hit.cause.is_empty() {
                    p { strong { (lang.pick("Cause : ", "Cause: ")) } (highlighted(&hit.cause, words)) }
                }
                @if !hit.solution_steps.is_empty() {
                    h3 { (lang.pick("Étapes", "Steps")) }
                    ol.steps { @for step in &hit.solution_steps { li { (highlighted(step, words)) } } }
                } @else if !hit.solution.is_empty() {
                    h3 { (lang.pick("Solution", "Solution")) }
                    p { (highlighted(&hit.solution, words)) }
                }
                p.evidence {
                    (lang.pick("Rang BM25 ", "BM25 rank ")) (rank(hit.retrieval.bm25_rank))
                    " · " (lang.pick("rang vecteurs ", "vector rank ")) (rank(hit.retrieval.vector_rank))
                    @if !hit.source.is_empty() { " · " (lang.pick("source ", "source ")) (hit.source) }
                }
            }
        }
    }
}

fn rank(r: Option<usize>) -> String {
    r.map_or_else(|| "—".to_string(), |r| r.to_string())
}
