//! Labelled sets and imports are JSON Lines: one record a line, blank lines skipped,
//! every bad line reported with its number so an editor fixes them all in one go.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result, ValidationError};

/// What is wrong with one record: the field it names (`None` for the record as a whole)
/// and the message.
pub type RecordProblem = (Option<&'static str>, String);

/// Reads every record of `path`; any line that does not parse makes it a
/// `KbInvalid` error listing all of them.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    parse_lines(&text, &path.display().to_string(), None, |_: &T| Vec::new())
        .map_err(Error::KbInvalid)
}

/// The records of `text` (the contents of `file`), one a line. A line that does not
/// parse (reported as "not `record`: ..." when the record is named, "a labelled ticket",
/// else with the parser's message alone), or whose record `check` finds problems with, is
/// left out and reported with its number; any problem makes it an error listing all.
pub fn parse_lines<T: DeserializeOwned>(
    text: &str,
    file: &str,
    record: Option<&str>,
    mut check: impl FnMut(&T) -> Vec<RecordProblem>,
) -> std::result::Result<Vec<T>, Vec<ValidationError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let error = |line: usize, field: Option<&str>, message: String| ValidationError {
        file: file.to_string(),
        line: Some(line),
        field: field.map(str::to_string),
        message,
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let parsed: T = match serde_json::from_str(raw) {
            Ok(parsed) => parsed,
            Err(e) => {
                let message = match record {
                    Some(record) => format!("not {record}: {e}"),
                    None => e.to_string(),
                };
                errors.push(error(line, None, message));
                continue;
            }
        };
        let problems = check(&parsed);
        if problems.is_empty() {
            out.push(parsed);
        }
        for (field, message) in problems {
            errors.push(error(line, field, message));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
