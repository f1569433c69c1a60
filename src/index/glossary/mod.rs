//! The KB's own words, each with its embedding, so a message in the other language can
//! be searched with the KB's words as well as its own.
//!
//! Keyword search only sees words. A French KB shares almost none with an English
//! message ("landlord", "deadline", "refund" against "locataire", "délai",
//! "remboursement"), so on such a message BM25 brings nothing, or noise, to the fusion;
//! the shipped lexicon covers printer support only. The embedding model is multilingual
//! and places a word near its translation: each word of the message that the KB does not
//! have is embedded alone and looks for the KB's nearest words, which keyword search then
//! also looks for, weighed like the lexicon's additions. Words that match only by their
//! spelling ("fine" and "finlande") mostly stay below the model's cut
//! (`glossary_min_cosine` in its `devicekb-model.toml`, recorded in the generation; some
//! pass with e5-small, "invoice" / "invoqué" at 0.935 — see `scripts/glossary_cut.py`):
//! only a KB word within it counts, and at most `PER_WORD` of them.
//!
//! Measured on the two KBs written apart from the product (sets A-J): English tickets on
//! the French FAQ, recall@1 0.663 → 0.774; on the 17-entry printer KB, whose printer words
//! the lexicon already translates, 0.737 → 0.772 (tests/data/transfer/README.md,
//! eleventh round). Messages in the KB's own language are left as they are: their words
//! the KB lacks are mostly misspellings and paraphrases, where the same lookup moved
//! recall@1 by +0.01 and cost automatic answers.
//!
//! Built at reindex (one embedding per distinct word of four letters or more; the
//! previous generation's vectors are reused), stored in the generation. A generation
//! without one, or whose files are damaged, searches as before: the glossary is an aid,
//! not part of what makes a generation servable.

mod message;
mod vocabulary;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::vector::ChunkVectors;
use crate::embed::{dot, stored_vectors_reusable, Embedder};
use crate::error::{Error, Result};
use crate::kb::lang::fold;
use crate::kb::{KbEntry, Lang};
use vocabulary::{known_words, main_language, vocabulary};

pub const GLOSSARY_FILE: &str = "glossary.json";
pub const GLOSSARY_VECTORS_FILE: &str = "glossary.bin";

/// The cut of a generation whose glossary was stored before it was recorded: it was then
/// the default model's (`crate::embed::DEFAULT_GLOSSARY_MIN_COSINE`), the only one used.
const LEGACY_MIN_COSINE: f32 = crate::embed::DEFAULT_GLOSSARY_MIN_COSINE;
/// KB words one message word may add (a word and its plural are often both there).
pub const PER_WORD: usize = 2;
/// Words of one message looked up: a long e-mail would otherwise embed a hundred.
pub const MAX_LOOKUPS: usize = 32;
/// Word vectors embedded per call at reindex.
const EMBED_BATCH: usize = 256;

/// What a generation's glossary holds, for the reindex output and `GET /health`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GlossarySummary {
    /// The KB's words that have a vector.
    pub words: usize,
    /// Of those, embedded by the build that made the generation (the others came from
    /// the generation before).
    pub embedded: usize,
    /// Time that build spent on it.
    pub seconds: f64,
    /// The KB's language ("fr" or "en"): messages in the other one are also searched
    /// with the KB's nearest words. None when no language makes 80 % of the entries (or
    /// the generation was built before there were glossaries).
    #[schema(value_type = Option<String>)]
    pub lang: Option<Lang>,
    /// The cosine a KB word needs to be taken for the translation of a message's word
    /// (the embedding model's `glossary_min_cosine`).
    pub min_cosine: f32,
}

fn legacy_min_cosine() -> f32 {
    LEGACY_MIN_COSINE
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredGlossary {
    /// The model that embedded the words.
    model: String,
    /// The KB's main language; `None`: none is (the glossary is then empty).
    lang: Option<Lang>,
    words: Vec<String>,
    /// The cosine a KB word needs to be taken for a translation (the model's).
    #[serde(default = "legacy_min_cosine")]
    min_cosine: f32,
    /// Whether the words' vectors were made with exact int8 products.
    #[serde(default)]
    exact_int8: bool,
    #[serde(default)]
    embedded: usize,
    #[serde(default)]
    seconds: f64,
}

/// The KB's words of four letters or more with their embeddings, and every word it has.
pub struct Glossary {
    lang: Option<Lang>,
    model: String,
    words: Vec<String>,
    vectors: Option<ChunkVectors>,
    /// A KB word this close to a message's word is taken for its translation: the model's
    /// own cut, since models spread cosines differently (see `DEFAULT_GLOSSARY_MIN_COSINE`).
    min_cosine: f32,
    /// Whether its vectors were made with exact int8 products (see
    /// `embed::stored_vectors_reusable`).
    exact_int8: bool,
    /// Every folded word of the KB, of any length: a message's word found here needs no
    /// translation.
    known: HashSet<String>,
    /// Words the build embedded and the time it took.
    embedded: usize,
    seconds: f64,
}

impl Default for Glossary {
    /// Empty: it translates nothing (no vectors), with the cut of a generation that
    /// recorded none.
    fn default() -> Glossary {
        Glossary {
            lang: None,
            model: String::new(),
            words: Vec::new(),
            vectors: None,
            min_cosine: LEGACY_MIN_COSINE,
            exact_int8: false,
            known: HashSet::new(),
            embedded: 0,
            seconds: 0.0,
        }
    }
}

impl Glossary {
    /// Embeds the vocabulary of `entries` (taking the vectors `previous` has for the same
    /// model). Empty when the KB has no main language or no vectors are wanted.
    pub fn build(
        entries: &[KbEntry],
        embedder: &dyn Embedder,
        previous: Option<&Glossary>,
    ) -> Result<Glossary> {
        Glossary::build_with_progress(entries, embedder, previous, &|_, _| {})
    }

    /// `build`, telling `progress` how many of the words to embed are done (done, total):
    /// on a large KB the first build takes seconds, after the passages' embedding.
    pub fn build_with_progress(
        entries: &[KbEntry],
        embedder: &dyn Embedder,
        previous: Option<&Glossary>,
        progress: &dyn Fn(usize, usize),
    ) -> Result<Glossary> {
        let started = std::time::Instant::now();
        let known = known_words(entries);
        let Some(lang) = main_language(entries) else {
            progress(0, 0);
            return Ok(Glossary {
                known,
                model: embedder.name().to_string(),
                min_cosine: embedder.glossary_min_cosine(),
                ..Glossary::default()
            });
        };
        let words = vocabulary(entries);
        // The previous glossary's vectors, when the same model made them.
        let reusable: HashMap<&str, &[f32]> = previous
            .filter(|p| p.model == embedder.name() && stored_vectors_reusable(p.exact_int8))
            .and_then(|p| p.vectors.as_ref().map(|v| (p, v)))
            .filter(|(_, v)| v.dim == embedder.dim())
            .map(|(p, v)| {
                p.words
                    .iter()
                    .enumerate()
                    .map(|(row, w)| (w.as_str(), v.vector(row)))
                    .collect()
            })
            .unwrap_or_default();
        let mut vectors = ChunkVectors::zeroed(embedder.dim(), (0..words.len() as u32).collect());
        let mut missing: Vec<usize> = Vec::new();
        for (row, word) in words.iter().enumerate() {
            match reusable.get(word.as_str()) {
                Some(v) => vectors.set(row, v)?,
                None => missing.push(row),
            }
        }
        progress(0, missing.len());
        vectors.embed_rows(
            &missing,
            |row| words[row].as_str(),
            EMBED_BATCH,
            "words",
            |texts| {
                crate::telemetry::embedding_batch("word", texts.len());
                embedder.embed_queries(texts)
            },
            |done| progress(done, missing.len()),
        )?;
        Ok(Glossary {
            lang: Some(lang),
            model: embedder.name().to_string(),
            words,
            vectors: Some(vectors),
            min_cosine: embedder.glossary_min_cosine(),
            exact_int8: true,
            known,
            embedded: missing.len(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The language a message must not be in to be translated.
    pub fn lang(&self) -> Option<Lang> {
        self.lang
    }

    pub fn summary(&self) -> GlossarySummary {
        GlossarySummary {
            words: self.words.len(),
            embedded: self.embedded,
            seconds: self.seconds,
            lang: self.lang,
            min_cosine: self.min_cosine,
        }
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        let stored = StoredGlossary {
            model: self.model.clone(),
            lang: self.lang,
            words: self.words.clone(),
            min_cosine: self.min_cosine,
            exact_int8: self.exact_int8,
            embedded: self.embedded,
            seconds: self.seconds,
        };
        let json = serde_json::to_vec(&stored)
            .map_err(|e| Error::Internal(format!("serialising the glossary: {e}")))?;
        crate::durable::write_file_synced(&dir.join(GLOSSARY_FILE), &json)?;
        let vectors = self.vectors.clone().unwrap_or_else(|| ChunkVectors::new(1));
        vectors.save(&dir.join(GLOSSARY_VECTORS_FILE))
    }

    /// The glossary stored in `dir`: empty for a generation built before there was one
    /// (its messages are searched untranslated, as they were then); an error when its
    /// files are damaged.
    pub fn load(dir: &Path, entries: &[KbEntry]) -> Result<Glossary> {
        let known = known_words(entries);
        let path = dir.join(GLOSSARY_FILE);
        if !path.exists() {
            return Ok(Glossary {
                known,
                ..Glossary::default()
            });
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let stored: StoredGlossary = serde_json::from_slice(&bytes)
            .map_err(|e| Error::index_caused(path.display().to_string(), e))?;
        let vectors = ChunkVectors::load(&dir.join(GLOSSARY_VECTORS_FILE))?;
        let damaged = |what: String| Error::index(format!("{}: {what}", dir.display()));
        if vectors.len() != stored.words.len() {
            return Err(damaged(format!(
                "{} word vectors for {} words",
                vectors.len(),
                stored.words.len()
            )));
        }
        if vectors.data.iter().any(|x| !x.is_finite()) {
            return Err(damaged("a word vector that is not a number".into()));
        }
        if !crate::embed::is_glossary_cut(stored.min_cosine) {
            return Err(damaged(format!(
                "a translation cut of {}, outside (0, 1]",
                stored.min_cosine
            )));
        }
        Ok(Glossary {
            lang: stored.lang,
            model: stored.model,
            words: stored.words,
            vectors: Some(vectors),
            min_cosine: stored.min_cosine,
            exact_int8: stored.exact_int8,
            known,
            embedded: stored.embedded,
            seconds: stored.seconds,
        })
    }

    /// `load`, or, when the files are damaged, an empty glossary and a warning: like the
    /// lexicon and the calibration, it helps a generation's searches but is not needed
    /// to serve them.
    pub fn open(dir: &Path, entries: &[KbEntry]) -> Glossary {
        Glossary::load(dir, entries).unwrap_or_else(|e| {
            tracing::warn!(generation = %dir.display(), error = %e, "the glossary is not read: messages in another language are searched with their own words");
            Glossary {
                known: known_words(entries),
                ..Glossary::default()
            }
        })
    }

    /// The words of `text` to look up: when the message is not in the KB's language,
    /// its content words (see `message::content_words`) that the KB does not have, at
    /// most `MAX_LOOKUPS`.
    pub fn words_to_translate(&self, text: &str, lang: Lang) -> Vec<String> {
        if self.is_empty() || self.lang == Some(lang) {
            return Vec::new();
        }
        let mut words = message::content_words(text, lang);
        words.retain(|w| !self.known.contains(&fold(w)));
        words.truncate(MAX_LOOKUPS);
        words
    }

    /// For each vector (of a word `words_to_translate` gave; an empty one stands for a
    /// word without a vector), the KB's nearest words within `min_cosine`, at most
    /// `PER_WORD` each, without repeats. One pass over the table, every word's vector
    /// compared with each row while the row is in cache.
    pub fn nearest_words(&self, vectors: &[Vec<f32>]) -> Vec<String> {
        let Some(table) = &self.vectors else {
            return Vec::new();
        };
        let queries: Vec<&[f32]> = vectors
            .iter()
            .filter(|v| v.len() == table.dim)
            .map(Vec::as_slice)
            .collect();
        let mut best: Vec<Vec<(f32, usize)>> =
            vec![Vec::with_capacity(PER_WORD + 1); queries.len()];
        for row in 0..table.len() {
            let word_vector = table.vector(row);
            for (query, best) in queries.iter().zip(best.iter_mut()) {
                let cosine = dot(query, word_vector);
                // A NaN is never taken for a close word.
                if cosine.is_nan() || cosine < self.min_cosine {
                    continue;
                }
                let at = best.partition_point(|&(c, _)| c >= cosine);
                if at < PER_WORD {
                    best.insert(at, (cosine, row));
                    best.truncate(PER_WORD);
                }
            }
        }
        let mut out: Vec<String> = Vec::new();
        for (_, row) in best.into_iter().flatten() {
            let word = &self.words[row];
            if !out.contains(word) {
                out.push(word.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
