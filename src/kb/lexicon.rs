//! The lexicon (`catalogue/lexicon.toml`): groups of words and phrases that mean the same
//! thing in printer support, in French and English. A KB is written in the manual's words
//! and customers write their own; keyword search looks for a group's other members when a
//! message says one of them (`index::bm25` weighs them below the message's own words).
//!
//! The product ships a lexicon (compiled in); a KB's own file adds groups, or replaces
//! the shipped ones with `builtin = false` (a KB of another domain).

use serde::{Deserialize, Serialize};

use super::catalogue::line_of;
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
    /// The KB's own groups first: when a long message matches many groups and the
    /// expansion is cut (`MAX_EXPANSIONS`), the KB's words are the last to go.
    groups: Vec<Vec<Member>>,
    /// How many of `groups` (the first ones) are the KB's own.
    own: usize,
}

/// What a generation's lexicon is made of, for the reindex output and `GET /health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LexiconSummary {
    /// Groups the product ships (0 when the KB's file says `builtin = false`).
    pub shipped_groups: usize,
    /// Groups the KB's own `catalogue/lexicon.toml` adds.
    pub kb_groups: usize,
}

/// Shortest prefix a `*` may end: "a*" would match half of any message.
const MIN_PREFIX_CHARS: usize = 3;
/// Limits of a lexicon file. Every message is read against every member, so a file
/// beyond these (a dictionary pasted in, a generated list) would slow every search for
/// words no customer writes; it is refused, not cut, so the editor knows.
const MAX_GROUPS: usize = 2_000;
const MAX_MEMBERS: usize = 64;
const MAX_MEMBER_WORDS: usize = 8;

impl Lexicon {
    /// The lexicon this release ships.
    pub fn builtin() -> Lexicon {
        Lexicon::for_kb(Some(BUILTIN_LEXICON), None, "builtin lexicon").unwrap_or_default()
    }

    /// The lexicon a KB searches with: the KB's own groups (`kb_text`), then the shipped
    /// ones (`shipped_text`, the release's lexicon when the generation was built; `None`
    /// for a generation built before there was one), or the KB's alone when its file says
    /// `builtin = false`. A KB group identical to a shipped one is not counted twice (the
    /// bundled KB's file is the shipped one).
    pub fn for_kb(
        shipped_text: Option<&str>,
        kb_text: Option<&str>,
        file: &str,
    ) -> Result<Lexicon, ValidationError> {
        let (own, with_shipped) = match kb_text {
            Some(text) => Lexicon::parse(text, file)?,
            None => (Vec::new(), true),
        };
        let shipped = match shipped_text {
            Some(text) if with_shipped => Lexicon::parse(text, "builtin lexicon")?.0,
            _ => Vec::new(),
        };
        let mut groups: Vec<Vec<Member>> = own
            .into_iter()
            .filter(|group| !shipped.contains(group))
            .collect();
        let own = groups.len();
        groups.extend(shipped);
        Ok(Lexicon { groups, own })
    }

    /// Parses a lexicon file into its groups; the flag is its `builtin` key.
    fn parse(text: &str, file: &str) -> Result<(Vec<Vec<Member>>, bool), ValidationError> {
        let parsed: LexiconFile = toml::from_str(text).map_err(|e| ValidationError {
            file: file.to_string(),
            line: e.span().map(|s| line_of(text, s.start)),
            field: None,
            message: format!("invalid lexicon: {}", e.message()),
        })?;
        let invalid = |i: usize, message: String| ValidationError {
            file: file.to_string(),
            line: None,
            field: Some(format!("group[{i}]")),
            message,
        };
        if parsed.group.len() > MAX_GROUPS {
            return Err(ValidationError {
                file: file.to_string(),
                line: None,
                field: Some("group".into()),
                message: format!(
                    "{} groups: a lexicon holds at most {MAX_GROUPS}",
                    parsed.group.len()
                ),
            });
        }
        let mut groups = Vec::with_capacity(parsed.group.len());
        for (i, group) in parsed.group.iter().enumerate() {
            let count = group.words.len() + group.fr.len() + group.en.len();
            if count > MAX_MEMBERS {
                return Err(invalid(
                    i,
                    format!("{count} members: a group holds at most {MAX_MEMBERS}"),
                ));
            }
            let mut members: Vec<Member> = Vec::new();
            for (list, side) in [
                (&group.words, Side::Any),
                (&group.fr, Side::Lang(Lang::Fr)),
                (&group.en, Side::Lang(Lang::En)),
            ] {
                for raw in list {
                    let Some(member) = Member::parse(raw, side) else {
                        return Err(invalid(i, format!("`{raw}` has no letter or digit")));
                    };
                    if member.words.len() > MAX_MEMBER_WORDS {
                        return Err(invalid(
                            i,
                            format!("`{raw}`: a member has at most {MAX_MEMBER_WORDS} words"),
                        ));
                    }
                    let last = member.words.last().map_or(0, |w| w.chars().count());
                    if member.prefix && last < MIN_PREFIX_CHARS {
                        return Err(invalid(
                            i,
                            format!("`{raw}`: a prefix needs {MIN_PREFIX_CHARS} letters or more"),
                        ));
                    }
                    if !members.contains(&member) {
                        members.push(member);
                    }
                }
            }
            // A group expands when some member stands for another: two synonyms, or a
            // French and an English member.
            let has = |side: Side| members.iter().any(|m| m.side == side);
            let expands = (has(Side::Any) && members.len() >= 2)
                || (has(Side::Lang(Lang::Fr)) && has(Side::Lang(Lang::En)));
            if !expands {
                return Err(invalid(
                    i,
                    "a group needs two `words`, or a French and an English member".into(),
                ));
            }
            groups.push(members);
        }
        Ok((groups, parsed.builtin))
    }

    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    pub fn summary(&self) -> LexiconSummary {
        LexiconSummary {
            shipped_groups: self.groups.len() - self.own,
            kb_groups: self.own,
        }
    }

    /// What keyword search also looks for in `text`: in every group the text says a
    /// member of, the members that one stands for (all the others, or the other
    /// language's for a translation), except those the text says itself.
    pub fn expand(&self, text: &str) -> Vec<String> {
        let words = words_of(text);
        let mut out: Vec<String> = Vec::new();
        for group in &self.groups {
            let said: Vec<bool> = group.iter().map(|m| m.occurs_in(&words)).collect();
            let said_sides: Vec<Side> = group
                .iter()
                .zip(&said)
                .filter(|(_, &s)| s)
                .map(|(m, _)| m.side)
                .collect();
            if said_sides.is_empty() {
                continue;
            }
            for (member, &member_said) in group.iter().zip(&said) {
                let wanted = said_sides.iter().any(|&side| match (side, member.side) {
                    (Side::Lang(a), Side::Lang(b)) => a != b,
                    _ => true,
                });
                if wanted && !member_said && !out.contains(&member.text) {
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

    fn kb(text: &str) -> Result<Lexicon, ValidationError> {
        Lexicon::for_kb(Some(BUILTIN_LEXICON), Some(text), "lexicon.toml")
    }

    #[test]
    fn the_builtin_lexicon_parses() {
        assert!(Lexicon::builtin().groups() > 40);
        assert_eq!(Lexicon::builtin().summary().kb_groups, 0);
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
        // Accents and case do not matter; a phrase matches only whole and in order.
        assert!(lexicon
            .expand("pages non ASSEMBLEES")
            .contains(&"collate".to_string()));
        assert!(!lexicon
            .expand("l'ordre du jour")
            .contains(&"assemblage".to_string()));
        // "tray" alone is the paper tray or the output bin: it names neither.
        let expanded = lexicon.expand("the output tray is full");
        assert!(expanded.contains(&"réceptacle".to_string()), "{expanded:?}");
        assert!(!expanded.contains(&"tiroir".to_string()), "{expanded:?}");
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
    fn a_prefix_matches_any_ending_of_its_last_word() {
        let lexicon = kb("builtin = false\n[[group]]\nwords = [\"agraf*\", \"staple\"]\n").unwrap();
        assert_eq!(lexicon.expand("les agrafes manquent"), vec!["staple"]);
        assert_eq!(lexicon.expand("l'agrafeuse"), vec!["staple"]);
        assert!(lexicon.expand("agr").is_empty());
    }

    #[test]
    fn a_kb_adds_groups_or_replaces_the_shipped_ones() {
        let own = "[[group]]\nwords = [\"carte vitale\", \"health card\"]\n";
        let added = kb(own).unwrap();
        assert_eq!(added.groups(), Lexicon::builtin().groups() + 1);
        assert_eq!(added.summary().kb_groups, 1);
        assert_eq!(
            added.expand("my health card"),
            vec!["carte vitale".to_string()]
        );
        let replaced = kb(&format!("builtin = false\n{own}")).unwrap();
        assert_eq!(
            replaced.summary(),
            LexiconSummary {
                shipped_groups: 0,
                kb_groups: 1
            }
        );
        assert!(replaced.expand("printer jam").is_empty());
        // The bundled KB's file is the shipped one: nothing counts twice.
        assert_eq!(kb(BUILTIN_LEXICON).unwrap(), Lexicon::builtin());
        // A generation built before the lexicon searches without one, as it was fitted.
        let before = Lexicon::for_kb(None, None, "entries.json").unwrap();
        assert_eq!(before.groups(), 0);
    }

    #[test]
    fn the_kbs_groups_are_the_last_a_long_message_loses() {
        let own = "[[group]]\nwords = [\"carte vitale\", \"health card\"]\n";
        let lexicon = kb(own).unwrap();
        let long = format!(
            "{} health card",
            "drawer output bin jam toner display driver cable network slow memory duplex \
             wifi scanner queue offline ghost fuser drum streaks faded colour"
        );
        let expanded = lexicon.expand(&long);
        assert_eq!(expanded.len(), MAX_EXPANSIONS);
        assert!(
            expanded.contains(&"carte vitale".to_string()),
            "{expanded:?}"
        );
    }

    #[test]
    fn a_group_that_cannot_expand_is_refused_with_its_place() {
        for (text, says) in [
            ("[[group]]\nwords = [\"toner\", \"*\"]\n", "no letter"),
            ("[[group]]\nwords = [\"toner\"]\n", "two `words`"),
            ("[[group]]\nfr = [\"toner\", \"encre\"]\n", "two `words`"),
            ("[[group]]\nwords = [\"a*\", \"toner\"]\n", "a prefix needs"),
        ] {
            let err = kb(text).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("group[0]"), "{text}");
            assert!(err.message.contains(says), "{text}: {}", err.message);
        }
        let many: Vec<String> = (0..=MAX_MEMBERS).map(|i| format!("\"mot{i}\"")).collect();
        let err = kb(&format!("[[group]]\nwords = [{}]\n", many.join(", "))).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("group[0]"));
        assert!(err.message.contains("at most 64"), "{}", err.message);
        let err = kb(
            "[[group]]\nwords = [\"toner\", \"un deux trois quatre cinq six sept huit neuf\"]\n",
        )
        .unwrap_err();
        assert!(err.message.contains("at most 8 words"), "{}", err.message);
        let groups = "[[group]]\nwords = [\"toner\", \"encre\"]\n".repeat(MAX_GROUPS + 1);
        let err = kb(&groups).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("group"));
        assert!(err.message.contains("2001 groups"), "{}", err.message);
        let err = kb("[[group]]\nwordz = []\n").unwrap_err();
        assert!(err.message.contains("invalid lexicon"), "{}", err.message);
        assert_eq!(err.line, Some(2));
    }
}
