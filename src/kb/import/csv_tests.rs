//! The CSV importer's tests (`csv.rs`).

use super::*;
use crate::error::Error;
use crate::kb::entry::Category;
use crate::kb::import::problems_of as problems;
use crate::kb::import::FieldMap;
use crate::kb::load::read_kb;

fn import(bytes: &[u8]) -> (tempfile::TempDir, Result<ImportReport>) {
    import_with(bytes, &FieldMap::default())
}

fn import_with(bytes: &[u8], fields: &FieldMap) -> (tempfile::TempDir, Result<ImportReport>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faq.csv");
    std::fs::write(&file, bytes).unwrap();
    let out = dir.path().join("kb");
    let options = ImportOptions {
        fields: fields.clone(),
        ..ImportOptions::default()
    };
    let report = import_csv(&file, &out, "faq", &options);
    (dir, report)
}

#[test]
fn a_french_excel_export_reads_as_written() {
    // Windows-1252, `;`-separated, a quoted cell over several lines, a list cell of
    // one line, headers in capitals, a numeric id.
    let text = "ID;Title;Text;Steps;Tags\r\n\
        12;Bourrage papier;\"Le papier reste coincé ; que faire ?\";\"- Ouvrir le capot\r\n- Retirer la feuille\";\"papier; bourrage\"\r\n\
        ;;;;\r\n\
        bac-vide;Bac vide;L'imprimante dit que le bac est vide.;;\r\n";
    let (bytes, _, _) = WINDOWS_1252.encode(text);
    let (dir, report) = import(&bytes);
    let report = report.unwrap();
    assert_eq!(report.entries_written, 2);
    assert!(
        report.notes[0].contains("read as Windows-1252"),
        "{:?}",
        report.notes
    );
    let (kb, found) = read_kb(&dir.path().join("kb")).unwrap();
    assert!(found.is_empty(), "{found:?}");
    let jam = kb.entries.iter().find(|e| e.id == "12").unwrap();
    assert_eq!(jam.description, "Le papier reste coincé ; que faire ?");
    assert_eq!(jam.steps, ["Ouvrir le capot", "Retirer la feuille"]);
    assert_eq!(jam.tags, ["papier", "bourrage"]);
    assert_eq!(jam.source, "imported export (entries/faq)");
    let empty = kb.entries.iter().find(|e| e.id == "bac-vide").unwrap();
    assert!(empty.steps.is_empty());
    // The row after a cell of two lines is named by the line it starts on.
    let untitled = text.replace("Bac vide", "");
    let (bytes, _, _) = WINDOWS_1252.encode(&untitled);
    let (_dir, report) = import(&bytes);
    assert_eq!(problems(report)[0].0, Some(5));
}

#[test]
fn utf8_with_a_byte_order_mark_and_commas() {
    let (_dir, report) = import(
        "\u{feff}id,title,text,models\nc750-88,Message 88,\"Toner bas, commander\",Lexmark C750\n"
            .as_bytes(),
    );
    let report = report.unwrap();
    assert_eq!(report.entries_written, 1);
    assert!(report.notes.iter().all(|n| !n.contains("UTF-8")));
}

#[test]
fn a_header_that_cannot_be_used_names_the_column() {
    // Every problem of the header at once, each run of the customer's is one to fix.
    let (dir, report) = import(b"id;question;answer\n1;a;b\n");
    let header = |field: Option<&str>, message: &str| {
        (Some(1), field.map(str::to_string), message.to_string())
    };
    let missing = |f: &str| {
        format!(
            "missing column (the first row names the columns; `--field {f}=COLUMN` reads another)"
        )
    };
    assert_eq!(
        problems(report),
        [
            header(Some("question"), "unknown column"),
            header(Some("answer"), "unknown column"),
            header(None, &FieldMap::default().how_to_read("column")),
            header(Some("title"), &missing("title")),
            header(Some("text"), &missing("text")),
        ]
    );
    assert!(!dir.path().join("kb").exists());
    let (_dir, report) = import(b"id;title\n1;a\n");
    assert_eq!(problems(report)[0].1.as_deref(), Some("text"));
    let map = FieldMap::new(&["tags=labels".to_string()], false).unwrap();
    let (_dir, report) = import_with(b"id;title;text;lables\n1;a;b;c\n", &map);
    let found = problems(report);
    assert_eq!(found[0], header(Some("lables"), "unknown column"));
    assert_eq!(
        found[2],
        header(
            Some("--field"),
            "`--field tags=labels`: the file has no column `labels`"
        )
    );
    // A column twice is named with the header's other problems.
    let (_dir, report) = import(b"id;title;text;Title;Auteur\n1;a;b;c;d\n");
    let found = problems(report);
    assert!(
        found.contains(&header(Some("Title"), "column named twice")),
        "{found:?}"
    );
    assert!(
        found.contains(&header(Some("Auteur"), "unknown column")),
        "{found:?}"
    );
    // A mapping reads a header in capitals with accents.
    let map = FieldMap::new(&["title=QUESTION,text=RÉPONSE".to_string()], false).unwrap();
    let (_dir, report) = import_with("QUESTION;RÉPONSE\nBourrage ?;Ouvrez.\n".as_bytes(), &map);
    assert_eq!(report.unwrap().entries_written, 1);
}

#[test]
fn every_files_header_problems_are_named_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("page-1.csv");
    let second = dir.path().join("page-2.csv");
    std::fs::write(&first, "id;question;answer\n1;a;b\n").unwrap();
    std::fs::write(&second, "id;title;text;auteur\n2;c;d;e\n").unwrap();
    let out = dir.path().join("kb");
    let report = import_csv_files(&[first, second], &out, "faq", &ImportOptions::default());
    let Err(Error::KbInvalid(found)) = report else {
        panic!("expected problems, got {report:?}");
    };
    let named: Vec<(String, Option<String>)> = found
        .iter()
        .map(|p| {
            (
                p.file.rsplit('/').next().unwrap().to_string(),
                p.field.clone(),
            )
        })
        .collect();
    let at = |file: &str, field: Option<&str>| (file.to_string(), field.map(str::to_string));
    assert_eq!(
        named,
        [
            at("page-1.csv", Some("question")),
            at("page-1.csv", Some("answer")),
            at("page-1.csv", None),
            at("page-1.csv", Some("title")),
            at("page-1.csv", Some("text")),
            // The line on how to name columns is said once.
            at("page-2.csv", Some("auteur")),
        ],
        "{found:?}"
    );
    assert!(!out.exists());
}

#[test]
fn a_file_missing_or_named_twice_is_named_beside_the_other_files_problems() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("page-1.csv");
    let missing = dir.path().join("page-2.csv");
    let third = dir.path().join("page-3.csv");
    std::fs::write(&first, "id;title;auteur\n1;a;b\n").unwrap();
    std::fs::write(&third, "id;title;text\n3;c;d\n").unwrap();
    let out = dir.path().join("kb");
    // The first file again, spelt another way.
    let again = dir.path().join(".").join("page-1.csv");
    let files = [first.clone(), missing, third, again];
    let report = import_csv_files(&files, &out, "faq", &ImportOptions::default());
    let Err(Error::KbInvalid(found)) = report else {
        panic!("expected problems, got {report:?}");
    };
    let named: Vec<(String, Option<String>, String)> = found
        .iter()
        .map(|p| {
            let file = p.file.rsplit('/').next().unwrap().to_string();
            (file, p.field.clone(), p.message.clone())
        })
        .collect();
    let has = |file: &str, field: Option<&str>, says: &str| {
        named
            .iter()
            .any(|(f, d, m)| f == file && d.as_deref() == field && m.contains(says))
    };
    // The first file's header, the missing file and the file named again: one run.
    assert!(
        has("page-1.csv", Some("auteur"), "unknown column"),
        "{named:?}"
    );
    assert!(
        has("page-1.csv", Some("text"), "missing column"),
        "{named:?}"
    );
    assert!(has("page-2.csv", None, "cannot be read"), "{named:?}");
    assert!(has("page-1.csv", None, "named twice (also as"), "{named:?}");
    // Each file's problems together, in the order the files were named.
    let order: Vec<&str> = named.iter().map(|(f, _, _)| f.as_str()).collect();
    let first_elsewhere = order.iter().position(|f| *f != "page-1.csv").unwrap();
    assert!(
        order[first_elsewhere..].iter().all(|f| *f != "page-1.csv"),
        "{order:?}"
    );
    assert!(!out.exists());

    // A lone file that cannot be read is the import's own error.
    let lone = import_csv(
        &dir.path().join("none.csv"),
        &out,
        "faq",
        &ImportOptions::default(),
    );
    assert!(matches!(lone, Err(Error::Io { .. })), "{lone:?}");
}

#[test]
fn an_faq_with_its_own_column_names_reads_through_a_mapping() {
    // A CMS's export: question and answer, and columns the KB has no use for.
    let text = "Ref;Question;Answer;Author;Updated\n\
        q1;Comment changer le toner ?;Ouvrez la trappe avant.;marie;2026-11-02\n";
    let pairs = ["id=ref,title=question".to_string(), "text=answer".into()];
    let strict = FieldMap::new(&pairs, false).unwrap();
    let (dir, report) = import_with(text.as_bytes(), &strict);
    assert_eq!(problems(report)[0].1.as_deref(), Some("Author"));
    assert!(!dir.path().join("kb").exists());
    let lenient = FieldMap::new(&pairs, true).unwrap();
    let (dir, report) = import_with(text.as_bytes(), &lenient);
    let report = report.unwrap();
    assert_eq!(report.entries_written, 1);
    assert_eq!(
        report.notes[0],
        "left out, not being fields of the KB (--ignore-unknown): author, updated"
    );
    let (kb, _) = read_kb(&dir.path().join("kb")).unwrap();
    assert_eq!(kb.entries[0].id, "q1");
    assert_eq!(kb.entries[0].title, "Comment changer le toner ?");
    assert_eq!(kb.entries[0].description, "Ouvrez la trappe avant.");
    // Two columns read as one field, and a required one left unmapped, are named.
    let both = FieldMap::new(&["title=question".to_string()], true).unwrap();
    let (_dir, report) = import_with(b"id;title;question;text\n1;a;b;c\n", &both);
    assert_eq!(
        problems(report)[0],
        (
            Some(1),
            Some("question".into()),
            "a second column read as `title`".into()
        )
    );
    let (_dir, report) = import_with(b"id;question;answer\n1;a;b\n", &both);
    let problem = &problems(report)[0];
    assert_eq!(problem.1.as_deref(), Some("text"));
    assert!(problem.2.contains("`--field text=COLUMN`"), "{}", problem.2);
}

#[test]
fn every_bad_row_is_named_and_nothing_is_written() {
    let (dir, report) = import(
        "id;title;text;category\n\
         1;Bourrage;Ouvrir le capot;paper_jam\n\
         2;;Sans titre;\n\
         1;Doublon;Encore;\n\
         3;Trop;de;general;cellules\n\
         ;Sans id;Les autres en ont un\n"
            .as_bytes(),
    );
    let found = problems(report);
    let lines: Vec<_> = found.iter().map(|(l, f, _)| (*l, f.as_deref())).collect();
    assert_eq!(
        lines,
        [
            (Some(3), Some("title")),
            (Some(4), Some("id")),
            (Some(5), None),
            (Some(6), Some("id")),
        ],
        "{found:?}"
    );
    assert!(found[2]
        .2
        .contains("5 cells where the header names 4 columns"));
    assert!(!dir.path().join("kb").exists());
}

#[test]
fn a_sheet_without_ids_or_with_its_own_categories_imports_and_says_so() {
    let (dir, report) = import(
        "Title;Text;Category;Tags\n\
         Bourrage papier;Ouvrez le capot.;FAQ>Bourrages;papier|capot\n\
         Bourrage papier;Au bac 2 : ouvrez le bac.;paper_jam;\n\
         ¿?;Sans titre lisible.;;\n"
            .as_bytes(),
    );
    let report = report.unwrap();
    let notes = report.notes.join("\n");
    assert!(notes.contains("no record has an id"), "{notes}");
    assert!(
        notes.contains("categories of the export's own (`FAQ>Bourrages`) are kept as tags"),
        "{notes}"
    );
    let (kb, _) = read_kb(&dir.path().join("kb")).unwrap();
    let ids: Vec<&str> = kb.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 3);
    for id in ["bourrage-papier", "bourrage-papier-2"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    // A title with no letter to slug: named by the title, not by its line.
    use sha2::Digest;
    let unreadable = format!("entry-{}", &hex::encode(sha2::Sha256::digest("¿?"))[..8]);
    assert!(ids.contains(&unreadable.as_str()), "{ids:?}");
    let first = kb
        .entries
        .iter()
        .find(|e| e.id == "bourrage-papier")
        .unwrap();
    assert_eq!(first.category, Category::PaperJam);
    assert_eq!(first.tags, ["papier", "capot", "FAQ", "Bourrages"]);
}

#[test]
fn a_help_centres_html_is_read_as_text_and_said() {
    let (dir, report) = import(
        "id,title,text\n\
         html,<b>Bourrage</b>,\"<p>Pour d&eacute;bloquer&nbsp;:</p><ol><li>Ouvrez le capot</li><li>Retirez la feuille</li></ol>\"\n\
         plain,Toner bas,Commandez une cartouche.\n"
            .as_bytes(),
    );
    let report = report.unwrap();
    assert!(
        report.notes[0].starts_with("1 of 2 entries were written in HTML"),
        "{:?}",
        report.notes
    );
    let (kb, _) = read_kb(&dir.path().join("kb")).unwrap();
    let html = kb.entries.iter().find(|e| e.id == "html").unwrap();
    assert_eq!(html.title, "Bourrage");
    assert_eq!(
        html.description,
        "Pour débloquer :\n1. Ouvrez le capot\n2. Retirez la feuille"
    );
    assert_eq!(html.category, crate::kb::Category::PaperJam);
}

#[test]
fn what_spreadsheets_do_to_a_file_is_read_or_said() {
    // Old Mac line ends, a blank line before the header, padding columns with no name,
    // models separated by commas.
    let (dir, report) = import(
        b"\r\rid;title;text;models;;\r1;Bourrage;Ouvrir le capot;Lexmark C750, Lexmark C752;;\r2;Toner;Commander;;;\r",
    );
    report.unwrap();
    let (kb, _) = read_kb(&dir.path().join("kb")).unwrap();
    let jam = kb.entries.iter().find(|e| e.id == "1").unwrap();
    assert_eq!(jam.models.len(), 2, "{:?}", jam.models);
    let (_dir, report) = import(
        b"\r\rid;title;text;models;;\r1;;Ouvrir le capot;Lexmark C750, Lexmark C752;;\r2;Toner;Commander;;;\r",
    );
    assert_eq!(problems(report)[0].0, Some(4));
    // UTF-16 with its byte order mark, tab-separated.
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "id\ttitle\ttext\n1\tÉcran\tRedémarrer\n".encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    let (dir, report) = import(&utf16);
    assert!(report.unwrap().notes.is_empty());
    let (kb, _) = read_kb(&dir.path().join("kb")).unwrap();
    assert_eq!(kb.entries[0].title, "Écran");
    // A quote never closed would swallow the rows after it.
    let (_dir, report) = import(b"id;title;text\n1;a;\"b\n2;c;d\n3;e;f\n");
    let found = problems(report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, Some(2));
    assert!(found[0].2.contains("never closed"), "{found:?}");
    // A cell under a column with no name, and an empty file.
    let (_dir, report) = import(b"id;title;text;\n1;a;b;c\n");
    assert!(problems(report)[0].2.contains("cell 4 is under a column"));
    let (_dir, report) = import(b"\xEF\xBB\xBF \n");
    assert!(problems(report)[0].2.contains("the file is empty"));
}

#[test]
fn the_separator_is_the_header_rows() {
    assert_eq!(separator("id;title;text\n1,2;b;c"), b';');
    assert_eq!(separator("id,title,text"), b',');
    assert_eq!(separator("id\ttitle\ttext"), b'\t');
    assert_eq!(separator("\"a;b\",title,text"), b',');
    assert_eq!(separator("id"), b',');
    assert_eq!(separator("\n\nid;title;text"), b';');
}
