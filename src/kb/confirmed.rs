//! Confirmed answers (`confirmed/answers.jsonl`): customers' messages with the KB entries
//! that answered them, as the desk confirmed it (an agent's reply citing entries, an
//! automatic reply the customer found helpful). They are the KB's own evidence of how
//! its customers ask: each is searched as one more passage of its entries, so the next
//! ticket worded like an earlier one finds the entry that answered it.
//!
//! A line may also name entries that did *not* answer its message (`not_answered_by`: an
//! automatic reply the customer marked unhelpful): the next ticket worded like it is not
//! answered automatically with them again (see `index::confirmed`). The mark holds
//! against the entry as the customer read it (`not_answered_by_versions`): once an editor
//! changes the entry, the next reindex lets it answer such messages again.
//!
//! The file belongs to the KB folder like its entries, so an editor can read, correct or
//! delete a line before the next reindex; `devicekb learn` (or `POST /admin/learn`)
//! writes it from the ticket store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::kb::jsonl::{parse_lines, RecordProblem};

/// The confirmed answers, relative to the KB directory.
pub const CONFIRMED_FILE: &str = "confirmed/answers.jsonl";

/// Who confirmed the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmedBy {
    /// An agent replied citing the entries.
    Agent,
    /// The customer marked the automatic reply citing the entries as helpful (or, for
    /// the entries in `not_answered_by`, as not helpful).
    Customer,
    /// Written by hand (an editor, an import of older tickets).
    Editor,
}

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmedAnswer {
    /// The customer's message, as the pipeline read it.
    pub text: String,
    /// The entries that answered it (ids); may be empty when `not_answered_by` is not.
    #[serde(default)]
    pub entries: Vec<String>,
    /// Entries whose automatic reply to it did not help (ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_answered_by: Vec<String>,
    /// The version (content hash) of entries of `not_answered_by` as the customer read
    /// them: each mark lapses once its entry changes. An entry not listed (a line written
    /// by hand, a reply stored before versions were kept) stays marked until the line goes.
    /// A version for an entry no longer in `not_answered_by` (an editor removed the mark)
    /// is ignored.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub not_answered_by_versions: BTreeMap<String, String>,
    #[serde(default = "editor")]
    pub confirmed_by: ConfirmedBy,
    /// The ticket it came from, when it came from the desk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<i64>,
}

fn editor() -> ConfirmedBy {
    ConfirmedBy::Editor
}

/// Parses the file; every bad line is reported with its number and field. Entry ids are
/// not checked here: an entry removed since its answer was confirmed only drops that
/// answer at the next reindex, which says so.
pub fn parse_confirmed(
    text: &str,
    file: &str,
) -> std::result::Result<Vec<ConfirmedAnswer>, Vec<ValidationError>> {
    parse_lines(
        text,
        file,
        Some("a confirmed answer"),
        |answer: &ConfirmedAnswer| {
            let mut problems: Vec<RecordProblem> = Vec::new();
            if answer.text.trim().is_empty() {
                problems.push((Some("text"), "must not be empty".into()));
            } else if answer.entries.is_empty() && answer.not_answered_by.is_empty() {
                problems.push((
                    Some("entries"),
                    "must name at least one entry (or `not_answered_by` one)".into(),
                ));
            } else if answer.entries.iter().any(|e| e.trim().is_empty()) {
                problems.push((Some("entries"), "must not hold an empty id".into()));
            } else if answer.not_answered_by.iter().any(|e| e.trim().is_empty()) {
                problems.push((Some("not_answered_by"), "must not hold an empty id".into()));
            } else if let Some(both) = answer
                .not_answered_by
                .iter()
                .find(|e| answer.entries.contains(e))
            {
                problems.push((
                    Some("not_answered_by"),
                    format!("`{both}` is also in `entries`"),
                ));
            } else if let Some((id, _)) = answer
                .not_answered_by_versions
                .iter()
                .find(|(_, version)| version.trim().is_empty())
            {
                problems.push((
                    Some("not_answered_by_versions"),
                    format!("the version of `{id}` must not be empty"),
                ));
            }
            problems
        },
    )
}

/// The file's new lines: what the desk confirms now, and the lines an editor wrote, kept
/// as they are. The desk's earlier lines are replaced, so a citation corrected on a
/// ticket is corrected here at the next export. An editor's line for a ticket (a desk
/// line whose `confirmed_by` the editor set to `editor`, its entries corrected or its
/// `not_answered_by` removed once the entry was rewritten) stands for that ticket: the
/// desk's line for it is not written again.
pub fn merge_with_desk(
    existing: Vec<ConfirmedAnswer>,
    from_desk: Vec<ConfirmedAnswer>,
) -> Vec<ConfirmedAnswer> {
    let mut out: Vec<ConfirmedAnswer> = existing
        .into_iter()
        .filter(|a| a.confirmed_by == ConfirmedBy::Editor)
        .collect();
    let edited: std::collections::HashSet<i64> = out.iter().filter_map(|a| a.ticket_id).collect();
    out.extend(
        from_desk
            .into_iter()
            .filter(|a| a.ticket_id.is_none_or(|id| !edited.contains(&id))),
    );
    out
}

/// The file's text: one answer a line.
pub fn to_jsonl(answers: &[ConfirmedAnswer]) -> String {
    let mut text = String::new();
    for answer in answers {
        // A struct of strings and numbers always serialises.
        text.push_str(&serde_json::to_string(answer).unwrap_or_default());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_bad_ones_name_their_field() {
        let text = concat!(
            r#"{"text": "l'imprimante affiche 88", "entries": ["toner-bas"], "confirmed_by": "agent", "ticket_id": 4}"#,
            "\n\n",
            r#"{"text": "bourrage", "entries": ["jam"]}"#,
            "\n",
        );
        let answers = parse_confirmed(text, "answers.jsonl").unwrap();
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0].confirmed_by, ConfirmedBy::Agent);
        assert_eq!(answers[1].confirmed_by, ConfirmedBy::Editor);

        let bad = concat!(
            r#"{"text": " ", "entries": ["a"]}"#,
            "\n",
            r#"{"text": "x", "entries": []}"#,
            "\n",
            r#"{"text": "x", "entries": ["a"], "extra": 1}"#,
            "\n",
            r#"{"text": "x", "entries": ["a"], "not_answered_by": ["a"]}"#,
            "\n",
            r#"{"text": "x", "not_answered_by": [""]}"#,
            "\n",
            r#"{"text": "x", "not_answered_by": ["a"], "not_answered_by_versions": {"a": " "}}"#,
            "\n",
        );
        let errors = parse_confirmed(bad, "answers.jsonl").unwrap_err();
        assert_eq!(errors.len(), 6);
        assert_eq!(errors[0].field.as_deref(), Some("text"));
        assert_eq!(errors[1].field.as_deref(), Some("entries"));
        assert_eq!(errors[2].line, Some(3));
        assert_eq!(errors[3].field.as_deref(), Some("not_answered_by"));
        assert_eq!(errors[4].field.as_deref(), Some("not_answered_by"));
        assert_eq!(errors[5].field.as_deref(), Some("not_answered_by_versions"));
        assert!(errors[5].message.contains("`a`"), "{}", errors[5].message);

        // An editor took the mark away and left its version: the line stands.
        let taken_over = r#"{"text": "x", "entries": ["b"], "not_answered_by_versions": {"a": "12ab"}, "confirmed_by": "editor"}"#;
        assert_eq!(parse_confirmed(taken_over, "f").unwrap()[0].entries, ["b"]);

        // An unhelpful reply alone is a line.
        let unhelpful = r#"{"text": "le bac 2 ne prend pas le relais", "not_answered_by": ["bac-vide"], "not_answered_by_versions": {"bac-vide": "9f2c"}, "confirmed_by": "customer"}"#;
        let answers = parse_confirmed(unhelpful, "answers.jsonl").unwrap();
        assert!(answers[0].entries.is_empty());
        assert_eq!(answers[0].not_answered_by, ["bac-vide"]);
        assert_eq!(answers[0].not_answered_by_versions["bac-vide"], "9f2c");
        assert_eq!(parse_confirmed(&to_jsonl(&answers), "f").unwrap(), answers);
    }

    #[test]
    fn an_export_replaces_the_desks_lines_and_keeps_the_editors() {
        let line = |text: &str, by| ConfirmedAnswer {
            text: text.into(),
            entries: vec!["e".into()],
            not_answered_by: Vec::new(),
            not_answered_by_versions: BTreeMap::new(),
            confirmed_by: by,
            ticket_id: None,
        };
        let existing = vec![
            line("old desk", ConfirmedBy::Agent),
            line("by hand", ConfirmedBy::Editor),
            line("old helpful", ConfirmedBy::Customer),
        ];
        let merged = merge_with_desk(existing, vec![line("new desk", ConfirmedBy::Agent)]);
        let texts: Vec<&str> = merged.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(texts, ["by hand", "new desk"]);

        // An editor took over ticket 7's line (its unhelpful mark removed): the desk's
        // line for ticket 7 is not written again; ticket 8's is.
        let for_ticket = |id, by, not_by: &[&str]| ConfirmedAnswer {
            ticket_id: Some(id),
            entries: Vec::new(),
            not_answered_by: not_by.iter().map(|e| e.to_string()).collect(),
            ..line("pilote", by)
        };
        let taken_over = ConfirmedAnswer {
            entries: vec!["e".into()],
            ..for_ticket(7, ConfirmedBy::Editor, &[])
        };
        let merged = merge_with_desk(
            vec![taken_over.clone()],
            vec![
                for_ticket(7, ConfirmedBy::Customer, &["e"]),
                for_ticket(8, ConfirmedBy::Customer, &["e"]),
            ],
        );
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0], taken_over);
        assert_eq!(merged[1].ticket_id, Some(8));
        let text = to_jsonl(&merged);
        assert_eq!(parse_confirmed(&text, "f").unwrap(), merged);
    }
}
