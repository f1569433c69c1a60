//! Dense text embeddings. The real model runs in ONNX Runtime through fastembed, from
//! local files only; a hashing embedder stands in for it in unit tests.

mod hashing;
mod onnx;
mod spec;

pub use hashing::HashingEmbedder;
pub use onnx::{init_onnx_runtime, OnnxEmbedder};
pub use spec::ModelSpec;

use crate::error::Result;

/// Turns texts into L2-normalised vectors. Queries and passages may get different
/// prefixes (e5 wants `query: ` / `passage: `), so the two are separate calls.
pub trait Embedder: Send + Sync {
    /// Model name, recorded in each index generation so a model change forces re-embedding.
    fn name(&self) -> &str;
    fn dim(&self) -> usize;
    fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}

/// Dot product; equals the cosine for normalised vectors.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Four accumulators let the compiler vectorise without fast-math.
    let mut acc = [0.0f32; 4];
    let chunks = a.len() / 4;
    for i in 0..chunks {
        let j = i * 4;
        acc[0] += a[j] * b[j];
        acc[1] += a[j + 1] * b[j + 1];
        acc[2] += a[j + 2] * b[j + 2];
        acc[3] += a[j + 3] * b[j + 3];
    }
    let mut sum = acc[0] + acc[1] + acc[2] + acc[3];
    for j in chunks * 4..a.len() {
        sum += a[j] * b[j];
    }
    sum
}

pub fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
