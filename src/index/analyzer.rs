//! Text analysis for BM25. French and English each get stop words and a Snowball stemmer,
//! then accent folding so "pâle", "pale" and "pâles" meet. Stemming runs before folding
//! because the French stemmer's rules are written for accented text.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer,
    Stemmer, StopWordFilter, TextAnalyzer, TokenizerManager,
};

use crate::kb::Lang;

pub const FR: &str = "devicekb_fr";
pub const EN: &str = "devicekb_en";
pub const PLAIN: &str = "devicekb_plain";
pub const KEYWORD: &str = "devicekb_keyword";

/// French elided articles and pronouns ("l'imprimante", "qu'il") that the simple
/// tokenizer splits off as one-letter words, plus spoken fillers seen in tickets.
const FRENCH_EXTRA_STOPS: &[&str] = &[
    "l",
    "d",
    "j",
    "m",
    "n",
    "s",
    "t",
    "c",
    "qu",
    "jusqu",
    "lorsqu",
    "puisqu",
    "ai",
    "a",
    "ça",
    "ca",
    "bonjour",
    "merci",
    "svp",
    "cordialement",
];
const ENGLISH_EXTRA_STOPS: &[&str] = &[
    "hi", "hello", "thanks", "thank", "please", "regards", "s", "t",
];

pub fn analyzer_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => FR,
        Lang::En => EN,
    }
}

fn language_analyzer(language: Language, extra: &[&str]) -> TextAnalyzer {
    let builtin =
        StopWordFilter::new(language).expect("tantivy ships French and English stop words");
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(builtin)
        .filter(StopWordFilter::remove(extra.iter().map(|s| s.to_string())))
        .filter(Stemmer::new(language))
        .filter(AsciiFoldingFilter)
        .build()
}

/// Registers every analyzer the schema names.
pub fn register(manager: &TokenizerManager) {
    manager.register(FR, language_analyzer(Language::French, FRENCH_EXTRA_STOPS));
    manager.register(
        EN,
        language_analyzer(Language::English, ENGLISH_EXTRA_STOPS),
    );
    manager.register(
        PLAIN,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build(),
    );
    manager.register(
        KEYWORD,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
}

/// The tokens `text` becomes under `analyzer` (as indexed), deduplicated in order.
pub fn analyze(manager: &TokenizerManager, analyzer: &str, text: &str) -> Vec<String> {
    let mut analyzer = manager
        .get(analyzer)
        .expect("analyzers are registered when an index is opened");
    let mut stream = analyzer.token_stream(text);
    let mut out: Vec<String> = Vec::new();
    while stream.advance() {
        let t = &stream.token().text;
        if !t.is_empty() && !out.iter().any(|o| o == t) {
            out.push(t.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager() -> TokenizerManager {
        let m = TokenizerManager::default();
        register(&m);
        m
    }

    #[test]
    fn french_folds_accents_stems_and_drops_elisions() {
        let m = manager();
        assert_eq!(
            analyze(&m, FR, "impressions pâles"),
            analyze(&m, FR, "impression pale")
        );
        let tokens = analyze(&m, FR, "l'imprimante n'imprime pas");
        assert!(
            !tokens.iter().any(|t| t == "l" || t == "n" || t == "pas"),
            "{tokens:?}"
        );
    }

    #[test]
    fn english_stems() {
        let m = manager();
        assert_eq!(
            analyze(&m, EN, "printing jams"),
            analyze(&m, EN, "printed jam")
        );
    }

    #[test]
    fn keyword_keeps_codes_whole() {
        let m = manager();
        assert_eq!(analyze(&m, KEYWORD, "49.4C02"), vec!["49.4c02"]);
    }
}
