//! `devicekb import jsonl`: one JSON object per line, with a title and a text at least.

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

use super::*;
use crate::error::{Error, Result, ValidationError};
use crate::kb::catalogue::{Catalogue, PrinterModel};
use crate::kb::entry::{Category, KbEntry, Lang};
use crate::kb::lang::detect_lang;
use crate::kb::validate::{is_valid_id, validate_entry};

/// Imports JSON Lines: one object a line with `id`, `title`, `text` required and
/// `tags`, `models`, `error_codes`, `steps`, `lang`, `category`, `manufacturer`,
/// `cause`, `symptoms`, `source` optional.
pub fn import_jsonl(file: &Path, out_dir: &Path, collection: &str) -> Result<ImportReport> {
    let shown = file.display().to_string();
    let text =
        std::fs::read_to_string(file).map_err(|e| Error::io(format!("reading {shown}"), e))?;
    let existing = existing_catalogue(out_dir)?;
    let mut catalogue = Catalogue::with_builtin(&existing);
    let mut new_models: Vec<PrinterModel> = Vec::new();
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    const KNOWN: &[&str] = &[
        "id",
        "title",
        "text",
        "tags",
        "models",
        "error_codes",
        "steps",
        "lang",
        "category",
        "manufacturer",
        "cause",
        "symptoms",
        "source",
        "solution",
    ];
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(raw) {
            Ok(v) => v,
            Err(e) => {
                errors.push(problem(
                    &shown,
                    Some(line),
                    None,
                    format!("invalid JSON: {e}"),
                ));
                continue;
            }
        };
        let Some(obj) = value.as_object() else {
            errors.push(problem(
                &shown,
                Some(line),
                None,
                "each line must be a JSON object".into(),
            ));
            continue;
        };
        let mut added: Vec<PrinterModel> = Vec::new();
        let record = (|| -> std::result::Result<KbEntry, ValidationError> {
            if let Some(unknown) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
                return Err(problem(
                    &shown,
                    Some(line),
                    Some(unknown),
                    format!("unknown field; known fields are {}", KNOWN.join(", ")),
                ));
            }
            let id = match obj.get("id") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::String(_)) | None | Some(Value::Null) => {
                    return Err(problem(
                        &shown,
                        Some(line),
                        Some("id"),
                        "missing or empty".into(),
                    ))
                }
                Some(_) => {
                    return Err(problem(
                        &shown,
                        Some(line),
                        Some("id"),
                        "must be a string".into(),
                    ))
                }
            };
            if !is_valid_id(&id) {
                return Err(problem(&shown, Some(line), Some("id"), format!("`{id}` is not a valid id (letters, digits, `.`, `_`, `-`; at most 100 characters)")));
            }
            let title = opt_string(obj.get("title"), "title", &shown, line)?;
            if title.is_empty() {
                return Err(problem(
                    &shown,
                    Some(line),
                    Some("title"),
                    "missing or empty".into(),
                ));
            }
            let body = opt_string(obj.get("text"), "text", &shown, line)?;
            if body.is_empty() {
                return Err(problem(
                    &shown,
                    Some(line),
                    Some("text"),
                    "missing or empty".into(),
                ));
            }
            let lang = match obj.get("lang") {
                None | Some(Value::Null) => detect_lang(&format!("{title} {body}")),
                Some(Value::String(s)) => Lang::parse(s).ok_or_else(|| {
                    problem(
                        &shown,
                        Some(line),
                        Some("lang"),
                        format!("`{s}` is not fr or en"),
                    )
                })?,
                Some(_) => {
                    return Err(problem(
                        &shown,
                        Some(line),
                        Some("lang"),
                        "must be a string".into(),
                    ))
                }
            };
            let error_codes = string_list(obj.get("error_codes"), "error_codes", &shown, line)?;
            let category = match obj.get("category") {
                None | Some(Value::Null) => {
                    guess_category(&format!("{title} {body}"), !error_codes.is_empty())
                }
                Some(Value::String(s)) => Category::parse(s).ok_or_else(|| {
                    problem(
                        &shown,
                        Some(line),
                        Some("category"),
                        format!(
                            "`{s}` is not one of {}",
                            Category::ALL.map(|c| c.as_str()).join(", ")
                        ),
                    )
                })?,
                Some(_) => {
                    return Err(problem(
                        &shown,
                        Some(line),
                        Some("category"),
                        "must be a string".into(),
                    ))
                }
            };
            let mut manufacturer =
                opt_string(obj.get("manufacturer"), "manufacturer", &shown, line)?;
            let mut models = Vec::new();
            for m in string_list(obj.get("models"), "models", &shown, line)? {
                match catalogue.resolve(&m) {
                    Some(known) => models.push(known.canonical()),
                    // A model the catalogue does not know yet joins it with the import.
                    None => {
                        let model = model_from_name(&m, &manufacturer);
                        models.push(model.canonical());
                        added.push(model);
                    }
                }
            }
            if manufacturer.is_empty() {
                if let Some(first) = models.first() {
                    manufacturer = catalogue
                        .resolve(first)
                        .map(|m| m.manufacturer.clone())
                        .or_else(|| {
                            added
                                .iter()
                                .find(|a| a.canonical() == *first)
                                .map(|a| a.manufacturer.clone())
                        })
                        .unwrap_or_default();
                }
            }
            let source = opt_string(obj.get("source"), "source", &shown, line)?;
            Ok(KbEntry {
                id,
                title,
                lang,
                manufacturer,
                models,
                category,
                error_codes,
                symptoms: string_list(obj.get("symptoms"), "symptoms", &shown, line)?,
                description: body,
                cause: opt_string(obj.get("cause"), "cause", &shown, line)?,
                solution: opt_string(obj.get("solution"), "solution", &shown, line)?,
                steps: string_list(obj.get("steps"), "steps", &shown, line)?,
                tags: string_list(obj.get("tags"), "tags", &shown, line)?,
                source: if source.is_empty() {
                    format!(
                        "imported from {} line {line}",
                        file.file_name()
                            .map(|f| f.to_string_lossy())
                            .unwrap_or_default()
                    )
                } else {
                    source
                },
            })
        })();
        for model in added {
            if catalogue.resolve(&model.canonical()).is_none() {
                new_models.push(model);
                let mut all = existing.clone();
                all.extend(new_models.iter().cloned());
                catalogue = Catalogue::with_builtin(&all);
            }
        }
        match record {
            Ok(entry) => {
                if !seen.insert(entry.id.clone()) {
                    errors.push(problem(
                        &shown,
                        Some(line),
                        Some("id"),
                        format!("duplicate id `{}`", entry.id),
                    ));
                    continue;
                }
                let problems =
                    validate_entry(&entry, &format!("{shown}:{line}"), None, "", &catalogue);
                if problems.is_empty() {
                    entries.push(entry);
                } else {
                    errors.extend(problems.into_iter().map(|mut p| {
                        p.file = shown.clone();
                        p.line = Some(line);
                        p
                    }));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Error::KbInvalid(errors));
    }
    require_entries(&entries, &shown, None)?;
    write_kb(out_dir, collection, &entries, &new_models)
}
