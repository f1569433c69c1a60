//! Writing an import's entries into a KB directory. A new KB is staged whole and renamed
//! into place; in an existing one, every file is written beside its place first (a dot
//! name the loader never reads) and renamed over it only once all are written, so a
//! failure leaves the KB as it was and a reader never meets half an entry.
//!
//! An import records what it wrote in its collection (`.import.json`: each entry file's
//! hash). That is what lets a customer import their export again after editing their help
//! centre (`--update`): the collection becomes the export (entries added, changed, removed),
//! while an entry file an editor changed by hand since the last import is never overwritten
//! or removed unless asked (`--replace-edited`), and what no import wrote (an editor's own
//! entries, notes, images) is left as it is. One collection holds one export.

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
    /// The file (or files) imported last.
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

/// What becomes of each entry file of the collection.
#[derive(Default)]
struct Plan<'a> {
    /// (id, the file's text): added or changed.
    write: Vec<(&'a str, &'a str)>,
    /// Files the export no longer has.
    remove: Vec<PathBuf>,
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
    let name = slugify(collection);
    if name.is_empty() {
        let message = format!("`{collection}` has no letter or digit to name a folder with");
        return Err(Error::invalid("--collection", message));
    }
    let entries_dir = out_dir.join(ENTRIES_DIR);
    let target_dir = entries_dir.join(&name);
    let rendered: Vec<(&str, String)> = entries
        .iter()
        .map(|entry| {
            toml::to_string(entry)
                .map(|body| (entry.id.as_str(), body))
                .map_err(|e| Error::Internal(format!("rendering entry {}: {e}", entry.id)))
        })
        .collect::<Result<_>>()?;
    let mut catalogue_text = None;
    if !new_models.is_empty() {
        let mut all = existing_catalogue(out_dir)?;
        all.extend(new_models.iter().cloned());
        catalogue_text = Some(render_catalogue(&all)?);
    }
    let record = |earlier: BTreeMap<String, String>| Manifest {
        source: source.to_string(),
        entries: earlier
            .into_iter()
            .chain(
                rendered
                    .iter()
                    .map(|(id, body)| (id.to_string(), sha256(body.as_bytes()))),
            )
            .collect(),
    };
    let mut notes: Vec<String> = crate::kb::lang::language_summary(entries)
        .note
        .into_iter()
        .collect();
    let report = |changes: Changes, notes: Vec<String>| ImportReport {
        entries_written: changes.added + changes.changed,
        models_added: new_models.len(),
        out_dir: out_dir.to_path_buf(),
        collection: name.clone(),
        changes: matches!(mode, WriteMode::Update { .. }).then_some(changes),
        notes,
    };

    if !out_dir.exists() {
        let manifest = record(BTreeMap::new());
        write_new_kb(
            out_dir,
            &name,
            &rendered,
            &manifest,
            catalogue_text.as_deref(),
        )?;
        let changes = Changes {
            added: rendered.len(),
            ..Changes::default()
        };
        return Ok(report(changes, notes));
    }
    // One import at a time into a KB: two at once would each write what the other read.
    let _lock = lock(out_dir)?;
    let manifest = read_manifest(&target_dir)?;
    let existing = existing_files(&entries_dir, &target_dir, manifest.as_ref())?;
    let (mut problems, elsewhere) = (Vec::new(), existing.elsewhere);
    let collection_files = existing.collection;
    problems.extend(existing.problems);
    for (id, _) in &rendered {
        if let Some(path) = elsewhere.get(*id) {
            let message = " in another collection; remove it or import into another directory";
            problems.push(clash(path, id, message));
        } else if let (WriteMode::Add, Some(old)) = (mode, collection_files.get(*id)) {
            let message = "; remove it, import into another directory, or import with --update to replace what an earlier import wrote";
            problems.push(clash(&old.path, id, message));
        }
    }
    let mut changes = Changes::default();
    let mut plan = Plan::default();
    let exported: HashMap<&str, &KbEntry> = entries.iter().map(|e| (e.id.as_str(), e)).collect();
    match mode {
        WriteMode::Add => {
            if let Some(earlier) = manifest.as_ref().filter(|m| {
                m.source != source && m.entries.keys().any(|id| collection_files.contains_key(id))
            }) {
                let message = format!(
                    "the collection `{name}` holds the import of {}: import {source} into a collection of its own (--collection NAME), or name every file of one export in one import; --update replaces a collection whole",
                    earlier.source
                );
                problems.push(problem(
                    &target_dir.display().to_string(),
                    None,
                    Some("--collection"),
                    message,
                ));
            }
            changes.added = rendered.len();
            plan.write = rendered.iter().map(|(id, b)| (*id, b.as_str())).collect();
        }
        WriteMode::Update { replace_edited } => {
            for (id, body) in &rendered {
                match collection_files.get(*id) {
                    None => changes.added += 1,
                    Some(old) if old.bytes == body.as_bytes() => {
                        changes.unchanged += 1;
                        continue;
                    }
                    Some(old)
                        if old.as_imported
                            || replace_edited
                            || (!old.recorded && same_but_source(&old.bytes, exported[id])) =>
                    {
                        changes.changed += 1;
                        if old.path != target_dir.join(format!("{id}.toml")) {
                            // In a sub-folder: the export's takes its place at the top.
                            plan.remove.push(old.path.clone());
                        }
                    }
                    Some(old) => {
                        problems.push(edited(old, true));
                        continue;
                    }
                }
                plan.write.push((id, body.as_str()));
            }
            for (id, old) in &collection_files {
                if exported.contains_key(id.as_str()) {
                    continue;
                }
                match (old.recorded, old.as_imported || replace_edited) {
                    (true, true) => {
                        changes.removed += 1;
                        plan.remove.push(old.path.clone());
                    }
                    (true, false) => problems.push(edited(old, false)),
                    // A file the import did not write: an editor's own, kept.
                    (false, _) => changes.kept += 1,
                }
            }
            if let Some(earlier) = manifest.as_ref().filter(|m| m.source != source) {
                notes.push(format!(
                    "the collection was imported from {} before: it is now {source}'s",
                    earlier.source
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::KbInvalid(problems));
    }
    let earlier = match mode {
        // Entries added next to an earlier import's keep their record.
        WriteMode::Add => manifest.map(|m| m.entries).unwrap_or_default(),
        WriteMode::Update { .. } => BTreeMap::new(),
    };
    let new_record = record(earlier);
    write_in_place(
        out_dir,
        &target_dir,
        &plan,
        &new_record,
        catalogue_text.as_deref(),
    )?;
    if changes.kept > 0 {
        notes.push(format!(
            "{} entry files of the collection were not written by an import (an editor's own): kept as they are (remove them if the export replaces them)",
            changes.kept
        ));
    }
    Ok(report(changes, notes))
}

fn clash(path: &Path, id: &str, message: &str) -> ValidationError {
    problem(
        &path.display().to_string(),
        None,
        Some("id"),
        format!("an entry `{id}` already exists{message}"),
    )
}

/// The KB's entry files: those of the collection by id, those of other collections by id,
/// and two files of the collection with the same name (which would be one entry twice).
struct ExistingFiles {
    collection: BTreeMap<String, Existing>,
    elsewhere: HashMap<String, PathBuf>,
    problems: Vec<ValidationError>,
}

fn existing_files(
    entries_dir: &Path,
    target_dir: &Path,
    manifest: Option<&Manifest>,
) -> Result<ExistingFiles> {
    let mut found = ExistingFiles {
        collection: BTreeMap::new(),
        elsewhere: HashMap::new(),
        problems: Vec::new(),
    };
    let on_disk = if entries_dir.is_dir() {
        entry_files(entries_dir)?
    } else {
        Vec::new()
    };
    for path in on_disk {
        let Some(id) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        if !path.starts_with(target_dir) {
            found.elsewhere.insert(id, path);
            continue;
        }
        if let Some(first) = found.collection.get(&id) {
            let message = format!(
                "a second file for the entry `{id}` in the collection (the first: {}): remove one",
                first.path.display()
            );
            let shown = path.display().to_string();
            found
                .problems
                .push(problem(&shown, None, Some("id"), message));
            continue;
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let recorded = manifest.and_then(|m| m.entries.get(&id));
        let existing = Existing {
            as_imported: recorded.is_some_and(|hash| *hash == sha256(&bytes)),
            recorded: recorded.is_some(),
            path,
            bytes,
        };
        found.collection.insert(id, existing);
    }
    Ok(found)
}

/// Whether a file no import recorded (an import's from before the record existed) is the
/// export's entry but for the `source` an import gave it (`imported from FILE line N`).
fn same_but_source(bytes: &[u8], exported: &KbEntry) -> bool {
    let Ok(mut old) = std::str::from_utf8(bytes).map(toml::from_str::<KbEntry>) else {
        return false;
    };
    let Ok(old) = old.as_mut() else {
        return false;
    };
    let by_import = |source: &str| source.starts_with("imported ");
    if !by_import(&old.source) || !by_import(&exported.source) {
        return false;
    }
    old.source = exported.source.clone();
    *old == *exported
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

/// Holds the KB directory's lock until dropped (where the platform can lock a directory).
fn lock(out_dir: &Path) -> Result<Option<std::fs::File>> {
    let Ok(dir) = std::fs::File::open(out_dir) else {
        return Ok(None);
    };
    match dir.try_lock() {
        Ok(()) => Ok(Some(dir)),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Conflict(format!(
            "another import into {} is running",
            out_dir.display()
        ))),
        // A file system that cannot lock: go on as before locks.
        Err(std::fs::TryLockError::Error(_)) => Ok(None),
    }
}

/// A new KB: staged whole beside it, then one rename publishes the tree.
fn write_new_kb(
    out_dir: &Path,
    collection: &str,
    rendered: &[(&str, String)],
    manifest: &Manifest,
    catalogue_text: Option<&str>,
) -> Result<()> {
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
    let stage_entries = staging.path().join(ENTRIES_DIR).join(collection);
    std::fs::create_dir_all(&stage_entries)
        .map_err(|e| Error::io("creating the staging tree", e))?;
    for (id, body) in rendered {
        std::fs::write(stage_entries.join(format!("{id}.toml")), body)
            .map_err(|e| Error::io("writing a staged entry", e))?;
    }
    std::fs::write(
        stage_entries.join(MANIFEST_FILE),
        render_manifest(manifest)?,
    )
    .map_err(|e| Error::io("writing the staged import record", e))?;
    if let Some(text) = catalogue_text {
        let cat = staging.path().join(CATALOGUE_FILE);
        std::fs::create_dir_all(cat.parent().expect("catalogue path has a parent"))
            .map_err(|e| Error::io("creating the staging tree", e))?;
        std::fs::write(&cat, text).map_err(|e| Error::io("writing the staged catalogue", e))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, out_dir)
        .map_err(|e| Error::io(format!("moving the import into {}", out_dir.display()), e))
}

/// A file written beside `to` under a dot name, renamed over it by `publish`; removed if
/// dropped unpublished.
struct Pending {
    written: PathBuf,
    to: PathBuf,
    published: bool,
}

impl Pending {
    /// Writes `text` beside `to`, with `to`'s permissions when it exists.
    fn write(to: PathBuf, text: &str) -> Result<Self> {
        let dir = to.parent().expect("an entry file has a directory");
        let name = to.file_name().expect("an entry file has a name");
        let written = dir.join(format!(
            ".{}.import-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let pending = Pending {
            written,
            to,
            published: false,
        };
        std::fs::write(&pending.written, text)
            .map_err(|e| Error::io(format!("writing {}", pending.written.display()), e))?;
        if let Ok(meta) = std::fs::metadata(&pending.to) {
            std::fs::set_permissions(&pending.written, meta.permissions())
                .map_err(|e| Error::io(format!("writing {}", pending.written.display()), e))?;
        }
        Ok(pending)
    }

    fn publish(mut self) -> Result<()> {
        std::fs::rename(&self.written, &self.to)
            .map_err(|e| Error::io(format!("replacing {}", self.to.display()), e))?;
        self.published = true;
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.written);
        }
    }
}

/// An existing KB: every file the plan writes (entries, the catalogue, the import's record)
/// is written in full beside its place before any is renamed over it; the files the export
/// no longer has are removed; the record goes last, so it never names what is not there.
/// Nothing else in the collection is touched.
fn write_in_place(
    out_dir: &Path,
    target_dir: &Path,
    plan: &Plan<'_>,
    record: &Manifest,
    catalogue_text: Option<&str>,
) -> Result<()> {
    let record_path = target_dir.join(MANIFEST_FILE);
    let record_text = render_manifest(record)?;
    let unchanged_record = std::fs::read_to_string(&record_path).is_ok_and(|t| t == record_text);
    if plan.write.is_empty()
        && plan.remove.is_empty()
        && unchanged_record
        && catalogue_text.is_none()
    {
        return Ok(());
    }
    std::fs::create_dir_all(target_dir)
        .map_err(|e| Error::io(format!("creating {}", target_dir.display()), e))?;
    let mut pending = Vec::with_capacity(plan.write.len() + 1);
    for (id, body) in &plan.write {
        pending.push(Pending::write(target_dir.join(format!("{id}.toml")), body)?);
    }
    let catalogue = match catalogue_text {
        Some(text) => {
            let cat = out_dir.join(CATALOGUE_FILE);
            std::fs::create_dir_all(cat.parent().expect("catalogue path has a parent"))
                .map_err(|e| Error::io("creating the catalogue directory", e))?;
            Some(Pending::write(cat, text)?)
        }
        None => None,
    };
    let record = Pending::write(record_path, &record_text)?;
    for file in catalogue.into_iter().chain(pending) {
        file.publish()?;
    }
    for path in &plan.remove {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("removing {}", path.display()), e)),
        }
    }
    record.publish()
}
