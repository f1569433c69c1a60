//! Who may touch a KB's files at once: any number of readers (a reindex, a validation),
//! or one writer (an import, `learn`) from its first read to its last write. Without it a
//! reindex started during an import could read some files of each version, and two
//! writers could each write back what the other never read.
//!
//! The lock is advisory (`flock` on a directory), taken on the KB's own directory once it
//! exists, so existing KBs side by side in one folder are locked apart; a KB still to be
//! made is locked through the folder it will be made in (it appears there whole, by one
//! rename), so two first imports into one folder take turns.

use std::fs::{File, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A held lock on a KB; released when dropped.
#[derive(Debug)]
pub struct KbLock {
    _held: Option<File>,
}

impl KbLock {
    /// Takes the KB's lock for writing, or refuses (`Conflict`) while another process
    /// reads or writes it: a writer that waited would then act on what it read before.
    /// `writer` says what was refused ("import", "learn").
    pub fn write(kb_dir: &Path, writer: &str) -> Result<KbLock> {
        loop {
            let Some((dir, target)) = open(kb_dir) else {
                return Ok(KbLock { _held: None });
            };
            match dir.try_lock() {
                // Made by another writer while this one took its folder's lock: the KB's
                // own is the one its readers take.
                Ok(()) if target == Target::Folder && kb_dir.is_dir() => continue,
                Ok(()) => return Ok(KbLock { _held: Some(dir) }),
                Err(TryLockError::WouldBlock) => {
                    let message = match target {
                        Target::Kb => format!(
                            "the KB {} is being read or written by another process (an import, a reindex or learn): run this {writer} again when it is done",
                            kb_dir.display()
                        ),
                        Target::Folder => format!(
                            "another import is making a KB in {}: run this {writer} again when it is done",
                            folder_of(kb_dir).display()
                        ),
                    };
                    return Err(Error::Conflict(message));
                }
                // A file system that cannot lock: go on without.
                Err(TryLockError::Error(_)) => return Ok(KbLock { _held: None }),
            }
        }
    }

    /// Takes the KB's lock for reading, waiting while a writer holds it (an import takes
    /// seconds; reading half of it would build an index of neither version), for at most
    /// `READ_WAIT`: a writer stopped midway (suspended, on a hung mount) is then said, not
    /// waited for without end.
    pub fn read(kb_dir: &Path) -> Result<KbLock> {
        let Some((dir, _)) = open(kb_dir) else {
            return Ok(KbLock { _held: None });
        };
        let started = Instant::now();
        let mut said = false;
        loop {
            match dir.try_lock_shared() {
                Ok(()) => return Ok(KbLock { _held: Some(dir) }),
                Err(TryLockError::Error(_)) => return Ok(KbLock { _held: None }),
                Err(TryLockError::WouldBlock) if started.elapsed() >= READ_WAIT => {
                    return Err(Error::Conflict(format!(
                        "the KB {} has been held by a writer (an import or learn) for {} minutes: let it finish or stop it, then run this again",
                        kb_dir.display(),
                        READ_WAIT.as_secs() / 60
                    )));
                }
                Err(TryLockError::WouldBlock) => {
                    if !said {
                        tracing::info!(kb = %kb_dir.display(), "waiting for the KB's writer (an import or learn) to finish");
                        said = true;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}

/// How long a reader waits for a KB's writer: an import of 20,000 records takes about
/// 20 s on two cores.
const READ_WAIT: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The KB's own directory.
    Kb,
    /// The folder a KB still to be made will be made in.
    Folder,
}

/// The directory the lock is taken on: the KB's own once it exists, else the folder it
/// will be made in (two first imports side by side wait for each other there). `None`
/// where a directory cannot be opened as a file (no lock there).
fn open(kb_dir: &Path) -> Option<(File, Target)> {
    if kb_dir.is_dir() {
        File::open(kb_dir).ok().map(|f| (f, Target::Kb))
    } else {
        File::open(folder_of(kb_dir))
            .ok()
            .map(|f| (f, Target::Folder))
    }
}

/// The folder a KB is (or will be) made in: a bare name's is the working directory.
pub(crate) fn folder_of(kb_dir: &Path) -> &Path {
    kb_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_share_the_lock_and_a_writer_is_refused_while_one_reads() {
        let dir = tempfile::tempdir().unwrap();
        let kb = dir.path().join("kb");
        std::fs::create_dir(&kb).unwrap();
        let first = KbLock::read(&kb).unwrap();
        let second = KbLock::read(&kb).unwrap();
        let refused = KbLock::write(&kb, "import").unwrap_err();
        assert!(
            matches!(refused, Error::Conflict(ref why) if why.contains("run this import again"))
        );
        drop((first, second));
        KbLock::write(&kb, "import").unwrap();
    }

    #[test]
    fn a_reader_waits_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let kb = dir.path().join("kb");
        std::fs::create_dir(&kb).unwrap();
        let writer = KbLock::write(&kb, "import").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader_kb = kb.clone();
        let reader = std::thread::spawn(move || {
            let lock = KbLock::read(&reader_kb).unwrap();
            tx.send(()).unwrap();
            drop(lock);
        });
        // The reader cannot get in while the writer holds the lock...
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_err());
        drop(writer);
        // ... and does once it lets go.
        rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
        reader.join().unwrap();
    }

    #[test]
    fn a_kb_is_read_once_its_writer_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let kb = dir.path().join("kb");
        let entries = kb.join("entries").join("faq");
        std::fs::create_dir_all(&entries).unwrap();
        let bundled = concat!(env!("CARGO_MANIFEST_DIR"), "/kb/entries/brother");
        let first = std::fs::read_dir(bundled)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let writer = KbLock::write(&kb, "import").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader_kb = kb.clone();
        let reader = std::thread::spawn(move || {
            let (read, errors) = crate::kb::read_kb(&reader_kb).unwrap();
            assert!(errors.is_empty(), "{errors:?}");
            tx.send(read.entries.len()).unwrap();
        });
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_err());
        // The writer's entry lands while the reader waits; it reads the KB with it.
        std::fs::copy(&first, entries.join(first.file_name().unwrap())).unwrap();
        drop(writer);
        let read = rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
        assert_eq!(read, 1);
        reader.join().unwrap();
    }

    #[test]
    fn kbs_side_by_side_are_locked_apart_and_a_new_kb_through_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (dir.path().join("one"), dir.path().join("two"));
        std::fs::create_dir(&one).unwrap();
        std::fs::create_dir(&two).unwrap();
        let _one = KbLock::write(&one, "import").unwrap();
        let _two = KbLock::write(&two, "import").unwrap();
        // Two imports making the same new KB: the second is refused.
        let new = dir.path().join("new");
        let _making = KbLock::write(&new, "import").unwrap();
        let refused = KbLock::write(&new, "import").unwrap_err();
        assert!(
            matches!(refused, Error::Conflict(ref why) if why.contains("another import is making a KB in")),
            "{refused:?}"
        );
    }
}
