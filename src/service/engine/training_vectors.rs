//! The labelled tickets' query vectors, kept in the data directory.
//!
//! The classifier trains on the labelled tickets' embeddings when a server first needs it
//! (at start, in the background). Embedding the bundled tickets takes seconds of both
//! cores (~2.5 s for the first 240, most of ~29 s of training for the 1080), which at
//! every start competed with the first searches and the first edit (an edit
//! on a 10,000-entry KB right after a start took 1.9-2.9 s instead of 0.8-0.9 s). Those
//! vectors depend only on the texts and the model, so they are written once beside the
//! generations and read back into the query cache before training; a later generation's
//! training already finds them in the cache. A missing, unreadable or other-model file is
//! only a cache miss: the tickets are embedded again.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Engine, QueryKey};
use crate::durable::sync_dir;
use crate::error::{Error, Result};

/// In the data directory, beside the generations.
pub const TRAINING_VECTORS_FILE: &str = "training-vectors.json";

#[derive(Serialize, Deserialize)]
struct Stored {
    /// The embedding model that made them; another model's vectors are not used.
    model: String,
    /// Whether they were made with exact int8 products (see
    /// `embed::stored_vectors_reusable`).
    #[serde(default)]
    exact_int8: bool,
    /// Hex SHA-256 of the embedded words (`QueryKey`) and the vector.
    vectors: Vec<(String, Vec<f32>)>,
}

impl Engine {
    fn training_vectors_path(&self) -> PathBuf {
        self.config.data_dir.join(TRAINING_VECTORS_FILE)
    }

    /// Puts the stored vectors among `keys` in the query cache; how many of `keys` are
    /// there now. Reads nothing when the cache holds them all already (a later generation).
    /// Blocking (a file read): for the blocking pool.
    pub(super) fn preload_training_vectors(&self, keys: &[QueryKey]) -> usize {
        let wanted: HashSet<[u8; 32]> = keys.iter().map(|k| k.digest).collect();
        let cached = {
            let cache = self.query_cache.lock();
            wanted.iter().filter(|d| cache.contains(*d)).count()
        };
        if cached == wanted.len() {
            return cached;
        }
        let path = self.training_vectors_path();
        let stored: Stored = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(stored) => stored,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unreadable training vectors; embedding the tickets again");
                    return cached;
                }
            },
            Err(_) => return cached,
        };
        // Keyed like the passage vectors a reindex reuses: by the model's name.
        if stored.model != self.embedder.name()
            || !crate::embed::stored_vectors_reusable(stored.exact_int8)
        {
            return cached;
        }
        let mut cache = self.query_cache.lock();
        for (digest, vector) in stored.vectors {
            if vector.len() != self.embedder.dim() {
                continue;
            }
            let Some(key) = hex::decode(&digest)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            else {
                continue;
            };
            if wanted.contains(&key) {
                cache.put(key, std::sync::Arc::new(vector));
            }
        }
        wanted.iter().filter(|d| cache.contains(*d)).count()
    }

    /// Writes the vectors training used, one per distinct key. Blocking. Through a
    /// temporary file of its own, so two servers on one data directory cannot tear it.
    pub(super) fn store_training_vectors(
        &self,
        keys: &[QueryKey],
        vectors: &[Vec<f32>],
    ) -> Result<()> {
        let mut seen = HashSet::new();
        let vectors: Vec<(String, Vec<f32>)> = keys
            .iter()
            .zip(vectors)
            .filter(|(k, _)| seen.insert(k.digest))
            .map(|(k, v)| (hex::encode(k.digest), v.clone()))
            .collect();
        let stored = Stored {
            model: self.embedder.name().to_string(),
            exact_int8: true,
            vectors,
        };
        let bytes = serde_json::to_vec(&stored).map_err(|e| Error::Internal(e.to_string()))?;
        let dir = &self.config.data_dir;
        let io =
            |what: &str, e: std::io::Error| Error::io(format!("{what} in {}", dir.display()), e);
        std::fs::create_dir_all(dir).map_err(|e| io("creating the data directory", e))?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| io("creating a temporary file", e))?;
        tmp.write_all(&bytes)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| io("writing the training vectors", e))?;
        tmp.persist(self.training_vectors_path())
            .map_err(|e| io("replacing the training vectors", e.error))?;
        sync_dir(dir)
    }

    /// How many distinct keys `keys` holds.
    pub(super) fn distinct(keys: &[QueryKey]) -> usize {
        keys.iter().map(|k| k.digest).collect::<HashSet<_>>().len()
    }
}
