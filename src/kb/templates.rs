//! The reply templates file (`templates/replies.toml`): the sentences every reply is
//! made of, in French and English, the canned replies to small talk and the frequent
//! questions answered without the KB. Its format belongs to the KB like the entries'
//! format; `answer::reply` fills the sentences in.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::Lang;
use crate::error::ValidationError;

/// Messages answered by a canned reply, without retrieval: the kinds of small talk the
/// templates have a reply for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmallTalk {
    Greeting,
    Thanks,
    Resolved,
}

pub const TEMPLATES_FILE: &str = "templates/replies.toml";
pub const DEFAULT_TEMPLATES: &str = include_str!("../../kb/templates/replies.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangTemplates {
    pub greeting: String,
    pub restate_model_code: String,
    pub restate_code: String,
    pub restate_model: String,
    pub restate: String,
    pub steps_intro: String,
    pub if_not_solved: String,
    pub sources: String,
    pub closing: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmartTemplates {
    pub greeting: String,
    pub thanks: String,
    pub resolved: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faq {
    pub name: String,
    pub pattern: String,
    pub fr: String,
    pub en: String,
    #[serde(skip)]
    regex: Option<regex::Regex>,
}

impl Faq {
    pub fn matches(&self, text: &str) -> bool {
        self.regex.as_ref().is_some_and(|r| r.is_match(text))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    pub fr: LangTemplates,
    pub en: LangTemplates,
    pub smart: HashMap<String, SmartTemplates>,
    #[serde(default)]
    pub faq: Vec<Faq>,
}

impl Templates {
    pub fn parse(text: &str, file: &str) -> std::result::Result<Templates, ValidationError> {
        let mut t: Templates = toml::from_str(text).map_err(|e| ValidationError {
            file: file.to_string(),
            line: e.span().map(|s| super::catalogue::line_of(text, s.start)),
            field: None,
            message: e.message().trim().to_string(),
        })?;
        for (i, faq) in t.faq.iter_mut().enumerate() {
            let regex = regex::Regex::new(&format!("(?i){}", faq.pattern)).map_err(|e| {
                ValidationError {
                    file: file.to_string(),
                    line: None,
                    field: Some(format!("faq[{i}].pattern")),
                    message: e.to_string(),
                }
            })?;
            faq.regex = Some(regex);
        }
        for lang in ["fr", "en"] {
            if !t.smart.contains_key(lang) {
                return Err(ValidationError {
                    file: file.to_string(),
                    line: None,
                    field: Some(format!("smart.{lang}")),
                    message: "missing".into(),
                });
            }
        }
        Ok(t)
    }

    pub fn default_templates() -> Templates {
        Templates::parse(DEFAULT_TEMPLATES, "replies.toml").expect("the shipped templates parse")
    }

    pub fn lang(&self, lang: Lang) -> &LangTemplates {
        match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        }
    }

    /// The first frequent question `text` asks, if any.
    pub fn faq(&self, text: &str) -> Option<&Faq> {
        self.faq.iter().find(|f| f.matches(text))
    }

    pub fn small_talk(&self, lang: Lang, kind: SmallTalk) -> &str {
        let smart = &self.smart[lang.code()];
        match kind {
            SmallTalk::Greeting => &smart.greeting,
            SmallTalk::Thanks => &smart.thanks,
            SmallTalk::Resolved => &smart.resolved,
        }
    }
}
