//! An index generation: everything one search needs (entries, BM25 index, vectors),
//! built once and never modified. The data directory holds
//!
//! ```text
//! data/generations/gen-000007/{manifest.json, entries.json, tantivy/, vectors.bin,
//!                               glossary.json, glossary.bin, calibration.json}
//! data/CURRENT            "gen-000007": the generation searches use
//! ```
//!
//! A reindex builds `gen-N.partial`, renames it to `gen-N`, then replaces `CURRENT`
//! by rename, so a reader sees either the old or the new generation, never a mix. Every
//! file and directory is synced before `CURRENT` moves (see `durable`), and a server
//! starting on a damaged generation serves the previous one (see `recovery`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::bm25::Bm25Index;
use super::calibration::Calibration;
use super::glossary::Glossary;
use super::vector::{ChunkVectors, EmbeddedVectorStore, VectorStore, VECTORS_FILE};
use crate::error::{Error, Result};
use crate::extract::{Extractor, Rules};
use crate::kb::catalogue::model_key;
use crate::kb::lexicon::Lexicon;
use crate::kb::templates::Templates;
use crate::kb::topics::KbTopics;
use crate::kb::{Catalogue, KbEntry, PrinterModel};

pub const GENERATIONS_DIR: &str = "generations";
pub const CURRENT_FILE: &str = "CURRENT";
pub const MANIFEST_FILE: &str = "manifest.json";
pub const ENTRIES_FILE: &str = "entries.json";
pub const TANTIVY_DIR: &str = "tantivy";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub generation: u64,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    pub kb_dir: String,
    pub model: String,
    pub dim: usize,
    pub entries: usize,
    pub chunks: usize,
    /// Reuse key of each chunk vector (see `chunk::chunk_key`), in vector order.
    pub chunk_keys: Vec<String>,
    /// Content hash of each entry, by id.
    pub content_hashes: HashMap<String, String>,
    /// Qdrant collection holding this generation's vectors, when a server is used.
    #[serde(default)]
    pub qdrant_collection: Option<String>,
    /// Whether the vectors were made with exact int8 products (every build since devicekb
    /// asks ONNX Runtime for them; see `embed::stored_vectors_reusable`).
    #[serde(default)]
    pub exact_int8: bool,
    /// Reuse key of each confirmed answer's vector (`CONFIRMED_VECTORS_FILE`), in order.
    #[serde(default)]
    pub confirmed_keys: Vec<String>,
    /// How much a confirmed answer's cosine is lowered before it stands beside the
    /// entries' own (see `ConfirmedIndex`).
    #[serde(default)]
    pub confirmed_offset: f32,
    /// Reuse key of each unhelpful reply's message vector (`UNHELPFUL_VECTORS_FILE`).
    #[serde(default)]
    pub unhelpful_keys: Vec<String>,
}

/// Confirmed answers' vectors (see `kb::confirmed`).
pub const CONFIRMED_VECTORS_FILE: &str = "confirmed.bin";

/// The vectors of messages whose automatic reply did not help, each with the entry that
/// did not answer it (see `Generation::unhelpful`).
pub const UNHELPFUL_VECTORS_FILE: &str = "unhelpful.bin";

/// The customers' messages the desk confirmed an answer for, searched beside the
/// entries' passages, always in process (a few thousand vectors at most, whichever
/// store holds the entries'). A ticket is closer to another ticket than to any entry's
/// prose, whatever they are about (same greetings, same register), so a confirmed
/// answer's cosine is lowered by `offset`, measured at reindex: half the typical lead of
/// a ticket's nearest earlier ticket of its entry over that entry's own text
/// (`calibrate::confirmed_offset`). An earlier ticket then counts for being close, not
/// for its style.
pub struct ConfirmedIndex {
    pub store: EmbeddedVectorStore,
    pub offset: f32,
}

impl ConfirmedIndex {
    /// Entries by their best confirmed answer's lowered cosine, best first.
    pub fn search(
        &self,
        query: &[f32],
        models: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<(u32, f32)>> {
        let mut hits = self.store.search(query, models, limit)?;
        for hit in &mut hits {
            hit.1 -= self.offset;
        }
        Ok(hits)
    }

    /// Whether a message of this index names entry `ord`.
    pub fn names(&self, ord: u32) -> bool {
        self.store.has_entry(ord)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEntries {
    pub entries: Vec<KbEntry>,
    pub models: Vec<PrinterModel>,
    /// The KB's extraction rules at build time; `None` = the shipped rules.
    #[serde(default)]
    pub rules: Option<String>,
    /// The KB's reply templates at build time; `None` = the shipped templates.
    #[serde(default)]
    pub templates: Option<String>,
    /// The KB's lexicon at build time; `None` = the shipped lexicon alone.
    #[serde(default)]
    pub lexicon: Option<String>,
    /// The release's lexicon at build time, which the calibration was fitted with;
    /// `None` (a generation built before there was one) = none.
    #[serde(default)]
    pub shipped_lexicon: Option<String>,
    /// The classifier's labelled tickets at build time.
    #[serde(default)]
    pub training: Vec<crate::kb::training::LabelledTicket>,
}

pub fn generation_name(id: u64) -> String {
    format!("gen-{id:06}")
}

/// The number of a complete generation's directory name (`gen-000007` is 7); `None`
/// for anything else, unfinished builds included.
pub fn generation_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("gen-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn generations_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(GENERATIONS_DIR)
}

/// The generation `CURRENT` points at, if any.
pub fn current_generation_name(data_dir: &Path) -> Result<Option<String>> {
    let path = data_dir.join(CURRENT_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_string()).filter(|s| !s.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::index_caused(path.display().to_string(), e))
}

/// A loaded generation, shared by every search running on it.
pub struct Generation {
    pub name: String,
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub entries: Vec<KbEntry>,
    pub catalogue: Catalogue,
    /// Customers' words for the KB's (see `kb::lexicon`).
    pub lexicon: Lexicon,
    pub bm25: Bm25Index,
    pub vectors: Box<dyn VectorStore>,
    /// Built from this generation's catalogue, rules and entries' error codes.
    pub extractor: Extractor,
    pub templates: Templates,
    /// The labelled tickets the ticket classifier learns from (empty: no classifier).
    pub training: Vec<crate::kb::training::LabelledTicket>,
    /// What the entries are about, word by word (the decision asks it of billing words).
    pub topics: KbTopics,
    /// The KB's words with their vectors, for messages in another language.
    pub glossary: Glossary,
    /// The languages the entries are written in (`GET /health`).
    pub languages: crate::kb::lang::LanguageSummary,
    /// How relevant a hit is on this KB (fitted at reindex; see `calibration`).
    pub calibration: Calibration,
    /// The confirmed answers, when the KB has some.
    pub confirmed: Option<ConfirmedIndex>,
    /// Messages whose automatic reply the customer found unhelpful, each a passage of the
    /// entry that did not answer it, lowered by the confirmed answers' offset: a message
    /// closer to one of them than to anything that says the entry answers it is not
    /// answered automatically with that entry (`hybrid::search` marks the hit).
    pub unhelpful: Option<ConfirmedIndex>,
    by_id: HashMap<String, u32>,
}

/// The desk's messages stored in `file` (confirmed answers, or unhelpful replies'), as
/// the manifest lists them; `None` when it lists none.
fn desk_messages(
    dir: &Path,
    file: &str,
    keys: &[String],
    entries: &[KbEntry],
    offset: f32,
) -> Result<Option<ConfirmedIndex>> {
    if keys.is_empty() {
        return Ok(None);
    }
    let vectors = ChunkVectors::load(&dir.join(file))?;
    if vectors.len() != keys.len()
        || vectors
            .chunk_entry
            .iter()
            .any(|&e| e as usize >= entries.len())
    {
        return Err(Error::index(format!(
            "{}: the vectors of {file} do not match the manifest",
            dir.display()
        )));
    }
    Ok(Some(ConfirmedIndex {
        store: EmbeddedVectorStore::new(vectors, entry_model_keys(entries)),
        offset,
    }))
}

impl Generation {
    /// Opens `dir` with its embedded vectors, or with `vectors` when given (Qdrant).
    pub fn open(dir: &Path, vectors: Option<Box<dyn VectorStore>>) -> Result<Arc<Generation>> {
        let manifest: Manifest = read_json(&dir.join(MANIFEST_FILE))?;
        let stored: StoredEntries = read_json(&dir.join(ENTRIES_FILE))?;
        let bm25 = Bm25Index::open(&dir.join(TANTIVY_DIR))?;
        if bm25.num_docs() as usize != stored.entries.len() {
            return Err(Error::index(format!(
                "{}: the BM25 index has {} documents for {} entries",
                dir.display(),
                bm25.num_docs(),
                stored.entries.len()
            )));
        }
        let vectors = match vectors {
            Some(v) => v,
            None => {
                let chunk_vectors = ChunkVectors::load(&dir.join(VECTORS_FILE))?;
                if chunk_vectors
                    .chunk_entry
                    .iter()
                    .any(|&e| e as usize >= stored.entries.len())
                {
                    return Err(Error::index(format!(
                        "{}: vectors point past the entries",
                        dir.display()
                    )));
                }
                Box::new(EmbeddedVectorStore::new(
                    chunk_vectors,
                    entry_model_keys(&stored.entries),
                ))
            }
        };
        let by_id = stored
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.clone(), i as u32))
            .collect();
        let rules = match &stored.rules {
            Some(text) => Rules::parse(text, &dir.join(ENTRIES_FILE).display().to_string())
                .map_err(|e| Error::index_caused("the stored KB files", e.to_string()))?,
            None => Rules::default_rules(),
        };
        let templates = match &stored.templates {
            Some(text) => Templates::parse(text, &dir.join(ENTRIES_FILE).display().to_string())
                .map_err(|e| Error::index_caused("the stored KB files", e.to_string()))?,
            None => Templates::default_templates(),
        };
        // Read as it was checked when built; a release that reads it more strictly
        // searches without it rather than refusing a generation it can otherwise serve.
        let lexicon = Lexicon::for_kb(
            stored.shipped_lexicon.as_deref(),
            stored.lexicon.as_deref(),
            &dir.join(ENTRIES_FILE).display().to_string(),
        )
        .unwrap_or_else(|e| {
            tracing::warn!(generation = %dir.display(), error = %e, "the stored lexicon is not read: searching without it");
            Lexicon::default()
        });
        let catalogue = Catalogue::from_models(stored.models);
        let extractor = Extractor::new(rules, catalogue.clone(), &stored.entries);
        let topics = KbTopics::new(&stored.entries);
        let glossary = Glossary::open(dir, &stored.entries);
        let confirmed = desk_messages(
            dir,
            CONFIRMED_VECTORS_FILE,
            &manifest.confirmed_keys,
            &stored.entries,
            manifest.confirmed_offset,
        )?;
        let unhelpful = desk_messages(
            dir,
            UNHELPFUL_VECTORS_FILE,
            &manifest.unhelpful_keys,
            &stored.entries,
            manifest.confirmed_offset,
        )?;
        let languages = crate::kb::lang::language_summary(&stored.entries);
        Ok(Arc::new(Generation {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            dir: dir.to_path_buf(),
            manifest,
            catalogue,
            lexicon,
            entries: stored.entries,
            bm25,
            vectors,
            extractor,
            templates,
            training: stored.training,
            topics,
            glossary,
            languages,
            calibration: Calibration::load(dir),
            confirmed,
            unhelpful,
            by_id,
        }))
    }

    pub fn entry(&self, ord: u32) -> &KbEntry {
        &self.entries[ord as usize]
    }

    pub fn ord_of(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }
}

/// Model keys of each entry, in entry order (empty for generic entries).
pub fn entry_model_keys(entries: &[KbEntry]) -> Vec<Vec<String>> {
    entries
        .iter()
        .map(|e| e.models.iter().map(|m| model_key(m)).collect())
        .collect()
}
