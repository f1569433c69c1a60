//! Ticket classification: a category and a priority for every ticket, and a churn-risk
//! score, each with a confidence. Three softmax regressions over the same features
//! (`features`), trained on the KB's labelled set `kb/training/tickets.jsonl`, which
//! support staff extend like any KB file; `devicekb eval classify` measures them by
//! cross-validation.
//!
//! Categories, after the earlier project's list: `technique` (the device misbehaves),
//! `consommables` (toner, drums, kits, paper: supplies and their ordering), `commande`
//! (buying devices, delivery, returns), `facturation` (invoices, payments, contracts),
//! `information` (questions, how-to, hours), `autre` (greetings, thanks, anything else).
//! Routing needs exactly these: technique goes to the KB, the rest to people or FAQs.

pub mod eval;
pub mod features;

use serde::{Deserialize, Serialize};

use crate::learn::{SoftmaxRegression, TrainOptions, Weighting};
pub use features::Evidence;
use features::Scaler;

use crate::kb::training::{LabelledTicket, CATEGORIES, CHURN_LEVELS, PRIORITIES};

/// Recorded with each prediction, so a stored label says which model made it.
pub const MODEL_NAME: &str = "softmax-embedding-words-cues";
pub const MODEL_VERSION: &str = "1";

/// Weight of the embedding block against the words and cues (tuned by cross-validation).
const EMBEDDING_WEIGHT: f32 = 4.0;

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
                Weighting::BalancedClasses,
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
