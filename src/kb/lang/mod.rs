//! A tiny language guesser for French vs English, from function words and accents.
//! Good enough to pick an analyzer for an imported entry or a query; ties go to French,
//! the product's first language. And, for what the product cannot write in, whether a
//! text is in another language altogether.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::entry::{KbEntry, Lang};

mod foreign;

/// Lower case without accents: "Écran" and "ecran" are one word.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let bare = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase);
    for c in bare {
        // Letters that are not a base letter and a mark: "yazıcı", "błąd", "Straße"
        // fold as their writers type them without those keys.
        match c {
            'ı' => folded.push('i'),
            'ł' => folded.push('l'),
            'ß' => folded.push_str("ss"),
            'ø' => folded.push('o'),
            'đ' => folded.push('d'),
            c => folded.push(c),
        }
    }
    folded
}

const FRENCH: &[&str] = &[
    "le",
    "la",
    "les",
    "un",
    "une",
    "des",
    "du",
    "de",
    "et",
    "est",
    "sur",
    "dans",
    "pour",
    "pas",
    "ne",
    "que",
    "qui",
    "avec",
    "mon",
    "ma",
    "mes",
    "je",
    "il",
    "elle",
    "nous",
    "vous",
    "au",
    "aux",
    "ce",
    "cette",
    "ou",
    "imprimante",
    "papier",
    "bourrage",
    "erreur",
    "plus",
    "ça",
    "j'ai",
    "s'affiche",
    "n'imprime",
    "bonjour",
    "merci",
];
const ENGLISH: &[&str] = &[
    "the", "a", "an", "and", "is", "on", "in", "for", "not", "to", "of", "with", "my", "it",
    "this", "that", "what", "how", "printer", "paper", "jam", "error", "won't", "doesn't", "can't",
    "does", "shows", "when", "i", "hello", "thanks", "please", "print", "prints", "printing",
];

/// Guesses the language of `text`.
pub fn detect_lang(text: &str) -> Lang {
    let mut fr = 0i32;
    let mut en = 0i32;
    for word in text
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
    {
        let w = word.to_lowercase();
        if FRENCH.contains(&w.as_str()) {
            fr += 2;
        }
        if ENGLISH.contains(&w.as_str()) {
            en += 2;
        }
        if w.chars().any(|c| "éèêàùçôîœ".contains(c)) {
            fr += 1;
        }
    }
    if en > fr {
        Lang::En
    } else {
        Lang::Fr
    }
}

/// How much of a text `unsupported_language` reads.
const DETECTED_BYTES: usize = 4096;

/// The language of `text` (its name in English: "German") when it is, beyond doubt,
/// neither French nor English: replies, the extractor's and the signals' patterns and the
/// classifier read those two only. Told three ways, any one enough:
/// - `whatlang`'s trigram models, on their own reliability test (a sentence or two);
/// - a script other than Latin for most letters ("принтер не печатает");
/// - the words of a language a printer seller hears, more of them than French or English
///   ones (`foreign::by_words`: "Drucker druckt nicht", "papel encravado na bandeja").
///
/// None of the product's French and English messages and entries (about 5,500, most of
/// them short and misspelt, 520 of them in three sets written apart) is taken for another
/// language, and 2 of 180 in a fourth set made to be (a signature in Dutch, a German
/// address); a short foreign message with few words of its own may still pass ("la
/// impresora no imprime": "la" is French too).
pub fn unsupported_language(text: &str) -> Option<&'static str> {
    // A language shows in its first few sentences; a 64 KiB e-mail need not be read whole.
    let mut end = text.len().min(DETECTED_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    // Full-width letters ("ＵＲＧＥＮＴ"), as East Asian keyboards type them, read as the
    // letters they are: trigrams would take them for Korean.
    let wide = text[..end].contains(|c| ('\u{ff01}'..='\u{ff5e}').contains(&c));
    let narrowed: String;
    let text = if wide {
        narrowed = text[..end].nfkc().collect();
        narrowed.as_str()
    } else {
        &text[..end]
    };
    let reliable = whatlang::detect(text).filter(|info| {
        info.is_reliable() && !matches!(info.lang(), whatlang::Lang::Fra | whatlang::Lang::Eng)
    });
    reliable
        .map(|info| info.lang().eng_name())
        .or_else(|| foreign::by_script(text))
        .or_else(|| foreign::by_words(text, &FRENCH_OR_ENGLISH))
}

/// The French and English words `detect_lang` counts, as `fold` leaves them.
static FRENCH_OR_ENGLISH: LazyLock<HashSet<String>> =
    LazyLock::new(|| FRENCH.iter().chain(ENGLISH).map(|w| fold(w)).collect());

/// The languages a KB's entries are written in, and what the product cannot do with them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LanguageSummary {
    /// Entries by the language they are searched in (`fr`, `en`: their analyzer).
    pub entries: BTreeMap<String, usize>,
    /// Entries written, beyond doubt, in another language, by its name ("German"): they
    /// are searched (the embedding model is multilingual; keywords match as written), but
    /// no reply can be written in their language.
    pub unsupported: BTreeMap<String, usize>,
    /// What that means for the KB, when some are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What `entries` are written in (see `LanguageSummary`).
pub fn language_summary(entries: &[KbEntry]) -> LanguageSummary {
    let mut summary = LanguageSummary::default();
    for entry in entries {
        *summary
            .entries
            .entry(entry.lang.code().to_string())
            .or_default() += 1;
        let text = format!(
            "{}\n{}\n{}\n{}",
            entry.title,
            entry.description,
            entry.solution,
            entry.steps.join("\n")
        );
        if let Some(language) = unsupported_language(&text) {
            *summary.unsupported.entry(language.to_string()).or_default() += 1;
        }
    }
    if !summary.unsupported.is_empty() {
        let count: usize = summary.unsupported.values().sum();
        let names: Vec<&str> = summary.unsupported.keys().map(String::as_str).collect();
        summary.note = Some(format!(
            "{count} of {} entries are in {}: they are searched and found, but replies, error codes, routing signals and the classifier read French and English only, so messages in {} go to a person with the entries found",
            entries.len(),
            names.join(", "),
            if names.len() == 1 { names[0] } else { "those languages" }
        ));
    }
    summary
}

/// A language tag as exports write them: `de`, `pt-BR`, `zh_Hant`.
pub fn is_language_tag(value: &str) -> bool {
    let mut parts = value.trim().split(['-', '_']);
    let primary = parts.next().unwrap_or_default().to_ascii_lowercase();
    let known = match primary.len() {
        2 => ISO_639_1.contains(&primary.as_str()),
        3 => whatlang::Lang::from_code(&primary).is_some(),
        _ => false,
    };
    known
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The two-letter codes of the languages exports name most (ISO 639-1).
const ISO_639_1: &[&str] = &[
    "af", "am", "ar", "az", "be", "bg", "bn", "bs", "ca", "cs", "cy", "da", "de", "el", "eo", "es",
    "et", "eu", "fa", "fi", "ga", "gl", "gu", "he", "hi", "hr", "hu", "hy", "id", "is", "it", "ja",
    "ka", "kk", "km", "kn", "ko", "ku", "ky", "la", "lb", "lo", "lt", "lv", "mk", "ml", "mn", "mr",
    "ms", "mt", "my", "nb", "ne", "nl", "nn", "no", "pa", "pl", "ps", "pt", "ro", "ru", "si", "sk",
    "sl", "so", "sq", "sr", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl", "tr", "uk", "ur", "uz",
    "vi", "yi", "zh", "zu",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_common_sentences() {
        assert_eq!(
            detect_lang("Mon imprimante affiche un bourrage papier"),
            Lang::Fr
        );
        assert_eq!(detect_lang("My printer shows a paper jam error"), Lang::En);
        assert_eq!(detect_lang("88"), Lang::Fr);
        assert_eq!(detect_lang("impressions pâles"), Lang::Fr);
        assert_eq!(detect_lang("the prints are faded"), Lang::En);
    }

    #[test]
    fn tells_a_language_the_replies_cannot_be_written_in() {
        for (text, lang) in [
            (
                "Der Drucker druckt nicht mehr, auf dem Display steht Papierstau in Fach 2.",
                "German",
            ),
            (
                "La stampante non stampa più, sul display compare inceppamento carta nel cassetto 2.",
                "Italian",
            ),
            ("打印机不打印，屏幕显示卡纸。", "Mandarin"),
            // Short ones, told by their words or their script.
            ("Drucker druckt nicht", "German"),
            ("papel encravado na bandeja", "Portuguese"),
            ("mijn printer geeft fout 79", "Dutch"),
            ("принтер не печатает", "a language written in Cyrillic"),
        ] {
            assert_eq!(unsupported_language(text), Some(lang), "{text}");
        }
        for text in [
            "Mon imprimante affiche un bourrage papier dans le tiroir 2",
            "Le Canon de la compta affiche E000007-0000, plus rien ne sort",
            "imprimante bloquee",
            "ça marche pas",
            // A French message with a foreign word or two stays French.
            "le Drucker de l'accueil est en panne, merci de passer",
            "la impresora de Pedro, on la garde ou pas ?",
            "My printer shows a paper jam error",
            "88",
            "",
        ] {
            assert_eq!(unsupported_language(text), None, "{text}");
        }
    }

    #[test]
    fn a_kb_says_which_of_its_entries_are_in_a_language_it_cannot_reply_in() {
        let mut german = KbEntry::sample(
            "papierstau",
            "Papierstau in Fach 2",
            "Der Drucker zeigt einen Papierstau an und druckt nicht mehr weiter.",
        );
        german.steps = vec!["Öffnen Sie die vordere Klappe und entfernen Sie das Papier.".into()];
        let french = KbEntry::sample(
            "bourrage",
            "Bourrage papier dans le tiroir 2",
            "L'imprimante signale un bourrage et n'imprime plus.",
        );
        let summary = language_summary(&[german, french.clone()]);
        assert_eq!(summary.entries.get("fr"), Some(&2));
        assert_eq!(summary.unsupported.get("German"), Some(&1));
        let note = summary.note.unwrap();
        assert!(note.starts_with("1 of 2 entries are in German"), "{note}");
        assert_eq!(language_summary(&[french]).note, None);
    }
}
