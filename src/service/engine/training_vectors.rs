//! The labelled tickets' query vectors, kept in the data directory.
//!
//! The classifier trains on the labelled tickets' embeddings when a server first needs it
//! (at start, in the background). Embedding the 240 bundled tickets takes ~2.5 s of both
//! cores, which at every start competed with the first searches and the first edit (an edit
//! on a 10,000-entry KB right after a start took 1.9-2.9 s instead of 0.8-0.9 s). Those
//! vectors depend only on the texts and the model, so they are written once beside the
//! generations and read back into the query cache before training; a later generation's
//! training already finds them in the cache. A missing, unreadable or other-model file is
//! only a cache miss: the tickets are embedded again.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Engine, QueryKey};
use crate::error::{Error, Result};
use crate::index::durable::replace_file_synced;

/// In the data directory, beside the generations.
pub const TRAINING_VECTORS_FILE: &str = "training-vectors.json";

#[derive(Serialize, Deserialize)]
struct Stored {
    /// The embedding model that made them; another model's vectors are not used.
    model: String,
    /// Hex SHA-256 of the embedded words (`QueryKey`) and the vector.
    vectors: Vec<(String, Vec<f32>)>,
}

impl Engine {
    fn training_vectors_path(&self) -> PathBuf {
        self.config.data_dir.join(TRAINING_VECTORS_FILE)
    }

    /// Puts the stored vectors among `keys` in the query cache; how many it put.
    /// Blocking (a file read): for the blocking pool.
    pub(super) fn preload_training_vectors(&self, keys: &[QueryKey]) -> usize {
        let path = self.training_vectors_path();
        let stored: Stored = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(stored) => stored,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unreadable training vectors; embedding the tickets again");
                    return 0;
                }
            },
            Err(_) => return 0,
        };
        if stored.model != self.embedder.name() {
            return 0;
        }
        let wanted: std::collections::HashSet<String> =
            keys.iter().map(|k| hex::encode(k.digest)).collect();
        let mut cache = self.query_cache.lock();
        let mut loaded = 0;
        for (digest, vector) in stored.vectors {
            if vector.len() != self.embedder.dim() || !wanted.contains(&digest) {
                continue;
            }
            let Ok(bytes) = hex::decode(&digest) else {
                continue;
            };
            let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) else {
                continue;
            };
            cache.put(key, std::sync::Arc::new(vector));
            loaded += 1;
        }
        loaded
    }

    /// Writes the cached vectors of `keys` (all of them, or nothing). Blocking.
    pub(super) fn store_training_vectors(&self, keys: &[QueryKey]) -> Result<()> {
        let vectors: Option<Vec<(String, Vec<f32>)>> = keys
            .iter()
            .map(|k| {
                self.peek_vector(k)
                    .map(|v| (hex::encode(k.digest), v.to_vec()))
            })
            .collect();
        let Some(vectors) = vectors else {
            return Ok(());
        };
        let stored = Stored {
            model: self.embedder.name().to_string(),
            vectors,
        };
        let bytes = serde_json::to_vec(&stored).map_err(|e| Error::Internal(e.to_string()))?;
        std::fs::create_dir_all(&self.config.data_dir)
            .map_err(|e| Error::io(format!("creating {}", self.config.data_dir.display()), e))?;
        replace_file_synced(&self.training_vectors_path(), &bytes)
    }
}
