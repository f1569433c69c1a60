//! Ticket classification quality on the KB's labelled tickets, by cross-validation with the
//! real embedding model: every ticket is predicted by a model that never saw it. The floors
//! sit a little under what `devicekb eval classify` measured (see the README).

mod common;

use devicekb::kb::training::{parse_training, TRAINING_FILE};

fn labelled() -> Vec<devicekb::kb::training::LabelledTicket> {
    let path = common::repo().join("kb").join(TRAINING_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    parse_training(&text, &path.display().to_string()).expect("the labelled set is valid")
}

#[tokio::test]
async fn cross_validated_accuracy_holds_its_floors() {
    let tickets = labelled();
    assert!(tickets.len() >= 200, "at least 200 labelled tickets");
    let service = common::repo_service();
    let report = service.engine.eval_classify(tickets, 5).await.unwrap();
    println!("{report}");
    assert!(report.category.accuracy >= 0.80, "{report}");
    assert!(report.category.macro_recall >= 0.75, "{report}");
    for class in &report.category.classes {
        assert!(class.recall >= 0.55, "category {}: {report}", class.class);
    }
    assert!(report.priority.accuracy >= 0.70, "{report}");
    assert!(report.churn.accuracy >= 0.82, "{report}");
    assert!(report.retention.recall >= 0.58, "{report}");
    assert!(report.retention.precision >= 0.75, "{report}");
}

#[tokio::test]
async fn the_trained_classifier_reads_plain_cases() {
    let service = common::repo_service();
    let cases = [
        ("Bonjour, je n'ai pas reçu la facture de novembre, pouvez-vous me la renvoyer ?", "facturation"),
        ("Hello, the HP LaserJet M404dn shows 49.4C02 and stops printing.", "technique"),
        ("Il nous faudrait 3 cartouches de toner noir pour la C750, livraison la semaine prochaine.", "consommables"),
    ];
    for (text, category) in cases {
        let evidence = service.engine.evidence(text).await.unwrap();
        let c = service
            .engine
            .classify(evidence)
            .await
            .unwrap()
            .expect("the KB has labelled tickets");
        assert_eq!(c.category.label, category, "{text}: {c:?}");
        assert!(c.category.confidence > 0.0 && c.category.confidence <= 1.0);
    }
    let angry = "Troisième panne ce mois-ci, c'est inadmissible. Si rien n'est fait je résilie le contrat et je passe chez un concurrent.";
    let evidence = service.engine.evidence(angry).await.unwrap();
    let c = service.engine.classify(evidence).await.unwrap().unwrap();
    assert!(
        c.churn_risk >= service.engine.config().retention_threshold,
        "{c:?}"
    );
    let calm = "Bonjour, où se trouve le numéro de série sur une Brother HL-L2350DW ?";
    let c = service
        .engine
        .classify(service.engine.evidence(calm).await.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(c.churn_risk < 30, "{c:?}");
}

#[test]
fn a_bad_labelled_line_is_named() {
    let text = concat!(
        r#"{"id":"a","description":"x","category":"technique","priority":"low","churn_risk":"low"}"#,
        "\n",
        r#"{"id":"b","description":"x","category":"plomberie","priority":"low","churn_risk":"low"}"#,
        "\n",
        r#"{"id":"a","description":"y","category":"autre","priority":"urgent","churn_risk":"low"}"#,
        "\n",
        "not json\n",
    );
    let errors = parse_training(text, "tickets.jsonl").unwrap_err();
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        shown
            .iter()
            .any(|e| e.contains(":2") && e.contains("category") && e.contains("plomberie")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|e| e.contains(":3") && e.contains("priority")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|e| e.contains(":3") && e.contains("duplicate")),
        "{shown:?}"
    );
    assert!(shown.iter().any(|e| e.contains(":4")), "{shown:?}");
}
