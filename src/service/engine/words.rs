//! The vectors of the words the glossary looks up in a message in the other language
//! than the KB's (see `index::glossary`).

use std::collections::HashMap;
use std::sync::Arc;

use super::{Engine, QueryKey};
use crate::error::{Error, Result};
use crate::index::hybrid;

impl Engine {
    /// The vectors of the words the glossary looks up in `query` (see
    /// `hybrid::words_to_translate`), from the query cache or the query queue, waiting
    /// without holding a thread or a CPU permit. A word the queue refuses (full) or fails
    /// is left out: the search goes on with the message's own words, as it would on a
    /// generation without a glossary.
    pub(crate) async fn prefetch_word_vectors(&self, query: &str) -> HashMap<String, Vec<f32>> {
        let generation = self.generation();
        let words = hybrid::words_to_translate(&generation, query);
        drop(generation);
        let mut vectors = HashMap::new();
        let mut missing: Vec<(String, QueryKey)> = Vec::new();
        for word in words {
            let key = QueryKey::of(&word);
            match self.peek_vector(&key) {
                Some(v) => {
                    vectors.insert(word, v.as_ref().clone());
                }
                None => missing.push((word, key)),
            }
        }
        if missing.is_empty() {
            return vectors;
        }
        let texts: Vec<&str> = missing.iter().map(|(_, k)| k.words.as_str()).collect();
        let embedded = self.query_queue.embed_all_async(&texts).await;
        for ((word, key), vector) in missing.into_iter().zip(embedded) {
            match vector {
                Ok(v) => {
                    self.query_cache.lock().put(key.digest, Arc::new(v.clone()));
                    vectors.insert(word, v);
                }
                Err(e) => {
                    tracing::warn!(word = %word, error = %e, "a word of the message was not embedded: searched without its translation");
                }
            }
        }
        vectors
    }

    /// The vectors of single words (the glossary's look-ups, see `hybrid::translate`) for
    /// a caller off the async runtime (the command line, evaluations): from the query
    /// cache when there, the others embedded at once and cached.
    pub(crate) fn word_vectors(&self, words: &[&str]) -> Result<Vec<Vec<f32>>> {
        let keys: Vec<QueryKey> = words.iter().map(|w| QueryKey::of(w)).collect();
        let mut vectors: Vec<Option<Vec<f32>>> = keys
            .iter()
            .map(|k| self.peek_vector(k).map(|v| v.as_ref().clone()))
            .collect();
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| vectors[i].is_none()).collect();
        if !missing.is_empty() {
            let texts: Vec<&str> = missing.iter().map(|&i| keys[i].words.as_str()).collect();
            crate::telemetry::embedding_batch("word", texts.len());
            let fresh = self.embedder.embed_queries(&texts)?;
            let mut cache = self.query_cache.lock();
            for (&i, vector) in missing.iter().zip(fresh) {
                cache.put(keys[i].digest, Arc::new(vector.clone()));
                vectors[i] = Some(vector);
            }
        }
        vectors
            .into_iter()
            .map(|v| v.ok_or_else(|| Error::Embedding("the model returned no vector".into())))
            .collect()
    }
}
