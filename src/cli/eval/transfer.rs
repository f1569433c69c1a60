//! `devicekb eval transfer`: what a KB the product was never tuned on gets, measured on
//! tickets written by someone who saw only that KB. Every ticket goes through the same
//! answer path as `POST /answer` (no LLM), then retrieval, classification and model
//! extraction are scored.
//!
//! The set is JSON Lines: `{"id", "text", "expected": [entry ids or titles], "lang"?,
//! "channel"?}`; `expected` is empty for a ticket the KB does not cover.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::answer::{Decision, Responder};
use crate::cli::{load_embedder, Dirs};
use crate::error::{Error, Result};
use crate::service::eval::{hindsight, FirstHit, Hindsight, Metrics, Sums};
use crate::service::search::ValidSearch;
use crate::service::{AnswerRequest, SearchMode, Service};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labelled tickets (JSON Lines).
    file: PathBuf,
    #[command(flatten)]
    dirs: Dirs,
    /// Print every wrong automatic answer and every covered ticket escalated.
    #[arg(long)]
    misses: bool,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferTicket {
    id: String,
    text: String,
    expected: Vec<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    channel: Option<String>,
}

fn load(path: &Path) -> Result<Vec<TransferTicket>> {
    crate::kb::jsonl::load(path)
}

#[derive(Debug, Clone, Serialize)]
struct TicketOutcome {
    id: String,
    covered: bool,
    decision: Decision,
    reason: Option<String>,
    confidence: f32,
    cited: Option<String>,
    right: bool,
    first_hit: Option<String>,
    /// Each retriever's rank of the first hit.
    first_ranks: (Option<usize>, Option<usize>),
    /// The hybrid search's first ten hits: entry, relevance and fused score.
    ranked: Vec<(String, f32, f32)>,
    classified: bool,
    model: Option<String>,
    notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
struct TransferReport {
    file: String,
    generation: String,
    tickets: usize,
    covered: usize,
    /// Hybrid retrieval on the covered tickets (the whole ticket text as the query).
    retrieval: Metrics,
    /// The same, per language the set labels its tickets with ("?" when unlabelled):
    /// a ticket in another language than the KB's is a different search problem.
    retrieval_by_lang: BTreeMap<String, Metrics>,
    auto: usize,
    auto_right: usize,
    /// Right automatic answers / automatic answers.
    precision: f64,
    /// Automatic answers to covered tickets / covered tickets.
    coverage: f64,
    /// Right automatic answers to covered tickets / covered tickets.
    covered_recall: f64,
    /// Not-covered tickets escalated / not-covered tickets.
    uncovered_escalated: f64,
    /// Tickets that got a category, priority and churn risk / tickets.
    classified: f64,
    /// Tickets whose text named a model the catalogue resolved.
    models_named: usize,
    reasons: BTreeMap<String, usize>,
    /// The precision automatic answers aim at (`DEVICEKB_ANSWER_TARGET_PRECISION`).
    target_precision: f64,
    /// The relevance's best threshold for that precision, read off this set in hindsight
    /// (`eval::hindsight`): how far a perfect calibration of the same evidence would go.
    hindsight: Option<Hindsight>,
    /// Tickets whose first hit both retrievers ranked first (or BM25 alone decided, see
    /// `hybrid::decisive`), and how those first hits fared: the strongest evidence a
    /// ranking gives.
    agreed: Agreed,
    /// Tickets whose best entry a like message had found unhelpful (confirmed answers'
    /// `not_answered_by`), so not answered automatically with it, and what that entry was:
    /// `right` ones were held back wrongly.
    unhelpful_before: Agreed,
    outcomes: Vec<TicketOutcome>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
struct Agreed {
    tickets: usize,
    right: usize,
    wrong: usize,
    not_covered: usize,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

pub async fn run(args: Args) -> Result<()> {
    let tickets = load(&args.file)?;
    let mut config = args.dirs.config()?;
    config.llm = None;
    let target_precision = f64::from(config.target_precision);
    let embedder = load_embedder(&config)?;
    let service = Service::start(config, embedder).await?;
    let generation = service.engine.generation();
    // Labels may name entries by id or by title (writers see titles).
    let resolve = |label: &str| -> Option<String> {
        if generation.ord_of(label).is_some() {
            return Some(label.to_string());
        }
        generation
            .entries
            .iter()
            .find(|e| e.title.trim() == label.trim())
            .map(|e| e.id.clone())
    };
    let mut labelled: Vec<(TransferTicket, HashSet<String>)> = Vec::new();
    for t in tickets {
        let mut ids = HashSet::new();
        for label in &t.expected {
            let id = resolve(label).ok_or_else(|| {
                Error::invalid(
                    "expected",
                    format!("ticket {} names `{label}`, which is not in the KB", t.id),
                )
            })?;
            ids.insert(id);
        }
        labelled.push((t, ids));
    }

    let mut sums = Sums::default();
    let mut sums_by_lang: BTreeMap<String, Sums> = BTreeMap::new();
    let mut outcomes = Vec::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut first_hits = Vec::new();
    let mut agreed = Agreed::default();
    let mut unhelpful_before = Agreed::default();
    for (t, relevant) in &labelled {
        let answer = service
            .engine
            .answer(AnswerRequest {
                text: t.text.clone(),
                model: None,
            })
            .await?;
        let found = service
            .engine
            .search_valid(ValidSearch {
                query: t.text.clone(),
                model_filter: None,
                limit: 10,
                mode: SearchMode::Hybrid,
            })
            .await?;
        let ranked: Vec<String> = found.results.iter().map(|r| r.kb_id.clone()).collect();
        let covered = !relevant.is_empty();
        if let Some(first) = found.results.first() {
            let right = relevant.contains(&first.kb_id);
            first_hits.push(FirstHit {
                relevance: first.relevance,
                covered,
                right,
            });
            let first_of_both = first.retrieval.bm25_rank == Some(1)
                && (first.retrieval.vector_rank == Some(1) || found.vector_skipped);
            if first_of_both {
                agreed.tickets += 1;
                match (covered, right) {
                    (false, _) => agreed.not_covered += 1,
                    (true, true) => agreed.right += 1,
                    (true, false) => agreed.wrong += 1,
                }
            }
        }
        if covered {
            let wanted: HashSet<&str> = relevant.iter().map(String::as_str).collect();
            sums.add(&ranked, &wanted);
            sums_by_lang
                .entry(t.lang.clone().unwrap_or_else(|| "?".into()))
                .or_default()
                .add(&ranked, &wanted);
        }
        let evidence = service
            .engine
            .evidence_from_answer(&t.text, &answer)
            .await?;
        let classified = service.engine.classify(evidence).await?.is_some();
        if let Some(best) = answer.retrieved.first().filter(|b| b.unhelpful_before) {
            unhelpful_before.tickets += 1;
            match (covered, relevant.contains(&best.kb_id)) {
                (false, _) => unhelpful_before.not_covered += 1,
                (true, true) => unhelpful_before.right += 1,
                (true, false) => unhelpful_before.wrong += 1,
            }
        }
        let cited = answer.citations.first().map(|c| c.kb_id.clone());
        let auto = answer.decision == Decision::Auto;
        let right = if answer.responder == Some(Responder::Smart) {
            !covered
        } else {
            cited.as_ref().is_some_and(|c| relevant.contains(c))
        };
        if !auto {
            *reasons
                .entry(
                    answer
                        .reason
                        .map(|r| r.as_str().to_string())
                        .unwrap_or_default(),
                )
                .or_default() += 1;
        }
        outcomes.push(TicketOutcome {
            id: t.id.clone(),
            covered,
            decision: answer.decision,
            reason: answer.reason.map(|r| r.as_str().to_string()),
            confidence: answer.confidence,
            cited,
            right,
            first_hit: ranked.first().cloned(),
            first_ranks: found.results.first().map_or((None, None), |r| {
                (r.retrieval.bm25_rank, r.retrieval.vector_rank)
            }),
            ranked: found
                .results
                .iter()
                .take(10)
                .map(|r| (r.kb_id.clone(), r.relevance, r.retrieval.fused_score))
                .collect(),
            classified,
            model: answer.extraction.model.clone(),
            notes: answer.notes.clone(),
        });
    }
    let autos: Vec<&TicketOutcome> = outcomes
        .iter()
        .filter(|o| o.decision == Decision::Auto)
        .collect();
    let covered = outcomes.iter().filter(|o| o.covered).count();
    let uncovered = outcomes.len() - covered;
    let auto_right = autos.iter().filter(|o| o.right).count();
    let report = TransferReport {
        file: args.file.display().to_string(),
        generation: generation.name.clone(),
        tickets: outcomes.len(),
        covered,
        retrieval: sums.metrics(),
        retrieval_by_lang: sums_by_lang
            .iter()
            .map(|(lang, s)| (lang.clone(), s.metrics()))
            .collect(),
        auto: autos.len(),
        auto_right,
        precision: ratio(auto_right, autos.len()),
        coverage: ratio(autos.iter().filter(|o| o.covered).count(), covered),
        covered_recall: ratio(
            autos.iter().filter(|o| o.covered && o.right).count(),
            covered,
        ),
        uncovered_escalated: ratio(
            outcomes
                .iter()
                .filter(|o| !o.covered && o.decision == Decision::Escalate)
                .count(),
            uncovered,
        ),
        classified: ratio(
            outcomes.iter().filter(|o| o.classified).count(),
            outcomes.len(),
        ),
        models_named: outcomes.iter().filter(|o| o.model.is_some()).count(),
        reasons,
        target_precision,
        hindsight: hindsight(&first_hits, covered, target_precision),
        agreed,
        unhelpful_before,
        outcomes,
    };
    print_report(&report, &labelled, args.misses);
    if let Some(path) = &args.json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| Error::Internal(e.to_string()))?;
        std::fs::write(path, text)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(())
}

fn print_report(r: &TransferReport, labelled: &[(TransferTicket, HashSet<String>)], misses: bool) {
    println!(
        "{}: {} tickets ({} covered, {} not covered), generation {}",
        r.file,
        r.tickets,
        r.covered,
        r.tickets - r.covered,
        r.generation
    );
    println!(
        "  retrieval (covered, hybrid): R@1 {:.3}  R@3 {:.3}  R@10 {:.3}  MRR@10 {:.3}  nDCG@10 {:.3}",
        r.retrieval.recall_at_1,
        r.retrieval.recall_at_3,
        r.retrieval.recall_at_10,
        r.retrieval.mrr_at_10,
        r.retrieval.ndcg_at_10
    );
    for (lang, m) in &r.retrieval_by_lang {
        println!(
            "    {lang} ({} tickets): R@1 {:.3}  R@3 {:.3}  nDCG@10 {:.3}",
            m.queries, m.recall_at_1, m.recall_at_3, m.ndcg_at_10
        );
    }
    println!(
        "  automatic answers: precision {:.3} ({} of {} right), coverage {:.3} of covered, covered recall {:.3}",
        r.precision, r.auto_right, r.auto, r.coverage, r.covered_recall
    );
    println!(
        "  not covered escalated {:.3}; classified {:.3}; a model named in {} tickets",
        r.uncovered_escalated, r.classified, r.models_named
    );
    match r.hindsight {
        Some(h) => println!(
            "  in hindsight (relevance alone, threshold read off this set): coverage {:.3} at precision {:.3} (threshold {:.2}, {} answered)",
            h.coverage, h.precision, h.threshold, h.answered
        ),
        None => println!(
            "  in hindsight: no threshold on the relevance reaches precision {} on this set",
            r.target_precision
        ),
    }
    println!(
        "  first hits both retrievers ranked first (or BM25 alone decided): {} ({} right, {} wrong, {} not covered)",
        r.agreed.tickets, r.agreed.right, r.agreed.wrong, r.agreed.not_covered
    );
    if r.unhelpful_before.tickets > 0 {
        let u = r.unhelpful_before;
        println!(
            "  best entry found unhelpful for a like message, not answered with it: {} ({} of them the right entry, {} a wrong one, {} not covered)",
            u.tickets, u.right, u.wrong, u.not_covered
        );
    }
    let reasons: Vec<String> = r.reasons.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!("  escalations: {}", reasons.join(", "));
    if !misses {
        return;
    }
    for (o, (t, relevant)) in r.outcomes.iter().zip(labelled) {
        let wrong_auto = o.decision == Decision::Auto && !o.right;
        let missed = o.covered && o.decision == Decision::Escalate;
        if wrong_auto || missed {
            let mut expected: Vec<&String> = relevant.iter().collect();
            expected.sort();
            println!(
                "\n{} {} conf {:.2} cited {:?} first {:?} expected {:?} [{}/{}]\n  {}\n  {:?}",
                o.id,
                if wrong_auto {
                    "WRONG AUTO"
                } else {
                    "escalated"
                },
                o.confidence,
                o.cited,
                o.first_hit,
                expected,
                t.lang.as_deref().unwrap_or("?"),
                t.channel.as_deref().unwrap_or("?"),
                t.text.replace('\n', " / "),
                o.notes
            );
        }
    }
}
