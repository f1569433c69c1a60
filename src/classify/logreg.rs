//! Multinomial logistic regression (softmax), trained by full-batch Adam with L2
//! regularisation and class weights. A few hundred labelled tickets and ~1.5k features
//! train in well under a second, so the model is trained from the KB's labelled set when
//! first needed instead of being shipped as an opaque weights file.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    pub epochs: usize,
    pub learning_rate: f32,
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
    /// Each class weighs by the inverse of its frequency, so a rare class is not drowned.
    pub fn train(
        classes: Vec<String>,
        x: &[Vec<f32>],
        y: &[usize],
        options: TrainOptions,
    ) -> SoftmaxRegression {
        let k = classes.len();
        let dim = x.first().map_or(0, Vec::len);
        let width = dim + 1;
        let n = x.len().max(1) as f32;
        let mut counts = vec![0usize; k];
        for &label in y {
            counts[label] += 1;
        }
        let present = counts.iter().filter(|&&c| c > 0).count().max(1) as f32;
        let class_weight: Vec<f32> = counts
            .iter()
            .map(|&c| {
                if c == 0 {
                    0.0
                } else {
                    n / (present * c as f32)
                }
            })
            .collect();

        let mut w = vec![0.0f32; k * width];
        let (mut m, mut v) = (vec![0.0f32; k * width], vec![0.0f32; k * width]);
        let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let mut grad = vec![0.0f32; k * width];
        let mut probs = vec![0.0f32; k];
        for epoch in 1..=options.epochs {
            grad.iter_mut().for_each(|g| *g = 0.0);
            for (row, &label) in x.iter().zip(y) {
                scores(&w, width, row, &mut probs);
                softmax(&mut probs);
                let weight = class_weight[label];
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
                let g = grad[i] / n + if is_bias { 0.0 } else { options.l2 * w[i] };
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
}

fn scores(w: &[f32], width: usize, row: &[f32], out: &mut [f32]) {
    let dim = width - 1;
    for (c, score) in out.iter_mut().enumerate() {
        let wc = &w[c * width..(c + 1) * width];
        *score = crate::embed::dot(&wc[..dim], row) + wc[dim];
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
            TrainOptions::default(),
        );
        assert_eq!(model.probabilities(&[1.0, 2.0]), vec![0.5, 0.5]);
    }
}
