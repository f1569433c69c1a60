//! The JSON importer's tests (`jsonl.rs`).

use super::*;
use crate::error::Error;
use crate::kb::import::problems_of as problems;
use crate::kb::import::{EntityReader, EntityReaderMaker, FieldMap};
use crate::kb::load::read_kb;
use crate::kb::Catalogue;

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
    assert_eq!(toner.source, "imported export (entries/faq)");
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
        [Some("text"), Some("--field"), Some("text")],
        "{found:?}"
    );
    assert!(found[0].2.starts_with("no record has a field read as `text`: `--field text=NAME` names the file's (it has body, id, lang, title)"), "{}", found[0].2);
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
    let reader: EntityReaderMaker = std::sync::Arc::new(|_: &Catalogue| -> EntityReader {
        std::sync::Arc::new(|_: &str| crate::kb::import::EntitiesRead {
            models: vec!["HP LaserJet M404".into(), "Lexmark C750".into()],
            error_codes: vec!["79".into()],
        })
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

#[test]
fn every_page_of_an_export_named_in_one_import_makes_one_collection() {
    let dir = tempfile::tempdir().unwrap();
    let page = |n: usize, records: &str, next: &str| {
        let file = dir.path().join(format!("page-{n}.json"));
        let text = format!(r#"{{"articles": [{records}], "next_page": {next}}}"#);
        std::fs::write(&file, text).unwrap();
        file
    };
    let first = page(
        1,
        r#"{"id": "a", "title": "Bourrage", "text": "Ouvrez le capot."}"#,
        r#""https://help/api?page=2""#,
    );
    let second = page(
        2,
        "\n{\"id\": \"b\", \"title\": \"Toner\", \"text\": \"Changez la cartouche.\"},\n{\"id\": \"a\", \"title\": \"Encore\", \"text\": \"x\"}",
        "null",
    );
    let out = dir.path().join("kb");
    let options = ImportOptions::default();
    let files = [first.clone(), second.clone()];
    // An id twice across the pages is named where it is, in its file.
    let found = problems(import_jsonl_files(&files, &out, "help", &options));
    let first_at = format!("duplicate id `a` (first at {}:1)", first.display());
    assert_eq!(found, [(Some(3), Some("id".into()), first_at)]);
    let err = import_jsonl_files(&files, &out, "help", &options).unwrap_err();
    let Error::KbInvalid(p) = err else { panic!() };
    assert_eq!(p[0].file, second.display().to_string());

    let second = page(
        2,
        r#"{"id": "b", "title": "Toner", "text": "Changez la cartouche."}"#,
        "null",
    );
    let report = import_jsonl_files(&[first.clone(), second], &out, "help", &options).unwrap();
    assert_eq!(report.entries_written, 2);
    let notes = report.notes.join("\n");
    assert!(notes.contains("page-1.json: read the 1 record"), "{notes}");
    // The last page is among the files: no page said to be missing.
    assert!(!notes.contains("names a next one"), "{notes}");
    // One page alone says how to import them all.
    let (_dir, report) = import(
        &std::fs::read_to_string(&first).unwrap(),
        &FieldMap::default(),
    );
    let notes = report.unwrap().notes.join("\n");
    assert!(
        notes.contains("name every page's file in one import"),
        "{notes}"
    );
}

#[test]
fn a_page_that_is_not_utf8_is_named_and_the_next_pages_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("page-1.json");
    let second = dir.path().join("page-2.json");
    // Windows-1252's "é" (0xE9): not JSON's UTF-8.
    std::fs::write(
        &first,
        b"{\"id\": \"a\", \"title\": \"R\xE9seau\", \"text\": \"x\"}\n",
    )
    .unwrap();
    std::fs::write(
        &second,
        "{\"id\": \"b\", \"title\": \"Toner\", \"auteur\": \"x\"}\n",
    )
    .unwrap();
    let out = dir.path().join("kb");
    let files = [first, second];
    let report = import_jsonl_files(&files, &out, "help", &ImportOptions::default());
    let Err(Error::KbInvalid(found)) = report else {
        panic!("expected problems, got {report:?}");
    };
    let said = |file: &str, says: &str| {
        found
            .iter()
            .any(|p| p.file.ends_with(file) && p.message.contains(says))
    };
    assert!(said("page-1.json", "not UTF-8"), "{found:?}");
    assert!(said("page-2.json", "unknown field"), "{found:?}");
    assert!(!out.exists());
}

#[test]
fn pages_one_after_another_as_jq_writes_them_are_read_page_by_page() {
    let text = "{\n  \"articles\": [\n    {\"id\": \"a\", \"title\": \"Bourrage\", \"text\": \"Ouvrez le capot.\"}\n  ],\n  \"next_page\": \"https://help/api?page=2\"\n}\n{\n  \"articles\": [\n    {\"id\": \"b\", \"title\": \"Toner\", \"text\": \"Changez la cartouche.\"},\n    {\"id\": \"c\", \"title\": \"Wi-Fi\"}\n  ],\n  \"next_page\": null\n}\n";
    let (_dir, report) = import(text, &FieldMap::default());
    // The record with no text is named by its own line, inside the second page.
    assert_eq!(
        problems(report),
        [(Some(10), Some("text".into()), "missing or empty".into())]
    );
    let fixed = text.replace(
        "\"title\": \"Wi-Fi\"}",
        "\"title\": \"Wi-Fi\", \"text\": \"Relancez l'assistant.\"}",
    );
    let (dir, report) = import(&fixed, &FieldMap::default());
    let report = report.unwrap();
    assert_eq!(report.entries_written, 3);
    assert!(
        report.notes[0].contains("2 JSON objects one after another, 2 of them pages"),
        "{:?}",
        report.notes
    );
    assert_eq!(read_kb(&dir.path().join("kb")).unwrap().0.entries.len(), 3);
}

#[test]
fn the_reader_works_from_the_catalogue_the_import_reads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("kb");
    std::fs::create_dir_all(out.join("catalogue")).unwrap();
    std::fs::write(
        out.join(crate::kb::load::CATALOGUE_FILE),
        "[[model]]\nmanufacturer = \"Acme\"\nname = \"Z9\"\naliases = [\"Z-9\"]\n",
    )
    .unwrap();
    let file = dir.path().join("faq.jsonl");
    std::fs::write(
        &file,
        r#"{"id":"a","title":"Bourrage Z-9","text":"Ouvrir le capot."}"#,
    )
    .unwrap();
    // The maker is handed the catalogue read under the KB's lock: the KB's own model
    // (and its spelling) beside the product's.
    let reader: EntityReaderMaker = std::sync::Arc::new(|catalogue: &Catalogue| -> EntityReader {
        let acme = catalogue.resolve("Z-9").map(|m| m.canonical());
        assert_eq!(acme.as_deref(), Some("Acme Z9"));
        assert!(
            catalogue.resolve("C750dn").is_some(),
            "the product's catalogue"
        );
        std::sync::Arc::new(move |_: &str| crate::kb::import::EntitiesRead {
            models: acme.clone().into_iter().collect(),
            error_codes: Vec::new(),
        })
    });
    let options = ImportOptions {
        entities: Some(reader),
        ..ImportOptions::default()
    };
    import_jsonl(&file, &out, "faq", &options).unwrap();
    let (kb, _) = read_kb(&out).unwrap();
    assert_eq!(kb.entries[0].models, ["Acme Z9"]);
}
