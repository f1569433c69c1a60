//! Blanks out what must never be read as a model, code or serial: HTML remnants, e-mail
//! addresses, links, phone numbers, dates, times, IP addresses, software versions,
//! prices, grouped quantities ("45 000"), IBANs and payment card numbers.
//!
//! Masked bytes become spaces, so every offset in the masked text is the same offset in
//! the original: spans found later point into the customer's own text.

use std::sync::LazyLock;

use regex::Regex;

/// Patterns that are always noise. One alternation, so the text is scanned once.
static ALWAYS: LazyLock<Regex> = LazyLock::new(|| {
    let parts = [
        // HTML tags and entities ("<br>", "&nbsp;", "&#39;").
        r"<[a-zA-Z/!][^<>]{0,300}>",
        r"&(?:[a-zA-Z]{2,8}|#[0-9]{2,5});",
        // E-mail addresses, links, Windows share paths.
        r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
        r"(?:https?://|www\.)[^\s<>]+",
        r"\\\\[^\s<>]+",
        // Times: 10:30, 8h15, 14h, 9:12:05.
        r"\b\d{1,2}[:h]\d{2}(?::\d{2})?\b",
        r"\b\d{1,2}h\b",
        // Phone numbers, before dates ("06.12.34" is not one): French, one separator
        // throughout; international ("+33 (0)6 12 34 56 78", "0033 6 12 34 56 78",
        // "+44 20 7946 0958"), British, North American.
        r"(?:\+33[\s.]?|\b0)[1-9](?:\d{8}|(?:\s\d{2}){4}|(?:\.\d{2}){4}|(?:-\d{2}){4})\b",
        r"(?:\+|\b00)[1-9]\d{0,2}[\s.-]?(?:\(0\)[\s.-]?)?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,5}\b",
        r"\b0\d{2,4}[\s-]\d{3,4}[\s-]?\d{3,4}\b",
        r"\(\d{3}\)\s?\d{3}-\d{4}\b",
        r"\b\d{3}[-.]\d{3}[-.]\d{4}\b",
        r"\b\d{3}-\d{4}\b",
        // Dates: 12/03/2024, 12.03.2024, 03/12/2024, 2024-03-12, 05/02, 14.02.2024. Day
        // and month must be ones: "31.13.01" is a code.
        r"\b(?:0?[1-9]|[12]\d|3[01])[/.-](?:0?[1-9]|1[0-2])[/.-]\d{2,4}\b",
        r"\b(?:0?[1-9]|1[0-2])[/.-](?:0?[1-9]|[12]\d|3[01])[/.-]\d{2,4}\b",
        r"\b\d{4}[/.-]\d{2}[/.-]\d{2}\b",
        r"\b\d{1,2}/\d{1,2}\b",
        // IPv4 addresses.
        r"\b\d{1,3}(?:\.\d{1,3}){3}\b",
        // Software versions: "version 4.1", "v3.0", "iOS 17.4", "firmware 5.2.1", "1.2.3.4".
        r"(?i)\b(?:v|vers?\.?|version|firmware|fw|ios|android|macos|build|release|pilote|driver)\s*:?\s*\d+(?:\.\d+)+\b",
        r"\b\d\.\d+\.\d+(?:\.\d+)*\b",
        // Prices: "49,90 €", "$249", "300 €", "79 € HT", "12 euros".
        r"(?i)[$€£]\s?\d+(?:[.,]\d+)?",
        r"(?i)\b\d+(?:[.,]\d+)?\s?(?:€|\$|£|eur\b|euros?\b|usd\b|ht\b|ttc\b)",
        // Grouped thousands: "45 000", "1 500" (plain, no-break and thin spaces).
        r"\b\d{1,2}(?:[ \u{a0}\u{202f}]\d{3})+\b",
        // "10.30" is a time after a time cue or before "am"/"pm"; elsewhere it may be a
        // code. The cue word goes with it: it is never a finding itself.
        r"(?i)(?:^|[^\w])(?:à|a|at|vers|depuis|since|from|de|dès|jusqu'à|until|avant|après|before|after|around)\s+\d{1,2}\.\d{2}\b",
        r"(?i)\b\d{1,2}\.\d{2}\s?(?:am|pm)\b",
    ];
    // ASCII word boundaries keep the regex on its DFA path on accented text.
    // ASCII classes and word boundaries: the customer's digits and spaces are ASCII, and
    // Unicode classes make the automaton several times larger and slower.
    let pattern = parts
        .join("|")
        .replace(r"\b", r"(?-u:\b)")
        .replace(r"\d", "[0-9]")
        .replace(r"\s", r"[\t\n\x0C\r ]")
        .replace(r"\w", "[0-9A-Za-z_]");
    super::rules::regex(&pattern).expect("mask patterns compile")
});

/// An IBAN as written: country, check digits, then 11 to 30 letters or digits, grouped by
/// spaces or not. A candidate only: `iban_len` says how much of it checks.
pub static IBAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)[A-Za-z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}(?-u:\b)").expect("iban pattern")
});
/// A payment card number as written: 13 to 19 digits in one run, four groups of four (the
/// last may be shorter) or American Express's 4-6-5. A candidate only: see `is_card`.
pub static CARD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(?:[0-9]{13,19}|[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{1,4}|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5})(?-u:\b)")
        .expect("card pattern")
});

/// How many bytes of `candidate` (an `IBAN` match) are an IBAN whose mod-97 check holds.
/// The pattern may run on into the next group ("… 7890 189 1234"), so shorter prefixes,
/// cut at a space, are tried too.
pub fn iban_len(candidate: &str) -> Option<usize> {
    let mut end = candidate.len();
    loop {
        if iban_checks(&candidate[..end]) {
            return Some(end);
        }
        end = candidate[..end].rfind(' ')?;
    }
}

/// ISO 13616: the country and check digits moved to the end, letters as 10..35, the
/// number modulo 97 is 1. Random digits pass one time in 97.
fn iban_checks(iban: &str) -> bool {
    let compact: Vec<u8> = iban
        .bytes()
        .filter(|b| *b != b' ')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    let shape = (15..=34).contains(&compact.len())
        && compact[..2].iter().all(u8::is_ascii_uppercase)
        && compact[2..4].iter().all(u8::is_ascii_digit)
        && compact.iter().all(u8::is_ascii_alphanumeric);
    if !shape {
        return false;
    }
    let rearranged = compact[4..].iter().chain(&compact[..4]);
    let rest = rearranged.fold(0u32, |rest, &b| {
        if b.is_ascii_digit() {
            (rest * 10 + u32::from(b - b'0')) % 97
        } else {
            (rest * 100 + u32::from(b - b'A' + 10)) % 97
        }
    });
    rest == 1
}

/// A card number: 13 to 19 digits, a network's first digit (2 to 6: Mastercard, American
/// Express, Visa, Mastercard, Discover and the like) and the Luhn check, so an order
/// number or a serial of the same length is a card only one time in ten at most.
pub fn is_card(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) || !(2..=6).contains(&digits[0]) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2, d * 2) {
            (0, _) => d,
            (_, doubled) if doubled > 9 => doubled - 9,
            (_, doubled) => doubled,
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The text with every noise span replaced by spaces, byte for byte.
pub fn mask(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let mut blank = |start: usize, end: usize| bytes[start..end].fill(b' ');
    for m in ALWAYS.find_iter(text) {
        blank(m.start(), m.end());
    }
    // Only when their check digits hold: a reference of the same shape may be a serial.
    for m in IBAN.find_iter(text) {
        if let Some(len) = iban_len(m.as_str()) {
            blank(m.start(), m.start() + len);
        }
    }
    for m in CARD.find_iter(text).filter(|m| is_card(m.as_str())) {
        blank(m.start(), m.end());
    }
    // Only whole characters were replaced by ASCII spaces, so this stays valid UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(text: &str) -> String {
        mask(text).split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn blanks_noise_and_keeps_offsets() {
        let text = "Le 12/03/2024 à 10.30, tél. 06 11 22 33 44, firmware 1.2.3.4, 49,90 € : C750 affiche 88";
        let masked = mask(text);
        assert_eq!(masked.len(), text.len());
        assert_eq!(kept(text), "Le , tél. , , : C750 affiche 88");
        assert_eq!(&text[masked.find("C750").unwrap()..][..4], "C750");
    }

    #[test]
    fn keeps_codes() {
        for code in [
            "49.4C02",
            "13.A2.D2",
            "200.02",
            "024-371",
            "E000007-0000",
            "50.1",
            "SC 899-00",
            "88.20",
            "31.13.01",
            "201.03",
            "C750",
            "MS811dn",
            "79K1234",
            // An order number and a serial of a card's length whose Luhn check fails.
            "1234567890123",
            "4970101234567890",
        ] {
            assert_eq!(
                kept(&format!("affiche {code} ce matin")),
                format!("affiche {code} ce matin")
            );
        }
    }

    #[test]
    fn html_and_addresses() {
        assert_eq!(
            kept("<div>Bonjour,&nbsp;</div> support@x.fr www.hp.com/fr"),
            "Bonjour,"
        );
        assert_eq!(kept("la cartouche de 3 000 pages"), "la cartouche de pages");
        assert_eq!(
            kept("call me at 555-0142 or +44 20 7946 0958"),
            "call me at or"
        );
    }

    #[test]
    fn blanks_international_phone_formats_whole() {
        for phone in [
            "0033 6 12 34 56 78",
            "+33 (0)6 12 34 56 78",
            "+44 20 7946 0958",
            "06.12.34.56.78",
            "020 7946 0958",
            "+1 (555) 123-4567",
            "555-123-4567",
        ] {
            assert_eq!(
                kept(&format!("rappelez le {phone} svp")),
                "rappelez le svp",
                "{phone}"
            );
        }
    }

    #[test]
    fn blanks_ibans_and_cards_whose_check_holds() {
        for number in [
            "FR76 3000 6000 0112 3456 7890 189",
            "FR7630006000011234567890189",
            "GB82 WEST 1234 5698 7654 32",
            "4111 1111 1111 1111",
            "5500-0000-0000-0004",
            "378282246310005",
        ] {
            assert_eq!(kept(&format!("voici {number} merci")), "voici merci");
        }
        // A wrong check digit: not a card, left for the extractor; not an IBAN (its last
        // groups read as a British phone number).
        let text = "voici 4111 1111 1111 1112 merci";
        assert_eq!(kept(text), text);
        assert!(kept("voici FR77 3000 6000 0112 3456 7890 189").starts_with("voici FR77 3000 6000"));
        // The IBAN pattern runs on into the next word; only the IBAN goes.
        assert_eq!(
            kept("IBAN FR76 3000 6000 0112 3456 7890 189 C750"),
            "IBAN C750"
        );
    }

    #[test]
    fn check_digits() {
        assert_eq!(iban_len("DE89 3704 0044 0532 0130 00"), Some(27));
        assert_eq!(iban_len("DE89 3704 0044 0532 0130 01"), None);
        assert_eq!(iban_len("FR76 3000 6000 0112 3456 7890 189 1234"), Some(33));
        assert!(is_card("4111111111111111") && is_card("3000123456789"));
        // Luhn holds, but no card network starts with 1 or 9.
        assert!(!is_card("1111111111111117") && !is_card("9111111111111110"));
        assert!(!is_card("411111111111") && !is_card("4111111111111112"));
    }
}
