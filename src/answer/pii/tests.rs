//! One test per kind of detail, in French and English, and the findings that must stay.

use super::*;

fn masked(text: &str) -> String {
    mask(text, &KnownCustomer::default(), &[])
        .as_str()
        .to_string()
}

#[test]
fn emails() {
    assert_eq!(
        masked("écrivez à marc.dupont+hp@exemple.fr ou Support@Acme.co.uk"),
        "écrivez à [EMAIL] ou [EMAIL]"
    );
}

#[test]
fn phones_in_national_and_international_formats() {
    for phone in [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "0612345678",
        "0033 6 12 34 56 78",
        "+33 (0)6 12 34 56 78",
        "+33 6 12 34 56 78",
        "+44 20 7946 0958",
        "020 7946 0958",
        "07700 900123",
        "+1 (555) 123-4567",
        "(555) 123-4567",
        "555-123-4567",
        "555-0142",
    ] {
        assert_eq!(
            masked(&format!("rappelez-moi au {phone} svp")),
            "rappelez-moi au [PHONE] svp",
            "{phone}"
        );
        assert_eq!(
            masked(&format!("call me on {phone}, thanks")),
            "call me on [PHONE], thanks",
            "{phone}"
        );
    }
}

#[test]
fn ibans_whose_check_holds() {
    assert_eq!(
        masked("mon IBAN : FR76 3000 6000 0112 3456 7890 189 merci"),
        "mon IBAN : [IBAN] merci"
    );
    assert_eq!(
        masked("IBAN GB82WEST12345698765432, la C750 affiche 88"),
        "IBAN [IBAN], la C750 affiche 88"
    );
    // A wrong check digit: no IBAN (though its last groups read as a British number).
    let text = masked("ref FR77 3000 6000 0112 3456 7890 189");
    assert!(
        text.starts_with("ref FR77 3000 6000 ") && !text.contains("[IBAN]"),
        "{text}"
    );
}

#[test]
fn card_numbers_whose_luhn_check_holds() {
    for card in [
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",
        "378282246310005",
    ] {
        assert_eq!(
            masked(&format!("my card {card} was charged")),
            "my card [CARD] was charged"
        );
    }
    // An order number and a serial of a card's length: the Luhn check fails.
    for number in ["1234567890123", "4970101234567890"] {
        let text = format!("commande {number} reçue");
        assert_eq!(masked(&text), text);
    }
}

#[test]
fn links() {
    assert_eq!(
        masked("voir https://intranet.acme.fr/tickets?id=4 et www.acme.com/contact ou acme.io."),
        "voir [URL] et [URL] ou [URL]."
    );
}

#[test]
fn postal_addresses() {
    assert_eq!(
        masked("Livrez au 12 bis rue de l'Église, 75002 Paris svp"),
        "Livrez au [ADDRESS] svp"
    );
    assert_eq!(
        masked("Adresse : 3 avenue Victor Hugo\n69003 LYON CEDEX 03\nla C750 affiche 88"),
        "Adresse : [ADDRESS]\nla C750 affiche 88"
    );
    assert_eq!(
        masked("Ship to 221B Baker Street, London NW1 6XE please"),
        "Ship to [ADDRESS] please"
    );
    assert_eq!(
        masked("office at 1600 Pennsylvania Avenue, Washington DC 20500"),
        "office at [ADDRESS]"
    );
}

#[test]
fn names_after_a_title_an_introduction_or_thanks() {
    assert_eq!(
        masked("Madame, Monsieur, je suis Marie Dupont, M. Martin est absent."),
        "Madame, Monsieur, je suis [NAME], M. [NAME] est absent."
    );
    assert_eq!(
        masked("My name is Tom O'Neil and the MS811dn shows 201.03."),
        "My name is [NAME] and the MS811dn shows 201.03."
    );
    assert_eq!(
        masked("La C750 affiche 88. Merci, Jean-Pierre"),
        "La C750 affiche 88. Merci, [NAME]"
    );
    assert_eq!(
        masked(
            "C750 : 88 Toner cyan bas. Marc Dupont, marc@exemple.fr, Jean Martin (06 12 34 56 78)"
        ),
        "C750 : 88 Toner cyan bas. [NAME], [EMAIL], [NAME] ([PHONE])"
    );
    assert_eq!(
        masked("Toner cyan bas. Merci Beaucoup"),
        "Toner cyan bas. Merci Beaucoup"
    );
    assert_eq!(
        masked("It shows 88.20 again.\nThanks,\nTom\n+44 20 7946 0958"),
        "It shows 88.20 again.\nThanks,\n[NAME]\n[PHONE]"
    );
}

#[test]
fn a_last_line_that_is_only_a_name() {
    assert_eq!(
        masked("La C750 affiche 31.13.01.\nMarie DUPONT\nmarie@acme.fr"),
        "La C750 affiche 31.13.01.\n[NAME]\n[EMAIL]"
    );
    // A subject in title case is the first line, not a signature.
    assert_eq!(
        masked("Paper Jam\nThe tray is stuck"),
        "Paper Jam\nThe tray is stuck"
    );
    assert_eq!(
        masked("Toner cyan bas.\nBonne Journée"),
        "Toner cyan bas.\nBonne Journée"
    );
}

fn marc() -> KnownCustomer {
    KnownCustomer {
        name: Some("Marc Dupont".into()),
        email: Some("marc.dupont@exemple.fr".into()),
        phone: Some("+33 6 99 88 77 66".into()),
    }
}

#[test]
fn the_known_customer_wherever_written() {
    let text = "MARC DUPONT ici (Dupont Marc pour l'état civil, dupont pour les intimes). \
        Écrire à Marc.Dupont@Exemple.FR ou au 0 6 9 9 8 8 7 7 6 6, ou 0699887766.";
    assert_eq!(
        mask(text, &marc(), &[]).as_str(),
        "[NAME] ici ([NAME] pour l'état civil, [NAME] pour les intimes). \
        Écrire à [EMAIL] ou au [PHONE], ou [PHONE]."
    );
    // Separators and a prefix the patterns do not know: the digits decide.
    let known = KnownCustomer {
        phone: Some("0699887766".into()),
        ..KnownCustomer::default()
    };
    assert_eq!(
        mask("tel +33 (0)6/99/88/77/66 ok", &known, &[]).as_str(),
        "tel [PHONE] ok"
    );
    // A short name part is masked only with the rest of the name.
    let li = KnownCustomer {
        name: Some("Li Wang".into()),
        ..KnownCustomer::default()
    };
    assert_eq!(
        mask("Li Wang, li-ion battery, Wang", &li, &[]).as_str(),
        "[NAME], li-ion battery, [NAME]"
    );
}

#[test]
fn codes_models_and_serials_are_never_masked() {
    let text = "Lexmark MS811dn S/N 79K1234 : 88.20, puis 31.13.01 et 201.03 ; \
        HP 49.4C02, Ricoh SC 899-00, Xerox 024-371, C750 en salle C315, firmware 1.2.3.4";
    assert_eq!(masked(text), text);
    let text = "The C750 (serial 7525KN2B01) shows 31.13.01, the MS811dn 88.20.";
    assert_eq!(mask(text, &marc(), &[]).as_str(), text);
}

#[test]
fn the_extractors_findings_are_kept_even_in_a_number_shape() {
    // A numeric serial that passes the Luhn check, and one shaped like a phone number.
    let text = "S/N 3000123456789 et S/N 0612345678";
    assert_eq!(masked(text), "S/N [CARD] et S/N [PHONE]");
    let keep = ["3000123456789", "0612345678"];
    assert_eq!(mask(text, &KnownCustomer::default(), &keep).as_str(), text);
}
