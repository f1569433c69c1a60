//! Extraction quality on a labelled set: precision and recall per field.
//!
//! The set is JSON Lines: `{"id", "text", "lang"?, "kind"?, "expected": {"model",
//! "manufacturer", "error_codes", "serial"}}`. Models compare by catalogue key (case,
//! spaces and dashes ignored: "M404DN" = "M404dn"), serials case-insensitively, error
//! codes exactly as normalised. Codes count one by one; the other fields count once per
//! message: a wrong value is both a false positive and a false negative.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Extraction, Extractor};
use crate::error::Result;
use crate::kb::catalogue::model_key;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Expected {
    pub model: Option<String>,
    pub manufacturer: Option<String>,
    #[serde(default)]
    pub error_codes: Vec<String>,
    pub serial: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LabelledMessage {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    pub expected: Expected,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    fn add_single(
        &mut self,
        predicted: Option<&str>,
        expected: Option<&str>,
        same: impl Fn(&str, &str) -> bool,
    ) -> bool {
        match (predicted, expected) {
            (Some(p), Some(e)) if same(p, e) => {
                self.tp += 1;
                true
            }
            (None, None) => true,
            (p, e) => {
                self.fp += usize::from(p.is_some());
                self.fn_ += usize::from(e.is_some());
                false
            }
        }
    }
}

/// No prediction and no truth is a perfect score, not a division by zero.
fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        1.0
    } else {
        num as f64 / den as f64
    }
}

/// One message the extractor got wrong, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    pub id: String,
    pub fields: Vec<&'static str>,
    pub text: String,
    pub expected: Expected,
    pub got: Expected,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub messages: usize,
    pub fields: BTreeMap<&'static str, Counts>,
    /// Trap messages (nothing to find) on which something was found anyway.
    pub traps: usize,
    pub traps_with_findings: usize,
    pub misses: Vec<Miss>,
}

pub fn load_messages(path: &Path) -> Result<Vec<LabelledMessage>> {
    crate::kb::jsonl::load(path)
}

fn got(x: &Extraction) -> Expected {
    Expected {
        model: x.model.clone(),
        manufacturer: x.manufacturer.clone(),
        error_codes: x.error_codes.clone(),
        serial: x.serial.clone(),
    }
}

pub fn evaluate(extractor: &Extractor, messages: &[LabelledMessage]) -> Report {
    let mut report = Report {
        messages: messages.len(),
        ..Default::default()
    };
    for name in ["model", "manufacturer", "error_codes", "serial"] {
        report.fields.insert(name, Counts::default());
    }
    for m in messages {
        let x = extractor.extract(&m.text);
        let e = &m.expected;
        let mut wrong = Vec::new();
        let fields = &mut report.fields;
        let same_model = |a: &str, b: &str| model_key(a) == model_key(b);
        let same_text = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        if !fields.get_mut("model").expect("field").add_single(
            x.model.as_deref(),
            e.model.as_deref(),
            same_model,
        ) {
            wrong.push("model");
        }
        if !fields.get_mut("manufacturer").expect("field").add_single(
            x.manufacturer.as_deref(),
            e.manufacturer.as_deref(),
            same_text,
        ) {
            wrong.push("manufacturer");
        }
        if !fields.get_mut("serial").expect("field").add_single(
            x.serial.as_deref(),
            e.serial.as_deref(),
            same_text,
        ) {
            wrong.push("serial");
        }
        let codes = fields.get_mut("error_codes").expect("field");
        let mut codes_right = true;
        for c in &x.error_codes {
            if e.error_codes.contains(c) {
                codes.tp += 1;
            } else {
                codes.fp += 1;
                codes_right = false;
            }
        }
        for c in &e.error_codes {
            if !x.error_codes.contains(c) {
                codes.fn_ += 1;
                codes_right = false;
            }
        }
        if !codes_right {
            wrong.push("error_codes");
        }
        let trap = e.model.is_none()
            && e.manufacturer.is_none()
            && e.error_codes.is_empty()
            && e.serial.is_none();
        if trap {
            report.traps += 1;
            if x.model.is_some()
                || x.manufacturer.is_some()
                || !x.error_codes.is_empty()
                || x.serial.is_some()
            {
                report.traps_with_findings += 1;
            }
        }
        if !wrong.is_empty() {
            report.misses.push(Miss {
                id: m.id.clone(),
                fields: wrong,
                text: m.text.clone(),
                expected: e.clone(),
                got: got(&x),
            });
        }
    }
    report
}
