//! A small edit of a large KB keeps the previous generation's calibration (the fit is
//! most of what such an edit would cost); a larger change, a run of small ones, or a
//! change of what the fit reads (the KB's labelled queries) fits again.

use std::path::Path;

use devicekb::embed::HashingEmbedder;
use devicekb::index::calibration::CalibrationSource;
use devicekb::index::reindex::{reindex, ReindexOptions, ReindexReport};

const WORDS: &[&str] = &[
    "bourrage",
    "toner",
    "tambour",
    "fusion",
    "wifi",
    "pilote",
    "scanner",
    "bac",
    "recto",
    "verso",
    "cartouche",
    "courroie",
    "rouleau",
    "capot",
    "firmware",
    "réseau",
    "adresse",
    "imprimante",
    "papier",
    "enveloppe",
    "étiquette",
    "couleur",
    "traînée",
    "tache",
    "bruit",
    "voyant",
    "écran",
    "menu",
    "alimentation",
    "veille",
    "chauffe",
    "capteur",
    "porte",
    "file",
    "spouleur",
    "usb",
    "câble",
    "routeur",
    "mot",
    "passe",
];

/// Entry `i`'s text: four words picked from `WORDS` by `i` and a numbered phrase, so
/// every entry reads differently and the pseudo-queries can find their own.
fn entry_text(i: usize, revision: usize) -> String {
    let n = WORDS.len();
    let words: Vec<&str> = [i % n, (i / n + 3 * i) % n, (7 * i + 1) % n, (i * i + 5) % n]
        .iter()
        .map(|&k| WORDS[k])
        .collect();
    format!(
        r#"id = "entry-{i}"
title = "Problème {w0} et {w1} numéro {i}"
lang = "fr"
category = "general"
description = "Le {w2} pose souci avec le {w3} sur la fiche {i} révision {revision}."
steps = ["Vérifier le {w0}", "Nettoyer le {w2}"]
source = "test"
"#,
        w0 = words[0],
        w1 = words[1],
        w2 = words[2],
        w3 = words[3],
    )
}

fn write_entry(kb: &Path, i: usize, revision: usize) {
    std::fs::write(
        kb.join("entries").join(format!("entry-{i}.toml")),
        entry_text(i, revision),
    )
    .unwrap();
}

fn build(kb: &Path, data: &Path) -> ReindexReport {
    reindex(
        kb,
        data,
        &HashingEmbedder::new(64),
        None,
        &ReindexOptions::default(),
        &|_| {},
    )
    .unwrap()
}

fn kept(report: &ReindexReport) -> bool {
    report
        .calibration
        .notes
        .iter()
        .any(|n| n.starts_with("kept the calibration fitted for generation"))
}

#[test]
fn small_edits_keep_the_fit_until_one_percent_of_the_kb_changed() {
    let kb = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(kb.path().join("entries")).unwrap();
    let entries = 200;
    for i in 0..entries {
        write_entry(kb.path(), i, 0);
    }

    let first = build(kb.path(), data.path());
    assert_eq!(first.calibration.source, CalibrationSource::PseudoQueries);
    assert!(!kept(&first));
    assert!(first.calibration.queries > 0);

    // One entry of 200 edited: the fit is kept, said so, and costs nothing.
    write_entry(kb.path(), 5, 1);
    let second = build(kb.path(), data.path());
    assert_eq!(second.embedded_chunks, 1, "{second:?}");
    assert!(kept(&second), "{:?}", second.calibration.notes);
    assert_eq!(second.calibration.seconds, 0.0);
    assert_eq!(second.calibration.threshold, first.calibration.threshold);
    assert_eq!(second.calibration.queries, first.calibration.queries);

    // A second one: 2 of 200 changed since the fit, still within 1 %.
    write_entry(kb.path(), 6, 1);
    let third = build(kb.path(), data.path());
    assert!(kept(&third), "{:?}", third.calibration.notes);
    assert!(
        third
            .calibration
            .notes
            .iter()
            .any(|n| n.contains("2 of its 200 entries")),
        "{:?}",
        third.calibration.notes
    );

    // A third: 3 of 200 is past 1 %, so the calibration is fitted again.
    write_entry(kb.path(), 7, 1);
    let fourth = build(kb.path(), data.path());
    assert!(!kept(&fourth), "{:?}", fourth.calibration.notes);
    assert!(fourth.calibration.seconds > 0.0);

    // Nothing changed, but the KB now ships labelled queries: they change the fit.
    let unchanged = build(kb.path(), data.path());
    assert!(kept(&unchanged), "{:?}", unchanged.calibration.notes);
    std::fs::create_dir_all(kb.path().join("eval")).unwrap();
    std::fs::write(
        kb.path().join("eval/queries.jsonl"),
        "{\"query\": \"souci de bourrage\", \"relevant\": [\"entry-0\"]}\n",
    )
    .unwrap();
    let labelled = build(kb.path(), data.path());
    assert!(!kept(&labelled), "{:?}", labelled.calibration.notes);
    assert_eq!(labelled.calibration.labelled, 1);

    // Nor do the words keyword search adds: a lexicon of the KB's own is fitted again,
    // and the report says what the lexicon holds.
    assert_eq!(labelled.lexicon.kb_groups, 0);
    std::fs::create_dir_all(kb.path().join("catalogue")).unwrap();
    std::fs::write(
        kb.path().join("catalogue/lexicon.toml"),
        "[[group]]\nwords = [\"souci\", \"problème\"]\n",
    )
    .unwrap();
    let with_lexicon = build(kb.path(), data.path());
    assert!(!kept(&with_lexicon), "{:?}", with_lexicon.calibration.notes);
    assert_eq!(with_lexicon.lexicon.kb_groups, 1);
    assert!(with_lexicon.lexicon.shipped_groups > 0);
}

#[test]
fn a_small_kb_always_fits_again() {
    let kb = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(kb.path().join("entries")).unwrap();
    for i in 0..40 {
        write_entry(kb.path(), i, 0);
    }
    let first = build(kb.path(), data.path());
    assert_eq!(first.calibration.source, CalibrationSource::PseudoQueries);
    write_entry(kb.path(), 3, 1);
    let second = build(kb.path(), data.path());
    assert!(!kept(&second), "{:?}", second.calibration.notes);
}
