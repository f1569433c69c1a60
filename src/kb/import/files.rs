//! How an import touches the disk: the KB's lock (`kb::lock`) taken, the check that `--out` names
//! a KB, a new KB staged whole and renamed into place, and in an existing KB each file
//! written in full beside its place (a dot name the loader never reads) before it is
//! renamed over it.

use std::path::{Path, PathBuf};

use super::record::{render_manifest, Manifest, MANIFEST_FILE};
use crate::durable::{sync_dir, sync_written};
use crate::error::{Error, Result};
use crate::kb::load::{CATALOGUE_FILE, ENTRIES_DIR};
use crate::kb::lock::folder_of;
pub(crate) use crate::kb::lock::KbLock;

/// Checks that `out_dir` is a KB or a new one, and takes the KB's lock for writing, held
/// from the first read of the KB to the last file written (refused while another process
/// reads or writes it).
pub(crate) fn open_kb(out_dir: &Path) -> Result<KbLock> {
    check_out_dir(out_dir)?;
    let parent = folder_of(out_dir);
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    KbLock::write(out_dir, "import")
}

/// A KB directory: one with an `entries/` folder, or the catalogue, labelled tickets,
/// queries or templates a KB holds before its first entries.
fn is_kb(dir: &Path) -> bool {
    [ENTRIES_DIR, "catalogue", "training", "eval", "templates"]
        .iter()
        .any(|sub| dir.join(sub).is_dir())
}

/// `--out` names a KB (the folder holding `entries/`) or a folder still to make: not a
/// folder inside a KB (`kb/entries`, which would nest a second KB in the first and fail
/// its validation), nor a folder of other files (the index's data directory, say).
fn check_out_dir(out_dir: &Path) -> Result<()> {
    let absolute = std::path::absolute(out_dir)
        .map_err(|e| Error::io(format!("reading {}", out_dir.display()), e))?;
    let inside = |kb: &Path| {
        let entries = kb.join(ENTRIES_DIR);
        entries.is_dir() && absolute.starts_with(&entries)
    };
    if let Some(kb) = absolute.ancestors().skip(1).find(|dir| inside(dir)) {
        let message = format!(
            "{} is inside the KB {}: --out names the KB's own folder (the one holding {ENTRIES_DIR}/), and --collection the folder of {ENTRIES_DIR}/ to write",
            out_dir.display(),
            kb.display()
        );
        return Err(Error::invalid("--out", message));
    }
    let has_files = std::fs::read_dir(out_dir).is_ok_and(|mut items| items.next().is_some());
    if has_files && !is_kb(out_dir) {
        let message = format!(
            "{} holds files but no KB (no {ENTRIES_DIR}/ folder): --out names a KB's folder, or a new one",
            out_dir.display()
        );
        return Err(Error::invalid("--out", message));
    }
    Ok(())
}

/// A new KB: staged whole beside it, then one rename publishes the tree.
pub(super) fn write_new_kb(
    out_dir: &Path,
    collection: &str,
    rendered: &[(&str, String)],
    manifest: &Manifest,
    catalogue_text: Option<&str>,
) -> Result<()> {
    let parent = folder_of(out_dir);
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
    let mut written = Vec::with_capacity(rendered.len() + 2);
    for (id, body) in rendered {
        let file = stage_entries.join(format!("{id}.toml"));
        std::fs::write(&file, body).map_err(|e| Error::io("writing a staged entry", e))?;
        written.push(file);
    }
    let record = stage_entries.join(MANIFEST_FILE);
    std::fs::write(&record, render_manifest(manifest)?)
        .map_err(|e| Error::io("writing the staged import record", e))?;
    written.push(record);
    let mut dirs = vec![stage_entries.clone(), staging.path().join(ENTRIES_DIR)];
    if let Some(text) = catalogue_text {
        let cat = staging.path().join(CATALOGUE_FILE);
        let cat_dir = cat.parent().expect("catalogue path has a parent");
        std::fs::create_dir_all(cat_dir).map_err(|e| Error::io("creating the staging tree", e))?;
        std::fs::write(&cat, text).map_err(|e| Error::io("writing the staged catalogue", e))?;
        written.push(cat.clone());
        dirs.push(cat_dir.to_path_buf());
    }
    // On the disk before the rename makes them the KB: a power loss never leaves a KB
    // of empty files.
    let written: Vec<&Path> = written.iter().map(PathBuf::as_path).collect();
    sync_written(staging.path(), &written)?;
    for dir in &dirs {
        sync_dir(dir)?;
    }
    sync_dir(staging.path())?;
    std::fs::rename(staging.path(), out_dir)
        .map_err(|e| Error::io(format!("moving the import into {}", out_dir.display()), e))?;
    // Moved: nothing left for the staging directory to remove.
    let _ = staging.keep();
    sync_dir(parent)
}

/// The suffix of a file written beside its place (`.faq-12.toml.import-4242-0`: the
/// process and a count).
const PENDING: &str = ".import-";

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
        static WRITTEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = WRITTEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let written = dir.join(format!(
            ".{}{PENDING}{}-{n}",
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

/// Removes what an import stopped midway (killed, the machine down) left beside its files:
/// run under the lock, so no other import is writing them.
fn remove_leftovers(dir: &Path) {
    let Ok(items) = std::fs::read_dir(dir) else {
        return;
    };
    for item in items.flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with('.')
            && name.rsplit_once(PENDING).is_some_and(|(_, tail)| {
                !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit() || b == b'-')
            });
        if ours {
            let _ = std::fs::remove_file(item.path());
        }
    }
}

/// What an update does to an existing collection's files.
pub(super) struct InPlace<'a> {
    /// (id, the file's text): added or changed.
    pub write: Vec<(&'a str, &'a str)>,
    /// Files to remove: those the export no longer has, and a changed entry's old file in
    /// a sub-folder.
    pub remove: Vec<PathBuf>,
    /// Files an editor changed that the import replaces or removes (`--replace-edited`):
    /// copied first into `.import-replaced/` beside `entries/`.
    pub back_up: Vec<(String, PathBuf)>,
    /// The record before (its hashes stay the import's own while the files move).
    pub before: Option<Manifest>,
    /// The record once everything is written.
    pub after: Manifest,
    pub catalogue_text: Option<&'a str>,
}

/// Where `--replace-edited` keeps what it replaced.
pub const REPLACED_DIR: &str = ".import-replaced";

/// An existing KB: the record first (naming both versions of every entry as the import's),
/// then every file written in full beside its place, renamed over it, the files the
/// export no longer has removed, and the record last. Nothing else in the collection is
/// touched; nothing at all when nothing changes.
pub(super) fn write_in_place(
    out_dir: &Path,
    collection: &str,
    plan: InPlace<'_>,
) -> Result<Vec<PathBuf>> {
    let target_dir = out_dir.join(ENTRIES_DIR).join(collection);
    let record_path = target_dir.join(MANIFEST_FILE);
    let record_text = render_manifest(&plan.after)?;
    let unchanged_record = std::fs::read_to_string(&record_path).is_ok_and(|t| t == record_text);
    remove_leftovers(&target_dir);
    if let Some(cat) = out_dir.join(CATALOGUE_FILE).parent() {
        remove_leftovers(cat);
    }
    if plan.write.is_empty()
        && plan.remove.is_empty()
        && unchanged_record
        && plan.catalogue_text.is_none()
    {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(&target_dir)
        .map_err(|e| Error::io(format!("creating {}", target_dir.display()), e))?;
    let mut backups = Vec::new();
    if !plan.back_up.is_empty() {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let dir = out_dir.join(REPLACED_DIR).join(collection);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        for (id, from) in &plan.back_up {
            let to = dir.join(format!("{id}.{stamp}.toml"));
            std::fs::copy(from, &to)
                .map_err(|e| Error::io(format!("keeping a copy of {}", from.display()), e))?;
            backups.push(to);
        }
    }
    let mut pending = Vec::with_capacity(plan.write.len());
    for (id, body) in &plan.write {
        pending.push(Pending::write(target_dir.join(format!("{id}.toml")), body)?);
    }
    let final_record = Pending::write(record_path.clone(), &record_text)?;
    // While the files move, the record knows both versions of each entry as the import's.
    let mut moving = plan.after.clone();
    if let Some(before) = &plan.before {
        moving.previous = before.entries.clone();
        moving.previous.extend(before.previous.clone());
    }
    let moving_record = Pending::write(record_path, &render_manifest(&moving)?)?;
    let catalogue = match plan.catalogue_text {
        Some(text) => {
            let cat = out_dir.join(CATALOGUE_FILE);
            std::fs::create_dir_all(cat.parent().expect("catalogue path has a parent"))
                .map_err(|e| Error::io("creating the catalogue directory", e))?;
            Some(Pending::write(cat, text)?)
        }
        None => None,
    };
    // Every byte on the disk before the first rename, and each rename before the next
    // step counts on it: a power loss midway leaves what an interrupted import leaves,
    // which the next update finishes.
    let written: Vec<&Path> = pending
        .iter()
        .chain([&final_record, &moving_record])
        .chain(&catalogue)
        .map(|p| p.written.as_path())
        .chain(backups.iter().map(PathBuf::as_path))
        .collect();
    sync_written(&target_dir, &written)?;
    // The folders this import may have made (the collection's, the catalogue's, the
    // copies') are entries of their parents: on the disk before anything in them counts.
    let entries_dir = out_dir.join(ENTRIES_DIR);
    let replaced_dir = out_dir.join(REPLACED_DIR);
    let mut made = vec![out_dir, entries_dir.as_path()];
    if let Some(copies) = backups.first().and_then(|b| b.parent()) {
        made.extend([replaced_dir.as_path(), copies]);
    }
    for dir in made {
        sync_dir(dir)?;
    }
    moving_record.publish()?;
    sync_dir(&target_dir)?;
    if let Some(cat) = catalogue {
        let dir = cat.to.parent().map(Path::to_path_buf);
        cat.publish()?;
        if let Some(dir) = dir {
            sync_dir(&dir)?;
        }
    }
    for file in pending {
        file.publish()?;
    }
    for path in &plan.remove {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("removing {}", path.display()), e)),
        }
    }
    // Entries in sub-folders of the collection are renamed or removed there.
    for dir in touched_dirs(&target_dir, &plan.remove) {
        sync_dir(&dir)?;
    }
    final_record.publish()?;
    sync_dir(&target_dir)?;
    Ok(backups)
}

/// The collection's folder and the sub-folders of removed files, each once.
fn touched_dirs(target_dir: &Path, removed: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = vec![target_dir.to_path_buf()];
    for dir in removed.iter().filter_map(|p| p.parent()) {
        if !dirs.iter().any(|d| d == dir) {
            dirs.push(dir.to_path_buf());
        }
    }
    dirs
}
