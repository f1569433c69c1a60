//! The message's side of the glossary: which of its words are worth looking up.

use crate::kb::lang::fold;
use crate::kb::Lang;

use super::vocabulary::MIN_LETTERS;

/// English words of four letters or more that say nothing of the matter: greetings,
/// pronouns, auxiliaries, connectives, time words. Keyword search's own stop list is
/// Lucene's 33 words; these would each be embedded and bring the KB's "avant" or
/// "depuis" into the search.
#[rustfmt::skip]
const ENGLISH_FUNCTION_WORDS: &[&str] = &[
    "about", "above", "after", "afternoon", "again", "against", "almost", "along",
    "already", "also", "although", "always", "among", "another", "anybody", "anymore",
    "anyone", "anything", "anyway", "around", "away", "because", "been", "before", "behind",
    "being", "below", "best", "better", "between", "both", "came", "cannot", "cheers",
    "come", "comes", "coming", "could", "dear", "does", "doing", "done", "down", "during",
    "each", "either", "else", "enough", "even", "evening", "ever", "every", "everybody",
    "everyone", "everything", "from", "further", "gets", "getting", "give", "given", "goes",
    "going", "gone", "good", "greetings", "have", "having", "hello", "help", "here", "hers",
    "herself", "himself", "hope", "however", "instead", "into", "itself", "just", "keep",
    "keeps", "kind", "kindly", "know", "last", "later", "least", "less", "like", "little",
    "look", "looking", "made", "make", "makes", "many", "maybe", "might", "mine", "more",
    "morning", "most", "much", "must", "myself", "need", "needs", "never", "nobody", "none",
    "nothing", "okay", "once", "only", "onto", "other", "others", "ours", "ourselves",
    "over", "please", "pretty", "quite", "rather", "really", "regards", "said", "same",
    "says", "seem", "seems", "seen", "should", "since", "sincerely", "some", "somebody",
    "someone", "something", "sometimes", "soon", "still", "such", "sure", "take", "taken",
    "tell", "than", "thank", "thanks", "that", "their", "theirs", "them", "themselves",
    "then", "there", "these", "they", "thing", "things", "think", "this", "those", "though",
    "through", "till", "today", "together", "told", "tomorrow", "tried", "tries", "trying",
    "under", "until", "upon", "used", "using", "very", "want", "wanted", "wants", "week",
    "well", "went", "were", "what", "whatever", "when", "where", "whether", "which",
    "while", "whom", "whose", "will", "wish", "with", "within", "without", "wonder",
    "would", "yesterday", "your", "yours", "yourself", "yourselves",
];

/// The same for French (folded: accents do not matter).
#[rustfmt::skip]
const FRENCH_FUNCTION_WORDS: &[&str] = &[
    "ainsi", "alors", "apres", "assez", "aucun", "aucune", "aupres", "aussi", "autre",
    "autres", "avaient", "avais", "avait", "avant", "avec", "avez", "avoir", "avons",
    "beaucoup", "bien", "bonjour", "bonne", "bonsoir", "cela", "celle", "celles", "celui",
    "cependant", "certain", "certaine", "certains", "cette", "ceux", "chaque", "chez",
    "comme", "comment", "cordialement", "dans", "deja", "demain", "depuis", "donc", "dont",
    "elle", "elles", "encore", "entre", "etaient", "etais", "etait", "etes", "etre", "fais",
    "fait", "faire", "faut", "hier", "jamais", "leur", "leurs", "lorsque", "madame", "mais",
    "meme", "memes", "merci", "moins", "monsieur", "nous", "notre", "parce", "parfois",
    "pendant", "peut", "peuvent", "peux", "plus", "plusieurs", "pour", "pourquoi",
    "pourriez", "pouvez", "puis", "quand", "quel", "quelle", "quelles", "quels", "quelque",
    "quelques", "rien", "salut", "sans", "selon", "sera", "serait", "sinon", "sommes",
    "sont", "souvent", "suis", "surtout", "tandis", "tellement", "toujours", "tous", "tout",
    "toute", "toutes", "tres", "trop", "vers", "voici", "voila", "votre", "vous",
    "vraiment",
];

fn is_function_word(lang: Lang, folded: &str) -> bool {
    match lang {
        Lang::En => ENGLISH_FUNCTION_WORDS.contains(&folded),
        Lang::Fr => FRENCH_FUNCTION_WORDS.contains(&folded),
    }
}

/// The words of a message in `lang` worth looking up, lower case, in order, each once:
/// letters only and four or more of them, not function words. A word joined to digits
/// ("C750dn", "printer2") is a name or a code and is skipped whole; of a word with an
/// apostrophe, an elided article or pronoun is dropped ("l'imprimante" is "imprimante")
/// and a contraction is skipped whole ("haven't", "aujourd'hui").
pub fn content_words(text: &str, lang: Lang) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let tokens = text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'));
    for token in tokens {
        let word = match token.split_once(['\'', '’']) {
            Some((before, after))
                if before.chars().count() <= 2 && !after.contains(['\'', '’']) =>
            {
                after
            }
            Some(_) => continue,
            None => token,
        };
        if word.chars().any(|c| !c.is_alphabetic()) || word.chars().count() < MIN_LETTERS {
            continue;
        }
        let lower = word.to_lowercase();
        if is_function_word(lang, &fold(&lower)) || out.contains(&lower) {
            continue;
        }
        out.push(lower);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_words_names_with_digits_and_contractions_are_left_out() {
        assert_eq!(
            content_words(
                "Hello, when I print from the printer2 it hasn't got the right colours; C750dn, invoice",
                Lang::En
            ),
            vec!["print", "right", "colours", "invoice"]
        );
        assert_eq!(
            content_words(
                "aujourd'hui l'imprimante n'imprime plus, l’écran reste noir",
                Lang::Fr
            ),
            vec!["imprimante", "imprime", "écran", "reste", "noir"]
        );
    }

    #[test]
    fn each_word_once_in_the_message_s_order() {
        assert_eq!(
            content_words("Refund refund REFUND deadline", Lang::En),
            vec!["refund", "deadline"]
        );
    }

    #[test]
    fn the_lists_are_folded_lower_case_and_long_enough_to_matter() {
        for word in ENGLISH_FUNCTION_WORDS.iter().chain(FRENCH_FUNCTION_WORDS) {
            assert_eq!(*word, fold(word), "{word}");
            assert!(word.chars().count() >= MIN_LETTERS, "{word}");
        }
    }
}
