//! The auto-answer decision on a labelled set: automatic-answer precision, coverage and
//! escalation reasons, and the precision/coverage curve over the confidence threshold.
//!
//! The set is JSON Lines: `{"id", "text", "lang"?, "covered": bool, "relevant": [entry
//! ids], "expected": "auto"|"escalate", "reason": null|"out_of_scope"|...|"smalltalk"}`.
//! An automatic answer is right when it cites a relevant entry, or when it is a canned
//! reply to small talk; any other automatic answer is wrong.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Answer, Decision, Responder};
use crate::error::Result;

#[derive(Debug, Clone, Deserialize)]
pub struct LabelledMessage {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub lang: Option<String>,
    pub covered: bool,
    #[serde(default)]
    pub relevant: Vec<String>,
    pub expected: String,
    #[serde(default)]
    pub reason: Option<String>,
}

pub fn load(path: &Path) -> Result<Vec<LabelledMessage>> {
    crate::kb::jsonl::load(path)
}

/// What the system did with one message, with the threshold left open.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: String,
    pub covered: bool,
    pub expected: String,
    pub expected_reason: Option<String>,
    /// Auto before the confidence threshold (every other check applied).
    pub auto_before_threshold: bool,
    pub smart: bool,
    pub confidence: f32,
    pub cited: Option<String>,
    /// The cited entry is relevant, or a canned reply answered small talk.
    pub right: bool,
    pub reason: Option<String>,
    pub notes: Vec<String>,
}

pub fn outcome(m: &LabelledMessage, a: &Answer) -> Outcome {
    let smart = a.responder == Some(Responder::Smart);
    let cited = a.citations.first().map(|c| c.kb_id.clone());
    let right = if smart {
        m.reason.as_deref() == Some("smalltalk") || (m.expected == "auto" && !m.covered)
    } else {
        cited.as_ref().is_some_and(|c| m.relevant.contains(c))
    };
    Outcome {
        id: m.id.clone(),
        covered: m.covered,
        expected: m.expected.clone(),
        expected_reason: m.reason.clone(),
        auto_before_threshold: a.decision == Decision::Auto,
        smart,
        confidence: a.confidence,
        cited,
        right,
        reason: a.reason.map(|r| r.as_str().to_string()),
        notes: a.notes.clone(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub threshold: f32,
    pub auto: usize,
    pub right: usize,
    /// Right automatic answers / automatic answers.
    pub precision: f64,
    /// Automatic answers / messages.
    pub coverage: f64,
    /// Right automatic answers to covered messages / covered messages.
    pub covered_recall: f64,
}

pub fn auto_at(o: &Outcome, threshold: f32) -> bool {
    o.auto_before_threshold && (o.smart || o.confidence >= threshold)
}

pub fn point(outcomes: &[Outcome], threshold: f32) -> Point {
    let autos: Vec<&Outcome> = outcomes.iter().filter(|o| auto_at(o, threshold)).collect();
    let right = autos.iter().filter(|o| o.right).count();
    let covered = outcomes.iter().filter(|o| o.covered).count();
    let covered_right = autos.iter().filter(|o| o.right && o.covered).count();
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    Point {
        threshold,
        auto: autos.len(),
        right,
        precision: ratio(right, autos.len()),
        coverage: ratio(autos.len(), outcomes.len()),
        covered_recall: ratio(covered_right, covered),
    }
}

/// Thresholds 0.00, 0.01, ..., 1.00.
pub fn curve(outcomes: &[Outcome]) -> Vec<Point> {
    (0..=100)
        .map(|i| point(outcomes, i as f32 / 100.0))
        .collect()
}

/// The lowest threshold (most coverage) whose precision reaches `target`.
pub fn choose(curve: &[Point], target: f64) -> Option<&Point> {
    curve.iter().find(|p| p.precision >= target && p.auto > 0)
}

/// Escalation reasons at `threshold`, and how many match the labelled reason.
pub fn reasons(outcomes: &[Outcome], threshold: f32) -> BTreeMap<String, (usize, usize)> {
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| !auto_at(o, threshold)) {
        let reason = o.reason.clone().unwrap_or_else(|| "low_confidence".into());
        let e = out.entry(reason.clone()).or_default();
        e.0 += 1;
        let labelled = o.expected_reason.as_deref();
        let agrees = labelled == Some(reason.as_str())
            || (matches!(reason.as_str(), "low_confidence" | "out_of_scope")
                && matches!(labelled, Some("low_confidence" | "out_of_scope")));
        if agrees {
            e.1 += 1;
        }
    }
    out
}
