//! Importing an export again (`WriteMode::Update`), and records an export has not published.

use std::path::{Path, PathBuf};

use super::*;
use crate::kb::import::problems_of as problems;
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
    let report = kb.import(&[B], UPDATE).unwrap();
    assert_eq!(report.changes.as_ref().unwrap().kept, 1);
    assert!(report.notes.iter().any(|n| n.contains("added by hand")));
    assert_eq!(read(&kb.collection().join("extra").join("mine.toml")), own);
    assert_eq!(kb.ids(), ["b", "mine"]);
}

#[test]
fn without_update_an_existing_id_is_refused_with_the_way_to_update() {
    let kb = Kb::new();
    kb.import(&[A], WriteMode::Add).unwrap();
    let found = problems(kb.import(&[A, B], WriteMode::Add));
    assert_eq!(found.len(), 1);
    assert!(found[0].2.contains("--update"), "{found:?}");
    assert!(!kb.entry("b").exists());
    // New ids alone join the collection, and its record keeps both.
    kb.import(&[B], WriteMode::Add).unwrap();
    let changes = kb.import(&[A, B], UPDATE).unwrap().changes.unwrap();
    assert_eq!(changes.unchanged, 2);
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
    assert!(notes.contains("`2` 1"), "{notes}");
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
fn a_draft_flag_that_is_not_a_flag_is_refused() {
    let kb = Kb::new();
    let bad = r#"{"id": "d", "title": "T", "text": "X", "draft": "peut-être"}"#;
    let found = problems(kb.import(&[A, bad], WriteMode::Add));
    assert_eq!(found[0].1.as_deref(), Some("draft"));
    assert!(found[0].2.contains("not true or false"), "{found:?}");
}
