//! Importers that turn other KB formats into entry files: the earlier project's seed file
//! (`seed`), JSON (`jsonl`) and a spreadsheet's CSV (`csv`). Every record is checked
//! first; files are written only when all pass, staged in a temporary directory and renamed
//! into place, so nothing is half-written (`write`). Importing the same export again
//! updates the collection it wrote (`WriteMode::Update`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::catalogue::{Catalogue, PrinterModel};
use super::entry::{Category, KbEntry};
use super::load::CATALOGUE_FILE;
use crate::error::{Error, Result, ValidationError};

mod csv;
mod drafts;
mod fields;
mod files;
mod html;
mod jsonl;
mod record;
mod records;
mod seed;
mod write;
#[cfg(test)]
mod write_tests;

pub use csv::{import_csv, import_csv_files};
pub use fields::FieldMap;
pub use files::REPLACED_DIR;
pub use jsonl::{import_jsonl, import_jsonl_files};
pub use record::MANIFEST_FILE;
pub use seed::import_seed;
use write::{write_kb, Export};
pub use write::{Changes, WriteMode};

/// Reads the printer models and error codes a text names, for entries whose record gives
/// neither: the extractor's work, handed in by the caller (it sits above the KB).
pub type EntityReader = std::sync::Arc<dyn Fn(&str) -> EntitiesRead + Send + Sync>;

/// Makes an import's `EntityReader` over the catalogue it resolves models against: the
/// product's and the target KB's, as the import read it under the KB's lock (so a reader
/// never works from a catalogue another import changed meanwhile).
pub type EntityReaderMaker = std::sync::Arc<dyn Fn(&Catalogue) -> EntityReader + Send + Sync>;

/// What an `EntityReader` found: canonical model names and error codes.
#[derive(Debug, Clone, Default)]
pub struct EntitiesRead {
    pub models: Vec<String>,
    pub error_codes: Vec<String>,
}

/// How a record-based import reads its file and writes its entries.
#[derive(Clone, Default)]
pub struct ImportOptions {
    /// The export's own field names.
    pub fields: FieldMap,
    /// Reads models and error codes from an entry's words (see `EntityReader`).
    pub entities: Option<EntityReaderMaker>,
    /// Whether the import may replace what an earlier import of the collection wrote.
    pub mode: WriteMode,
    /// Import the records an export marks as drafts or unpublished too.
    pub include_drafts: bool,
}

impl std::fmt::Debug for ImportOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportOptions")
            .field("fields", &self.fields)
            .field("entities", &self.entities.is_some())
            .field("mode", &self.mode)
            .field("include_drafts", &self.include_drafts)
            .finish()
    }
}

/// What an import wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    /// Entry files written: added or changed.
    pub entries_written: usize,
    pub models_added: usize,
    pub out_dir: PathBuf,
    /// The collection (sub-directory of `entries/`) written.
    pub collection: String,
    /// With `WriteMode::Update`: what became of the collection's entries.
    pub changes: Option<Changes>,
    /// What the user should know of how the file was read (its encoding) and what the
    /// product cannot do with the entries' languages (see `lang::language_summary`).
    pub notes: Vec<String>,
}

pub(super) fn problem(
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

/// The problems an import refused a file with, as (line, field, message): the importers'
/// tests compare them.
#[cfg(test)]
pub(super) fn problems_of(
    report: Result<ImportReport>,
) -> Vec<(Option<usize>, Option<String>, String)> {
    match report {
        Err(Error::KbInvalid(p)) => p
            .into_iter()
            .map(|p| (p.line, p.field, p.message))
            .collect(),
        other => panic!("expected problems, got {other:?}"),
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
pub(super) fn guess_category(text: &str, has_codes: bool) -> Category {
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

pub(super) fn string_list(
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

pub(super) fn opt_string(
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
pub(super) const MANUFACTURERS: &[&str] = &[
    "Lexmark", "HP", "Brother", "Canon", "Epson", "Xerox", "Kyocera", "Ricoh", "Samsung", "Konica",
    "Sharp", "OKI", "Dell", "Toshiba", "Pantum", "Develop", "Utax", "Olivetti",
];

/// A catalogue model for a name the catalogue does not know: the manufacturer is the
/// record's, or the name's first word when it is a known manufacturer.
pub(super) fn model_from_name(name: &str, manufacturer: &str) -> PrinterModel {
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
pub(super) fn existing_catalogue(out_dir: &Path) -> Result<Vec<PrinterModel>> {
    Ok(Catalogue::load(&out_dir.join(CATALOGUE_FILE))?
        .models()
        .to_vec())
}

/// Renders the catalogue file for `models`.
pub(super) fn render_catalogue(models: &[PrinterModel]) -> Result<String> {
    #[derive(serde::Serialize)]
    struct File<'a> {
        model: &'a [PrinterModel],
    }
    toml::to_string(&File { model: models })
        .map_err(|e| Error::Internal(format!("rendering the catalogue: {e}")))
}

/// An export with nothing in it is a wrong file, not an empty KB: the error naming `file`
/// (and the `field` that should hold the entries, when the format has one).
pub(super) fn require_entries(entries: &[KbEntry], file: &str, field: Option<&str>) -> Result<()> {
    if entries.is_empty() {
        return Err(Error::KbInvalid(vec![problem(
            file,
            None,
            field,
            "no entries in the file".into(),
        )]));
    }
    Ok(())
}
