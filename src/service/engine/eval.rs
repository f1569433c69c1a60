//! Retrieval quality on a labelled query set: recall@1, recall@3, MRR@10 and nDCG@10
//! per search mode, and the fit of the relevance calibration.
//!
//! The set is JSON Lines: `{"id", "query", "relevant": [entry ids], "lang"?, "kind"?,
//! "model_filter"?}`. Relevance is binary: every listed entry counts as a right answer.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::search::{SearchMode, ValidSearch};
use super::Engine;
use crate::error::{Error, Result, ValidationError};
use crate::index::calibrate::{self, Sample};
use crate::index::fusion::{RelevanceModel, FEATURES};

#[derive(Debug, Clone, Deserialize)]
pub struct LabelledQuery {
    /// Optional in the file (as the README shows the format): the query's place, `#3`.
    #[serde(default)]
    pub id: String,
    pub query: String,
    pub relevant: Vec<String>,
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub model_filter: Option<String>,
}

pub fn load_queries(path: &Path) -> Result<Vec<LabelledQuery>> {
    let mut queries: Vec<LabelledQuery> = crate::kb::jsonl::load(path)?;
    for (i, q) in queries.iter_mut().enumerate() {
        if q.id.trim().is_empty() {
            q.id = format!("#{}", i + 1);
        }
    }
    let empty: Vec<ValidationError> = queries
        .iter()
        .filter(|q| q.relevant.is_empty())
        .map(|q| ValidationError {
            file: path.display().to_string(),
            line: None,
            field: Some("relevant".into()),
            message: format!("query {} lists no entry", q.id),
        })
        .collect();
    if empty.is_empty() {
        Ok(queries)
    } else {
        Err(Error::KbInvalid(empty))
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Metrics {
    pub queries: usize,
    pub recall_at_1: f64,
    pub recall_at_3: f64,
    pub recall_at_10: f64,
    pub mrr_at_10: f64,
    pub ndcg_at_10: f64,
}

/// Running sums of the ranking metrics over queries.
#[derive(Debug, Clone, Default)]
pub struct Sums {
    n: usize,
    r1: f64,
    r3: f64,
    r10: f64,
    mrr: f64,
    ndcg: f64,
}

impl Sums {
    pub fn add(&mut self, ranked: &[String], relevant: &HashSet<&str>) {
        let recall = |k: usize| {
            ranked
                .iter()
                .take(k)
                .filter(|id| relevant.contains(id.as_str()))
                .count() as f64
                / relevant.len() as f64
        };
        self.n += 1;
        self.r1 += recall(1);
        self.r3 += recall(3);
        self.r10 += recall(10);
        if let Some(pos) = ranked
            .iter()
            .take(10)
            .position(|id| relevant.contains(id.as_str()))
        {
            self.mrr += 1.0 / (pos + 1) as f64;
        }
        let dcg: f64 = ranked
            .iter()
            .take(10)
            .enumerate()
            .filter(|(_, id)| relevant.contains(id.as_str()))
            .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
            .sum();
        let ideal: f64 = (0..relevant.len().min(10))
            .map(|i| 1.0 / ((i + 2) as f64).log2())
            .sum();
        self.ndcg += dcg / ideal;
    }

    pub fn metrics(&self) -> Metrics {
        let n = self.n.max(1) as f64;
        Metrics {
            queries: self.n,
            recall_at_1: self.r1 / n,
            recall_at_3: self.r3 / n,
            recall_at_10: self.r10 / n,
            mrr_at_10: self.mrr / n,
            ndcg_at_10: self.ndcg / n,
        }
    }
}

/// One ticket of a labelled set as the relevance saw it: the relevance of its first hit,
/// whether the KB covers it, and whether that first hit is one of its entries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FirstHit {
    pub relevance: f32,
    pub covered: bool,
    pub right: bool,
}

/// What the relevance could do on a labelled set in hindsight: the threshold, read off
/// the set itself, that answers the most covered tickets at the target precision. Not a
/// figure of the product (the product cannot see the labels), but it tells a calibration
/// that is too strict (the product's coverage well below this) from evidence that
/// cannot tell right from wrong first hits (this one low too).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Hindsight {
    pub threshold: f32,
    /// Tickets whose first hit reaches it.
    pub answered: usize,
    pub precision: f64,
    /// Covered tickets answered / covered tickets.
    pub coverage: f64,
}

/// The best threshold in hindsight for `target` precision (see `Hindsight`), over the
/// tickets that got a first hit, out of `covered` covered tickets in the set (one without
/// any hit is never answered); `None` when no threshold reaches it on one ticket or more.
/// A relevance that is not a number answers nothing.
pub fn hindsight(hits: &[FirstHit], covered: usize, target: f64) -> Option<Hindsight> {
    let covered = covered.max(1) as f64;
    let mut sorted: Vec<&FirstHit> = hits.iter().filter(|h| h.relevance.is_finite()).collect();
    sorted.sort_by(|a, b| b.relevance.total_cmp(&a.relevance));
    let mut best: Option<Hindsight> = None;
    let (mut answered, mut right, mut answered_covered) = (0usize, 0usize, 0usize);
    for (i, hit) in sorted.iter().enumerate() {
        answered += 1;
        right += usize::from(hit.covered && hit.right);
        answered_covered += usize::from(hit.covered);
        // Only where the relevance steps down: tied tickets are answered together.
        if sorted
            .get(i + 1)
            .is_some_and(|next| next.relevance == hit.relevance)
        {
            continue;
        }
        let precision = right as f64 / answered as f64;
        let coverage = answered_covered as f64 / covered;
        if precision >= target && best.is_none_or(|b| coverage > b.coverage) {
            best = Some(Hindsight {
                threshold: hit.relevance,
                answered,
                precision,
                coverage,
            });
        }
    }
    best
}

#[derive(Debug, Clone, Serialize)]
pub struct ModeReport {
    pub mode: SearchMode,
    pub overall: Metrics,
    pub by_kind: BTreeMap<String, Metrics>,
    pub by_lang: BTreeMap<String, Metrics>,
    /// Queries whose first relevant entry is not in the top 10.
    pub misses: Vec<String>,
}

/// One labelled (features, relevant?) pair per top-10 hybrid hit, for calibration.
pub type CalibrationSample = ([f32; FEATURES], bool);

/// Runs every query in `mode`; returns the report and calibration samples.
pub fn evaluate(
    engine: &Engine,
    queries: &[LabelledQuery],
    mode: SearchMode,
) -> Result<(ModeReport, Vec<CalibrationSample>)> {
    let generation = engine.generation();
    for q in queries {
        if let Some(missing) = q.relevant.iter().find(|id| generation.ord_of(id).is_none()) {
            return Err(Error::invalid(
                "relevant",
                format!(
                    "query {} names entry `{missing}`, which is not in the index",
                    q.id
                ),
            ));
        }
    }
    let mut overall = Sums::default();
    let mut by_kind: BTreeMap<String, Sums> = BTreeMap::new();
    let mut by_lang: BTreeMap<String, Sums> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut samples = Vec::new();
    for q in queries {
        let search = ValidSearch {
            query: q.query.clone(),
            model_filter: q.model_filter.clone(),
            limit: 10,
            mode,
        };
        let (hits, _) = engine.retrieve(&generation, &search)?;
        let ranked: Vec<String> = hits
            .iter()
            .take(10)
            .map(|h| generation.entry(h.ord).id.clone())
            .collect();
        let relevant: HashSet<&str> = q.relevant.iter().map(String::as_str).collect();
        overall.add(&ranked, &relevant);
        by_kind
            .entry(q.kind.clone().unwrap_or_else(|| "other".into()))
            .or_default()
            .add(&ranked, &relevant);
        by_lang
            .entry(q.lang.clone().unwrap_or_else(|| "?".into()))
            .or_default()
            .add(&ranked, &relevant);
        if !ranked.iter().any(|id| relevant.contains(id.as_str())) {
            misses.push(q.id.clone());
        }
        for (hit, id) in hits.iter().take(10).zip(&ranked) {
            samples.push((hit.features.as_array(), relevant.contains(id.as_str())));
        }
    }
    Ok((
        ModeReport {
            mode,
            overall: overall.metrics(),
            by_kind: by_kind.into_iter().map(|(k, s)| (k, s.metrics())).collect(),
            by_lang: by_lang.into_iter().map(|(k, s)| (k, s.metrics())).collect(),
            misses,
        },
        samples,
    ))
}

/// Fits the relevance model on labelled samples (see `calibrate::fit`).
pub fn fit_relevance(samples: &[CalibrationSample]) -> RelevanceModel {
    calibrate::fit(&weighted(samples))
}

fn weighted(samples: &[CalibrationSample]) -> Vec<Sample> {
    samples
        .iter()
        .map(|(x, y)| Sample {
            x: *x,
            y: *y,
            weight: 1.0,
        })
        .collect()
}

/// Reliability table: for each relevance bucket, (mean predicted, observed rate, count),
/// and the expected calibration error.
pub fn reliability(
    model: &RelevanceModel,
    samples: &[CalibrationSample],
) -> (Vec<(f64, f64, usize)>, f64) {
    let mut buckets = vec![(0.0f64, 0usize, 0usize); 10];
    for (x, y) in samples {
        let p = model.relevance_of(x) as f64;
        let b = ((p * 10.0) as usize).min(9);
        buckets[b].0 += p;
        buckets[b].1 += *y as usize;
        buckets[b].2 += 1;
    }
    let table = buckets
        .into_iter()
        .filter(|b| b.2 > 0)
        .map(|(sum_p, pos, count)| (sum_p / count as f64, pos as f64 / count as f64, count))
        .collect();
    (
        table,
        calibrate::calibration_error(model, &weighted(samples)) as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_missing_rankings() {
        let rel: HashSet<&str> = ["a"].into_iter().collect();
        let mut s = Sums::default();
        s.add(&["a".into(), "b".into()], &rel);
        s.add(&["b".into(), "c".into(), "a".into()], &rel);
        s.add(&["b".into()], &rel);
        let m = s.metrics();
        assert!((m.recall_at_1 - 1.0 / 3.0).abs() < 1e-9);
        assert!((m.recall_at_3 - 2.0 / 3.0).abs() < 1e-9);
        assert!((m.mrr_at_10 - (1.0 + 1.0 / 3.0) / 3.0).abs() < 1e-9);
        assert!((m.ndcg_at_10 - (1.0 + 0.5) / 3.0).abs() < 1e-9);
    }

    #[test]
    fn hindsight_answers_the_most_covered_tickets_at_the_target() {
        let hit = |relevance, covered, right| FirstHit {
            relevance,
            covered,
            right,
        };
        let hits = [
            hit(0.9, true, true),
            hit(0.8, true, true),
            hit(0.7, false, false),
            hit(0.6, true, true),
            hit(0.6, true, true),
            hit(0.5, true, false),
            hit(0.2, true, true),
        ];
        // At 0.6: 4 right of 5 answered (0.8), 4 of the 6 covered tickets.
        let h = hindsight(&hits, 6, 0.8).unwrap();
        assert_eq!((h.threshold, h.answered), (0.6, 5));
        assert!((h.coverage - 4.0 / 6.0).abs() < 1e-9);
        // A covered ticket without any hit counts against coverage, never answered.
        let h = hindsight(&hits, 8, 0.8).unwrap();
        assert!((h.coverage - 4.0 / 8.0).abs() < 1e-9);
        // Ties are answered together: 0.6 is never split in two.
        let h = hindsight(&hits, 6, 0.95).unwrap();
        assert_eq!((h.threshold, h.answered), (0.8, 2));
        assert!(hindsight(&[hit(0.9, false, false)], 0, 0.5).is_none());
        assert!(hindsight(&[], 3, 0.5).is_none());
        // Not a number: never answered, never a threshold.
        let h = hindsight(&[hit(f32::NAN, true, true), hit(0.7, true, true)], 2, 0.9).unwrap();
        assert_eq!((h.threshold, h.answered), (0.7, 1));
    }
}
