//! Masks what identifies a customer before text leaves the machine for an LLM: the
//! customer the caller knows (name, e-mail, phone, wherever written), e-mail addresses,
//! links, IBANs, card numbers, phone numbers, postal addresses and names. Placeholders
//! say what they replace ("[EMAIL]", "[PHONE]", "[IBAN]", "[CARD]", "[URL]", "[ADDRESS]",
//! "[NAME]"), so the model still reads the sentence.
//!
//! What the reply needs stays: error codes ("88.20", "31.13.01"), models ("C750",
//! "MS811dn") and serial numbers. The extractor's findings are passed in and never
//! masked, and an IBAN or a card is one only when its check digits hold, so an order
//! number or a serial of the same shape is left alone.
//!
//! Patterns find names poorly: the caller cuts the signature first
//! (`index::query::message_body`) and passes the customer it knows; a few cues
//! ("Monsieur X", "je m'appelle X", "Merci, X" ending a line, a last line of two or three
//! capitalised words) catch the rest.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::extract::mask::{iban_len, is_card, CARD, IBAN};

pub(super) static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+").expect("email pattern"));
/// Links with a scheme or "www.", and bare domains under common endings ("acme.io/x").
pub(super) static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:https?://|www\.)[^\s<>()\[\]{}]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|fr|net|org|io|eu|be|ch|ca|info|biz|co)(?:/[^\s<>()]*)?\b")
        .expect("url pattern")
});
/// International ("+33 (0)6 12 34 56 78", "0033 6 12 34 56 78", "+44 20 7946 0958"),
/// French ("06.12.34.56.78"), British ("020 7946 0958") and North American numbers.
pub(super) static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    let parts = [
        r"(?:\+|\b00)[1-9]\d{0,2}[\s.-]?(?:\(0\)[\s.-]?)?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,5}\b",
        // One separator throughout: "01.02.2024 10" is a date and an hour.
        r"\b0[1-9](?:\d{8}|(?:\s\d{2}){4}|(?:\.\d{2}){4}|(?:-\d{2}){4})\b",
        r"\b0\d{2,4}[\s-]\d{3,4}[\s-]?\d{3,4}\b",
        r"\(\d{3}\)\s?\d{3}-\d{4}\b",
        r"\b\d{3}[-.]\d{3}[-.]\d{4}\b",
        r"\b\d{3}-\d{4}\b",
    ];
    Regex::new(&parts.join("|")).expect("phone pattern")
});

/// A word of a name: "Marc", "D'Amico", "Jean-Pierre", "DUPONT".
const NAME_WORD: &str =
    r"(?:(?:\p{Lu}['’])?\p{Lu}\p{Ll}+(?:[-'’]\p{Lu}?\p{Ll}+)*|\p{Lu}{2,}(?:[-'’]\p{Lu}{2,})*)";

/// A French street ("12 bis rue de la Paix, 75002 Paris"), an English one ("221B Baker
/// Street, London NW1 6XE"), or a postcode and town alone on a line ("75002 PARIS").
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    let word = r"\p{Lu}[\p{L}'’-]*\b";
    // "CEDEX 03" is tried before a word, or the word would take "CEDEX" and leave "03".
    let town = format!(r"{word}(?:[ \t-]+(?:(?i:cedex)\b(?:[ \t]+\d{{1,2}}\b)?|{word}))*");
    let french = format!(
        r"\b\d{{1,4}}(?:[ \t]?(?i:bis|ter))?,?[ \t]+(?i:rue|avenue|av\.|boulevard|bd|place|chemin|all[ée]e|impasse|route|quai|cours|square|chauss[ée]e|faubourg|lotissement|r[ée]sidence|passage|esplanade)\b(?:[ \t]+(?:(?:d[eu]|des|la|le|les)\b|[ld]['’]{word}|{word}))+(?:,?\s+\d{{5}}[ \t]+{town})?"
    );
    let english = format!(
        r"\b\d{{1,5}}[A-Za-z]?,?[ \t]+(?:{word}[ \t]+){{1,4}}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Square|Close|Crescent|Terrace|Gardens|Parkway)\b\.?(?:,[ \t]*{word}(?:[ \t]+{word})*)?(?:,?[ \t]+(?:[A-Z]{{1,2}}\d[A-Z\d]?[ \t]*\d[A-Z]{{2}}|(?:[A-Z]{{2}}[ \t]+)?\d{{5}}(?:-\d{{4}})?)\b)?"
    );
    let postcode_line = format!(r"(?m:^[ \t]*\d{{5}}[ \t]+{town}[ \t]*$)");
    Regex::new(&format!("{french}|{english}|{postcode_line}")).expect("address pattern")
});

/// A name after a title or an introduction: the cue stays, the name goes.
static NAME_AFTER_CUE: LazyLock<Regex> = LazyLock::new(|| {
    let cue = r"\b(?:M\.|Mr\.?|Mrs\.?|Ms\.?|Mme\.?|Mlle\.?|Dr\.|(?i:monsieur|madame|mademoiselle|je m['’]appelle|je suis|my name is|i am|i'm))";
    Regex::new(&format!(
        r"(?P<cue>{cue}[ \t]+)(?P<name>{NAME_WORD}(?:[ \t]+{NAME_WORD})?)\b"
    ))
    .expect("name cue pattern")
});
/// A name closing a line after thanks or a sign-off: "Merci, Marc", "Thanks,\nTom".
static NAME_AFTER_THANKS: LazyLock<Regex> = LazyLock::new(|| {
    let cue = r"(?i:cordialement|bien à vous|salutations|regards|merci(?: beaucoup| d'avance)?|thanks|thank you|cheers)";
    Regex::new(&format!(
        r"(?m)(?P<cue>\b{cue}[ \t]*[,.!]?\s*)(?P<name>{NAME_WORD}(?:[ \t]+{NAME_WORD}){{0,2}})[ \t]*[.!]?[ \t]*$"
    ))
    .expect("sign-off pattern")
});
/// A line of two or three capitalised words and nothing else: a signature's name.
static NAME_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^[ \t]*{NAME_WORD}(?:[ \t]+{NAME_WORD}){{1,2}}[ \t]*,?[ \t]*$"
    ))
    .expect("name line pattern")
});

/// Two or three capitalised words right before a contact detail already masked: a
/// signature written inline ("Marc Dupont, [EMAIL]", "Jean Martin ([PHONE])").
static NAME_BEFORE_CONTACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"\b(?P<name>{NAME_WORD}(?:[ \t]+{NAME_WORD}){{1,2}})[ \t]*[,:(-]?[ \t]*\[(?:EMAIL|PHONE)\]"
    ))
    .expect("inline signature pattern")
});

/// Words that open a run of capitalised words without making it a name.
const NOT_NAMES: &str = "monsieur madame mademoiselle bonjour bonsoir merci beaucoup encore \
    bonne cordialement hello dear thanks thank regards best kind cheers the le la";

/// What the caller knows of the customer (the ticket's): masked wherever it is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownCustomer {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Text fit to leave the machine: only [`mask`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked(String);

impl Masked {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `text` with the known customer and every personal detail replaced by placeholders,
/// except the values in `keep` (the extractor's models, codes and serials, as written).
pub fn mask(text: &str, customer: &KnownCustomer, keep: &[&str]) -> Masked {
    let kept: HashSet<String> = keep.iter().map(|k| compact(k)).collect();
    let is_kept = |found: &str| kept.contains(&compact(found));
    let email = customer.email.as_deref().and_then(email_pattern);
    let phone = customer.phone.as_deref().and_then(phone_pattern);
    let name = customer.name.as_deref().and_then(name_pattern);
    let mut out = replace_known(email.as_ref(), text, "[EMAIL]");
    // E-mails before links: "exemple.fr" in an address is not a link of its own.
    out = EMAIL.replace_all(&out, "[EMAIL]").into_owned();
    out = replace(&URL, &out, |found| {
        // The sentence's full stop is not the link's.
        let link = found.trim_end_matches(['.', ',', ';', ':', '!', '?']);
        Some(format!("[URL]{}", &found[link.len()..]))
    });
    // Before phones: the groups of an IBAN read as a British number.
    out = replace(&IBAN, &out, |found| {
        let len = iban_len(found).filter(|_| !is_kept(found))?;
        Some(format!("[IBAN]{}", &found[len..]))
    });
    out = replace(&CARD, &out, |found| {
        (is_card(found) && !is_kept(found)).then(|| "[CARD]".to_string())
    });
    // The customer's own number first, whole, however it is spaced.
    out = replace_known(phone.as_ref(), &out, "[PHONE]");
    out = replace(&PHONE, &out, |found| {
        (!is_kept(found)).then(|| "[PHONE]".to_string())
    });
    out = ADDRESS.replace_all(&out, "[ADDRESS]").into_owned();
    out = replace_known(name.as_ref(), &out, "[NAME]");
    Masked(mask_names(&out))
}

/// Letters and digits, uppercase: "SC 899-00" and "sc899-00" are one value.
fn compact(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

/// Every match of `re` for which `with` has a replacement, replaced.
fn replace(re: &Regex, text: &str, with: impl Fn(&str) -> Option<String>) -> String {
    re.replace_all(text, |c: &Captures| {
        with(&c[0]).unwrap_or_else(|| c[0].to_string())
    })
    .into_owned()
}

/// Every match of the customer's own value, when there is one, replaced.
fn replace_known(re: Option<&Regex>, text: &str, placeholder: &str) -> String {
    match re {
        Some(re) => re.replace_all(text, placeholder).into_owned(),
        None => text.to_string(),
    }
}

/// The customer's e-mail, case-insensitively.
fn email_pattern(email: &str) -> Option<Regex> {
    let email = email.trim();
    if email.is_empty() {
        return None;
    }
    Regex::new(&format!("(?i){}", regex::escape(email))).ok()
}

/// The customer's name, case-insensitively: whole, reversed ("Dupont Marc"), or any part
/// of three letters or more ("DUPONT"); a shorter part ("Li") only with the rest.
fn name_pattern(name: &str) -> Option<Regex> {
    let parts: Vec<String> = name
        .split_whitespace()
        .map(|p| p.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|p| !p.is_empty())
        .map(regex::escape)
        .collect();
    if parts.is_empty() {
        return None;
    }
    let mut reversed = parts.clone();
    reversed.reverse();
    // Longest first: the alternation takes the first that matches.
    let mut alternatives = vec![parts.join(r"\s+"), reversed.join(r"\s+")];
    alternatives.extend(
        parts
            .iter()
            .filter(|p| p.chars().filter(|c| c.is_alphabetic()).count() >= 3)
            .cloned(),
    );
    Regex::new(&format!(r"(?i)\b(?:{})\b", alternatives.join("|"))).ok()
}

/// The phone's last nine digits (the number without country or trunk prefix, in France
/// and most of Europe), any separators between them, and whatever prefix precedes:
/// "+33 6 12 34 56 78", "0612345678" and "06.12.34.56.78" are one number.
fn phone_pattern(phone: &str) -> Option<Regex> {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 {
        return None;
    }
    let tail = &digits[digits.len().saturating_sub(9)..];
    let core = tail
        .iter()
        .map(char::to_string)
        .collect::<Vec<_>>()
        .join(r"[\s.()/-]*");
    // A trunk "0" may stand apart ("0 6 12…"); other leading digits touch the number, so
    // an error code written just before it ("88 06 12…") stays.
    let prefix =
        r"(?:(?:\+|\b00)\d{1,3}[\s.()/-]*(?:\(0\)[\s.()/-]*)?)?(?:0[\s.()/-]?|\d{1,3}[.()/-]?)?";
    Regex::new(&format!(r"{prefix}{core}\b")).ok()
}

/// Names found by their cues, and the last line when it is only a name (what follows it
/// is already placeholders: "[PHONE]", "[EMAIL]").
fn mask_names(text: &str) -> String {
    let mut out = text.to_string();
    for re in [&*NAME_AFTER_CUE, &*NAME_AFTER_THANKS, &*NAME_BEFORE_CONTACT] {
        out = re
            .replace_all(&out, |c: &Captures| match (c.get(0), c.name("name")) {
                (Some(whole), Some(name)) if !not_a_name(name.as_str()) => {
                    // What the pattern read around the name stays.
                    let (before, after) =
                        (name.start() - whole.start(), name.end() - whole.start());
                    let whole = whole.as_str();
                    format!("{}[NAME]{}", &whole[..before], &whole[after..])
                }
                _ => c[0].to_string(),
            })
            .into_owned();
    }
    let mut lines: Vec<&str> = out.lines().collect();
    let placeholder_only = |l: &&str| {
        l.split_whitespace().all(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '[' && c != ']')
                .starts_with('[')
        })
    };
    match lines.iter().rposition(|l| !placeholder_only(l)) {
        Some(i) if i > 0 && NAME_LINE.is_match(lines[i]) && !not_a_name(lines[i]) => {
            lines[i] = "[NAME]";
            lines.join("\n")
        }
        _ => out,
    }
}

/// Whether a run of capitalised words opens with a courtesy word ("Bonne Journée").
fn not_a_name(words: &str) -> bool {
    let first = words.split_whitespace().next().unwrap_or_default();
    let first = first
        .trim_matches(|c: char| !c.is_alphabetic())
        .to_lowercase();
    NOT_NAMES.split_whitespace().any(|w| w == first)
}

#[cfg(test)]
mod tests;
