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
//!    beat pseudo ones) and the held-out pseudo-queries for the uncovered fifth. Covered
//!    pseudo-queries that mix in another entry's words (bags of 5, 4 or 3 of its entry's
//!    words with 3, 4 or 2 of another's) stay out of the curve: such a bag has no one
//!    right answer, and its first hit on a third entry says nothing about the precision
//!    of an answer to a ticket. Leaving them out moved the seed KB's threshold from 0.73
//!    to 0.56; on the transfer KBs' development tickets (sets A-D), 42 of its 43
//!    automatic answers were then right.
//!
//! When the KB is too small or too uniform to fit (one entry, near-duplicates), the
//! generation keeps a conservative fallback and says so.

mod confirmed;
mod decisive;
mod fit;
mod kb_files;
mod pseudo;
mod reuse;
mod samples;

use std::time::Instant;

use super::calibration::{
    Calibration, CalibrationSource, CurvePoint, StoredModel, FALLBACK_THRESHOLD, FEATURES_VERSION,
    MIN_DECISIVE_QUERIES,
};
use super::fusion::{FusionConfig, RelevanceModel};
use super::generation::Generation;
use crate::embed::Embedder;
use crate::error::Result;

pub use confirmed::{
    confirmed_offset, confirmed_queries, without_rows, ConfirmedQueries, DEFAULT_OFFSET,
    MIN_SEARCHED,
};
pub use decisive::decisive_precision;
pub use fit::{calibration_error, curve, fit};
pub use kb_files::{kb_labelled_queries, kb_model};
pub use pseudo::pseudo_queries;
pub use reuse::{changed_entries, fit_inputs, kept_calibration, REFIT_SHARE};
pub use samples::{collect_hits, CalibrationHit, Sample};

use fit::curve_weights;
use samples::{normalised, scales};

/// Labelled queries a KB may ship (`{"query", "relevant": [ids]}` per line).
pub const KB_QUERIES_FILE: &str = "eval/queries.jsonl";
/// A relevance model written by `devicekb eval search --calibrate`, read by the next reindex.
pub const KB_MODEL_FILE: &str = "eval/calibration.json";
/// Most pseudo-queries per generation: enough for a stable fit, small next to embedding.
pub const QUERY_BUDGET: usize = 1200;
/// Hits of each query that become samples.
const SAMPLED_HITS: usize = 5;
/// Weight of a labelled query's samples against a pseudo-query's.
const LABELLED_WEIGHT: f32 = 3.0;
/// Labelled queries from which they, not the pseudo-queries, set the threshold.
const MIN_LABELLED_FOR_CURVE: usize = 50;

/// A query with the entry that answers it (pseudo) or the entries that do (labelled).
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationQuery {
    pub text: String,
    /// Entries that answer it (by ord).
    pub answers: Vec<u32>,
    /// Search as if the KB lacked this entry: every hit is then wrong.
    pub exclude: Option<u32>,
    pub labelled: bool,
    /// A pseudo-query that mixes in words of another entry (a long message that wanders).
    /// It teaches the fit that such a message is uncertain, but when its entry is in the
    /// KB its label is a guess (see `fit::curve_weights`).
    pub mixed: bool,
    /// A confirmed answer searched as if no customer had asked about its entries before
    /// (none of their confirmed answers found): a ticket about an entry never asked about.
    pub without_confirmed: bool,
}

/// Fewest right and fewest wrong hits a relevance model is fitted on (here, and by
/// `devicekb eval search --calibrate`): with fewer, it learns a handful of queries.
pub const MIN_HITS_EACH: usize = 10;

/// A KB's shipped model whose calibration error on the KB's own queries is above this
/// is said to fit poorly (a fit on its pseudo-queries is typically under 0.1): it may
/// have been fitted on another KB, or edited by hand. The precision curve is still read
/// off it, so the decision stays as safe as its ranking.
const POOR_KB_MODEL_ERROR: f32 = 0.25;

/// Fits the calibration of `generation` (see the module documentation).
/// `labelled`: the KB's own labelled queries; `kb_model`: a model the KB ships.
pub fn calibrate(
    generation: &Generation,
    embedder: &dyn Embedder,
    fusion: &FusionConfig,
    labelled: Vec<CalibrationQuery>,
    kb_model: Option<StoredModel>,
    unseen_share: f32,
) -> Result<Calibration> {
    let started = Instant::now();
    let mut notes = Vec::new();
    if generation.entries.len() < 3 {
        let mut c = Calibration::fallback(format!(
            "the KB has {} entr{}: too few to calibrate; automatic answers need relevance {FALLBACK_THRESHOLD}, or the target precision when it is higher",
            generation.entries.len(),
            if generation.entries.len() == 1 { "y" } else { "ies" }
        ));
        if kb_model.is_some() {
            c.notes.push(format!(
                "{KB_MODEL_FILE} is not used: a model cannot be checked against so few entries"
            ));
        }
        c.seconds = started.elapsed().as_secs_f64();
        return Ok(c);
    }
    let mut queries = pseudo_queries(&generation.entries, QUERY_BUDGET);
    let held_out = queries.iter().filter(|q| q.exclude.is_some()).count();
    let labelled_count = labelled.len();
    let mixed_covered = queries
        .iter()
        .filter(|q| q.mixed && q.exclude.is_none())
        .count();
    if mixed_covered > 0 && labelled_count < MIN_LABELLED_FOR_CURVE {
        notes.push(format!(
            "{mixed_covered} pseudo-queries mixing two entries' words stay out of the precision curve"
        ));
    }
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
        Some(stored)
            if stored.features_version == FEATURES_VERSION && stored.fusion == fusion.method =>
        {
            notes.push(format!(
                "relevance model from the KB's {KB_MODEL_FILE} (fitted on {})",
                stored.fitted_on
            ));
            let hits = normalised(&stored.model, &raw);
            (CalibrationSource::KbFile, stored.model, hits)
        }
        other => {
            if let Some(stored) = other {
                notes.push(format!(
                    "{KB_MODEL_FILE} was fitted for other features ({} fusion, features version {}) and is ignored; run `devicekb eval search --calibrate` again",
                    stored.fusion.as_str(),
                    stored.features_version
                ));
            }
            if positives < MIN_HITS_EACH || negatives < MIN_HITS_EACH {
                let mut c = Calibration::fallback(format!(
                    "the KB's entries cannot be told apart well enough to calibrate ({positives} right and {negatives} wrong hits); automatic answers need relevance {FALLBACK_THRESHOLD}, or the target precision when it is higher"
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
    let error = calibration_error(&model, &samples);
    if source == CalibrationSource::KbFile && error > POOR_KB_MODEL_ERROR {
        notes.push(format!(
            "{KB_MODEL_FILE} fits this KB's own queries poorly (calibration error {error:.3}): relevance may read too high or too low; fit it again with `devicekb eval search FILE --calibrate`, or delete it"
        ));
    }
    let (decisive, decisive_queries) = decisive_precision(generation, fusion)?;
    match decisive {
        Some(d) => notes.push(format!(
            "BM25 alone was decisive on {} calibration queries naming a model and a code, right on {}: such searches skip the query embedding",
            d.queries, d.right
        )),
        None if decisive_queries > 0 => notes.push(format!(
            "BM25 alone was decisive on only {decisive_queries} calibration queries (fewer than {MIN_DECISIVE_QUERIES}): every search embeds its query"
        )),
        None => {}
    }
    let calibration = Calibration {
        features_version: FEATURES_VERSION,
        source,
        calibration_error: error,
        curve: curve(&model, &hits, &curve_weights(&queries, unseen_share)),
        model,
        queries: queries.len(),
        held_out,
        labelled: labelled_count,
        samples: samples.len(),
        top1_accuracy,
        seconds: started.elapsed().as_secs_f64(),
        notes,
        fit: None,
        decisive,
        fusion: Some(fusion.method),
    };
    Ok(calibration)
}
