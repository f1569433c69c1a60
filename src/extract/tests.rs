//! Behaviour of the whole extractor on small, telling texts. The labelled set in
//! `tests/data/extraction_messages.jsonl` measures it at scale (`tests/extraction.rs`).

use super::*;

fn extractor() -> Extractor {
    let catalogue = Catalogue::parse(
        r#"
[[model]]
manufacturer = "Lexmark"
name = "C750"
aliases = ["C750n", "C750dn", "C750dtn", "C 750", "C-750"]

[[model]]
manufacturer = "HP"
name = "LaserJet Pro M404dn"
aliases = ["M404dn", "M404dw"]

[[model]]
manufacturer = "Xerox"
name = "WorkCentre 3225"
aliases = []
"#,
        "models.toml",
    )
    .unwrap();
    let entry: KbEntry = toml::from_str(
        r#"
id = "c750-jam-241"
title = "241 Bourrage papier"
lang = "fr"
manufacturer = "Lexmark"
models = ["Lexmark C750"]
category = "paper_jam"
error_codes = ["241", "242"]
description = "x"
solution = "x"
source = "test"
"#,
    )
    .unwrap();
    Extractor::new(Rules::default_rules(), catalogue, &[entry])
}

#[test]
fn lexmark_message_with_serial() {
    let x = extractor()
        .extract("Modèle : Lexmark C750 / N° de série : 79K1234 / Message : 900 Service");
    assert_eq!(x.model.as_deref(), Some("Lexmark C750"));
    assert_eq!(x.manufacturer.as_deref(), Some("Lexmark"));
    assert_eq!(x.error_codes, vec!["900"]);
    assert_eq!(x.serial.as_deref(), Some("79K1234"));
}

#[test]
fn spans_count_characters() {
    let text = "Écran : la C750 affiche 88 Toner noir bas";
    let x = extractor().extract(text);
    let code = x
        .entities
        .iter()
        .find(|e| e.kind == EntityKind::ErrorCode)
        .unwrap();
    let chars: Vec<char> = text.chars().collect();
    assert_eq!(chars[code.start..code.end].iter().collect::<String>(), "88");
    let model = x
        .entities
        .iter()
        .find(|e| e.kind == EntityKind::Model)
        .unwrap();
    assert_eq!(model.value, "C750");
    assert_eq!(
        chars[model.start..model.end].iter().collect::<String>(),
        "C750"
    );
}

#[test]
fn traps_find_nothing() {
    let e = extractor();
    for text in [
        "Le toner est à 88 % mais les impressions sont pâles.",
        "Windows 10 : erreur 0x00000709 quand je définis l'imprimante par défaut.",
        "Commande n° 4500123 du 12.03.2024, montant 49,90 €.",
        "À 10.30 ce matin, coupure de courant ; poste 2215.",
        "Firmware 1.2.3.4 appliqué, Windows 11, iOS 17.4.",
        "My brother set up the printer at home.",
        "Merci de réinitialiser le code PIN 4821 de l'imprimante.",
        "Client 200021, code postal 69007, appelez le 06 12 34 56 78.",
        "numéro de suivi 6A12345678901",
        "La salle C750 est fermée le lundi.",
        "Réunion en C750 à 14h, bureau C 750.",
    ] {
        let x = e.extract(text);
        assert_eq!(
            x,
            Extraction {
                entities: x.entities.clone(),
                ..Default::default()
            },
            "{text}"
        );
        assert!(x.entities.is_empty(), "{text}: {:?}", x.entities);
    }
}

#[test]
fn quantities_beside_a_model_are_not_codes() {
    let x = extractor().extract("La C750 de la salle 201 affiche 201 Bourrage papier ; bac 2000 feuilles, 300 pages par jour.");
    assert_eq!(x.error_codes, vec!["201"]);
    let code = x
        .entities
        .iter()
        .find(|e| e.kind == EntityKind::ErrorCode)
        .unwrap();
    assert_eq!(
        code.start,
        "La C750 de la salle 201 affiche ".chars().count()
    );
}

#[test]
fn code_lists_and_known_codes() {
    let x = extractor().extract(
        "Bourrages sur la C750 : 241 puis 242, parfois 201. On imprime 300 feuilles par jour.",
    );
    assert_eq!(x.error_codes, vec!["241", "242", "201"]);
}

#[test]
fn formats_are_normalised() {
    let e = extractor();
    assert_eq!(
        e.extract("Notre Ricoh MP C3004 affiche SC 899-00")
            .error_codes,
        vec!["SC899-00"]
    );
    assert_eq!(
        e.extract("M404dn erreur 49.4c02").error_codes,
        vec!["49.4C02"]
    );
    assert_eq!(
        e.extract("epson wf-2860 code 0xea").error_codes,
        vec!["0xEA"]
    );
    assert_eq!(
        e.extract("HP OfficeJet Pro 9010 affiche 0xC19A0013")
            .error_codes,
        vec!["0xc19a0013"]
    );
    assert_eq!(
        e.extract("lbp223dw erreur e000007-0000").error_codes,
        vec!["E000007-0000"]
    );
}

#[test]
fn the_model_with_the_code_comes_first() {
    let e = extractor();
    let x = e.extract(
        "On a remplacé la C750 par une ECOSYS M2540dn, and the new one already shows J0511.",
    );
    assert_eq!(x.model.as_deref(), Some("Kyocera ECOSYS M2540dn"));
    assert_eq!(x.models(), vec!["Kyocera ECOSYS M2540dn", "Lexmark C750"]);
    let x = e.extract("We're replacing our WorkCentre 3225 with a VersaLink B405; the WorkCentre shows 077-900 daily.");
    assert_eq!(x.model.as_deref(), Some("Xerox WorkCentre 3225"));
    let x = e.extract(
        "The MS410dn in reception works fine, but the Lexmark CS310dn upstairs cannot scan.",
    );
    assert_eq!(x.model.as_deref(), Some("Lexmark CS310dn"));
}

#[test]
fn serial_without_cue_needs_its_maker() {
    let e = extractor();
    assert_eq!(
        e.extract("HP LaserJet Pro M404dn – VNB3R45678 – bourrage")
            .serial
            .as_deref(),
        Some("VNB3R45678")
    );
    assert_eq!(
        e.extract("Référence VNB3R45678 pour la facture").serial,
        None
    );
}

#[test]
fn never_panics_on_odd_input() {
    let e = extractor();
    for text in [
        "",
        " ",
        "é",
        "\u{0}",
        "<",
        "&#",
        "S/N",
        "numéro de série",
        "0x",
        "SC",
        "C750 :",
        "€€€ 88 %",
        "\u{202f}1\u{202f}000",
        "𝟖𝟖 ０ｘ",
    ] {
        let _ = e.extract(text);
    }
}
