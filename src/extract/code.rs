//! Error codes: every code-shaped match of the rules' formats, kept only when its
//! surroundings say it is a code ("la C750 affiche 88") and not a quantity, a room, a
//! ticket or a version ("88 pages", "salle 201", "Windows 10").

use std::collections::HashSet;

use super::context::{
    is_connector, is_cue, is_trap_code_phrase, is_trap_prefix, is_unit, is_weak_prefix, word_after,
    words_before,
};
use super::model::ModelMention;
use super::rules::{CodeContext, CodeFormat, CodeNormalize, Rules};

#[derive(Debug, Clone, PartialEq)]
pub struct CodeMention {
    pub start: usize,
    pub end: usize,
    pub normalized: String,
    pub confidence: f32,
    /// Makers whose devices print this format.
    pub manufacturers: Vec<String>,
}

/// What the code finder knows of the rest of the text.
pub struct CodeScope<'a> {
    pub makers: &'a [&'a str],
    pub models: &'a [ModelMention],
    /// Spans already taken by models and serials.
    pub taken: &'a [(usize, usize)],
    /// Codes the KB says the mentioned models show.
    pub known: &'a [&'a HashSet<String>],
}

pub fn normalize(format: &CodeFormat, raw: &str) -> String {
    match format.normalize {
        CodeNormalize::UpperCompact => raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase(),
        CodeNormalize::Hex => {
            let digits = &raw[2..];
            if digits.len() >= 8 {
                format!("0x{}", digits.to_ascii_lowercase())
            } else {
                format!("0x{}", digits.to_ascii_uppercase())
            }
        }
        CodeNormalize::Asis => raw.to_string(),
    }
}

/// Is the match part of a longer token ("4514-420", "10.1000" for "10")?
fn glued(text: &str, start: usize, end: usize) -> bool {
    let bytes = text.as_bytes();
    let joiner = |b: u8| matches!(b, b'-' | b'.' | b'/' | b'_' | b',');
    let before = start >= 2 && joiner(bytes[start - 1]) && bytes[start - 2].is_ascii_alphanumeric();
    let after =
        end + 1 < bytes.len() && joiner(bytes[end]) && bytes[end + 1].is_ascii_alphanumeric();
    before || after
}

struct Candidate<'a> {
    start: usize,
    end: usize,
    format: &'a CodeFormat,
}

/// Error codes in `text` (already masked), in order of appearance.
pub fn find(text: &str, original: &str, rules: &Rules, scope: &CodeScope<'_>) -> Vec<CodeMention> {
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    for (index, start, end) in rules.code_any.find_iter(text) {
        if scope.taken.iter().any(|&(s, e)| start < e && s < end) || glued(text, start, end) {
            continue;
        }
        candidates.push(Candidate {
            start,
            end,
            format: &rules.codes[index],
        });
    }
    // The first format listed wins a span ("E000007-0000" before "E\d").
    candidates.sort_by_key(|c| c.start);
    let mut accepted: Vec<CodeMention> = Vec::new();
    for c in candidates {
        if accepted.iter().any(|a| c.start < a.end && a.start < c.end) {
            continue;
        }
        let raw = &text[c.start..c.end];
        let normalized = normalize(c.format, raw);
        if let Some(confidence) = judge(text, original, &c, &normalized, scope, &accepted) {
            accepted.push(CodeMention {
                start: c.start,
                end: c.end,
                normalized,
                confidence,
                manufacturers: c.format.manufacturers.clone(),
            });
        }
    }
    accepted
}

/// The confidence of a candidate, or `None` when it is not an error code.
fn judge(
    text: &str,
    original: &str,
    c: &Candidate<'_>,
    normalized: &str,
    scope: &CodeScope<'_>,
    accepted: &[CodeMention],
) -> Option<f32> {
    let format = c.format;
    if format.context == CodeContext::Anywhere {
        return Some(0.95);
    }
    let before = words_before(text, c.start, 6);
    let (after, after_char) = word_after(text, c.end);

    // Refusals: a unit after, a trap word right before.
    let nearest = before.first();
    let adjacent = |w: &super::context::Word| {
        text[w.end..c.start]
            .chars()
            .all(|ch| ch.is_whitespace() || ch == ':' || ch == '#')
    };
    let in_list = accepted
        .last()
        .is_some_and(|a| a.end <= c.start && only_glue(&text[a.end..c.start]));
    // "message 88 toner noir bas" is a panel message; "3 toners" a quantity.
    let cue = before.iter().any(|w| is_cue(&w.lower));
    let announced = in_list || cue;
    let capitalised =
        |w: &super::context::Word| original[w.start..].starts_with(|ch: char| ch.is_uppercase());
    if after
        .as_ref()
        .is_some_and(|w| is_unit(&w.lower, capitalised(w) || announced))
        || matches!(after_char, Some('%' | '€' | '$' | '£' | '°'))
    {
        return None;
    }
    // "Client : 093-912" in a transcript is who speaks, not a customer number.
    let speaker = |w: &super::context::Word| {
        text[w.end..].starts_with([':', ' ']) && text[w.end..].trim_start().starts_with(':') && {
            let line_start = text[..w.start].rfind('\n').map_or(0, |i| i + 1);
            text[line_start..w.start].trim().is_empty()
        }
    };
    if let Some(w) = nearest {
        if adjacent(w) && is_trap_prefix(&w.lower) && !speaker(w) {
            return None;
        }
    }
    if is_trap_code_phrase(&before) {
        return None;
    }
    let bare_number = normalized.chars().all(|ch| ch.is_ascii_digit());
    if bare_number {
        if let Some(w) = nearest {
            // "bloquée sur 201": the preposition belongs to the cue.
            let after_cue = before.get(1).is_some_and(|b| is_cue(&b.lower));
            if adjacent(w)
                && ((is_weak_prefix(&w.lower) && !after_cue)
                    || scope
                        .makers
                        .iter()
                        .any(|m| m.eq_ignore_ascii_case(&w.lower)))
            {
                return None;
            }
        }
        if normalized.len() == 4 && (1990..=2039).contains(&normalized.parse::<u32>().unwrap_or(0))
        {
            return None;
        }
    }

    // Signals.
    let maker = format
        .manufacturers
        .iter()
        .any(|m| scope.makers.contains(&m.as_str()));
    let panel_message = after
        .as_ref()
        .is_some_and(|w| capitalised(w) && w.lower.chars().all(char::is_alphabetic))
        || after_char == Some('(');
    let after_model = scope
        .models
        .iter()
        .filter(|m| m.end <= c.start)
        .max_by_key(|m| m.end)
        .is_some_and(|m| only_glue(&text[m.end..c.start]));
    let known = scope.known.iter().any(|k| k.contains(normalized))
        || accepted.iter().any(|a| a.normalized == normalized);

    match format.context {
        CodeContext::Anywhere => Some(0.95),
        CodeContext::MakerOrCue => match (maker, cue || panel_message || after_model || in_list) {
            (true, true) => Some(0.92),
            (true, false) => Some(0.8),
            (false, true) => Some(0.75),
            (false, false) => None,
        },
        CodeContext::MakerAndCue => {
            if !maker {
                return None;
            }
            if known && (cue || panel_message || after_model || in_list) {
                Some(0.92)
            } else if cue || panel_message || in_list || after_model {
                Some(0.82)
            } else if known {
                Some(0.7)
            } else {
                None
            }
        }
    }
}

/// Only punctuation and list words between two things ("241 puis 242, parfois 201").
fn only_glue(between: &str) -> bool {
    between.len() <= 40
        && between
            .split(|ch: char| !(ch.is_alphanumeric() || ch == '\''))
            .filter(|w| !w.is_empty())
            .all(|w| is_connector(&w.to_lowercase()))
}
