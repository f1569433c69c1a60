//! Rules every KB entry must follow beyond its TOML shape. Each broken rule becomes one
//! `ValidationError` naming the file, the line of the field when it can be found, and the field.

use std::sync::LazyLock;

use regex::Regex;

use super::catalogue::Catalogue;
use super::entry::KbEntry;
use crate::error::ValidationError;

static SLUG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9._-]*$").expect("valid regex"));

pub const MAX_ID_LEN: usize = 100;
pub const MAX_TITLE_LEN: usize = 1000;

pub fn is_valid_id(id: &str) -> bool {
    id.len() <= MAX_ID_LEN && SLUG.is_match(id)
}

/// Line (1-based) where `field = ...` is written in a TOML text, if it is.
pub fn field_line(text: &str, field: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            line.strip_prefix(field)
                .map(|rest| rest.trim_start().starts_with('='))
                .unwrap_or(false)
        })
        .map(|i| i + 1)
}

/// Checks one parsed entry. `file_stem` is the file's name without `.toml`; `text` its content.
pub fn validate_entry(
    entry: &KbEntry,
    file: &str,
    file_stem: Option<&str>,
    text: &str,
    catalogue: &Catalogue,
) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: String| {
        errors.push(ValidationError {
            file: file.to_string(),
            line: field_line(text, field),
            field: Some(field.to_string()),
            message,
        })
    };

    if !is_valid_id(&entry.id) {
        fail(
            "id",
            format!(
                "`{}` is not a valid id (letters, digits, `.`, `_` and `-`, starting with a letter or digit, at most {MAX_ID_LEN} characters)",
                entry.id
            ),
        );
    } else if let Some(stem) = file_stem {
        if stem != entry.id {
            fail(
                "id",
                format!("id `{}` must equal the file name `{stem}.toml`", entry.id),
            );
        }
    }
    if entry.title.trim().is_empty() {
        fail("title", "must not be empty".into());
    } else if entry.title.chars().count() > MAX_TITLE_LEN {
        fail("title", format!("longer than {MAX_TITLE_LEN} characters"));
    }
    if entry.description.trim().is_empty() {
        fail("description", "must not be empty".into());
    }
    if entry.source.trim().is_empty() {
        fail(
            "source",
            "must name the public fact the entry rests on".into(),
        );
    }
    for (name, list) in [
        ("steps", &entry.steps),
        ("symptoms", &entry.symptoms),
        ("tags", &entry.tags),
        ("error_codes", &entry.error_codes),
        ("models", &entry.models),
    ] {
        if let Some(i) = list.iter().position(|s| s.trim().is_empty()) {
            fail(name, format!("item {} is empty", i + 1));
        }
    }
    for model in &entry.models {
        match catalogue.resolve(model) {
            None => fail(
                "models",
                format!("`{model}` is not in the model catalogue (kb/catalogue/models.toml)"),
            ),
            Some(known) if known.canonical() != *model => fail(
                "models",
                format!("write `{}` instead of `{model}`", known.canonical()),
            ),
            Some(_) => {}
        }
    }
    errors
}
