//! Builds a new generation from the KB files and switches to it atomically.
//!
//! Every file is validated first; on any error nothing is written and the serving
//! generation stays. Vectors of chunks whose text did not change are copied from the
//! current generation, so only new or edited entries are embedded again.
//!
//! Durability: every file of the new generation and every directory it adds to are
//! synced before `CURRENT` moves, and `CURRENT` is replaced by a synced rename, so after
//! a power loss `CURRENT` names either the previous generation or a complete new one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::bm25;
use super::calibrate;
use super::calibration::{CalibrationSource, CalibrationSummary, FitRecord, CALIBRATION_FILE};
use super::chunk::{chunk_entry, chunk_key};
use super::confirmed::{
    calibration_note, confirmed_chunks, embed_confirmed, leave_out_searched, save_desk_messages,
    ConfirmedSummary,
};
use super::fusion::FusionConfig;
use super::generation::Generation;
use super::generation::{
    current_generation_name, generation_name, generation_number, generations_dir, read_json,
    Manifest, StoredEntries, CURRENT_FILE, ENTRIES_FILE, MANIFEST_FILE, TANTIVY_DIR,
};
use super::glossary::{Glossary, GlossarySummary};
use super::previous::{kept_calibration, previous_glossary, reusable_vectors};
use super::recovery::{
    locked_elsewhere, remove_partials, try_lock_reindex, unix_now, ReindexLock, PARTIAL_SUFFIX,
};
use super::vector::{ChunkVectors, VECTORS_FILE};
use crate::durable::{replace_file_synced, sync_dir, write_file_streamed};
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::extract::load_kb;
use crate::kb::lexicon::{LexiconSummary, BUILTIN_LEXICON};

/// How many generations to keep on disk (the current one included).
pub const KEEP_GENERATIONS: usize = 3;
/// Passages embedded per call to the model.
const EMBED_BATCH: usize = 32;

/// Progress of a reindex, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// The KB files validated: this many entries will be indexed.
    Validated {
        entries: usize,
    },
    Embedding {
        done: usize,
        total: usize,
    },
    /// Embedding the KB's words for the glossary (those the previous generation did not
    /// have), after the passages.
    Glossary {
        done: usize,
        total: usize,
    },
    Indexing,
    Calibrating,
    Switching,
}

/// How the generation searches and what its decision aims at, for the calibration.
#[derive(Debug, Clone, Copy)]
pub struct ReindexOptions {
    pub fusion: FusionConfig,
    /// Precision automatic answers must reach (the threshold is read off for it).
    pub target_precision: f32,
}

impl Default for ReindexOptions {
    fn default() -> Self {
        ReindexOptions {
            fusion: FusionConfig::default(),
            target_precision: 0.95,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReindexReport {
    pub generation: String,
    pub entries: usize,
    pub chunks: usize,
    pub embedded_chunks: usize,
    pub reused_chunks: usize,
    pub seconds: f64,
    pub entries_per_second: f64,
    pub calibration: CalibrationSummary,
    pub lexicon: LexiconSummary,
    pub glossary: GlossarySummary,
    pub confirmed: ConfirmedSummary,
    pub languages: crate::kb::lang::LanguageSummary,
}

/// Hook to push a generation's vectors to an external store before the switch.
pub trait VectorPublisher {
    /// Returns the collection name recorded in the manifest.
    fn publish(
        &self,
        generation: u64,
        vectors: &ChunkVectors,
        entry_models: &[Vec<String>],
        entry_ids: &[String],
    ) -> Result<String>;
    /// Called after `CURRENT` points at `generation`.
    fn activate(&self, collection: &str) -> Result<()>;
    /// Drops the collection of a generation removed from disk.
    fn retire(&self, collection: &str) -> Result<()>;
}

/// Serialised straight into the file: a large KB's entries are not held twice.
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    write_file_streamed(path, |out| {
        serde_json::to_writer(out, value).map_err(std::io::Error::other)
    })
}

/// One past the highest generation number on disk or in `CURRENT`: a number `CURRENT`
/// names is never reused, even when a power loss took its directory, so a server that
/// found it damaged cannot mistake the next build for it.
fn next_generation_id(data_dir: &Path, gens: &Path) -> Result<u64> {
    let mut max = current_generation_name(data_dir)?
        .and_then(|name| generation_number(&name))
        .unwrap_or(0);
    if gens.is_dir() {
        for item in std::fs::read_dir(gens)
            .map_err(|e| Error::io(format!("listing {}", gens.display()), e))?
        {
            let item = item.map_err(|e| Error::io("listing generations", e))?;
            let name = item.file_name().to_string_lossy().into_owned();
            if let Some(n) = name
                .strip_prefix("gen-")
                .and_then(|s| s.split('.').next())
                .and_then(|s| s.parse::<u64>().ok())
            {
                max = max.max(n);
            }
        }
    }
    Ok(max + 1)
}

/// Removes all but the newest `KEEP_GENERATIONS` generations (unfinished builds went
/// at the start). A server still searching an old generation keeps its open files (mmap)
/// until it drops it.
fn collect_garbage(gens: &Path, current: &str, publisher: Option<&dyn VectorPublisher>) {
    let Ok(read) = std::fs::read_dir(gens) else {
        return;
    };
    let mut finished: Vec<String> = Vec::new();
    for item in read.flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with("gen-") && !name.ends_with(PARTIAL_SUFFIX) {
            finished.push(name);
        }
    }
    finished.sort();
    let excess = finished.len().saturating_sub(KEEP_GENERATIONS);
    for name in finished.into_iter().take(excess) {
        if name != current {
            let dir = gens.join(&name);
            if let (Some(p), Ok(manifest)) = (
                publisher,
                read_json::<Manifest>(&dir.join(super::generation::MANIFEST_FILE)),
            ) {
                if let Some(collection) = manifest.qdrant_collection {
                    if let Err(e) = p.retire(&collection) {
                        tracing::warn!(collection, error = %e.chain(), "could not drop the collection of an old generation");
                    }
                }
            }
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Takes the reindex lock of `data_dir` (created if missing); a conflict naming the
/// holder when another reindex has it.
pub fn lock_data_dir(data_dir: &Path) -> Result<ReindexLock> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| Error::io(format!("creating {}", data_dir.display()), e))?;
    try_lock_reindex(data_dir)?.ok_or_else(|| locked_elsewhere(data_dir))
}

/// Validates `kb_dir`, builds the next generation under `data_dir` and makes it current.
pub fn reindex(
    kb_dir: &Path,
    data_dir: &Path,
    embedder: &dyn Embedder,
    publisher: Option<&dyn VectorPublisher>,
    options: &ReindexOptions,
    progress: &dyn Fn(Progress),
) -> Result<ReindexReport> {
    let lock = lock_data_dir(data_dir)?;
    reindex_locked(
        lock, kb_dir, data_dir, embedder, publisher, options, progress,
    )
}

/// `reindex` with the data directory's lock already taken (`lock_data_dir`): a server
/// takes it when the reindex is asked for, so a second request, from any server sharing
/// the directory, is refused at once rather than failing later.
pub fn reindex_locked(
    lock: ReindexLock,
    kb_dir: &Path,
    data_dir: &Path,
    embedder: &dyn Embedder,
    publisher: Option<&dyn VectorPublisher>,
    options: &ReindexOptions,
    progress: &dyn Fn(Progress),
) -> Result<ReindexReport> {
    let started = Instant::now();
    let mut kb = load_kb(kb_dir)?;
    progress(Progress::Validated {
        entries: kb.entries.len(),
    });
    let gens = generations_dir(data_dir);
    std::fs::create_dir_all(&gens)
        .map_err(|e| Error::io(format!("creating {}", gens.display()), e))?;
    // The generations directory must be on the disk before anything `CURRENT` names in it.
    sync_dir(data_dir)?;
    // With the lock held, any unfinished build is a killed reindex's.
    for stale in remove_partials(data_dir)? {
        tracing::info!(build = %stale, "removed an unfinished build");
    }

    let id = next_generation_id(data_dir, &gens)?;
    let name = generation_name(id);
    // Every log line of this build, phases included, names the generation it builds.
    let _reindex =
        tracing::info_span!("reindex", generation = %name, entries = kb.entries.len()).entered();
    let partial: PathBuf = gens.join(format!("{name}{PARTIAL_SUFFIX}"));
    std::fs::create_dir_all(&partial)
        .map_err(|e| Error::io(format!("creating {}", partial.display()), e))?;

    // Chunks, and which of them need the model. The vectors are filled in place, reused
    // or fresh, so a large KB holds one set of them (and, until they are copied, the
    // previous generation's).
    let model = embedder.name().to_string();
    let reuse = reusable_vectors(data_dir, &model, embedder.dim());
    let mut chunk_texts: Vec<(u32, String, String)> = Vec::new();
    for (ord, entry) in kb.entries.iter().enumerate() {
        for chunk in chunk_entry(entry) {
            let key = chunk_key(&model, &chunk);
            chunk_texts.push((ord as u32, key, chunk));
        }
    }
    // Each entry's version: the manifest's, and what an unhelpful mark is checked against.
    let content_hashes: HashMap<String, String> = kb
        .entries
        .iter()
        .map(|e| (e.id.clone(), e.content_hash()))
        .collect();
    let confirmed = confirmed_chunks(&kb.entries, &content_hashes, &kb.confirmed);
    if confirmed.dropped > 0 {
        tracing::warn!(
            dropped = confirmed.dropped,
            "confirmed answers naming no entry of the KB were left out"
        );
    }
    if confirmed.lapsed > 0 {
        tracing::info!(
            lapsed = confirmed.lapsed,
            "unhelpful marks on changed entries lapsed"
        );
    }
    let mut vectors = ChunkVectors::zeroed(
        embedder.dim(),
        chunk_texts.iter().map(|(ord, _, _)| *ord).collect(),
    );
    let mut missing: Vec<usize> = Vec::new();
    for (row, (_, key, _)) in chunk_texts.iter().enumerate() {
        match reuse.as_ref().and_then(|r| r.vector(key)) {
            Some(v) => vectors.set(row, v)?,
            None => missing.push(row),
        }
    }
    let embedding = tracing::info_span!(
        "embedding",
        chunks = chunk_texts.len(),
        missing = missing.len()
    )
    .entered();
    progress(Progress::Embedding {
        done: 0,
        total: missing.len(),
    });
    // The confirmed answers first (few, and mostly reused), so the previous generation's
    // vectors are let go before the passages' embedding, the longest phase.
    let (confirmed_vectors, confirmed_keys, confirmed_embedded) =
        embed_confirmed(&confirmed.chunks, &model, embedder, |key| {
            reuse.as_ref().and_then(|r| r.vector(key))
        })?;
    let (unhelpful_vectors, unhelpful_keys, _) =
        embed_confirmed(&confirmed.unhelpful, &model, embedder, |key| {
            reuse.as_ref().and_then(|r| r.vector(key))
        })?;
    drop(reuse);
    vectors.embed_rows(
        &missing,
        |row| chunk_texts[row].2.as_str(),
        EMBED_BATCH,
        "passages",
        |texts| {
            crate::telemetry::embedding_batch("passage", texts.len());
            embedder.embed_passages(texts)
        },
        |done| {
            progress(Progress::Embedding {
                done,
                total: missing.len(),
            })
        },
    )?;
    drop(embedding);

    // The KB's words, embedded alone, for messages in another language (see `glossary`).
    let glossary = {
        let _span = tracing::info_span!("glossary").entered();
        let previous = previous_glossary(data_dir);
        let glossary = Glossary::build_with_progress(
            &kb.entries,
            embedder,
            previous.as_ref(),
            &|done, total| progress(Progress::Glossary { done, total }),
        )?;
        glossary.save(&partial)?;
        let summary = glossary.summary();
        tracing::info!(
            words = summary.words,
            embedded = summary.embedded,
            seconds = summary.seconds,
            "built the glossary"
        );
        summary
    };
    let chunk_keys: Vec<String> = chunk_texts.into_iter().map(|(_, key, _)| key).collect();

    let indexing = tracing::info_span!("indexing").entered();
    progress(Progress::Indexing);
    bm25::build(&partial.join(TANTIVY_DIR), &kb.entries, &kb.catalogue)?;
    // Tantivy syncs its segment files and meta.json, but not the directory after the
    // rename that puts meta.json in place.
    sync_dir(&partial.join(TANTIVY_DIR))?;
    vectors.save(&partial.join(VECTORS_FILE))?;
    let confirmed_split =
        calibrate::confirmed_queries(0, &confirmed.chunks, calibrate::MIN_SEARCHED);
    let confirmed_offset = save_desk_messages(
        &partial,
        embedder,
        &vectors,
        (&confirmed_vectors, &confirmed.chunks),
        &unhelpful_vectors,
    )?;
    // The entries move into the stored form and back, rather than being copied: on a
    // large KB they are, with the vectors, most of what a reindex holds.
    let stored = StoredEntries {
        entries: std::mem::take(&mut kb.entries),
        models: kb.catalogue.models().to_vec(),
        rules: kb.rules.clone(),
        templates: kb.templates.clone(),
        lexicon: kb.lexicon.clone(),
        shipped_lexicon: Some(BUILTIN_LEXICON.to_string()),
        training: std::mem::take(&mut kb.training),
    };
    let written = write_json(&partial.join(ENTRIES_FILE), &stored);
    kb.entries = stored.entries;
    kb.training = stored.training;
    written?;
    let entry_models = super::generation::entry_model_keys(&kb.entries);
    let qdrant_collection = match publisher {
        Some(p) => {
            let ids: Vec<String> = kb.entries.iter().map(|e| e.id.clone()).collect();
            Some(p.publish(id, &vectors, &entry_models, &ids)?)
        }
        None => None,
    };
    let manifest = Manifest {
        generation: id,
        created_at: unix_now(),
        kb_dir: kb_dir.display().to_string(),
        model,
        dim: embedder.dim(),
        entries: kb.entries.len(),
        chunks: vectors.len(),
        chunk_keys,
        content_hashes,
        qdrant_collection: qdrant_collection.clone(),
        exact_int8: true,
        confirmed_keys,
        confirmed_offset,
        unhelpful_keys,
    };
    write_json(&partial.join(MANIFEST_FILE), &manifest)?;

    drop(indexing);

    let calibrating = tracing::info_span!("calibrating").entered();
    progress(Progress::Calibrating);
    let inputs = calibrate::fit_inputs(
        &manifest.model,
        embedder.glossary_min_cosine(),
        &options.fusion,
        kb.catalogue.models(),
        kb_dir,
    )?;
    // The generation as searches will see it: opened whether or not the calibration is
    // fitted again, so a build that cannot be served never becomes `CURRENT`.
    let mut built = Generation::open(&partial, None)?;
    let fitted = match kept_calibration(data_dir, &manifest, &inputs, options.fusion.method) {
        Some(mut kept) => {
            tracing::info!(fit = ?kept.fit, "kept the previous generation's calibration");
            if kept.decisive.is_none() {
                // Fitted before BM25's decisive precision was measured, or too few
                // decisive queries then: measuring it is BM25 only, and cheap.
                kept.decisive = calibrate::decisive_precision(&built, &options.fusion)?.0;
            }
            kept
        }
        None => {
            let (mut labelled, mut notes) = calibrate::kb_labelled_queries(kb_dir, &built)?;
            let kb_model = calibrate::kb_model(kb_dir)?;
            // Confirmed answers are searched on an index without their own.
            let split = confirmed_split;
            let unseen_share = split.unseen_share;
            if let Some(note) = calibration_note(&confirmed.chunks, &split, confirmed_offset) {
                notes.push(note);
            }
            leave_out_searched(
                &mut built,
                &split,
                &confirmed_vectors,
                entry_models,
                confirmed_offset,
            )?;
            labelled.extend(split.queries);
            let mut fitted = calibrate::calibrate(
                &built,
                embedder,
                &options.fusion,
                labelled,
                kb_model,
                unseen_share,
            )?;
            fitted.notes.append(&mut notes);
            if fitted.source != CalibrationSource::Fallback {
                fitted.fit = Some(FitRecord {
                    generation: id,
                    inputs,
                    entries: kb.entries.len(),
                    changed_since: 0,
                });
            }
            tracing::info!(
                source = ?fitted.source,
                queries = fitted.queries,
                top1_accuracy = fitted.top1_accuracy,
                calibration_error = fitted.calibration_error,
                seconds = fitted.seconds,
                "calibrated relevance"
            );
            fitted
        }
    };
    let (lexicon, languages) = (built.lexicon.summary(), built.languages.clone());
    drop(built);
    write_json(&partial.join(CALIBRATION_FILE), &fitted)?;

    drop(calibrating);

    progress(Progress::Switching);
    // Files synced as written; now the names in the build, then the build's own name.
    sync_dir(&partial)?;
    let final_dir = gens.join(&name);
    std::fs::rename(&partial, &final_dir)
        .map_err(|e| Error::io(format!("publishing {}", final_dir.display()), e))?;
    sync_dir(&gens)?;
    replace_file_synced(&data_dir.join(CURRENT_FILE), format!("{name}\n").as_bytes())?;
    if let (Some(p), Some(c)) = (publisher, &qdrant_collection) {
        p.activate(c)?;
    }
    collect_garbage(&gens, &name, publisher);
    drop(lock);

    let seconds = started.elapsed().as_secs_f64();
    Ok(ReindexReport {
        generation: name,
        entries: kb.entries.len(),
        chunks: vectors.len(),
        embedded_chunks: missing.len(),
        reused_chunks: vectors.len() - missing.len(),
        seconds,
        entries_per_second: kb.entries.len() as f64 / seconds.max(1e-9),
        calibration: fitted.summary(options.target_precision),
        lexicon,
        glossary,
        confirmed: ConfirmedSummary {
            answers: confirmed.chunks.len(),
            embedded: confirmed_embedded,
            dropped: confirmed.dropped,
            offset: confirmed_offset,
            unhelpful: confirmed.unhelpful.len(),
            unhelpful_lapsed: confirmed.lapsed,
        },
        languages,
    })
}
