//! The words around a match: what makes a number an error code ("affiche 88") or not
//! ("88 pages", "bureau 204", "Windows 10").

use std::borrow::Cow;

/// Words that announce an error code, French and English, lower case.
#[rustfmt::skip]
const CUES: &[&str] = &[
    "erreur", "error", "err", "errors", "code", "codes", "message", "msg", "affiche",
    "affiché", "affichée", "afficher", "affichent", "indique", "indiqué", "marque", "met",
    "dit", "écran", "panneau", "bloqué", "bloquée", "bloque", "clignote", "signale", "voyant",
    "défaut", "panne", "bourrage", "bourrages", "shows", "showing", "show", "showed", "shown",
    "displays", "displaying", "display", "displayed", "says", "said", "reads", "fault",
    "failure", "panel", "screen", "jam", "jams", "warning", "alerte", "alert", "blinks",
    "blinking", "flashing", "puis", "then", "et", "and", "ou", "or", "aussi", "also", "again",
    "encore", "toujours", "still", "parfois", "sometimes", "maintenant", "now", "d'abord",
    "first", "après", "after",
];

/// Cue words that only announce a code when nothing else does: list connectors.
#[rustfmt::skip]
const CONNECTORS: &[&str] = &[
    "puis", "then", "et", "and", "ou", "or", "aussi", "also", "again", "encore", "toujours",
    "still", "parfois", "sometimes", "maintenant", "now", "d'abord", "first", "après", "after",
];

/// Words after a number that make it a quantity, a size or an address.
#[rustfmt::skip]
const UNITS: &[&str] = &[
    "page", "pages", "p", "feuille", "feuilles", "sheet", "sheets", "copie", "copies",
    "exemplaire", "exemplaires", "ex", "mm", "cm", "m", "km", "kg", "g", "go", "gb", "mo",
    "mb", "ko", "kb", "ghz", "mhz", "min", "mins", "minute", "minutes", "mn", "s", "sec",
    "seconde", "secondes", "second", "seconds", "heure", "heures", "hour", "hours", "hrs",
    "jour", "jours", "day", "days", "semaine", "semaines", "week", "weeks", "mois", "month",
    "months", "an", "ans", "année", "années", "year", "years", "fois", "times", "x", "job",
    "jobs", "travaux", "document", "documents", "personne", "personnes", "people", "user",
    "users", "utilisateur", "utilisateurs", "rue", "avenue", "av", "boulevard", "bd", "place",
    "street", "st", "road", "rd", "allée", "impasse", "quai", "chemin", "route", "ppm", "dpi",
    "ppp", "w", "watts", "v", "volts", "étage", "étages", "floor", "floors", "e", "ème", "er",
    "ère", "nd", "rd", "th", "exemplaires", "pcs", "ml", "l", "lignes", "lines", "pixels",
    "px", "mètres", "meters", "caractères", "characters", "clients", "customers", "sites",
    "agences", "bureaux", "offices",
];

/// Units that are also the first word of panel messages ("88 Toner noir bas"): they only
/// count written in lower case ("3 toners").
#[rustfmt::skip]
const SOFT_UNITS: &[&str] = &[
    "poste", "postes", "imprimante", "imprimantes", "printer", "printers", "cartouche",
    "cartouches", "cartridge", "cartridges", "toner", "toners", "bac", "bacs", "tray", "trays",
    "unité", "unités", "units", "tambour", "tambours", "drum", "drums",
];

/// Words right before a number that make it something other than an error code.
#[rustfmt::skip]
const TRAP_PREFIXES: &[&str] = &[
    "poste", "ext", "extension", "bureau", "salle", "room", "pièce", "étage", "floor",
    "bâtiment", "building", "bat", "bât", "ticket", "tickets", "commande", "order", "facture",
    "invoice", "inv", "client", "customer", "contrat", "contract", "dossier", "référence",
    "reference", "ref", "réf", "version", "v", "firmware", "fw", "windows", "win", "office",
    "ios", "android", "macos", "server", "serveur", "build", "pin", "postal", "zip", "cp",
    "budget", "prix", "price", "tarif", "montant", "amount", "total", "suite", "rue", "street",
    "page", "pages", "cartouche", "cartouches", "cartridge", "toner", "encre", "ink",
    "tambour", "drum", "kit", "modèle", "model", "type", "bac", "tray", "tiroir", "drawer",
    "n°", "no", "nº", "num", "numéro", "number", "#", "lot", "série", "series", "fax", "tél",
    "tel", "phone", "téléphone", "appel", "call", "rendez-vous", "semaine", "accès", "access",
    "étape", "step", "option", "niveau", "level", "canal", "channel", "port", "vlan", "ip",
];

/// Words right before a number that make it a quantity or a date, not a code. Only bare
/// numbers are refused on these ("bloquée sur 49.4C02" is still a code).
#[rustfmt::skip]
const WEAK_PREFIXES: &[&str] = &[
    "semaine", "week", "jour", "day", "année", "year", "en", "in", "depuis", "since", "vers",
    "around", "environ", "about", "approximately", "approx", "moins", "less", "plus", "more",
    "max", "min", "maximum", "minimum", "de", "des", "du", "sur", "on", "of", "par", "per",
    "toutes", "every", "chaque", "each", "les", "the", "à", "at", "le", "la", "mars", "avril",
    "mai", "juin", "juillet", "janvier", "février", "août", "septembre", "octobre", "novembre",
    "décembre", "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december", "lundi", "mardi", "mercredi", "jeudi",
    "vendredi", "samedi", "dimanche", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "than", "que", "qu'à", "over", "under", "sous", "avec", "with",
    "pour", "for", "un", "une", "a", "an", "nos", "our", "mes", "my",
];

/// A word of the text: byte span and lower-case form (borrowed when the text already
/// is: most words are, and this runs for every candidate code).
#[derive(Debug, Clone)]
pub struct Word<'a> {
    pub start: usize,
    pub end: usize,
    pub lower: Cow<'a, str>,
}

fn lowercase(word: &str) -> Cow<'_, str> {
    if word.chars().any(|c| c.is_uppercase() || c == '’') {
        Cow::Owned(word.replace('’', "'").to_lowercase())
    } else {
        Cow::Borrowed(word)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\'' || c == '’' || c == '#' || c == '°' || c == 'º'
}

/// Up to `max` words before `at`, nearest first, stopping at the end of the previous
/// sentence or line. A colon does not stop it ("Message : 900").
pub fn words_before(text: &str, at: usize, max: usize) -> Vec<Word<'_>> {
    let mut out = Vec::with_capacity(max);
    let head = &text[..at];
    let mut end = head.len();
    let mut current_end: Option<usize> = None;
    for (i, c) in head.char_indices().rev() {
        if is_word_char(c) {
            if current_end.is_none() {
                current_end = Some(end);
            }
        } else {
            if let Some(e) = current_end.take() {
                push_word(&mut out, head, i + c.len_utf8(), e);
                if out.len() >= max {
                    return out;
                }
            }
            if c == '\n' || c == '!' || c == '?' || c == ';' || c == '|' {
                return out;
            }
            // A full stop ends a sentence; a dot between digits or letters does not.
            if c == '.' && head[i + 1..].starts_with(|n: char| n.is_whitespace()) {
                return out;
            }
        }
        end = i;
    }
    if let Some(e) = current_end {
        push_word(&mut out, head, 0, e);
    }
    out.truncate(max);
    out
}

fn push_word<'a>(out: &mut Vec<Word<'a>>, text: &'a str, start: usize, end: usize) {
    let raw = text[start..end].trim_matches(|c| c == '\'' || c == '’');
    if !raw.is_empty() {
        out.push(Word {
            start,
            end,
            lower: lowercase(raw),
        });
    }
}

/// The word right after `at` on the same line (skipping spaces and opening quotes), if
/// any, with the first non-space character. An elided word ("l'imprimante") is no word:
/// "l" is not a litre.
pub fn word_after(text: &str, at: usize) -> (Option<Word<'_>>, Option<char>) {
    let tail = &text[at..];
    let skip = tail
        .char_indices()
        .find(|(_, c)| !((c.is_whitespace() && *c != '\n') || *c == '«' || *c == '"' || *c == '“'))
        .map(|(i, _)| i);
    let Some(skip) = skip else {
        return (None, None);
    };
    let first = tail[skip..].chars().next();
    let start = at + skip;
    let len = text[start..]
        .char_indices()
        .find(|(_, c)| !c.is_alphanumeric())
        .map_or(text.len() - start, |(i, _)| i);
    if len == 0 || text[start + len..].starts_with(['\'', '’']) {
        return (None, first);
    }
    let raw = &text[start..start + len];
    let word = Word {
        start,
        end: start + len,
        lower: lowercase(raw),
    };
    (Some(word), first)
}

pub fn is_cue(word: &str) -> bool {
    CUES.contains(&word) && !CONNECTORS.contains(&word)
}

pub fn is_connector(word: &str) -> bool {
    CONNECTORS.contains(&word)
}

/// `word` is lower case; `capitalised` says how the text wrote it.
pub fn is_unit(word: &str, capitalised: bool) -> bool {
    UNITS.contains(&word) || (!capitalised && SOFT_UNITS.contains(&word))
}

pub fn is_trap_prefix(word: &str) -> bool {
    TRAP_PREFIXES.contains(&word)
}

/// Words after which a bare model-like code is a place or a reference ("salle C315").
pub fn is_place_prefix(word: &str) -> bool {
    matches!(
        word,
        "salle"
            | "room"
            | "bureau"
            | "office"
            | "bâtiment"
            | "batiment"
            | "building"
            | "bat"
            | "bât"
            | "étage"
            | "floor"
            | "porte"
            | "door"
            | "local"
            | "en"
            | "in"
            | "ticket"
            | "commande"
            | "order"
            | "ref"
            | "réf"
            | "référence"
            | "reference"
            | "aile"
            | "wing"
            | "zone"
            | "couloir"
            | "corridor"
            | "box"
            | "quai"
            | "dock"
    )
}

pub fn is_weak_prefix(word: &str) -> bool {
    WEAK_PREFIXES.contains(&word)
}

/// "code postal", "code PIN", "code d'accès": "code" that is not about an error.
pub fn is_trap_code_phrase(before: &[Word]) -> bool {
    before.len() >= 2
        && before[1].lower == "code"
        && matches!(
            before[0].lower.as_ref(),
            "postal" | "pin" | "d'accès" | "accès" | "access" | "promo" | "client" | "article"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_before_stop_at_sentence_end() {
        let text = "Le bac est vide. La C750 affiche : 88";
        let words: Vec<String> = words_before(text, text.len() - 2, 10)
            .into_iter()
            .map(|w| w.lower.into_owned())
            .collect();
        assert_eq!(words, vec!["affiche", "c750", "la"]);
    }

    #[test]
    fn word_after_skips_quotes() {
        let text = "affiche « 37 Mémoire insuffisante »";
        let at = text.find("37").unwrap() + 2;
        let (word, first) = word_after(text, at);
        assert_eq!(word.unwrap().lower, "mémoire");
        assert_eq!(first, Some('M'));
    }
}
