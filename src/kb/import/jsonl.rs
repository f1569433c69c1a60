//! `devicekb import jsonl`: one JSON object per line, with an id, a title and a text at
//! least (the fields are `records::KNOWN`).

use std::path::Path;

use serde_json::Value;

use super::records::Records;
use super::ImportReport;
use crate::error::{Error, Result};

/// Imports JSON Lines: one object a line with `id`, `title`, `text` required and
/// `tags`, `models`, `error_codes`, `steps`, `lang`, `category`, `manufacturer`,
/// `cause`, `symptoms`, `solution`, `source` optional.
pub fn import_jsonl(file: &Path, out_dir: &Path, collection: &str) -> Result<ImportReport> {
    let mut records = Records::new(file, out_dir)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::io(format!("reading {}", records.shown()), e))?;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(obj)) => records.add(&obj, line),
            Ok(_) => records.refuse(line, None, "each line must be a JSON object".into()),
            Err(e) => records.refuse(line, None, format!("invalid JSON: {e}")),
        }
    }
    records.finish(out_dir, collection)
}
