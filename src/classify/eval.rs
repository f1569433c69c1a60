//! The classifier's quality: cross-validated on a KB's labelled tickets (each predicted by
//! a model trained without it, k folds assigned by id so the split is the same on every
//! run), or on tickets written apart, predicted by the model trained on all of them.

use serde::Serialize;

use super::{Classification, Classifier, Evidence, LabelledTicket};

#[derive(Debug, Clone, Serialize)]
pub struct ClassFigures {
    pub class: String,
    pub support: usize,
    pub predicted: usize,
    pub precision: f64,
    /// The class's accuracy: the share of its tickets labelled right.
    pub recall: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskFigures {
    pub task: String,
    pub accuracy: f64,
    pub macro_recall: f64,
    pub classes: Vec<ClassFigures>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetentionFigures {
    pub threshold: u8,
    /// Tickets labelled high churn risk.
    pub high_risk: usize,
    pub flagged: usize,
    /// Flagged tickets that are high or medium risk.
    pub precision: f64,
    /// High-risk tickets that are flagged.
    pub recall: f64,
}

/// How the predictions were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// Each labelled ticket predicted by a model trained on the other folds.
    CrossValidation { folds: usize },
    /// Tickets written apart, predicted by the model trained on the KB's `trained_on`
    /// labelled tickets, as a live ticket is.
    HeldOut { trained_on: usize },
}

/// What is predicted of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Category,
    Priority,
    ChurnRisk,
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Category => "category",
            Task::Priority => "priority",
            Task::ChurnRisk => "churn_risk",
        }
    }
}

/// A ticket labelled one way and predicted another, for one task.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    pub id: String,
    pub task: Task,
    pub labelled: String,
    pub predicted: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassifyReport {
    pub tickets: usize,
    #[serde(flatten)]
    pub method: Method,
    pub category: TaskFigures,
    pub priority: TaskFigures,
    pub churn: TaskFigures,
    pub retention: RetentionFigures,
    /// Every wrong prediction, by task then ticket.
    pub misses: Vec<Miss>,
}

fn fold_of(id: &str, folds: usize) -> usize {
    (super::features::fnv1a(id.as_bytes()) % folds as u64) as usize
}

/// `part / whole`, 0 when there is nothing to divide.
fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Predicts every ticket with a model trained on the other folds.
pub fn cross_validate(
    tickets: &[LabelledTicket],
    evidence: &[Evidence],
    folds: usize,
) -> Vec<Classification> {
    let folds = folds.max(2);
    let mut predictions: Vec<Option<Classification>> = vec![None; tickets.len()];
    for fold in 0..folds {
        let (mut train_t, mut train_e) = (Vec::new(), Vec::new());
        for (t, e) in tickets.iter().zip(evidence) {
            if fold_of(&t.id, folds) != fold {
                train_t.push(t.clone());
                train_e.push(e.clone());
            }
        }
        let model = Classifier::train(&train_t, &train_e);
        for (i, (t, e)) in tickets.iter().zip(evidence).enumerate() {
            if fold_of(&t.id, folds) == fold {
                predictions[i] = Some(model.classify(e));
            }
        }
    }
    predictions.into_iter().flatten().collect()
}

fn task(name: &str, classes: &[&str], truth: &[&str], predicted: &[&str]) -> TaskFigures {
    let right = truth.iter().zip(predicted).filter(|(t, p)| t == p).count();
    let figures: Vec<ClassFigures> = classes
        .iter()
        .map(|class| {
            let support = truth.iter().filter(|t| *t == class).count();
            let guessed = predicted.iter().filter(|p| *p == class).count();
            let hits = truth
                .iter()
                .zip(predicted)
                .filter(|(t, p)| *t == class && *p == class)
                .count();
            ClassFigures {
                class: class.to_string(),
                support,
                predicted: guessed,
                precision: ratio(hits, guessed),
                recall: ratio(hits, support),
            }
        })
        .collect();
    let present: Vec<&ClassFigures> = figures.iter().filter(|f| f.support > 0).collect();
    TaskFigures {
        task: name.to_string(),
        accuracy: ratio(right, truth.len()),
        macro_recall: present.iter().map(|f| f.recall).sum::<f64>() / present.len().max(1) as f64,
        classes: figures,
    }
}

pub fn report(
    tickets: &[LabelledTicket],
    predictions: &[Classification],
    method: Method,
    retention_threshold: u8,
) -> ClassifyReport {
    let truth = |f: fn(&LabelledTicket) -> &str| tickets.iter().map(f).collect::<Vec<_>>();
    let category: Vec<&str> = predictions
        .iter()
        .map(|p| p.category.label.as_str())
        .collect();
    let priority: Vec<&str> = predictions
        .iter()
        .map(|p| p.priority.label.as_str())
        .collect();
    let churn: Vec<&str> = predictions
        .iter()
        .map(|p| p.churn_level.label.as_str())
        .collect();
    let flagged: Vec<bool> = predictions
        .iter()
        .map(|p| p.churn_risk >= retention_threshold)
        .collect();
    let high = tickets.iter().filter(|t| t.churn_risk == "high").count();
    let flagged_count = flagged.iter().filter(|f| **f).count();
    let flagged_at_risk = tickets
        .iter()
        .zip(&flagged)
        .filter(|(t, f)| **f && t.churn_risk != "low")
        .count();
    let high_flagged = tickets
        .iter()
        .zip(&flagged)
        .filter(|(t, f)| **f && t.churn_risk == "high")
        .count();
    let mut misses = Vec::new();
    for (name, predicted, label) in [
        (Task::Category, &category, truth(|t| &t.category)),
        (Task::Priority, &priority, truth(|t| &t.priority)),
        (Task::ChurnRisk, &churn, truth(|t| &t.churn_risk)),
    ] {
        for ((t, p), l) in tickets.iter().zip(predicted).zip(label) {
            if p != &l {
                misses.push(Miss {
                    id: t.id.clone(),
                    task: name,
                    labelled: l.to_string(),
                    predicted: p.to_string(),
                });
            }
        }
    }
    ClassifyReport {
        tickets: tickets.len(),
        method,
        category: task(
            "category",
            crate::kb::training::CATEGORIES,
            &truth(|t| &t.category),
            &category,
        ),
        priority: task(
            "priority",
            crate::kb::training::PRIORITIES,
            &truth(|t| &t.priority),
            &priority,
        ),
        churn: task(
            "churn_risk",
            crate::kb::training::CHURN_LEVELS,
            &truth(|t| &t.churn_risk),
            &churn,
        ),
        retention: RetentionFigures {
            threshold: retention_threshold,
            high_risk: high,
            flagged: flagged_count,
            precision: ratio(flagged_at_risk, flagged_count),
            recall: ratio(high_flagged, high),
        },
        misses,
    }
}

impl std::fmt::Display for ClassifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.method {
            Method::CrossValidation { folds } => writeln!(
                f,
                "{} labelled tickets, {folds}-fold cross-validation (each ticket predicted by a model that never saw it)",
                self.tickets
            )?,
            Method::HeldOut { trained_on } => writeln!(
                f,
                "{} tickets written apart, predicted by the model trained on the KB's {trained_on} labelled tickets",
                self.tickets
            )?,
        }
        for t in [&self.category, &self.priority, &self.churn] {
            writeln!(
                f,
                "\n{}: accuracy {:.3}, mean per-class accuracy {:.3}",
                t.task, t.accuracy, t.macro_recall
            )?;
            writeln!(
                f,
                "  {:<14} {:>7} {:>9} {:>9} {:>9}",
                "class", "tickets", "accuracy", "precision", "predicted"
            )?;
            for c in &t.classes {
                writeln!(
                    f,
                    "  {:<14} {:>7} {:>9.3} {:>9.3} {:>9}",
                    c.class, c.support, c.recall, c.precision, c.predicted
                )?;
            }
        }
        let r = &self.retention;
        writeln!(
            f,
            "\nretention flag (churn risk >= {}): {} flagged, precision {:.3} (medium or high risk), recall {:.3} of {} high-risk tickets",
            r.threshold, r.flagged, r.precision, r.recall, r.high_risk
        )
    }
}
