//! Ticket classification: a category and a priority for every ticket, and a churn-risk
//! score, each with a confidence. Three softmax regressions over the same features
//! (`features`), trained on the KB's labelled set `kb/training/tickets.jsonl`, which
//! support staff extend like any KB file; `devicekb eval-classify` measures them by
//! cross-validation.
//!
//! Categories, after the earlier project's list: `technique` (the device misbehaves),
//! `consommables` (toner, drums, kits, paper: supplies and their ordering), `commande`
//! (buying devices, delivery, returns), `facturation` (invoices, payments, contracts),
//! `information` (questions, how-to, hours), `autre` (greetings, thanks, anything else).
//! Routing needs exactly these: technique goes to the KB, the rest to people or FAQs.

pub mod eval;
pub mod features;
pub mod logreg;

use serde::{Deserialize, Serialize};

pub use features::Evidence;
use features::Scaler;
use logreg::{SoftmaxRegression, TrainOptions};

use crate::error::ValidationError;

/// The labelled set, relative to the KB directory.
pub const TRAINING_FILE: &str = "training/tickets.jsonl";
pub const CATEGORIES: &[&str] = &[
    "technique",
    "consommables",
    "commande",
    "facturation",
    "information",
    "autre",
];
pub const PRIORITIES: &[&str] = &["low", "medium", "high", "critical"];
pub const CHURN_LEVELS: &[&str] = &["low", "medium", "high"];
/// Recorded with each prediction, so a stored label says which model made it.
pub const MODEL_NAME: &str = "softmax-embedding-words-cues";
pub const MODEL_VERSION: &str = "1";

/// Weight of the embedding block against the words and cues (tuned by cross-validation).
const EMBEDDING_WEIGHT: f32 = 4.0;

/// One line of the labelled set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledTicket {
    pub id: String,
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub subject: String,
    pub description: String,
    pub category: String,
    pub priority: String,
    pub churn_risk: String,
}

impl LabelledTicket {
    /// Subject and description, as the pipeline reads a ticket.
    pub fn text(&self) -> String {
        ticket_text(&self.subject, &self.description)
    }
}

/// How the pipeline joins a ticket's subject and description.
pub fn ticket_text(subject: &str, description: &str) -> String {
    [subject.trim(), description.trim()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// The product's labelled set, compiled in: a KB without `training/tickets.jsonl`
/// classifies with it, and a KB's own set extends it (same id: the KB's ticket wins).
pub const BUILTIN_TRAINING: &str = include_str!("../../kb/training/tickets.jsonl");

/// The builtin labelled set extended by a KB's own tickets.
pub fn with_builtin_training(own: Vec<LabelledTicket>) -> Vec<LabelledTicket> {
    // A unit test parses the same text, so a broken file fails the tests first.
    let mut tickets = parse_training(BUILTIN_TRAINING, "builtin training set").unwrap_or_default();
    for ticket in own {
        match tickets.iter_mut().find(|t| t.id == ticket.id) {
            Some(slot) => *slot = ticket,
            None => tickets.push(ticket),
        }
    }
    tickets
}

/// Parses the labelled set; every bad line is reported with its number and field.
pub fn parse_training(
    text: &str,
    file: &str,
) -> std::result::Result<Vec<LabelledTicket>, Vec<ValidationError>> {
    let mut tickets = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let error = |line: usize, field: Option<&str>, message: String| ValidationError {
        file: file.to_string(),
        line: Some(line),
        field: field.map(str::to_string),
        message,
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let ticket: LabelledTicket = match serde_json::from_str(raw) {
            Ok(t) => t,
            Err(e) => {
                errors.push(error(line, None, format!("not a labelled ticket: {e}")));
                continue;
            }
        };
        let checks: [(&str, &str, &[&str]); 3] = [
            ("category", &ticket.category, CATEGORIES),
            ("priority", &ticket.priority, PRIORITIES),
            ("churn_risk", &ticket.churn_risk, CHURN_LEVELS),
        ];
        let mut ok = true;
        for (field, value, allowed) in checks {
            if !allowed.contains(&value) {
                errors.push(error(
                    line,
                    Some(field),
                    format!("`{value}` is not one of {}", allowed.join(", ")),
                ));
                ok = false;
            }
        }
        if ticket.text().is_empty() {
            errors.push(error(
                line,
                Some("description"),
                "subject and description are both empty".into(),
            ));
            ok = false;
        }
        if !seen.insert(ticket.id.clone()) {
            errors.push(error(
                line,
                Some("id"),
                format!("duplicate id `{}`", ticket.id),
            ));
            ok = false;
        }
        if ok {
            tickets.push(ticket);
        }
    }
    if errors.is_empty() {
        Ok(tickets)
    } else {
        Err(errors)
    }
}

/// A label with the model's probability for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    pub label: String,
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    pub category: Label,
    pub priority: Label,
    /// low, medium or high, with its probability.
    pub churn_level: Label,
    /// 0-100: the expected churn level (medium counts half), raised by explicit threats
    /// the rules saw even when the model has not learnt them.
    pub churn_risk: u8,
    pub churn_cues: Vec<String>,
}

/// The three trained models.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Classifier {
    scaler: Scaler,
    embedding_dim: usize,
    category: SoftmaxRegression,
    priority: SoftmaxRegression,
    churn: SoftmaxRegression,
    pub trained_on: usize,
}

impl Classifier {
    /// Trains on labelled tickets and their evidence (same order).
    pub fn train(tickets: &[LabelledTicket], evidence: &[Evidence]) -> Classifier {
        let embedding_dim = evidence.first().map_or(0, |e| e.embedding.len());
        let mut rows: Vec<Vec<f32>> = evidence.iter().map(features::row).collect();
        let scaler = Scaler::fit(&rows, embedding_dim, EMBEDDING_WEIGHT);
        rows.iter_mut().for_each(|r| scaler.apply(r));
        let fit = |classes: &[&str], label: fn(&LabelledTicket) -> &str| {
            let y: Vec<usize> = tickets
                .iter()
                .map(|t| {
                    classes
                        .iter()
                        .position(|c| *c == label(t))
                        .unwrap_or_default()
                })
                .collect();
            SoftmaxRegression::train(
                classes.iter().map(|c| c.to_string()).collect(),
                &rows,
                &y,
                TrainOptions::default(),
            )
        };
        Classifier {
            category: fit(CATEGORIES, |t| &t.category),
            priority: fit(PRIORITIES, |t| &t.priority),
            churn: fit(CHURN_LEVELS, |t| &t.churn_risk),
            scaler,
            embedding_dim,
            trained_on: tickets.len(),
        }
    }

    pub fn classify(&self, evidence: &Evidence) -> Classification {
        let mut row = features::row(evidence);
        if evidence.embedding.len() == self.embedding_dim {
            self.scaler.apply(&mut row);
        }
        let label = |model: &SoftmaxRegression| {
            let (i, p) = model.predict(&row);
            Label {
                label: model.classes[i].clone(),
                confidence: p,
            }
        };
        let churn_probs = self.churn.probabilities(&row);
        let learnt = 100.0 * (0.5 * churn_probs[1] + churn_probs[2]);
        let churn_risk = learnt.max(f32::from(evidence.signals.churn_risk) * 0.8);
        Classification {
            category: label(&self.category),
            priority: label(&self.priority),
            churn_level: label(&self.churn),
            churn_risk: churn_risk.round().clamp(0.0, 100.0) as u8,
            churn_cues: evidence.signals.churn_cues.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_training_parses_and_a_kb_extends_it() {
        let builtin = parse_training(BUILTIN_TRAINING, "tickets.jsonl").unwrap();
        assert!(builtin.len() >= 200);
        let first = builtin[0].clone();
        let mut replaced = first.clone();
        replaced.category = "autre".into();
        let mut added = first.clone();
        added.id = "kb-own-1".into();
        let merged = with_builtin_training(vec![replaced.clone(), added]);
        assert_eq!(merged.len(), builtin.len() + 1);
        assert_eq!(merged[0], replaced);
        assert!(with_builtin_training(Vec::new()).len() == builtin.len());
    }
}
