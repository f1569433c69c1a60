//! `devicekb import seed`: the earlier project's `reference_data.json`.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::*;
use crate::error::{Error, Result, ValidationError};
use crate::kb::catalogue::{model_key, Catalogue, PrinterModel};
use crate::kb::entry::{KbEntry, Lang};
use crate::kb::validate::validate_entry;

#[derive(Debug, Deserialize)]
struct SeedFile {
    #[serde(default)]
    printer_models: Vec<SeedModel>,
    knowledge_base: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct SeedModel {
    manufacturer: String,
    model_name: String,
    #[serde(default)]
    model_code: String,
    #[serde(default)]
    specifications: Value,
}

/// Line of the `n`-th (0-based) occurrence of `"key"` in a JSON text.
fn nth_key_line(text: &str, key: &str, n: usize) -> Option<usize> {
    let needle = format!("\"{key}\"");
    text.match_indices(&needle)
        .nth(n)
        .map(|(at, _)| crate::kb::catalogue::line_of(text, at))
}

/// Imports the earlier project's seed file (`printer_models` + `knowledge_base`).
pub fn import_seed(
    file: &Path,
    out_dir: &Path,
    lang: Lang,
    mode: WriteMode,
) -> Result<ImportReport> {
    let shown = file.display().to_string();
    let text =
        std::fs::read_to_string(file).map_err(|e| Error::io(format!("reading {shown}"), e))?;
    let seed: SeedFile = serde_json::from_str(&text).map_err(|e| {
        Error::KbInvalid(vec![problem(
            &shown,
            Some(e.line()),
            None,
            format!("invalid seed file: {e}"),
        )])
    })?;
    let lock = super::files::open_kb(out_dir)?;
    let catalogue_read = existing_catalogue(out_dir)?;
    let mut models = catalogue_read.clone();
    let mut added = Vec::new();
    for m in &seed.printer_models {
        let known = Catalogue::with_builtin(&models);
        if known
            .resolve(&format!("{} {}", m.manufacturer, m.model_name))
            .is_none()
        {
            let model = PrinterModel {
                manufacturer: m.manufacturer.trim().to_string(),
                name: m.model_name.trim().to_string(),
                series: m.model_code.trim().to_string(),
                kind: m
                    .specifications
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                aliases: Vec::new(),
            };
            models.push(model.clone());
            added.push(model);
        }
    }
    let catalogue = Catalogue::with_builtin(&models);
    let mut errors = Vec::new();
    let mut entries: Vec<KbEntry> = Vec::new();
    let mut used: HashSet<String> = HashSet::new();
    for (i, item) in seed.knowledge_base.iter().enumerate() {
        let line = nth_key_line(&text, "problem_title", i).unwrap_or(1);
        let record = (|| -> std::result::Result<KbEntry, ValidationError> {
            let obj = item.as_object().ok_or_else(|| {
                problem(
                    &shown,
                    Some(line),
                    None,
                    format!("knowledge_base item {} is not an object", i + 1),
                )
            })?;
            let title = opt_string(obj.get("problem_title"), "problem_title", &shown, line)?;
            if title.is_empty() {
                return Err(problem(
                    &shown,
                    Some(line),
                    Some("problem_title"),
                    format!("knowledge_base item {} has an empty title", i + 1),
                ));
            }
            let model_name = opt_string(obj.get("model"), "model", &shown, line)?;
            let model = if model_name.is_empty() {
                None
            } else {
                Some(catalogue.resolve(&model_name).ok_or_else(|| {
                    problem(
                        &shown,
                        Some(line),
                        Some("model"),
                        format!("`{model_name}` is not in printer_models nor in the catalogue"),
                    )
                })?)
            };
            let error_codes = string_list(obj.get("error_codes"), "error_codes", &shown, line)?;
            let description = opt_string(
                obj.get("problem_description"),
                "problem_description",
                &shown,
                line,
            )?;
            let tags = string_list(obj.get("tags"), "tags", &shown, line)?;
            let id = match obj.get("id").and_then(Value::as_str) {
                Some(id) if !id.trim().is_empty() => id.trim().to_string(),
                _ => {
                    let base = slugify(&format!(
                        "{} {title}",
                        model.map(|m| model_key(&m.canonical())).unwrap_or_default()
                    ));
                    let mut candidate = base.clone();
                    let mut n = 2;
                    while used.contains(&candidate) {
                        candidate = format!("{base}-{n}");
                        n += 1;
                    }
                    candidate
                }
            };
            if !used.insert(id.clone()) {
                return Err(problem(
                    &shown,
                    Some(line),
                    Some("id"),
                    format!("duplicate id `{id}`"),
                ));
            }
            Ok(KbEntry {
                id,
                category: guess_category(
                    &format!("{title} {} {}", description, tags.join(" ")),
                    !error_codes.is_empty(),
                ),
                title,
                lang,
                manufacturer: model.map(|m| m.manufacturer.clone()).unwrap_or_default(),
                models: model.map(|m| vec![m.canonical()]).unwrap_or_default(),
                error_codes,
                symptoms: Vec::new(),
                description: if description.is_empty() {
                    opt_string(obj.get("problem_title"), "problem_title", &shown, line)?
                } else {
                    description
                },
                cause: opt_string(obj.get("cause"), "cause", &shown, line)?,
                solution: opt_string(obj.get("solution"), "solution", &shown, line)?,
                steps: string_list(obj.get("solution_steps"), "solution_steps", &shown, line)?,
                tags,
                source: {
                    let s = opt_string(obj.get("source"), "source", &shown, line)?;
                    if s.is_empty() {
                        format!(
                            "imported from {}",
                            file.file_name()
                                .map(|f| f.to_string_lossy())
                                .unwrap_or_default()
                        )
                    } else {
                        s
                    }
                },
            })
        })();
        match record {
            Ok(entry) => {
                let problems = validate_entry(&entry, &shown, None, "", &catalogue);
                if problems.is_empty() {
                    entries.push(entry);
                } else {
                    errors.extend(problems.into_iter().map(|mut p| {
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
    require_entries(&entries, &shown, Some("knowledge_base"))?;
    let source = file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let export = Export {
        source: &source,
        entries: &entries,
        catalogue: &catalogue_read,
        new_models: &added,
        not_whole: None,
    };
    write_kb(out_dir, "seed", export, mode, &lock)
}
