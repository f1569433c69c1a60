//! Writing an import's entries into a KB directory. Everything is staged in a temporary
//! directory and renamed into place, so a reader never meets half an entry nor, when an
//! import replaces a collection, half a collection.
//!
//! An import records what it wrote in its collection (`.import.json`: each entry file's
//! hash). That is what lets a customer import their export again after editing their help
//! centre (`--update`): the collection becomes the export (entries added, changed, removed),
//! while an entry file an editor changed by hand since the last import is never overwritten
//! or removed unless asked (`--replace-edited`), and a file no import wrote is kept.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{existing_catalogue, problem, render_catalogue, slugify, ImportReport};
use crate::error::{Error, Result, ValidationError};
use crate::kb::catalogue::PrinterModel;
use crate::kb::entry::KbEntry;
use crate::kb::load::{entry_files, CATALOGUE_FILE, ENTRIES_DIR};

/// The record an import keeps in its collection's directory (not a `.toml`: the KB's
/// loader never reads it as an entry).
pub const MANIFEST_FILE: &str = ".import.json";

/// Whether an import may replace what an earlier import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// New entries only: an id the KB already has is refused.
    #[default]
    Add,
    /// The collection becomes the export: its entries added or rewritten, those an earlier
    /// import wrote and the export no longer has removed. An entry file changed by hand
    /// since is refused, unless `replace_edited`.
    Update { replace_edited: bool },
}

/// What an import did to its collection's entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// Files of the collection no import wrote (added by hand), kept as they are.
    pub kept: usize,
}

/// `.import.json`: where the entries came from and the hash of each file as written.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    /// The file imported last.
    source: String,
    /// Entry id → SHA-256 (hex) of its file's bytes as the import wrote them.
    entries: BTreeMap<String, String>,
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn read_manifest(collection_dir: &Path) -> Result<Option<Manifest>> {
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

fn render_manifest(manifest: &Manifest) -> Result<String> {
    serde_json::to_string_pretty(manifest)
        .map_err(|e| Error::Internal(format!("rendering the import record: {e}")))
}

/// An entry file of the collection as it stands, and how the import treats it.
struct Existing {
    path: PathBuf,
    bytes: Vec<u8>,
    /// The last import wrote it and nobody changed it since.
    as_imported: bool,
    /// The last import wrote it (perhaps changed since).
    recorded: bool,
}

/// Writes `entries` (and `new_models` into the catalogue) as the collection `collection`
/// of the KB in `out_dir`, from the export `source`, as `mode` allows.
pub(super) fn write_kb(
    out_dir: &Path,
    collection: &str,
    source: &str,
    entries: &[KbEntry],
    new_models: &[PrinterModel],
    mode: WriteMode,
) -> Result<ImportReport> {
    let collection = slugify(collection);
    let entries_dir = out_dir.join(ENTRIES_DIR);
    let target_dir = entries_dir.join(&collection);
    let rendered: Vec<(&str, String)> = entries
        .iter()
        .map(|entry| {
            toml::to_string(entry)
                .map(|body| (entry.id.as_str(), body))
                .map_err(|e| Error::Internal(format!("rendering entry {}: {e}", entry.id)))
        })
        .collect::<Result<_>>()?;

    // Ids are unique across the KB's collections: a file of another collection with the
    // same name would make the KB fail its next validation.
    let on_disk: Vec<PathBuf> = if entries_dir.is_dir() {
        entry_files(&entries_dir)?
    } else {
        Vec::new()
    };
    let manifest = read_manifest(&target_dir)?;
    let mut elsewhere: HashMap<String, PathBuf> = HashMap::new();
    let mut existing: BTreeMap<String, Existing> = BTreeMap::new();
    for path in on_disk {
        let Some(id) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        if !path.starts_with(&target_dir) {
            elsewhere.insert(id, path);
            continue;
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let recorded = manifest.as_ref().and_then(|m| m.entries.get(&id));
        existing.insert(
            id,
            Existing {
                as_imported: recorded.is_some_and(|hash| *hash == sha256(&bytes)),
                recorded: recorded.is_some(),
                path,
                bytes,
            },
        );
    }

    let mut problems: Vec<ValidationError> = Vec::new();
    let clash = |path: &Path, id: &str, message: &str| {
        problem(
            &path.display().to_string(),
            None,
            Some("id"),
            format!("an entry `{id}` already exists{message}"),
        )
    };
    for (id, _) in &rendered {
        if let Some(path) = elsewhere.get(*id) {
            let message = " in another collection; remove it or import into another directory";
            problems.push(clash(path, id, message));
        } else if let (WriteMode::Add, Some(old)) = (mode, existing.get(*id)) {
            let message = "; remove it, import into another directory, or import with --update to replace what an earlier import wrote";
            problems.push(clash(&old.path, id, message));
        }
    }
    let mut changes = Changes::default();
    let exported: HashMap<&str, &str> = rendered.iter().map(|(id, b)| (*id, b.as_str())).collect();
    match mode {
        WriteMode::Add => changes.added = rendered.len(),
        WriteMode::Update { replace_edited } => {
            for (id, body) in &rendered {
                match existing.get(*id) {
                    None => changes.added += 1,
                    Some(old) if old.bytes == body.as_bytes() => changes.unchanged += 1,
                    Some(old) if old.as_imported || replace_edited => changes.changed += 1,
                    Some(old) => problems.push(edited(old, true)),
                }
            }
            for (id, old) in &existing {
                if exported.contains_key(id.as_str()) {
                    continue;
                }
                match (old.recorded, old.as_imported || replace_edited) {
                    (true, true) => changes.removed += 1,
                    (true, false) => problems.push(edited(old, false)),
                    // A file the import did not write: an editor's own, kept.
                    (false, _) => changes.kept += 1,
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::KbInvalid(problems));
    }

    let parent = out_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    let staging = tempfile::Builder::new()
        .prefix(".devicekb-import-")
        .tempdir_in(parent)
        .map_err(|e| {
            Error::io(
                format!("creating a staging directory in {}", parent.display()),
                e,
            )
        })?;
    let stage_entries = staging.path().join(ENTRIES_DIR).join(&collection);
    std::fs::create_dir_all(&stage_entries)
        .map_err(|e| Error::io("creating the staging tree", e))?;
    let mut record = Manifest {
        source: source.to_string(),
        entries: BTreeMap::new(),
    };
    if mode == WriteMode::Add {
        // Entries added next to an earlier import's keep their record.
        if let Some(earlier) = manifest {
            record.entries = earlier.entries;
        }
    }
    for (id, body) in &rendered {
        std::fs::write(stage_entries.join(format!("{id}.toml")), body)
            .map_err(|e| Error::io("writing a staged entry", e))?;
        record
            .entries
            .insert(id.to_string(), sha256(body.as_bytes()));
    }
    if matches!(mode, WriteMode::Update { .. }) {
        // The editor's own files stay where they were in the collection.
        for (id, old) in &existing {
            if old.recorded || exported.contains_key(id.as_str()) {
                continue;
            }
            let relative = old.path.strip_prefix(&target_dir).unwrap_or(&old.path);
            let to = stage_entries.join(relative);
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::io("creating the staging tree", e))?;
            }
            std::fs::write(&to, &old.bytes).map_err(|e| Error::io("staging a kept entry", e))?;
        }
    }
    let manifest_text = render_manifest(&record)?;
    std::fs::write(stage_entries.join(MANIFEST_FILE), &manifest_text)
        .map_err(|e| Error::io("writing the staged import record", e))?;

    let mut catalogue_text = None;
    if !new_models.is_empty() {
        let mut all = existing_catalogue(out_dir)?;
        all.extend(new_models.iter().cloned());
        catalogue_text = Some(render_catalogue(&all)?);
    }
    if !out_dir.exists() {
        // Fresh KB: one rename publishes the whole tree.
        if let Some(text) = &catalogue_text {
            let cat = staging.path().join(CATALOGUE_FILE);
            std::fs::create_dir_all(cat.parent().expect("catalogue path has a parent"))
                .map_err(|e| Error::io("creating the staging tree", e))?;
            std::fs::write(&cat, text).map_err(|e| Error::io("writing the staged catalogue", e))?;
        }
        let staged = staging.keep();
        std::fs::rename(&staged, out_dir)
            .map_err(|e| Error::io(format!("moving the import into {}", out_dir.display()), e))?;
    } else {
        // Existing KB: every file is complete before it is renamed into place.
        if let Some(text) = &catalogue_text {
            let cat = out_dir.join(CATALOGUE_FILE);
            std::fs::create_dir_all(cat.parent().expect("catalogue path has a parent"))
                .map_err(|e| Error::io("creating the catalogue directory", e))?;
            let tmp = staging.path().join("models.toml");
            std::fs::write(&tmp, text).map_err(|e| Error::io("writing the staged catalogue", e))?;
            std::fs::rename(&tmp, &cat)
                .map_err(|e| Error::io(format!("replacing {}", cat.display()), e))?;
        }
        match mode {
            WriteMode::Add => add_files(&stage_entries, &target_dir, &rendered)?,
            WriteMode::Update { .. } => swap(&stage_entries, &target_dir, staging.path())?,
        }
    }
    let mut notes: Vec<String> = crate::kb::lang::language_summary(entries)
        .note
        .into_iter()
        .collect();
    if changes.kept > 0 {
        notes.push(format!(
            "{} files of the collection were not written by an import (added by hand): kept as they are (remove them if the export replaces them)",
            changes.kept
        ));
    }
    Ok(ImportReport {
        entries_written: changes.added + changes.changed,
        models_added: new_models.len(),
        out_dir: out_dir.to_path_buf(),
        collection,
        changes: matches!(mode, WriteMode::Update { .. }).then_some(changes),
        notes,
    })
}

/// The problem with a file an editor changed since the last import (or that no import
/// recorded) and the export would overwrite (`still_exported`) or remove.
fn edited(old: &Existing, still_exported: bool) -> ValidationError {
    let how = match (old.recorded, still_exported) {
        (true, true) => "changed by hand since the last import; the export's would replace it",
        (true, false) => "changed by hand since the last import, and the export no longer has it",
        (false, _) => "differs from the export's, and no import recorded writing it",
    };
    problem(
        &old.path.display().to_string(),
        None,
        None,
        format!("{how}: keep the change in the export (or move the file out), or import with --replace-edited"),
    )
}

/// Adds the staged entry files to an existing collection, each renamed into place whole,
/// then the import record.
fn add_files(staged: &Path, target_dir: &Path, rendered: &[(&str, String)]) -> Result<()> {
    std::fs::create_dir_all(target_dir)
        .map_err(|e| Error::io(format!("creating {}", target_dir.display()), e))?;
    let names = rendered
        .iter()
        .map(|(id, _)| format!("{id}.toml"))
        .chain([MANIFEST_FILE.to_string()]);
    for name in names {
        std::fs::rename(staged.join(&name), target_dir.join(&name))
            .map_err(|e| Error::io(format!("moving {name} into {}", target_dir.display()), e))?;
    }
    Ok(())
}

/// Puts the staged collection in place of `target_dir` (two renames; the old one is put
/// back if the second fails), the old one left in `staging` to be removed with it.
fn swap(staged: &Path, target_dir: &Path, staging: &Path) -> Result<()> {
    if let Some(dir) = target_dir.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let previous = staging.join("previous");
    let had_one = target_dir.exists();
    if had_one {
        std::fs::rename(target_dir, &previous)
            .map_err(|e| Error::io(format!("moving {} aside", target_dir.display()), e))?;
    }
    if let Err(e) = std::fs::rename(staged, target_dir) {
        if had_one {
            // Best effort: the collection as it was rather than none.
            let _ = std::fs::rename(&previous, target_dir);
        }
        return Err(Error::io(
            format!("moving the import into {}", target_dir.display()),
            e,
        ));
    }
    Ok(())
}
