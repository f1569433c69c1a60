//! What the current generation lends the next build: the vectors of chunks whose text
//! did not change, the glossary's word vectors, and its calibration when few entries
//! changed. Each is read defensively: a damaged or foreign generation lends nothing and
//! the build does the work itself.

use std::collections::HashMap;
use std::path::Path;

use super::calibrate;
use super::calibration::{Calibration, CALIBRATION_FILE};
use super::fusion::FusionMethod;
use super::generation::{
    current_generation_name, generations_dir, read_json, Manifest, CONFIRMED_VECTORS_FILE,
    MANIFEST_FILE, UNHELPFUL_VECTORS_FILE,
};
use super::glossary::Glossary;
use super::recovery::complete_generations;
use super::vector::{ChunkVectors, VECTORS_FILE};

/// The current generation's vectors (or, when it is damaged, the newest ones that load)
/// with the row of each chunk key, when made by the same model: chunks whose text did
/// not change take their vector from there instead of the model.
pub(super) struct Reusable {
    vectors: ChunkVectors,
    row_of: HashMap<String, usize>,
}

impl Reusable {
    pub(super) fn vector(&self, key: &str) -> Option<&[f32]> {
        self.row_of.get(key).map(|&row| self.vectors.vector(row))
    }
}

pub(super) fn reusable_vectors(data_dir: &Path, model: &str, dim: usize) -> Option<Reusable> {
    let current = current_generation_name(data_dir).ok().flatten();
    let others = complete_generations(data_dir).unwrap_or_default();
    for name in current
        .iter()
        .chain(others.iter().filter(|n| Some(*n) != current.as_ref()))
    {
        let dir = generations_dir(data_dir).join(name);
        let (Ok(manifest), Ok(vectors)) = (
            read_json::<Manifest>(&dir.join(MANIFEST_FILE)),
            ChunkVectors::load(&dir.join(VECTORS_FILE)),
        ) else {
            continue;
        };
        if manifest.model != model
            || !crate::embed::stored_vectors_reusable(manifest.exact_int8)
            || manifest.dim != dim
            || vectors.dim != dim
            || manifest.chunk_keys.len() != vectors.len()
        {
            return None;
        }
        let mut vectors = vectors;
        let mut keys = manifest.chunk_keys;
        // The desk's messages' vectors too (confirmed answers, unhelpful replies'), when
        // they are whole.
        for (file, desk_keys) in [
            (CONFIRMED_VECTORS_FILE, manifest.confirmed_keys),
            (UNHELPFUL_VECTORS_FILE, manifest.unhelpful_keys),
        ] {
            if let Ok(desk) = ChunkVectors::load(&dir.join(file)) {
                if desk.dim == dim && desk.len() == desk_keys.len() {
                    for (row, key) in desk_keys.into_iter().enumerate() {
                        vectors.push(0, desk.vector(row));
                        keys.push(key);
                    }
                }
            }
        }
        let row_of = keys
            .into_iter()
            .enumerate()
            .map(|(row, key)| (key, row))
            .collect();
        return Some(Reusable { vectors, row_of });
    }
    None
}

/// The current generation's glossary, whose word vectors the new one may reuse.
pub(super) fn previous_glossary(data_dir: &Path) -> Option<Glossary> {
    let current = current_generation_name(data_dir).ok().flatten()?;
    Glossary::load(&generations_dir(data_dir).join(current), &[]).ok()
}

/// The calibration of the current generation when the new one may keep it
/// (`calibrate::kept_calibration`): few entries changed, nothing else the fit reads.
pub(super) fn kept_calibration(
    data_dir: &Path,
    manifest: &Manifest,
    inputs: &str,
    fusion: FusionMethod,
) -> Option<Calibration> {
    let current = current_generation_name(data_dir).ok().flatten()?;
    let dir = generations_dir(data_dir).join(current);
    let previous_manifest = read_json::<Manifest>(&dir.join(MANIFEST_FILE)).ok()?;
    let previous = read_json::<Calibration>(&dir.join(CALIBRATION_FILE)).ok()?;
    let changed =
        calibrate::changed_entries(&previous_manifest.content_hashes, &manifest.content_hashes);
    calibrate::kept_calibration(&previous, inputs, changed, fusion)
}
