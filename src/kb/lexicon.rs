//! The lexicon (`catalogue/lexicon.toml`): groups of words and phrases that mean the same
//! thing in printer support, in French and English. A KB is written in the manual's words
//! and customers write their own; keyword search looks for a group's other members when a
//! message says one of them (`index::bm25` weighs them below the message's own words).
//!
//! The product ships a lexicon (compiled in); a KB's own file adds groups, or replaces
//! the shipped ones with `builtin = false` (a KB of another domain).

use serde::{Deserialize, Serialize};

use super::lang::fold;
use super::Lang;
use crate::error::ValidationError;

pub const LEXICON_FILE: &str = "catalogue/lexicon.toml";
pub const BUILTIN_LEXICON: &str = include_str!("../../kb/catalogue/lexicon.toml");

/// Most members of all matched groups one message expands to: a long e-mail touching
/// every group would otherwise double its query for little.
const MAX_EXPANSIONS: usize = 40;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LexiconFile {
    /// `false`: the file replaces the shipped groups instead of adding to them.
    #[serde(default = "yes")]
    builtin: bool,
    #[serde(default)]
    group: Vec<GroupFile>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    #[serde(default)]
    words: Vec<String>,
    #[serde(default)]
    fr: Vec<String>,
    #[serde(default)]
    en: Vec<String>,
}

/// Which list of its group a member comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// `words`: a synonym of every other member.
    Any,
    /// `fr` or `en`: a translation of the other language's members only.
    Lang(Lang),
}

/// One member of a group: its words folded, the last one possibly a prefix.
#[derive(Debug, Clone, PartialEq)]
struct Member {
    /// As written, without the `*`: what keyword search looks for.
    text: String,
    words: Vec<String>,
    /// The last word matches any word it begins (`assembl*`).
    prefix: bool,
    side: Side,
}

impl Member {
    fn parse(raw: &str, side: Side) -> Option<Member> {
        let raw = raw.trim();
        let prefix = raw.ends_with('*');
        let text = raw.trim_end_matches('*').trim().to_string();
        let words = words_of(&text);
        (!words.is_empty()).then_some(Member {
            text,
            words,
            prefix,
            side,
        })
    }

    /// Whether the member occurs in `words` (a message's folded words), in order.
    fn occurs_in(&self, words: &[String]) -> bool {
        let n = self.words.len();
        if words.len() < n {
            return false;
        }
        words.windows(n).any(|window| {
            window
                .iter()
                .zip(&self.words)
                .enumerate()
                .all(|(i, (w, m))| {
                    if self.prefix && i + 1 == n {
                        w.starts_with(m.as_str())
                    } else {
                        w == m
                    }
                })
        })
    }
}

/// Groups of words that mean the same thing (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lexicon {
    groups: Vec<Vec<Member>>,
    /// How many of `groups` (the first ones) are the product's.
    shipped: usize,
}

/// What a generation's lexicon is made of, for the reindex output and `GET /health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LexiconSummary {
    /// Groups the product ships (0 when the KB's file says `builtin = false`).
    pub shipped_groups: usize,
    /// Groups the KB's own `catalogue/lexicon.toml` adds.
    pub kb_groups: usize,
}

impl Lexicon {
    /// The shipped lexicon.
    pub fn builtin() -> Lexicon {
        let mut lexicon = Lexicon::parse(BUILTIN_LEXICON, "builtin lexicon")
            .map(|(lexicon, _)| lexicon)
            .unwrap_or_default();
        lexicon.shipped = lexicon.groups.len();
        lexicon
    }

    /// The lexicon a KB searches with: the shipped groups, then the KB's own file's
    /// (`kb_text`), or the KB's alone when it says `builtin = false`.
    pub fn for_kb(kb_text: Option<&str>, file: &str) -> Result<Lexicon, ValidationError> {
        let Some(text) = kb_text else {
            return Ok(Lexicon::builtin());
        };
        let (own, builtin) = Lexicon::parse(text, file)?;
        if !builtin {
            return Ok(own);
        }
        let mut lexicon = Lexicon::builtin();
        // The bundled KB's file is the shipped one: a group is not added twice.
        for group in own.groups {
            if !lexicon.groups.contains(&group) {
                lexicon.groups.push(group);
            }
        }
        Ok(lexicon)
    }

    /// Parses a lexicon file; the flag is its `builtin` key.
    fn parse(text: &str, file: &str) -> Result<(Lexicon, bool), ValidationError> {
        let parsed: LexiconFile = toml::from_str(text).map_err(|e| ValidationError {
            file: file.to_string(),
            line: e.span().map(|s| text[..s.start].lines().count().max(1)),
            field: None,
            message: format!("invalid lexicon: {}", e.message()),
        })?;
        let mut groups = Vec::with_capacity(parsed.group.len());
        for (i, group) in parsed.group.iter().enumerate() {
            let members: Vec<Member> = [
                (&group.words, Side::Any),
                (&group.fr, Side::Lang(Lang::Fr)),
                (&group.en, Side::Lang(Lang::En)),
            ]
            .into_iter()
            .flat_map(|(list, side)| list.iter().filter_map(move |w| Member::parse(w, side)))
            .collect();
            if members.len() < 2 {
                return Err(ValidationError {
                    file: file.to_string(),
                    line: None,
                    field: Some(format!("group[{i}].words")),
                    message: "a group needs at least two words with letters or digits".into(),
                });
            }
            groups.push(members);
        }
        Ok((Lexicon { groups, shipped: 0 }, parsed.builtin))
    }

    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    pub fn summary(&self) -> LexiconSummary {
        LexiconSummary {
            shipped_groups: self.shipped,
            kb_groups: self.groups.len() - self.shipped,
        }
    }

    /// What keyword search also looks for in `text`: in every group the text says a
    /// member of, the members that one stands for (all the others, or the other
    /// language's for a translation), except those the text says itself.
    pub fn expand(&self, text: &str) -> Vec<String> {
        let words = words_of(text);
        let mut out: Vec<String> = Vec::new();
        for group in &self.groups {
            let said: Vec<Side> = group
                .iter()
                .filter(|m| m.occurs_in(&words))
                .map(|m| m.side)
                .collect();
            if said.is_empty() {
                continue;
            }
            for member in group {
                let stands_for = |side: &Side| match (side, member.side) {
                    (Side::Lang(a), Side::Lang(b)) => *a != b,
                    _ => true,
                };
                if said.iter().any(stands_for)
                    && !member.occurs_in(&words)
                    && !out.contains(&member.text)
                {
                    out.push(member.text.clone());
                }
            }
            if out.len() >= MAX_EXPANSIONS {
                out.truncate(MAX_EXPANSIONS);
                break;
            }
        }
        out
    }
}

/// The folded words of `text`: letters and digits, everything else a separator
/// ("n'imprime" is "n", "imprime"; "wi-fi" is "wi", "fi").
fn words_of(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_lexicon_parses() {
        assert!(Lexicon::builtin().groups() > 40);
    }

    #[test]
    fn a_message_gets_the_other_members_of_the_groups_it_names() {
        let lexicon = Lexicon::builtin();
        let expanded = lexicon.expand("20 copies sortent pas DANS L'ORDRE, faut tout trier");
        assert!(expanded.contains(&"assemblage".to_string()), "{expanded:?}");
        assert!(
            !expanded.contains(&"trier".to_string()),
            "said already: {expanded:?}"
        );
        let expanded = lexicon.expand("When drawer 1 runs out it should switch over");
        assert!(expanded.contains(&"tiroir".to_string()), "{expanded:?}");
        assert!(expanded.contains(&"chaînage".to_string()), "{expanded:?}");
        // A prefix member matches any ending; a phrase only whole and in order.
        assert!(lexicon
            .expand("pages non assemblées")
            .contains(&"collate".to_string()));
        assert!(!lexicon
            .expand("l'ordre du jour")
            .contains(&"assemblage".to_string()));
        // A translation stands for the other language's members, not its own's.
        let expanded = lexicon.expand("l'écran reste noir");
        assert!(expanded.contains(&"display".to_string()), "{expanded:?}");
        assert!(!expanded.contains(&"panneau".to_string()), "{expanded:?}");
        let expanded = lexicon.expand("the display stays blank");
        assert!(
            expanded.contains(&"panneau de commandes".to_string()),
            "{expanded:?}"
        );
    }

    #[test]
    fn a_kb_adds_groups_or_replaces_the_shipped_ones() {
        let own = "[[group]]\nwords = [\"carte vitale\", \"health card\"]\n";
        let added = Lexicon::for_kb(Some(own), "lexicon.toml").unwrap();
        assert_eq!(added.groups(), Lexicon::builtin().groups() + 1);
        assert_eq!(added.summary().kb_groups, 1);
        assert_eq!(
            added.expand("my health card"),
            vec!["carte vitale".to_string()]
        );
        let alone = format!("builtin = false\n{own}");
        let replaced = Lexicon::for_kb(Some(&alone), "lexicon.toml").unwrap();
        assert_eq!(replaced.groups(), 1);
        assert_eq!(
            replaced.summary(),
            LexiconSummary {
                shipped_groups: 0,
                kb_groups: 1
            }
        );
        assert!(replaced.expand("printer jam").is_empty());
        let again = Lexicon::for_kb(Some(BUILTIN_LEXICON), "lexicon.toml").unwrap();
        assert_eq!(again, Lexicon::builtin());
    }

    #[test]
    fn a_group_of_one_word_is_refused_with_its_place() {
        let err = Lexicon::for_kb(Some("[[group]]\nwords = [\"toner\", \"*\"]\n"), "lex.toml")
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("group[0].words"));
        let err = Lexicon::for_kb(Some("[[group]]\nwordz = []\n"), "lex.toml").unwrap_err();
        assert!(err.message.contains("invalid lexicon"), "{}", err.message);
    }
}
