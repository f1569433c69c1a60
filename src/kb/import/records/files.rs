//! The files of one export: a first, then its next pages, each read once, and how the
//! import names them.

use std::path::{Path, PathBuf};

use super::super::{problem, ImportOptions};
use super::Records;
use crate::error::{Error, Result};

impl Records {
    /// Starts the import of the export `files` (the first is read first): refused when
    /// there is none.
    pub(in crate::kb::import) fn for_files(
        files: &[PathBuf],
        out_dir: &Path,
        collection: &str,
        options: &ImportOptions,
    ) -> Result<Self> {
        let Some(first) = files.first() else {
            return Err(Error::invalid("FILE", "no file to import"));
        };
        Records::new(first, out_dir, collection, options)
    }

    /// The bytes of the export's file `index` of `count` (the first was named when the
    /// import started), or `None` when it is not read: the next file of the same export
    /// (its next page, say) joins the same entries, their ids unique across the files.
    /// With several files, one named twice (its records would be read twice) or that
    /// cannot be read is one of the export's problems and the next files are still read,
    /// so one run names them all; a lone file that cannot be read is the import's error.
    pub(in crate::kb::import) fn read_file(
        &mut self,
        index: usize,
        count: usize,
        file: &Path,
    ) -> Result<Option<Vec<u8>>> {
        if index > 0 {
            if let Some(earlier) = self.named_before(file) {
                // Filed under the spelling read first, so it sorts with that file's problems.
                let message = format!(
                    "named twice (also as {}): name each file once",
                    file.display()
                );
                self.errors.push(problem(&earlier, None, None, message));
                return Ok(None);
            }
            self.shown = file.display().to_string();
            self.files.push(self.shown.clone());
        }
        match std::fs::read(file) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if count == 1 => Err(Error::io(format!("reading {}", self.shown), e)),
            Err(e) => {
                let message = format!("cannot be read: {e}");
                self.errors.push(problem(&self.shown, None, None, message));
                Ok(None)
            }
        }
    }

    /// The files' names, as the import's record keeps them.
    pub(in crate::kb::import) fn source_names(&self) -> String {
        let mut names: Vec<String> = self
            .files
            .iter()
            .map(|f| {
                Path::new(f)
                    .file_name()
                    .map_or(f.clone(), |n| n.to_string_lossy().into_owned())
            })
            .collect();
        // In any order the files are named.
        names.sort();
        names.join(", ")
    }

    /// How `file` was named already in this import, if it was (the same file twice would
    /// read every record twice).
    fn named_before(&self, file: &Path) -> Option<String> {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        self.files
            .iter()
            .find(|f| same(Path::new(f.as_str()), file))
            .cloned()
    }

    /// The files read, as the problems of the export as a whole name it.
    pub(in crate::kb::import) fn all_shown(&self) -> String {
        self.files.join(", ")
    }
}
