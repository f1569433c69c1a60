//! Serial numbers: the token after a cue ("numéro de série", "N° de série", "S/N", "SN",
//! "serial"), or, with no cue, a token in the known format of a maker the text names.

use std::sync::LazyLock;

use regex::Regex;

use super::model::ModelMention;
use super::rules::Rules;

static CUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:num[ée]ro|n[°º]|no\.?|nº)\s*(?:de\s+)?s[ée]rie|(?-u:\b)serial(?:\s+(?:number|no\.?|num|#))?|(?-u:\b)(?:s/n|n/s|sn|s\.n\.?)(?-u:\b)",
    )
    .expect("serial cue compiles")
});

#[derive(Debug, Clone, PartialEq)]
pub struct SerialMention {
    pub start: usize,
    pub end: usize,
    pub normalized: String,
    pub confidence: f32,
}

/// How far after a cue the serial may be ("numéro de série ? — Euh, attendez... 79K5521").
const LOOKAHEAD_WORDS: usize = 10;

fn overlaps(start: usize, end: usize, models: &[ModelMention]) -> bool {
    models.iter().any(|m| start < m.end && m.start < end)
}

fn looks_like_serial(token: &str) -> bool {
    let digits = token.chars().filter(char::is_ascii_digit).count();
    let letters = token.chars().filter(char::is_ascii_alphabetic).count();
    (5..=20).contains(&token.len())
        && digits + letters == token.len()
        && digits >= 2
        && (letters >= 1 || token.len() >= 7)
}

/// Serials in `text` (already masked), most confident first.
pub fn find(
    text: &str,
    rules: &Rules,
    makers: &[&str],
    models: &[ModelMention],
) -> Vec<SerialMention> {
    let mut found = Vec::new();
    for cue in CUE.find_iter(text) {
        let mut seen = 0;
        for (start, end) in ascii_words(text, cue.end()) {
            let token = &text[start..end];
            if !token.chars().any(|c| c.is_ascii_digit()) {
                seen += 1;
                if seen > LOOKAHEAD_WORDS {
                    break;
                }
                continue;
            }
            if looks_like_serial(token) && !overlaps(start, end, models) {
                let normalized = token.to_ascii_uppercase();
                let known_format = rules.serials.iter().any(|f| {
                    makers.contains(&f.manufacturer.as_str()) && f.whole.is_match(&normalized)
                });
                found.push(SerialMention {
                    start,
                    end,
                    normalized,
                    confidence: if known_format { 0.98 } else { 0.9 },
                });
            }
            break;
        }
    }
    for format in &rules.serials {
        let Some(find) = &format.find else { continue };
        if !makers.contains(&format.manufacturer.as_str()) {
            continue;
        }
        for m in find.find_iter(text) {
            if overlaps(m.start(), m.end(), models)
                || found.iter().any(|s: &SerialMention| s.start == m.start())
            {
                continue;
            }
            found.push(SerialMention {
                start: m.start(),
                end: m.end(),
                normalized: m.as_str().to_string(),
                confidence: 0.8,
            });
        }
    }
    found.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.start.cmp(&b.start))
    });
    found
}

/// Runs of ASCII letters and digits from `from` on (a serial is ASCII).
fn ascii_words(text: &str, from: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut i = from;
    std::iter::from_fn(move || {
        while i < bytes.len() && !bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        // A word glued to accented letters ("série") is not ASCII: skip it whole.
        if (start > 0 && !bytes[start - 1].is_ascii()) || (i < bytes.len() && !bytes[i].is_ascii())
        {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || !bytes[i].is_ascii()) {
                i += 1;
            }
            return Some((start, start));
        }
        Some((start, i))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serials(text: &str, makers: &[&str]) -> Vec<String> {
        find(text, &Rules::default_rules(), makers, &[])
            .into_iter()
            .map(|s| s.normalized)
            .collect()
    }

    #[test]
    fn after_cues() {
        assert_eq!(
            serials("N° de série : 79K1234 / Message : 900", &[]),
            vec!["79K1234"]
        );
        assert_eq!(
            serials("S/N: cnbjr12345, shows 79", &[]),
            vec!["CNBJR12345"]
        );
        assert_eq!(
            serials(
                "le numéro de série ?\nClient : Euh oui attendez... 79K5521.",
                &[]
            ),
            vec!["79K5521"]
        );
        assert!(serials("numéro de suivi 6A12345678901", &[]).is_empty());
        assert!(serials("Commande n° 4500123", &[]).is_empty());
    }

    #[test]
    fn known_formats_need_their_maker() {
        assert_eq!(
            serials("ECOSYS M2540dn / VCF9400123 / J0511", &["Kyocera"]),
            vec!["VCF9400123"]
        );
        assert!(serials("ECOSYS M2540dn / VCF9400123 / J0511", &["HP"]).is_empty());
    }
}
