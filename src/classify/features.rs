//! What the classifier looks at: the message's embedding (meaning), its words (hashed
//! bag of word stems, for the vocabulary a small labelled set can teach) and what the
//! pipeline already found (extracted codes and model, churn and billing signals, the
//! category of the KB entry retrieval put first, urgency cues).

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::kb::lang::fold;

use crate::extract::signals::Signals;

/// Buckets of the hashed bag of words.
const WORD_BUCKETS: usize = 1024;
/// Word stems are their first letters: crude, but it joins "imprimante"/"imprimantes"
/// and "factures"/"facturation" in French and English alike.
const STEM_CHARS: usize = 6;

/// Everything the pipeline knows about a message when it classifies it.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// Subject and description.
    pub text: String,
    /// The query embedding of the cleaned text (the one retrieval used).
    pub embedding: Vec<f32>,
    pub has_error_code: bool,
    pub has_model: bool,
    pub has_serial: bool,
    pub signals: Signals,
    /// Category and calibrated relevance of the best retrieved KB entry.
    pub top_entry: Option<(String, f32)>,
}

fn re(pattern: &str) -> Regex {
    Regex::new(&format!("(?i){pattern}")).expect("cue pattern compiles")
}

static URGENT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:urgent\w*|urgence|asap|au plus vite|dès que possible|immédiat\w*|immediately|right away|critical|critique|emergency)\b",
    )
});

static BLOCKING: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:production (?:arrêtée|bloquée|à l'arrêt)|(?:tout|toute) (?:l'équipe|le service|le bureau|le personnel|la boîte|l'entreprise|le magasin|l'agence)|personne ne peut|plus personne|plus aucune? (?:impression|imprimante)|aucune impression|bloque tout|tout est bloqué|nous sommes bloqués|on est bloqués|(?:whole|entire) (?:office|team|company|floor)|nobody can|no one can|all (?:users|staff)|everyone|completely down|production (?:stopped|halted|down)|can't (?:print|work) at all|impossible de travailler)\b",
    )
});

static DEADLINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:avant (?:demain|ce soir|midi|lundi|la fin de (?:la )?journée|\d{1,2}\s?h)|aujourd'hui|ce matin|cet après-midi|deadline|by (?:tomorrow|tonight|noon|monday|end of day)|today|this (?:morning|afternoon)|échéance|clients? (?:attend|waiting))\b",
    )
});

/// A device that may hurt someone or catch fire: whatever else the message says, a person
/// must act now. Each phrase ties the hazard to what is happening ("smoke coming out", "ça
/// sent le brûlé"), so a smoke detector, a smoke test or a budget "parti en fumée" is not
/// one.
static SAFETY: LazyLock<Regex> = LazyLock::new(|| {
    // Read in the folded text (lower case, no accents): SMS often have none.
    re(concat!(
        r"\b(?:(?:de la |une )?fumee (?:sort|sortait|s'echappe|s'echappait|qui sort|blanche|noire)",
        r"|(?:sort|sortait|s'echappe|s'echappait|sortir) de la fumee",
        r"|(?:imprimante|copieur|machine|photocopieur|elle|il|ca) (?:fume|fumait|a fume|s'est mise? a fumer)",
        r"|odeur (?:de |d')(?:brule|crame|roussi|plastique fondu|fumee)",
        r"|sent(?:ait)? (?:le |fort le )?(?:brule|crame|roussi)",
        r"|etincelles? (?:sort|sortent|dans|a l'interieur|derriere|au niveau|a la prise)|des etincelles sortent",
        r"|court-circuit|decharge electrique|pris (?:une decharge|le jus|un coup de jus)",
        r"|a pris feu|prend feu|des flammes",
        r"|smoke (?:is |was )?(?:coming|came|pouring|rising)|(?:is|was|started|it's|its) smoking",
        r"|burning (?:smell|plastic|odou?r)|burnt (?:smell|plastic)|burned smell|smells? (?:of )?(?:burn\w*|hot plastic)",
        r"|sparks? (?:from|coming|inside|flew|flying)|sparking",
        r"|electric(?:al)? shock|caught fire|flames)\b",
    ))
});

static NOT_URGENT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:pas urgent|rien d'urgent|aucune urgence|quand vous (?:pourrez|aurez|avez)|à l'occasion|pas pressé|no rush|not urgent|no hurry|when you (?:can|get a chance|have time)|simple question|petite question|juste une question|just (?:a question|wondering|curious)|par curiosité|pour information)\b",
    )
});

/// Index of each cue in the feature vector, after the embedding and the words.
const CUES: usize = 21;

/// Turns evidence into the classifier's input row. `dim` is the embedding width the model
/// was trained with; a different embedding gives a row of another width, which the model
/// refuses rather than misreads.
pub fn row(evidence: &Evidence) -> Vec<f32> {
    let mut row = Vec::with_capacity(evidence.embedding.len() + WORD_BUCKETS + CUES);
    row.extend_from_slice(&evidence.embedding);
    row.extend(words(&evidence.text));
    let s = &evidence.signals;
    let has_cue = |name: &str| f32::from(u8::from(s.churn_cues.iter().any(|c| c == name)));
    let text = evidence.text.as_str();
    let flag = |b: bool| f32::from(u8::from(b));
    let (top_category, top_relevance) = evidence
        .top_entry
        .as_ref()
        .map_or(("", 0.0), |(c, r)| (c.as_str(), *r));
    let exclamations = text.matches('!').count().min(5) as f32 / 5.0;
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    let upper = letters.iter().filter(|c| c.is_uppercase()).count() as f32;
    let shouting = flag(letters.len() >= 20 && upper / letters.len() as f32 > 0.5);
    row.extend([
        flag(URGENT.is_match(text)),
        flag(BLOCKING.is_match(text)),
        flag(DEADLINE.is_match(text)),
        flag(NOT_URGENT.is_match(text)),
        flag(SAFETY.is_match(&fold(text))),
        flag(evidence.has_error_code),
        flag(evidence.has_model),
        flag(evidence.has_serial),
        f32::from(s.churn_risk) / 100.0,
        has_cue("cancel"),
        has_cue("competitor"),
        has_cue("anger"),
        has_cue("repeated"),
        has_cue("legal"),
        flag(s.sensitive.is_some()),
        flag(s.human_requested.is_some()),
        top_relevance,
        top_relevance * flag(matches!(top_category, "supplies" | "maintenance")),
        top_relevance * flag(!matches!(top_category, "" | "supplies" | "general")),
        exclamations,
        shouting,
    ]);
    row
}

/// Hashed presence of each word stem, scaled to unit length so a long email does not
/// outweigh the embedding.
fn words(text: &str) -> Vec<f32> {
    let mut buckets = vec![0.0f32; WORD_BUCKETS];
    let folded = fold(text);
    for word in folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3 && !w.chars().all(|c| c.is_ascii_digit()))
    {
        let stem: String = word.chars().take(STEM_CHARS).collect();
        buckets[(fnv1a(stem.as_bytes()) % WORD_BUCKETS as u64) as usize] = 1.0;
    }
    let norm = buckets.iter().sum::<f32>().sqrt();
    if norm > 0.0 {
        buckets.iter_mut().for_each(|b| *b /= norm);
    }
    buckets
}

/// FNV-1a: a stable hash (the same on every run and machine, unlike std's).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// The embedding block is centred and scaled on the training set, because sentence
/// embeddings share a large common direction that would otherwise swamp the rest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scaler {
    mean: Vec<f32>,
    scale: f32,
    /// Weight of the embedding block relative to words and cues.
    weight: f32,
}

impl Scaler {
    pub fn fit(rows: &[Vec<f32>], embedding_dim: usize, weight: f32) -> Scaler {
        let n = rows.len().max(1) as f32;
        let mut mean = vec![0.0f32; embedding_dim];
        for row in rows {
            for (m, x) in mean.iter_mut().zip(&row[..embedding_dim]) {
                *m += x / n;
            }
        }
        let mean_norm = rows
            .iter()
            .map(|row| {
                row[..embedding_dim]
                    .iter()
                    .zip(&mean)
                    .map(|(x, m)| (x - m) * (x - m))
                    .sum::<f32>()
                    .sqrt()
            })
            .sum::<f32>()
            / n;
        Scaler {
            mean,
            scale: if mean_norm > 0.0 {
                1.0 / mean_norm
            } else {
                1.0
            },
            weight,
        }
    }

    pub fn apply(&self, row: &mut [f32]) {
        let weight = self.scale * self.weight;
        for (x, m) in row.iter_mut().zip(&self.mean) {
            *x = (*x - m) * weight;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SAFETY;
    use crate::kb::lang::fold;

    #[test]
    fn a_hazard_is_read_and_its_words_elsewhere_are_not() {
        let hazards = [
            "l'imprimante fume depuis ce matin",
            "Il sort de la fumée du copieur, on l'a débranché",
            "ça sent le brûlé à côté de la Ricoh",
            "odeur de plastique fondu près du four",
            "des étincelles sortent de l'arrière",
            "our printer is smoking, we unplugged it",
            "smoke coming out of the back of the HP",
            "there is a burning smell near the copier",
            "a colleague got an electric shock from the machine",
            "Fumee qui sort du copieur au 3e !!",
            "Ma collegue a pris une decharge en touchant l imprimante",
        ];
        for text in hazards {
            assert!(SAFETY.is_match(&fold(text)), "{text}");
        }
        let innocent = [
            "question sur mon détecteur de fumée",
            "notre budget part en fumée avec ces cartouches",
            "votre technicien a fait des étincelles, merci !",
            "le livreur fume devant l'entrée",
            "we ran a smoke test after the firmware update",
            "got a shock when I saw this month's invoice",
            "scans never reach my Spark inbox",
            "our sales team is on fire",
            "No smoke, no smell, just a grinding noise",
            "légère odeur de chaud mais les impressions sortent",
        ];
        for text in innocent {
            assert!(!SAFETY.is_match(&fold(text)), "{text}");
        }
    }
}
