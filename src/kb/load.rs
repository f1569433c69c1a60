//! Reads a KB directory: the catalogue and every entry file, collecting every problem
//! instead of stopping at the first, so an editor fixes them all in one go.

use super::lexicon::{Lexicon, LEXICON_FILE};
use super::lock::KbLock;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use super::catalogue::{line_of, Catalogue};
use super::confirmed::{parse_confirmed, ConfirmedAnswer, CONFIRMED_FILE};
use super::entry::KbEntry;
use super::templates::{Templates, TEMPLATES_FILE};
use super::training::{parse_training, with_builtin_training, LabelledTicket, TRAINING_FILE};
use super::validate::validate_entry;
use crate::error::{Error, Result, ValidationError};

pub const ENTRIES_DIR: &str = "entries";
pub const CATALOGUE_FILE: &str = "catalogue/models.toml";
/// Where a KB directory keeps its extraction rules (their format is the extractor's).
pub const RULES_FILE: &str = "catalogue/families.toml";

/// A KB read from its directory.
#[derive(Debug, Clone)]
pub struct LoadedKb {
    pub entries: Vec<KbEntry>,
    pub catalogue: Catalogue,
    /// The text of `catalogue/families.toml` (extraction rules), when the KB has one.
    /// Not checked here: the extractor owns that format (`extract::load_kb` checks it).
    pub rules: Option<String>,
    /// The text of `templates/replies.toml`, when the KB has one.
    pub templates: Option<String>,
    /// The text of `catalogue/lexicon.toml`, when the KB has one (checked here).
    pub lexicon: Option<String>,
    /// The classifier's labelled tickets: the product's, extended by the KB's own
    /// `training/tickets.jsonl`.
    pub training: Vec<LabelledTicket>,
    /// Customers' messages the desk confirmed an answer for (`confirmed/answers.jsonl`).
    pub confirmed: Vec<ConfirmedAnswer>,
}

static KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*([A-Za-z_]+)\s*=").expect("valid regex"));
static BACKTICKED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"`([A-Za-z_]+)`").expect("valid regex"));

/// Parses one entry file's text.
pub fn parse_entry(text: &str, file: &str) -> std::result::Result<KbEntry, ValidationError> {
    toml::from_str::<KbEntry>(text).map_err(|e| {
        let message = e.message().trim().to_string();
        let named = BACKTICKED.captures(&message).map(|c| c[1].to_string());
        if message.starts_with("missing field") {
            // A missing field has no line of its own (toml points at the whole table).
            return ValidationError {
                file: file.to_string(),
                line: None,
                field: named,
                message,
            };
        }
        let line = e.span().map(|s| line_of(text, s.start));
        // The key written on the offending line names the field ("category = ...").
        let key_on_line = line
            .and_then(|l| text.lines().nth(l - 1))
            .and_then(|l| KEY.captures(l))
            .map(|c| c[1].to_string());
        let field = if message.starts_with("unknown field") {
            named
        } else {
            key_on_line
        };
        ValidationError {
            file: file.to_string(),
            line,
            field,
            message,
        }
    })
}

/// Every `*.toml` under `dir`, sorted so loads are deterministic.
pub(super) fn entry_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let read =
            std::fs::read_dir(&d).map_err(|e| Error::io(format!("listing {}", d.display()), e))?;
        for item in read {
            let item = item.map_err(|e| Error::io(format!("listing {}", d.display()), e))?;
            let path = item.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Reads the KB under `kb_dir`: what is valid, and every problem found in the KB's own
/// formats (`extract::load_kb` adds the extraction rules' and is what callers use). An
/// error is returned only when the directory cannot be read at all.
pub fn read_kb(kb_dir: &Path) -> Result<(LoadedKb, Vec<ValidationError>)> {
    if !kb_dir.is_dir() {
        return Err(Error::Config(format!(
            "the KB directory {} does not exist",
            kb_dir.display()
        )));
    }
    // Held to the last file read: an import or `learn` writing meanwhile is waited for,
    // never read half-written.
    let _lock = KbLock::read(kb_dir)?;
    let mut errors = Vec::new();
    // The product's catalogue, extended by the KB's own models.
    let catalogue = match Catalogue::load(&kb_dir.join(CATALOGUE_FILE)) {
        Ok(own) => Catalogue::with_builtin(own.models()),
        Err(Error::KbInvalid(mut e)) => {
            errors.append(&mut e);
            Catalogue::builtin()
        }
        Err(other) => return Err(other),
    };
    let rules = read_optional(&kb_dir.join(RULES_FILE))?;
    let templates_path = kb_dir.join(TEMPLATES_FILE);
    let templates = read_optional(&templates_path)?;
    if let Some(text) = &templates {
        if let Err(e) = Templates::parse(text, &templates_path.display().to_string()) {
            errors.push(e);
        }
    }
    let lexicon_path = kb_dir.join(LEXICON_FILE);
    let lexicon = read_optional(&lexicon_path)?;
    if let Some(text) = &lexicon {
        let file = lexicon_path.display().to_string();
        if let Err(e) = Lexicon::for_kb(None, Some(text), &file) {
            errors.push(e);
        }
    }
    let training = with_builtin_training(parse_optional(
        &kb_dir.join(TRAINING_FILE),
        parse_training,
        &mut errors,
    )?);
    let confirmed = parse_optional(&kb_dir.join(CONFIRMED_FILE), parse_confirmed, &mut errors)?;
    let entries_dir = kb_dir.join(ENTRIES_DIR);
    let files = if entries_dir.is_dir() {
        entry_files(&entries_dir)?
    } else {
        Vec::new()
    };
    let mut entries = Vec::with_capacity(files.len());
    let mut seen: HashMap<String, String> = HashMap::new();
    for path in files {
        let shown = path
            .strip_prefix(kb_dir)
            .map(|p| Path::new(kb_dir.file_name().unwrap_or_default()).join(p))
            .unwrap_or_else(|_| path.clone())
            .display()
            .to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(ValidationError {
                    file: shown,
                    line: None,
                    field: None,
                    message: format!("cannot read the file: {e}"),
                });
                continue;
            }
        };
        let entry = match parse_entry(&text, &shown) {
            Ok(entry) => entry,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let stem = path.file_stem().and_then(|s| s.to_str());
        let mut problems = validate_entry(&entry, &shown, stem, &text, &catalogue);
        if let Some(first) = seen.get(&entry.id) {
            problems.push(ValidationError {
                file: shown.clone(),
                line: super::validate::field_line(&text, "id"),
                field: Some("id".into()),
                message: format!("duplicate id `{}`, already used by {first}", entry.id),
            });
        } else {
            seen.insert(entry.id.clone(), shown.clone());
        }
        if problems.is_empty() {
            entries.push(entry);
        } else {
            errors.extend(problems);
        }
    }
    let kb = LoadedKb {
        entries,
        catalogue,
        rules,
        templates,
        lexicon,
        training,
        confirmed,
    };
    Ok((kb, errors))
}

/// The records of an optional JSON-Lines file (none when it is absent); its bad lines join
/// `errors`, so every problem of the KB is reported in one go.
fn parse_optional<T>(
    path: &Path,
    parse: impl Fn(&str, &str) -> std::result::Result<Vec<T>, Vec<ValidationError>>,
    errors: &mut Vec<ValidationError>,
) -> Result<Vec<T>> {
    let Some(text) = read_optional(path)? else {
        return Ok(Vec::new());
    };
    Ok(
        parse(&text, &path.display().to_string()).unwrap_or_else(|mut e| {
            errors.append(&mut e);
            Vec::new()
        }),
    )
}

/// The text of an optional KB file; `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}
