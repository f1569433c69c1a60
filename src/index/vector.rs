//! Dense retrieval. Two stores answer the same question, "which entries have the chunk
//! nearest to this vector": the embedded store (exact scan over vectors in memory,
//! persisted in the generation directory) and a Qdrant server.

use std::io::{Read, Write};
use std::path::Path;

use crate::embed::dot;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"DKBVEC01";
pub const VECTORS_FILE: &str = "vectors.bin";

pub trait VectorStore: Send + Sync {
    /// Best entries for `query` as (entry ord, cosine of its best chunk), best first.
    /// `models`: model keys an entry must carry (generic entries always pass).
    fn search(
        &self,
        query: &[f32],
        models: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<(u32, f32)>>;
    /// Number of chunk vectors held.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// "embedded" or "qdrant", for /health and /models.
    fn backend(&self) -> &'static str;
}

/// Vectors of one generation, row-major, with the entry each chunk belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkVectors {
    pub dim: usize,
    pub data: Vec<f32>,
    pub chunk_entry: Vec<u32>,
}

impl ChunkVectors {
    pub fn new(dim: usize) -> Self {
        ChunkVectors {
            dim,
            data: Vec::new(),
            chunk_entry: Vec::new(),
        }
    }

    /// Room for one vector per chunk of `chunk_entry` (the entry of each chunk), all
    /// zero until `set`: a reindex fills it in place as vectors are reused or made.
    pub fn zeroed(dim: usize, chunk_entry: Vec<u32>) -> Self {
        ChunkVectors {
            dim,
            data: vec![0.0; chunk_entry.len() * dim],
            chunk_entry,
        }
    }

    /// Puts `vector` in row `chunk`; a vector of another length (a model answering with
    /// another dimension) is an error, not a panic.
    pub fn set(&mut self, chunk: usize, vector: &[f32]) -> Result<()> {
        if vector.len() != self.dim || chunk >= self.chunk_entry.len() {
            return Err(Error::Internal(format!(
                "a vector of {} values for row {chunk} of {} vectors of {}",
                vector.len(),
                self.chunk_entry.len(),
                self.dim
            )));
        }
        self.data[chunk * self.dim..(chunk + 1) * self.dim].copy_from_slice(vector);
        Ok(())
    }

    /// Fills `rows` with what `embed` gives for their texts, `batch` texts a call,
    /// checking the model gave one vector a text (`what` names the texts in that error);
    /// `done` hears how many rows are filled after each call.
    pub fn embed_rows<'a>(
        &mut self,
        rows: &[usize],
        text_of: impl Fn(usize) -> &'a str,
        batch: usize,
        what: &str,
        embed: impl Fn(&[&str]) -> Result<Vec<Vec<f32>>>,
        mut done: impl FnMut(usize),
    ) -> Result<()> {
        for (batch_no, rows_of_batch) in rows.chunks(batch).enumerate() {
            let texts: Vec<&str> = rows_of_batch.iter().map(|&row| text_of(row)).collect();
            let fresh = embed(&texts)?;
            if fresh.len() != rows_of_batch.len() {
                return Err(Error::Internal(format!(
                    "the model gave {} vectors for {} {what}",
                    fresh.len(),
                    rows_of_batch.len()
                )));
            }
            for (&row, v) in rows_of_batch.iter().zip(&fresh) {
                self.set(row, v)?;
            }
            done((batch_no * batch + rows_of_batch.len()).min(rows.len()));
        }
        Ok(())
    }

    pub fn push(&mut self, entry: u32, vector: &[f32]) {
        debug_assert_eq!(vector.len(), self.dim);
        self.data.extend_from_slice(vector);
        self.chunk_entry.push(entry);
    }

    pub fn len(&self) -> usize {
        self.chunk_entry.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chunk_entry.is_empty()
    }

    pub fn vector(&self, chunk: usize) -> &[f32] {
        &self.data[chunk * self.dim..(chunk + 1) * self.dim]
    }

    /// Writes `MAGIC, dim u32, count u32, entry ords u32 × count, f32 × count × dim` (LE).
    /// Streamed through a buffer, not built whole in memory: on a large KB the vectors
    /// are the biggest thing a reindex holds, and a second copy would double them.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::durable::write_file_streamed(path, |out| {
            out.write_all(MAGIC)?;
            out.write_all(&(self.dim as u32).to_le_bytes())?;
            out.write_all(&(self.chunk_entry.len() as u32).to_le_bytes())?;
            for e in &self.chunk_entry {
                out.write_all(&e.to_le_bytes())?;
            }
            for x in &self.data {
                out.write_all(&x.to_le_bytes())?;
            }
            Ok(())
        })
    }

    pub fn load(path: &Path) -> Result<Self> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let bad = || Error::index(format!("{} is not a devicekb vector file", path.display()));
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(bad());
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let dim = u32_at(8) as usize;
        let count = u32_at(12) as usize;
        let expected = 16 + count * 4 + count * dim * 4;
        if bytes.len() != expected || dim == 0 {
            return Err(bad());
        }
        let chunk_entry = (0..count).map(|i| u32_at(16 + i * 4)).collect();
        let base = 16 + count * 4;
        let data = bytes[base..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        Ok(ChunkVectors {
            dim,
            data,
            chunk_entry,
        })
    }
}

/// Exact search over vectors in memory: right for KBs up to ~100k chunks.
pub struct EmbeddedVectorStore {
    vectors: ChunkVectors,
    /// Model keys of each entry (by ord); empty = generic.
    entry_models: Vec<Vec<String>>,
}

impl EmbeddedVectorStore {
    pub fn new(vectors: ChunkVectors, entry_models: Vec<Vec<String>>) -> Self {
        EmbeddedVectorStore {
            vectors,
            entry_models,
        }
    }

    /// Whether any vector belongs to entry `ord`.
    pub fn has_entry(&self, ord: u32) -> bool {
        self.vectors.chunk_entry.contains(&ord)
    }

    fn allowed(&self, entry: u32, models: Option<&[String]>) -> bool {
        match models {
            None => true,
            Some(wanted) => {
                let has = &self.entry_models[entry as usize];
                has.is_empty() || has.iter().any(|m| wanted.contains(m))
            }
        }
    }
}

impl VectorStore for EmbeddedVectorStore {
    fn search(
        &self,
        query: &[f32],
        models: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<(u32, f32)>> {
        if query.len() != self.vectors.dim {
            return Err(Error::Embedding(format!(
                "query vector has {} dimensions, the index {}",
                query.len(),
                self.vectors.dim
            )));
        }
        let mut best = vec![f32::NEG_INFINITY; self.entry_models.len()];
        for (chunk, &entry) in self.vectors.chunk_entry.iter().enumerate() {
            let score = dot(query, self.vectors.vector(chunk));
            let slot = &mut best[entry as usize];
            if score > *slot {
                *slot = score;
            }
        }
        let mut hits: Vec<(u32, f32)> = best
            .into_iter()
            .enumerate()
            .filter(|(e, s)| s.is_finite() && self.allowed(*e as u32, models))
            .map(|(e, s)| (e as u32, s))
            .collect();
        let limit = limit.min(hits.len());
        if limit == 0 {
            return Ok(Vec::new());
        }
        hits.select_nth_unstable_by(limit - 1, |a, b| b.1.total_cmp(&a.1));
        hits.truncate(limit);
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(hits)
    }

    fn len(&self) -> usize {
        self.vectors.len()
    }

    fn backend(&self) -> &'static str {
        "embedded"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> EmbeddedVectorStore {
        let mut v = ChunkVectors::new(2);
        v.push(0, &[1.0, 0.0]);
        v.push(1, &[0.0, 1.0]);
        v.push(1, &[0.8, 0.6]);
        v.push(2, &[0.6, 0.8]);
        EmbeddedVectorStore::new(v, vec![vec!["a".into()], vec!["b".into()], vec![]])
    }

    #[test]
    fn best_chunk_scores_the_entry() {
        let hits = store().search(&[1.0, 0.0], None, 10).unwrap();
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!((hits[1].1 - 0.8).abs() < 1e-6);
    }

    #[test]
    fn model_filter_keeps_generic_entries() {
        let hits = store()
            .search(&[1.0, 0.0], Some(&["b".to_string()]), 10)
            .unwrap();
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.bin");
        store().vectors.save(&path).unwrap();
        assert_eq!(ChunkVectors::load(&path).unwrap(), store().vectors);
        std::fs::write(&path, b"garbage").unwrap();
        assert!(ChunkVectors::load(&path).is_err());
    }
}
