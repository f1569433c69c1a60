//! Labelled sets and imports are JSON Lines: one record a line, blank lines skipped,
//! every bad line reported with its number so an editor fixes them all in one go.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result, ValidationError};

/// Reads every record of `path`; any line that does not parse makes it a
/// `KbInvalid` error listing all of them.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<T>(line) {
            Ok(record) => out.push(record),
            Err(e) => errors.push(ValidationError {
                file: path.display().to_string(),
                line: Some(i + 1),
                field: None,
                message: e.to_string(),
            }),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Error::KbInvalid(errors))
    }
}
