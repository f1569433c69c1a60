//! Calibration queries searched like tickets: their hits, their evidence, whether each
//! answers, and the KB's score scales read off them.

use std::collections::HashMap;

use super::{CalibrationQuery, LABELLED_WEIGHT, SAMPLED_HITS};
use crate::embed::Embedder;
use crate::error::Result;
use crate::index::fusion::{
    FusionConfig, RelevanceModel, BM25_SCORE_FEATURE, COSINE_FEATURE, FEATURES,
};
use crate::index::generation::Generation;
use crate::index::hybrid::{self, HybridQuery};
use crate::kb::KbEntry;

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

/// Entries that answer the same question as another (same title once normalised): a
/// hit on a duplicate of the query's entry is not a wrong answer.
pub(super) fn duplicates(entries: &[KbEntry]) -> HashMap<u32, Vec<u32>> {
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

/// Whether the hit `ord` answers a query answered by `answers` (or a duplicate of one),
/// searched without `exclude`.
pub(super) fn is_answer(
    dups: &HashMap<u32, Vec<u32>>,
    answers: &[u32],
    exclude: Option<u32>,
    ord: u32,
) -> bool {
    exclude != Some(ord)
        && answers
            .iter()
            .any(|&a| a == ord || dups.get(&a).is_some_and(|g| g.contains(&ord)))
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
    // A KB's messages in its other language repeat their words: each embedded once.
    let mut word_vectors: HashMap<String, Vec<f32>> = HashMap::new();
    let mut out = Vec::new();
    for (b, batch) in queries.chunks(32).enumerate() {
        let cleaned: Vec<String> = batch
            .iter()
            .map(|q| crate::index::query::clean_query(&q.text))
            .collect();
        let refs: Vec<&str> = cleaned.iter().map(String::as_str).collect();
        let vectors = if generation.vectors.is_empty() {
            vec![Vec::new(); refs.len()]
        } else {
            embedder.embed_queries(&refs)?
        };
        for (i, ((q, text), vector)) in batch.iter().zip(&cleaned).zip(&vectors).enumerate() {
            let mut analysed = hybrid::analyse(generation, &q.text, None);
            hybrid::translate(generation, &mut analysed, |words| {
                words_embedded(embedder, &mut word_vectors, words)
            })?;
            let hits = hybrid::search(
                generation,
                &HybridQuery {
                    text,
                    lang: analysed.lang,
                    codes: &analysed.codes,
                    expansion: &analysed.expansion,
                    models: analysed.models.as_deref(),
                    bm25: true,
                    vector: (!vector.is_empty()).then_some(vector.as_slice()),
                    candidates: fusion.candidates,
                    exclude: q.exclude,
                    without_confirmed_of: q
                        .without_confirmed
                        .then(|| q.answers.first().copied())
                        .flatten(),
                },
                fusion,
            )?;
            let answers = |ord: u32| is_answer(&dups, &q.answers, q.exclude, ord);
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

/// The vectors of `words`, each embedded once per calibration.
fn words_embedded(
    embedder: &dyn Embedder,
    known: &mut HashMap<String, Vec<f32>>,
    words: &[&str],
) -> Result<Vec<Vec<f32>>> {
    let missing: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !known.contains_key(*w))
        .collect();
    if !missing.is_empty() {
        for (word, vector) in missing.iter().zip(embedder.embed_queries(&missing)?) {
            known.insert(word.to_string(), vector);
        }
    }
    Ok(words
        .iter()
        .map(|w| known.get(*w).cloned().unwrap_or_default())
        .collect())
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
pub(super) fn scales(hits: &[CalibrationHit], covered: &[bool]) -> (f32, f32, f32) {
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
pub(super) fn normalised(model: &RelevanceModel, hits: &[CalibrationHit]) -> Vec<CalibrationHit> {
    hits.iter()
        .map(|h| {
            let mut h = *h;
            let (b, c) = model.normalised(h.bm25, h.cosine);
            h.sample.x[BM25_SCORE_FEATURE] = b;
            h.sample.x[COSINE_FEATURE] = c;
            h
        })
        .collect()
}
