//! The labelled tickets file (`training/tickets.jsonl`): tickets with their category,
//! priority and churn risk, which the ticket classifier learns from. The product ships
//! its own set (compiled in); a KB's file extends it.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::kb::jsonl::{parse_lines, RecordProblem};

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
    let mut seen = std::collections::HashSet::new();
    parse_lines(
        text,
        file,
        Some("a labelled ticket"),
        |ticket: &LabelledTicket| {
            let mut problems: Vec<RecordProblem> = Vec::new();
            let checks: [(&'static str, &str, &[&str]); 3] = [
                ("category", &ticket.category, CATEGORIES),
                ("priority", &ticket.priority, PRIORITIES),
                ("churn_risk", &ticket.churn_risk, CHURN_LEVELS),
            ];
            for (field, value, allowed) in checks {
                if !allowed.contains(&value) {
                    problems.push((
                        Some(field),
                        format!("`{value}` is not one of {}", allowed.join(", ")),
                    ));
                }
            }
            if ticket.text().is_empty() {
                problems.push((
                    Some("description"),
                    "subject and description are both empty".into(),
                ));
            }
            if !seen.insert(ticket.id.clone()) {
                problems.push((Some("id"), format!("duplicate id `{}`", ticket.id)));
            }
            problems
        },
    )
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
