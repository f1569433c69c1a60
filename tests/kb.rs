//! KB files: validation messages, the JSON Schema, and both importers.

use crate::common;

use std::path::Path;
use std::process::Command;

use devicekb::extract::load_kb;
use devicekb::kb::Category;
use devicekb::Error;

/// `devicekb import KIND FILE --out OUT`.
fn import(kind: &str, file: &Path, out: &Path) -> std::process::Output {
    import_with(kind, file, out, &[])
}

/// `devicekb import KIND FILE --out OUT EXTRA...`.
fn import_with(kind: &str, file: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_devicekb"))
        .args(["import", kind])
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run devicekb")
}

fn problems(
    result: devicekb::Result<devicekb::kb::LoadedKb>,
) -> Vec<devicekb::error::ValidationError> {
    match result {
        Err(Error::KbInvalid(p)) => p,
        Err(other) => panic!("expected validation errors, got {other}"),
        Ok(_) => panic!("expected validation errors"),
    }
}

#[test]
fn the_repository_kb_is_valid_and_large_enough() {
    let kb = load_kb(&common::repo().join("kb")).expect("kb/ validates");
    let c750_fr = kb
        .entries
        .iter()
        .filter(|e| e.models == ["Lexmark C750"] && e.lang == devicekb::kb::Lang::Fr)
        .count();
    assert!(c750_fr >= 80, "{c750_fr} French Lexmark C750 entries");
    let others: Vec<_> = kb
        .entries
        .iter()
        .filter(|e| e.manufacturer != "Lexmark")
        .collect();
    assert!(others.len() >= 40);
    let families: std::collections::HashSet<_> = others
        .iter()
        .map(|e| e.manufacturer.as_str())
        .filter(|m| !m.is_empty())
        .collect();
    assert!(families.len() >= 4, "{families:?}");
    assert!(others.iter().any(|e| e.lang == devicekb::kb::Lang::En));
    assert!(kb.entries.iter().all(|e| !e.source.trim().is_empty()));
}

#[test]
fn every_problem_is_listed_with_file_line_and_field() {
    let kb = common::small_kb(|id| id == "lexmark-c750-msg-88-toner-bas");
    let dir = kb.path().join("entries/test");
    std::fs::write(dir.join("a.toml"), "id = \"a\"\ntitle = \"t\"\nlang = \"fr\"\ncategory = \"general\"\ndescription = \"d\"\nsource = \"s\"\ncolour = \"red\"\n").unwrap();
    std::fs::write(
        dir.join("b.toml"),
        "id = \"b\"\ntitle = \"t\"\nlang = \"fr\"\ncategory = \"general\"\nsource = \"s\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("c.toml"), "id = \"c\"\ntitle = \"t\"\nlang = \"fr\"\ncategory = \"general\"\ndescription = \"d\"\nsource = \"s\"\nsteps = [\"ok\", \"  \"]\n").unwrap();
    std::fs::write(dir.join("d.toml"), "id = \"lexmark-c750-msg-88-toner-bas\"\ntitle = \"t\"\nlang = \"fr\"\ncategory = \"general\"\ndescription = \"d\"\nsource = \"s\"\n").unwrap();
    std::fs::write(dir.join("e.toml"), "id = \"e\"\ntitle = \"t\"\nlang = \"fr\"\ncategory = \"general\"\ndescription = \"d\"\nsource = \"s\"\nmodels = [\"c750\"]\n").unwrap();
    let found = problems(load_kb(kb.path()));
    let has = |file: &str, line: Option<usize>, field: &str| {
        found
            .iter()
            .any(|p| p.file.ends_with(file) && p.line == line && p.field.as_deref() == Some(field))
    };
    assert!(has("a.toml", Some(7), "colour"), "{found:?}");
    assert!(has("b.toml", None, "description"), "{found:?}");
    assert!(has("c.toml", Some(7), "steps"), "{found:?}");
    assert!(has("d.toml", Some(1), "id"), "{found:?}");
    assert!(has("e.toml", Some(7), "models"), "{found:?}");
    assert!(found
        .iter()
        .find(|p| p.file.ends_with("e.toml"))
        .unwrap()
        .message
        .contains("Lexmark C750"));
}

#[test]
fn the_json_schema_matches_the_loader() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo().join("schema/kb_entry.schema.json")).unwrap(),
    )
    .unwrap();
    let categories: Vec<&str> = schema["properties"]["category"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(categories, Category::ALL.map(|c| c.as_str()).to_vec());
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // Every required field's absence is refused by the loader, and nothing else is required.
    let full = "id = \"x\"\ntitle = \"t\"\nlang = \"fr\"\ncategory = \"general\"\ndescription = \"d\"\nsource = \"s\"\n";
    assert!(devicekb::kb::load::parse_entry(full, "x.toml").is_ok());
    for field in &required {
        let without: String = full
            .lines()
            .filter(|l| !l.starts_with(&format!("{field} ")))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(
            devicekb::kb::load::parse_entry(&without, "x.toml").is_err(),
            "{field} should be required"
        );
    }
    let properties: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    assert_eq!(properties.len(), 14);
}

fn count_entries(dir: &Path) -> usize {
    load_kb(dir).expect("imported KB validates").entries.len()
}

#[test]
fn import_seed_writes_a_valid_kb() {
    let seed = common::repo().join("../shared/seed-kb/reference_data.json");
    assert!(seed.exists(), "the seed file is handed to us in ../shared");
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("kb");
    let o = import("seed", &seed, &target);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kb = load_kb(&target).unwrap();
    assert_eq!(kb.entries.len(), 17);
    assert!(kb
        .entries
        .iter()
        .all(|e| e.models == ["Lexmark C750"] && !e.steps.is_empty()));
    assert!(kb.catalogue.resolve("Lexmark C750").is_some());
    // Importing again into the same KB would overwrite: refused, nothing changed.
    let again = import("seed", &seed, &target);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--update"));
    assert_eq!(count_entries(&target), 17);
    // As an update, the same file changes nothing.
    let update = import_with("seed", &seed, &target, &["--update"]);
    assert!(
        update.status.success(),
        "{}",
        String::from_utf8_lossy(&update.stderr)
    );
    assert!(
        String::from_utf8_lossy(&update.stdout)
            .contains("0 added, 0 changed, 17 unchanged, 0 removed"),
        "{}",
        String::from_utf8_lossy(&update.stdout)
    );
    assert_eq!(count_entries(&target), 17);
}

/// A help centre's export imported, edited there, and imported again: the collection
/// follows it, drafts stay out, and an entry changed by hand in the KB is not overwritten
/// unless asked.
#[test]
fn import_json_again_with_update_follows_the_help_centre() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("articles.json");
    let out = dir.path().join("kb");
    let page = |articles: &str| {
        let count = articles.matches(r#""title""#).count();
        format!(r#"{{"articles": [{articles}], "count": {count}}}"#)
    };
    let jam = r#"{"id": 1, "title": "Bourrage papier", "body": "<ol><li>Ouvrez le capot</li><li>Retirez la feuille</li></ol>", "draft": false}"#;
    let toner = r#"{"id": 2, "title": "Voyant toner", "body": "<p>Remplacez la cartouche.</p>", "draft": false}"#;
    let wifi = r#"{"id": 3, "title": "Wi-Fi perdu", "body": "<p>Relancez l'assistant.</p>", "draft": true}"#;
    let args = ["--field", "text=body", "--collection", "help"];
    std::fs::write(&file, page(&[jam, toner, wifi].join(","))).unwrap();
    let o = import_with("json", &file, &out, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("wrote 2 entries"), "{stdout}");
    assert!(stdout.contains("1 records left out as drafts"), "{stdout}");
    let jam_file = out.join("entries/help/1.toml");
    let kb = load_kb(&out).unwrap();
    let jam_entry = kb.entries.iter().find(|e| e.id == "1").unwrap();
    assert_eq!(
        jam_entry.description,
        "1. Ouvrez le capot\n2. Retirez la feuille"
    );

    // In the help centre: the Wi-Fi article published, the toner one removed, the jam
    // one edited.
    let wifi = wifi.replace(r#""draft": true"#, r#""draft": false"#);
    let jam = jam.replace("Retirez la feuille", "Retirez la feuille coincée");
    std::fs::write(&file, page(&[jam.as_str(), wifi.as_str()].join(","))).unwrap();
    let update: Vec<&str> = args.iter().copied().chain(["--update"]).collect();
    // Meanwhile an editor fixed the jam entry in the KB.
    let edited = std::fs::read_to_string(&jam_file)
        .unwrap()
        .replace("Retirez la feuille", "Retirez doucement la feuille");
    std::fs::write(&jam_file, &edited).unwrap();
    let o = import_with("json", &file, &out, &update);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("1.toml") && stderr.contains("changed in the export too"),
        "{stderr}"
    );
    assert_eq!(count_entries(&out), 2);

    let replace: Vec<&str> = update.iter().copied().chain(["--replace-edited"]).collect();
    let o = import_with("json", &file, &out, &replace);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("updated the collection `help`")
            && stdout.contains("1 added, 1 changed, 0 unchanged, 1 removed"),
        "{stdout}"
    );
    // The editor's version is kept aside, and said.
    assert!(stdout.contains("replaced by the export's"), "{stdout}");
    assert!(out.join(".import-replaced/help").is_dir());
    let ids: Vec<String> = load_kb(&out)
        .unwrap()
        .entries
        .iter()
        .map(|e| e.id.clone())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"1".to_string()) && ids.contains(&"3".to_string()));
}

#[test]
fn import_jsonl_reads_one_entry_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"id": "doc_1", "title": "Paper jam in tray 2", "text": "Open tray 2 and remove the paper.", "tags": ["jam"], "steps": ["Open tray 2", "Remove the sheet"]}"#, "\n",
            "\n",
            r#"{"id": "FAQ-2", "title": "Toner bas", "text": "Le message toner bas s'affiche.", "error_codes": ["88"], "models": ["c750n"]}"#, "\n",
        ),
    )
    .unwrap();
    let out = dir.path().join("kb");
    std::fs::create_dir_all(out.join("catalogue")).unwrap();
    std::fs::copy(
        common::repo().join("kb/catalogue/models.toml"),
        out.join("catalogue/models.toml"),
    )
    .unwrap();
    let o = import("jsonl", &file, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kb = load_kb(&out).unwrap();
    let faq = kb.entries.iter().find(|e| e.id == "FAQ-2").unwrap();
    assert_eq!(faq.models, ["Lexmark C750"]);
    assert_eq!(faq.lang, devicekb::kb::Lang::Fr);
    let doc = kb.entries.iter().find(|e| e.id == "doc_1").unwrap();
    assert_eq!(doc.lang, devicekb::kb::Lang::En);
    assert_eq!(doc.category, Category::PaperJam);
}

/// A FAQ kept in a spreadsheet, saved as CSV by a French Excel (`;`, Windows-1252), imports
/// as JSON Lines would, and the KB it writes is searched like any other.
#[test]
fn import_csv_reads_a_spreadsheets_export() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faq.csv");
    let text = "id;title;text;steps;models\r\n\
        bourrage-bac-2;Bourrage au bac 2;Le papier se coince à l'entrée du bac 2.;\"Ouvrir le bac 2\r\nRetirer la feuille froissée\";lexmark c750n\r\n\
        toner-bas;Message 88 toner bas;La cartouche arrive en fin de vie : commandez-en une.;;\r\n";
    let bytes: Vec<u8> = text
        .chars()
        .map(|c| match c {
            'à' => 0xE0,
            'é' => 0xE9,
            'è' => 0xE8,
            c => u8::try_from(c).expect("ASCII or a Latin-1 letter above"),
        })
        .collect();
    std::fs::write(&file, bytes).unwrap();
    let out = dir.path().join("kb");
    let o = import_with("csv", &file, &out, &["--collection", "faq"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("wrote 2 entries") && stdout.contains("read as Windows-1252"),
        "{stdout}"
    );
    let kb = load_kb(&out).unwrap();
    let jam = kb
        .entries
        .iter()
        .find(|e| e.id == "bourrage-bac-2")
        .unwrap();
    assert_eq!(jam.description, "Le papier se coince à l'entrée du bac 2.");
    assert_eq!(
        jam.steps,
        ["Ouvrir le bac 2", "Retirer la feuille froissée"]
    );
    assert_eq!(jam.models, ["Lexmark C750"]);
    assert_eq!(jam.category, Category::PaperJam);
    assert!(out.join("entries/faq/toner-bas.toml").exists());

    // A wrong header is said on its line, and nothing more is written.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "id,question,answer\n1,a,b\n").unwrap();
    let o = import_with("csv", &bad, &out, &["--collection", "other"]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("bad.csv")
            && stderr.contains("question")
            && stderr.contains("unknown column"),
        "{stderr}"
    );
    assert!(!out.join("entries/other").exists());
    // Read through a mapping of its own column names, it imports.
    let o = import_with(
        "csv",
        &bad,
        &out,
        &[
            "--collection",
            "other",
            "--field",
            "title=question,text=answer",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("entries/other").exists());
}

/// A help centre's export as it comes: one JSON array (or an API page holding one), its
/// own field names, fields the KB has no use for.
#[test]
fn import_json_reads_an_array_with_its_own_field_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("articles.json");
    std::fs::write(
        &file,
        r#"[
  {"article_id": 12, "question": "Bourrage au bac 2", "answer": "<p>Ouvrez le bac 2 et retirez la feuille.</p>", "views": 310},
  {"article_id": 13, "question": "Toner low message", "answer": "When the Lexmark C750 shows 88 Toner low, order a new cartridge.", "views": 12}
]"#,
    )
    .unwrap();
    let out = dir.path().join("kb");
    let refused = import_with("json", &file, &out, &["--collection", "help"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("articles.json:2") && stderr.contains("--ignore-unknown"),
        "{stderr}"
    );
    assert!(!out.exists());
    let args = [
        "--collection",
        "help",
        "--field",
        "id=article_id,title=question,text=answer",
        "--ignore-unknown",
    ];
    let o = import_with("json", &file, &out, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("wrote 2 entries")
            && stdout.contains("read as one JSON array of 2 records")
            && stdout.contains("(--ignore-unknown): views"),
        "{stdout}"
    );
    let kb = load_kb(&out).unwrap();
    let jam = kb.entries.iter().find(|e| e.id == "12").unwrap();
    assert_eq!(jam.description, "Ouvrez le bac 2 et retirez la feuille.");
    assert_eq!(jam.category, Category::PaperJam);
    let toner = kb.entries.iter().find(|e| e.id == "13").unwrap();
    assert_eq!(toner.lang, devicekb::kb::Lang::En);
    // The model and the code its words name are read as a ticket's are.
    assert_eq!(toner.models, ["Lexmark C750"]);
    assert_eq!(toner.error_codes, ["88"]);
    assert!(jam.models.is_empty() && jam.error_codes.is_empty());
    assert!(
        stdout.contains("1 of 2 entries name printer models or error codes in their words"),
        "{stdout}"
    );
}

#[test]
fn import_jsonl_refuses_bad_lines_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"id": "a", "title": "ok", "text": "fine"}"#,
            "\n",
            r#"{"id": "a", "title": "dup", "text": "x"}"#,
            "\n",
            r#"{"title": "no id", "text": "x"}"#,
            "\n",
            r#"{"id": "b", "title": "  ", "text": "x"}"#,
            "\n",
            r#"{"id": "c", "title": "t", "text": "x""#,
            "\n",
            r#"{"id": "d", "title": "t", "text": "x", "tags": "not a list"}"#,
            "\n",
        ),
    )
    .unwrap();
    let out = dir.path().join("kb");
    let o = import("jsonl", &file, &out);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    for expected in [
        "in.jsonl:2: field `id`: duplicate",
        "in.jsonl:3: field `id`",
        "in.jsonl:4: field `title`",
        "in.jsonl:5: invalid JSON",
        "in.jsonl:6: field `tags`",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    assert!(!out.exists(), "nothing is written when any line is bad");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".devicekb-import")
        })
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn import_jsonl_into_a_fresh_directory_adds_unknown_models_to_the_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("corpus.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"id": "x1", "title": "Bourrage 071-101", "text": "Ouvrir le capot A.", "models": ["Xerox VersaLink Z999"]}"#, "\n",
            r#"{"id": "x2", "title": "Toner low", "text": "Replace the toner.", "models": ["xerox versalink z999"]}"#, "\n",
        ),
    )
    .unwrap();
    let out = dir.path().join("fresh-kb");
    let o = import("jsonl", &file, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kb = load_kb(&out).unwrap();
    assert_eq!(kb.entries.len(), 2);
    assert!(kb
        .entries
        .iter()
        .all(|e| e.models == ["Xerox VersaLink Z999"] && e.manufacturer == "Xerox"));
    // The KB's own catalogue holds the new model; the product's models come on top.
    let own = devicekb::kb::Catalogue::load(&out.join("catalogue/models.toml")).unwrap();
    assert_eq!(own.models().len(), 1);
    assert!(kb.catalogue.models().len() > 100);
    assert!(kb.catalogue.resolve("VersaLink Z999").is_some());
}

#[test]
fn import_jsonl_resolves_variants_the_product_catalogue_knows() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("corpus.jsonl");
    std::fs::write(
        &file,
        r#"{"id": "c1", "title": "Pas d'impression", "text": "Vérifier le câble.", "models": ["lexmark c750n"]}"#,
    )
    .unwrap();
    let out = dir.path().join("fresh-kb");
    let o = import("jsonl", &file, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kb = load_kb(&out).unwrap();
    assert_eq!(kb.entries[0].models, ["Lexmark C750"]);
    assert!(!out.join("catalogue/models.toml").exists());
}

#[test]
fn broken_extraction_rules_are_a_kb_problem_naming_the_field() {
    let kb = common::small_kb(|id| id == "lexmark-c750-msg-88-toner-bas");
    let rules = kb.path().join("catalogue/families.toml");
    std::fs::write(
        &rules,
        "[[manufacturer]]\nname = \"Acme\"\npattern = \"acme\"\n\n[[code]]\nname = \"acme\"\nmanufacturers = [\"Acme\"]\npattern = \"A(\\\\d\"\ncontext = \"anywhere\"\nnormalize = \"asis\"\n",
    )
    .unwrap();
    let found = problems(load_kb(kb.path()));
    assert!(
        found
            .iter()
            .any(|p| p.file.ends_with("families.toml")
                && p.field.as_deref() == Some("code[0].pattern")),
        "{found:?}"
    );
    // Fixed, the KB's own rules drive the extractor: a maker the shipped rules do not know.
    std::fs::write(
        &rules,
        "[[manufacturer]]\nname = \"Acme\"\npattern = \"acme\"\n\n[[family]]\nmanufacturer = \"Acme\"\npattern = 'jet\\s+(?P<code>\\d{3})'\ncanonical = \"Jet {code}\"\n",
    )
    .unwrap();
    load_kb(kb.path()).expect("valid again");
    let extractor = devicekb::extract::Extractor::from_kb_dir(kb.path()).unwrap();
    assert_eq!(
        extractor
            .extract("notre acme jet 300 bourre")
            .model
            .as_deref(),
        Some("Acme Jet 300")
    );
}

/// A KB in German imports and says what the product cannot do with it; an id another
/// collection of the same KB holds is refused, so the KB still validates.
#[test]
fn import_jsonl_says_what_it_cannot_do_in_another_language_and_keeps_ids_unique() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("de.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"id": "papierstau", "title": "Papierstau in Fach 2", "text": "Der Drucker meldet einen Papierstau in Fach 2 und druckt nicht mehr. Öffnen Sie die vordere Klappe und ziehen Sie das Blatt vorsichtig heraus."}"#, "\n",
            r#"{"id": "toner-niedrig", "title": "Toner fast leer", "text": "Die Anzeige meldet, dass der Toner fast leer ist. Bestellen Sie eine neue Kartusche und tauschen Sie sie aus, wenn die Druckqualität nachlässt."}"#, "\n",
        ),
    )
    .unwrap();
    let out = dir.path().join("kb");
    let o = import("jsonl", &file, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("note: 2 of 2 entries are in German")
            && stdout.contains("messages in German go to a person"),
        "{stdout}"
    );
    let other = dir.path().join("other.jsonl");
    std::fs::write(
        &other,
        r#"{"id": "papierstau", "title": "Bourrage", "text": "Ouvrir le capot avant."}"#,
    )
    .unwrap();
    let o = import_with("jsonl", &other, &out, &["--collection", "autre"]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("papierstau.toml") && stderr.contains("already exists"),
        "{stderr}"
    );
    assert!(!out.join("entries/autre").exists());
    assert_eq!(load_kb(&out).unwrap().entries.len(), 2);
}

/// An export with nothing in it is a wrong file, whatever its format: an error, and no
/// KB folder written.
#[test]
fn an_import_with_no_entries_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("empty.json");
    std::fs::write(&seed, r#"{"printer_models": [], "knowledge_base": []}"#).unwrap();
    let jsonl = dir.path().join("empty.jsonl");
    std::fs::write(&jsonl, "\n").unwrap();
    for (kind, file) in [("seed", &seed), ("jsonl", &jsonl)] {
        let out = dir.path().join(format!("kb-{kind}"));
        let o = import(kind, file, &out);
        assert!(!o.status.success(), "{kind}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains("no entries in the file"),
            "{kind}: {stderr}"
        );
        assert!(!out.exists(), "{kind}");
    }
}
