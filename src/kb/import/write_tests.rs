//! Importing an export again (`WriteMode::Update`), and records an export has not published.

use std::path::{Path, PathBuf};

use super::*;
use crate::kb::import::problems_of as problems;
use crate::kb::import::REPLACED_DIR;
use crate::kb::load::read_kb;

const A: &str =
    r#"{"id": "a", "title": "Bourrage papier", "text": "Ouvrez le capot et retirez la feuille."}"#;
const B: &str =
    r#"{"id": "b", "title": "Voyant toner", "text": "Remplacez la cartouche de toner."}"#;
const B2: &str = r#"{"id": "b", "title": "Voyant toner", "text": "Remplacez la cartouche de toner, puis fermez le capot."}"#;
const C: &str =
    r#"{"id": "c", "title": "Wi-Fi perdu", "text": "Relancez l'assistant Wi-Fi du panneau."}"#;

struct Kb {
    dir: tempfile::TempDir,
}

impl Kb {
    fn new() -> Self {
        Kb {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("kb")
    }

    fn collection(&self) -> PathBuf {
        self.out().join("entries").join("faq")
    }

    fn entry(&self, id: &str) -> PathBuf {
        self.collection().join(format!("{id}.toml"))
    }

    fn import(&self, lines: &[&str], mode: WriteMode) -> Result<ImportReport> {
        let file = self.dir.path().join("export.jsonl");
        std::fs::write(&file, lines.join("\n")).unwrap();
        let options = ImportOptions {
            mode,
            ..ImportOptions::default()
        };
        import_jsonl(&file, &self.out(), "faq", &options)
    }

    fn ids(&self) -> Vec<String> {
        let (kb, problems) = read_kb(&self.out()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let mut ids: Vec<String> = kb.entries.iter().map(|e| e.id.clone()).collect();
        ids.sort();
        ids
    }
}

const UPDATE: WriteMode = WriteMode::Update {
    replace_edited: false,
};
const REPLACE: WriteMode = WriteMode::Update {
    replace_edited: true,
};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_same_export_again_changes_nothing() {
    let kb = Kb::new();
    kb.import(&[A, B], WriteMode::Add).unwrap();
    assert!(kb.collection().join(MANIFEST_FILE).is_file());
    let report = kb.import(&[A, B], UPDATE).unwrap();
    let changes = report.changes.unwrap();
    assert_eq!(
        (changes.unchanged, changes.added, changes.changed),
        (2, 0, 0)
    );
    assert_eq!(report.entries_written, 0);
    assert_eq!(kb.ids(), ["a", "b"]);
}

#[test]
fn an_export_edited_in_the_help_centre_adds_changes_and_removes() {
    let kb = Kb::new();
    kb.import(&[A, B], WriteMode::Add).unwrap();
    // Another collection of the same KB is not the import's to touch.
    let other = kb.out().join("entries").join("own");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(kb.entry("a"), other.join("x.toml")).unwrap();
    let x = read(&other.join("x.toml")).replace("id = \"a\"", "id = \"x\"");
    std::fs::write(other.join("x.toml"), &x).unwrap();

    let report = kb.import(&[B2, C], UPDATE).unwrap();
    let changes = report.changes.unwrap();
    assert_eq!(
        changes,
        Changes {
            added: 1,
            changed: 1,
            unchanged: 0,
            removed: 1,
            kept: 0
        }
    );
    assert_eq!(kb.ids(), ["b", "c", "x"]);
    assert!(read(&kb.entry("b")).contains("fermez le capot"));
    assert_eq!(read(&other.join("x.toml")), x);
    // The record follows: importing the same again is a no-op.
    let again = kb.import(&[B2, C], UPDATE).unwrap().changes.unwrap();
    assert_eq!((again.unchanged, again.removed), (2, 0));
}

#[test]
fn an_entry_changed_by_hand_is_not_overwritten_unless_asked() {
    let kb = Kb::new();
    kb.import(&[A, B], WriteMode::Add).unwrap();
    let edited = read(&kb.entry("b")).replace("toner.", "toner (référence TN-2420).");
    std::fs::write(kb.entry("b"), &edited).unwrap();

    let found = problems(kb.import(&[A, B2, C], UPDATE));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].2.contains("changed by hand"), "{found:?}");
    assert!(found[0].2.contains("--replace-edited"), "{found:?}");
    // Refused whole: nothing written, not even the new entry.
    assert_eq!(read(&kb.entry("b")), edited);
    assert!(!kb.entry("c").exists());

    let changes = kb.import(&[A, B2, C], REPLACE).unwrap().changes.unwrap();
    assert_eq!((changes.changed, changes.added), (1, 1));
    assert!(read(&kb.entry("b")).contains("fermez le capot"));
}

#[test]
fn an_entry_changed_by_hand_that_the_export_dropped_is_not_removed_unless_asked() {
    let kb = Kb::new();
    kb.import(&[A, B], WriteMode::Add).unwrap();
    let edited = read(&kb.entry("a")).replace("feuille", "feuille coincée");
    std::fs::write(kb.entry("a"), edited).unwrap();
    let found = problems(kb.import(&[B], UPDATE));
    assert!(found[0].2.contains("no longer has it"), "{found:?}");
    assert!(kb.entry("a").exists());
    let changes = kb.import(&[B], REPLACE).unwrap().changes.unwrap();
    assert_eq!(changes.removed, 1);
    assert_eq!(kb.ids(), ["b"]);
}

#[test]
fn a_file_an_editor_added_to_the_collection_is_kept() {
    let kb = Kb::new();
    kb.import(&[A], WriteMode::Add).unwrap();
    let own = read(&kb.entry("a")).replace("id = \"a\"", "id = \"mine\"");
    std::fs::create_dir_all(kb.collection().join("extra")).unwrap();
    std::fs::write(kb.collection().join("extra").join("mine.toml"), &own).unwrap();
    let report = kb.import(&[B], UPDATE);
    // An export sharing no entry with the collection's is another export: refused.
    assert!(problems(report)[0].2.contains("no entry of the collection"));
    let report = kb.import(&[A, B], UPDATE).unwrap();
    assert_eq!(report.changes.as_ref().unwrap().kept, 1);
    assert!(report.notes.iter().any(|n| n.contains("an editor's own")));
    assert_eq!(read(&kb.collection().join("extra").join("mine.toml")), own);
    assert_eq!(kb.ids(), ["a", "b", "mine"]);
}

#[test]
fn without_update_an_existing_id_is_refused_with_the_way_to_update() {
    let kb = Kb::new();
    kb.import(&[A], WriteMode::Add).unwrap();
    let found = problems(kb.import(&[A, B], WriteMode::Add));
    assert_eq!(found.len(), 1);
    assert!(found[0].2.contains("--update"), "{found:?}");
    assert!(!kb.entry("b").exists());
    // Nor new ids alone: adding to an import is what an update does.
    let found = problems(kb.import(&[B], WriteMode::Add));
    assert!(found[0].2.contains("holds an import"), "{found:?}");
    let changes = kb.import(&[A, B], UPDATE).unwrap().changes.unwrap();
    assert_eq!((changes.unchanged, changes.added), (1, 1));
}

#[test]
fn an_id_of_another_collection_is_refused_even_when_updating() {
    let kb = Kb::new();
    kb.import(&[A], WriteMode::Add).unwrap();
    let other = kb.out().join("entries").join("own");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(kb.entry("a"), other.join("b.toml")).unwrap();
    let found = problems(kb.import(&[A, B], UPDATE));
    assert!(found[0].2.contains("another collection"), "{found:?}");
}

#[test]
fn a_collection_no_import_recorded_is_updated_where_it_agrees_and_refused_where_not() {
    let kb = Kb::new();
    kb.import(&[A, B], WriteMode::Add).unwrap();
    // As an import before the record existed left it.
    std::fs::remove_file(kb.collection().join(MANIFEST_FILE)).unwrap();
    let changes = kb.import(&[A, B], UPDATE).unwrap().changes.unwrap();
    assert_eq!(changes.unchanged, 2);
    std::fs::remove_file(kb.collection().join(MANIFEST_FILE)).unwrap();
    let found = problems(kb.import(&[A, B2], UPDATE));
    assert!(found[0].2.contains("no import recorded"), "{found:?}");
    // Entries the export dropped are kept: nothing says an import wrote them.
    let changes = kb.import(&[A], UPDATE).unwrap().changes.unwrap();
    assert_eq!((changes.unchanged, changes.kept), (1, 1));
}

#[test]
fn a_record_that_is_not_an_import_record_is_refused_by_name() {
    let kb = Kb::new();
    kb.import(&[A], WriteMode::Add).unwrap();
    std::fs::write(kb.collection().join(MANIFEST_FILE), "{ not json").unwrap();
    let found = problems(kb.import(&[A], UPDATE));
    assert!(
        found[0].2.contains("not the record an import writes"),
        "{found:?}"
    );
}

#[test]
fn drafts_and_unpublished_records_are_left_out_and_said() {
    let kb = Kb::new();
    let lines = [
        A,
        r#"{"id": "d1", "title": "Brouillon", "text": "", "draft": true}"#,
        r#"{"id": "d2", "title": "Vieux", "text": "Ancien article.", "status": "Archivé"}"#,
        r#"{"id": "d3", "title": "Caché", "text": "Texte.", "published": "non"}"#,
        r#"{"id": "p1", "title": "Publié", "text": "Texte publié.", "status": "published", "draft": false}"#,
        r#"{"id": "p2", "title": "Code", "text": "Statut numérique.", "status": 2}"#,
    ];
    let report = kb.import(&lines, WriteMode::Add).unwrap();
    assert_eq!(kb.ids(), ["a", "p1", "p2"]);
    let notes = report.notes.join("\n");
    assert!(notes.contains("3 records left out as drafts"), "{notes}");
    assert!(notes.contains("`status: Archivé` 1"), "{notes}");
    assert!(notes.contains("--include-drafts"), "{notes}");
    assert!(notes.contains("`status: 2` 1"), "{notes}");
}

#[test]
fn drafts_are_imported_when_asked_and_an_export_of_drafts_only_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    let draft = r#"{"id": "d", "title": "Brouillon", "text": "Presque fini.", "status": "draft"}"#;
    std::fs::write(&file, draft).unwrap();
    let found = problems(import_jsonl(
        &file,
        &dir.path().join("kb"),
        "faq",
        &ImportOptions::default(),
    ));
    assert!(found[0].2.contains("every record is a draft"), "{found:?}");
    let options = ImportOptions {
        include_drafts: true,
        ..ImportOptions::default()
    };
    let report = import_jsonl(&file, &dir.path().join("kb"), "faq", &options).unwrap();
    assert_eq!(report.entries_written, 1);
}

#[test]
fn a_flag_or_status_that_does_not_read_keeps_the_record_and_is_said() {
    let kb = Kb::new();
    let lines = [
        A,
        r#"{"id": "d", "title": "T", "text": "X", "draft": "peut-être"}"#,
        r#"{"id": "e", "title": "T", "text": "X", "published": "2024-03-01T10:00:00Z"}"#,
        r#"{"id": "f", "title": "T", "text": "X", "status": {"id": 2, "name": "live"}}"#,
        r#"{"id": "g", "title": "T", "text": "X", "status": "trashed"}"#,
    ];
    let report = kb.import(&lines, WriteMode::Add).unwrap();
    assert_eq!(kb.ids(), ["a", "d", "e", "f"]);
    let notes = report.notes.join("\n");
    assert!(notes.contains("`draft: peut-être` 1"), "{notes}");
    assert!(
        notes.contains("`published: 2024-03-01T10:00:00Z` 1"),
        "{notes}"
    );
    assert!(
        notes.contains("`status: {\"id\":2,\"name\":\"live\"}` 1"),
        "{notes}"
    );
    assert!(notes.contains("1 records left out as drafts"), "{notes}");
}

#[test]
fn what_no_import_wrote_is_left_as_it_is() {
    let kb = Kb::new();
    kb.import(&[A, B], WriteMode::Add).unwrap();
    let readme = kb.collection().join("README.md");
    let backup = kb.collection().join("a.toml.bak");
    let image = kb.collection().join("images").join("capot.png");
    std::fs::write(&readme, "notes de l'éditeur").unwrap();
    std::fs::write(&backup, "ancienne version").unwrap();
    std::fs::create_dir_all(image.parent().unwrap()).unwrap();
    std::fs::write(&image, [0x89, b'P', b'N', b'G']).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let shared = std::fs::Permissions::from_mode(0o664);
        std::fs::set_permissions(kb.entry("b"), shared).unwrap();
    }
    // Nothing changed: nothing written.
    let before = std::fs::metadata(kb.entry("a"))
        .unwrap()
        .modified()
        .unwrap();
    kb.import(&[A, B], UPDATE).unwrap();
    assert_eq!(
        std::fs::metadata(kb.entry("a"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    // Changed and removed: the rest stays.
    kb.import(&[B2], UPDATE).unwrap();
    assert_eq!(kb.ids(), ["b"]);
    assert_eq!(read(&readme), "notes de l'éditeur");
    assert_eq!(read(&backup), "ancienne version");
    assert!(image.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(kb.entry("b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o664);
    }
    // No file of the import's own left behind.
    let stray: Vec<_> = std::fs::read_dir(kb.collection())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".import-"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn a_second_export_into_a_collection_is_refused_and_an_update_replaces_it_whole() {
    let kb = Kb::new();
    kb.import(&[A, B], WriteMode::Add).unwrap();
    let other = kb.dir.path().join("other.jsonl");
    std::fs::write(&other, C).unwrap();
    let options = ImportOptions::default();
    let found = problems(import_jsonl(&other, &kb.out(), "faq", &options));
    assert_eq!(found[0].1.as_deref(), Some("--collection"), "{found:?}");
    assert!(
        found[0].2.contains("holds an import (of export.jsonl)"),
        "{found:?}"
    );
    // A dated export of the same help centre, under another name: the same entries.
    let dated = kb.dir.path().join("export-2026-12.jsonl");
    std::fs::write(&dated, [A, B].join("\n")).unwrap();
    let options = ImportOptions {
        mode: UPDATE,
        ..ImportOptions::default()
    };
    let report = import_jsonl(&dated, &kb.out(), "faq", &options).unwrap();
    assert_eq!(report.changes.unwrap().unchanged, 2);
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("imported from export.jsonl before")));
}

#[test]
fn a_collection_is_named_as_given_or_refused() {
    let kb = Kb::new();
    let file = kb.dir.path().join("export.jsonl");
    std::fs::write(&file, A).unwrap();
    for name in ["../evil", "FAQ Clients", ".hidden", ""] {
        let found = import_jsonl(&file, &kb.out(), name, &ImportOptions::default());
        assert!(
            matches!(&found, Err(Error::InvalidInput { field, .. }) if field == "--collection"),
            "{name}: {found:?}"
        );
    }
    // Letters of any script name a folder as they are.
    let report = import_jsonl(&file, &kb.out(), "常见问题", &ImportOptions::default()).unwrap();
    assert_eq!(report.collection, "常见问题");
    assert!(kb.out().join("entries/常见问题/a.toml").is_file());
}

#[test]
fn a_collection_imported_before_the_record_updates_where_only_the_source_differs() {
    let kb = Kb::new();
    kb.import(&[A, B], WriteMode::Add).unwrap();
    // As an import before the record existed wrote it: the record's line in the source.
    std::fs::remove_file(kb.collection().join(MANIFEST_FILE)).unwrap();
    let old = read(&kb.entry("b")).replace(
        "imported export (entries/faq)",
        "imported from export.jsonl line 2",
    );
    std::fs::write(kb.entry("b"), old).unwrap();
    let changes = kb.import(&[A, B], UPDATE).unwrap().changes.unwrap();
    assert_eq!((changes.unchanged, changes.changed), (1, 1));
}

#[test]
fn two_files_of_one_entry_in_the_collection_are_refused() {
    let kb = Kb::new();
    kb.import(&[A], WriteMode::Add).unwrap();
    std::fs::create_dir_all(kb.collection().join("old")).unwrap();
    std::fs::copy(kb.entry("a"), kb.collection().join("old").join("a.toml")).unwrap();
    let found = problems(kb.import(&[A], UPDATE));
    assert!(
        found[0].2.contains("a second file for the entry `a`"),
        "{found:?}"
    );
}

#[test]
fn an_import_while_another_holds_the_kb_is_refused() {
    let kb = Kb::new();
    kb.import(&[A], WriteMode::Add).unwrap();
    // A reindex reading it, say.
    let held = crate::kb::lock::KbLock::read(&kb.out()).unwrap();
    let refused = kb.import(&[A, B], UPDATE);
    assert!(
        matches!(&refused, Err(Error::Conflict(m)) if m.contains("being read or written by another process")),
        "{refused:?}"
    );
    assert!(!kb.entry("b").exists());
    drop(held);
    kb.import(&[A, B], UPDATE).unwrap();
    assert_eq!(kb.ids(), ["a", "b"]);
}

#[test]
fn an_editors_change_the_export_did_not_touch_stands() {
    let kb = Kb::new();
    kb.import(&[A, B], WriteMode::Add).unwrap();
    let edited = read(&kb.entry("b")).replace("toner.", "toner (TN-2420).");
    std::fs::write(kb.entry("b"), &edited).unwrap();
    std::fs::remove_file(kb.entry("a")).unwrap();
    // The export did not change a nor b: the editor's change and removal stand.
    let report = kb.import(&[A, B, C], UPDATE).unwrap();
    let changes = report.changes.clone().unwrap();
    assert_eq!((changes.added, changes.kept, changes.changed), (1, 2, 0));
    let notes = report.notes.join("\n");
    assert!(
        notes.contains("changed by hand, kept as they are"),
        "{notes}"
    );
    assert!(notes.contains("removed by hand, left out"), "{notes}");
    assert_eq!(read(&kb.entry("b")), edited);
    assert!(!kb.entry("a").exists());
    // Again: still the editor's.
    kb.import(&[A, B, C], UPDATE).unwrap();
    assert_eq!(read(&kb.entry("b")), edited);
    assert!(!kb.entry("a").exists());
    // The export changes b: now they differ, and the update says so.
    let found = problems(kb.import(&[A, B2, C], UPDATE));
    assert!(
        found[0].2.contains("changed in the export too"),
        "{found:?}"
    );
    // The export changes a the editor removed: said too, and --replace-edited restores it.
    let a2 = A.replace("la feuille.", "la feuille coincée.");
    let found = problems(kb.import(&[&a2, B, C], UPDATE));
    assert!(found[0].2.contains("removed by hand"), "{found:?}");
    let report = kb.import(&[&a2, B2, C], REPLACE).unwrap();
    assert!(kb.entry("a").exists());
    assert!(read(&kb.entry("b")).contains("fermez le capot"));
    // What was replaced is kept, and said.
    let copies: Vec<_> = std::fs::read_dir(kb.out().join(REPLACED_DIR).join("faq"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(read(&copies[0]), edited);
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("replaced by the export's")));
}

#[test]
fn an_update_from_files_that_are_not_the_whole_export_removes_nothing() {
    let kb = Kb::new();
    let dir = kb.dir.path();
    let page = |n: usize, records: &[&str], next: &str| {
        let file = dir.join(format!("page-{n}.json"));
        let text = format!(
            r#"{{"articles": [{}], "count": 3, "next_page": {next}}}"#,
            records.join(",")
        );
        std::fs::write(&file, text).unwrap();
        file
    };
    let one = page(1, &[A, B], r#""https://help/api?page=2""#);
    let two = page(2, &[C], "null");
    let options = |mode| ImportOptions {
        mode,
        ..ImportOptions::default()
    };
    import_jsonl_files(
        &[one.clone(), two.clone()],
        &kb.out(),
        "faq",
        &options(WriteMode::Add),
    )
    .unwrap();
    // Page 2 alone, then page 1 alone: what the other holds is not removed.
    for (file, kept) in [(two, 2), (one, 1)] {
        let report = import_jsonl_files(&[file], &kb.out(), "faq", &options(UPDATE)).unwrap();
        let changes = report.changes.clone().unwrap();
        assert_eq!((changes.removed, changes.kept), (0, kept), "{report:?}");
        assert!(report
            .notes
            .iter()
            .any(|n| n.contains("not the whole export")));
        assert_eq!(kb.ids(), ["a", "b", "c"]);
    }
}

#[test]
fn an_import_stopped_midway_is_finished_by_the_next() {
    let kb = Kb::new();
    kb.import(&[A, B], WriteMode::Add).unwrap();
    // As an update to [A, B2] leaves the collection when stopped before b's rename: the
    // record knows both versions, b.toml is still the old one, a temporary file is left.
    let record_path = kb.collection().join(MANIFEST_FILE);
    let mut record: serde_json::Value = serde_json::from_str(&read(&record_path)).unwrap();
    let old = record["entries"].clone();
    use sha2::Digest;
    let b2 = read(&kb.entry("b")).replace("toner.", "toner, puis fermez le capot.");
    let b2_hash = hex::encode(sha2::Sha256::digest(b2.as_bytes()));
    record["entries"]["b"] = serde_json::Value::String(b2_hash);
    record["previous"] = old;
    std::fs::write(&record_path, record.to_string()).unwrap();
    let leftover = kb.collection().join(".b.toml.import-999999-3");
    std::fs::write(&leftover, "half").unwrap();
    let changes = kb.import(&[A, B2], UPDATE).unwrap().changes.unwrap();
    assert_eq!((changes.changed, changes.unchanged), (1, 1));
    assert!(!leftover.exists());
    let record = read(&record_path);
    assert!(!record.contains("previous"), "{record}");
}

#[test]
fn out_must_name_a_kb_or_a_new_folder() {
    let kb = Kb::new();
    kb.import(&[A], WriteMode::Add).unwrap();
    let file = kb.dir.path().join("export.jsonl");
    std::fs::write(&file, B).unwrap();
    let data = kb.dir.path().join("data");
    std::fs::create_dir_all(data.join("generations")).unwrap();
    for out in [kb.out().join("entries"), kb.out().join("entries/faq"), data] {
        let found = import_jsonl(&file, &out, "other", &ImportOptions::default());
        assert!(
            matches!(&found, Err(Error::InvalidInput { field, .. }) if field == "--out"),
            "{}: {found:?}",
            out.display()
        );
    }
    assert_eq!(kb.ids(), ["a"]);
}
