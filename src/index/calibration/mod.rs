//! Relevance calibrated per KB, without labels.
//!
//! A customer's KB comes with no labelled queries, and raw retrieval scores mean
//! different things on different KBs (BM25 grows with the vocabulary, e5 cosines with
//! the style of the passages). So every generation fits its own calibration when it is
//! built, from the KB itself:
//!
//! 1. **Pseudo-queries.** Each entry (or an even sample of them on a large KB) gives a
//!    few queries that it answers: its title with a word dropped, a symptom, a window of
//!    its description or fix, a bag of its words with a few words of another entry mixed
//!    in (as a long e-mail mixes topics). One in three is *held out*: searched as if the
//!    KB did not have its entry, so every hit it gets is wrong. Those are the tickets the
//!    KB does not cover, with their nearest neighbours as the hard negatives.
//! 2. **Real searches.** Each query goes through the same hybrid search as a ticket
//!    (`hybrid::search`). Every hit of the top five becomes a sample: its evidence
//!    (`RelevanceFeatures`: ranks, the retrievers' agreement, each retriever's lead
//!    over the next hit relative to the query's own scores) and whether it answers.
//! 3. **Fit.** A logistic regression over those samples gives the probability that a
//!    hit answers the query. Labelled queries the KB ships (`eval/queries.jsonl`) join
//!    the fit with more weight; a model written by `devicekb eval search --calibrate`
//!    (`eval/calibration.json`) replaces the fitted one.
//! 4. **Curve.** Over the best hit of every query, the precision an automatic answer
//!    would have at each threshold: the decision reads its threshold off this curve for
//!    the target precision, so the target holds whatever the KB. With 50 labelled
//!    queries or more, they stand for the covered tickets in the curve (real questions
//!    beat pseudo ones) and the held-out pseudo-queries for the uncovered fifth.
//!
//! When the KB is too small or too uniform to fit (one entry, near-duplicates), the
//! generation keeps a conservative fallback and says so.

mod fit;
mod kb_files;
mod pseudo;
mod samples;

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::fusion::{FusionConfig, RelevanceModel};
use super::generation::Generation;
use crate::embed::Embedder;
use crate::error::Result;

pub use fit::{calibration_error, curve, fit};
pub use kb_files::{kb_labelled_queries, kb_model};
pub use pseudo::pseudo_queries;
pub use samples::{collect_hits, CalibrationHit, Sample};

use fit::curve_weights;
use samples::{normalised, scales};

/// The calibration of a generation, in its directory.
pub const CALIBRATION_FILE: &str = "calibration.json";
/// Labelled queries a KB may ship (`{"query", "relevant": [ids]}` per line).
pub const KB_QUERIES_FILE: &str = "eval/queries.jsonl";
/// A relevance model written by `devicekb eval search --calibrate`, read by the next reindex.
pub const KB_MODEL_FILE: &str = "eval/calibration.json";
/// Changes whenever `RelevanceFeatures` changes: older models are not reused.
pub const FEATURES_VERSION: u32 = 4;
/// Most pseudo-queries per generation: enough for a stable fit, small next to embedding.
pub const QUERY_BUDGET: usize = 1200;
/// Hits of each query that become samples.
const SAMPLED_HITS: usize = 5;
/// Weight of a labelled query's samples against a pseudo-query's.
const LABELLED_WEIGHT: f32 = 3.0;
/// Labelled queries from which they, not the pseudo-queries, set the threshold.
const MIN_LABELLED_FOR_CURVE: usize = 50;
/// Relevance an automatic answer needs under the fallback calibration.
pub const FALLBACK_THRESHOLD: f32 = 0.9;
/// A threshold must answer at least this share of the calibration queries to be trusted.
const MIN_ANSWERED: f32 = 0.05;
const MIN_ANSWERED_QUERIES: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationSource {
    /// Fitted at reindex on pseudo-queries (and the KB's labelled queries, if any).
    PseudoQueries,
    /// The model in the KB's `eval/calibration.json`.
    KbFile,
    /// Conservative: the KB could not support a fit.
    Fallback,
}

/// Precision and share answered at one threshold, on the calibration queries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub threshold: f32,
    pub precision: f32,
    /// Share of the calibration queries' weight answered.
    pub answered: f32,
    /// The weight answered, in queries (labelled queries count 1 each).
    #[serde(default)]
    pub answered_queries: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub features_version: u32,
    pub source: CalibrationSource,
    pub model: RelevanceModel,
    pub curve: Vec<CurvePoint>,
    /// Calibration queries run: pseudo (covered and held out) and labelled.
    pub queries: usize,
    pub held_out: usize,
    pub labelled: usize,
    pub samples: usize,
    /// Expected calibration error of the model on its samples.
    pub calibration_error: f32,
    /// Share of the covered pseudo-queries whose entry came first.
    pub top1_accuracy: f32,
    pub seconds: f64,
    /// What an operator should know (fallback reasons, skipped files).
    pub notes: Vec<String>,
}

impl Calibration {
    pub fn fallback(why: impl Into<String>) -> Calibration {
        Calibration {
            features_version: FEATURES_VERSION,
            source: CalibrationSource::Fallback,
            model: RelevanceModel::default(),
            curve: Vec::new(),
            queries: 0,
            held_out: 0,
            labelled: 0,
            samples: 0,
            calibration_error: 0.0,
            top1_accuracy: 0.0,
            seconds: 0.0,
            notes: vec![why.into()],
        }
    }

    /// The lowest relevance threshold whose automatic answers reach `target` precision
    /// on the calibration queries; `None` when no threshold does with enough answers.
    pub fn threshold_for(&self, target: f32) -> Option<f32> {
        if self.source == CalibrationSource::Fallback {
            return Some(FALLBACK_THRESHOLD.max(target));
        }
        let enough = |p: &CurvePoint| {
            p.answered >= MIN_ANSWERED && p.answered_queries >= MIN_ANSWERED_QUERIES as f32
        };
        self.curve
            .iter()
            .filter(|p| enough(p))
            .find(|p| p.precision >= target)
            .map(|p| p.threshold)
    }

    /// Reads a generation's calibration; a generation built before calibrations
    /// existed (or with other features) gets the fallback.
    pub fn load(dir: &std::path::Path) -> Calibration {
        let path = dir.join(CALIBRATION_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Calibration>(&bytes) {
                Ok(c) if c.features_version == FEATURES_VERSION => c,
                Ok(_) => Calibration::fallback(
                    "the generation's calibration was made for other features; reindex to refit",
                ),
                Err(e) => Calibration::fallback(format!("unreadable {}: {e}", path.display())),
            },
            Err(_) => {
                Calibration::fallback("the generation has no calibration; reindex to fit one")
            }
        }
    }
}

/// A model written by `devicekb eval search --calibrate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredModel {
    pub features_version: u32,
    pub model: RelevanceModel,
    /// Where it was fitted, for the record.
    pub fitted_on: String,
    pub samples: usize,
}

/// What an operator reads about a generation's calibration (reindex output, /health).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationSummary {
    pub source: CalibrationSource,
    pub queries: usize,
    pub held_out: usize,
    pub labelled: usize,
    pub top1_accuracy: f32,
    pub calibration_error: f32,
    /// The target precision and the relevance threshold read off the curve for it;
    /// `None`: no threshold reaches the target, nothing is answered automatically.
    pub target_precision: f32,
    pub threshold: Option<f32>,
    /// Share of the calibration queries answered at that threshold.
    pub answered: Option<f32>,
    pub seconds: f64,
    pub notes: Vec<String>,
}

impl Calibration {
    pub fn summary(&self, target_precision: f32) -> CalibrationSummary {
        let threshold = self.threshold_for(target_precision);
        CalibrationSummary {
            source: self.source,
            queries: self.queries,
            held_out: self.held_out,
            labelled: self.labelled,
            top1_accuracy: self.top1_accuracy,
            calibration_error: self.calibration_error,
            target_precision,
            threshold,
            answered: threshold.and_then(|t| {
                self.curve
                    .iter()
                    .find(|p| (p.threshold - t).abs() < 1e-6)
                    .map(|p| p.answered)
            }),
            seconds: self.seconds,
            notes: self.notes.clone(),
        }
    }
}

/// A query with the entry that answers it (pseudo) or the entries that do (labelled).
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationQuery {
    pub text: String,
    /// Entries that answer it (by ord).
    pub answers: Vec<u32>,
    /// Search as if the KB lacked this entry: every hit is then wrong.
    pub exclude: Option<u32>,
    pub labelled: bool,
}

/// Fits the calibration of `generation` (see the module documentation).
/// `labelled`: the KB's own labelled queries; `kb_model`: a model the KB ships.
pub fn calibrate(
    generation: &Generation,
    embedder: &dyn Embedder,
    fusion: &FusionConfig,
    labelled: Vec<CalibrationQuery>,
    kb_model: Option<StoredModel>,
) -> Result<Calibration> {
    let started = Instant::now();
    let mut notes = Vec::new();
    if generation.entries.len() < 3 {
        let mut c = Calibration::fallback(format!(
            "the KB has {} entr{}: too few to calibrate; automatic answers need relevance {FALLBACK_THRESHOLD}",
            generation.entries.len(),
            if generation.entries.len() == 1 { "y" } else { "ies" }
        ));
        c.seconds = started.elapsed().as_secs_f64();
        return Ok(c);
    }
    let mut queries = pseudo_queries(&generation.entries, QUERY_BUDGET);
    let held_out = queries.iter().filter(|q| q.exclude.is_some()).count();
    let labelled_count = labelled.len();
    queries.extend(labelled);
    let raw = collect_hits(generation, embedder, fusion, &queries)?;
    let covered: Vec<bool> = queries
        .iter()
        .map(|q| q.exclude.is_none() && !q.labelled)
        .collect();
    let covered_count = covered.iter().filter(|c| **c).count();
    let top1_accuracy = raw
        .iter()
        .filter(|h| h.rank == 0 && covered[h.query] && h.sample.y)
        .count() as f32
        / covered_count.max(1) as f32;
    let positives = raw.iter().filter(|h| h.sample.y).count();
    let negatives = raw.len() - positives;
    let (source, model, hits) = match kb_model {
        Some(stored) if stored.features_version == FEATURES_VERSION => {
            notes.push(format!(
                "relevance model from the KB's {KB_MODEL_FILE} (fitted on {})",
                stored.fitted_on
            ));
            let hits = normalised(&stored.model, &raw);
            (CalibrationSource::KbFile, stored.model, hits)
        }
        other => {
            if other.is_some() {
                notes.push(format!(
                    "{KB_MODEL_FILE} was fitted for other features and is ignored; run `devicekb eval search --calibrate` again"
                ));
            }
            if positives < 10 || negatives < 10 {
                let mut c = Calibration::fallback(format!(
                    "the KB's entries cannot be told apart well enough to calibrate ({positives} right and {negatives} wrong hits); automatic answers need relevance {FALLBACK_THRESHOLD}"
                ));
                c.queries = queries.len();
                c.seconds = started.elapsed().as_secs_f64();
                return Ok(c);
            }
            let (bm25_scale, cosine_low, cosine_high) = scales(&raw, &covered);
            let scaled = RelevanceModel {
                bm25_scale,
                cosine_low,
                cosine_high,
                ..RelevanceModel::default()
            };
            let hits = normalised(&scaled, &raw);
            let samples: Vec<Sample> = hits.iter().map(|h| h.sample).collect();
            let fitted = fit(&samples);
            let model = RelevanceModel {
                bias: fitted.bias,
                weights: fitted.weights,
                ..scaled
            };
            (CalibrationSource::PseudoQueries, model, hits)
        }
    };
    let samples: Vec<Sample> = hits.iter().map(|h| h.sample).collect();
    let calibration = Calibration {
        features_version: FEATURES_VERSION,
        source,
        calibration_error: calibration_error(&model, &samples),
        curve: curve(&model, &hits, &curve_weights(&queries)),
        model,
        queries: queries.len(),
        held_out,
        labelled: labelled_count,
        samples: samples.len(),
        top1_accuracy,
        seconds: started.elapsed().as_secs_f64(),
        notes,
    };
    Ok(calibration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_reads_the_curve() {
        let mut c = Calibration::fallback("x");
        assert_eq!(c.threshold_for(0.8), Some(FALLBACK_THRESHOLD));
        assert_eq!(c.threshold_for(0.97), Some(0.97));
        c.source = CalibrationSource::PseudoQueries;
        c.queries = 100;
        c.curve = vec![
            CurvePoint {
                threshold: 0.5,
                precision: 0.90,
                answered: 0.6,
                answered_queries: 60.0,
            },
            CurvePoint {
                threshold: 0.6,
                precision: 0.96,
                answered: 0.5,
                answered_queries: 50.0,
            },
            CurvePoint {
                threshold: 0.9,
                precision: 1.0,
                answered: 0.01,
                answered_queries: 1.0,
            },
        ];
        assert_eq!(c.threshold_for(0.95), Some(0.6));
        assert_eq!(c.threshold_for(0.99), None);
    }
}
