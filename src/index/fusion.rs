//! Hybrid fusion and calibrated relevance.
//!
//! Ranks are fused with weighted reciprocal rank fusion, which needs no score
//! normalisation between BM25 (unbounded) and cosine (compressed near 1 for e5).
//! Each fused hit then gets a *relevance*: the probability that it answers the query,
//! from a logistic model over the hit's evidence, fitted on the labelled query set by
//! `devicekb eval --calibrate`. Later steps threshold that number, never raw scores.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FusionConfig {
    /// RRF constant: larger flattens the contribution of the first ranks.
    pub rrf_k: f32,
    pub bm25_weight: f32,
    pub vector_weight: f32,
    /// How many candidates each retriever contributes before fusion.
    pub candidates: usize,
}

impl Default for FusionConfig {
    fn default() -> Self {
        FusionConfig {
            rrf_k: 60.0,
            bm25_weight: 1.0,
            vector_weight: 1.0,
            candidates: 50,
        }
    }
}

/// Logistic calibration: relevance = σ(bias + Σ wᵢ·xᵢ) over `RelevanceFeatures`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RelevanceModel {
    pub bias: f32,
    pub weights: [f32; FEATURES],
}

pub const FEATURES: usize = 5;

impl Default for RelevanceModel {
    /// Fitted with `devicekb eval tests/data/retrieval_queries.jsonl --calibrate` on the
    /// bundled KB and query set (hybrid top-10 hits with the default int8 model; expected
    /// calibration error 0.024 on that set). Refit after large KB changes.
    fn default() -> Self {
        RelevanceModel {
            bias: -6.349,
            weights: [2.28, 1.343, 4.836, 0.778, -0.355],
        }
    }
}

/// Evidence about one hit, each roughly in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RelevanceFeatures {
    /// BM25 score squashed: s / (s + 10).
    pub bm25: f32,
    /// Cosine rescaled from the e5 range: (cos - 0.75) / 0.25, clamped.
    pub cosine: f32,
    /// 1 / rank in the fused list.
    pub inverse_rank: f32,
    /// For the first hit only: its lead over the second, relative to its fused score.
    pub margin: f32,
    /// 1 when both retrievers found the hit.
    pub agreement: f32,
}

impl RelevanceFeatures {
    pub fn as_array(&self) -> [f32; FEATURES] {
        [
            self.bm25,
            self.cosine,
            self.inverse_rank,
            self.margin,
            self.agreement,
        ]
    }
}

impl RelevanceModel {
    pub fn relevance(&self, f: &RelevanceFeatures) -> f32 {
        let z = self.bias
            + self
                .weights
                .iter()
                .zip(f.as_array())
                .map(|(w, x)| w * x)
                .sum::<f32>();
        1.0 / (1.0 + (-z).exp())
    }
}

/// One retrieved entry with the evidence of each retriever.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FusedHit {
    pub ord: u32,
    pub fused_score: f32,
    pub bm25_rank: Option<usize>,
    pub bm25_score: Option<f32>,
    pub vector_rank: Option<usize>,
    pub cosine: Option<f32>,
    pub features: RelevanceFeatures,
    pub relevance: f32,
}

/// Fuses ranked lists (best first). Either list may be empty (single-mode search):
/// the result is then that list's order.
pub fn fuse(
    bm25: &[(u32, f32)],
    vector: &[(u32, f32)],
    config: &FusionConfig,
    model: &RelevanceModel,
) -> Vec<FusedHit> {
    let mut by_ord: HashMap<u32, FusedHit> = HashMap::new();
    let blank = |ord| FusedHit {
        ord,
        fused_score: 0.0,
        bm25_rank: None,
        bm25_score: None,
        vector_rank: None,
        cosine: None,
        features: RelevanceFeatures::default(),
        relevance: 0.0,
    };
    for (i, &(ord, score)) in bm25.iter().enumerate() {
        let hit = by_ord.entry(ord).or_insert_with(|| blank(ord));
        hit.bm25_rank = Some(i + 1);
        hit.bm25_score = Some(score);
        hit.fused_score += config.bm25_weight / (config.rrf_k + (i + 1) as f32);
    }
    for (i, &(ord, cos)) in vector.iter().enumerate() {
        let hit = by_ord.entry(ord).or_insert_with(|| blank(ord));
        hit.vector_rank = Some(i + 1);
        hit.cosine = Some(cos);
        hit.fused_score += config.vector_weight / (config.rrf_k + (i + 1) as f32);
    }
    let mut hits: Vec<FusedHit> = by_ord.into_values().collect();
    hits.sort_by(|a, b| {
        b.fused_score
            .total_cmp(&a.fused_score)
            .then_with(|| {
                b.bm25_score
                    .unwrap_or(0.0)
                    .total_cmp(&a.bm25_score.unwrap_or(0.0))
            })
            .then_with(|| b.cosine.unwrap_or(0.0).total_cmp(&a.cosine.unwrap_or(0.0)))
            .then(a.ord.cmp(&b.ord))
    });
    let both = !bm25.is_empty() && !vector.is_empty();
    let n = hits.len();
    for i in 0..n {
        let next = if i + 1 < n {
            hits[i + 1].fused_score
        } else {
            0.0
        };
        let hit = &mut hits[i];
        let bm = hit.bm25_score.unwrap_or(0.0);
        hit.features = RelevanceFeatures {
            bm25: bm / (bm + 10.0),
            cosine: hit
                .cosine
                .map(|c| ((c - 0.75) / 0.25).clamp(0.0, 1.0))
                .unwrap_or(0.0),
            inverse_rank: 1.0 / (i + 1) as f32,
            margin: if i == 0 && hit.fused_score > 0.0 {
                ((hit.fused_score - next) / hit.fused_score).clamp(0.0, 1.0)
            } else {
                0.0
            },
            agreement: if both && hit.bm25_rank.is_some() && hit.vector_rank.is_some() {
                1.0
            } else {
                0.0
            },
        };
        hit.relevance = model.relevance(&hit.features);
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_beats_a_single_first_place() {
        let bm25 = [(1, 12.0), (2, 8.0)];
        let vector = [(3, 0.95), (2, 0.94)];
        let hits = fuse(
            &bm25,
            &vector,
            &FusionConfig::default(),
            &RelevanceModel::default(),
        );
        assert_eq!(hits[0].ord, 2);
        assert_eq!(hits[0].features.agreement, 1.0);
        assert_eq!(hits.len(), 3);
    }

    #[test]
    fn single_list_keeps_its_order_and_relevance_decreases() {
        let bm25 = [(5, 20.0), (6, 3.0), (7, 1.0)];
        let hits = fuse(
            &bm25,
            &[],
            &FusionConfig::default(),
            &RelevanceModel::default(),
        );
        assert_eq!(
            hits.iter().map(|h| h.ord).collect::<Vec<_>>(),
            vec![5, 6, 7]
        );
        assert!(hits[0].relevance > hits[1].relevance && hits[1].relevance > hits[2].relevance);
        assert!(hits.iter().all(|h| (0.0..=1.0).contains(&h.relevance)));
    }

    #[test]
    fn weights_shift_the_order() {
        let bm25 = [(1, 12.0)];
        let vector = [(2, 0.95)];
        let cfg = FusionConfig {
            vector_weight: 2.0,
            ..FusionConfig::default()
        };
        let hits = fuse(&bm25, &vector, &cfg, &RelevanceModel::default());
        assert_eq!(hits[0].ord, 2);
    }
}
