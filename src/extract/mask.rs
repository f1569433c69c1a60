//! Blanks out what must never be read as a model, code or serial: HTML remnants, e-mail
//! addresses, links, phone numbers, dates, times, IP addresses, software versions,
//! prices and grouped quantities ("45 000").
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
        // Dates: 12/03/2024, 12.03.2024, 2024-03-12, 05/02, 14.02.2024.
        r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b",
        r"\b\d{4}[/.-]\d{2}[/.-]\d{2}\b",
        r"\b\d{1,2}/\d{1,2}\b",
        // Times: 10:30, 8h15, 14h, 9:12:05.
        r"\b\d{1,2}[:h]\d{2}(?::\d{2})?\b",
        r"\b\d{1,2}h\b",
        // Phone numbers: French, international, North American.
        r"(?:\+33[\s.]?|\b0)[1-9](?:[\s.-]?\d{2}){4}\b",
        r"\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}",
        r"\(\d{3}\)\s?\d{3}-\d{4}\b",
        r"\b\d{3}-\d{4}\b",
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

/// The text with every noise span replaced by spaces, byte for byte.
pub fn mask(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let mut blank = |start: usize, end: usize| bytes[start..end].fill(b' ');
    for m in ALWAYS.find_iter(text) {
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
}
