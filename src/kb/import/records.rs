//! What every record-based importer shares (`jsonl`, `csv`): a record is a JSON object of
//! the same fields whatever the file's format, read into an entry, checked, and kept until
//! the whole file has been read, so a file with one bad record writes nothing.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde_json::{Map, Value};

use super::fields::{FieldMap, Read};
use super::html;
use super::*;
use crate::error::{Error, Result, ValidationError};
use crate::kb::catalogue::{Catalogue, PrinterModel};
use crate::kb::entry::{Category, KbEntry, Lang};
use crate::kb::lang::detect_lang;
use crate::kb::validate::{is_valid_id, validate_entry};

/// The fields a record may have: `id`, `title` and `text` are required.
pub(super) const KNOWN: &[&str] = &[
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

/// The fields that hold a list.
pub(super) const LISTS: &[&str] = &["tags", "models", "error_codes", "steps", "symptoms"];

/// The records of one file being imported: the entries read so far, every problem found,
/// and the models the catalogue learns from them.
pub(super) struct Records {
    /// The file as problems name it.
    shown: String,
    /// The file's name, for an entry's default `source`.
    file_name: String,
    existing: Vec<PrinterModel>,
    catalogue: Catalogue,
    new_models: Vec<PrinterModel>,
    entries: Vec<KbEntry>,
    seen: HashSet<String>,
    errors: Vec<ValidationError>,
    /// Records written in HTML, read as plain text.
    html: usize,
    fields: FieldMap,
    /// The export's fields left out (`--ignore-unknown`).
    ignored: BTreeSet<String>,
    /// Records by the language they name when it is neither French nor English: their
    /// language is read from their words.
    other_langs: BTreeMap<String, usize>,
    /// Fields neither known nor mapped: (the first record's line, how many records), said
    /// once each rather than once a record.
    unknown: BTreeMap<String, (usize, usize)>,
}

impl Records {
    /// Starts the import of `file` into `out_dir`, whose catalogue (if any) models resolve
    /// against along with the product's.
    pub(super) fn new(file: &Path, out_dir: &Path, fields: &FieldMap) -> Result<Self> {
        let existing = existing_catalogue(out_dir)?;
        Ok(Records {
            shown: file.display().to_string(),
            file_name: file
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            catalogue: Catalogue::with_builtin(&existing),
            existing,
            new_models: Vec::new(),
            entries: Vec::new(),
            seen: HashSet::new(),
            errors: Vec::new(),
            html: 0,
            fields: fields.clone(),
            ignored: BTreeSet::new(),
            other_langs: BTreeMap::new(),
            unknown: BTreeMap::new(),
        })
    }

    pub(super) fn shown(&self) -> &str {
        &self.shown
    }

    /// A problem with the record at `line` that keeps it from being read at all.
    pub(super) fn refuse(&mut self, line: usize, field: Option<&str>, message: String) {
        let problem = problem(&self.shown, Some(line), field, message);
        self.errors.push(problem);
    }

    pub(super) fn fields(&self) -> &FieldMap {
        &self.fields
    }

    /// Notes that the export's field `theirs` was left out (`--ignore-unknown`).
    pub(super) fn left_out(&mut self, theirs: &str) {
        self.ignored.insert(theirs.trim().to_lowercase());
    }

    /// Reads the record at `line`, its fields named as the export names them: kept when it
    /// is a valid entry, else its problems are.
    pub(super) fn add(&mut self, obj: &Map<String, Value>, line: usize) {
        let mut ours = Map::new();
        let mut known = true;
        for (theirs, value) in obj {
            match self.fields.read(theirs) {
                Some(Read::Field(field)) => {
                    if ours.contains_key(field) {
                        let message = format!(
                            "two of the record's fields are read as `{field}` (`{theirs}` is one)"
                        );
                        return self.refuse(line, Some(field), message);
                    }
                    ours.insert(field.to_string(), value.clone());
                }
                Some(Read::Ignored) => self.left_out(theirs),
                None => {
                    let seen = self.unknown.entry(theirs.clone()).or_insert((line, 0));
                    seen.1 += 1;
                    known = false;
                }
            }
        }
        if known {
            self.add_fields(&ours, line);
        }
    }

    /// Reads the record at `line`, its fields already named as the KB names them.
    pub(super) fn add_fields(&mut self, obj: &Map<String, Value>, line: usize) {
        let mut added: Vec<PrinterModel> = Vec::new();
        let (obj, was_html) = read_html(obj);
        if was_html {
            self.html += 1;
        }
        let record = self.entry_of(&obj, line, &mut added);
        if let Some(Value::String(lang)) = obj.get("lang") {
            if record.is_ok() && Lang::parse(lang).is_none() {
                *self.other_langs.entry(lang.trim().to_string()).or_default() += 1;
            }
        }
        for model in added {
            if self.catalogue.resolve(&model.canonical()).is_none() {
                self.new_models.push(model);
                let mut all = self.existing.clone();
                all.extend(self.new_models.iter().cloned());
                self.catalogue = Catalogue::with_builtin(&all);
            }
        }
        let entry = match record {
            Ok(entry) => entry,
            Err(e) => return self.errors.push(e),
        };
        if !self.seen.insert(entry.id.clone()) {
            let message = format!("duplicate id `{}`", entry.id);
            return self.refuse(line, Some("id"), message);
        }
        let shown = &self.shown;
        let problems = validate_entry(
            &entry,
            &format!("{shown}:{line}"),
            None,
            "",
            &self.catalogue,
        );
        if problems.is_empty() {
            self.entries.push(entry);
        } else {
            self.errors.extend(problems.into_iter().map(|mut p| {
                p.file = shown.clone();
                p.line = Some(line);
                p
            }));
        }
    }

    /// Writes the entries as the collection `collection` of the KB in `out_dir`, unless a
    /// record had a problem or there were none.
    pub(super) fn finish(mut self, out_dir: &Path, collection: &str) -> Result<ImportReport> {
        for (theirs, (line, records)) in &self.unknown {
            let mut message = self.fields.unknown("field", theirs);
            if *records > 1 {
                message = format!("{message} (in {records} records, the first here)");
            }
            let problem = problem(&self.shown, Some(*line), Some(theirs), message);
            self.errors.push(problem);
        }
        if !self.errors.is_empty() {
            self.errors.sort_by_key(|p| p.line);
            return Err(Error::KbInvalid(self.errors));
        }
        require_entries(&self.entries, &self.shown, None)?;
        let mut report = write_kb(out_dir, collection, &self.entries, &self.new_models)?;
        if self.html > 0 {
            let note = format!(
                "{} of {} entries were written in HTML: read as plain text (tags dropped, list items on lines of their own)",
                self.html,
                self.entries.len()
            );
            report.notes.insert(0, note);
        }
        if !self.other_langs.is_empty() {
            let count: usize = self.other_langs.values().sum();
            let named: Vec<String> = self.other_langs.keys().map(|l| format!("`{l}`")).collect();
            let note = format!(
                "{count} of {} entries name another language than French and English ({}): each is searched as the one of the two its words are closer to",
                self.entries.len(),
                named.join(", ")
            );
            report.notes.push(note);
        }
        if !self.ignored.is_empty() {
            let names: Vec<&str> = self.ignored.iter().map(String::as_str).collect();
            let note = format!(
                "left out, not being fields of the KB (--ignore-unknown): {}",
                names.join(", ")
            );
            report.notes.insert(0, note);
        }
        Ok(report)
    }

    fn entry_of(
        &self,
        obj: &Map<String, Value>,
        line: usize,
        added: &mut Vec<PrinterModel>,
    ) -> std::result::Result<KbEntry, ValidationError> {
        let shown = self.shown.as_str();
        let file_name = &self.file_name;
        let invalid =
            |field: &str, message: String| problem(shown, Some(line), Some(field), message);
        let id = match obj.get("id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(invalid("id", "missing or empty".into()))
            }
            Some(_) => return Err(invalid("id", "must be a string".into())),
        };
        if !is_valid_id(&id) {
            let rule = "letters, digits, `.`, `_`, `-`; at most 100 characters";
            return Err(invalid("id", format!("`{id}` is not a valid id ({rule})")));
        }
        let title = opt_string(obj.get("title"), "title", shown, line)?;
        if title.is_empty() {
            return Err(invalid("title", "missing or empty".into()));
        }
        let body = opt_string(obj.get("text"), "text", shown, line)?;
        if body.is_empty() {
            return Err(invalid("text", "missing or empty".into()));
        }
        let lang = match obj.get("lang") {
            None | Some(Value::Null) => detect_lang(&format!("{title} {body}")),
            Some(Value::String(s)) => match Lang::parse(s) {
                Some(lang) => lang,
                None if is_language_tag(s) => detect_lang(&format!("{title} {body}")),
                None => {
                    let message =
                        format!("`{s}` is not a language (fr, en, or a tag such as de or fr-CA)");
                    return Err(invalid("lang", message));
                }
            },
            Some(_) => return Err(invalid("lang", "must be a string".into())),
        };
        let error_codes = string_list(obj.get("error_codes"), "error_codes", shown, line)?;
        let category = match obj.get("category") {
            None | Some(Value::Null) => {
                guess_category(&format!("{title} {body}"), !error_codes.is_empty())
            }
            Some(Value::String(s)) => Category::parse(s).ok_or_else(|| {
                let all = Category::ALL.map(|c| c.as_str()).join(", ");
                invalid("category", format!("`{s}` is not one of {all}"))
            })?,
            Some(_) => return Err(invalid("category", "must be a string".into())),
        };
        let mut manufacturer = opt_string(obj.get("manufacturer"), "manufacturer", shown, line)?;
        let mut models = Vec::new();
        for m in string_list(obj.get("models"), "models", shown, line)? {
            match self.catalogue.resolve(&m) {
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
                manufacturer = self
                    .catalogue
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
        let source = opt_string(obj.get("source"), "source", shown, line)?;
        Ok(KbEntry {
            id,
            title,
            lang,
            manufacturer,
            models,
            category,
            error_codes,
            symptoms: string_list(obj.get("symptoms"), "symptoms", shown, line)?,
            description: body,
            cause: opt_string(obj.get("cause"), "cause", shown, line)?,
            solution: opt_string(obj.get("solution"), "solution", shown, line)?,
            steps: string_list(obj.get("steps"), "steps", shown, line)?,
            tags: string_list(obj.get("tags"), "tags", shown, line)?,
            source: if source.is_empty() {
                format!("imported from {file_name} line {line}")
            } else {
                source
            },
        })
    }
}

/// A language tag as exports write them: `de`, `pt-BR`, `zh_Hant`.
fn is_language_tag(value: &str) -> bool {
    let mut parts = value.trim().split(['-', '_']);
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The record with its texts written in HTML read as plain text (before its language is
/// detected and its category guessed, which tags would mislead), and whether one was. A
/// title or a list item stays on one line.
fn read_html(obj: &Map<String, Value>) -> (Map<String, Value>, bool) {
    let mut obj = obj.clone();
    let mut any = false;
    let mut read = |value: &mut Value, one_line: bool| {
        if let Value::String(text) = value {
            if let Some(plain) = html::plain_text(text) {
                *text = if one_line {
                    plain.lines().collect::<Vec<_>>().join(" ")
                } else {
                    plain
                };
                any = true;
            }
        }
    };
    for (field, value) in obj.iter_mut() {
        match field.as_str() {
            "text" | "cause" | "solution" => read(value, false),
            "title" => read(value, true),
            "steps" | "symptoms" => {
                if let Value::Array(items) = value {
                    items.iter_mut().for_each(|item| read(item, true));
                }
            }
            _ => {}
        }
    }
    (obj, any)
}
