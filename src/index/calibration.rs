//! The calibration of one generation as it is stored with it: the relevance model (the
//! probability that a hit answers the query, from its evidence), the precision curve the
//! decision reads its threshold off, and what an operator should know. How it is fitted
//! is `calibrate`'s business; a generation only reads this.

use serde::{Deserialize, Serialize};

use super::fusion::{FusionMethod, RelevanceModel};

/// The calibration of a generation, in its directory.
pub const CALIBRATION_FILE: &str = "calibration.json";
/// Changes whenever `RelevanceFeatures` changes: older models are not reused.
pub const FEATURES_VERSION: u32 = 6;
/// Relevance an automatic answer needs under the fallback calibration.
pub const FALLBACK_THRESHOLD: f32 = 0.9;
/// Held-out pseudo-queries a threshold read off the curve needs. They stand for the
/// tickets the KB does not cover: when none of n passes a threshold, as many as 3/n of
/// such tickets still could (the rule of three, at 95 %), and with a fifth of tickets not
/// covered and half of all answered that costs up to 0.4 × 3/n of precision; 24 keep it
/// within the 0.05 that a 0.95 target allows. A KB of fewer than about ten entries makes
/// fewer, and gets the fallback's threshold: on a four-entry KB the curve read 0.07, and
/// "how do I scan to e-mail?" was answered with the toner entry at 0.32.
pub const MIN_HELD_OUT: usize = 24;
/// A threshold must answer at least this share of the calibration queries to be trusted.
const MIN_ANSWERED: f32 = 0.05;
const MIN_ANSWERED_QUERIES: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// What the fit was made from, so a later generation can tell whether it may keep it
    /// (`calibrate::reuse`); `None` on a fallback and on calibrations stored before it.
    #[serde(default)]
    pub fit: Option<FitRecord>,
    /// How often BM25 alone picks the right entry when it is decisive (`hybrid::decisive`),
    /// so such a search may skip the query embedding; `None`: never skip (too few
    /// decisive calibration queries, or a calibration stored before it).
    #[serde(default)]
    pub decisive: Option<DecisivePrecision>,
    /// The fusion it was fitted under: its features read the fused list, so under the
    /// other method its relevance means nothing (`fitted_for_other_fusion`). `None`: a
    /// fallback, or a calibration stored before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fusion: Option<FusionMethod>,
}

/// The measured precision of BM25 alone when it is decisive: the first hit carries an
/// error code the query names, for the model the query names, and the second does not.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DecisivePrecision {
    /// Calibration queries on which BM25 was decisive (held-out ones included).
    pub queries: usize,
    /// Of those, the ones whose first hit was right.
    pub right: usize,
    /// Laplace-smoothed share right, the held-out queries weighing the uncovered fifth of
    /// the tickets: the relevance such a first hit reports.
    pub precision: f32,
}

/// Decisive calibration queries needed before BM25 alone is trusted.
pub const MIN_DECISIVE_QUERIES: usize = 20;

impl DecisivePrecision {
    /// The precision of `right_weight` out of `fired_weight` (the queries weighed as the
    /// precision curve weighs them), Laplace-smoothed; `None` below
    /// `MIN_DECISIVE_QUERIES` decisive queries.
    pub fn measured(
        queries: usize,
        right: usize,
        fired_weight: f32,
        right_weight: f32,
    ) -> Option<DecisivePrecision> {
        (queries >= MIN_DECISIVE_QUERIES).then(|| DecisivePrecision {
            queries,
            right,
            precision: (right_weight + 1.0) / (fired_weight + 2.0),
        })
    }
}

/// Where and from what a calibration was fitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FitRecord {
    /// The generation the fit was made for.
    pub generation: u64,
    /// Digest of everything besides the entries that the fit depends on: the model, the
    /// fusion settings, the catalogue, the KB's labelled queries and shipped model.
    pub inputs: String,
    /// Entries the KB had when it was fitted.
    pub entries: usize,
    /// Entries added, edited or removed since, over the generations that kept it.
    pub changed_since: usize,
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
            fit: None,
            decisive: None,
            fusion: None,
        }
    }

    /// The fusion this calibration was fitted under, when it is not `served`: a server
    /// started with other settings than the reindex's. Its relevance then reads features
    /// it was not fitted on, and no automatic answer may rest on it.
    pub fn fitted_for_other_fusion(&self, served: FusionMethod) -> Option<FusionMethod> {
        self.fusion.filter(|fitted| *fitted != served)
    }

    /// The relevance threshold a server under `served` fusion answers at: `fixed` when
    /// configured, else the curve's for `target`. `None`, nothing automatic: no threshold
    /// reaches the target, or this calibration was fitted under another fusion (fixed
    /// threshold or not, the relevance it is compared with means nothing).
    pub fn served_threshold(
        &self,
        fixed: Option<f32>,
        target: f32,
        served: FusionMethod,
    ) -> Option<f32> {
        if self.fitted_for_other_fusion(served).is_some() {
            return None;
        }
        fixed.or_else(|| self.threshold_for(target))
    }

    /// The lowest relevance threshold whose automatic answers reach `target` precision
    /// on the calibration queries; `None` when no threshold does with enough answers.
    /// With too few stand-ins for the tickets the KB does not cover (`MIN_HELD_OUT`), the
    /// curve is optimistic: it is read, and its threshold raised to the fallback's.
    pub fn threshold_for(&self, target: f32) -> Option<f32> {
        if self.source == CalibrationSource::Fallback {
            return Some(FALLBACK_THRESHOLD.max(target));
        }
        let enough = |p: &CurvePoint| {
            p.answered >= MIN_ANSWERED && p.answered_queries >= MIN_ANSWERED_QUERIES as f32
        };
        let read = self
            .curve
            .iter()
            .filter(|p| enough(p))
            .find(|p| p.precision >= target)
            .map(|p| p.threshold);
        if self.held_out < MIN_HELD_OUT {
            read.map(|t| t.max(FALLBACK_THRESHOLD.max(target)))
        } else {
            read
        }
    }

    /// What an operator should know about this calibration: the notes made when it was
    /// fitted, and whether its curve has enough held-out queries to be read as it is
    /// (said here, not at fitting time, so a calibration kept from an earlier generation
    /// says it too).
    pub fn notes(&self) -> Vec<String> {
        let mut notes = self.notes.clone();
        if self.source != CalibrationSource::Fallback && self.held_out < MIN_HELD_OUT {
            notes.push(format!(
                "only {} pseudo-queries stand for tickets the KB does not cover ({MIN_HELD_OUT} needed to read a threshold off the curve as it is): automatic answers need relevance {FALLBACK_THRESHOLD}, or the target precision when it is higher",
                self.held_out
            ));
        }
        notes
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
    /// The fusion it was fitted under: the features read the fused list, so a model
    /// fitted under one method is ignored under the other.
    #[serde(default)]
    pub fusion: FusionMethod,
    pub model: RelevanceModel,
    /// Where it was fitted, for the record.
    pub fitted_on: String,
    pub samples: usize,
}

/// What an operator reads about a generation's calibration (reindex output, /health).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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
    /// BM25 alone's measured precision when decisive; `None`: every search embeds its query.
    pub decisive: Option<DecisivePrecision>,
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
            notes: self.notes(),
            decisive: self.decisive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisive_precision_needs_enough_queries_and_is_smoothed() {
        assert_eq!(DecisivePrecision::measured(19, 19, 19.0, 19.0), None);
        let all_right = DecisivePrecision::measured(20, 20, 20.0, 20.0).unwrap();
        assert!((all_right.precision - 21.0 / 22.0).abs() < 1e-6);
        // Held-out queries weigh less than one: a wrong one costs less than a covered one.
        let weighed = DecisivePrecision::measured(30, 25, 25.0, 25.0).unwrap();
        assert!((weighed.precision - 26.0 / 27.0).abs() < 1e-6);
        assert_eq!((weighed.queries, weighed.right), (30, 25));
    }

    #[test]
    fn threshold_reads_the_curve() {
        let mut c = Calibration::fallback("x");
        assert_eq!(c.threshold_for(0.8), Some(FALLBACK_THRESHOLD));
        assert_eq!(c.threshold_for(0.97), Some(0.97));
        c.source = CalibrationSource::PseudoQueries;
        c.queries = 100;
        c.held_out = MIN_HELD_OUT;
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
        // Too few stand-ins for the tickets the KB does not cover: the fallback's.
        c.held_out = MIN_HELD_OUT - 1;
        assert_eq!(c.threshold_for(0.95), Some(0.95));
        assert_eq!(c.threshold_for(0.8), Some(FALLBACK_THRESHOLD));
        // ... but never where the curve reaches nothing.
        assert_eq!(c.threshold_for(0.99), None);
        assert!(c.notes().iter().any(|n| n.contains("stand for tickets")));
    }
}
