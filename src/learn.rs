//! Logistic regression: the one trainer behind both learned models of the engine — the
//! classifier's softmax over categories, priorities and churn levels, and each
//! generation's relevance calibration (two classes: a wrong hit and a right one).
//!
//! Full-batch Adam with an L2 penalty on the weights (never the bias). A few hundred
//! labelled tickets over ~1.5k features, or a few thousand calibration hits over a dozen
//! features, train in well under a second, so both models are fitted from the KB when a
//! generation is built instead of being shipped as opaque weight files.

use serde::{Deserialize, Serialize};

use crate::embed::dot;

/// How much each training row counts.
#[derive(Debug, Clone, Copy)]
pub enum Weighting<'a> {
    /// Each class weighs by the inverse of its frequency, so a rare class is not drowned;
    /// the weights average to one over the rows.
    BalancedClasses,
    /// One weight per row (rows of weight 0 do not count).
    PerRow(&'a [f32]),
}

#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    pub epochs: usize,
    pub learning_rate: f32,
    /// Penalty on the squared weights, added to the weighted mean log loss.
    pub l2: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 300,
            learning_rate: 0.05,
            l2: 0.01,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SoftmaxRegression {
    pub classes: Vec<String>,
    dim: usize,
    /// `classes.len()` rows of `dim + 1` weights, the last one the bias.
    weights: Vec<f32>,
}

impl SoftmaxRegression {
    /// Trains on rows `x` (all of length `dim`) with labels `y` (indices into `classes`).
    pub fn train<R: AsRef<[f32]>>(
        classes: Vec<String>,
        x: &[R],
        y: &[usize],
        weighting: Weighting<'_>,
        options: TrainOptions,
    ) -> SoftmaxRegression {
        let k = classes.len();
        let dim = x.first().map_or(0, |row| row.as_ref().len());
        let width = dim + 1;
        let row_weight = row_weights(k, y, weighting);
        let total: f32 = row_weight.iter().sum::<f32>().max(1e-9);

        let mut w = vec![0.0f32; k * width];
        let (mut m, mut v) = (vec![0.0f32; k * width], vec![0.0f32; k * width]);
        let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let mut grad = vec![0.0f32; k * width];
        let mut probs = vec![0.0f32; k];
        for epoch in 1..=options.epochs {
            grad.iter_mut().for_each(|g| *g = 0.0);
            for ((row, &label), &weight) in x.iter().zip(y).zip(&row_weight) {
                if weight == 0.0 {
                    continue;
                }
                let row = row.as_ref();
                scores(&w, width, row, &mut probs);
                softmax(&mut probs);
                for (c, p) in probs.iter().enumerate() {
                    let err = weight * (p - if c == label { 1.0 } else { 0.0 });
                    let g = &mut grad[c * width..(c + 1) * width];
                    for (gi, xi) in g[..dim].iter_mut().zip(row) {
                        *gi += err * xi;
                    }
                    g[dim] += err;
                }
            }
            let t = epoch as i32;
            let (bc1, bc2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
            for i in 0..w.len() {
                let is_bias = i % width == dim;
                let g = grad[i] / total + if is_bias { 0.0 } else { options.l2 * w[i] };
                m[i] = beta1 * m[i] + (1.0 - beta1) * g;
                v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
                w[i] -= options.learning_rate * (m[i] / bc1) / ((v[i] / bc2).sqrt() + eps);
            }
        }
        SoftmaxRegression {
            classes,
            dim,
            weights: w,
        }
    }

    /// Probability of each class, in `classes` order.
    pub fn probabilities(&self, row: &[f32]) -> Vec<f32> {
        let mut probs = vec![0.0f32; self.classes.len()];
        if row.len() != self.dim {
            // A model trained on other features: no opinion rather than a wrong one.
            let uniform = 1.0 / self.classes.len().max(1) as f32;
            probs.iter_mut().for_each(|p| *p = uniform);
            return probs;
        }
        scores(&self.weights, self.dim + 1, row, &mut probs);
        softmax(&mut probs);
        probs
    }

    /// The most likely class and its probability.
    pub fn predict(&self, row: &[f32]) -> (usize, f32) {
        let probs = self.probabilities(row);
        probs
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f32::MIN),
                |best, (i, p)| if p > best.1 { (i, p) } else { best },
            )
    }

    /// For a model of two classes, the logit of the second against the first: the
    /// weights and the bias of `p(second) = sigmoid(weights · x + bias)`. With two
    /// classes the penalty falls on both rows, which are opposite halves of the logit at
    /// the optimum, so the logit's own penalty is `l2 / 2`.
    pub fn binary_logit(&self) -> Option<(Vec<f32>, f32)> {
        if self.classes.len() != 2 {
            return None;
        }
        let width = self.dim + 1;
        let (first, second) = self.weights.split_at(width);
        let logit: Vec<f32> = second.iter().zip(first).map(|(b, a)| b - a).collect();
        Some((logit[..self.dim].to_vec(), logit[self.dim]))
    }
}

/// The weight of each row; the weights of counted rows sum to their number when the
/// classes are balanced.
fn row_weights(classes: usize, y: &[usize], weighting: Weighting<'_>) -> Vec<f32> {
    match weighting {
        // A row without a weight counts for nothing.
        Weighting::PerRow(weights) => (0..y.len())
            .map(|i| weights.get(i).copied().unwrap_or(0.0).max(0.0))
            .collect(),
        Weighting::BalancedClasses => {
            let mut counts = vec![0usize; classes];
            for &label in y {
                counts[label] += 1;
            }
            let present = counts.iter().filter(|&&c| c > 0).count().max(1) as f32;
            let n = y.len() as f32;
            y.iter()
                .map(|&label| n / (present * counts[label] as f32))
                .collect()
        }
    }
}

fn scores(w: &[f32], width: usize, row: &[f32], out: &mut [f32]) {
    let dim = width - 1;
    for (c, score) in out.iter_mut().enumerate() {
        let wc = &w[c * width..(c + 1) * width];
        *score = dot(&wc[..dim], row) + wc[dim];
    }
}

fn softmax(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::MIN, f32::max);
    let mut sum = 0.0;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    values.iter_mut().for_each(|v| *v /= sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_linearly_separable_classes() {
        let x: Vec<Vec<f32>> = (0..60)
            .map(|i| {
                let c = (i % 3) as f32;
                vec![c + 0.1 * (i as f32).sin(), 1.0 - c * 0.5]
            })
            .collect();
        let y: Vec<usize> = (0..60).map(|i| i % 3).collect();
        let model = SoftmaxRegression::train(
            vec!["a".into(), "b".into(), "c".into()],
            &x,
            &y,
            Weighting::BalancedClasses,
            TrainOptions::default(),
        );
        let right = x
            .iter()
            .zip(&y)
            .filter(|(row, &label)| model.predict(row).0 == label)
            .count();
        assert_eq!(right, 60);
        let probs = model.probabilities(&x[0]);
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }

    #[test]
    fn a_row_of_the_wrong_width_gets_no_opinion() {
        let model = SoftmaxRegression::train(
            vec!["a".into(), "b".into()],
            &[vec![0.0], vec![1.0]],
            &[0, 1],
            Weighting::BalancedClasses,
            TrainOptions::default(),
        );
        assert_eq!(model.probabilities(&[1.0, 2.0]), vec![0.5, 0.5]);
    }

    #[test]
    fn two_classes_give_the_logit_of_the_second() {
        let x: Vec<[f32; 1]> = (0..100).map(|i| [i as f32 / 100.0]).collect();
        let y: Vec<usize> = (0..100).map(|i| usize::from(i >= 50)).collect();
        let model = SoftmaxRegression::train(
            vec!["no".into(), "yes".into()],
            &x,
            &y,
            Weighting::PerRow(&[1.0; 100]),
            TrainOptions {
                epochs: 500,
                learning_rate: 0.1,
                l2: 1e-3,
            },
        );
        let (weights, bias) = model.binary_logit().unwrap();
        for row in [[0.1f32], [0.45], [0.9]] {
            let p = 1.0 / (1.0 + (-(weights[0] * row[0] + bias)).exp());
            assert!((p - model.probabilities(&row)[1]).abs() < 1e-4);
        }
        assert!(weights[0] > 0.0 && -bias / weights[0] > 0.4 && -bias / weights[0] < 0.6);
        assert!(SoftmaxRegression::train(
            vec!["a".into(), "b".into(), "c".into()],
            &x,
            &y,
            Weighting::BalancedClasses,
            TrainOptions::default()
        )
        .binary_logit()
        .is_none());
    }

    #[test]
    fn rows_weigh_as_told() {
        // The same point labelled both ways: the weights decide which label wins.
        let x = vec![[1.0f32], [1.0]];
        let model = SoftmaxRegression::train(
            vec!["no".into(), "yes".into()],
            &x,
            &[0, 1],
            Weighting::PerRow(&[1.0, 3.0]),
            TrainOptions::default(),
        );
        let p = model.probabilities(&[1.0])[1];
        assert!(p > 0.65 && p < 0.85, "{p}");
    }
}
