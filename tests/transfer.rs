//! A KB the product was never tuned on: imported, it classifies tickets, normalises
//! model names and calibrates its own relevance at reindex; a KB too small or too uniform
//! to calibrate falls back to a conservative calibration and says so, never a panic.

use crate::common;

use std::path::{Path, PathBuf};

use devicekb::answer::{Answer, Decision, Reason};
use devicekb::index::calibrate::KB_MODEL_FILE;
use devicekb::index::calibration::{
    CalibrationSource, StoredModel, FEATURES_VERSION, MIN_HELD_OUT,
};
use devicekb::index::fusion::{FusionConfig, FusionMethod};
use devicekb::index::RelevanceModel;
use devicekb::kb::import::{import_seed, WriteMode};
use devicekb::kb::Lang;
use devicekb::service::search::ValidSearch;
use devicekb::service::{AnswerRequest, SearchMode, Service};

/// A seed file in the earlier project's format, like a customer's export: one model,
/// short entries with no symptoms.
fn write_seed(path: &Path) {
    let entry = |title: &str, description: &str, steps: &[&str]| {
        serde_json::json!({
            "model": "Lexmark C750",
            "problem_title": title,
            "problem_description": description,
            "cause": "",
            "solution": steps.join(". "),
            "solution_steps": steps,
            "error_codes": [],
            "tags": [],
            "source": "manuel"
        })
    };
    let seed = serde_json::json!({
        "printer_models": [{"manufacturer": "Lexmark", "model_name": "C750", "model_code": "C750",
                            "specifications": {"type": "imprimante laser couleur"}}],
        "knowledge_base": [
            entry("Le bac de sortie est plein", "Les impressions s'arrêtent car le réceptacle de sortie est rempli de feuilles", &["Retirer la pile de papier du réceptacle", "Appuyer sur Reprise"]),
            entry("Le tiroir papier est vide", "Rien ne s'imprime, l'écran demande de charger du papier dans le tiroir", &["Charger du papier dans le tiroir", "Régler les guides"]),
            entry("Mode Dépistage Hex actif", "L'écran affiche Prêt Hex et les pages sortent pleines de codes hexadécimaux", &["Éteindre l'imprimante", "La rallumer pour quitter le mode Hex"]),
            entry("Impression lente à cause de la protection de page", "Chaque page met très longtemps à sortir depuis que la protection de page est activée", &["Ouvrir le menu Configuration", "Désactiver Protection page"]),
            entry("Caractères incorrects à l'impression", "Les pages sortent avec des symboles bizarres à la place du texte, souvent à cause du câble", &["Vérifier le câble parallèle", "Utiliser un câble IEEE 1284"]),
            entry("Les copies ne sont pas assemblées", "Les gros travaux en plusieurs exemplaires sortent page par page au lieu de jeux complets", &["Activer l'assemblage dans le pilote", "Ajouter de la mémoire"]),
        ]
    });
    std::fs::write(path, serde_json::to_string_pretty(&seed).unwrap()).unwrap();
}

fn write_entry(kb: &Path, id: &str, lang: &str, title: &str, description: &str) {
    let dir = kb.join("entries/test");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{id}.toml")),
        format!(
            "id = \"{id}\"\ntitle = \"{title}\"\nlang = \"{lang}\"\ncategory = \"general\"\n\
             description = \"{description}\"\nsteps = [\"Check it\", \"Fix it\"]\nsource = \"test\"\n"
        ),
    )
    .unwrap();
}

/// A KB in the seed file's format, imported into a temporary folder (kept alive by the
/// returned guard), with the path of the KB.
fn imported_seed() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("reference_data.json");
    write_seed(&seed);
    let kb = dir.path().join("kb");
    import_seed(&seed, &kb, Lang::Fr, WriteMode::Add).expect("the seed imports");
    (dir, kb)
}

/// `GET /health` of `service`, served on a port of its own.
async fn health_of(service: &std::sync::Arc<Service>) -> serde_json::Value {
    let base = common::spawn_app(service.clone()).await;
    reqwest::get(format!("{base}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// What `POST /answer` replies to `text` (no model given), without the HTTP layer.
async fn answer_to(service: &std::sync::Arc<Service>, text: &str) -> Answer {
    service
        .engine
        .answer(AnswerRequest {
            text: text.into(),
            model: None,
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_kb_classifies_normalises_models_and_calibrates() {
    let (dir, kb) = imported_seed();
    // The KB's catalogue gets no copy of a model the product already knows.
    assert!(!kb.join("catalogue/models.toml").exists());
    let data = dir.path().join("data");
    let service = common::start_service(&kb, &data).await;

    let generation = service.engine.generation();
    let calibration = &generation.calibration;
    assert_ne!(calibration.source, CalibrationSource::KbFile);
    assert!(calibration.queries >= 20, "{calibration:?}");
    assert!(calibration.held_out > 0);
    // With no labelled queries, the curve is read off pseudo-queries, and the mixed ones
    // are said to stay out of it.
    assert!(
        calibration
            .notes
            .iter()
            .any(|n| n.contains("stay out of the precision curve")),
        "{:?}",
        calibration.notes
    );

    // Variants the product's catalogue knows, though the KB names only "C750".
    for text in [
        "lexmark c750n : Prêt Hex à l'écran",
        "our C750dn prints hex codes",
    ] {
        let answer = answer_to(&service, text).await;
        assert_eq!(
            answer.extraction.model.as_deref(),
            Some("Lexmark C750"),
            "{text}"
        );
    }

    // Classified from the first ticket, with the product's labelled set.
    let evidence = service
        .engine
        .evidence("Bonjour, la facture du mois dernier compte deux fois le contrat")
        .await
        .unwrap();
    let classification = service.engine.classify(evidence).await.unwrap();
    assert!(classification.is_some(), "an imported KB must classify");

    // /health tells where the relevance comes from and the threshold in use.
    let health = health_of(&service).await;
    let c = &health["calibration"];
    assert!(c["source"].is_string(), "{health}");
    assert_eq!(
        c["target_precision"].as_f64().map(|p| (p * 100.0).round()),
        Some(95.0)
    );
    assert!(c["queries"].as_u64().unwrap() >= 20);
}

/// Keyword search on an imported KB with an English message in none of the KB's words:
/// the product's lexicon ("collated" is "assemblage") finds the entry; a KB that replaces
/// the lexicon with its own (`builtin = false`) searches without it; a lexicon with a
/// mistake is refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_products_lexicon_finds_an_entry_in_the_customers_words_and_a_kb_can_replace_it() {
    let (dir, kb) = imported_seed();
    let first_keyword_hit = |service: std::sync::Arc<Service>| async move {
        let found = service
            .engine
            .search_valid(ValidSearch {
                query: "our handbooks are not collated".into(),
                model_filter: None,
                limit: 5,
                mode: SearchMode::Bm25,
            })
            .await
            .unwrap();
        found.results.first().map(|r| r.kb_id.clone())
    };

    let shipped = common::start_service(&kb, &dir.path().join("shipped")).await;
    let hit = first_keyword_hit(shipped).await;
    assert!(
        hit.as_deref().is_some_and(|id| id.contains("assemblees")),
        "{hit:?}"
    );

    std::fs::create_dir_all(kb.join("catalogue")).unwrap();
    std::fs::write(
        kb.join("catalogue/lexicon.toml"),
        "builtin = false\n[[group]]\nwords = [\"carte vitale\", \"health card\"]\n",
    )
    .unwrap();
    let replaced = common::start_service(&kb, &dir.path().join("replaced")).await;
    // /health says what the lexicon holds.
    let health = health_of(&replaced).await;
    assert_eq!(
        health["lexicon"],
        serde_json::json!({"shipped_groups": 0, "kb_groups": 1}),
        "{health}"
    );
    let hit = first_keyword_hit(replaced).await;
    assert!(
        !hit.as_deref().is_some_and(|id| id.contains("assemblees")),
        "{hit:?}"
    );

    std::fs::write(
        kb.join("catalogue/lexicon.toml"),
        "[[group]]\nwords = [\"collated\"]\n",
    )
    .unwrap();
    let (_, problems) = devicekb::kb::read_kb(&kb).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.file.ends_with("lexicon.toml") && p.field.as_deref() == Some("group[0]")),
        "{problems:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kbs_that_cannot_be_calibrated_fall_back_and_say_so() {
    // One entry.
    let one = tempfile::tempdir().unwrap();
    write_entry(
        one.path(),
        "only",
        "fr",
        "Bourrage papier",
        "Une feuille est coincée dans le bac",
    );
    // A model shipped for it cannot be checked against one entry: not used, and said.
    let shipped = one.path().join(KB_MODEL_FILE);
    std::fs::create_dir_all(shipped.parent().unwrap()).unwrap();
    std::fs::write(&shipped, serde_json::to_string(&stored_model(0.0)).unwrap()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let service = common::start_service(one.path(), data.path()).await;
    let calibration = &service.engine.generation().calibration;
    assert_eq!(calibration.source, CalibrationSource::Fallback);
    assert!(calibration.notes[0].contains("too few"), "{calibration:?}");
    assert!(
        calibration
            .notes
            .iter()
            .any(|n| n.contains("calibration.json is not used")),
        "{calibration:?}"
    );
    let answer = answer_to(&service, "ma facture est fausse").await;
    assert_eq!(answer.decision, Decision::Escalate);

    // No entry at all: the reindex still succeeds and every ticket goes to a person.
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(empty.path().join("entries")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let service = common::start_service(empty.path(), data.path()).await;
    assert_eq!(
        service.engine.generation().calibration.source,
        CalibrationSource::Fallback
    );
    let answer = answer_to(&service, "le bac est coincé").await;
    assert_eq!(answer.decision, Decision::Escalate);

    // Near-duplicates: any answer cites one of them, and nothing panics.
    let dups = tempfile::tempdir().unwrap();
    for i in 0..6 {
        write_entry(
            dups.path(),
            &format!("dup-{i}"),
            "fr",
            "Le scanner ne démarre pas",
            "Le scanner reste éteint quand on appuie sur le bouton",
        );
    }
    let data = tempfile::tempdir().unwrap();
    let service = common::start_service(dups.path(), data.path()).await;
    let answer = answer_to(&service, "le scanner ne démarre plus du tout").await;
    if answer.decision == Decision::Auto {
        assert!(answer.citations[0].kb_id.starts_with("dup-"));
    }

    // English only, no symptoms: calibrated like any other KB.
    let english = tempfile::tempdir().unwrap();
    let topics = [
        (
            "Scanner does not start",
            "The scanner stays off when the button is pressed",
        ),
        (
            "Paper jam in tray 2",
            "A sheet is stuck in the second paper tray",
        ),
        (
            "Faded prints",
            "Pages come out pale and hard to read, the toner is low",
        ),
        (
            "Wi-Fi connection lost",
            "The printer drops off the wireless network every morning",
        ),
        (
            "Fax does not send",
            "Outgoing faxes fail with a busy line message",
        ),
        (
            "Duplex prints upside down",
            "The back of each sheet is printed upside down",
        ),
    ];
    for (i, (title, description)) in topics.iter().enumerate() {
        write_entry(english.path(), &format!("en-{i}"), "en", title, description);
    }
    let data = tempfile::tempdir().unwrap();
    let service = common::start_service(english.path(), data.path()).await;
    let calibration = &service.engine.generation().calibration;
    assert!(calibration.queries > 0, "{calibration:?}");
    assert!(calibration.top1_accuracy > 0.5, "{calibration:?}");
    // Six entries make too few stand-ins for the tickets the KB does not cover to read
    // the curve as it is: its threshold is raised to the fallback's, as the notes say,
    // and a question the KB does not cover goes to a person.
    assert!(calibration.held_out < MIN_HELD_OUT, "{calibration:?}");
    let threshold = calibration.threshold_for(0.95);
    assert!(threshold.is_none_or(|t| t >= 0.95), "{threshold:?}");
    assert!(
        calibration
            .notes()
            .iter()
            .any(|n| n.contains("stand for tickets")),
        "{calibration:?}"
    );
    let uncovered = answer_to(&service, "How do I scan a document to e-mail?").await;
    assert_eq!(
        uncovered.decision,
        Decision::Escalate,
        "{:?}",
        uncovered.notes
    );
    let health = health_of(&service).await;
    let shown = &health["calibration"]["threshold"];
    assert!(
        shown.is_null() || shown.as_f64().is_some_and(|t| t >= 0.949),
        "{health}"
    );
    assert!(
        health["calibration"]["notes"]
            .as_array()
            .is_some_and(|notes| notes
                .iter()
                .any(|n| n.as_str().is_some_and(|n| n.contains("stand for tickets")))),
        "{health}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_written_for_the_kb_is_used_by_the_next_reindex() {
    let kb = tempfile::tempdir().unwrap();
    for (i, (title, description)) in [
        (
            "Bourrage papier bac 1",
            "Une feuille est coincée dans le bac 1",
        ),
        ("Toner presque vide", "Le message toner bas s'affiche"),
        ("Impression pâle", "Les pages sortent très claires"),
        (
            "Wi-Fi perdu",
            "L'imprimante ne se connecte plus au réseau sans fil",
        ),
    ]
    .iter()
    .enumerate()
    {
        write_entry(kb.path(), &format!("e-{i}"), "fr", title, description);
    }
    let path = kb.path().join(KB_MODEL_FILE);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // A broken file is an error naming it, not a silent default.
    std::fs::write(&path, "{ not json").unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = common::config(kb.path(), data.path());
    let embedder = common::embedder();
    let runtime = tokio::runtime::Handle::current();
    let build = {
        let (config, embedder, runtime) = (config.clone(), embedder.clone(), runtime.clone());
        move || {
            devicekb::service::build_generation(&config, embedder.as_ref(), None, &runtime, &|_| {})
        }
    };
    let error = tokio::task::spawn_blocking(build.clone())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        error.to_string().contains("calibration.json")
            || format!("{error:?}").contains("calibration.json"),
        "{error:?}"
    );

    std::fs::write(&path, serde_json::to_string(&stored_model(0.0)).unwrap()).unwrap();
    let report = tokio::task::spawn_blocking(build.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.calibration.source, CalibrationSource::KbFile);
    assert!(report
        .calibration
        .notes
        .iter()
        .any(|n| n.contains(KB_MODEL_FILE)));
    // Edited by hand into nonsense: still used (the precision curve keeps the decision
    // safe), but said to fit the KB poorly.
    std::fs::write(&path, serde_json::to_string(&stored_model(50.0)).unwrap()).unwrap();
    let report = tokio::task::spawn_blocking(build).await.unwrap().unwrap();
    assert!(
        report
            .calibration
            .notes
            .iter()
            .any(|n| n.contains("fits this KB's own queries poorly")),
        "{:?}",
        report.calibration.notes
    );
}

/// A relevance model as `devicekb eval search --calibrate` writes it, with `bias` added
/// to the product's default.
fn stored_model(bias: f32) -> StoredModel {
    let mut model = RelevanceModel::default();
    model.bias += bias;
    StoredModel {
        features_version: FEATURES_VERSION,
        fusion: FusionMethod::Zscore,
        model,
        fitted_on: "test".into(),
        samples: 0,
    }
}

/// A KB in a language the product does not write replies in, whose entries have no
/// steps (an export of a FAQ): searched, its messages go to a person with the entries
/// found and a draft giving the entry's text; the reindex and /health say what it
/// cannot do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kb_in_another_language_is_searched_and_says_what_it_cannot_do() {
    let kb = tempfile::tempdir().unwrap();
    let dir = kb.path().join("entries/de");
    std::fs::create_dir_all(&dir).unwrap();
    let entries = [
        ("papierstau", "Papierstau in Fach 2", "Öffnen Sie die vordere Klappe, ziehen Sie das gestaute Blatt vorsichtig heraus und schließen Sie die Klappe wieder."),
        ("toner-leer", "Toner fast leer", "Bestellen Sie eine neue Tonerkartusche und tauschen Sie sie aus, sobald die Druckqualität nachlässt."),
        ("wlan", "Drucker verliert die WLAN-Verbindung", "Starten Sie den Router neu und verbinden Sie den Drucker über das Bedienfeld erneut mit dem Netzwerk."),
        ("blass", "Ausdrucke sind blass", "Schütteln Sie die Tonerkartusche vorsichtig und reinigen Sie die Belichtungseinheit mit einem weichen Tuch."),
        ("fax", "Fax wird nicht gesendet", "Prüfen Sie das Telefonkabel und die Amtsholung, dann senden Sie das Fax erneut."),
        ("scanner", "Scanner startet nicht", "Entriegeln Sie die Transportsicherung des Scanners und starten Sie das Gerät neu."),
    ];
    for (id, title, text) in entries {
        std::fs::write(
            dir.join(format!("{id}.toml")),
            format!("id = \"{id}\"\ntitle = \"{title}\"\nlang = \"en\"\ncategory = \"general\"\ndescription = \"{text}\"\nsource = \"FAQ\"\n"),
        )
        .unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let service = common::start_service(kb.path(), data.path()).await;
    let languages = &service.engine.generation().languages;
    assert_eq!(
        languages.unsupported.get("German"),
        Some(&6),
        "{languages:?}"
    );
    let health = health_of(&service).await;
    assert_eq!(health["languages"]["unsupported"]["German"], 6, "{health}");
    assert!(
        health["languages"]["note"]
            .as_str()
            .is_some_and(|n| n.contains("messages in German go to a person")),
        "{health}"
    );
    let answer = answer_to(
        &service,
        "Hallo, unser Drucker meldet seit heute früh einen Papierstau in Fach 2. Was können wir tun?",
    )
    .await;
    assert_eq!(answer.decision, Decision::Escalate, "{:?}", answer.notes);
    assert_eq!(answer.reason, Some(Reason::UnsupportedLanguage));
    assert_eq!(
        answer.retrieved[0].kb_id, "papierstau",
        "{:?}",
        answer.retrieved
    );
    // The agent's draft gives the entry's text, not an empty list of steps.
    let draft = answer.draft.as_deref().unwrap_or_default();
    assert!(
        draft.contains("ziehen Sie das gestaute Blatt vorsichtig heraus"),
        "{draft}"
    );
}

/// The tickets of a transfer set (`{"text", "expected": [titles]}` per line), each with
/// the ids of the entries that answer it on `service`'s KB (none: not covered).
fn labelled_tickets(service: &Service, tickets: &Path) -> Vec<(String, Vec<String>)> {
    let generation = service.engine.generation();
    let id_of = |title: &str| {
        generation
            .entries
            .iter()
            .find(|e| e.title.trim() == title.trim())
            .map(|e| e.id.clone())
            .unwrap_or_else(|| panic!("`{title}` is not an entry of the KB"))
    };
    std::fs::read_to_string(tickets)
        .unwrap()
        .lines()
        .map(|line| {
            let ticket: serde_json::Value = serde_json::from_str(line).unwrap();
            let expected = ticket["expected"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| id_of(t.as_str().unwrap()))
                .collect();
            (ticket["text"].as_str().unwrap().to_string(), expected)
        })
        .collect()
}

/// Recall@1 and recall@3 of hybrid search over the covered tickets of a transfer set
/// on `service`'s KB.
async fn recall(service: &Service, tickets: &Path) -> (f64, f64) {
    let (mut covered, mut at1, mut at3) = (0, 0, 0);
    for (text, expected) in labelled_tickets(service, tickets) {
        if expected.is_empty() {
            continue;
        }
        let found = service
            .engine
            .search_valid(ValidSearch {
                query: text,
                model_filter: None,
                limit: 10,
                mode: SearchMode::Hybrid,
            })
            .await
            .unwrap();
        let rank = found
            .results
            .iter()
            .position(|r| expected.contains(&r.kb_id));
        covered += 1;
        at1 += usize::from(rank == Some(0));
        at3 += usize::from(rank.is_some_and(|r| r < 3));
    }
    (at1 as f64 / covered as f64, at3 as f64 / covered as f64)
}

/// The earlier project's KB imported as a customer would, into a temporary folder (kept
/// alive by the returned guard), with the path of its ticket set D.
fn seed_kb_and_set_d() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let seed = common::repo().join("../shared/seed-kb/reference_data.json");
    assert!(
        seed.exists(),
        "{} is required for this test (the earlier project's KB)",
        seed.display()
    );
    let tickets = common::repo().join("tests/data/transfer/seed/tickets_d.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let kb = dir.path().join("kb");
    import_seed(&seed, &kb, Lang::Fr, WriteMode::Add).expect("the seed imports");
    (dir, kb, tickets)
}

/// The earlier project's KB as a customer imports it, searched with tickets written by
/// someone who saw only that KB (set D, run first after standardised-score fusion, now a
/// development set): retrieval holds its measured level (R@1 0.831, R@3 0.971 with the
/// lexicon; 0.772 / 0.963 without it, so the floors tell the two apart), and the default
/// fusion does at least as well as rank fusion on the same tickets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_written_apart_find_their_entry_on_the_earlier_projects_kb() {
    let (dir, kb, tickets) = seed_kb_and_set_d();

    let standardised = common::start_service(&kb, &dir.path().join("zscore")).await;
    let (r1, r3) = recall(&standardised, &tickets).await;
    assert!(r1 >= 0.80 && r3 >= 0.94, "R@1 {r1:.3}, R@3 {r3:.3}");

    let ranks = common::start_service_with(&kb, &dir.path().join("rrf"), |c| {
        c.fusion = FusionConfig::for_method(FusionMethod::Rrf);
    })
    .await;
    let (rrf1, rrf3) = recall(&ranks, &tickets).await;
    // One ticket of slack (68 covered): the claim is "no worse", not a tie to the ticket.
    let ticket = 1.0 / 68.0 + 1e-9;
    assert!(
        r1 + ticket >= rrf1 && r3 + ticket >= rrf3,
        "standardised R@1 {r1:.3} R@3 {r3:.3}, rank fusion {rrf1:.3} {rrf3:.3}"
    );
}

/// The earlier project's KB answers tickets written apart on its own calibration, at the
/// target precision: set D (a development set now) gets 22 automatic answers out of 68
/// covered tickets, all right, and escalates every ticket it does not cover. Without the
/// lexicon it got 19, and 9 before covered mixed pseudo-queries left the precision curve;
/// the floor of 18 holds the second level with room for a few tickets of noise (the
/// lexicon's own gain is held by the recall test above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_earlier_projects_kb_answers_tickets_written_apart_at_the_target_precision() {
    let (dir, kb, tickets) = seed_kb_and_set_d();
    let service = common::start_service(&kb, &dir.path().join("data")).await;

    let (mut autos, mut right, mut covered_autos, mut uncovered, mut uncovered_escalated) =
        (0, 0, 0, 0, 0);
    for (text, expected) in labelled_tickets(&service, &tickets) {
        let answer = answer_to(&service, &text).await;
        let covered = !expected.is_empty();
        if !covered {
            uncovered += 1;
            uncovered_escalated += usize::from(answer.decision == Decision::Escalate);
        }
        if answer.decision != Decision::Auto {
            continue;
        }
        autos += 1;
        covered_autos += usize::from(covered);
        let cited = answer.citations.first().map(|c| c.kb_id.as_str());
        right += usize::from(cited.is_some_and(|c| expected.iter().any(|e| e == c)));
    }
    assert!(
        covered_autos >= 18 && right as f64 >= 0.95 * autos as f64,
        "{autos} automatic answers, {right} right, {covered_autos} to covered tickets"
    );
    assert!(
        uncovered_escalated as f64 >= 0.9 * uncovered as f64,
        "{uncovered_escalated} of {uncovered} not-covered tickets escalated"
    );
}

/// A billing or refund word goes to a person unless the KB itself answers it: a FAQ entry
/// whose text speaks of refunds answers "is it refunded?", where an invoice the KB never
/// mentions still goes to a person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_question_the_faq_answers_is_not_escalated_as_billing() {
    let dir = tempfile::tempdir().unwrap();
    let kb = dir.path().join("kb");
    for (id, title, description) in [
        ("generique", "Médicament générique : peut-on le refuser ?", "Vous pouvez refuser le générique proposé par le pharmacien. Le médicament de marque est alors remboursé sur la base du tarif du générique, sauf mention du médecin sur l'ordonnance."),
        ("passeport", "Comment refaire un passeport perdu ?", "Déclarez la perte en mairie puis demandez un nouveau passeport avec une photo et un justificatif de domicile."),
        ("preavis", "Quel préavis pour quitter un logement loué vide ?", "Le locataire donne congé par lettre recommandée avec un préavis de trois mois, un mois en zone tendue."),
        ("carte-grise", "Comment changer l'adresse de sa carte grise ?", "Le changement d'adresse se fait en ligne dans le mois qui suit le déménagement."),
        ("naissance", "Dans quel délai déclarer une naissance ?", "La naissance se déclare à la mairie du lieu de naissance dans les cinq jours qui suivent l'accouchement."),
        ("vote", "Comment voter par procuration ?", "Le mandant fait sa demande en ligne ou au commissariat, puis la confirme en personne."),
        // Enough entries for the curve to be read (`MIN_HELD_OUT`).
        ("cadastre", "Comment consulter le cadastre ?", "Le plan cadastral se consulte gratuitement en ligne ou au centre des impôts fonciers."),
        ("chauffage", "À quelle température chauffer un logement ?", "La température conseillée est de 19 degrés dans les pièces à vivre et 17 dans les chambres."),
        ("seringues", "Comment se débarrasser des seringues usagées ?", "Les déchets de soins piquants se déposent en pharmacie dans une boîte jaune fournie gratuitement."),
        ("casier", "Comment obtenir un extrait de casier judiciaire ?", "Le bulletin numéro 3 se demande en ligne, par courrier ou sur place, et il est gratuit."),
        ("velo", "Doit-on s'assurer pour circuler à vélo ?", "La responsabilité civile de l'assurance habitation couvre en général les dommages causés à vélo."),
        ("jacuzzi", "Peut-on installer un jacuzzi dans son jardin ?", "Un spa gonflable ne demande pas d'autorisation ; un spa enterré peut demander une déclaration préalable."),
    ] {
        write_entry(&kb, id, "fr", title, description);
    }
    let service = common::start_service(&kb, &dir.path().join("data")).await;
    let reason_of = |text: &'static str| {
        let service = service.clone();
        async move {
            let answer = answer_to(&service, text).await;
            (answer.reason.map(|r| r.as_str()), answer.notes)
        }
    };
    let (reason, notes) = reason_of(
        "Bonjour, si je refuse le générique à la pharmacie, est-ce que la sécu rembourse quand même mon médicament ?",
    )
    .await;
    // Answered: nothing routes it to a person (had anything held it back, it would go as
    // the billing question it also is).
    assert_eq!(reason, None, "{notes:?}");
    let (reason, notes) =
        reason_of("Bonjour, pouvez-vous m'envoyer la facture de mon passeport perdu ?").await;
    assert_eq!(reason, Some("sensitive_category"), "{notes:?}");
    // Requests are read in what the customer wrote: a surname in the signature and our
    // own reply quoted back ask for nothing; the line that opens the signature still can.
    let billing = |notes: &[String]| notes.iter().any(|n| n.starts_with("billing"));
    for text in [
        "Hello,\n\nI lost my passport abroad. How do I get a new one?\n\nBest regards,\nJohn Price\nPrice & Sons",
        "J'ai bien déclaré la perte en mairie.\n\nLe 3 mars 2026, support@mairie.fr a écrit :\n> Votre facture est jointe.",
    ] {
        let (reason, notes) = reason_of(text).await;
        assert!(reason != Some("sensitive_category") && !billing(&notes), "{reason:?} {notes:?}");
    }
    let (reason, notes) = reason_of(
        "Bonjour,\nJ'ai perdu mon passeport.\nMerci d'avance de m'envoyer la facture du nouveau.\nMarie Dupont",
    )
    .await;
    assert_eq!(reason, Some("sensitive_category"), "{notes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_english_message_on_a_french_kb_is_searched_with_the_kb_s_words_too() {
    let dir = tempfile::tempdir().unwrap();
    let kb = dir.path().join("kb");
    write_entry(
        &kb,
        "assurance",
        "fr",
        "Faut-il une assurance pour conduire une voiture de collection ?",
        "Tout véhicule qui circule doit être assuré, même ancien.",
    );
    write_entry(
        &kb,
        "loyer",
        "fr",
        "Que faire si le locataire ne paie plus son loyer ?",
        "Le propriétaire peut engager une procédure de recouvrement.",
    );
    write_entry(
        &kb,
        "mariage",
        "fr",
        "Quels documents fournir pour un mariage à la mairie ?",
        "Les futurs époux déposent un dossier à la mairie de leur domicile.",
    );
    let service = common::start_service(&kb, &dir.path().join("data")).await;
    let health = health_of(&service).await;
    assert_eq!(health["glossary"]["lang"], "fr", "{health}");
    assert!(
        health["glossary"]["words"].as_u64().unwrap() > 10,
        "{health}"
    );

    let keyword_hits = |query: &'static str| {
        let service = service.clone();
        async move {
            let found = service
                .engine
                .search_valid(ValidSearch {
                    query: query.into(),
                    model_filter: None,
                    limit: 3,
                    mode: SearchMode::Bm25,
                })
                .await
                .unwrap();
            found
                .results
                .iter()
                .map(|r| r.kb_id.clone())
                .collect::<Vec<_>>()
        }
    };
    // Keyword search alone: not one word of the message is the KB's, so only the KB's
    // words nearest to the message's can find the entry.
    let hits = keyword_hits("Do I need insurance to drive my vintage car?").await;
    assert_eq!(
        hits.first().map(String::as_str),
        Some("assurance"),
        "{hits:?}"
    );
}
