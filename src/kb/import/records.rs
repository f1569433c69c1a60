//! What every record-based importer shares (`jsonl`, `csv`): a record is a JSON object of
//! the same fields whatever the file's format, read into an entry, checked, and kept until
//! the whole file has been read, so a file with one bad record writes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde_json::{Map, Value};

mod entry;
mod files;

use entry::other_script;

use super::drafts::{counted, publication, Publication};
use super::fields::{FieldMap, Read};
use super::files::{open_kb, KbLock};
use super::html;
use super::write::collection_folder;
use super::*;
use crate::error::{Error, Result, ValidationError};
use crate::kb::catalogue::{Catalogue, PrinterModel};
use crate::kb::entry::{Category, KbEntry, Lang};
use crate::kb::lang::is_language_tag;
use crate::kb::validate::validate_entry;

/// The fields a record may have: `title` and `text` are required (an `id` is made from
/// the title when no record of the file has one).
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
    "draft",
    "published",
    "status",
];

/// The fields that hold a list.
pub(super) const LISTS: &[&str] = &["tags", "models", "error_codes", "steps", "symptoms"];

/// The records of one file being imported: the entries read so far, every problem found,
/// and the models the catalogue learns from them.
pub(super) struct Records {
    /// The file being read, as problems name it.
    shown: String,
    /// Every file read, as problems name them, in the order given.
    files: Vec<String>,
    /// An entry's `source` when its record gives none: the collection's folder, not the
    /// file's name (a dated export's name would make every entry a changed one).
    default_source: String,
    existing: Vec<PrinterModel>,
    catalogue: Catalogue,
    new_models: Vec<PrinterModel>,
    entries: Vec<KbEntry>,
    /// Why the files read are not the whole export, when a page says so.
    not_whole: Option<String>,
    /// Records met, whatever became of them (a page's `count` is compared with it).
    records_read: usize,
    /// How many records a page says the whole export has.
    export_total: Option<u64>,
    /// Ids read so far, and where (file, line) each was first.
    seen: HashMap<String, (String, usize)>,
    /// The KB directory's lock, held from the first read of its catalogue to the last
    /// file written.
    lock: KbLock,
    errors: Vec<ValidationError>,
    /// Records written in HTML, read as plain text.
    html: usize,
    fields: FieldMap,
    mode: WriteMode,
    include_drafts: bool,
    /// Records left out as drafts or unpublished: (the field and value that say so, how many).
    drafts: BTreeMap<String, usize>,
    /// Values of `draft`, `published` or `status` this import does not read (the records
    /// are kept), and how many.
    unknown_statuses: BTreeMap<String, usize>,
    /// The export's fields left out (`--ignore-unknown`).
    ignored: BTreeSet<String>,
    /// Records by the language they name when it is neither French nor English: their
    /// language is read from their words.
    other_langs: BTreeMap<String, usize>,
    /// Fields neither known nor mapped: (the first record's line, how many records), said
    /// once each rather than once a record.
    unknown: BTreeMap<String, (String, usize, usize)>,
    /// The export's field names met (lower case), and the KB's fields they were read as.
    met: BTreeSet<String>,
    read: BTreeSet<&'static str>,
    /// Records with an id of their own, and the lines of those without one (their id is
    /// made from their title).
    given_ids: usize,
    derived_ids: Vec<(String, usize)>,
    /// Records whose category is the export's own, not one of the KB's: kept as tags.
    own_categories: BTreeSet<String>,
    entities: Option<EntityReader>,
    /// Entries whose models or error codes were read from their words.
    entities_read: usize,
}

impl Records {
    /// Starts the import of `file` into `out_dir`, whose catalogue (if any) models resolve
    /// against along with the product's.
    pub(super) fn new(
        file: &Path,
        out_dir: &Path,
        collection: &str,
        options: &ImportOptions,
    ) -> Result<Self> {
        let folder = collection_folder(collection)?;
        let lock = open_kb(out_dir)?;
        let existing = existing_catalogue(out_dir)?;
        let catalogue = Catalogue::with_builtin(&existing);
        let entities = options.entities.as_ref().map(|make| make(&catalogue));
        Ok(Records {
            lock,
            shown: file.display().to_string(),
            files: vec![file.display().to_string()],
            default_source: format!(
                "imported export ({}/{folder})",
                crate::kb::load::ENTRIES_DIR
            ),
            not_whole: None,
            records_read: 0,
            export_total: None,
            catalogue,
            existing,
            new_models: Vec::new(),
            entries: Vec::new(),
            seen: HashMap::new(),
            errors: Vec::new(),
            html: 0,
            fields: options.fields.clone(),
            mode: options.mode,
            include_drafts: options.include_drafts,
            drafts: BTreeMap::new(),
            unknown_statuses: BTreeMap::new(),
            ignored: BTreeSet::new(),
            other_langs: BTreeMap::new(),
            unknown: BTreeMap::new(),
            met: BTreeSet::new(),
            read: BTreeSet::new(),
            given_ids: 0,
            derived_ids: Vec::new(),
            own_categories: BTreeSet::new(),
            entities,
            entities_read: 0,
        })
    }

    pub(super) fn shown(&self) -> &str {
        &self.shown
    }

    /// Says the files are not the whole export, and why (an update then removes nothing).
    pub(super) fn not_whole(&mut self, why: String) {
        self.not_whole = Some(why);
    }

    /// How many records were met so far.
    pub(super) fn records_read(&self) -> usize {
        self.records_read
    }

    /// A page's count of the export's records (`count`, `total`...): the largest said.
    pub(super) fn export_counted(&mut self, total: u64) {
        self.export_total = self.export_total.max(Some(total));
    }

    pub(super) fn export_total(&self) -> Option<u64> {
        self.export_total
    }

    /// Problems that keep a whole file from being read (a CSV header that does not read).
    /// The line on how to name fields is said once, however many files need it.
    pub(super) fn file_refused(&mut self, problems: Vec<ValidationError>) {
        let how_to = self.fields.how_to_read("column");
        for p in problems {
            let said = p.field.is_none()
                && p.message == how_to
                && self.errors.iter().any(|e| e.message == how_to);
            if !said {
                self.errors.push(p);
            }
        }
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

    /// Notes that the export has a field (a column) named `theirs`, read as `ours`.
    pub(super) fn met(&mut self, theirs: &str, ours: Option<&'static str>) {
        self.met.insert(theirs.trim().to_lowercase());
        self.read.extend(ours);
    }

    /// Reads the record at `line`, its fields named as the export names them: kept when it
    /// is a valid entry, else its problems are.
    pub(super) fn add(&mut self, obj: &Map<String, Value>, line: usize) {
        self.records_read += 1;
        let mut ours = Map::new();
        let mut known = true;
        for (theirs, value) in obj {
            let read = self.fields.read(theirs);
            self.met(theirs, read.and_then(Read::field));
            match read {
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
                    let name = theirs.trim().to_lowercase();
                    let first = (self.shown.clone(), line, 0);
                    let seen = self.unknown.entry(name).or_insert(first);
                    seen.2 += 1;
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
        match publication(obj) {
            Publication::Unpublished(said) if !self.include_drafts => {
                *self.drafts.entry(said).or_default() += 1;
                return;
            }
            Publication::Unread(said) => {
                *self.unknown_statuses.entry(said).or_default() += 1;
            }
            Publication::Unpublished(_) | Publication::Published => {}
        }
        let mut added: Vec<PrinterModel> = Vec::new();
        let (mut obj, was_html) = html::read_record(obj);
        if was_html {
            self.html += 1;
        }
        self.read_entities(&mut obj);
        let record = self.entry_of(&obj, line, &mut added);
        if let Some(Value::String(lang)) = obj.get("lang") {
            if record.is_ok() && Lang::parse(lang).is_none() {
                let lang = lang.trim().to_lowercase();
                *self.other_langs.entry(lang).or_default() += 1;
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
        let mut entry = match record {
            Ok(entry) => entry,
            Err(e) => return self.errors.push(e),
        };
        if entry.id.is_empty() {
            entry.id = self.id_from_title(&entry.title, line);
        } else {
            self.given_ids += 1;
        }
        if let Some(Value::String(category)) = obj.get("category") {
            if Category::parse(category).is_none() {
                self.own_categories.insert(category.trim().to_string());
                for part in category.split(['|', '>', '/', ',', ';']) {
                    let tag = part.trim();
                    if !tag.is_empty() && !entry.tags.iter().any(|t| t == tag) {
                        entry.tags.push(tag.to_string());
                    }
                }
            }
        }
        if let Some((file, first)) = self.seen.get(&entry.id) {
            let message = format!("duplicate id `{}` (first at {file}:{first})", entry.id);
            return self.refuse(line, Some("id"), message);
        }
        self.seen
            .insert(entry.id.clone(), (self.shown.clone(), line));
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
        for (theirs, (file, line, records)) in &self.unknown {
            let message = match records {
                1 => "unknown field".to_string(),
                n => format!("unknown field (in {n} records, the first here)"),
            };
            let problem = problem(file, Some(*line), Some(theirs), message);
            self.errors.push(problem);
        }
        let mut file_problems = Vec::new();
        if !self.unknown.is_empty() {
            file_problems.push((None, self.fields.how_to_read("field")));
        }
        if self.met.is_empty() && self.entries.is_empty() {
            // No record at all: `require_entries` says so.
        } else {
            for required in ["title", "text"] {
                if !self.read.contains(required) {
                    file_problems.push((Some(required), self.no_field(required)));
                }
            }
        }
        // A file with no record at all is refused as such (`require_entries`), whatever
        // `--field` names.
        for (ours, theirs) in self.fields.renames().filter(|_| !self.met.is_empty()) {
            if !self.met.contains(theirs) {
                let message =
                    format!("`--field {ours}={theirs}`: the file has no field `{theirs}`");
                file_problems.push((Some("--field"), message));
            }
        }
        if self.given_ids > 0 {
            for (file, line) in std::mem::take(&mut self.derived_ids) {
                let message = "missing or empty (other records have an id)".to_string();
                self.errors
                    .push(problem(&file, Some(line), Some("id"), message));
            }
        }
        let files = &self.files;
        self.errors
            .sort_by_key(|p| (files.iter().position(|f| *f == p.file), p.line));
        let everything = self.all_shown();
        // What is wrong with the whole file first (a misspelt `--field` explains the
        // records' missing fields after it); the line on how to map fields last.
        let (how_to, whole): (Vec<_>, Vec<_>) = file_problems
            .into_iter()
            .map(|(field, message)| problem(&everything, None, field, message))
            .partition(|p| p.field.is_none());
        self.errors.splice(0..0, whole);
        self.errors.extend(how_to);
        if !self.errors.is_empty() {
            return Err(Error::KbInvalid(self.errors));
        }
        if self.entries.is_empty() && !self.drafts.is_empty() {
            let message = format!(
                "every record is a draft or unpublished ({}): --include-drafts imports them",
                counted(&self.drafts)
            );
            return Err(Error::KbInvalid(vec![problem(
                &everything,
                None,
                None,
                message,
            )]));
        }
        require_entries(&self.entries, &everything, None)?;
        let source = self.source_names();
        let export = Export {
            source: &source,
            entries: &self.entries,
            catalogue: &self.existing,
            new_models: &self.new_models,
            not_whole: self.not_whole.clone(),
        };
        let mut report = write_kb(out_dir, collection, export, self.mode, &self.lock)?;
        if !self.drafts.is_empty() {
            let count: usize = self.drafts.values().sum();
            report.notes.push(format!(
                "{count} records left out as drafts or unpublished ({}): --include-drafts imports them",
                counted(&self.drafts)
            ));
        }
        if !self.unknown_statuses.is_empty() {
            report.notes.push(format!(
                "records kept whose `draft`, `published` or `status` this import does not read as published or not ({}): if some are drafts, leave them out of the export",
                counted(&self.unknown_statuses)
            ));
        }
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
        if self.entities_read > 0 {
            report.notes.push(format!(
                "{} of {} entries name printer models or error codes in their words, read as a ticket's are (their records give neither)",
                self.entities_read,
                self.entries.len()
            ));
        }
        if !self.derived_ids.is_empty() {
            report.notes.push(
                "no record has an id: each entry's id is made from its title (a title edited in the export then makes a new entry; an id field keeps them stable)".into(),
            );
        }
        if !self.own_categories.is_empty() {
            let named: Vec<String> = self
                .own_categories
                .iter()
                .take(5)
                .map(|c| format!("`{c}`"))
                .collect();
            let all = Category::ALL.map(|c| c.as_str()).join(", ");
            report.notes.push(format!(
                "categories of the export's own ({}{}) are kept as tags; each entry's category, one of {all}, is guessed from its words",
                named.join(", "),
                if self.own_categories.len() > 5 { ", ..." } else { "" }
            ));
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

    /// A record that names no model and no error code gets those its title and text name,
    /// as the extractor reads them in a ticket (so a ticket's model and code find it as
    /// they find a bundled entry).
    fn read_entities(&mut self, obj: &mut Map<String, Value>) {
        let Some(reader) = &self.entities else {
            return;
        };
        let given = |field: &str| !matches!(obj.get(field), None | Some(Value::Null));
        if given("models") || given("error_codes") {
            return;
        }
        let text = |field: &str| obj.get(field).and_then(Value::as_str).unwrap_or_default();
        let mut read = reader(&format!("{}\n{}", text("title"), text("text")));
        // Only the catalogue's models: one the extractor guesses at is no model to add.
        read.models.retain(|m| self.catalogue.resolve(m).is_some());
        if read.models.is_empty() && read.error_codes.is_empty() {
            return;
        }
        self.entities_read += 1;
        let list =
            |items: Vec<String>| Value::Array(items.into_iter().map(Value::String).collect());
        obj.insert("models".into(), list(read.models));
        obj.insert("error_codes".into(), list(read.error_codes));
    }

    /// An id for the record at `line`, which has none: its title's slug, numbered when
    /// another record's title gives the same.
    fn id_from_title(&mut self, title: &str, line: usize) -> String {
        self.derived_ids.push((self.shown.clone(), line));
        let mut base = slugify(title);
        if base.is_empty() || other_script(title) {
            // A title (partly) of another script, which the slug drops: named by the title
            // itself too, not by where it stands (two titles would otherwise share a slug
            // numbered by their order, and an update give one's id to the other).
            use sha2::Digest;
            let digest = sha2::Sha256::digest(title.trim().as_bytes());
            let digest = &hex::encode(digest)[..8];
            base = match base.as_str() {
                "" => format!("entry-{digest}"),
                slug => format!("{slug}-{digest}"),
            };
        }
        let mut id = base.clone();
        let mut n = 2;
        while self.seen.contains_key(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        id
    }

    /// The problem with a required field no record has.
    fn no_field(&self, required: &str) -> String {
        let met: Vec<&str> = self.met.iter().map(String::as_str).collect();
        format!(
            "no record has a field read as `{required}`: `--field {required}=NAME` names the file's (it has {})",
            met.join(", ")
        )
    }
}
