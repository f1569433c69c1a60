//! What a KB may ship for its calibration: labelled queries and a fitted model.

use std::path::Path;

use serde::Deserialize;

use super::{CalibrationQuery, StoredModel, KB_MODEL_FILE, KB_QUERIES_FILE};
use crate::error::{Error, Result, ValidationError};
use crate::index::generation::Generation;
use crate::kb::jsonl::parse_lines;

#[derive(Debug, Deserialize)]
struct LabelledLine {
    query: String,
    relevant: Vec<String>,
}

/// The KB's labelled queries (`eval/queries.jsonl`: `{"query", "relevant": [ids]}` a
/// line, other fields ignored), for entries of `generation`. A line that does not parse
/// is an error with its line; one naming an entry the KB lacks is skipped with a note.
pub fn kb_labelled_queries(
    kb_dir: &Path,
    generation: &Generation,
) -> Result<(Vec<CalibrationQuery>, Vec<String>)> {
    let path = kb_dir.join(KB_QUERIES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let lines: Vec<LabelledLine> = parse_lines(
        &text,
        &path.display().to_string(),
        None,
        |_: &LabelledLine| Vec::new(),
    )
    .map_err(Error::KbInvalid)?;
    let mut queries = Vec::new();
    let mut skipped = 0;
    for l in lines {
        let answers: Option<Vec<u32>> = l.relevant.iter().map(|id| generation.ord_of(id)).collect();
        match answers {
            Some(a) if !a.is_empty() && !l.query.trim().is_empty() => {
                queries.push(CalibrationQuery {
                    text: l.query,
                    answers: a,
                    exclude: None,
                    labelled: true,
                    mixed: false,
                    without_confirmed: false,
                })
            }
            _ => skipped += 1,
        }
    }
    let mut notes = Vec::new();
    if skipped > 0 {
        notes.push(format!(
            "{skipped} labelled quer{} in {KB_QUERIES_FILE} skipped: empty, or naming no entry of the KB",
            if skipped == 1 { "y" } else { "ies" }
        ));
    }
    Ok((queries, notes))
}

/// The relevance model the KB ships (`eval/calibration.json`), if any.
pub fn kb_model(kb_dir: &Path) -> Result<Option<StoredModel>> {
    let path = kb_dir.join(KB_MODEL_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::KbInvalid(vec![ValidationError {
                file: path.display().to_string(),
                line: Some(e.line()),
                field: None,
                message: format!("not a relevance model: {e}"),
            }])
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}
