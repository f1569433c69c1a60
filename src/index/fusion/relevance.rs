//! The relevance of a fused hit: the evidence it is read from (`RelevanceFeatures`, each
//! in [0, 1] and free of the KB's score scale) and the logistic model over it that each
//! generation fits for its own KB (`RelevanceModel`, see `calibrate`).

use serde::{Deserialize, Serialize};

/// Logistic calibration: relevance = σ(bias + Σ wᵢ·xᵢ) over `RelevanceFeatures`.
/// Each generation fits its own (`calibration`); `Default` is the conservative fallback.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RelevanceModel {
    pub bias: f32,
    pub weights: [f32; FEATURES],
    /// The KB's score scales: a BM25 score equal to `bm25_scale` (a typical first hit
    /// of the calibration queries) counts 0.5, and cosines map `cosine_low..cosine_high`
    /// (a far hit and a typical first hit) to 0..1. Raw scores mean nothing across KBs;
    /// against the KB's own distribution they do.
    pub bm25_scale: f32,
    pub cosine_low: f32,
    pub cosine_high: f32,
}

pub const FEATURES: usize = 11;

/// Where the two scale-dependent features sit in `as_array`: the calibration sets them
/// again once it has measured the KB's scales, by these indices (a feature added after
/// them must not take their place).
pub const BM25_SCORE_FEATURE: usize = 9;
pub const COSINE_FEATURE: usize = 10;

/// Names of the features, in `as_array` order, for reports.
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "1/rank",
    "margin",
    "agreement",
    "bm25 1/rank",
    "bm25 relative",
    "bm25 lead",
    "vector 1/rank",
    "cosine lead",
    "code match",
    "bm25 score",
    "cosine",
];

impl Default for RelevanceModel {
    /// Set by hand, not fitted: only a first place that both retrievers rank first, well
    /// ahead of the next entry, reaches 0.9. Used when a KB cannot support a fit.
    fn default() -> Self {
        RelevanceModel {
            bias: -8.0,
            weights: [2.0, 2.0, 1.5, 1.0, 0.5, 1.5, 1.0, 2.0, 1.0, 1.0, 1.0],
            bm25_scale: 10.0,
            cosine_low: 0.75,
            cosine_high: 1.0,
        }
    }
}

/// Evidence about one hit, each in [0, 1]. The first eight compare the hit with the
/// other hits of the same query; `code_match` ties it to the codes the query names; the
/// last two compare its scores with the KB's own
/// distribution (`RelevanceModel`'s scales). None depends on the scale of a KB's scores.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RelevanceFeatures {
    /// 1 / rank in the fused list.
    pub inverse_rank: f32,
    /// For the first hit only: its lead over the second, relative to its own lead over
    /// an entry no retriever returned.
    pub margin: f32,
    /// 1 when both retrievers found the hit.
    pub agreement: f32,
    /// 1 / BM25 rank (0 when BM25 did not find it).
    pub bm25_inverse_rank: f32,
    /// BM25 score over the query's best BM25 score.
    pub bm25_relative: f32,
    /// For BM25's first hit only: (s1 - s2) / s1.
    pub bm25_lead: f32,
    /// 1 / vector rank (0 when the vector search did not find it).
    pub vector_inverse_rank: f32,
    /// For the vector search's first hit only: its lead over the second, relative to
    /// the spread between the first and the median candidate.
    pub cosine_lead: f32,
    /// 1 when an error code read in the query is one of the entry's codes (set by the
    /// search, which knows both).
    pub code_match: f32,
    /// BM25 score against the KB's scale: s / (s + scale).
    pub bm25_score: f32,
    /// Cosine against the KB's range, clamped to [0, 1].
    pub cosine: f32,
}

impl RelevanceFeatures {
    pub fn as_array(&self) -> [f32; FEATURES] {
        [
            self.inverse_rank,
            self.margin,
            self.agreement,
            self.bm25_inverse_rank,
            self.bm25_relative,
            self.bm25_lead,
            self.vector_inverse_rank,
            self.cosine_lead,
            self.code_match,
            self.bm25_score,
            self.cosine,
        ]
    }
}

impl RelevanceModel {
    /// This model's weights with `other`'s score scales.
    pub fn with_scales_of(self, other: &RelevanceModel) -> RelevanceModel {
        RelevanceModel {
            bm25_scale: other.bm25_scale,
            cosine_low: other.cosine_low,
            cosine_high: other.cosine_high,
            ..self
        }
    }

    /// A hit's BM25 score and cosine against the KB's scales (0 when absent).
    pub fn normalised(&self, bm25: Option<f32>, cosine: Option<f32>) -> (f32, f32) {
        let b = bm25.map_or(0.0, |s| {
            s.max(0.0) / (s.max(0.0) + self.bm25_scale.max(1e-6))
        });
        let spread = (self.cosine_high - self.cosine_low).max(1e-6);
        let c = cosine.map_or(0.0, |c| ((c - self.cosine_low) / spread).clamp(0.0, 1.0));
        (b, c)
    }

    pub fn relevance(&self, f: &RelevanceFeatures) -> f32 {
        self.relevance_of(&f.as_array())
    }

    pub fn relevance_of(&self, x: &[f32; FEATURES]) -> f32 {
        let z = self.bias + self.weights.iter().zip(x).map(|(w, x)| w * x).sum::<f32>();
        1.0 / (1.0 + (-z).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_features_sit_where_the_calibration_sets_them() {
        assert_eq!(FEATURE_NAMES[BM25_SCORE_FEATURE], "bm25 score");
        assert_eq!(FEATURE_NAMES[COSINE_FEATURE], "cosine");
        let features = RelevanceFeatures {
            bm25_score: 0.25,
            cosine: 0.75,
            ..RelevanceFeatures::default()
        };
        let x = features.as_array();
        assert_eq!((x[BM25_SCORE_FEATURE], x[COSINE_FEATURE]), (0.25, 0.75));
    }
}
