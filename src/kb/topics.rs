//! What a KB's entries are about, word by word: how many entries speak of each word's
//! stem in their title, symptoms or description (not their steps, where "check the
//! warranty" is an aside).
//!
//! The decision asks it of a billing word. A device-support KB never speaks of invoices,
//! refunds or contracts (the bundled KB and the earlier project's have no entry that
//! does), so there such a word is a request for the vendor and goes to a person. A KB
//! whose entries commonly speak of it (a public FAQ on money, housing and papers: 34 of
//! its 519 entries speak of invoices, 21 of buying, 80 of payments) answers questions
//! about it like any other: "la facture des pompes funèbres", "pour l'aider à acheter une
//! voiture" are its matters, not requests to the vendor.

use std::collections::{HashMap, HashSet};

use super::lang::fold;
use super::KbEntry;

/// Letters of a word's stem: "rembour" for rembourse, remboursement, remboursé;
/// "facture" for factures, facturé (not facturation: "factura"). A shorter word counts
/// whole or as its plural ("devis", "tarif").
const STEM_CHARS: usize = 7;

/// Entries that must speak of a word for it to be one of the KB's topics: at least this
/// many, so that a small device KB where a few entries say "sous garantie, contactez le
/// SAV" in passing does not take warranty claims for its matter...
const TOPIC_MIN_ENTRIES: usize = 5;
/// ...and at least this percentage of the KB, so that a large one does not either with a
/// few entries on printing invoices. The FAQ's billing topics are far above it (payments
/// 15 %, invoices 6.6 %, buying 4.0 %, cancelling 2.7 %).
const TOPIC_MIN_PERCENT: usize = 2;

/// How many entries speak of each stem.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KbTopics {
    entries: usize,
    by_matter: HashMap<Matter, u32>,
}

impl KbTopics {
    pub fn new(entries: &[KbEntry]) -> KbTopics {
        let mut by_matter: HashMap<Matter, u32> = HashMap::new();
        for entry in entries {
            let text = about_text(entry);
            let matters: HashSet<Matter> = words(&text).flat_map(Matter::all_of).collect();
            for matter in matters {
                *by_matter.entry(matter).or_default() += 1;
            }
        }
        KbTopics {
            entries: entries.len(),
            by_matter,
        }
    }

    /// How many entries speak of `word`'s stem (of `word` itself, or its plural, when it
    /// is shorter than a stem).
    pub fn entries_speaking_of(&self, word: &str) -> usize {
        let count = self.by_matter.get(&Matter::of(&fold(word)));
        count.copied().unwrap_or(0) as usize
    }

    /// Whether enough of the KB speaks of `word` for it to be one of its matters.
    pub fn is_topic(&self, word: &str) -> bool {
        let needed = TOPIC_MIN_ENTRIES.max((self.entries * TOPIC_MIN_PERCENT).div_ceil(100));
        self.entries_speaking_of(word) >= needed
    }
}

/// Whether `entry` speaks of `word`'s stem (see `KbTopics::entries_speaking_of`).
pub fn speaks_of_stem(entry: &KbEntry, word: &str) -> bool {
    let matter = Matter::of(&fold(word));
    words(&about_text(entry)).any(|w| matter.matches(w))
}

/// What `entry` is about, folded: title, symptoms, description.
fn about_text(entry: &KbEntry) -> String {
    fold(&format!(
        "{} {} {}",
        entry.title,
        entry.symptoms.join(" "),
        entry.description
    ))
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// A folded word as it is looked up: its stem (its first `STEM_CHARS` letters), or, when
/// shorter, itself without a final "s".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Matter {
    Stem(String),
    Whole(String),
}

impl Matter {
    fn of(folded: &str) -> Matter {
        if folded.chars().count() >= STEM_CHARS {
            Matter::Stem(folded.chars().take(STEM_CHARS).collect())
        } else {
            Matter::Whole(singular(folded).to_string())
        }
    }

    /// Every matter a folded word of an entry counts for: itself whole, and its stem when
    /// it has one.
    fn all_of(w: &str) -> impl Iterator<Item = Matter> {
        let stem = (w.chars().count() >= STEM_CHARS).then(|| Matter::of(w));
        std::iter::once(Matter::Whole(singular(w).to_string())).chain(stem)
    }

    /// Whether the folded word `w` has this stem, or is this word or its plural.
    fn matches(&self, w: &str) -> bool {
        match self {
            // The stem has exactly `STEM_CHARS` letters: a prefix match is a stem match.
            Matter::Stem(stem) => w.starts_with(stem.as_str()),
            Matter::Whole(word) => singular(w) == word,
        }
    }
}

fn singular(word: &str) -> &str {
    word.strip_suffix('s').unwrap_or(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, title: &str, description: &str) -> KbEntry {
        KbEntry::sample(id, title, description)
    }

    #[test]
    fn a_stem_counts_each_entry_once_whatever_its_form() {
        let entries = vec![
            entry(
                "a",
                "Facture d'eau trop élevée",
                "Une facture, deux factures.",
            ),
            entry(
                "b",
                "Frais facturés par l'agence",
                "L'agence facture l'état des lieux.",
            ),
            entry("c", "Tarifs", "Le tarif dépend du devis."),
            entry("d", "Bourrage papier", "Ouvrir le capot."),
        ];
        let topics = KbTopics::new(&entries);
        assert_eq!(topics.entries_speaking_of("facture"), 2);
        assert_eq!(topics.entries_speaking_of("Factures"), 2);
        assert_eq!(topics.entries_speaking_of("facturé"), 2);
        // "facturation" has another stem ("factura").
        assert_eq!(topics.entries_speaking_of("facturation"), 0);
        // A short word counts whole or as its plural.
        assert_eq!(topics.entries_speaking_of("tarifs"), 1);
        assert_eq!(topics.entries_speaking_of("devis"), 1);
        assert_eq!(topics.entries_speaking_of("tarification"), 0);
        // Steps are not what an entry is about.
        let mut with_steps = entry("e", "Bourrage", "Ouvrir le capot.");
        with_steps.steps = vec!["Vérifier la garantie".into()];
        assert_eq!(
            KbTopics::new(&[with_steps]).entries_speaking_of("garantie"),
            0
        );
    }

    #[test]
    fn a_topic_needs_five_entries_and_two_percent_of_the_kb() {
        let speaking = |n: usize, total: usize| -> Vec<KbEntry> {
            (0..total)
                .map(|i| {
                    let text = if i < n {
                        "Le remboursement de la facture."
                    } else {
                        "Ouvrir le capot."
                    };
                    entry(&format!("e{i}"), "Question", text)
                })
                .collect()
        };
        // A small KB: a few entries that speak of it in passing are not enough.
        assert!(!KbTopics::new(&speaking(4, 17)).is_topic("facture"));
        assert!(KbTopics::new(&speaking(5, 17)).is_topic("facture"));
        assert!(KbTopics::new(&speaking(5, 17)).is_topic("remboursé"));
        // A large one: 2 %, rounded up (11 of 519, 11 of 550).
        assert!(!KbTopics::new(&speaking(10, 519)).is_topic("facture"));
        assert!(KbTopics::new(&speaking(11, 519)).is_topic("facture"));
        assert!(!KbTopics::new(&speaking(10, 550)).is_topic("facture"));
        assert!(KbTopics::new(&speaking(11, 550)).is_topic("facture"));
        assert!(!KbTopics::new(&[]).is_topic("facture"));
    }

    #[test]
    fn the_count_agrees_with_each_entry_s_answer() {
        let entries = vec![
            entry("a", "Factures et devis", "Le tarif, les tarifs, remboursé."),
            entry("b", "Garantie", "Garantir, garantit; une facture."),
            entry("c", "Bourrage", "Ouvrir le capot."),
        ];
        let topics = KbTopics::new(&entries);
        for word in [
            "facture",
            "factures",
            "devis",
            "tarif",
            "tarifs",
            "rembourse",
            "garantie",
            "garantir",
            "capot",
            "capots",
            "bourrage",
            "prix",
            "Remboursement",
        ] {
            let speaking = entries.iter().filter(|e| speaks_of_stem(e, word)).count();
            assert_eq!(topics.entries_speaking_of(word), speaking, "{word}");
        }
    }

    #[test]
    fn an_entry_speaks_of_a_stem_in_what_it_is_about() {
        let e = entry(
            "generique",
            "Médicament générique : peut-on le refuser ?",
            "Le médicament est remboursé sur la base du tarif du générique.",
        );
        assert!(speaks_of_stem(&e, "rembourse"));
        assert!(speaks_of_stem(&e, "remboursement"));
        assert!(speaks_of_stem(&e, "tarifs"));
        assert!(!speaks_of_stem(&e, "tarification"));
        assert!(!speaks_of_stem(&e, "facture"));
    }
}
