//! A small edit keeps the last fit.
//!
//! A fit costs about `QUERY_BUDGET` searches, each with a new query embedding: a few
//! seconds whatever the KB's size, which on a large KB is most of what an edit of one
//! entry costs. One entry out of thousands cannot move a fit made over a thousand
//! pseudo-queries drawn from all of them, so a generation keeps its predecessor's
//! calibration while the entries added, edited or removed since that fit stay within
//! `REFIT_SHARE` of the KB and nothing else the fit depends on changed (`fit_inputs`).
//! The count adds up over the generations that keep a fit, so a run of small edits ends
//! in a refit. A KB of fewer than `1 / REFIT_SHARE` entries refits on any change: there
//! one entry is a real share of the samples, and the fit is quick anyway (a reindex that
//! changed nothing keeps the fit whatever the size).

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{KB_MODEL_FILE, KB_QUERIES_FILE};
use crate::error::{Error, Result};
use crate::index::calibration::{Calibration, CalibrationSource, FitRecord, FEATURES_VERSION};
use crate::index::fusion::{FusionConfig, FusionMethod};
use crate::kb::confirmed::CONFIRMED_FILE;
use crate::kb::lexicon::{BUILTIN_LEXICON, LEXICON_FILE};
use crate::kb::PrinterModel;

/// Share of the KB's entries that may change before the calibration is fitted again.
pub const REFIT_SHARE: f64 = 0.01;
/// Version of the calibration's own rules (pseudo-queries, curve): 2 since covered mixed
/// pseudo-queries stay out of the curve; 3 since the vectors' int8 products are exact on
/// every processor (a fit made with the saturating ones is not kept); 4 since confirmed
/// answers are searched beside the entries and join the fit.
const FIT_RULES: u32 = 4;
/// Start of the note a kept calibration carries (replaced, not repeated, when kept again).
const KEPT_NOTE: &str = "kept the calibration fitted for generation";

/// Digest of what a fit depends on besides the entries: the embedding model and its
/// glossary cut (pseudo-queries in the other language are translated with it), the fusion
/// settings, keyword search's weights and lexicon, the catalogue, the KB's labelled
/// queries and shipped model, the relevance features' version, the product's release
/// (whose pseudo-queries and search made the fit) and `FIT_RULES`. A change to the
/// features within one release bumps `FEATURES_VERSION`; a change to how the queries are
/// made or the curve is read, which leaves a KB's shipped model valid, bumps `FIT_RULES`.
pub fn fit_inputs(
    model: &str,
    glossary_min_cosine: f32,
    fusion: &FusionConfig,
    catalogue: &[PrinterModel],
    kb_dir: &Path,
) -> Result<String> {
    let mut digest = Sha256::new();
    digest.update(env!("CARGO_PKG_VERSION"));
    digest.update(FEATURES_VERSION.to_le_bytes());
    digest.update(FIT_RULES.to_le_bytes());
    digest.update(model);
    digest.update(glossary_min_cosine.to_le_bytes());
    digest.update(format!("{fusion:?}"));
    digest.update(serde_json::to_vec(catalogue).map_err(|e| Error::Internal(e.to_string()))?);
    // What BM25 finds: its weights, the shipped lexicon and the KB's own (below).
    digest.update(format!("{:?}", crate::index::bm25::scoring_weights()));
    digest.update(BUILTIN_LEXICON);
    for file in [KB_QUERIES_FILE, KB_MODEL_FILE, LEXICON_FILE, CONFIRMED_FILE] {
        let path = kb_dir.join(file);
        match std::fs::read(&path) {
            Ok(bytes) => {
                digest.update((bytes.len() as u64).to_le_bytes());
                digest.update(&bytes);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                digest.update(u64::MAX.to_le_bytes())
            }
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }
    Ok(hex::encode(digest.finalize()))
}

/// Entries added, edited or removed between two generations' content hashes (by id).
pub fn changed_entries(before: &HashMap<String, String>, after: &HashMap<String, String>) -> usize {
    let added_or_edited = after
        .iter()
        .filter(|(id, hash)| before.get(*id) != Some(*hash))
        .count();
    let removed = before.keys().filter(|id| !after.contains_key(*id)).count();
    added_or_edited + removed
}

/// The previous generation's calibration, to be kept by the next one when `changed`
/// entries (since the previous generation) keep the total since its fit within
/// `REFIT_SHARE` and `inputs` are the fit's own; `None`: fit again.
/// `fusion`: the method the inputs were digested with, which the kept fit was therefore
/// made under (a fit stored before `Calibration::fusion` was recorded gets it here).
pub fn kept_calibration(
    previous: &Calibration,
    inputs: &str,
    changed: usize,
    fusion: FusionMethod,
) -> Option<Calibration> {
    if previous.source == CalibrationSource::Fallback {
        return None;
    }
    let fit = previous.fit.as_ref()?;
    if fit.inputs != inputs {
        return None;
    }
    let changed_since = fit.changed_since + changed;
    let allowed = (fit.entries as f64 * REFIT_SHARE).floor() as usize;
    if changed_since > allowed {
        return None;
    }
    let mut kept = previous.clone();
    kept.seconds = 0.0;
    kept.fusion = Some(fusion);
    kept.notes.retain(|n| !n.starts_with(KEPT_NOTE));
    kept.notes.push(format!(
        "{KEPT_NOTE} {}: {changed_since} of its {} entries changed since (a refit comes past {allowed})",
        fit.generation, fit.entries
    ));
    kept.fit = Some(FitRecord {
        changed_since,
        ..fit.clone()
    });
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fitted(entries: usize, changed_since: usize) -> Calibration {
        let mut c = Calibration::fallback("x");
        c.source = CalibrationSource::PseudoQueries;
        c.notes.clear();
        c.fit = Some(FitRecord {
            generation: 7,
            inputs: "abc".into(),
            entries,
            changed_since,
        });
        c
    }

    fn hashes(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn counts_added_edited_and_removed_entries() {
        let before = hashes(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let after = hashes(&[("a", "1"), ("b", "9"), ("d", "4")]);
        assert_eq!(changed_entries(&before, &after), 3);
        assert_eq!(changed_entries(&before, &before), 0);
    }

    const Z: FusionMethod = FusionMethod::Zscore;

    #[test]
    fn a_small_edit_keeps_the_fit_and_the_count_adds_up() {
        let first =
            kept_calibration(&fitted(10_000, 0), "abc", 1, Z).expect("one of 10,000 is kept");
        assert_eq!(first.fit.as_ref().unwrap().changed_since, 1);
        // A fit stored before the fusion was recorded says it once kept: the inputs it
        // matched were digested with that fusion.
        assert_eq!(fitted(10_000, 0).fusion, None);
        assert_eq!(first.fusion, Some(Z));
        assert_eq!(first.seconds, 0.0);
        let second = kept_calibration(&first, "abc", 99, Z).expect("100 of 10,000 is kept");
        assert_eq!(
            second.notes.len(),
            1,
            "one note, the newest: {:?}",
            second.notes
        );
        assert!(
            second.notes[0].contains("100 of its 10000"),
            "{:?}",
            second.notes
        );
        assert!(
            kept_calibration(&second, "abc", 1, Z).is_none(),
            "101 of 10,000 refits"
        );
    }

    #[test]
    fn other_inputs_a_small_kb_a_fallback_or_an_old_record_refit() {
        assert!(kept_calibration(&fitted(10_000, 0), "other", 1, Z).is_none());
        assert!(kept_calibration(&fitted(99, 0), "abc", 1, Z).is_none());
        assert!(kept_calibration(&fitted(99, 0), "abc", 0, Z).is_some());
        let mut fallback = fitted(10_000, 0);
        fallback.source = CalibrationSource::Fallback;
        assert!(kept_calibration(&fallback, "abc", 0, Z).is_none());
        let mut old = fitted(10_000, 0);
        old.fit = None;
        assert!(kept_calibration(&old, "abc", 0, Z).is_none());
    }
}
