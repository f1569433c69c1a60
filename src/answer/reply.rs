//! The extractive reply: greeting, the problem restated (model and code when known), the
//! cited entry's steps as a numbered list, what to do if it does not work, the citation.
//! Every sentence comes from the templates (`kb/templates/replies.toml`) or the KB entry:
//! nothing is invented, so nothing can be wrong that the KB does not already say.

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

/// The steps of an entry, or its solution split into sentences when it has no steps.
pub fn entry_steps(entry: &KbEntry) -> Vec<String> {
    if !entry.steps.is_empty() {
        return entry
            .steps
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    entry
        .solution
        .split(['\n', '.'])
        .map(str::trim)
        .filter(|s| s.len() > 3)
        .map(|s| format!("{s}."))
        .collect()
}

/// The extractive reply citing `entries` (the first is the one whose steps are given).
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
        (Some(model), None) => fill(&t.restate_model, &[("model", model), ("title", title)]),
        (None, None) => fill(&t.restate, &[("title", title)]),
    };
    let steps = entry_steps(main)
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {s}", i + 1))
        .collect::<Vec<_>>()
        .join("\n");
    let sources = entries
        .iter()
        .map(|e| format!("- [{}] {}", e.id, e.title.trim()))
        .collect::<Vec<_>>()
        .join("\n");
    [
        t.greeting.trim().to_string(),
        restate,
        format!("{}\n{steps}", t.steps_intro.trim()),
        t.if_not_solved.trim().to_string(),
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

    #[test]
    fn broken_templates_name_the_field() {
        let err = Templates::parse("[fr]\ngreeting = 3\n", "replies.toml").unwrap_err();
        assert_eq!(err.line, Some(2));
    }
}
