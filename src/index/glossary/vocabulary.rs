//! The KB's side of the glossary: its language, the words it has, and the words worth a
//! vector.

use std::collections::{HashMap, HashSet};

use crate::kb::lang::fold;
use crate::kb::{KbEntry, Lang};

/// Shorter words are mostly function words and abbreviations, whose nearest words mean
/// nothing.
pub const MIN_LETTERS: usize = 4;
/// Longer "words" are identifiers, URLs and pasted codes, never a translation.
const MAX_LETTERS: usize = 24;
/// The most frequent words kept: every message in the other language is compared with
/// each (a 40,000-word table is 61 MB and about 0.5 G multiply-adds for a long e-mail).
pub const MAX_VOCABULARY: usize = 40_000;
/// The KB's main language must be this share of its entries: a bilingual KB answers a
/// message in either language with entries in that language.
const MAIN_LANGUAGE_SHARE: f64 = 0.8;

/// The words of `text` as the glossary reads them: folded, letters only.
fn folded_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(fold)
}

/// What an entry says, as one text.
fn entry_text(entry: &KbEntry) -> String {
    let mut parts = vec![
        entry.title.as_str(),
        entry.description.as_str(),
        entry.cause.as_str(),
        entry.solution.as_str(),
    ];
    parts.extend(entry.symptoms.iter().map(String::as_str));
    parts.extend(entry.steps.iter().map(String::as_str));
    parts.extend(entry.tags.iter().map(String::as_str));
    parts.join("\n")
}

/// The language of at least `MAIN_LANGUAGE_SHARE` of the entries.
pub fn main_language(entries: &[KbEntry]) -> Option<Lang> {
    Lang::ALL.into_iter().find(|&lang| {
        let count = entries.iter().filter(|e| e.lang == lang).count();
        !entries.is_empty() && count as f64 >= MAIN_LANGUAGE_SHARE * entries.len() as f64
    })
}

/// Every folded word of the entries, their makers' and models' names included ("Brother"
/// is a name, not a word to translate).
pub fn known_words(entries: &[KbEntry]) -> HashSet<String> {
    let mut known = HashSet::new();
    for entry in entries {
        known.extend(folded_words(&entry_text(entry)));
        known.extend(folded_words(&entry.manufacturer));
        for model in &entry.models {
            known.extend(folded_words(model));
        }
    }
    known
}

/// The words worth a vector: four to 24 letters, each in its most frequent written form
/// (lower case, accents kept: keyword search stems before it folds), the
/// `MAX_VOCABULARY` most frequent, sorted.
pub fn vocabulary(entries: &[KbEntry]) -> Vec<String> {
    let mut forms: HashMap<String, HashMap<String, usize>> = HashMap::new();
    for entry in entries {
        let text = entry_text(entry);
        for word in text.split(|c: char| !c.is_alphabetic()) {
            let letters = word.chars().count();
            if !(MIN_LETTERS..=MAX_LETTERS).contains(&letters) {
                continue;
            }
            let lower = word.to_lowercase();
            *forms
                .entry(fold(&lower))
                .or_default()
                .entry(lower)
                .or_default() += 1;
        }
    }
    let mut counted: Vec<(usize, String)> = forms
        .into_values()
        .filter_map(|counts| {
            let total = counts.values().sum();
            counts
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                .map(|(form, _)| (total, form))
        })
        .collect();
    counted.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    counted.truncate(MAX_VOCABULARY);
    let mut words: Vec<String> = counted.into_iter().map(|(_, w)| w).collect();
    words.sort();
    words
}
