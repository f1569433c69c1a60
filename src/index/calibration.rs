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
//!    the fit with more weight; a model written by `devicekb eval --calibrate`
//!    (`eval/calibration.json`) replaces the fitted one.
//! 4. **Curve.** Over the best hit of every query, the precision an automatic answer
//!    would have at each threshold: the decision reads its threshold off this curve for
//!    the target precision, so the target holds whatever the KB.
//!
//! When the KB is too small or too uniform to fit (one entry, near-duplicates), the
//! generation keeps a conservative fallback and says so.

use std::collections::HashMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::fusion::{FusionConfig, RelevanceModel, FEATURES};
use super::generation::Generation;
use super::hybrid::{self, HybridQuery};
use crate::embed::Embedder;
use crate::error::{Error, Result, ValidationError};
use crate::kb::KbEntry;

/// The calibration of a generation, in its directory.
pub const CALIBRATION_FILE: &str = "calibration.json";
/// Labelled queries a KB may ship (`{"query", "relevant": [ids]}` per line).
pub const KB_QUERIES_FILE: &str = "eval/queries.jsonl";
/// A relevance model written by `devicekb eval --calibrate`, read by the next reindex.
pub const KB_MODEL_FILE: &str = "eval/calibration.json";
/// Changes whenever `RelevanceFeatures` changes: older models are not reused.
pub const FEATURES_VERSION: u32 = 3;
/// Most pseudo-queries per generation: enough for a stable fit, small next to embedding.
pub const QUERY_BUDGET: usize = 1200;
/// Hits of each query that become samples.
const SAMPLED_HITS: usize = 5;
/// Weight of a labelled query's samples against a pseudo-query's.
const LABELLED_WEIGHT: f32 = 3.0;
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
    pub answered: f32,
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
            p.answered >= MIN_ANSWERED
                && p.answered * self.queries as f32 >= MIN_ANSWERED_QUERIES as f32
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

/// A model written by `devicekb eval --calibrate`.
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

#[derive(Debug, Deserialize)]
struct LabelledLine {
    query: String,
    relevant: Vec<String>,
}

/// The KB's labelled queries (`eval/queries.jsonl`: `{"query", "relevant": [ids]}` a
/// line, other fields ignored), for entries of `generation`. A line that does not parse
/// is an error with its line; one naming an entry the KB lacks is skipped with a note.
pub fn kb_labelled_queries(
    kb_dir: &std::path::Path,
    generation: &Generation,
) -> Result<(Vec<CalibrationQuery>, Vec<String>)> {
    let path = kb_dir.join(KB_QUERIES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let mut queries = Vec::new();
    let mut skipped = 0;
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<LabelledLine>(line) {
            Ok(l) => {
                let answers: Option<Vec<u32>> =
                    l.relevant.iter().map(|id| generation.ord_of(id)).collect();
                match answers {
                    Some(a) if !a.is_empty() && !l.query.trim().is_empty() => {
                        queries.push(CalibrationQuery {
                            text: l.query,
                            answers: a,
                            exclude: None,
                            labelled: true,
                        })
                    }
                    _ => skipped += 1,
                }
            }
            Err(e) => errors.push(ValidationError {
                file: path.display().to_string(),
                line: Some(i + 1),
                field: None,
                message: e.to_string(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(Error::KbInvalid(errors));
    }
    let mut notes = Vec::new();
    if skipped > 0 {
        notes.push(format!(
            "{skipped} labelled quer{} in {KB_QUERIES_FILE} skipped: empty, or naming no entry of the KB",
            if skipped == 1 { "y" } else { "ies" }
        ));
    }
    Ok((queries, notes))
}

/// The relevance model the KB ships (`eval/calibration.json`), if any.
pub fn kb_model(kb_dir: &std::path::Path) -> Result<Option<StoredModel>> {
    let path = kb_dir.join(KB_MODEL_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::KbInvalid(vec![ValidationError {
                file: path.display().to_string(),
                line: Some(e.line()),
                field: None,
                message: format!("not a relevance model: {e}"),
            }])
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
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

/// One hit's evidence, whether it answers, and its weight in the fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub x: [f32; FEATURES],
    pub y: bool,
    pub weight: f32,
}

/// A hit of a calibration query, with its raw scores (normalised once the KB's scales
/// are known).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationHit {
    pub query: usize,
    /// 0 for the query's first hit.
    pub rank: usize,
    pub sample: Sample,
    pub bm25: Option<f32>,
    pub cosine: Option<f32>,
}

/// A small deterministic generator (splitmix64), so a KB always gets the same queries.
struct Rng(u64);

impl Rng {
    fn new(seed: &str) -> Rng {
        // FNV-1a of the seed text.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in seed.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        Rng(h)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn words(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Words that carry meaning: long enough not to be an article or a preposition.
fn content_words(text: &str) -> Vec<&str> {
    words(text)
        .into_iter()
        .filter(|w| w.chars().count() > 3 || w.chars().any(|c| c.is_ascii_digit()))
        .collect()
}

fn window(rng: &mut Rng, words: &[&str], min: usize, max: usize) -> Option<String> {
    if words.len() < min {
        return None;
    }
    let len = (min + rng.below(max - min + 1)).min(words.len());
    let start = rng.below(words.len() - len + 1);
    Some(words[start..start + len].join(" "))
}

/// A few words kept out of `words`, in a shuffled order: what a customer keeps of a
/// problem when they tell it their own way.
fn bag(rng: &mut Rng, words: &[&str], keep: usize) -> Option<String> {
    if words.len() < 3 {
        return None;
    }
    let mut pool: Vec<&str> = words.to_vec();
    let mut out = Vec::new();
    while out.len() < keep.min(words.len()) && !pool.is_empty() {
        out.push(pool.swap_remove(rng.below(pool.len())));
    }
    Some(out.join(" "))
}

/// Kept words and words of other entries in the bags of an entry's pseudo-queries,
/// from a focused question to a long message that wanders.
const BAGS: [(usize, usize); 4] = [(7, 0), (5, 3), (4, 4), (3, 2)];

/// The pseudo-queries of a KB: up to a dozen per entry on a small KB, fewer on a large
/// one, and an even sample of entries when even four each would exceed the budget; one
/// in three held out.
pub fn pseudo_queries(entries: &[KbEntry], budget: usize) -> Vec<CalibrationQuery> {
    let n = entries.len();
    if n == 0 {
        return Vec::new();
    }
    let per_entry = (budget / n).clamp(4, 12);
    let sampled = (budget / per_entry).clamp(1, n);
    let mut out = Vec::new();
    for k in 0..sampled {
        let ord = (k * n / sampled) as u32;
        let entry = &entries[ord as usize];
        let mut rng = Rng::new(&entry.id);
        // In order of how much a customer's words resemble them.
        let mut texts: Vec<String> = Vec::new();
        let title = words(&entry.title);
        if title.len() >= 5 {
            let mut kept = title.clone();
            kept.remove(rng.below(kept.len()));
            texts.push(kept.join(" "));
        } else if !title.is_empty() {
            texts.push(title.join(" "));
        }
        let pool_text = format!(
            "{} {} {} {}",
            entry.title,
            entry.symptoms.join(" "),
            entry.description,
            entry.solution_text()
        );
        let mut pool = content_words(&pool_text);
        pool.sort_unstable();
        pool.dedup();
        let mut bags = Vec::new();
        for (keep, noise) in BAGS {
            if let Some(mut b) = bag(&mut rng, &pool, keep) {
                // Words of another entry, as a long message mixes in other matters.
                if n > 1 && noise > 0 {
                    let other = &entries[(ord as usize + 1 + rng.below(n - 1)) % n];
                    let other_text = format!("{} {}", other.title, other.description);
                    if let Some(extra) = bag(&mut rng, &content_words(&other_text), noise) {
                        b = format!("{b} {extra}");
                    }
                }
                bags.push(b);
            }
        }
        let mut symptoms: Vec<&String> = entry.symptoms.iter().collect();
        while symptoms.len() > 2 {
            symptoms.swap_remove(rng.below(symptoms.len()));
        }
        let body_text = format!("{} {}", entry.description, entry.cause);
        let body = words(&body_text);
        let steps_text = entry.solution_text();
        let steps = words(&steps_text);
        let windows: Vec<String> = [
            window(&mut rng, &body, 6, 12),
            window(&mut rng, &body, 5, 9),
            window(&mut rng, &steps, 6, 10),
        ]
        .into_iter()
        .flatten()
        .collect();
        // Interleave the kinds so a small per-entry share still gets each kind.
        let mut kinds = [
            bags.into_iter(),
            symptoms
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
                .into_iter(),
            windows.into_iter(),
        ];
        while texts.len() < per_entry {
            let before = texts.len();
            for kind in kinds.iter_mut() {
                if let Some(t) = kind.next() {
                    texts.push(t);
                }
            }
            if texts.len() == before {
                break;
            }
        }
        texts.truncate(per_entry);
        texts.dedup();
        for (i, text) in texts.into_iter().enumerate() {
            let held_out = (k + i) % 3 == 0 && n > 1;
            out.push(CalibrationQuery {
                text,
                answers: vec![ord],
                exclude: held_out.then_some(ord),
                labelled: false,
            });
        }
    }
    out
}

/// Entries that answer the same question as another (same title once normalised): a
/// hit on a duplicate of the query's entry is not a wrong answer.
fn duplicates(entries: &[KbEntry]) -> HashMap<u32, Vec<u32>> {
    let mut by_title: HashMap<String, Vec<u32>> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        let key: String = e
            .title
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        by_title.entry(key).or_default().push(i as u32);
    }
    let mut out = HashMap::new();
    for group in by_title.into_values().filter(|g| g.len() > 1) {
        for &i in &group {
            out.insert(i, group.clone());
        }
    }
    out
}

/// Searches every query and keeps its top hits with their evidence and whether each
/// answers the query.
pub fn collect_hits(
    generation: &Generation,
    embedder: &dyn Embedder,
    fusion: &FusionConfig,
    queries: &[CalibrationQuery],
) -> Result<Vec<CalibrationHit>> {
    let dups = duplicates(&generation.entries);
    let mut out = Vec::new();
    for (b, batch) in queries.chunks(32).enumerate() {
        let cleaned: Vec<String> = batch
            .iter()
            .map(|q| super::query::clean_query(&q.text))
            .collect();
        let refs: Vec<&str> = cleaned.iter().map(String::as_str).collect();
        let vectors = if generation.vectors.is_empty() {
            vec![Vec::new(); refs.len()]
        } else {
            embedder.embed_queries(&refs)?
        };
        for (i, ((q, text), vector)) in batch.iter().zip(&cleaned).zip(&vectors).enumerate() {
            let analysed = hybrid::analyse(generation, &q.text, None);
            let hits = hybrid::search(
                generation,
                &HybridQuery {
                    text,
                    lang: analysed.lang,
                    codes: &analysed.codes,
                    models: analysed.models.as_deref(),
                    bm25: true,
                    vector: (!vector.is_empty()).then_some(vector.as_slice()),
                    candidates: fusion.candidates,
                    exclude: q.exclude,
                },
                fusion,
            )?;
            let answers = |ord: u32| {
                q.exclude != Some(ord)
                    && q.answers
                        .iter()
                        .any(|&a| a == ord || dups.get(&a).is_some_and(|g| g.contains(&ord)))
            };
            let weight = if q.labelled { LABELLED_WEIGHT } else { 1.0 };
            for (rank, hit) in hits.iter().take(SAMPLED_HITS).enumerate() {
                out.push(CalibrationHit {
                    query: b * 32 + i,
                    rank,
                    sample: Sample {
                        x: hit.features.as_array(),
                        y: answers(hit.ord),
                        weight,
                    },
                    bm25: hit.bm25_score,
                    cosine: hit.cosine,
                });
            }
        }
    }
    Ok(out)
}

fn median(mut values: Vec<f32>) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f32::total_cmp);
    Some(values[values.len() / 2])
}

/// The KB's score scales (see `RelevanceModel`): a typical first hit of the covered
/// pseudo-queries, and a typical fifth hit for the low end of the cosines.
fn scales(hits: &[CalibrationHit], covered: &[bool]) -> (f32, f32, f32) {
    let d = RelevanceModel::default();
    let firsts = || {
        hits.iter()
            .filter(|h| h.rank == 0 && covered.get(h.query).copied().unwrap_or(false))
    };
    let bm25_scale = median(firsts().filter_map(|h| h.bm25).collect())
        .filter(|s| *s > 0.0)
        .unwrap_or(d.bm25_scale);
    let high = median(firsts().filter_map(|h| h.cosine).collect());
    let low = median(
        hits.iter()
            .filter(|h| h.rank == SAMPLED_HITS - 1)
            .filter_map(|h| h.cosine)
            .collect(),
    );
    match (low, high) {
        (Some(l), Some(h)) if h - l > 0.01 => (bm25_scale, l, h),
        _ => (bm25_scale, d.cosine_low, d.cosine_high),
    }
}

/// The hits' samples with their scores normalised by `model`'s scales.
fn normalised(model: &RelevanceModel, hits: &[CalibrationHit]) -> Vec<CalibrationHit> {
    hits.iter()
        .map(|h| {
            let mut h = *h;
            let (b, c) = model.normalised(h.bm25, h.cosine);
            h.sample.x[FEATURES - 2] = b;
            h.sample.x[FEATURES - 1] = c;
            h
        })
        .collect()
}

/// Weighted logistic regression by batch gradient descent with a small L2 penalty
/// (the features lie in [0, 1], so they need no scaling).
pub fn fit(samples: &[Sample]) -> RelevanceModel {
    let mut w = [0.0f64; FEATURES];
    let mut b = 0.0f64;
    let total: f64 = samples
        .iter()
        .map(|s| s.weight as f64)
        .sum::<f64>()
        .max(1e-9);
    let (rate, l2) = (1.0, 1e-3);
    for _ in 0..3000 {
        let mut gw = [0.0f64; FEATURES];
        let mut gb = 0.0;
        for s in samples {
            let z = b + w
                .iter()
                .zip(&s.x)
                .map(|(wi, xi)| wi * *xi as f64)
                .sum::<f64>();
            let p = 1.0 / (1.0 + (-z).exp());
            let err = (p - if s.y { 1.0 } else { 0.0 }) * s.weight as f64;
            gb += err;
            for (g, xi) in gw.iter_mut().zip(&s.x) {
                *g += err * *xi as f64;
            }
        }
        b -= rate * gb / total;
        for (wi, g) in w.iter_mut().zip(gw) {
            *wi -= rate * (g / total + l2 * *wi);
        }
    }
    RelevanceModel {
        bias: b as f32,
        weights: w.map(|x| x as f32),
        ..RelevanceModel::default()
    }
}

/// Expected calibration error over ten buckets of predicted relevance.
pub fn calibration_error(model: &RelevanceModel, samples: &[Sample]) -> f32 {
    let mut buckets = [(0.0f64, 0.0f64, 0.0f64); 10];
    for s in samples {
        let p = model.relevance_of(&s.x) as f64;
        let b = &mut buckets[((p * 10.0) as usize).min(9)];
        b.0 += p * s.weight as f64;
        b.1 += if s.y { s.weight as f64 } else { 0.0 };
        b.2 += s.weight as f64;
    }
    let total: f64 = buckets.iter().map(|b| b.2).sum::<f64>().max(1e-9);
    buckets
        .iter()
        .filter(|b| b.2 > 0.0)
        .map(|b| (b.0 - b.1).abs() / total)
        .sum::<f64>() as f32
}

/// Precision and share answered of the best hits at thresholds 0.00 ... 1.00, over
/// `queries` queries (a query without hits is never answered).
pub fn curve(model: &RelevanceModel, hits: &[CalibrationHit], queries: usize) -> Vec<CurvePoint> {
    let scored: Vec<(f32, bool)> = hits
        .iter()
        .filter(|h| h.rank == 0)
        .map(|h| (model.relevance_of(&h.sample.x), h.sample.y))
        .collect();
    let n = queries.max(1) as f32;
    (0..=100)
        .map(|i| {
            let t = i as f32 / 100.0;
            let answered: Vec<bool> = scored
                .iter()
                .filter(|(p, _)| *p >= t)
                .map(|(_, y)| *y)
                .collect();
            let right = answered.iter().filter(|y| **y).count();
            CurvePoint {
                threshold: t,
                precision: if answered.is_empty() {
                    1.0
                } else {
                    right as f32 / answered.len() as f32
                },
                answered: answered.len() as f32 / n,
            }
        })
        .collect()
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
                    "{KB_MODEL_FILE} was fitted for other features and is ignored; run `devicekb eval --calibrate` again"
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
        curve: curve(&model, &hits, queries.len()),
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
    use crate::kb::{Category, Lang};

    fn entry(id: &str, title: &str, description: &str) -> KbEntry {
        KbEntry {
            id: id.into(),
            title: title.into(),
            lang: Lang::Fr,
            manufacturer: String::new(),
            models: vec![],
            category: Category::General,
            error_codes: vec![],
            symptoms: vec![],
            description: description.into(),
            cause: String::new(),
            solution: String::new(),
            steps: vec!["faire ceci".into()],
            tags: vec![],
            source: "s".into(),
        }
    }

    #[test]
    fn pseudo_queries_are_deterministic_and_hold_some_out() {
        let entries: Vec<KbEntry> = (0..10)
            .map(|i| {
                entry(
                    &format!("e{i}"),
                    &format!("Problème numéro {i} de la machine à café"),
                    "La machine ne chauffe plus l'eau depuis ce matin malgré le voyant allumé",
                )
            })
            .collect();
        let a = pseudo_queries(&entries, 1000);
        assert_eq!(a, pseudo_queries(&entries, 1000));
        assert!(a.len() >= 20);
        let held = a.iter().filter(|q| q.exclude.is_some()).count();
        assert!(
            held * 5 > a.len() && held * 2 < a.len(),
            "{held} of {}",
            a.len()
        );
        assert!(a.iter().all(|q| !q.text.trim().is_empty()));
        // A budget smaller than four per entry samples entries evenly.
        let small = pseudo_queries(&entries, 8);
        let sources: std::collections::HashSet<u32> = small.iter().map(|q| q.answers[0]).collect();
        assert_eq!(sources.len(), 2);
    }

    #[test]
    fn one_entry_kb_holds_nothing_out() {
        let entries = vec![entry("seul", "Le seul problème connu", "Une description")];
        assert!(pseudo_queries(&entries, 100)
            .iter()
            .all(|q| q.exclude.is_none()));
    }

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
            },
            CurvePoint {
                threshold: 0.6,
                precision: 0.96,
                answered: 0.5,
            },
            CurvePoint {
                threshold: 0.9,
                precision: 1.0,
                answered: 0.01,
            },
        ];
        assert_eq!(c.threshold_for(0.95), Some(0.6));
        assert_eq!(c.threshold_for(0.99), None);
    }

    #[test]
    fn weighted_fit_separates_classes() {
        let samples: Vec<Sample> = (0..200)
            .map(|i| {
                let v = (i % 10) as f32 / 10.0;
                let mut x = [0.0; FEATURES];
                x[0] = v;
                x[1] = v;
                Sample {
                    x,
                    y: v > 0.5,
                    weight: 1.0,
                }
            })
            .collect();
        let model = fit(&samples);
        let at = |v: f32| {
            let mut x = [0.0; FEATURES];
            x[0] = v;
            x[1] = v;
            model.relevance_of(&x)
        };
        assert!(at(0.9) > 0.8 && at(0.1) < 0.2);
        assert!(calibration_error(&model, &samples) < 0.1);
    }
}
