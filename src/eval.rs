//! Retrieval quality on a labelled query set: recall@1, recall@3, MRR@10 and nDCG@10
//! per search mode, and the fit of the relevance calibration.
//!
//! The set is JSON Lines: `{"id", "query", "relevant": [entry ids], "lang"?, "kind"?,
//! "model_filter"?}`. Relevance is binary: every listed entry counts as a right answer.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ValidationError};
use crate::index::fusion::{RelevanceModel, FEATURES};
use crate::service::search::ValidSearch;
use crate::service::{SearchMode, Service};

#[derive(Debug, Clone, Deserialize)]
pub struct LabelledQuery {
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
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<LabelledQuery>(line) {
            Ok(q) if q.relevant.is_empty() => errors.push(ValidationError {
                file: path.display().to_string(),
                line: Some(i + 1),
                field: Some("relevant".into()),
                message: "lists no entry".into(),
            }),
            Ok(q) => out.push(q),
            Err(e) => errors.push(ValidationError {
                file: path.display().to_string(),
                line: Some(i + 1),
                field: None,
                message: e.to_string(),
            }),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Error::KbInvalid(errors))
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

#[derive(Debug, Clone, Default)]
struct Sums {
    n: usize,
    r1: f64,
    r3: f64,
    r10: f64,
    mrr: f64,
    ndcg: f64,
}

impl Sums {
    fn add(&mut self, ranked: &[String], relevant: &HashSet<&str>) {
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

    fn metrics(&self) -> Metrics {
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
    service: &Service,
    queries: &[LabelledQuery],
    mode: SearchMode,
) -> Result<(ModeReport, Vec<CalibrationSample>)> {
    let generation = service.generation();
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
        let (hits, _) = service.retrieve(&generation, &search)?;
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

/// Fits the relevance model by logistic regression (batch gradient descent with a small
/// L2 penalty; the features are in [0, 1] so no scaling is needed).
pub fn fit_relevance(samples: &[CalibrationSample]) -> RelevanceModel {
    let mut w = [0.0f64; FEATURES];
    let mut b = 0.0f64;
    let n = samples.len().max(1) as f64;
    let (rate, l2) = (0.5, 1e-3);
    for _ in 0..4000 {
        let mut gw = [0.0f64; FEATURES];
        let mut gb = 0.0;
        for (x, y) in samples {
            let z = b + w.iter().zip(x).map(|(wi, xi)| wi * *xi as f64).sum::<f64>();
            let p = 1.0 / (1.0 + (-z).exp());
            let err = p - if *y { 1.0 } else { 0.0 };
            gb += err;
            for (g, xi) in gw.iter_mut().zip(x) {
                *g += err * *xi as f64;
            }
        }
        b -= rate * gb / n;
        for (wi, g) in w.iter_mut().zip(gw) {
            *wi -= rate * (g / n + l2 * *wi);
        }
    }
    RelevanceModel {
        bias: b as f32,
        weights: w.map(|x| x as f32),
    }
}

/// Reliability table: for each relevance bucket, (mean predicted, observed rate, count),
/// and the expected calibration error.
pub fn reliability(
    model: &RelevanceModel,
    samples: &[CalibrationSample],
) -> (Vec<(f64, f64, usize)>, f64) {
    let mut buckets = vec![(0.0f64, 0usize, 0usize); 10];
    for (x, y) in samples {
        let features = crate::index::fusion::RelevanceFeatures {
            bm25: x[0],
            cosine: x[1],
            inverse_rank: x[2],
            margin: x[3],
            agreement: x[4],
        };
        let p = model.relevance(&features) as f64;
        let b = ((p * 10.0) as usize).min(9);
        buckets[b].0 += p;
        buckets[b].1 += *y as usize;
        buckets[b].2 += 1;
    }
    let total = samples.len().max(1) as f64;
    let mut ece = 0.0;
    let table = buckets
        .into_iter()
        .filter(|b| b.2 > 0)
        .map(|(sum_p, pos, count)| {
            let mean = sum_p / count as f64;
            let rate = pos as f64 / count as f64;
            ece += (mean - rate).abs() * count as f64 / total;
            (mean, rate, count)
        })
        .collect();
    (table, ece)
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
    fn logistic_fit_separates_classes() {
        let samples: Vec<CalibrationSample> = (0..200)
            .map(|i| {
                let x = (i % 10) as f32 / 10.0;
                ([x, x, 0.0, 0.0, 0.0], x > 0.5)
            })
            .collect();
        let model = fit_relevance(&samples);
        let f = |x: f32| crate::index::fusion::RelevanceFeatures {
            bm25: x,
            cosine: x,
            ..Default::default()
        };
        assert!(model.relevance(&f(0.9)) > 0.8);
        assert!(model.relevance(&f(0.1)) < 0.2);
    }
}
