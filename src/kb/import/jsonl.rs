//! `devicekb import jsonl`: records as JSON, with an id, a title and a text at least (the
//! fields are `records::KNOWN`, or the export's own names through a `FieldMap`).
//!
//! Read as exports write them: JSON Lines (one object a line), one JSON array of objects,
//! or one object whose single list of objects holds the records (`{"articles": [...],
//! "count": 120}`, a help centre's API page). A record's problems are named by the line it
//! starts on, whatever the shape.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::fields::FieldMap;
use super::records::Records;
use super::ImportReport;
use crate::error::{Error, Result};

/// Imports JSON records (see the module's documentation).
pub fn import_jsonl(
    file: &Path,
    out_dir: &Path,
    collection: &str,
    fields: &FieldMap,
) -> Result<ImportReport> {
    let mut records = Records::new(file, out_dir, fields)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::io(format!("reading {}", records.shown()), e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let shape = match text.trim_start().chars().next() {
        Some('[') => read_array(text, &mut records),
        Some('{') => read_object(text, &mut records),
        _ => None,
    };
    let shape = match shape {
        Some(shape) => shape,
        None => {
            read_lines(text, &mut records);
            return records.finish(out_dir, collection);
        }
    };
    let mut report = records.finish(out_dir, collection)?;
    report.notes.insert(0, shape);
    Ok(report)
}

/// JSON Lines: each line not blank is a record.
fn read_lines(text: &str, records: &mut Records) {
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
}

/// A JSON array of records; what was read, for the report.
fn read_array(text: &str, records: &mut Records) -> Option<String> {
    match serde_json::from_str::<Vec<&RawValue>>(text) {
        Ok(items) => {
            read_items(text, &items, records);
            Some(format!("read as one JSON array of {} records", items.len()))
        }
        Err(e) => {
            records.refuse(e.line(), None, format!("invalid JSON: {e}"));
            Some("read as one JSON array".into())
        }
    }
}

/// One JSON object: a page of records under one list, or a single record; `None` when the
/// text is not one object (JSON Lines, then).
fn read_object(text: &str, records: &mut Records) -> Option<String> {
    let Ok(object) = serde_json::from_str::<BTreeMap<String, &RawValue>>(text) else {
        return None;
    };
    let lists: Vec<(&String, Vec<&RawValue>)> = object
        .iter()
        .filter_map(|(name, raw)| {
            let items = serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok()?;
            let of_objects = !items.is_empty() && items.iter().all(|i| i.get().starts_with('{'));
            of_objects.then_some((name, items))
        })
        .collect();
    match lists.as_slice() {
        // A record of its own (a single pretty-printed one): its lists hold strings.
        [] => match serde_json::from_str::<Map<String, Value>>(text) {
            Ok(obj) if text.trim().contains('\n') => {
                records.add(&obj, line_of(text, text.trim_start()));
                Some("read as one JSON object, a single record".into())
            }
            _ => None,
        },
        [(name, items)] => {
            read_items(text, items, records);
            Some(format!(
                "read the {} records of the file's list `{name}` (its other fields are the page's, not records)",
                items.len()
            ))
        }
        several => {
            let names: Vec<String> = several.iter().map(|(n, _)| format!("`{n}`")).collect();
            let message = format!(
                "the file holds several lists of records ({}): import one at a time, for instance `jq -c '.{}[]' FILE > records.jsonl`",
                names.join(", "),
                several[0].0
            );
            records.refuse(line_of(text, text.trim_start()), None, message);
            Some("read as one JSON object".into())
        }
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
mod tests {
    use super::*;
    use crate::kb::load::read_kb;

    fn import(text: &str, fields: &FieldMap) -> (tempfile::TempDir, Result<ImportReport>) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("faq.json");
        std::fs::write(&file, text).unwrap();
        let report = import_jsonl(&file, &dir.path().join("kb"), "faq", fields);
        (dir, report)
    }

    fn problems(report: Result<ImportReport>) -> Vec<(Option<usize>, Option<String>, String)> {
        match report {
            Err(Error::KbInvalid(p)) => p
                .into_iter()
                .map(|p| (p.line, p.field, p.message))
                .collect(),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn a_json_array_reads_and_names_each_record_by_its_line() {
        let text = "\u{feff}[\n  {\"id\": \"a\", \"title\": \"Bourrage\", \"text\": \"Ouvrez le capot.\"},\n  {\n    \"id\": \"b\",\n    \"title\": \"Toner\",\n    \"text\": \"Changez la cartouche.\"\n  }\n]\n";
        let (dir, report) = import(text, &FieldMap::default());
        let report = report.unwrap();
        assert_eq!(report.entries_written, 2);
        assert_eq!(report.notes[0], "read as one JSON array of 2 records");
        let (kb, _) = read_kb(&dir.path().join("kb")).unwrap();
        let toner = kb.entries.iter().find(|e| e.id == "b").unwrap();
        assert!(
            toner.source.ends_with("faq.json line 3"),
            "{}",
            toner.source
        );
        let bad = "[\n {\"id\": \"a\", \"title\": \"T\", \"text\": \"x\"},\n \"stray\",\n {\"id\": \"c\", \"text\": \"y\"}\n]";
        let (dir, report) = import(bad, &FieldMap::default());
        assert_eq!(
            problems(report),
            [
                (Some(3), None, "each record must be a JSON object".into()),
                (Some(4), Some("title".into()), "missing or empty".into())
            ]
        );
        assert!(!dir.path().join("kb").exists());
        let (_dir, report) = import("[\n{\"id\": \"a\"},\n{\"id\": ]", &FieldMap::default());
        let problem = &problems(report)[0];
        assert_eq!(problem.0, Some(3));
        assert!(problem.2.starts_with("invalid JSON"), "{}", problem.2);
    }

    #[test]
    fn a_help_centres_page_reads_through_a_mapping() {
        // A help centre API's page: the records under one list, beside paging fields;
        // numeric ids, HTML bodies, regional locales, fields the KB has no use for.
        let page = r#"{
  "articles": [
    {"id": 360001, "title": "Bourrage papier", "body": "<p>Ouvrez le <strong>capot</strong>.</p>",
     "locale": "fr-ca", "label_names": ["papier"], "author_id": 7},
    {"id": 360002, "title": "Paper jam", "body": "<p>Open the cover.</p>", "locale": "en-us",
     "label_names": [], "author_id": 7},
    {"id": 360003, "title": "Papierstau", "body": "Öffnen Sie die vordere Klappe.", "locale": "de",
     "label_names": [], "author_id": 8}
  ],
  "count": 3,
  "next_page": null
}"#;
        let strict = FieldMap::new(&["text=body,lang=locale,tags=label_names".into()], false);
        let (_dir, report) = import(page, &strict.unwrap());
        let found = problems(report);
        // Said once for the file, not once a record.
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, Some(3));
        assert_eq!(found[0].1.as_deref(), Some("author_id"));
        assert!(
            found[0].2.ends_with("(in 3 records, the first here)"),
            "{}",
            found[0].2
        );
        let lenient = FieldMap::new(&["text=body,lang=locale,tags=label_names".into()], true);
        let (dir, report) = import(page, &lenient.unwrap());
        let report = report.unwrap();
        assert_eq!(report.entries_written, 3);
        let notes = report.notes.join("\n");
        assert!(
            notes.contains("read the 3 records of the file's list `articles`"),
            "{notes}"
        );
        assert!(notes.contains("(--ignore-unknown): author_id"), "{notes}");
        assert!(
            notes.contains("1 of 3 entries name another language than French and English (`de`)"),
            "{notes}"
        );
        let (kb, _) = read_kb(&dir.path().join("kb")).unwrap();
        let jam = kb.entries.iter().find(|e| e.id == "360001").unwrap();
        assert_eq!(jam.description, "Ouvrez le capot.");
        assert_eq!(jam.lang, crate::kb::Lang::Fr);
        assert_eq!(jam.tags, ["papier"]);
        let en = kb.entries.iter().find(|e| e.id == "360002").unwrap();
        assert_eq!(en.lang, crate::kb::Lang::En);
    }

    #[test]
    fn what_cannot_be_told_apart_is_refused_by_name() {
        // Two lists of records: which one is meant is not guessed.
        let two = "{\n\"articles\": [{\"id\": 1}],\n\"sections\": [{\"id\": 2}]\n}";
        let (_dir, report) = import(two, &FieldMap::default());
        let problem = &problems(report)[0];
        assert!(
            problem
                .2
                .starts_with("the file holds several lists of records (`articles`, `sections`)"),
            "{}",
            problem.2
        );
        // A pretty-printed single record is one record.
        let one = "{\n  \"id\": \"a\",\n  \"title\": \"Bourrage\",\n  \"text\": \"Ouvrez le capot.\",\n  \"steps\": [\"Ouvrir\"]\n}\n";
        let (_dir, report) = import(one, &FieldMap::default());
        assert_eq!(report.unwrap().entries_written, 1);
        // A field and another mapped onto it; a language that is no language tag.
        let map = FieldMap::new(&["text=body".into()], false).unwrap();
        let lines = "{\"id\": \"a\", \"title\": \"T\", \"text\": \"x\", \"body\": \"y\"}\n{\"id\": \"b\", \"title\": \"T\", \"body\": \"y\", \"lang\": \"français canadien\"}\n";
        let (_dir, report) = import(lines, &map);
        let found = problems(report);
        assert_eq!(found[0].0, Some(1));
        assert_eq!(found[0].1.as_deref(), Some("text"));
        assert!(
            found[0]
                .2
                .starts_with("two of the record's fields are read as `text`"),
            "{}",
            found[0].2
        );
        assert_eq!(found[1].0, Some(2));
        assert_eq!(found[1].1.as_deref(), Some("lang"));
    }
}
