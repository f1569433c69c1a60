//! Starting on whatever a crash or a power loss left: unfinished builds removed (unless a
//! reindex still owns them), and when the generation `CURRENT` names is damaged, the
//! newest complete generation that opens is served instead, with a note saying so.

use std::fmt;
use std::fs::{File, TryLockError};
use std::path::Path;
use std::sync::Arc;

use super::generation::{current_generation_name, generation_number, generations_dir, Generation};
use crate::error::{Error, Result};

/// Suffix of a generation still being built.
pub const PARTIAL_SUFFIX: &str = ".partial";
/// Held by the process building a generation in this data directory.
pub const LOCK_FILE: &str = "reindex.lock";

/// The reindex lock of a data directory (an advisory `flock` on `reindex.lock`), held
/// while a generation is built. It goes with this value, and with the process if it dies,
/// so a killed reindex never leaves it taken. The file also says who holds it, so a
/// server refused the lock can name the reindex it waits for, even in another process
/// or on another host sharing the directory.
#[derive(Debug)]
pub struct ReindexLock {
    _file: File,
}

/// Who holds a reindex lock, as its holder wrote it in the lock file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    pub host: String,
    /// Seconds since the Unix epoch when the lock was taken.
    pub since: u64,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = unix_now();
        write!(
            f,
            "process {} on {}, started {} s ago",
            self.pid,
            self.host,
            now.saturating_sub(self.since)
        )
    }
}

impl LockHolder {
    fn this_process() -> LockHolder {
        LockHolder {
            pid: std::process::id(),
            host: host_name(),
            since: unix_now(),
        }
    }
}

/// Seconds since the Unix epoch (0 on a clock set before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// This machine's name, as the kernel knows it (containers included).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unnamed host".into())
}

fn open_lock_file(data_dir: &Path) -> Result<File> {
    let lock_path = data_dir.join(LOCK_FILE);
    std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| Error::io(format!("creating {}", lock_path.display()), e))
}

/// Records this process as the holder of `file`'s lock. Best effort: the holder is only
/// ever shown in a message, the lock itself is the `flock`.
fn write_holder(mut file: &File) {
    use std::io::{Seek, Write};
    let Ok(holder) = serde_json::to_vec(&LockHolder::this_process()) else {
        return;
    };
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(&holder));
    if let Err(e) = written {
        tracing::debug!(error = %e, "could not record the reindex lock's holder");
    }
}

/// Takes the reindex lock of `data_dir`; `None` when a reindex (in this process or
/// another) holds it (`lock_holder` says whose).
pub fn try_lock_reindex(data_dir: &Path) -> Result<Option<ReindexLock>> {
    let file = open_lock_file(data_dir)?;
    match file.try_lock() {
        Ok(()) => {
            write_holder(&file);
            Ok(Some(ReindexLock { _file: file }))
        }
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(Error::io("locking the data directory", e)),
    }
}

/// Waits until no reindex holds the lock of `data_dir` (blocking). For a server starting
/// on an empty directory while another builds its first generation.
pub fn wait_for_reindex(data_dir: &Path) -> Result<()> {
    let file = open_lock_file(data_dir)?;
    file.lock()
        .map_err(|e| Error::io("waiting for the reindex lock", e))?;
    file.unlock()
        .map_err(|e| Error::io("releasing the reindex lock", e))
}

/// Who holds the reindex lock of `data_dir`, as recorded; `None` when nobody has ever
/// recorded it or the record is unreadable (a holder that could not write it).
pub fn lock_holder(data_dir: &Path) -> Option<LockHolder> {
    let text = std::fs::read(data_dir.join(LOCK_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The conflict answered when another reindex holds the lock of `data_dir`.
pub fn locked_elsewhere(data_dir: &Path) -> Error {
    Error::Conflict(match lock_holder(data_dir) {
        Some(holder) => format!("another reindex is running on this data directory: {holder}"),
        None => "another reindex is running on this data directory".into(),
    })
}

/// Why the generation served is not the one `CURRENT` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The generation `CURRENT` names.
    pub wanted: String,
    /// Why it cannot be served.
    pub reason: String,
    /// The generation served instead.
    pub serving: String,
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cannot be served ({}); serving {}",
            self.wanted, self.reason, self.serving
        )
    }
}

/// The generation to serve, and why it is not `CURRENT`'s when it is not.
pub struct Serving {
    pub generation: Arc<Generation>,
    pub fallback: Option<Fallback>,
}

/// Whether `error` says a generation's files are damaged (missing, truncated, corrupt),
/// as opposed to a configuration that does not fit it, which no fallback should hide.
pub fn is_damage(error: &Error) -> bool {
    matches!(error, Error::Io { .. } | Error::Index { .. })
}

/// Complete generations on disk, newest first.
pub fn complete_generations(data_dir: &Path) -> Result<Vec<String>> {
    let gens = generations_dir(data_dir);
    let read = match std::fs::read_dir(&gens) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("listing {}", gens.display()), e)),
    };
    let mut found: Vec<(u64, String)> = Vec::new();
    for item in read {
        let item = item.map_err(|e| Error::io(format!("listing {}", gens.display()), e))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if let Some(n) = generation_number(&name) {
            if item.path().is_dir() {
                found.push((n, name));
            }
        }
    }
    found.sort_by(|a, b| b.cmp(a));
    Ok(found.into_iter().map(|(_, name)| name).collect())
}

/// Opens the generation `CURRENT` names with `open`, or, when its files are damaged,
/// the newest other complete generation that opens. Errors when `CURRENT` names none,
/// when its generation fails for another reason than damage (a model or a vector store
/// that does not fit: serving an older generation would hide what the operator must
/// fix), and when nothing opens (with `CURRENT`'s own error).
///
/// `CURRENT` is left as it is: the next successful reindex replaces it, a reindex in
/// another process may be about to, and the damaged generation stays for inspection.
pub fn open_serving(
    data_dir: &Path,
    open: &dyn Fn(&Path) -> Result<Arc<Generation>>,
) -> Result<Serving> {
    let wanted = current_generation_name(data_dir)?.ok_or_else(|| {
        Error::NotReady(format!(
            "no index in {}; run `devicekb reindex`",
            data_dir.display()
        ))
    })?;
    let gens = generations_dir(data_dir);
    let failure = match open(&gens.join(&wanted)) {
        Ok(generation) => {
            return Ok(Serving {
                generation,
                fallback: None,
            })
        }
        Err(e) if is_damage(&e) => e,
        Err(e) => return Err(e),
    };
    let reason = failure.chain();
    tracing::warn!(generation = %wanted, error = %reason, "the current index generation cannot be opened; trying the previous ones");
    for name in complete_generations(data_dir)? {
        if name == wanted {
            continue;
        }
        match open(&gens.join(&name)) {
            Ok(generation) => {
                let fallback = Fallback {
                    wanted,
                    reason,
                    serving: name,
                };
                tracing::warn!(note = %fallback, "serving an older index generation until the next successful reindex");
                return Ok(Serving {
                    generation,
                    fallback: Some(fallback),
                });
            }
            Err(e) => {
                tracing::warn!(generation = %name, error = %e.chain(), "this index generation cannot be opened either")
            }
        }
    }
    Err(failure)
}

/// Removes every unfinished build under `data_dir/generations`. The caller holds the
/// reindex lock: no build is running. Returns the names removed.
pub fn remove_partials(data_dir: &Path) -> Result<Vec<String>> {
    let gens = generations_dir(data_dir);
    let read = match std::fs::read_dir(&gens) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("listing {}", gens.display()), e)),
    };
    let mut removed = Vec::new();
    for item in read {
        let item = item.map_err(|e| Error::io(format!("listing {}", gens.display()), e))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with("gen-") && name.ends_with(PARTIAL_SUFFIX) {
            std::fs::remove_dir_all(item.path())
                .map_err(|e| Error::io(format!("removing the unfinished build {name}"), e))?;
            removed.push(name);
        }
    }
    removed.sort();
    Ok(removed)
}

/// Removes the unfinished builds a killed reindex left, unless a reindex (in this
/// process or another) holds the lock: the build is then its own, still going.
pub fn remove_stale_partials(data_dir: &Path) -> Result<Vec<String>> {
    if !generations_dir(data_dir).is_dir() {
        return Ok(Vec::new());
    }
    let Some(lock) = try_lock_reindex(data_dir)? else {
        tracing::info!("a reindex is running: its unfinished build is left alone");
        return Ok(Vec::new());
    };
    let removed = remove_partials(data_dir)?;
    drop(lock);
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_generations_are_listed_newest_first_by_number() {
        let data = tempfile::tempdir().unwrap();
        let gens = generations_dir(data.path());
        for name in [
            "gen-000002",
            "gen-000010",
            "gen-000009.partial",
            "gen-000001",
            "other",
        ] {
            std::fs::create_dir_all(gens.join(name)).unwrap();
        }
        std::fs::write(gens.join("gen-000011"), b"a file, not a generation").unwrap();
        assert_eq!(
            complete_generations(data.path()).unwrap(),
            ["gen-000010", "gen-000002", "gen-000001"]
        );
        assert_eq!(
            remove_partials(data.path()).unwrap(),
            ["gen-000009.partial"]
        );
        assert!(!gens.join("gen-000009.partial").exists());
        assert!(gens.join("gen-000010").is_dir());
    }

    #[test]
    fn a_partial_build_owned_by_a_running_reindex_is_kept() {
        let data = tempfile::tempdir().unwrap();
        let partial = generations_dir(data.path()).join("gen-000003.partial");
        std::fs::create_dir_all(&partial).unwrap();
        let held = try_lock_reindex(data.path())
            .unwrap()
            .expect("the lock is free");
        assert!(remove_stale_partials(data.path()).unwrap().is_empty());
        assert!(partial.is_dir());
        drop(held);
        assert_eq!(
            remove_stale_partials(data.path()).unwrap(),
            ["gen-000003.partial"]
        );
        assert!(!partial.exists());
    }

    #[test]
    fn only_damage_is_worked_around() {
        assert!(is_damage(&Error::index("truncated")));
        assert!(is_damage(&Error::io(
            "reading manifest.json",
            std::io::Error::from(std::io::ErrorKind::NotFound)
        )));
        assert!(!is_damage(&Error::Config("another model".into())));
    }
}
