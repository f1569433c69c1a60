//! The knowledge base as staff see it: the entries served, by collection (the maker an
//! entry is for, as the KB's folders are), one entry in full, and for admins the reindex
//! button, whose task page follows the build to its end and lists a KB that does not
//! validate as file:line problems, and the learn button (the desk's confirmed answers
//! written into the KB, then a reindex).

use std::collections::BTreeMap;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::pages::{fold, layout, Section};
use super::session::{encode_component, Lang, Viewer};
use super::{accept_form, error_page, html as respond, see_other, CsrfForm, UiState};
use crate::error::{Error, ValidationError};
use crate::service::access::Role;
use crate::service::{Category, KbEntry};
use crate::service::{ConfirmedSummary, Phase, Task, TaskStatus};

#[derive(Debug, Default, Deserialize)]
pub struct KbQuery {
    /// Words the title or id must hold.
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    category: Option<String>,
}

pub async fn page(
    State(state): State<UiState>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<KbQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let here = uri.path_and_query().map_or("/ui/kb", |p| p.as_str());
    let viewer = match Viewer::of(&state, &headers, Role::Staff, here) {
        Ok(viewer) => viewer,
        Err(response) => return *response,
    };
    kb_page(&state, &viewer, &query, StatusCode::OK, None)
}

fn kb_page(
    state: &UiState,
    viewer: &Viewer,
    query: &KbQuery,
    status: StatusCode,
    problem: Option<Markup>,
) -> Response {
    let lang = viewer.lang;
    let engine = &state.service.engine;
    let generation = engine.generation();
    let words: Vec<String> = query
        .q
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(fold)
        .collect();
    let category = query.category.as_deref().filter(|c| !c.is_empty());
    let mut collections: BTreeMap<String, Vec<&KbEntry>> = BTreeMap::new();
    for entry in &generation.entries {
        let haystack = fold(&format!("{} {}", entry.title, entry.id));
        if !words.iter().all(|w| haystack.contains(w.as_str())) {
            continue;
        }
        if category.is_some_and(|c| c != entry.category.as_str()) {
            continue;
        }
        let collection = if entry.manufacturer.trim().is_empty() {
            lang.pick("Sans fabricant", "No maker").to_string()
        } else {
            entry.manufacturer.trim().to_string()
        };
        collections.entry(collection).or_default().push(entry);
    }
    let shown: usize = collections.values().map(Vec::len).sum();
    let tasks = engine.tasks().tasks;
    let body = html! {
        h1 { (lang.pick("Base de connaissances", "Knowledge base")) }
        p.meta {
            (generation.entries.len()) " " (lang.pick("entrées servies, génération ", "entries served, generation "))
            code { (generation.name) }
        }
        @if let Some(note) = engine.generation_note() { p.meta { (note) } }
        @if let Some(problem) = problem { (problem) }
        @if viewer.role.grants(Role::Admin) {
            (reindex_form(lang, viewer, tasks.first()))
        }
        form.filters method="get" action="/ui/kb" {
            label { (lang.pick("Titre ou identifiant", "Title or id"))
                input type="search" name="q" value=(query.q.as_deref().unwrap_or_default());
            }
            label { (lang.pick("Catégorie", "Category"))
                select name="category" {
                    option value="" { (lang.pick("toutes", "all")) }
                    @for c in Category::ALL {
                        option value=(c.as_str()) selected[category == Some(c.as_str())] { (c.as_str()) }
                    }
                }
            }
            button type="submit" { (lang.pick("Filtrer", "Filter")) }
        }
        p.summary { (shown) " " (lang.pick("entrée(s)", "entry(ies)")) }
        @for (name, entries) in &collections {
            section.collection {
                h2 { (name) " " span.meta { "(" (entries.len()) ")" } }
                ul.entries {
                    @for e in entries {
                        li {
                            a href={ "/ui/kb/entries/" (encode_component(&e.id)) } { (e.title) }
                            " " small.meta { code { (e.id) } " · " (e.category.as_str())
                                @if !e.error_codes.is_empty() { " · " (e.error_codes.join(", ")) } }
                        }
                    }
                }
            }
        }
    };
    respond(
        status,
        layout(
            lang,
            lang.pick("Base de connaissances", "Knowledge base"),
            Some((viewer, Section::Kb)),
            body,
        ),
    )
}

/// The admin's reindex button, with the last task's outcome beside it.
fn reindex_form(lang: Lang, viewer: &Viewer, last: Option<&Task>) -> Markup {
    html! {
        section #reindex {
            form method="post" action="/ui/kb/reindex" {
                input type="hidden" name="csrf" value=(viewer.csrf);
                button type="submit" { (lang.pick("Réindexer la base", "Reindex the KB")) }
            }
            form #learn method="post" action="/ui/kb/learn" {
                input type="hidden" name="csrf" value=(viewer.csrf);
                button type="submit" {
                    (lang.pick("Apprendre des réponses confirmées, puis réindexer", "Learn from confirmed answers, then reindex"))
                }
                p.meta {
                    (lang.pick(
                        "Les tickets dont la réponse cite des entrées (réponse d'un agent, ou réponse automatique jugée utile) sont écrits dans confirmed/answers.jsonl ; la réindexation les cherche à côté des entrées. Une réponse automatique jugée inutile y est écrite aussi : un message semblable ne recevra plus automatiquement la même entrée, jusqu'à ce que l'entrée soit modifiée.",
                        "Tickets whose reply cited entries (an agent's reply, or an automatic reply found helpful) are written into confirmed/answers.jsonl; the reindex searches them beside the entries. An automatic reply found unhelpful is written there too: a message like it no longer gets the same entry automatically, until the entry is changed.",
                    ))
                }
            }
            @if let Some(task) = last {
                p.meta {
                    a href={ "/ui/kb/tasks/" (task.id) } {
                        (lang.pick("Dernière réindexation", "Last reindex")) " #" (task.id)
                    }
                    " : " (task_status(lang, task.status))
                }
            }
        }
    }
}

pub async fn entry(
    State(state): State<UiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let here = format!("/ui/kb/entries/{id}");
    let viewer = match Viewer::of(&state, &headers, Role::Staff, &here) {
        Ok(viewer) => viewer,
        Err(response) => return *response,
    };
    let lang = viewer.lang;
    let generation = state.service.engine.generation();
    let Some(e) = generation.entries.iter().find(|e| e.id == id) else {
        let detail = match lang {
            Lang::Fr => format!("L'entrée « {id} » n'est pas dans la base servie."),
            Lang::En => format!("Entry `{id}` is not in the KB served."),
        };
        return respond(
            StatusCode::NOT_FOUND,
            super::pages::message(
                lang,
                lang.pick("Entrée introuvable", "Entry not found"),
                &detail,
            ),
        );
    };
    let list = |title: &str, items: &[String]| {
        html! {
            @if !items.is_empty() {
                h2 { (title) }
                ul { @for i in items { li { (i) } } }
            }
        }
    };
    let body = html! {
        p.back { a href="/ui/kb" { "← " (lang.pick("Base de connaissances", "Knowledge base")) } }
        article.entry {
            h1 { (e.title) }
            p.meta {
                code { (e.id) } " · " (e.category.as_str()) " · " (e.lang.code())
                @if !e.manufacturer.is_empty() { " · " (e.manufacturer) }
            }
            @if !e.models.is_empty() { p { strong { (lang.pick("Modèles : ", "Models: ")) } (e.models.join(", ")) } }
            @if !e.error_codes.is_empty() {
                p { strong { (lang.pick("Codes : ", "Codes: ")) } @for c in &e.error_codes { span.code { (c) } " " } }
            }
            p { (e.description) }
            (list(lang.pick("Symptômes", "Symptoms"), &e.symptoms))
            @if !e.cause.is_empty() { h2 { (lang.pick("Cause", "Cause")) } p { (e.cause) } }
            @if !e.steps.is_empty() {
                h2 { (lang.pick("Étapes", "Steps")) }
                ol.steps { @for s in &e.steps { li { (s) } } }
            } @else if !e.solution.is_empty() {
                h2 { (lang.pick("Solution", "Solution")) } p { (e.solution) }
            }
            @if !e.tags.is_empty() { p.meta { (lang.pick("Mots-clés : ", "Tags: ")) (e.tags.join(", ")) } }
            p.meta { (lang.pick("Source : ", "Source: ")) (e.source) }
        }
    };
    respond(
        StatusCode::OK,
        layout(lang, &e.title, Some((&viewer, Section::Kb)), body),
    )
}

/// Starts a reindex (admins only) and goes to its task page; one already running is named.
pub async fn reindex(
    State(state): State<UiState>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let (viewer, _) = match accept_form(&state, &headers, Role::Admin, "/ui/kb", form, |f| &f.csrf)
    {
        Ok(accepted) => accepted,
        Err(response) => return *response,
    };
    start_reindex(&state, &viewer, None).await
}

/// Starts a reindex and goes to its task page (telling it how many confirmed answers were
/// just `learned`); one already running is named on the KB page.
async fn start_reindex(state: &UiState, viewer: &Viewer, learned: Option<usize>) -> Response {
    let lang = viewer.lang;
    match state.service.engine.start_reindex().await {
        Ok(task) => see_other(&match learned {
            Some(n) => format!("/ui/kb/tasks/{}?learned={n}", task.id),
            None => format!("/ui/kb/tasks/{}", task.id),
        }),
        Err(e @ Error::Conflict(_)) => {
            let problem = html! {
                p.problem role="alert" {
                    @if let Some(n) = learned {
                        (n) " " (lang.pick("réponses confirmées écrites ; ", "confirmed answers written; "))
                    }
                    (e.to_string())
                }
            };
            kb_page(
                state,
                viewer,
                &KbQuery::default(),
                StatusCode::CONFLICT,
                Some(problem),
            )
        }
        Err(e) => error_page(lang, &e),
    }
}

/// Writes the desk's confirmed answers into the KB (admins only), then starts a reindex
/// and goes to its task page, which says how many were written. A confirmed-answers file
/// that does not parse is listed as file:line problems and nothing is written.
pub async fn learn(
    State(state): State<UiState>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let (viewer, _) = match accept_form(&state, &headers, Role::Admin, "/ui/kb", form, |f| &f.csrf)
    {
        Ok(accepted) => accepted,
        Err(response) => return *response,
    };
    let lang = viewer.lang;
    match state.service.desk.learn(false).await {
        Ok(report) => start_reindex(&state, &viewer, Some(report.answers)).await,
        Err(Error::KbInvalid(errors)) => {
            let problem = html! {
                div.problem role="alert" {
                    p { (lang.pick("Rien n'a été écrit : une ligne du fichier ne se lit pas.", "Nothing was written: a line of the file does not read.")) }
                    (file_problems(lang, &errors))
                }
            };
            kb_page(
                &state,
                &viewer,
                &KbQuery::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(problem),
            )
        }
        Err(e) => error_page(lang, &e),
    }
}

/// What the task page may be told by the form that started it.
#[derive(Debug, Default, Deserialize)]
pub struct TaskQuery {
    /// Confirmed answers the learn button wrote before starting this reindex.
    #[serde(default)]
    learned: Option<usize>,
}

pub async fn task(
    State(state): State<UiState>,
    uri: Uri,
    headers: HeaderMap,
    Path(raw): Path<String>,
    query: Result<Query<TaskQuery>, QueryRejection>,
) -> Response {
    let learned = query.map(|Query(q)| q).unwrap_or_default().learned;
    let here = uri
        .path_and_query()
        .map_or_else(|| format!("/ui/kb/tasks/{raw}"), |p| p.as_str().to_string());
    let viewer = match Viewer::of(&state, &headers, Role::Admin, &here) {
        Ok(viewer) => viewer,
        Err(response) => return *response,
    };
    let lang = viewer.lang;
    let task = raw
        .parse::<u64>()
        .ok()
        .and_then(|id| state.service.engine.task(id).ok());
    let Some(task) = task else {
        return respond(
            StatusCode::NOT_FOUND,
            super::pages::message(
                lang,
                lang.pick("Tâche introuvable", "Task not found"),
                lang.pick(
                    "Cette réindexation n'est pas (ou plus) connue de ce serveur.",
                    "This reindex is not (or no longer) known to this server.",
                ),
            ),
        );
    };
    let body = html! {
        p.back { a href="/ui/kb" { "← " (lang.pick("Base de connaissances", "Knowledge base")) } }
        h1 { (lang.pick("Réindexation", "Reindex")) " #" (task.id) }
        @if let Some(learned) = learned {
            p.meta #learned {
                (learned) " " (lang.pick("réponses confirmées écrites dans confirmed/answers.jsonl avant cette réindexation", "confirmed answers written into confirmed/answers.jsonl before this reindex"))
            }
        }
        (progress(lang, &task))
    };
    respond(
        StatusCode::OK,
        layout(
            lang,
            lang.pick("Réindexation", "Reindex"),
            Some((&viewer, Section::Kb)),
            body,
        ),
    )
}

/// The task's box; while it runs it carries `data-refresh`, so the script follows it and
/// stops once a fetched box no longer does.
fn progress(lang: Lang, task: &Task) -> Markup {
    let running = task.status == TaskStatus::Running;
    let version = format!(
        "{:?}-{:?}-{:?}-{:?}-{:?}",
        task.status, task.phase, task.done, task.words_done, task.entries
    );
    let percent = match (task.done, task.total) {
        (Some(done), Some(total)) if total > 0 => (done * 100 / total).min(100),
        _ if !running => 100,
        _ => 0,
    };
    html! {
        div #task data-refresh=[running.then_some("1")] data-task-status=(task_status_code(task.status)) {
            div data-version=(version) {
                p.state role="status" {
                    strong { (task_status(lang, task.status)) }
                    @if let Some(phase) = task.phase { " · " (phase_label(lang, phase)) }
                    " · " (format!("{:.1} s", task.seconds))
                }
                @if running || task.status == TaskStatus::Succeeded {
                    progress max="100" value=(percent) aria-label=(lang.pick("avancement", "progress")) { (percent) " %" }
                }
                @if let (Some(done), Some(total)) = (task.done, task.total) {
                    p.meta { (done) " / " (total) " " (lang.pick("passages à calculer", "passages to embed")) }
                }
                @if let (Some(done), Some(total)) = (task.words_done, task.words_total) {
                    @if total > 0 { p.meta { (done) " / " (total) " " (lang.pick("mots du glossaire à calculer", "glossary words to embed")) } }
                }
                @if let Some(entries) = task.entries { p.meta { (entries) " " (lang.pick("entrées", "entries")) } }
                @if let Some(generation) = &task.generation {
                    p { (lang.pick("Génération servie : ", "Generation served: ")) code { (generation) } }
                }
                @if let Some(report) = &task.report { (desk_lines(lang, &report.confirmed)) }
                @if let Some(error) = &task.error { p.problem role="alert" { (error) } }
                @if let Some(errors) = &task.errors { (file_problems(lang, errors)) }
            }
        }
    }
}

/// What the generation takes from the desk: its confirmed answers, the messages whose
/// automatic reply did not help, and the marks an editor's change to their entry lifted.
fn desk_lines(lang: Lang, confirmed: &ConfirmedSummary) -> Markup {
    let any = confirmed.answers + confirmed.unhelpful + confirmed.unhelpful_lapsed > 0;
    html! {
        @if any {
            p.meta #desk-lines {
                (confirmed.answers) " " (lang.pick("réponses confirmées cherchées", "confirmed answers searched"))
                " · " (confirmed.unhelpful) " " (lang.pick("messages dont la réponse automatique n'a pas aidé", "messages whose automatic reply did not help"))
                @if confirmed.unhelpful_lapsed > 0 {
                    " · " (confirmed.unhelpful_lapsed) " " (lang.pick("marques levées : leur entrée a changé depuis", "marks lifted: their entry changed since"))
                }
            }
        }
    }
}

/// Each problem of a KB file as file:line, field and message.
fn file_problems(lang: Lang, errors: &[ValidationError]) -> Markup {
    html! {
        h2 { (lang.pick("Problèmes dans les fichiers", "Problems in the files")) }
        ul.validation {
            @for e in errors {
                li {
                    code { (e.file) @if let Some(line) = e.line { ":" (line) } }
                    @if let Some(field) = &e.field { " · " (field) }
                    " — " (e.message)
                }
            }
        }
    }
}

fn task_status_code(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Running => "running",
        TaskStatus::Succeeded => "succeeded",
        TaskStatus::Failed => "failed",
    }
}

fn task_status(lang: Lang, status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Running => lang.pick("en cours", "running"),
        TaskStatus::Succeeded => lang.pick("terminée", "done"),
        TaskStatus::Failed => lang.pick("échouée", "failed"),
    }
}

fn phase_label(lang: Lang, phase: Phase) -> &'static str {
    match phase {
        Phase::Validating => lang.pick(
            "lecture et validation des fichiers",
            "reading and validating the files",
        ),
        Phase::Embedding => lang.pick("calcul des vecteurs", "embedding passages"),
        Phase::Glossary => lang.pick(
            "vecteurs des mots du glossaire",
            "embedding the glossary's words",
        ),
        Phase::Indexing => lang.pick("index BM25", "BM25 index"),
        Phase::Calibrating => lang.pick("calibration", "calibration"),
        Phase::Switching => lang.pick("mise en service", "switching"),
    }
}
