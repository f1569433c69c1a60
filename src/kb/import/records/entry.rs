//! A record read into an entry, once its fields are the KB's.

use serde_json::{Map, Value};

use super::super::{model_from_name, opt_string, problem, string_list};
use super::{guess_category, is_language_tag, Records};
use crate::error::ValidationError;
use crate::kb::catalogue::PrinterModel;
use crate::kb::entry::{Category, KbEntry, Lang};
use crate::kb::lang::detect_lang;
use crate::kb::validate::is_valid_id;

impl Records {
    pub(super) fn entry_of(
        &self,
        obj: &Map<String, Value>,
        line: usize,
        added: &mut Vec<PrinterModel>,
    ) -> std::result::Result<KbEntry, ValidationError> {
        let shown = self.shown.as_str();
        let invalid =
            |field: &str, message: String| problem(shown, Some(line), Some(field), message);
        let id = match obj.get("id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            // Made from the title, unless other records have ids (see `finish`).
            Some(Value::String(_)) | None | Some(Value::Null) => String::new(),
            Some(_) => return Err(invalid("id", "must be a string".into())),
        };
        if !id.is_empty() && !is_valid_id(&id) {
            let rule = "letters, digits, `.`, `_`, `-`; at most 100 characters";
            return Err(invalid("id", format!("`{id}` is not a valid id ({rule})")));
        }
        let title = opt_string(obj.get("title"), "title", shown, line)?;
        if title.is_empty() {
            return Err(invalid("title", "missing or empty".into()));
        }
        let body = opt_string(obj.get("text"), "text", shown, line)?;
        if body.is_empty() {
            return Err(invalid("text", "missing or empty".into()));
        }
        let lang = match obj.get("lang") {
            None | Some(Value::Null) => detect_lang(&format!("{title} {body}")),
            Some(Value::String(s)) => match Lang::parse(s) {
                Some(lang) => lang,
                None if is_language_tag(s) => detect_lang(&format!("{title} {body}")),
                None => {
                    let message =
                        format!("`{s}` is not a language (fr, en, or a tag such as de or fr-CA)");
                    return Err(invalid("lang", message));
                }
            },
            Some(_) => return Err(invalid("lang", "must be a string".into())),
        };
        let error_codes = string_list(obj.get("error_codes"), "error_codes", shown, line)?;
        let category = match obj.get("category") {
            None | Some(Value::Null) => {
                guess_category(&format!("{title} {body}"), !error_codes.is_empty())
            }
            // The export's own category (kept as tags by `add_fields`).
            Some(Value::String(s)) => Category::parse(s).unwrap_or_else(|| {
                guess_category(&format!("{title} {body}"), !error_codes.is_empty())
            }),
            Some(_) => return Err(invalid("category", "must be a string".into())),
        };
        let mut manufacturer = opt_string(obj.get("manufacturer"), "manufacturer", shown, line)?;
        let mut models = Vec::new();
        for m in string_list(obj.get("models"), "models", shown, line)? {
            match self.catalogue.resolve(&m) {
                Some(known) => models.push(known.canonical()),
                // A model the catalogue does not know yet joins it with the import.
                None => {
                    let model = model_from_name(&m, &manufacturer);
                    models.push(model.canonical());
                    added.push(model);
                }
            }
        }
        if manufacturer.is_empty() {
            if let Some(first) = models.first() {
                manufacturer = self
                    .catalogue
                    .resolve(first)
                    .map(|m| m.manufacturer.clone())
                    .or_else(|| {
                        added
                            .iter()
                            .find(|a| a.canonical() == *first)
                            .map(|a| a.manufacturer.clone())
                    })
                    .unwrap_or_default();
            }
        }
        let source = opt_string(obj.get("source"), "source", shown, line)?;
        Ok(KbEntry {
            id,
            title,
            lang,
            manufacturer,
            models,
            category,
            error_codes,
            symptoms: string_list(obj.get("symptoms"), "symptoms", shown, line)?,
            description: body,
            cause: opt_string(obj.get("cause"), "cause", shown, line)?,
            solution: opt_string(obj.get("solution"), "solution", shown, line)?,
            steps: string_list(obj.get("steps"), "steps", shown, line)?,
            tags: string_list(obj.get("tags"), "tags", shown, line)?,
            source: if source.is_empty() {
                self.default_source.clone()
            } else {
                source
            },
        })
    }
}

/// Whether `title` has letters the slug drops (Cyrillic, Greek, CJK...).
pub(super) fn other_script(title: &str) -> bool {
    use unicode_normalization::UnicodeNormalization;
    let latin = |c: char| matches!(c as u32, 0x00C0..=0x024F | 0x1E00..=0x1EFF | 0x2C60..=0x2C7F | 0xA720..=0xA7FF);
    title.nfkd().any(|c| {
        c.is_alphabetic()
            && !c.is_ascii()
            && !latin(c)
            && !unicode_normalization::char::is_combining_mark(c)
    })
}
