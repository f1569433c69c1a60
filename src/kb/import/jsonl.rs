//! `devicekb import jsonl`: records as JSON, with an id, a title and a text at least (the
//! fields are `records::KNOWN`, or the export's own names through a `FieldMap`).
//!
//! Read as exports write them: JSON Lines (one object a line), one JSON array of objects,
//! one object whose single list of objects holds the records (`{"articles": [...],
//! "count": 120}`, a help centre's API page), or objects one after another over several
//! lines each (`jq .`'s output). A record's problems are named by the line it
//! starts on, whatever the shape.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::fields::Read;
use super::records::Records;
use super::{ImportOptions, ImportReport};
use crate::error::{Error, Result};

/// Imports JSON records (see the module's documentation).
pub fn import_jsonl(
    file: &Path,
    out_dir: &Path,
    collection: &str,
    options: &ImportOptions,
) -> Result<ImportReport> {
    let mut records = Records::new(file, out_dir, options)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::io(format!("reading {}", records.shown()), e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let shape = match text.trim_start().chars().next() {
        Some('[') => read_array(text, &mut records),
        Some('{') => read_object(text, &mut records).or_else(|| {
            // `{` alone on the first line: objects over several lines, not JSON Lines.
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            (first.trim() == "{").then(|| read_stream(text, &mut records))
        }),
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

/// One JSON object: a page of records under one list (when its other fields are not a
/// record's: a record's own lists of objects, attachments say, do not make it a page), or a
/// single record; `None` when the text is not one object (JSON Lines, then).
fn read_object(text: &str, records: &mut Records) -> Option<String> {
    let Ok(TopFields(fields)) = serde_json::from_str::<TopFields>(text) else {
        return None;
    };
    let first_line = line_of(text, text.trim_start());
    let mut names = BTreeSet::new();
    if let Some((twice, _)) = fields.iter().find(|(name, _)| !names.insert(name.as_str())) {
        let message = format!("the field `{twice}` appears twice in the file's object");
        records.refuse(first_line, Some(twice), message);
        return Some("read as one JSON object".into());
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
        if !text.trim().contains('\n') {
            return None;
        }
        let obj = serde_json::from_str::<Map<String, Value>>(text).ok()?;
        records.add(&obj, first_line);
        return Some("read as one JSON object, a single record".into());
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
    match filled.as_slice() {
        [] => Some(format!(
            "read as one JSON object whose lists ({}) hold no records",
            lists
                .iter()
                .map(|(n, _)| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
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
            let mut note = format!("read {count} of the file's list `{name}`{rest}");
            if let Some(next) = next_page(&fields) {
                note.push_str(&format!(
                    "; the page names a next one (`{next}`): its records are not in this file (import each page into a collection of its own)"
                ));
            }
            Some(note)
        }
        several => {
            let names: Vec<String> = several.iter().map(|(n, _)| format!("`{n}`")).collect();
            let message = format!(
                "the file holds several lists of records ({}): import one at a time, for instance `jq -c '.{}[]' FILE > records.jsonl`",
                names.join(", "),
                several[0].0
            );
            records.refuse(first_line, None, message);
            Some("read as one JSON object".into())
        }
    }
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

/// JSON objects one after another, each over several lines, as `jq .` writes them.
fn read_stream(text: &str, records: &mut Records) -> String {
    let mut count = 0;
    for item in serde_json::Deserializer::from_str(text).into_iter::<&RawValue>() {
        match item {
            Ok(raw) => {
                count += 1;
                read_items(text, &[raw], records);
            }
            Err(e) => {
                // Where a value breaks, the next one's start cannot be told.
                records.refuse(e.line(), None, format!("invalid JSON: {e}"));
                break;
            }
        }
    }
    format!("read as {count} JSON objects one after another (each over several lines)")
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
mod tests {
    use super::*;
    use crate::kb::import::problems_of as problems;
    use crate::kb::import::{EntityReader, FieldMap};
    use crate::kb::load::read_kb;

    fn import(text: &str, fields: &FieldMap) -> (tempfile::TempDir, Result<ImportReport>) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("faq.json");
        std::fs::write(&file, text).unwrap();
        let options = ImportOptions {
            fields: fields.clone(),
            ..ImportOptions::default()
        };
        let report = import_jsonl(&file, &dir.path().join("kb"), "faq", &options);
        (dir, report)
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
        assert_eq!(toner.source, "imported from faq.json");
        let no_title = text.replace("\"title\": \"Toner\",", "");
        let (_dir, report) = import(&no_title, &FieldMap::default());
        assert_eq!(problems(report)[0].0, Some(3));
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
        // Said once for the file, not once a record, and what to do once.
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            found[1],
            (None, None, FieldMap::default().how_to_read("field"))
        );
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
        let two = "{\n\"articles\": [{\"id\": 1, \"title\": \"a\"}],\n\"sections\": [{\"id\": 2, \"title\": \"b\"}]\n}";
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

    #[test]
    fn a_record_is_never_taken_for_a_page_and_nothing_is_dropped_unsaid() {
        let lenient = FieldMap::new(&[], true).unwrap();
        // A record's own list of objects (attachments, translations) does not make a page.
        let one_line = r#"{"id":"a","title":"Bourrage","text":"Ouvrez le capot.","attachments":[{"id":5,"title":"photo.jpg","text":"image"}]}"#;
        let (dir, report) = import(one_line, &lenient);
        assert_eq!(report.unwrap().entries_written, 1);
        assert!(dir.path().join("kb/entries/faq/a.toml").exists());
        let pretty = "{\n \"id\": 9001,\n \"title\": \"Bourrage\",\n \"text\": \"Ouvrez.\",\n \"translations\": [{\"id\": 1, \"title\": \"Jam\"}]\n}";
        let (dir, report) = import(pretty, &lenient);
        assert_eq!(report.unwrap().entries_written, 1);
        assert!(dir.path().join("kb/entries/faq/9001.toml").exists());
        // A field twice at the top is refused, not read as its last.
        let twice = r#"{"articles":[{"id":"a","title":"T","text":"x"}],"articles":[{"id":"b","title":"T","text":"y"}]}"#;
        let (_dir, report) = import(twice, &lenient);
        assert_eq!(
            problems(report)[0].2,
            "the field `articles` appears twice in the file's object"
        );
        // An empty page has no entries; a page that names a next one says so.
        let (_dir, report) = import(
            "{\"articles\": [], \"count\": 0, \"next_page\": null}",
            &lenient,
        );
        assert!(matches!(report, Err(Error::KbInvalid(_))), "{report:?}");
        let page = r#"{"articles":[{"id":"a","title":"T","text":"x"}],"next_page":"https://help/api?page=2","count":8}"#;
        let (_dir, report) = import(page, &lenient);
        let notes = report.unwrap().notes.join("\n");
        assert!(notes.contains("read the 1 record of the file's list `articles` (its other fields, `next_page`, `count`, are the page's)"), "{notes}");
        assert!(
            notes.contains("the page names a next one (`next_page`)"),
            "{notes}"
        );
        // `jq .`'s output: objects one after another over several lines.
        let jq = "{\n  \"id\": \"a\",\n  \"title\": \"T\",\n  \"text\": \"x\"\n}\n{\n  \"id\": \"b\",\n  \"text\": \"y\"\n}\n";
        let (_dir, report) = import(jq, &FieldMap::default());
        assert_eq!(
            problems(report),
            [(Some(6), Some("title".into()), "missing or empty".into())]
        );
        // A mapping that reads nothing, a language that is no language, a required
        // field no record has: each said.
        let map = FieldMap::new(&["tags=lables".into()], true).unwrap();
        let lines = "{\"id\":\"a\",\"title\":\"T\",\"body\":\"x\",\"lang\":\"TBD\"}\n";
        let found = problems(import(lines, &map).1);
        let fields: Vec<Option<&str>> = found.iter().map(|p| p.1.as_deref()).collect();
        assert_eq!(
            fields,
            [Some("text"), Some("text"), Some("--field")],
            "{found:?}"
        );
        assert!(found[1].2.starts_with("no record has a field read as `text`: `--field text=NAME` names the file's (it has body, id, lang, title)"), "{}", found[1].2);
        let tbd = "{\"id\":\"a\",\"title\":\"T\",\"text\":\"x\",\"lang\":\"TBD\"}\n";
        let found = problems(import(tbd, &FieldMap::default()).1);
        assert_eq!(found[0].1.as_deref(), Some("lang"), "{found:?}");
    }

    #[test]
    fn pages_and_records_told_apart_as_a_review_found_them() {
        // A record in the export's own names, with an empty list: a record, its names said.
        let one = r#"{"question": "Comment changer le toner ?", "answer": "Ouvrez la trappe.", "labels": []}"#;
        let found = problems(import(one, &FieldMap::default()).1);
        let named: Vec<Option<&str>> = found.iter().map(|p| p.1.as_deref()).collect();
        assert!(
            named.contains(&Some("question")) && named.contains(&Some("answer")),
            "{found:?}"
        );
        // A folder holding its articles, a field the KB knows beside the list: a page.
        let folder = "{\"id\": 7, \"title\": \"Imprimantes laser\", \"locale\": \"fr\", \"has_more\": true,\n \"articles\": [{\"id\": 1, \"title\": \"Bourrage\", \"body\": \"Ouvrez le capot.\", \"locale\": \"fr\"}]}";
        let map = FieldMap::new(&["text=body,lang=locale".into()], true).unwrap();
        let (_dir, report) = import(folder, &map);
        let notes = report.unwrap().notes.join("\n");
        assert!(
            notes.contains("read the 1 record of the file's list `articles`"),
            "{notes}"
        );
        assert!(
            notes.contains("the page names a next one (`has_more`)"),
            "{notes}"
        );
    }

    #[test]
    fn models_read_from_the_words_are_the_catalogues_only() {
        let reader: EntityReader = std::sync::Arc::new(|_: &str| crate::kb::import::EntitiesRead {
            models: vec!["HP LaserJet M404".into(), "Lexmark C750".into()],
            error_codes: vec!["79".into()],
        });
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("faq.jsonl");
        std::fs::write(
            &file,
            r#"{"id":"a","title":"Erreur","text":"La C750 affiche 79.","manufacturer":"Canon"}"#,
        )
        .unwrap();
        let out = dir.path().join("kb");
        let options = ImportOptions {
            entities: Some(reader),
            ..ImportOptions::default()
        };
        let report = import_jsonl(&file, &out, "faq", &options).unwrap();
        assert_eq!(report.models_added, 0);
        let (kb, _) = read_kb(&out).unwrap();
        assert_eq!(kb.entries[0].models, ["Lexmark C750"]);
        assert_eq!(kb.entries[0].error_codes, ["79"]);
    }
}
