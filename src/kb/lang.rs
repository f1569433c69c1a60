//! A tiny language guesser for French vs English, from function words and accents.
//! Good enough to pick an analyzer for an imported entry or a query; ties go to French,
//! the product's first language.

use unicode_normalization::UnicodeNormalization;

use super::entry::Lang;

/// Lower case without accents: "Écran" and "ecran" are one word.
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
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
}
