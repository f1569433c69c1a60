//! `devicekb import jsonl`: records as JSON, with an id, a title and a text at least (the
//! fields are `records::KNOWN`, or the export's own names through a `FieldMap`).
//!
//! Read as exports write them: JSON Lines (one object a line), one JSON array of objects,
//! one object whose single list of objects holds the records (`{"articles": [...],
//! "count": 120}`, a help centre's API page), or objects one after another over several
//! lines each (`jq .`'s output). A record's problems are named by the line it
//! starts on, whatever the shape.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::fields::Read;
use super::records::Records;
use super::{ImportOptions, ImportReport};
use crate::error::Result;

/// Imports JSON records (see the module's documentation).
pub fn import_jsonl(
    file: &Path,
    out_dir: &Path,
    collection: &str,
    options: &ImportOptions,
) -> Result<ImportReport> {
    import_jsonl_files(&[file.to_path_buf()], out_dir, collection, options)
}

/// Imports the JSON records of several files of one export (an API's pages, say) as one
/// collection: ids are unique across them, and a problem names its file.
pub fn import_jsonl_files(
    files: &[PathBuf],
    out_dir: &Path,
    collection: &str,
    options: &ImportOptions,
) -> Result<ImportReport> {
    let mut records = Records::for_files(files, out_dir, collection, options)?;
    let mut notes = Vec::new();
    let (mut pages, mut with_next) = (0, Vec::new());
    for (i, file) in files.iter().enumerate() {
        let Some(bytes) = records.read_file(i, files.len(), file)? else {
            continue;
        };
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let bytes = e.as_bytes();
                let at = e.utf8_error().valid_up_to();
                let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
                let message = "not UTF-8 text (JSON is written in UTF-8; save the export as UTF-8)";
                records.refuse(line, None, message.to_string());
                continue;
            }
        };
        let read = read_file(&text, &mut records);
        pages += read.pages;
        with_next.extend(read.next);
        if let Some(shape) = read.shape {
            notes.push(match files.len() {
                1 => shape,
                _ => format!("{}: {shape}", file.display()),
            });
        }
    }
    let not_whole = match (with_next.as_slice(), files.len()) {
        ([next], 1) if pages == 1 => Some(format!("the page names a next one, `{next}`")),
        (_, _) if pages > 0 && with_next.len() == pages => {
            Some(format!("each of its {pages} pages names a next one"))
        }
        _ => None,
    }
    .or_else(|| {
        let read = records.records_read();
        let total = records.export_total().filter(|t| *t > read as u64)?;
        Some(format!(
            "a page counts {total} records in the export, the files hold {read}"
        ))
    });
    if let Some(why) = not_whole {
        records.not_whole(why);
    }
    match (with_next.as_slice(), files.len()) {
        ([], _) => {}
        ([next], 1) if pages == 1 => notes.push(format!(
            "the page names a next one (`{next}`): its records are not in this file (name every page's file in one import: devicekb import json page-1.json page-2.json ...)"
        )),
        (_, _) if with_next.len() == pages => notes.push(format!(
            "each of the {pages} pages names a next one (`{}`): the last page is not among the files (its records are not imported)",
            with_next[0]
        )),
        _ => {}
    }
    let mut report = records.finish(out_dir, collection)?;
    notes.append(&mut report.notes);
    report.notes = notes;
    Ok(report)
}

/// What one file held: how it was read (none for JSON Lines, the default), how many of
/// its objects were pages, and the field of each page that names a next one.
struct FileRead {
    shape: Option<String>,
    pages: usize,
    next: Vec<String>,
}

fn read_file(text: &str, records: &mut Records) -> FileRead {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut read = FileRead {
        shape: None,
        pages: 0,
        next: Vec::new(),
    };
    match text.trim_start().chars().next() {
        Some('[') => read.shape = read_array(text, records),
        Some('{') => match read_object(text, text, records) {
            Some(object) => {
                read.shape = Some(object.note);
                if let Some(next) = object.page {
                    read.pages = 1;
                    read.next.extend(next);
                }
            }
            None => {
                // `{` alone on the first line: objects over several lines, not JSON Lines.
                let first = text
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or_default();
                if first.trim() == "{" {
                    read = read_stream(text, records);
                }
            }
        },
        _ => {}
    }
    if read.shape.is_none() {
        read = read_lines(text, records);
    }
    read
}

/// JSON Lines: each line not blank is a record.
/// A line may hold a whole page (`jq -c` of an API's pages): its records are read.
fn read_lines(text: &str, records: &mut Records) -> FileRead {
    let (mut pages, mut next) = (0, Vec::new());
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        if raw.trim_start().starts_with('{') {
            if let Some(ObjectRead {
                page: Some(names_next),
                ..
            }) = read_object(text, raw, records)
            {
                pages += 1;
                next.extend(names_next);
                continue;
            }
        }
        match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(obj)) => records.add(&obj, line),
            Ok(_) => records.refuse(line, None, "each line must be a JSON object".into()),
            Err(e) => records.refuse(line, None, format!("invalid JSON: {e}")),
        }
    }
    FileRead {
        shape: (pages > 0).then(|| format!("read as JSON Lines, {pages} of them pages of records")),
        pages,
        next,
    }
}

/// A JSON array of records; what was read, for the report.
fn read_array(text: &str, records: &mut Records) -> Option<String> {
    match serde_json::from_str::<Vec<&RawValue>>(text) {
        Ok(items) => {
            read_items(text, &items, records);
            Some(match items.len() {
                1 => "read as one JSON array of 1 record".to_string(),
                n => format!("read as one JSON array of {n} records"),
            })
        }
        Err(e) => {
            records.refuse(e.line(), None, format!("invalid JSON: {e}"));
            Some("read as one JSON array".into())
        }
    }
}

/// How one JSON object was read: as a page (with the field naming a next page, if any),
/// or as a record.
struct ObjectRead {
    note: String,
    page: Option<Option<String>>,
}

impl ObjectRead {
    fn record(note: &str) -> Self {
        ObjectRead {
            note: note.into(),
            page: None,
        }
    }
}

/// One JSON object, `object`, a slice of the file's `text`: a page of records under one
/// list (when its other fields are not a record's: a record's own lists of objects,
/// attachments say, do not make it a page), or a single record; `None` when it is not one
/// object (JSON Lines, then) or a record on one line.
fn read_object(text: &str, object: &str, records: &mut Records) -> Option<ObjectRead> {
    let Ok(TopFields(fields)) = serde_json::from_str::<TopFields>(object) else {
        return None;
    };
    let first_line = line_of(text, object.trim_start());
    let mut names = BTreeSet::new();
    if let Some((twice, _)) = fields.iter().find(|(name, _)| !names.insert(name.as_str())) {
        let message = format!("the field `{twice}` appears twice in the file's object");
        records.refuse(first_line, Some(twice), message);
        return Some(ObjectRead::record("read as one JSON object"));
    }
    let reads_as = |name: &str, ours: &[&str]| matches!(records.fields().read(name), Some(Read::Field(f)) if ours.contains(&f));
    // A list of records: of objects the first of which has a title or a text.
    let is_record = |raw: &RawValue| {
        serde_json::from_str::<TopFields>(raw.get())
            .is_ok_and(|TopFields(f)| f.iter().any(|(n, _)| reads_as(n, &["title", "text"])))
    };
    let lists: Vec<(&str, Vec<&RawValue>)> = fields
        .iter()
        .filter_map(|(name, raw)| {
            let items = serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok()?;
            let of_records = items.first().is_none_or(|first| is_record(first));
            of_records.then_some((name.as_str(), items))
        })
        .collect();
    let is_list = |name: &str| lists.iter().any(|(list, _)| *list == name);
    // A page has no text of its own; a record does, or at least a sentence somewhere.
    let has_text = fields
        .iter()
        .any(|(name, _)| !is_list(name) && reads_as(name, &["text"]));
    let has_words = fields.iter().any(|(name, raw)| {
        !is_list(name)
            && serde_json::from_str::<String>(raw.get()).is_ok_and(|s| s.trim().contains(' '))
    });
    let filled = lists.iter().any(|(_, items)| !items.is_empty());
    let page = !has_text && (filled || (!lists.is_empty() && !has_words));
    if !page {
        // A record of its own; on one line, it is JSON Lines' one line.
        if !object.trim().contains('\n') {
            return None;
        }
        let obj = serde_json::from_str::<Map<String, Value>>(object).ok()?;
        records.add(&obj, first_line);
        return Some(ObjectRead::record(
            "read as one JSON object, a single record",
        ));
    }
    let others: Vec<String> = fields
        .iter()
        .filter(|(name, _)| !is_list(name))
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    let filled: Vec<&(&str, Vec<&RawValue>)> = lists
        .iter()
        .filter(|(_, items)| !items.is_empty())
        .collect();
    let next = next_page(&fields);
    if let Some(total) = export_total(&fields) {
        records.export_counted(total);
    }
    match filled.as_slice() {
        [] => Some(ObjectRead {
            note: format!(
                "read as one JSON object whose lists ({}) hold no records",
                lists
                    .iter()
                    .map(|(n, _)| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            page: Some(next),
        }),
        [(name, items)] => {
            read_items(text, items, records);
            let count = match items.len() {
                1 => "the 1 record".to_string(),
                n => format!("the {n} records"),
            };
            let rest = if others.is_empty() {
                String::new()
            } else {
                format!(" (its other fields, {}, are the page's)", others.join(", "))
            };
            Some(ObjectRead {
                note: format!("read {count} of the file's list `{name}`{rest}"),
                page: Some(next),
            })
        }
        several => {
            let names: Vec<String> = several.iter().map(|(n, _)| format!("`{n}`")).collect();
            let message = format!(
                "the file holds several lists of records ({}): import one at a time, for instance `jq -c '.{}[]' FILE > records.jsonl`",
                names.join(", "),
                several[0].0
            );
            records.refuse(first_line, None, message);
            Some(ObjectRead::record("read as one JSON object"))
        }
    }
}

/// What a page says of the whole export's size (`count`, `total`, `total_count`...).
fn export_total(fields: &[(String, &RawValue)]) -> Option<u64> {
    const NAMES: &[&str] = &[
        "count",
        "total",
        "totalcount",
        "totalresults",
        "totalentries",
        "totalitems",
        "totalrecords",
    ];
    fields.iter().find_map(|(name, raw)| {
        let name = name.to_lowercase().replace(['_', '-'], "");
        NAMES
            .contains(&name.as_str())
            .then(|| serde_json::from_str::<u64>(raw.get()).ok())
            .flatten()
    })
}

/// The page field that names a next page, when it does (`next_page`, `next`, `links`'s
/// `next`...): a page that has one is not the whole export.
fn next_page(fields: &[(String, &RawValue)]) -> Option<String> {
    fn names_one(value: &Value) -> bool {
        !matches!(value, Value::Null | Value::Bool(false))
            && value.as_str().is_none_or(|s| !s.is_empty())
    }
    for (name, raw) in fields {
        let Ok(value) = serde_json::from_str::<Value>(raw.get()) else {
            continue;
        };
        let name_says_next = {
            let name = name.to_lowercase();
            name.contains("next") || name == "has_more"
        };
        if name_says_next && !value.is_object() && names_one(&value) {
            return Some(name.clone());
        }
        if let Value::Object(inner) = &value {
            for (key, value) in inner {
                let key_says_next = {
                    let key = key.to_lowercase();
                    key.contains("next") || key == "has_more"
                };
                if key_says_next && names_one(value) {
                    return Some(format!("{name}.{key}"));
                }
            }
        }
    }
    None
}

/// JSON objects one after another, each over several lines, as `jq .` writes them: records,
/// or pages of records (`jq . page-*.json`).
fn read_stream(text: &str, records: &mut Records) -> FileRead {
    let mut count = 0;
    let (mut pages, mut next) = (0, Vec::new());
    for item in serde_json::Deserializer::from_str(text).into_iter::<&RawValue>() {
        match item {
            Ok(raw) => {
                count += 1;
                match read_object(text, raw.get(), records) {
                    Some(ObjectRead {
                        page: Some(names_next),
                        ..
                    }) => {
                        pages += 1;
                        next.extend(names_next);
                    }
                    // A record over several lines, read by `read_object`.
                    Some(_) => {}
                    // A record on one line, or not an object (refused by `read_items`).
                    None => read_items(text, &[raw], records),
                }
            }
            Err(e) => {
                // Where a value breaks, the next one's start cannot be told.
                records.refuse(e.line(), None, format!("invalid JSON: {e}"));
                break;
            }
        }
    }
    let shape = match pages {
        0 => format!("read as {count} JSON objects one after another (each over several lines)"),
        _ => format!(
            "read as {count} JSON objects one after another, {pages} of them pages of records"
        ),
    };
    FileRead {
        shape: Some(shape),
        pages,
        next,
    }
}

/// The fields of the file's top object in their order, each kept as written, repeated
/// names included (a map would keep only the last of them).
struct TopFields<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for TopFields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = TopFields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> std::result::Result<Self::Value, M::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    fields.push(entry);
                }
                Ok(TopFields(fields))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

fn read_items(text: &str, items: &[&RawValue], records: &mut Records) {
    for item in items {
        let line = line_of(text, item.get());
        match serde_json::from_str::<Value>(item.get()) {
            Ok(Value::Object(obj)) => records.add(&obj, line),
            Ok(_) => records.refuse(line, None, "each record must be a JSON object".into()),
            Err(e) => records.refuse(line, None, format!("invalid JSON: {e}")),
        }
    }
}

/// The line `part`, a slice of `text`, starts on.
fn line_of(text: &str, part: &str) -> usize {
    let offset = (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
#[path = "jsonl_tests.rs"]
mod tests;
