//! Hybrid fusion and calibrated relevance.
//!
//! BM25 scores are unbounded and grow with the vocabulary; e5 cosines are compressed
//! near 1. Neither means anything across queries, but within one query each list's
//! spread does: fusion standardises each retriever's scores over its own candidates
//! (how many standard deviations above the query's mean candidate) and adds them,
//! weighted. Unlike reciprocal rank fusion, which it replaced as the default, a first
//! place far ahead of the rest then counts for more than a first place in a close field.
//! Measured on the bundled KB and on two KBs written apart from the product (six ticket
//! sets): recall@1 0.604 → 0.625, recall@3 0.801 → 0.827, nDCG@10 0.769 → 0.784 on
//! average; reciprocal rank fusion stays selectable (`FusionMethod::Rrf`).
//!
//! Each fused hit then gets a *relevance*: the probability that it answers the query,
//! from a logistic model over the hit's evidence that each generation fits for its own
//! KB (see `calibration`). Later steps threshold that number, never raw scores.

mod relevance;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use relevance::{
    RelevanceFeatures, RelevanceModel, BM25_SCORE_FEATURE, COSINE_FEATURE, FEATURES, FEATURE_NAMES,
};

/// How the retrievers' lists become one ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FusionMethod {
    /// Each retriever's scores standardised over its own candidates, then added with
    /// the retrievers' weights.
    #[default]
    Zscore,
    /// Weighted reciprocal rank fusion: each list counts `weight / (rrf_k + rank)`.
    Rrf,
}

impl FusionMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            FusionMethod::Zscore => "zscore",
            FusionMethod::Rrf => "rrf",
        }
    }
}

impl std::str::FromStr for FusionMethod {
    type Err = String;

    fn from_str(value: &str) -> Result<FusionMethod, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "zscore" | "z-score" => Ok(FusionMethod::Zscore),
            "rrf" => Ok(FusionMethod::Rrf),
            other => Err(format!("unknown fusion method `{other}` (zscore or rrf)")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusionConfig {
    pub method: FusionMethod,
    /// RRF constant (`FusionMethod::Rrf` only): larger flattens the first ranks.
    pub rrf_k: f32,
    pub bm25_weight: f32,
    pub vector_weight: f32,
    /// How many candidates each retriever contributes before fusion.
    pub candidates: usize,
    /// Weight of the exact-code vote: an entry carrying an error code the extractor read
    /// in the query counts as ranked first by a third retriever of this weight. The
    /// embedding knows nothing of codes, and "88" is the one word of a ticket that names
    /// its entry.
    pub code_weight: f32,
}

impl FusionConfig {
    /// The defaults of `method`: standardised scores weigh BM25 0.4 and the vector search
    /// 0.6 (see `Default`); rank fusion weighs them alike, as the releases before did.
    pub fn for_method(method: FusionMethod) -> FusionConfig {
        let (bm25_weight, vector_weight) = match method {
            FusionMethod::Zscore => (0.4, 0.6),
            FusionMethod::Rrf => (1.0, 1.0),
        };
        FusionConfig {
            method,
            rrf_k: 60.0,
            bm25_weight,
            vector_weight,
            candidates: 50,
            code_weight: 1.0,
        }
    }
}

impl Default for FusionConfig {
    /// The vector search weighs 0.6 against BM25's 0.4: paraphrases, which only the
    /// embedding matches, are most of what customers write (measured over 0.3-0.5 for
    /// BM25: 0.4-0.45 best on average, no set moving by more than 0.03 recall@1 between
    /// them). The code vote lifts an entry from last to first (see `fuse`).
    fn default() -> Self {
        FusionConfig::for_method(FusionMethod::Zscore)
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
    /// A message like this one found the entry unhelpful: closer to such a message than to
    /// anything that says the entry answers it (see `Generation::unhelpful`).
    pub unhelpful_before: bool,
}

/// Fuses ranked lists (best first). Either list may be empty (single-mode search):
/// the result is then that list's order. `code_matches` are the entries carrying an
/// error code read in the query: among the hits, they get the code vote
/// (`FusionConfig::code_weight`) and their `code_match` feature.
pub fn fuse(
    bm25: &[(u32, f32)],
    vector: &[(u32, f32)],
    code_matches: &[u32],
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
        unhelpful_before: false,
    };
    for (i, &(ord, score)) in bm25.iter().enumerate() {
        let hit = by_ord.entry(ord).or_insert_with(|| blank(ord));
        hit.bm25_rank = Some(i + 1);
        hit.bm25_score = Some(score);
    }
    for (i, &(ord, cos)) in vector.iter().enumerate() {
        let hit = by_ord.entry(ord).or_insert_with(|| blank(ord));
        hit.vector_rank = Some(i + 1);
        hit.cosine = Some(cos);
    }
    // The score of an entry no retriever returned: the first hit's margin is its lead
    // over the second relative to its lead over this floor (every hit scores at least it).
    let floor = match config.method {
        FusionMethod::Rrf => {
            let vote = |weight: f32, rank: usize| weight / (config.rrf_k + rank as f32);
            for hit in by_ord.values_mut() {
                hit.fused_score = hit.bm25_rank.map_or(0.0, |r| vote(config.bm25_weight, r))
                    + hit
                        .vector_rank
                        .map_or(0.0, |r| vote(config.vector_weight, r));
                if code_matches.contains(&hit.ord) {
                    hit.fused_score += vote(config.code_weight, 1);
                }
            }
            0.0
        }
        FusionMethod::Zscore => {
            let bm25_z = Standardised::of(bm25);
            let vector_z = Standardised::of(vector);
            // The code vote at weight 1 lifts an entry from last to first in every list:
            // as with rank fusion, an entry carrying the code wins unless it is
            // contradicted everywhere.
            let code_vote = config.code_weight
                * (config.bm25_weight * bm25_z.span + config.vector_weight * vector_z.span);
            for hit in by_ord.values_mut() {
                hit.fused_score = config.bm25_weight * bm25_z.of_hit(hit.bm25_score)
                    + config.vector_weight * vector_z.of_hit(hit.cosine);
                if code_matches.contains(&hit.ord) {
                    hit.fused_score += code_vote;
                }
            }
            config.bm25_weight * bm25_z.absent + config.vector_weight * vector_z.absent
        }
    };
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
    // Standardised over two or three candidates, any gap is the whole spread: so few hits
    // (a filter leaving a handful of entries) show no lead. (Rank fusion's margin was
    // near 0 there anyway: ranks 1 and 2 score almost alike.)
    let min_hits_for_margin = match config.method {
        FusionMethod::Rrf => 2,
        FusionMethod::Zscore => 4,
    };
    let both = !bm25.is_empty() && !vector.is_empty();
    let bm25_top = bm25.first().map_or(0.0, |h| h.1);
    // A lone candidate leads nobody: a filter left it alone, which says nothing of it.
    let bm25_lead = match bm25 {
        [] | [_] => 0.0,
        [first, second, ..] if first.1 > 0.0 => ((first.1 - second.1) / first.1).clamp(0.0, 1.0),
        _ => 0.0,
    };
    let cosine_lead = match vector {
        [] | [_] => 0.0,
        [first, second, ..] => {
            let median = vector[vector.len() / 2].1;
            let spread = first.1 - median;
            if spread > 1e-6 {
                ((first.1 - second.1) / spread).clamp(0.0, 1.0)
            } else {
                0.0
            }
        }
    };
    let n = hits.len();
    for i in 0..n {
        let next = if i + 1 < n {
            hits[i + 1].fused_score
        } else {
            0.0
        };
        let hit = &mut hits[i];
        let inverse = |rank: Option<usize>| rank.map_or(0.0, |r| 1.0 / r as f32);
        hit.features = RelevanceFeatures {
            inverse_rank: 1.0 / (i + 1) as f32,
            // A lone hit leads nobody: no successor is no evidence of a lead.
            margin: if i == 0 && n >= min_hits_for_margin && hit.fused_score > floor {
                ((hit.fused_score - next) / (hit.fused_score - floor)).clamp(0.0, 1.0)
            } else {
                0.0
            },
            agreement: if both && hit.bm25_rank.is_some() && hit.vector_rank.is_some() {
                1.0
            } else {
                0.0
            },
            bm25_inverse_rank: inverse(hit.bm25_rank),
            bm25_relative: match hit.bm25_score {
                Some(s) if bm25_top > 0.0 => (s / bm25_top).clamp(0.0, 1.0),
                _ => 0.0,
            },
            bm25_lead: if hit.bm25_rank == Some(1) {
                bm25_lead
            } else {
                0.0
            },
            vector_inverse_rank: inverse(hit.vector_rank),
            cosine_lead: if hit.vector_rank == Some(1) {
                cosine_lead
            } else {
                0.0
            },
            code_match: if code_matches.contains(&hit.ord) {
                1.0
            } else {
                0.0
            },
            bm25_score: 0.0,
            cosine: 0.0,
        };
        (hit.features.bm25_score, hit.features.cosine) =
            model.normalised(hit.bm25_score, hit.cosine);
        hit.relevance = model.relevance(&hit.features);
    }
    hits
}

/// One retriever's scores standardised over its candidates: (score − mean) / deviation.
/// An entry the retriever did not return counts as its worst candidate, so a long
/// list's tail and absence weigh alike. When the scores do not spread (one candidate,
/// or all equal) a candidate counts 0 and an absent entry −1: found beats not found.
struct Standardised {
    mean: f32,
    deviation: f32,
    /// The value of an entry the retriever did not return.
    absent: f32,
    /// From an absent entry to the first candidate (0 when the retriever did not run).
    span: f32,
}

impl Standardised {
    fn of(list: &[(u32, f32)]) -> Standardised {
        let n = list.len().max(1) as f32;
        let mean = list.iter().map(|h| h.1).sum::<f32>() / n;
        let variance = list.iter().map(|h| (h.1 - mean).powi(2)).sum::<f32>() / n;
        let deviation = variance.sqrt();
        let mut z = Standardised {
            mean,
            deviation,
            absent: 0.0,
            span: 0.0,
        };
        if list.is_empty() {
            // A retriever that did not run (single-mode search) says nothing of anyone.
            return z;
        }
        let worst = list.iter().map(|h| h.1).fold(f32::INFINITY, f32::min);
        z.absent = if deviation > 1e-6 {
            z.value(worst)
        } else {
            -1.0
        };
        z.span = z.value(list[0].1) - z.absent;
        z
    }

    fn value(&self, score: f32) -> f32 {
        if self.deviation > 1e-6 {
            (score - self.mean) / self.deviation
        } else {
            0.0
        }
    }

    fn of_hit(&self, score: Option<f32>) -> f32 {
        score.map_or(self.absent, |s| self.value(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rrf() -> FusionConfig {
        FusionConfig::for_method(FusionMethod::Rrf)
    }

    fn order(hits: &[FusedHit]) -> Vec<u32> {
        hits.iter().map(|h| h.ord).collect()
    }

    fn fused(bm25: &[(u32, f32)], vector: &[(u32, f32)], config: &FusionConfig) -> Vec<FusedHit> {
        fuse(bm25, vector, &[], config, &RelevanceModel::default())
    }

    #[test]
    fn rank_fusion_rewards_agreement_over_a_single_first_place() {
        let hits = fused(&[(1, 12.0), (2, 8.0)], &[(3, 0.95), (2, 0.94)], &rrf());
        assert_eq!(hits[0].ord, 2);
        assert_eq!(hits[0].features.agreement, 1.0);
        assert_eq!(hits.len(), 3);
    }

    /// BM25 puts entry 1 far ahead of a flat field; the vector search has 2 a hair
    /// ahead of 1. Ranks alone cannot tell these apart; standardised scores can.
    #[test]
    fn a_clear_lead_outweighs_a_close_call() {
        let bm25 = [(1, 30.0), (2, 10.0), (3, 9.0), (4, 8.0), (5, 7.0)];
        let vector = [(2, 0.901), (1, 0.900), (3, 0.899), (4, 0.898), (5, 0.897)];
        let weighted = FusionConfig {
            method: FusionMethod::Rrf,
            ..FusionConfig::default()
        };
        assert_eq!(fused(&bm25, &vector, &weighted)[0].ord, 2);
        let hits = fused(&bm25, &vector, &FusionConfig::default());
        assert_eq!(order(&hits)[..2], [1, 2]);
        assert!(hits[0].features.margin > 0.0 && hits[0].features.margin <= 1.0);
    }

    /// A filter that leaves two or three entries does not make a hair's lead look
    /// decisive; in a longer even field the first place's margin stays small.
    #[test]
    fn a_small_lead_in_a_short_list_is_a_small_margin() {
        for n in [2u32, 3, 8] {
            let bm25: Vec<(u32, f32)> = (0..n).map(|i| (i, 10.0 - i as f32 * 0.01)).collect();
            let vector: Vec<(u32, f32)> = (0..n).map(|i| (i, 0.9 - i as f32 * 0.0001)).collect();
            let hits = fused(&bm25, &vector, &FusionConfig::default());
            let margin = hits[0].features.margin;
            let most = if n < 4 { 0.0 } else { 0.3 };
            assert!((0.0..=most).contains(&margin), "{n} hits: margin {margin}");
        }
        // Equal scores everywhere: no lead, and nothing undefined.
        let flat = fused(
            &[(1, 5.0), (2, 5.0)],
            &[(1, 0.9), (2, 0.9)],
            &FusionConfig::default(),
        );
        assert_eq!(flat[0].features.margin, 0.0);
        assert!(flat.iter().all(|h| h.relevance.is_finite()));
    }

    #[test]
    fn an_entry_found_beats_one_not_found() {
        // Lists of one candidate do not spread: found counts 0, not found -1.
        let hits = fused(
            &[(1, 12.0)],
            &[(1, 0.9), (2, 0.9)],
            &FusionConfig::default(),
        );
        assert_eq!(order(&hits), vec![1, 2]);
        assert!(hits.iter().all(|h| h.fused_score.is_finite()));
    }

    #[test]
    fn single_list_keeps_its_order_and_relevance_decreases() {
        for config in [FusionConfig::default(), rrf()] {
            let hits = fused(&[(5, 20.0), (6, 3.0), (7, 1.0)], &[], &config);
            assert_eq!(order(&hits), vec![5, 6, 7]);
            assert!(hits[0].relevance > hits[1].relevance && hits[1].relevance > hits[2].relevance);
            assert!(hits.iter().all(|h| (0.0..=1.0).contains(&h.relevance)));
        }
        assert!(fused(&[], &[], &FusionConfig::default()).is_empty());
    }

    #[test]
    fn weights_shift_the_order() {
        let bm25 = [(1, 12.0), (2, 2.0)];
        let vector = [(2, 0.95), (1, 0.90)];
        for method in [FusionMethod::Zscore, FusionMethod::Rrf] {
            let weighted = |bm25_weight, vector_weight| FusionConfig {
                method,
                bm25_weight,
                vector_weight,
                ..FusionConfig::default()
            };
            assert_eq!(fused(&bm25, &vector, &weighted(2.0, 1.0))[0].ord, 1);
            assert_eq!(fused(&bm25, &vector, &weighted(1.0, 2.0))[0].ord, 2);
        }
    }

    #[test]
    fn an_entry_with_the_query_code_wins_a_close_call() {
        // Entry 1 is BM25's second (it carries the code); both retrievers prefer 2.
        let bm25 = [(2, 12.0), (1, 11.0), (4, 3.0)];
        let vector = [(2, 0.90), (1, 0.89), (3, 0.70)];
        for cfg in [FusionConfig::default(), rrf()] {
            let plain = fuse(&bm25, &vector, &[], &cfg, &RelevanceModel::default());
            assert_eq!(plain[0].ord, 2);
            let hits = fuse(&bm25, &vector, &[1], &cfg, &RelevanceModel::default());
            assert_eq!(hits[0].ord, 1, "{cfg:?}");
            assert_eq!(hits[0].features.code_match, 1.0);
            assert_eq!(hits[1].features.code_match, 0.0);
        }
    }

    #[test]
    fn methods_parse_from_their_names() {
        for method in [FusionMethod::Zscore, FusionMethod::Rrf] {
            assert_eq!(method.as_str().parse(), Ok(method));
        }
        assert!("combsum".parse::<FusionMethod>().is_err());
    }
}
