//! The extractive reply: greeting, the problem restated (model and code when known), the
//! cited entry's fix (its steps numbered, else its solution or its text), what to do if
//! it does not work, the citation. Every sentence comes from the templates (the product's,
//! `kb::templates`, which a KB's file overrides) or the KB entry: nothing is invented, so
//! nothing can be wrong that the KB does not already say.

use crate::kb::templates::Templates;
use crate::kb::{KbEntry, Lang};

fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// What the reply is about, besides the cited entry.
pub struct ReplyContext<'a> {
    pub lang: Lang,
    pub model: Option<&'a str>,
    pub code: Option<&'a str>,
}

/// What a reply gives as the fix of the entry it cites.
#[derive(Debug, PartialEq, Eq)]
pub enum Fix<'a> {
    /// The entry's steps, to number.
    Steps(Vec<&'a str>),
    /// Its solution, when it has no steps: a paragraph, as the editor wrote it (cutting
    /// it at full stops would break "réf. 12A", "200.02" and addresses).
    Solution(&'a str),
    /// Its text, when it has neither: an imported FAQ's entries are a question and its
    /// answer.
    Text(&'a str),
}

/// The fix `entry` gives: its steps, else its solution, else its text.
pub fn entry_fix(entry: &KbEntry) -> Fix<'_> {
    let steps: Vec<&str> = entry
        .steps
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if !steps.is_empty() {
        Fix::Steps(steps)
    } else if !entry.solution.trim().is_empty() {
        Fix::Solution(entry.solution.trim())
    } else {
        Fix::Text(entry.description.trim())
    }
}

/// The extractive reply citing `entries` (the first is the one whose fix is given).
pub fn extractive(templates: &Templates, ctx: &ReplyContext<'_>, entries: &[&KbEntry]) -> String {
    let t = templates.lang(ctx.lang);
    let Some(main) = entries.first() else {
        return String::new();
    };
    let title = main.title.trim();
    let restate = match (ctx.model, ctx.code) {
        (Some(model), Some(code)) => {
            fill(&t.restate_model_code, &[("model", model), ("code", code)])
        }
        (None, Some(code)) => fill(&t.restate_code, &[("code", code)]),
        // A question is restated as one, whatever model it names.
        _ if title.ends_with('?') => fill(&t.restate_question, &[("title", title)]),
        (Some(model), None) => fill(&t.restate_model, &[("model", model), ("title", title)]),
        (None, None) => fill(&t.restate, &[("title", title)]),
    };
    let fix = entry_fix(main);
    let if_not = match fix {
        Fix::Steps(_) | Fix::Solution(_) => &t.if_not_solved,
        Fix::Text(_) => &t.if_not_answered,
    };
    let fix = match fix {
        Fix::Steps(steps) => {
            let numbered = steps
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{}. {s}", i + 1))
                .collect::<Vec<_>>()
                .join("\n");
            format!("{}\n{numbered}", t.steps_intro.trim())
        }
        Fix::Solution(text) => format!("{}\n{text}", t.steps_intro.trim()),
        Fix::Text(text) => format!("{}\n{text}", t.answer_intro.trim()),
    };
    let sources = entries
        .iter()
        .map(|e| format!("- [{}] {}", e.id, e.title.trim()))
        .collect::<Vec<_>>()
        .join("\n");
    [
        t.greeting.trim().to_string(),
        restate,
        fix,
        if_not.trim().to_string(),
        format!("{}\n{sources}", t.sources.trim()),
        t.closing.trim().to_string(),
    ]
    .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> KbEntry {
        toml::from_str(
            r#"
id = "lexmark-c750-msg-88-toner-bas"
title = "88 Toner cyan bas"
lang = "fr"
manufacturer = "Lexmark"
models = ["Lexmark C750"]
category = "supplies"
error_codes = ["88"]
description = "x"
steps = ["Commandez une cartouche.", "Secouez la cartouche."]
source = "manuel"
"#,
        )
        .unwrap()
    }

    #[test]
    fn reply_restates_and_numbers_the_steps() {
        let templates = Templates::default_templates();
        let e = entry();
        let reply = extractive(
            &templates,
            &ReplyContext {
                lang: Lang::Fr,
                model: Some("Lexmark C750"),
                code: Some("88"),
            },
            &[&e],
        );
        assert!(reply.starts_with("Bonjour,"));
        assert!(
            reply.contains("votre Lexmark C750 affiche le code 88"),
            "{reply}"
        );
        assert!(
            reply.contains("1. Commandez une cartouche.\n2. Secouez la cartouche."),
            "{reply}"
        );
        assert!(
            reply.contains("[lexmark-c750-msg-88-toner-bas] 88 Toner cyan bas"),
            "{reply}"
        );
        let en = extractive(
            &templates,
            &ReplyContext {
                lang: Lang::En,
                model: None,
                code: None,
            },
            &[&e],
        );
        assert!(
            en.starts_with("Hello,")
                && en.contains("You report the following problem: 88 Toner cyan bas"),
            "{en}"
        );
    }

    fn imported(steps: &[&str], solution: &str) -> KbEntry {
        let mut e = KbEntry::sample(
            "sp-f52",
            "Impôt sur le revenu : quels moyens de paiement peut-on utiliser ?",
            "Depuis 2019, l'impôt est prélevé à la source.\nDans les autres cas, il est prélevé sur votre compte.",
        );
        e.steps = steps.iter().map(|s| s.to_string()).collect();
        e.solution = solution.into();
        e
    }

    fn reply_to(e: &KbEntry) -> String {
        let ctx = ReplyContext {
            lang: Lang::Fr,
            model: None,
            code: None,
        };
        extractive(&Templates::default_templates(), &ctx, &[e])
    }

    #[test]
    fn an_entry_without_steps_or_solution_is_answered_with_its_text() {
        let reply = reply_to(&imported(&[], ""));
        let templates = Templates::default_templates();
        assert!(!reply.contains(&templates.fr.steps_intro), "{reply}");
        assert!(!reply.contains(&templates.fr.if_not_solved), "{reply}");
        assert!(reply.contains(&templates.fr.if_not_answered), "{reply}");
        assert!(
            reply.contains(&format!(
                "{}\nDepuis 2019, l'impôt est prélevé à la source.\nDans les autres cas",
                templates.fr.answer_intro
            )),
            "{reply}"
        );
        // A question is restated as a question.
        assert!(
            reply.contains("Vous nous demandez : Impôt sur le revenu : quels moyens de paiement peut-on utiliser ?"),
            "{reply}"
        );
        // Blank steps are no steps.
        assert_eq!(reply_to(&imported(&["  "], "")), reply);
    }

    #[test]
    fn a_solution_without_steps_is_given_whole() {
        let e = imported(
            &[],
            "Remplacez le toner (réf. 12A1234) puis imprimez la page 200.02.",
        );
        let reply = reply_to(&e);
        assert!(
            reply.contains("Voici la marche à suivre :\nRemplacez le toner (réf. 12A1234) puis imprimez la page 200.02."),
            "{reply}"
        );
        assert_eq!(
            entry_fix(&imported(&["Étape"], "x")),
            Fix::Steps(vec!["Étape"])
        );
    }
}
