//! Writing an import's entries into a KB directory (`files` does the disk's part).
//!
//! An import records what it wrote in its collection (`record`). That is what lets a
//! customer import their export again after editing their help centre (`--update`): the
//! collection becomes the export (entries added, changed, removed), with three-way care for
//! what an editor did in the KB since the last import: an entry they changed or removed
//! that the export did not change stays as they left it; one the export changed too is
//! refused by name unless asked (`--replace-edited`, which keeps a copy); what no import
//! wrote (an editor's own entries, notes, images) is left as it is. One collection holds
//! one export: an update sharing no entry with it is refused, and one whose pages are not
//! all there removes nothing.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::files::{write_in_place, write_new_kb, InPlace, KbLock, REPLACED_DIR};
use super::record::{read_manifest, sha256, Manifest};
use super::{problem, render_catalogue, ImportReport};
use crate::error::{Error, Result, ValidationError};
use crate::kb::catalogue::PrinterModel;
use crate::kb::entry::KbEntry;
use crate::kb::load::{entry_files, ENTRIES_DIR};

/// Whether an import may replace what an earlier import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// New entries only: an id the KB already has is refused.
    #[default]
    Add,
    /// The collection becomes the export: its entries added or rewritten, those an earlier
    /// import wrote and the export no longer has removed. An entry file changed by hand
    /// since, that the export changed too, is refused, unless `replace_edited`.
    Update { replace_edited: bool },
}

/// What an import did to its collection's entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// Entry files kept as they are: an editor's own, or changed (or removed) by an editor
    /// where the export did not change the entry, or left because the export is not whole.
    pub kept: usize,
}

/// What an import writes: the export's entries, read from `source`.
pub(super) struct Export<'a> {
    /// The files' names, as the record keeps them.
    pub source: &'a str,
    pub entries: &'a [KbEntry],
    /// The KB's catalogue as the import read it (under the lock), and the models it adds.
    pub catalogue: &'a [PrinterModel],
    pub new_models: &'a [PrinterModel],
    /// Why the files are not the whole export (a page names a next one not among them),
    /// when that is so: an update then removes nothing.
    pub not_whole: Option<String>,
}

/// An entry file of the collection as it stands, and how the import treats it.
struct Existing {
    path: PathBuf,
    bytes: Vec<u8>,
    /// An import wrote it and nobody changed it since.
    as_imported: bool,
    /// The record names it (perhaps changed since).
    recorded: bool,
    /// The collection has no record, and the file's source says an import wrote it.
    by_unrecorded_import: bool,
}

/// A collection's folder name as given: letters (of any script), digits, `-`, `_`, `.`; not
/// a path, nothing hidden. No name is changed unsaid: two names would otherwise meet in one
/// folder.
pub(super) fn collection_folder(name: &str) -> Result<String> {
    let name = name.trim();
    let fits = !name.is_empty()
        && name.chars().count() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if fits {
        return Ok(name.to_string());
    }
    let slug = super::slugify(name);
    let hint = if slug.is_empty() {
        String::new()
    } else {
        format!(" (for instance `{slug}`)")
    };
    let message = format!(
        "`{name}` is not a folder name: letters, digits, `-`, `_` and `.`, at most 64, not starting with `.`{hint}"
    );
    Err(Error::invalid("--collection", message))
}

/// Writes the export as the collection `collection` of the KB in `out_dir`, as `mode`
/// allows; the caller holds the KB's lock since it read the catalogue.
pub(super) fn write_kb(
    out_dir: &Path,
    collection: &str,
    export: Export<'_>,
    mode: WriteMode,
    _lock: &KbLock,
) -> Result<ImportReport> {
    let name = collection_folder(collection)?;
    let entries = export.entries;
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
    if !export.new_models.is_empty() {
        let mut all = export.catalogue.to_vec();
        all.extend(export.new_models.iter().cloned());
        catalogue_text = Some(render_catalogue(&all)?);
    }
    let mut record = Manifest {
        source: export.source.to_string(),
        entries: rendered
            .iter()
            .map(|(id, body)| (id.to_string(), sha256(body.as_bytes())))
            .collect(),
        previous: BTreeMap::new(),
    };
    let mut notes: Vec<String> = crate::kb::lang::language_summary(entries)
        .note
        .into_iter()
        .collect();
    let report = |changes: Changes, notes: Vec<String>| ImportReport {
        entries_written: changes.added + changes.changed,
        models_added: export.new_models.len(),
        out_dir: out_dir.to_path_buf(),
        collection: name.clone(),
        changes: matches!(mode, WriteMode::Update { .. }).then_some(changes),
        notes,
    };

    if !out_dir.exists() {
        write_new_kb(
            out_dir,
            &name,
            &rendered,
            &record,
            catalogue_text.as_deref(),
        )?;
        if matches!(mode, WriteMode::Update { .. }) {
            notes.push(format!(
                "{} held no KB: a new one, every entry added",
                out_dir.display()
            ));
        }
        let changes = Changes {
            added: rendered.len(),
            ..Changes::default()
        };
        return Ok(report(changes, notes));
    }
    let manifest = read_manifest(&target_dir)?;
    let existing = existing_files(&entries_dir, &target_dir, manifest.as_ref())?;
    let (mut problems, elsewhere) = (existing.problems, existing.elsewhere);
    let collection_files = existing.collection;
    let holds_an_import = manifest
        .as_ref()
        .is_some_and(|m| m.entries.keys().any(|id| collection_files.contains_key(id)));
    for (id, _) in &rendered {
        if let Some(path) = elsewhere.get(*id) {
            let message = " in another collection; remove it or import into another directory";
            problems.push(clash(path, id, message));
        } else if let (WriteMode::Add, Some(old), false) =
            (mode, collection_files.get(*id), holds_an_import)
        {
            let message = "; remove it, import into another directory, or import with --update to replace what an earlier import wrote";
            problems.push(clash(&old.path, id, message));
        }
    }
    let mut changes = Changes::default();
    let mut plan = InPlace {
        write: Vec::new(),
        remove: Vec::new(),
        back_up: Vec::new(),
        before: manifest.clone(),
        after: Manifest::default(),
        catalogue_text: catalogue_text.as_deref(),
    };
    let mut said = Said::default();
    let exported: HashMap<&str, &KbEntry> = entries.iter().map(|e| (e.id.as_str(), e)).collect();
    match (mode, &manifest) {
        (WriteMode::Add, Some(earlier)) if holds_an_import => {
            let message = format!(
                "the collection `{name}` holds an import (of {}): to bring it up to date with a newer file of that export, import with --update; another export goes into a collection of its own (--collection NAME)",
                earlier.source
            );
            let shown = target_dir.display().to_string();
            problems.insert(0, problem(&shown, None, Some("--collection"), message));
        }
        (WriteMode::Add, _) => {
            changes.added = rendered.len();
            plan.write = rendered.iter().map(|(id, b)| (*id, b.as_str())).collect();
        }
        (WriteMode::Update { replace_edited }, _) => {
            let recorded = |id: &str| manifest.as_ref().and_then(|m| m.entries.get(id));
            for (id, body) in &rendered {
                let hash = sha256(body.as_bytes());
                // The export did not change the entry since the last import.
                let export_unchanged = recorded(id) == Some(&hash);
                let top = target_dir.join(format!("{id}.toml"));
                match collection_files.get(*id) {
                    None if recorded(id).is_some() && !replace_edited => {
                        // An editor removed the import's file.
                        if export_unchanged {
                            changes.kept += 1;
                            said.removed_by_hand.push(id.to_string());
                            continue;
                        }
                        let message = "removed by hand since the last import, and changed in the export: remove it from the export too, or import with --replace-edited to have it back";
                        problems.push(problem(
                            &top.display().to_string(),
                            None,
                            None,
                            message.into(),
                        ));
                        continue;
                    }
                    None => {
                        changes.added += 1;
                        said.added.push(id.to_string());
                    }
                    Some(old) if old.bytes == body.as_bytes() => {
                        changes.unchanged += 1;
                        continue;
                    }
                    Some(old)
                        if old.as_imported
                            || (!old.recorded && same_but_source(&old.bytes, exported[id])) =>
                    {
                        changes.changed += 1;
                        said.changed.push(id.to_string());
                        if old.path != top {
                            // In a sub-folder: the export's takes its place at the top.
                            plan.remove.push(old.path.clone());
                        }
                    }
                    Some(old) if old.recorded && export_unchanged => {
                        // The editor's change stands: the export has nothing newer.
                        changes.kept += 1;
                        said.edited_kept.push(id.to_string());
                        continue;
                    }
                    Some(old) if replace_edited => {
                        changes.changed += 1;
                        said.replaced.push(id.to_string());
                        plan.back_up.push((id.to_string(), old.path.clone()));
                        if old.path != top {
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
            let mut would_remove = 0;
            for (id, old) in &collection_files {
                if exported.contains_key(id.as_str()) {
                    continue;
                }
                if !old.recorded {
                    // A file the import did not write: an editor's own, kept.
                    changes.kept += 1;
                    if old.by_unrecorded_import {
                        said.unrecorded.push(old.path.display().to_string());
                    } else {
                        said.own += 1;
                    }
                    continue;
                }
                would_remove += 1;
                if export.not_whole.is_some() {
                    changes.kept += 1;
                    said.not_whole.push(id.clone());
                    keep_recorded(&mut record, manifest.as_ref(), id);
                } else if old.as_imported {
                    changes.removed += 1;
                    said.removed.push(id.clone());
                    plan.remove.push(old.path.clone());
                } else if replace_edited {
                    changes.removed += 1;
                    said.replaced.push(id.clone());
                    plan.back_up.push((id.clone(), old.path.clone()));
                    plan.remove.push(old.path.clone());
                } else {
                    problems.push(edited(old, false));
                }
            }
            for id in said.removed_by_hand.iter().chain(&said.edited_kept) {
                keep_recorded(&mut record, manifest.as_ref(), id);
            }
            let shares_none = !rendered
                .iter()
                .any(|(id, _)| collection_files.contains_key(*id));
            if holds_an_import && shares_none && would_remove > 0 {
                let message = format!(
                    "no entry of the collection `{name}` is in this export, whose update would remove its {would_remove} entries: another export goes into a collection of its own (--collection NAME); to replace the collection with it, remove {} first",
                    target_dir.display()
                );
                let shown = target_dir.display().to_string();
                problems.insert(0, problem(&shown, None, Some("--collection"), message));
            }
            match &manifest {
                None if collection_files.is_empty() => notes.push(format!(
                    "no earlier import in {}: every entry added",
                    target_dir.display()
                )),
                Some(earlier) if earlier.source != export.source => notes.push(format!(
                    "the collection was imported from {} before: it is now {}'s",
                    earlier.source, export.source
                )),
                _ => {}
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::KbInvalid(problems));
    }
    plan.after = record;
    let backups = write_in_place(out_dir, &name, plan)?;
    notes.extend(said.notes(export.not_whole.as_deref(), &backups));
    Ok(report(changes, notes))
}

/// Keeps the record's hash of `id` (an entry left as the editor or an earlier export had
/// it), so it stays what it was to the next update.
fn keep_recorded(record: &mut Manifest, before: Option<&Manifest>, id: &str) {
    match before.and_then(|m| m.entries.get(id)) {
        Some(hash) => {
            record.entries.insert(id.to_string(), hash.clone());
        }
        None => {
            record.entries.remove(id);
        }
    }
}

/// What an update tells the user, entry by entry.
#[derive(Default)]
struct Said {
    added: Vec<String>,
    changed: Vec<String>,
    removed: Vec<String>,
    /// Replaced or removed though an editor changed them (`--replace-edited`).
    replaced: Vec<String>,
    /// Changed by an editor, the export not: kept.
    edited_kept: Vec<String>,
    /// Removed by an editor, the export not changed: left out.
    removed_by_hand: Vec<String>,
    /// The export is not whole: kept.
    not_whole: Vec<String>,
    /// Files an import wrote before imports kept a record, not in this export: kept.
    unrecorded: Vec<String>,
    /// An editor's own files: kept.
    own: usize,
}

fn some(ids: &[String]) -> String {
    let shown: Vec<String> = ids.iter().take(8).map(|id| format!("`{id}`")).collect();
    match ids.len() {
        n if n > 8 => format!("{} and {} more", shown.join(", "), n - 8),
        _ => shown.join(", "),
    }
}

impl Said {
    fn notes(&self, not_whole: Option<&str>, backups: &[PathBuf]) -> Vec<String> {
        let mut notes = Vec::new();
        for (ids, what) in [
            (&self.added, "added"),
            (&self.changed, "changed"),
            (&self.removed, "removed (no longer in the export)"),
        ] {
            if !ids.is_empty() {
                notes.push(format!("{what}: {}", some(ids)));
            }
        }
        if !self.replaced.is_empty() {
            let dir = backups
                .first()
                .and_then(|b| b.parent())
                .map_or(String::new(), |d| {
                    format!(" (a copy of each in {})", d.display())
                });
            notes.push(format!(
                "changed by hand, replaced by the export's (--replace-edited){dir}: {}",
                some(&self.replaced)
            ));
        }
        if !self.edited_kept.is_empty() {
            notes.push(format!(
                "changed by hand, kept as they are (the export did not change them since the last import): {}",
                some(&self.edited_kept)
            ));
        }
        if !self.removed_by_hand.is_empty() {
            notes.push(format!(
                "removed by hand, left out (the export did not change them since the last import): {}",
                some(&self.removed_by_hand)
            ));
        }
        if let (Some(why), false) = (not_whole, self.not_whole.is_empty()) {
            notes.push(format!(
                "the files are not the whole export ({why}): nothing removed; kept, not in these files: {}",
                some(&self.not_whole)
            ));
        }
        if !self.unrecorded.is_empty() {
            notes.push(format!(
                "{} entry files an import wrote before imports kept a record, which this export does not have, were kept ({}): remove them if the export no longer has them",
                self.unrecorded.len(),
                some(&self.unrecorded)
            ));
        }
        if self.own > 0 {
            notes.push(format!(
                "{} entry files of the collection were not written by an import (an editor's own): kept as they are",
                self.own
            ));
        }
        notes
    }
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
        let by_unrecorded_import = manifest.is_none()
            && parse(&bytes).is_some_and(|e| e.source.starts_with("imported from "));
        let existing = Existing {
            as_imported: manifest.is_some_and(|m| m.wrote(&id, &bytes)),
            recorded: manifest.is_some_and(|m| m.names(&id)),
            by_unrecorded_import,
            path,
            bytes,
        };
        found.collection.insert(id, existing);
    }
    Ok(found)
}

fn parse(bytes: &[u8]) -> Option<KbEntry> {
    toml::from_str(std::str::from_utf8(bytes).ok()?).ok()
}

/// Whether a file no import recorded (an import's from before the record existed) is the
/// export's entry but for what an import wrote differently then: the `source` (`imported
/// from FILE line N`) and the marks of an HTML list's items (`- ` where `1. ` is now).
fn same_but_source(bytes: &[u8], exported: &KbEntry) -> bool {
    let Some(mut old) = parse(bytes) else {
        return false;
    };
    let by_import = |source: &str| source.starts_with("imported ");
    if !by_import(&old.source) || !by_import(&exported.source) {
        return false;
    }
    old.source = exported.source.clone();
    let mut new = exported.clone();
    for entry in [&mut old, &mut new] {
        for text in [
            &mut entry.description,
            &mut entry.cause,
            &mut entry.solution,
        ] {
            *text = without_item_marks(text);
        }
    }
    old == new
}

/// Each line without its list item's mark (`- `, `3. `).
fn without_item_marks(text: &str) -> String {
    text.lines()
        .map(|line| {
            let rest = line.trim_start_matches(|c: char| c.is_ascii_digit());
            match (rest.len() < line.len(), rest.strip_prefix(". ")) {
                (true, Some(item)) => item,
                _ => line.strip_prefix("- ").unwrap_or(line),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The problem with a file an editor changed since the last import (or that no import
/// recorded) and the export would overwrite (`still_exported`) or remove.
fn edited(old: &Existing, still_exported: bool) -> ValidationError {
    let how = match (old.recorded, still_exported) {
        (true, true) => "changed by hand since the last import, and changed in the export too",
        (true, false) => "changed by hand since the last import, and the export no longer has it",
        (false, _) => "differs from the export's, and no import recorded writing it",
    };
    problem(
        &old.path.display().to_string(),
        None,
        None,
        format!("{how}: bring the change into the export (the next import then finds them alike), or import with --replace-edited (a copy of the file is kept in {REPLACED_DIR}/)"),
    )
}
