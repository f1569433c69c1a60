//! Importers that turn other KB formats into entry files: the earlier project's seed file
//! and JSON Lines. Every record is checked first; files are written only when all pass,
//! staged in a temporary directory and renamed into place, so nothing is half-written.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::catalogue::{model_key, Catalogue, PrinterModel};
use super::entry::{Category, KbEntry, Lang};
use super::lang::detect_lang;
use super::load::{CATALOGUE_FILE, ENTRIES_DIR};
use super::validate::{is_valid_id, validate_entry};
use crate::error::{Error, Result, ValidationError};

/// What an import wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub entries_written: usize,
    pub models_added: usize,
    pub out_dir: PathBuf,
}

fn problem(
    file: &str,
    line: Option<usize>,
    field: Option<&str>,
    message: String,
) -> ValidationError {
    ValidationError {
        file: file.to_string(),
        line,
        field: field.map(str::to_string),
        message,
    }
}

/// A slug from free text: ASCII letters and digits, dashes between words.
pub fn slugify(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::new();
    for c in text.nfkd() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if (c.is_whitespace() || c.is_ascii_punctuation())
            && !out.ends_with('-')
            && !out.is_empty()
        {
            out.push('-');
        }
    }
    let mut slug = out.trim_matches('-').to_string();
    slug.truncate(80);
    slug.trim_matches('-').to_string()
}

/// Category guessed from an imported entry's words, for formats that have none.
fn guess_category(text: &str, has_codes: bool) -> Category {
    let t = text.to_lowercase();
    let table: &[(&[&str], Category)] = &[
        (&["bourrage", "jam", "coincé"], Category::PaperJam),
        (
            &[
                "réseau", "network", "ip ", "tcp", "wi-fi", "wifi", "ethernet",
            ],
            Category::Network,
        ),
        (&["pilote", "driver"], Category::Driver),
        (
            &[
                "pâle",
                "traînée",
                "trainée",
                "qualité",
                "quality",
                "streak",
                "faded",
                "taches",
                "couleurs",
            ],
            Category::PrintQuality,
        ),
        (
            &[
                "toner",
                "cartouche",
                "cartridge",
                "encre",
                "ink",
                "consommable",
            ],
            Category::Supplies,
        ),
        (
            &["maintenance", "kit de fusion", "nettoyage", "cleaning"],
            Category::Maintenance,
        ),
    ];
    for (words, category) in table {
        if words.iter().any(|w| t.contains(w)) {
            return *category;
        }
    }
    if has_codes {
        Category::ErrorMessage
    } else {
        Category::General
    }
}

fn string_list(
    value: Option<&Value>,
    field: &str,
    file: &str,
    line: usize,
) -> std::result::Result<Vec<String>, ValidationError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.trim().to_string()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(problem(
                    file,
                    Some(line),
                    Some(field),
                    "must be a list of strings".into(),
                )),
            })
            .collect(),
        Some(_) => Err(problem(
            file,
            Some(line),
            Some(field),
            "must be a list of strings".into(),
        )),
    }
}

fn opt_string(
    value: Option<&Value>,
    field: &str,
    file: &str,
    line: usize,
) -> std::result::Result<String, ValidationError> {
    match value {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(_) => Err(problem(
            file,
            Some(line),
            Some(field),
            "must be a string".into(),
        )),
    }
}

/// Manufacturers recognised as the first word of a model name ("Lexmark C750").
const MANUFACTURERS: &[&str] = &[
    "Lexmark", "HP", "Brother", "Canon", "Epson", "Xerox", "Kyocera", "Ricoh", "Samsung", "Konica",
    "Sharp", "OKI", "Dell", "Toshiba", "Pantum", "Develop", "Utax", "Olivetti",
];

/// A catalogue model for a name the catalogue does not know: the manufacturer is the
/// record's, or the name's first word when it is a known manufacturer.
fn model_from_name(name: &str, manufacturer: &str) -> PrinterModel {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let (maker, rest) = match name.split_once(' ') {
        Some((first, rest))
            if !manufacturer.is_empty() && first.eq_ignore_ascii_case(manufacturer) =>
        {
            (manufacturer.to_string(), rest.to_string())
        }
        Some((first, rest)) if manufacturer.is_empty() => {
            match MANUFACTURERS.iter().find(|m| m.eq_ignore_ascii_case(first)) {
                Some(m) => (m.to_string(), rest.to_string()),
                None => (String::new(), name.clone()),
            }
        }
        _ => (manufacturer.to_string(), name.clone()),
    };
    PrinterModel {
        manufacturer: maker,
        name: rest,
        series: String::new(),
        kind: String::new(),
        aliases: Vec::new(),
    }
}

/// Reads the catalogue already in `out_dir`, if any.
fn existing_catalogue(out_dir: &Path) -> Result<Vec<PrinterModel>> {
    Ok(Catalogue::load(&out_dir.join(CATALOGUE_FILE))?
        .models()
        .to_vec())
}

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
    if entries.is_empty() {
        return Err(Error::KbInvalid(vec![problem(
            &shown,
            None,
            None,
            "no entries in the file".into(),
        )]));
    }
    write_kb(out_dir, collection, &entries, &new_models)
}

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
        .map(|(at, _)| super::catalogue::line_of(text, at))
}

/// Imports the earlier project's seed file (`printer_models` + `knowledge_base`).
pub fn import_seed(file: &Path, out_dir: &Path, lang: Lang) -> Result<ImportReport> {
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
    let mut models = existing_catalogue(out_dir)?;
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
    write_kb(out_dir, "seed", &entries, &added)
}

/// Renders the catalogue file for `models`.
fn render_catalogue(models: &[PrinterModel]) -> Result<String> {
    #[derive(serde::Serialize)]
    struct File<'a> {
        model: &'a [PrinterModel],
    }
    toml::to_string(&File { model: models })
        .map_err(|e| Error::Internal(format!("rendering the catalogue: {e}")))
}

/// Writes entries (and new catalogue models) under `out_dir`, staging everything in a
/// temporary directory first. Refuses to overwrite an existing entry file.
fn write_kb(
    out_dir: &Path,
    collection: &str,
    entries: &[KbEntry],
    new_models: &[PrinterModel],
) -> Result<ImportReport> {
    let collection = slugify(collection);
    let target_dir = out_dir.join(ENTRIES_DIR).join(&collection);
    let clashes: Vec<ValidationError> = entries
        .iter()
        .filter(|e| target_dir.join(format!("{}.toml", e.id)).exists())
        .map(|e| {
            problem(
                &target_dir
                    .join(format!("{}.toml", e.id))
                    .display()
                    .to_string(),
                None,
                Some("id"),
                format!(
                    "an entry `{}` already exists; remove it or import into another directory",
                    e.id
                ),
            )
        })
        .collect();
    if !clashes.is_empty() {
        return Err(Error::KbInvalid(clashes));
    }
    let parent = out_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    let staging = tempfile::Builder::new()
        .prefix(".devicekb-import-")
        .tempdir_in(parent)
        .map_err(|e| {
            Error::io(
                format!("creating a staging directory in {}", parent.display()),
                e,
            )
        })?;
    let stage_entries = staging.path().join(ENTRIES_DIR).join(&collection);
    std::fs::create_dir_all(&stage_entries)
        .map_err(|e| Error::io("creating the staging tree", e))?;
    for entry in entries {
        let body = toml::to_string(entry)
            .map_err(|e| Error::Internal(format!("rendering entry {}: {e}", entry.id)))?;
        std::fs::write(stage_entries.join(format!("{}.toml", entry.id)), body)
            .map_err(|e| Error::io("writing a staged entry", e))?;
    }
    let mut catalogue_text = None;
    if !new_models.is_empty() {
        let mut all = existing_catalogue(out_dir)?;
        all.extend(new_models.iter().cloned());
        catalogue_text = Some(render_catalogue(&all)?);
    }
    if !out_dir.exists() {
        // Fresh KB: one rename publishes the whole tree.
        if let Some(text) = &catalogue_text {
            let cat = staging.path().join(CATALOGUE_FILE);
            std::fs::create_dir_all(cat.parent().expect("catalogue path has a parent"))
                .map_err(|e| Error::io("creating the staging tree", e))?;
            std::fs::write(&cat, text).map_err(|e| Error::io("writing the staged catalogue", e))?;
        }
        let staged = staging.keep();
        std::fs::rename(&staged, out_dir)
            .map_err(|e| Error::io(format!("moving the import into {}", out_dir.display()), e))?;
    } else {
        // Existing KB: every file is complete before it is renamed into place.
        std::fs::create_dir_all(&target_dir)
            .map_err(|e| Error::io(format!("creating {}", target_dir.display()), e))?;
        if let Some(text) = &catalogue_text {
            let cat = out_dir.join(CATALOGUE_FILE);
            std::fs::create_dir_all(cat.parent().expect("catalogue path has a parent"))
                .map_err(|e| Error::io("creating the catalogue directory", e))?;
            let tmp = staging.path().join("models.toml");
            std::fs::write(&tmp, text).map_err(|e| Error::io("writing the staged catalogue", e))?;
            std::fs::rename(&tmp, &cat)
                .map_err(|e| Error::io(format!("replacing {}", cat.display()), e))?;
        }
        for entry in entries {
            let name = format!("{}.toml", entry.id);
            std::fs::rename(stage_entries.join(&name), target_dir.join(&name)).map_err(|e| {
                Error::io(format!("moving {name} into {}", target_dir.display()), e)
            })?;
        }
    }
    Ok(ImportReport {
        entries_written: entries.len(),
        models_added: new_models.len(),
        out_dir: out_dir.to_path_buf(),
    })
}
