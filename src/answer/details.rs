//! Details a reply must not invent: links, e-mail addresses, phone numbers and prices. A
//! reply written by an LLM may only carry those its cited entries carry; one it made up (or
//! was talked into by the customer's message) would send the customer somewhere no one
//! checked.

use std::sync::LazyLock;

use regex::Regex;

use super::pii::{EMAIL, PHONE, URL};

static PRICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:[€$£]\s?\d+(?:[.,]\d{1,2})?|\b\d+(?:[  .,]\d{3})*(?:[.,]\d{1,2})?\s?(?:€|\$|£|eur(?:os?)?\b|usd\b|chf\b))")
        .expect("price pattern")
});

/// One detail found in a text, in a form two spellings of it share.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Detail {
    /// Host and path, lowercase, without scheme, `www.` or trailing punctuation.
    Link(String),
    Email(String),
    /// Digits only (a leading 0 and +33 / 0033 are the same number).
    Phone(String),
    /// Digits of the amount (decimals kept) and its currency symbol.
    Price(String),
}

impl Detail {
    /// The detail as it reads in a note.
    pub fn describe(&self) -> String {
        match self {
            Detail::Link(v) => format!("link {v}"),
            Detail::Email(v) => format!("e-mail {v}"),
            Detail::Phone(v) => format!("phone {v}"),
            Detail::Price(v) => format!("price {v}"),
        }
    }
}

fn link(raw: &str) -> String {
    let lower = raw.to_lowercase();
    let bare = lower
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_start_matches("www.");
    bare.trim_end_matches(|c: char| ".,;:!?'\"/".contains(c))
        .to_string()
}

fn phone(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    // French numbers: +33 6…, 0033 6… and 06… are one number.
    let national = digits
        .strip_prefix("0033")
        .or_else(|| {
            digits
                .strip_prefix("33")
                .filter(|_| raw.trim_start().starts_with('+'))
        })
        .map(|rest| format!("0{rest}"));
    national.unwrap_or(digits)
}

fn price(raw: &str) -> String {
    let lower = raw.to_lowercase();
    let currency = if lower.contains('$') || lower.contains("usd") {
        "$"
    } else if lower.contains('£') {
        "£"
    } else if lower.contains("chf") {
        "chf"
    } else {
        "€"
    };
    let amount: String = raw
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    let amount = amount.trim_matches('.');
    // "45.00" and "45" are one price.
    let amount = amount
        .strip_suffix(".00")
        .or_else(|| amount.strip_suffix(".0"))
        .unwrap_or(amount);
    format!("{amount}{currency}")
}

/// Every link, e-mail address, phone number and price in `text`, once each.
pub fn details(text: &str) -> Vec<Detail> {
    let mut found = Vec::new();
    for m in EMAIL.find_iter(text) {
        found.push(Detail::Email(m.as_str().to_lowercase()));
    }
    // An e-mail's domain is not a link of its own.
    let rest = EMAIL.replace_all(text, " ").into_owned();
    for m in URL.find_iter(&rest) {
        found.push(Detail::Link(link(m.as_str())));
    }
    let rest = URL.replace_all(&rest, " ").into_owned();
    for m in PRICE.find_iter(&rest) {
        found.push(Detail::Price(price(m.as_str())));
    }
    let rest = PRICE.replace_all(&rest, " ").into_owned();
    for m in PHONE.find_iter(&rest) {
        found.push(Detail::Phone(phone(m.as_str())));
    }
    found.sort();
    found.dedup();
    found
}

/// The details of `reply` that none of `sources` carries.
pub fn ungrounded(reply: &str, sources: &[&str]) -> Vec<Detail> {
    let known: Vec<Detail> = sources.iter().flat_map(|s| details(s)).collect();
    details(reply)
        .into_iter()
        .filter(|d| !known.contains(d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_kind_once_whatever_the_spelling() {
        let text = "Voir https://www.exemple.fr/aide/, écrire à Aide@Exemple.fr, appeler le \
                    +33 1 23 45 67 89 ou 01 23 45 67 89 ; la cartouche coûte 45,00 € (45 EUR).";
        assert_eq!(
            details(text),
            vec![
                Detail::Link("exemple.fr/aide".into()),
                Detail::Email("aide@exemple.fr".into()),
                Detail::Phone("0123456789".into()),
                Detail::Price("45€".into()),
            ]
        );
    }

    #[test]
    fn a_detail_of_the_cited_entries_is_grounded_and_a_new_one_is_not() {
        let entry = "Commandez sur www.exemple.fr/boutique ou au 01 23 45 67 89.";
        assert!(ungrounded("Commandez sur https://exemple.fr/boutique.", &[entry]).is_empty());
        assert!(ungrounded("Appelez le +33 1 23 45 67 89.", &[entry]).is_empty());
        assert_eq!(
            ungrounded("Réinitialisez sur http://evil.example.com/reset", &[entry]),
            vec![Detail::Link("evil.example.com/reset".into())]
        );
        assert_eq!(
            ungrounded("Écrivez à support@autre.fr", &[entry]),
            vec![Detail::Email("support@autre.fr".into())]
        );
        assert_eq!(
            ungrounded("Appelez le 0 800 123 456 ou le 06 11 22 33 44", &[entry]).len(),
            1
        );
        assert_eq!(
            ungrounded("Le remplacement coûte 120 €.", &[entry]),
            vec![Detail::Price("120€".into())]
        );
    }

    #[test]
    fn error_codes_steps_and_versions_are_not_details() {
        let reply = "1. Ouvrez le capot. 2. Retirez la feuille. Erreur 13.A2.D2, code 88, \
                     firmware 2.4.1, page 10 sur 400, bac 2, 250 feuilles.";
        assert!(details(reply).is_empty(), "{:?}", details(reply));
    }
}
