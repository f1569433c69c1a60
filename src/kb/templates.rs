//! The reply templates (`templates/replies.toml`): the sentences every reply is made of,
//! in French and English, the canned replies to small talk and the frequent questions
//! answered without retrieval; `answer::reply` fills the sentences in.
//!
//! The sentences belong to the product (`default_replies.toml`, compiled in), so a KB
//! imported with no templates of its own replies from its first ticket. A KB's file
//! overrides any sentence it sets and keeps the product's for the rest. Frequent
//! questions are the KB's alone: they state business facts (opening hours, where a
//! maker prints its serial number) that a customer's KB must not inherit from another's.

use std::collections::HashMap;
use std::sync::LazyLock;

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
/// The product's sentences, which every KB inherits.
pub const DEFAULT_TEMPLATES: &str = include_str!("default_replies.toml");

static DEFAULTS: LazyLock<Templates> = LazyLock::new(|| {
    let mut t =
        toml::from_str::<Templates>(DEFAULT_TEMPLATES).expect("the shipped templates parse");
    t.compile_faq("default_replies.toml")
        .expect("the shipped templates parse");
    t
});

/// Keeps `value` unless the KB left it out (or empty): then the product's sentence.
fn inherit(value: &mut String, default: &str) {
    if value.trim().is_empty() {
        *value = default.to_string();
    }
}

/// One language's sentences of an extractive reply. A key a KB's file leaves out is the
/// product's (`Templates::parse`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LangTemplates {
    pub greeting: String,
    pub restate_model_code: String,
    pub restate_code: String,
    pub restate_model: String,
    pub restate: String,
    /// The restatement when the entry's title is a question (a FAQ's entries).
    pub restate_question: String,
    /// Before the numbered steps (or the solution) of the entry cited.
    pub steps_intro: String,
    /// Before the entry's text, when it has neither steps nor a solution (an imported
    /// FAQ's answers).
    pub answer_intro: String,
    pub if_not_solved: String,
    /// After an entry's text (`answer_intro`): there were no steps to try.
    pub if_not_answered: String,
    pub sources: String,
    pub closing: String,
}

impl LangTemplates {
    fn inherit(&mut self, d: &LangTemplates) {
        inherit(&mut self.greeting, &d.greeting);
        inherit(&mut self.restate_model_code, &d.restate_model_code);
        inherit(&mut self.restate_code, &d.restate_code);
        inherit(&mut self.restate_model, &d.restate_model);
        inherit(&mut self.restate, &d.restate);
        inherit(&mut self.restate_question, &d.restate_question);
        inherit(&mut self.steps_intro, &d.steps_intro);
        inherit(&mut self.answer_intro, &d.answer_intro);
        inherit(&mut self.if_not_solved, &d.if_not_solved);
        inherit(&mut self.if_not_answered, &d.if_not_answered);
        inherit(&mut self.sources, &d.sources);
        inherit(&mut self.closing, &d.closing);
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmartTemplates {
    pub greeting: String,
    pub thanks: String,
    pub resolved: String,
}

impl SmartTemplates {
    fn inherit(&mut self, d: &SmartTemplates) {
        inherit(&mut self.greeting, &d.greeting);
        inherit(&mut self.thanks, &d.thanks);
        inherit(&mut self.resolved, &d.resolved);
    }
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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Templates {
    pub fr: LangTemplates,
    pub en: LangTemplates,
    /// Canned replies to small talk, by language code (`fr`, `en`).
    pub smart: HashMap<String, SmartTemplates>,
    pub faq: Vec<Faq>,
}

impl Templates {
    /// A KB's templates file: the sentences it sets over the product's, and its frequent
    /// questions. Errors name the file's line or field.
    pub fn parse(text: &str, file: &str) -> std::result::Result<Templates, ValidationError> {
        let mut t: Templates = toml::from_str(text).map_err(|e| ValidationError {
            file: file.to_string(),
            line: e.span().map(|s| super::catalogue::line_of(text, s.start)),
            field: None,
            message: e.message().trim().to_string(),
        })?;
        if let Some(lang) = t.smart.keys().find(|k| !matches!(k.as_str(), "fr" | "en")) {
            return Err(ValidationError {
                file: file.to_string(),
                line: None,
                field: Some(format!("smart.{lang}")),
                message: "replies are written in French (`fr`) or English (`en`)".into(),
            });
        }
        t.compile_faq(file)?;
        let defaults = &*DEFAULTS;
        t.fr.inherit(&defaults.fr);
        t.en.inherit(&defaults.en);
        for (lang, d) in &defaults.smart {
            t.smart.entry(lang.clone()).or_default().inherit(d);
        }
        Ok(t)
    }

    fn compile_faq(&mut self, file: &str) -> std::result::Result<(), ValidationError> {
        for (i, faq) in self.faq.iter_mut().enumerate() {
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
        Ok(())
    }

    /// The product's templates: what a KB without a templates file replies with. No
    /// frequent questions.
    pub fn default_templates() -> Templates {
        DEFAULTS.clone()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_products_templates_say_every_sentence_and_no_business_fact() {
        let t = Templates::default_templates();
        for lang in [Lang::Fr, Lang::En] {
            let l = t.lang(lang);
            for sentence in [
                &l.greeting,
                &l.restate_model_code,
                &l.restate_code,
                &l.restate_model,
                &l.restate,
                &l.restate_question,
                &l.steps_intro,
                &l.answer_intro,
                &l.if_not_solved,
                &l.if_not_answered,
                &l.sources,
                &l.closing,
            ] {
                assert!(!sentence.trim().is_empty(), "{lang:?}: {l:?}");
            }
            for kind in [SmallTalk::Greeting, SmallTalk::Thanks, SmallTalk::Resolved] {
                assert!(!t.small_talk(lang, kind).is_empty());
            }
        }
        // Opening hours are the KB's to state, not the product's.
        assert!(t.faq.is_empty());
        // A KB's file that sets nothing inherits every sentence: one left out of
        // `inherit` would come out empty here.
        let inherited = Templates::parse("", "replies.toml").unwrap();
        assert_eq!(inherited.fr, t.fr);
        assert_eq!(inherited.en, t.en);
        assert_eq!(inherited.smart, t.smart);
        assert!(t.faq("what are your opening hours?").is_none());
    }

    #[test]
    fn a_kbs_file_overrides_what_it_sets_and_inherits_the_rest() {
        let text = concat!(
            "[fr]\nclosing = \"Bien à vous,\\nL'atelier\"\n",
            "[smart.en]\nthanks = \"Cheers!\"\n",
            "[[faq]]\nname = \"hours\"\npattern = \"horaires|hours\"\n",
            "fr = \"De 9 h à 17 h.\"\nen = \"9 to 5.\"\n",
        );
        let t = Templates::parse(text, "replies.toml").unwrap();
        let product = Templates::default_templates();
        assert_eq!(t.fr.closing, "Bien à vous,\nL'atelier");
        assert_eq!(t.fr.greeting, product.fr.greeting);
        assert_eq!(t.en.closing, product.en.closing);
        assert_eq!(t.small_talk(Lang::En, SmallTalk::Thanks), "Cheers!");
        assert_eq!(
            t.small_talk(Lang::En, SmallTalk::Greeting),
            product.small_talk(Lang::En, SmallTalk::Greeting)
        );
        assert_eq!(
            t.small_talk(Lang::Fr, SmallTalk::Resolved),
            product.small_talk(Lang::Fr, SmallTalk::Resolved)
        );
        assert_eq!(
            t.faq("vos horaires ?").map(|f| f.en.as_str()),
            Some("9 to 5.")
        );
        // The bundled KB's file holds its frequent questions only.
        let bundled = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("kb")
                .join(TEMPLATES_FILE),
        )
        .unwrap();
        let bundled = Templates::parse(&bundled, "replies.toml").unwrap();
        assert!(bundled.faq("what are your opening hours?").is_some());
        assert_eq!(bundled.fr.steps_intro, product.fr.steps_intro);
    }

    #[test]
    fn a_broken_file_names_its_line_or_field() {
        let err = Templates::parse("[fr]\n\ngreeting = 3\n", "replies.toml").unwrap_err();
        assert_eq!(err.line, Some(3));
        let err = Templates::parse("[en]\nwelcome = \"Hi\"\n", "replies.toml").unwrap_err();
        assert!(err.message.contains("welcome"), "{err:?}");
        let err = Templates::parse("[smart.de]\nthanks = \"Danke\"\n", "replies.toml").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("smart.de"));
        let err = Templates::parse(
            "[[faq]]\nname = \"x\"\npattern = \"(\"\nfr = \"a\"\nen = \"b\"\n",
            "replies.toml",
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("faq[0].pattern"));
    }
}
