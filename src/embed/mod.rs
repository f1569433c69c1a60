//! Dense text embeddings. The real model runs in ONNX Runtime through fastembed, from
//! local files only; a hashing embedder stands in for it in unit tests.

mod hashing;
mod onnx;
mod queue;
mod spec;

pub use hashing::HashingEmbedder;
pub use onnx::{init_onnx_runtime, OnnxEmbedder};
pub use queue::QueryQueue;
pub use spec::{is_glossary_cut, ModelSpec, DEFAULT_GLOSSARY_MIN_COSINE};

use crate::error::Result;

/// Turns texts into L2-normalised vectors. Queries and passages may get different
/// prefixes (e5 wants `query: ` / `passage: `), so the two are separate calls.
pub trait Embedder: Send + Sync {
    /// Model name, recorded in each index generation so a model change forces re-embedding.
    fn name(&self) -> &str;
    fn dim(&self) -> usize;
    fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// How many queries the embedder runs at once to best effect (the query queue starts
    /// that many workers).
    fn query_parallelism(&self) -> usize {
        1
    }
    /// The cosine at which a KB word is taken for the translation of a message's word
    /// (the model's `glossary_min_cosine`).
    fn glossary_min_cosine(&self) -> f32 {
        DEFAULT_GLOSSARY_MIN_COSINE
    }
}

/// Whether vectors an earlier build stored can stand beside the ones this process makes.
/// Builds before devicekb asked ONNX Runtime for exact int8 products (`exact_int8` false in
/// what they stored) made other vectors on a processor whose int8 products saturate (see
/// `int8_products_saturate_here`), so there they are embedded again; elsewhere they were
/// exact already and are kept.
pub fn stored_vectors_reusable(stored_exact_int8: bool) -> bool {
    stored_exact_int8 || !int8_products_saturate_here()
}

/// Whether this processor adds int8 products in 16 bits that saturate unless ONNX Runtime
/// widens them: x86 without the VNNI instructions (AVX-512 VNNI or AVX-VNNI).
pub fn int8_products_saturate_here() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        !(std::arch::is_x86_feature_detected!("avx512vnni")
            || std::arch::is_x86_feature_detected!("avxvnni"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Dot product; equals the cosine for normalised vectors. Uses AVX2+FMA when the CPU
/// has them (checked at run time, so one binary runs everywhere): the exact vector scan
/// is memory- and multiply-bound, and this is its inner loop.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { dot_avx2(a, b) };
        }
    }
    dot_portable(a, b)
}

#[inline]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    // Four accumulators let the compiler vectorise without fast-math.
    let mut acc = [0.0f32; 4];
    let chunks = a.len().min(b.len()) / 4;
    for i in 0..chunks {
        let j = i * 4;
        acc[0] += a[j] * b[j];
        acc[1] += a[j + 1] * b[j + 1];
        acc[2] += a[j + 2] * b[j + 2];
        acc[3] += a[j + 3] * b[j + 3];
    }
    let mut sum = acc[0] + acc[1] + acc[2] + acc[3];
    for j in chunks * 4..a.len().min(b.len()) {
        sum += a[j] * b[j];
    }
    sum
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads): i + 16 <= n, or i + 8 <= n below, and both slices hold n floats.
    while i + 16 <= n {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
        acc1 = _mm256_fmadd_ps(
            _mm256_loadu_ps(pa.add(i + 8)),
            _mm256_loadu_ps(pb.add(i + 8)),
            acc1,
        );
        i += 16;
    }
    if i + 8 <= n {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
        i += 8;
    }
    let acc = _mm256_add_ps(acc0, acc1);
    let mut lanes = [0.0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), acc);
    let mut sum: f32 = lanes.iter().sum();
    while i < n {
        sum += a[i] * b[i];
        i += 1;
    }
    sum
}

pub fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fast_and_portable_dot_agree() {
        for len in [0usize, 1, 7, 8, 15, 16, 17, 384, 385] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            assert!(
                (super::dot(&a, &b) - super::dot_portable(&a, &b)).abs() < 1e-4,
                "{len}"
            );
        }
    }
}
