//! The record an import keeps in its collection (`.import.json`): which files it came from
//! and the hash of each entry file as the import wrote it. An update reads it to tell the
//! import's own files (replaceable) from those an editor changed since (not replaced
//! unasked).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::problem;
use crate::error::{Error, Result};

/// The record's file in its collection's directory (not a `.toml`: the KB's loader never
/// reads it as an entry).
pub const MANIFEST_FILE: &str = ".import.json";

/// `.import.json`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(super) struct Manifest {
    /// The file (or files) imported last.
    pub source: String,
    /// Entry id → SHA-256 (hex) of its file's bytes as the import wrote them.
    pub entries: BTreeMap<String, String>,
    /// While an import renames its files into place: each entry's hash before it, also
    /// the import's own. An import stopped midway (a crash, Ctrl-C, a full disk) thus
    /// leaves files of either version, both known as the import's, and the next update
    /// finishes the work instead of taking them for an editor's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub previous: BTreeMap<String, String>,
}

impl Manifest {
    /// Whether `bytes` are the entry `id` as an import wrote it.
    pub fn wrote(&self, id: &str, bytes: &[u8]) -> bool {
        let hash = sha256(bytes);
        self.entries.get(id) == Some(&hash) || self.previous.get(id) == Some(&hash)
    }

    /// Whether the record names the entry `id`.
    pub fn names(&self, id: &str) -> bool {
        self.entries.contains_key(id) || self.previous.contains_key(id)
    }
}

pub(super) fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(super) fn read_manifest(collection_dir: &Path) -> Result<Option<Manifest>> {
    let path = collection_dir.join(MANIFEST_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        let message = format!(
            "not the record an import writes ({e}); remove it to import anew (files changed by hand are then not told apart)"
        );
        Error::KbInvalid(vec![problem(
            &path.display().to_string(),
            Some(e.line()),
            None,
            message,
        )])
    })
}

pub(super) fn render_manifest(manifest: &Manifest) -> Result<String> {
    serde_json::to_string_pretty(manifest)
        .map_err(|e| Error::Internal(format!("rendering the import record: {e}")))
}
