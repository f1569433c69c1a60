//! The vectors of the words the glossary looks up in a message in the other language
//! than the KB's (see `index::glossary`), kept in the query cache like queries': the same
//! few hundred words come back message after message.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Engine, QueryKey};
use crate::error::{Error, Result};
use crate::index::hybrid;

/// Word → vector, for the words a search looks up.
pub(crate) type WordVectorMap = HashMap<String, Vec<f32>>;

impl Engine {
    /// The cached vectors of `words`, and the words (with their cache keys) not cached.
    fn cached_words(
        &self,
        words: impl IntoIterator<Item = String>,
    ) -> (WordVectorMap, Vec<(String, QueryKey)>) {
        let mut vectors = WordVectorMap::new();
        let mut missing = Vec::new();
        for word in words {
            let key = QueryKey::of(&word);
            match self.peek_vector(&key) {
                Some(v) => {
                    vectors.insert(word, v.as_ref().clone());
                }
                None => missing.push((word, key)),
            }
        }
        (vectors, missing)
    }

    fn cache_word(&self, vectors: &mut WordVectorMap, word: String, key: &QueryKey, v: Vec<f32>) {
        self.query_cache.lock().put(key.digest, Arc::new(v.clone()));
        vectors.insert(word, v);
    }

    /// The vectors of the words the glossary looks up in `query` (see
    /// `hybrid::words_to_translate`), from the query cache or the query queue, waiting
    /// without holding a thread or a CPU permit. A word the queue refuses (full) or fails
    /// is left out: the search goes on with the message's own words, as it would on a
    /// generation without a glossary.
    pub(crate) async fn prefetch_word_vectors(&self, query: &str) -> WordVectorMap {
        let words = hybrid::words_to_translate(&self.generation(), query);
        let (mut vectors, missing) = self.cached_words(words);
        if missing.is_empty() {
            return vectors;
        }
        let texts: Vec<&str> = missing.iter().map(|(_, k)| k.words.as_str()).collect();
        let embedded = self.query_queue.embed_all_async(&texts).await;
        for ((word, key), vector) in missing.into_iter().zip(embedded) {
            match vector {
                Ok(v) => self.cache_word(&mut vectors, word, &key, v),
                Err(e) => {
                    tracing::warn!(word = %word, error = %e, "a word of the message was not embedded: searched without its translation");
                }
            }
        }
        vectors
    }

    /// The vectors of `words` for a caller off the async runtime (the command line,
    /// evaluations): from the query cache when there, the others embedded at once.
    pub(crate) fn word_vectors(&self, words: &[&str]) -> Result<WordVectorMap> {
        let (mut vectors, missing) = self.cached_words(words.iter().map(|w| w.to_string()));
        if missing.is_empty() {
            return Ok(vectors);
        }
        let texts: Vec<&str> = missing.iter().map(|(_, k)| k.words.as_str()).collect();
        crate::telemetry::embedding_batch("word", texts.len());
        let fresh = self.embedder.embed_queries(&texts)?;
        if fresh.len() != missing.len() {
            return Err(Error::Embedding("the model returned no vector".into()));
        }
        for ((word, key), v) in missing.into_iter().zip(fresh) {
            self.cache_word(&mut vectors, word, &key, v);
        }
        Ok(vectors)
    }
}
