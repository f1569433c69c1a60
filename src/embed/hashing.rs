//! A deterministic, dependency-free embedder for unit tests: character trigrams hashed
//! into a fixed number of buckets. It has no notion of meaning; it only lets tests
//! exercise the vector path without loading a model.

use super::{normalize, Embedder};
use crate::error::Result;

pub struct HashingEmbedder {
    dim: usize,
}

impl HashingEmbedder {
    pub fn new(dim: usize) -> Self {
        HashingEmbedder { dim }
    }

    fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dim];
        let lower: Vec<char> = format!("  {}  ", text.to_lowercase()).chars().collect();
        for w in lower.windows(3) {
            let mut h: u64 = 0xcbf29ce484222325;
            for c in w {
                h ^= *c as u64;
                h = h.wrapping_mul(0x100000001b3);
            }
            v[(h % self.dim as u64) as usize] += 1.0;
        }
        normalize(&mut v);
        v
    }
}

impl Embedder for HashingEmbedder {
    fn name(&self) -> &str {
        "hashing-trigram"
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }

    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_queries(texts)
    }
}
