//! The auto-answer decision. A wrong automatic answer costs more than an escalation, so
//! every doubt escalates, with the reason a support agent can act on.

use serde::{Deserialize, Serialize};

use crate::extract::signals::Signals;
use crate::extract::Extraction;
use crate::kb::topics::{speaks_of_stem, KbTopics};
use crate::kb::KbEntry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Auto,
    Escalate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The best entry does not clearly cover the message.
    LowConfidence,
    /// Nothing in the KB is about this (another product, another kind of request).
    OutOfScope,
    /// Billing, refunds, orders, quotes, contracts: never answered automatically.
    SensitiveCategory,
    /// The customer asked for a person.
    HumanRequested,
    /// Anger, threats to leave, repeated failures: a person should call back.
    ChurnRisk,
    /// A pipeline step failed (index not ready, ...): the ticket waits for a person.
    StepFailed,
    /// The message is in a language replies are not written in (neither French nor
    /// English): the entries found are the agent's, the reply a person's.
    UnsupportedLanguage,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::LowConfidence => "low_confidence",
            Reason::OutOfScope => "out_of_scope",
            Reason::SensitiveCategory => "sensitive_category",
            Reason::HumanRequested => "human_requested",
            Reason::ChurnRisk => "churn_risk",
            Reason::StepFailed => "step_failed",
            Reason::UnsupportedLanguage => "unsupported_language",
        }
    }
}

/// Thresholds, from the environment (`DEVICEKB_ANSWER_*`). The service replaces
/// `min_confidence` with the threshold each generation's calibration gives for the
/// target precision, unless one is configured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecisionConfig {
    /// Calibrated relevance the best entry needs.
    pub min_confidence: f32,
    /// How far ahead of the next entry (of another topic) it must be.
    pub min_margin: f32,
    /// Below this relevance the message is out of the KB's scope.
    pub out_of_scope_below: f32,
    /// Churn risk (0-100) from which a person takes over.
    pub churn_threshold: u8,
    /// When both retrievers found the best entry, neither may rank it below this: an
    /// entry only one of them likes is a coincidence of words or of topic.
    pub max_rank: usize,
}

impl Default for DecisionConfig {
    fn default() -> Self {
        DecisionConfig {
            // Only used when set explicitly (DEVICEKB_ANSWER_MIN_CONFIDENCE); otherwise
            // the generation's calibration gives the threshold.
            min_confidence: 0.7,
            min_margin: 0.0,
            out_of_scope_below: 0.1,
            churn_threshold: 60,
            max_rank: 5,
        }
    }
}

/// A retrieved entry with its calibrated relevance.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub entry: &'a KbEntry,
    pub relevance: f32,
    pub bm25_rank: Option<usize>,
    pub vector_rank: Option<usize>,
    /// A customer found this entry unhelpful for a message like this one.
    pub unhelpful_before: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub decision: Decision,
    pub reason: Option<Reason>,
    /// Calibrated probability that the best entry answers the message.
    pub confidence: f32,
    /// Why, in a few words, for the agent.
    pub notes: Vec<String>,
}

fn escalate(reason: Reason, confidence: f32, note: impl Into<String>) -> Verdict {
    Verdict {
        decision: Decision::Escalate,
        reason: Some(reason),
        confidence,
        notes: vec![note.into()],
    }
}

/// Does the best entry agree with what the extractor read? An extracted error code the
/// entry does not list, when the entry is about codes, means it answers another problem;
/// an entry for another model than the one named, another printer.
fn disagreement(extraction: &Extraction, entry: &KbEntry) -> Option<(bool, String)> {
    let entry_codes: Vec<String> = entry
        .error_codes
        .iter()
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let has_numbered_codes = entry_codes
        .iter()
        .any(|c| c.chars().any(|ch| ch.is_ascii_digit()));
    if has_numbered_codes && !extraction.error_codes.is_empty() {
        let agrees = extraction
            .error_codes
            .iter()
            .any(|c| entry_codes.contains(&c.to_ascii_lowercase()));
        if !agrees {
            return Some((
                false,
                format!(
                    "the message shows {} but the best entry is about {}",
                    extraction.error_codes.join(", "),
                    entry.error_codes.join(", ")
                ),
            ));
        }
    }
    if let Some(model) = &extraction.model {
        if !entry.models.is_empty() && !entry.models.iter().any(|m| m == model) {
            return Some((
                true,
                format!(
                    "the message is about {model}, the best entry about {}",
                    entry.models.join(", ")
                ),
            ));
        }
    }
    None
}

/// Words of a billing request that also mean something else in a device KB ("un avoir",
/// "le panneau de commande", "remise à zéro"): they never show that an entry covers it.
const AMBIGUOUS_MATTERS: &[&str] = &["avoir", "commande", "commandes", "remise", "order"];

/// Does the entry speak of the matter `words` name (their last word: "ma facture" speaks
/// of "facture")? Its title or tags name it as a whole word or its plural; or, for a
/// one-word matter, what the entry is about (title, symptoms, description; not its steps,
/// where "check the warranty" is an aside) has a word of the same stem, accents aside: a
/// FAQ entry on generic drugs that says "remboursé" answers "la sécu rembourse ?". A
/// phrase ("charged twice", "order number") counts by its title or tags alone: its last
/// word is not the matter.
fn entry_speaks_of(entry: &KbEntry, words: &str) -> bool {
    let Some(matter) = words.split_whitespace().last() else {
        return false;
    };
    let matter = matter.to_lowercase();
    if !countable(&matter) {
        return false;
    }
    let plural = format!("{matter}s");
    let named = std::iter::once(entry.title.as_str())
        .chain(entry.tags.iter().map(String::as_str))
        .any(|text| {
            text.to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| w == matter || w == plural)
        });
    let one_word = words.split_whitespace().count() == 1;
    named || (one_word && speaks_of_stem(entry, &matter))
}

/// Whether the KB as a whole speaks of the matter `words` name: a one-word matter that
/// enough of its entries are about (see `KbTopics`). A FAQ on money answers "la facture
/// des pompes funèbres" with the entry on a deceased parent's bank account, which never
/// says "facture"; a device KB, whose entries never speak of invoices, sends it to a person.
fn kb_speaks_of(topics: &KbTopics, words: &str) -> bool {
    let mut parts = words.split_whitespace();
    let (Some(matter), None) = (parts.next(), parts.next()) else {
        return false;
    };
    let matter = matter.to_lowercase();
    countable(&matter) && topics.is_topic(&matter)
}

/// Whether a lowercase one-word matter can show that an entry or the KB covers it: five
/// letters or more and not one of the words with another meaning in a device KB.
fn countable(matter: &str) -> bool {
    matter.chars().count() >= 5 && !AMBIGUOUS_MATTERS.contains(&matter)
}

/// The decision for one message. `model_known`: the KB has entries for the extracted
/// model; when it has none, an entry for another model means it has nothing on this printer.
/// `topics`: what the KB's entries are about, which tells a billing word that is the KB's
/// own matter from a request for the vendor.
pub fn decide(
    config: &DecisionConfig,
    signals: &Signals,
    extraction: &Extraction,
    model_known: bool,
    topics: &KbTopics,
    candidates: &[Candidate<'_>],
) -> Verdict {
    let best = candidates.first();
    let confidence = best.map_or(0.0, |c| c.relevance);
    if let Some(words) = &signals.human_requested {
        return escalate(
            Reason::HumanRequested,
            confidence,
            format!("asked for a person: \"{words}\""),
        );
    }
    // The patterns below read French and English, and no reply could be written in the
    // message's language.
    if let Some(language) = signals.unsupported_language {
        return escalate(
            Reason::UnsupportedLanguage,
            confidence,
            format!("the message is in {language}: replies are written in French or English"),
        );
    }
    // A customer about to leave comes before the billing question they may also ask.
    if signals.churn_risk >= config.churn_threshold {
        return escalate(
            Reason::ChurnRisk,
            confidence,
            format!(
                "churn risk {} ({})",
                signals.churn_risk,
                signals.churn_cues.join(", ")
            ),
        );
    }
    // A device error code makes it a technical ticket, even about "the invoices PDF".
    // A KB whose best entry, or whose entries commonly, are about the matter (a FAQ on
    // contracts or taxes) answers it like any other question.
    let covered = |words: &str| {
        best.is_some_and(|b| entry_speaks_of(b.entry, words)) || kb_speaks_of(topics, words)
    };
    if let (Some(words), true) = (&signals.sensitive, extraction.error_codes.is_empty()) {
        let billing = format!("billing or commercial request: \"{words}\"");
        if !covered(words) {
            return escalate(Reason::SensitiveCategory, confidence, billing);
        }
        // Answered only when the KB clearly answers it; otherwise it goes to a person as
        // the billing question it also is, whatever else held it back.
        let verdict = answerable(config, extraction, model_known, candidates);
        if verdict.decision == Decision::Escalate {
            let mut notes = vec![billing];
            notes.extend(verdict.notes);
            return Verdict {
                reason: Some(Reason::SensitiveCategory),
                notes,
                ..verdict
            };
        }
        return verdict;
    }
    answerable(config, extraction, model_known, candidates)
}

/// The decision once nothing routes the message to a person: does the best entry clearly
/// answer it?
fn answerable(
    config: &DecisionConfig,
    extraction: &Extraction,
    model_known: bool,
    candidates: &[Candidate<'_>],
) -> Verdict {
    let best = candidates.first();
    let confidence = best.map_or(0.0, |c| c.relevance);
    let Some(best) = best else {
        return escalate(Reason::OutOfScope, 0.0, "no KB entry matches");
    };
    if best.relevance < config.out_of_scope_below {
        return escalate(
            Reason::OutOfScope,
            confidence,
            format!("best entry relevance {:.2}", best.relevance),
        );
    }
    if let Some((other_model, why)) = disagreement(extraction, best.entry) {
        let reason = if other_model && !model_known {
            Reason::OutOfScope
        } else {
            Reason::LowConfidence
        };
        return escalate(reason, confidence, why);
    }
    if best.unhelpful_before {
        return escalate(
            Reason::LowConfidence,
            confidence,
            format!(
                "a customer found {} unhelpful for a message like this one",
                best.entry.id
            ),
        );
    }
    if let (Some(b), Some(v)) = (best.bm25_rank, best.vector_rank) {
        if b.max(v) > config.max_rank {
            return escalate(
                Reason::LowConfidence,
                confidence,
                format!(
                    "the retrievers disagree on {} (BM25 rank {b}, vector rank {v})",
                    best.entry.id
                ),
            );
        }
    }
    if !config.min_confidence.is_finite() {
        return escalate(
            Reason::LowConfidence,
            confidence,
            "this KB's calibration supports no automatic answer at the target precision",
        );
    }
    if best.relevance < config.min_confidence {
        return escalate(
            Reason::LowConfidence,
            confidence,
            format!(
                "best entry relevance {:.2} < {:.2}",
                best.relevance, config.min_confidence
            ),
        );
    }
    // The runner-up only counts against the best when it is about something else: two
    // entries on the same code or the same title are two ways of saying the same thing.
    let rival = candidates[1..].iter().find(|c| {
        c.entry
            .error_codes
            .iter()
            .all(|code| !best.entry.error_codes.contains(code))
            || best.entry.error_codes.is_empty()
    });
    if let Some(rival) = rival {
        let margin = best.relevance - rival.relevance;
        if margin < config.min_margin {
            return escalate(
                Reason::LowConfidence,
                confidence,
                format!(
                    "{} is as likely ({:.2} vs {:.2})",
                    rival.entry.id, rival.relevance, best.relevance
                ),
            );
        }
    }
    Verdict {
        decision: Decision::Auto,
        reason: None,
        confidence,
        notes: vec![format!(
            "{} answers it ({:.2})",
            best.entry.id, best.relevance
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_speaks_of_a_matter_its_title_tags_or_text_name() {
        let mut entry = KbEntry::sample(
            "generique",
            "Médicament générique : peut-on le refuser ?",
            "Si vous refusez le générique, le médicament est remboursé sur la base du tarif du générique.",
        );
        // The stem, accents aside, in what the entry is about.
        assert!(entry_speaks_of(&entry, "rembourse"));
        assert!(entry_speaks_of(&entry, "remboursement"));
        // A short word must appear whole (or plural); under five letters, never.
        assert!(entry_speaks_of(&entry, "tarifs"));
        assert!(!entry_speaks_of(&entry, "tarification"));
        assert!(!entry_speaks_of(&entry, "prix"));
        assert!(!entry_speaks_of(&entry, "devis"));
        assert!(!entry_speaks_of(&entry, "facture"));
        entry.tags = vec!["devis".into()];
        assert!(entry_speaks_of(&entry, "un devis"));
        // Steps are not what an entry is about: "check the warranty" there is an aside.
        entry.steps = vec!["Vérifier la garantie de l'imprimante".into()];
        assert!(!entry_speaks_of(&entry, "garantie"));
        // A phrase's last word is not its matter: only the title or tags count for it.
        entry.description = "Appuyez deux fois, twice, sur OK.".into();
        assert!(!entry_speaks_of(&entry, "charged twice"));
        // Words that mean other things in a device KB never count.
        entry.description = "Vérifiez la remise à zéro et la commande.".into();
        assert!(!entry_speaks_of(&entry, "remise"));
        assert!(!entry_speaks_of(&entry, "ma commande"));
    }

    /// A billing word the KB's entries commonly speak of is its matter, not a request for
    /// the vendor: answered when the best entry clearly answers, even if that entry does
    /// not use the word. On a KB that never speaks of it, it goes to a person.
    #[test]
    fn a_billing_word_the_kb_commonly_speaks_of_is_answered_like_any_question() {
        let best = KbEntry::sample(
            "compte-defunt",
            "Que devient le compte bancaire d'une personne décédée ?",
            "La banque bloque le compte dès qu'elle apprend le décès.",
        );
        let money_kb: Vec<KbEntry> = (0..20)
            .map(|i| {
                KbEntry::sample(
                    &format!("e{i}"),
                    "Frais",
                    "Qui paie la facture et à quel prix ? Une remise est-elle possible ?",
                )
            })
            .chain([best.clone()])
            .collect();
        let device_kb = vec![
            best.clone(),
            KbEntry::sample("jam", "Bourrage", "Ouvrir le capot avant."),
        ];
        let confident = Candidate {
            entry: &best,
            relevance: 0.95,
            bm25_rank: Some(1),
            vector_rank: Some(1),
            unhelpful_before: false,
        };
        let verdict = |words: &str, kb: &[KbEntry], relevance: f32| {
            let signals = Signals {
                sensitive: Some(words.into()),
                ..Signals::default()
            };
            let candidates = [Candidate {
                relevance,
                ..confident
            }];
            let topics = KbTopics::new(kb);
            let extraction = Extraction::default();
            decide(
                &DecisionConfig::default(),
                &signals,
                &extraction,
                true,
                &topics,
                &candidates,
            )
        };
        let answered = verdict("facture", &money_kb, 0.95);
        assert_eq!(answered.decision, Decision::Auto, "{answered:?}");
        let escalated = verdict("facture", &device_kb, 0.95);
        assert_eq!(escalated.decision, Decision::Escalate);
        assert_eq!(escalated.reason, Some(Reason::SensitiveCategory));
        // A phrase, a word under five letters or one with another meaning in a device KB
        // is never the KB's matter, however many entries say it.
        for words in ["ma facture", "prix", "remise"] {
            let v = verdict(words, &money_kb, 0.95);
            assert_eq!(v.reason, Some(Reason::SensitiveCategory), "{words}");
        }
        // Still a billing question when the KB does not clearly answer it.
        let weak = verdict("facture", &money_kb, 0.2);
        assert_eq!(weak.reason, Some(Reason::SensitiveCategory));
    }

    #[test]
    fn an_entry_found_unhelpful_for_a_like_message_is_not_answered_again() {
        let entry = KbEntry::sample("bac-vide", "Bac vide", "Remplir le bac 2.");
        let candidate = Candidate {
            entry: &entry,
            relevance: 0.95,
            bm25_rank: Some(1),
            vector_rank: Some(1),
            unhelpful_before: false,
        };
        let verdict = |candidate: Candidate<'_>| {
            decide(
                &DecisionConfig::default(),
                &Signals::default(),
                &Extraction::default(),
                true,
                &KbTopics::new(std::slice::from_ref(&entry)),
                &[candidate],
            )
        };
        assert_eq!(verdict(candidate).decision, Decision::Auto);
        let again = verdict(Candidate {
            unhelpful_before: true,
            ..candidate
        });
        assert_eq!(again.decision, Decision::Escalate);
        assert_eq!(again.reason, Some(Reason::LowConfidence));
        assert!(again.notes[0].contains("bac-vide unhelpful"), "{again:?}");
    }

    #[test]
    fn a_message_in_a_language_replies_are_not_written_in_goes_to_a_person() {
        let entry = KbEntry::sample("stau", "Papierstau", "Fach 2 öffnen.");
        let candidates = [Candidate {
            entry: &entry,
            relevance: 0.99,
            bm25_rank: Some(1),
            vector_rank: Some(1),
            unhelpful_before: false,
        }];
        let signals = crate::extract::signals::read(
            "Der Drucker druckt nicht mehr, auf dem Display steht Papierstau in Fach 2.",
        );
        assert_eq!(signals.unsupported_language, Some("German"));
        let topics = KbTopics::new(std::slice::from_ref(&entry));
        let decide_on = |signals: &Signals| {
            let config = DecisionConfig::default();
            decide(
                &config,
                signals,
                &Extraction::default(),
                true,
                &topics,
                &candidates,
            )
        };
        let verdict = decide_on(&signals);
        assert_eq!(verdict.reason, Some(Reason::UnsupportedLanguage));
        assert!(verdict.notes[0].contains("German"), "{verdict:?}");
        // The same evidence in a language replies are written in is answered.
        assert_eq!(decide_on(&Signals::default()).decision, Decision::Auto);
    }
}
