//! The logistic fit, its calibration error, and the precision curve thresholds are
//! read from.

use super::samples::{CalibrationHit, Sample};
use super::{CalibrationQuery, CurvePoint, MIN_LABELLED_FOR_CURVE};
use crate::index::fusion::{RelevanceModel, FEATURES};
use crate::learn::{SoftmaxRegression, TrainOptions, Weighting};

/// The relevance model's weights and bias: a weighted logistic regression of "this hit is
/// the right entry" on the hit's features, by the engine's one trainer
/// (`learn::SoftmaxRegression` over two classes). The features lie in [0, 1], so they
/// need no scaling.
pub fn fit(samples: &[Sample]) -> RelevanceModel {
    let x: Vec<[f32; FEATURES]> = samples.iter().map(|s| s.x).collect();
    let y: Vec<usize> = samples.iter().map(|s| usize::from(s.y)).collect();
    let weights: Vec<f32> = samples.iter().map(|s| s.weight).collect();
    let model = SoftmaxRegression::train(
        vec!["wrong".into(), "right".into()],
        &x,
        &y,
        Weighting::PerRow(&weights),
        TrainOptions {
            epochs: FIT_EPOCHS,
            learning_rate: 0.05,
            // The logit's own penalty is half this (see `binary_logit`): 1e-3.
            l2: 2e-3,
        },
    );
    let (logit, bias) = model
        .binary_logit()
        .expect("a model of two classes has a logit");
    let mut weights = [0.0f32; FEATURES];
    weights.copy_from_slice(&logit);
    RelevanceModel {
        bias,
        weights,
        ..RelevanceModel::default()
    }
}

/// Passes over the calibration hits: a dozen features and a few thousand hits converge
/// well before, in a few milliseconds a pass.
const FIT_EPOCHS: usize = 1500;

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

/// Precision and share answered of the best hits at thresholds 0.00 ... 1.00. Each query
/// counts with its weight (a query without hits is never answered).
pub fn curve(model: &RelevanceModel, hits: &[CalibrationHit], weights: &[f32]) -> Vec<CurvePoint> {
    let scored: Vec<(f32, bool, f32)> = hits
        .iter()
        .filter(|h| h.rank == 0)
        .map(|h| {
            let w = weights.get(h.query).copied().unwrap_or(0.0);
            (model.relevance_of(&h.sample.x), h.sample.y, w)
        })
        .collect();
    let total: f32 = weights.iter().sum::<f32>().max(1e-9);
    (0..=100)
        .map(|i| {
            let t = i as f32 / 100.0;
            let (mut answered, mut right) = (0.0f32, 0.0f32);
            for (p, y, w) in &scored {
                if *p >= t {
                    answered += w;
                    if *y {
                        right += w;
                    }
                }
            }
            CurvePoint {
                threshold: t,
                precision: if answered <= 0.0 {
                    1.0
                } else {
                    right / answered
                },
                answered: answered / total,
                answered_queries: answered,
            }
        })
        .collect()
}

/// How much each query counts in the curve. The held-out pseudo-queries stand for the
/// tickets the KB does not cover, and weigh a fifth of the total (the share the hold-out
/// sets assume), whatever share of the calibration queries they happen to be. The
/// covered side is the labelled queries when the KB ships enough of them (real
/// questions beat pseudo ones), else the other pseudo-queries but the mixed ones: with
/// their entry in the KB, their label is a guess, and counting them would read the
/// threshold off that guess (on the transfer KBs' development sets, a third of their
/// first hits at relevance 0.5 or more are right on the seed KB and two thirds on the
/// FAQ, against 93 % and 88 % of real tickets'). Held out, every hit is wrong, mixed or not.
///
/// Confirmed answers searched as if their entry had never been asked about stand for
/// `unseen_share` of the covered side, the others for the rest (see `confirmed`).
pub(super) fn curve_weights(queries: &[CalibrationQuery], unseen_share: f32) -> Vec<f32> {
    // Labelled queries held out (confirmed answers searched as if their entry were
    // missing) stand for uncovered tickets beside the held-out pseudo-queries.
    let labelled = queries
        .iter()
        .filter(|q| q.labelled && q.exclude.is_none())
        .count();
    let held_out = queries.iter().filter(|q| q.exclude.is_some()).count();
    let use_labelled = labelled >= MIN_LABELLED_FOR_CURVE;
    let covered = if use_labelled {
        labelled
    } else {
        queries
            .iter()
            .filter(|q| q.exclude.is_none() && !q.mixed)
            .count()
    };
    if held_out == 0 || covered == 0 {
        return vec![1.0; queries.len()];
    }
    let held_weight = held_out_weight(covered, held_out);
    let unseen = queries
        .iter()
        .filter(|q| q.labelled && q.exclude.is_none() && q.without_confirmed)
        .count();
    let seen = labelled - unseen;
    // Each side's weight so that together they weigh `labelled`, as before.
    let (seen_weight, unseen_weight) = if unseen == 0 || seen == 0 {
        (1.0, 1.0)
    } else {
        (
            (1.0 - unseen_share) * labelled as f32 / seen as f32,
            unseen_share * labelled as f32 / unseen as f32,
        )
    };
    queries
        .iter()
        .map(|q| match (q.labelled, q.exclude.is_some()) {
            (_, true) => held_weight,
            (true, false) if q.without_confirmed => unseen_weight,
            (true, false) => seen_weight,
            (false, false) if use_labelled || q.mixed => 0.0,
            (false, false) => 1.0,
        })
        .collect()
}

/// Share of tickets the KB does not cover that the precision curve assumes.
const UNCOVERED_SHARE: f32 = 0.2;

/// The weight of one held-out query so that `held_out` of them weigh `UNCOVERED_SHARE`
/// of the total beside `covered` covered ones weighing 1 each.
pub(super) fn held_out_weight(covered: usize, held_out: usize) -> f32 {
    UNCOVERED_SHARE / (1.0 - UNCOVERED_SHARE) * covered as f32 / held_out.max(1) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(exclude: Option<u32>, labelled: bool, mixed: bool) -> CalibrationQuery {
        CalibrationQuery {
            text: "q".into(),
            answers: vec![0],
            exclude,
            labelled,
            mixed,
            without_confirmed: false,
        }
    }

    #[test]
    fn covered_mixed_pseudo_queries_stay_out_of_the_curve_and_held_out_ones_count() {
        let queries = vec![
            query(None, false, false),
            query(None, false, false),
            query(None, false, false),
            query(None, false, false),
            query(None, false, true),
            query(Some(0), false, true),
        ];
        let w = curve_weights(&queries, 0.0);
        assert_eq!(w[..4], [1.0; 4]);
        assert_eq!(w[4], 0.0);
        // The held-out query weighs a fifth of the total beside the four covered ones.
        assert!((w[5] - 1.0).abs() < 1e-6, "{}", w[5]);
        // With enough labelled queries, they alone stand for the covered side.
        let mut labelled = vec![query(None, true, false); MIN_LABELLED_FOR_CURVE];
        labelled.push(query(None, false, false));
        labelled.push(query(Some(0), false, false));
        let w = curve_weights(&labelled, 0.0);
        assert_eq!(w[MIN_LABELLED_FOR_CURVE], 0.0);
        assert!((w[MIN_LABELLED_FOR_CURVE + 1] - MIN_LABELLED_FOR_CURVE as f32 / 4.0).abs() < 1e-4);
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
