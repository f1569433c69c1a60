//! The extraction rules file (`kb/catalogue/families.toml`): manufacturers, model
//! families, error-code formats and serial-number formats, compiled once into regexes.
//!
//! Patterns are compiled ASCII-only and case-insensitive (`(?i-u)`): the formats are
//! ASCII, and ASCII word boundaries keep the regex engine on its fast DFA path even on
//! French text full of accents.

use std::collections::HashMap;

use regex::Regex;
use regex_automata::meta;
use serde::Deserialize;

use crate::error::ValidationError;
use crate::kb::catalogue::line_of;

/// The rules shipped with devicekb, used when a KB directory has no rules file of its own.
pub const DEFAULT_RULES: &str = include_str!("../../kb/catalogue/families.toml");
pub use crate::kb::load::RULES_FILE;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    words: HashMap<String, String>,
    #[serde(default)]
    manufacturer: Vec<ManufacturerDef>,
    #[serde(default)]
    family: Vec<FamilyDef>,
    #[serde(default)]
    code: Vec<CodeDef>,
    #[serde(default)]
    serial: Vec<SerialDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManufacturerDef {
    name: String,
    pattern: String,
    #[serde(default)]
    needs_capital: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FamilyDef {
    manufacturer: String,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    bare: Option<String>,
    #[serde(default)]
    word: Option<String>,
    canonical: String,
    #[serde(default)]
    requires_manufacturer: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeDef {
    name: String,
    manufacturers: Vec<String>,
    pattern: String,
    context: CodeContext,
    normalize: CodeNormalize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SerialDef {
    manufacturer: String,
    pattern: String,
    #[serde(default)]
    standalone: bool,
}

/// What a code-shaped match needs around it to count as an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeContext {
    Anywhere,
    MakerOrCue,
    MakerAndCue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeNormalize {
    UpperCompact,
    Hex,
    Asis,
}

#[derive(Debug)]
pub struct Manufacturer {
    pub name: String,
    pub regex: Regex,
    pub needs_capital: bool,
}

/// How a model family is written. `full` matches the model with its family words
/// (the maker's name in front optional, or required); `bare` the model code alone.
#[derive(Debug)]
pub struct Family {
    pub manufacturer: String,
    pub full: Option<Regex>,
    pub bare: Option<Regex>,
    pub word: Option<Regex>,
    pub canonical: String,
}

#[derive(Debug)]
pub struct CodeFormat {
    pub name: String,
    pub manufacturers: Vec<String>,
    pub regex: Regex,
    pub context: CodeContext,
    pub normalize: CodeNormalize,
}

#[derive(Debug)]
pub struct SerialFormat {
    pub manufacturer: String,
    /// Anchored, case-sensitive: does a whole token have this shape?
    pub whole: Regex,
    /// Unanchored, case-sensitive, for serials written without a cue.
    pub find: Option<Regex>,
}

#[derive(Debug)]
pub struct Rules {
    pub words: HashMap<String, String>,
    pub manufacturers: Vec<Manufacturer>,
    pub families: Vec<Family>,
    /// Every family regex (all full patterns, then all bare ones) in one automaton:
    /// one pass over the text finds where each family matches.
    pub family_any: Multi,
    /// Pattern index of `family_any` -> (family, is it the bare pattern).
    pub family_any_index: Vec<(usize, bool)>,
    /// Family words, one pattern per family (never-matching when it has none).
    pub word_any: Multi,
    /// Manufacturer names, in `manufacturers` order.
    pub maker_any: Multi,
    pub codes: Vec<CodeFormat>,
    /// Every code format, in file order (the first listed wins a span).
    pub code_any: Multi,
    pub serials: Vec<SerialFormat>,
}

/// Room for the lazy DFA's states: with the default the caches of the larger sets are
/// cleared again and again on ordinary messages, and each search rebuilds states.
pub const DFA_CACHE_BYTES: usize = 32 << 20;

pub fn regex(pattern: &str) -> std::result::Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .dfa_size_limit(DFA_CACHE_BYTES)
        .build()
}

/// Several patterns searched in one pass, leftmost-first: each match says which pattern
/// it is. Cheaper than a `RegexSet` (no overlapping search) plus one pass per pattern.
#[derive(Debug)]
pub struct Multi(meta::Regex);

impl Multi {
    fn new(patterns: &[String]) -> std::result::Result<Multi, String> {
        meta::Builder::new()
            .configure(meta::Regex::config().hybrid_cache_capacity(DFA_CACHE_BYTES))
            .build_many(patterns)
            .map(Multi)
            .map_err(|e| e.to_string())
    }

    /// (pattern index, start, end) of each match.
    pub fn find_iter<'h>(
        &'h self,
        text: &'h str,
    ) -> impl Iterator<Item = (usize, usize, usize)> + 'h {
        self.0
            .find_iter(text)
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
    }
}

fn compile(pattern: &str, what: &str) -> std::result::Result<Regex, String> {
    regex(&format!(r"(?i-u)\b(?:{pattern})\b")).map_err(|e| format!("{what}: bad pattern: {e}"))
}

impl Rules {
    pub fn default_rules() -> Rules {
        Rules::parse(DEFAULT_RULES, "families.toml").expect("the shipped rules compile")
    }

    pub fn parse(text: &str, file: &str) -> std::result::Result<Rules, ValidationError> {
        let problem = |field: Option<String>, message: String| ValidationError {
            file: file.to_string(),
            line: None,
            field,
            message,
        };
        let parsed: RulesFile = toml::from_str(text).map_err(|e| ValidationError {
            file: file.to_string(),
            line: e.span().map(|s| line_of(text, s.start)),
            field: None,
            message: e.message().trim().to_string(),
        })?;
        let words = parsed
            .words
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();

        let mut manufacturers = Vec::new();
        for (i, m) in parsed.manufacturer.into_iter().enumerate() {
            let regex = compile(&m.pattern, &m.name)
                .map_err(|e| problem(Some(format!("manufacturer[{i}].pattern")), e))?;
            manufacturers.push(Manufacturer {
                name: m.name,
                regex,
                needs_capital: m.needs_capital,
            });
        }
        let maker_pattern = |name: &str| {
            parsed_maker_pattern(&manufacturers, name)
                .ok_or_else(|| format!("unknown manufacturer `{name}`"))
        };

        let mut families = Vec::new();
        let mut full_patterns = Vec::new();
        let mut bare_patterns = Vec::new();
        for (i, f) in parsed.family.into_iter().enumerate() {
            let field = |name: &str| Some(format!("family[{i}].{name}"));
            let maker =
                maker_pattern(&f.manufacturer).map_err(|e| problem(field("manufacturer"), e))?;
            let full = match &f.pattern {
                Some(p) => {
                    let p = if f.requires_manufacturer {
                        format!(r"(?:{maker})[\s-]+(?:{p})")
                    } else {
                        format!(r"(?:(?:{maker})[\s-]+)?(?:{p})")
                    };
                    full_patterns.push((i, format!(r"(?i-u)\b(?:{p})\b")));
                    Some(compile(&p, &f.manufacturer).map_err(|e| problem(field("pattern"), e))?)
                }
                None => None,
            };
            let bare = match &f.bare {
                Some(p) => {
                    bare_patterns.push((i, format!(r"(?i-u)\b(?:{p})\b")));
                    Some(compile(p, &f.manufacturer).map_err(|e| problem(field("bare"), e))?)
                }
                None => None,
            };
            let word = match &f.word {
                Some(p) => {
                    Some(compile(p, &f.manufacturer).map_err(|e| problem(field("word"), e))?)
                }
                None => None,
            };
            if full.is_none() && bare.is_none() {
                return Err(problem(
                    field("pattern"),
                    "a family needs `pattern` or `bare`".into(),
                ));
            }
            families.push(Family {
                manufacturer: f.manufacturer,
                full,
                bare,
                word,
                canonical: f.canonical,
            });
        }
        let multi = |patterns: Vec<String>, field: &str| {
            Multi::new(&patterns).map_err(|e| problem(Some(field.into()), e))
        };
        let family_any_index: Vec<(usize, bool)> = full_patterns
            .iter()
            .map(|(i, _)| (*i, false))
            .chain(bare_patterns.iter().map(|(i, _)| (*i, true)))
            .collect();
        let family_any = multi(
            full_patterns
                .into_iter()
                .chain(bare_patterns)
                .map(|(_, p)| p)
                .collect(),
            "family",
        )?;
        let word_any = multi(
            families
                .iter()
                .map(|f| {
                    f.word
                        .as_ref()
                        .map_or(r"[^\s\S]".to_string(), |w| w.as_str().to_string())
                })
                .collect(),
            "family.word",
        )?;
        let maker_any = multi(
            manufacturers
                .iter()
                .map(|m| m.regex.as_str().to_string())
                .collect(),
            "manufacturer",
        )?;

        let mut codes = Vec::new();
        for (i, c) in parsed.code.into_iter().enumerate() {
            for m in &c.manufacturers {
                maker_pattern(m)
                    .map_err(|e| problem(Some(format!("code[{i}].manufacturers")), e))?;
            }
            let regex = compile(&c.pattern, &c.name)
                .map_err(|e| problem(Some(format!("code[{i}].pattern")), e))?;
            codes.push(CodeFormat {
                name: c.name,
                manufacturers: c.manufacturers,
                regex,
                context: c.context,
                normalize: c.normalize,
            });
        }
        let code_any = multi(
            codes.iter().map(|c| c.regex.as_str().to_string()).collect(),
            "code",
        )?;

        let mut serials = Vec::new();
        for (i, s) in parsed.serial.into_iter().enumerate() {
            let field = Some(format!("serial[{i}].pattern"));
            maker_pattern(&s.manufacturer)
                .map_err(|e| problem(Some(format!("serial[{i}].manufacturer")), e))?;
            let whole = regex(&format!("^(?-u:{})$", s.pattern))
                .map_err(|e| problem(field.clone(), e.to_string()))?;
            let find = if s.standalone {
                Some(
                    regex(&format!(r"(?-u)\b(?:{})\b", s.pattern))
                        .map_err(|e| problem(field, e.to_string()))?,
                )
            } else {
                None
            };
            serials.push(SerialFormat {
                manufacturer: s.manufacturer,
                whole,
                find,
            });
        }

        Ok(Rules {
            words,
            manufacturers,
            families,
            family_any,
            family_any_index,
            word_any,
            maker_any,
            codes,
            code_any,
            serials,
        })
    }

    pub fn manufacturer(&self, name: &str) -> Option<&Manufacturer> {
        self.manufacturers.iter().find(|m| m.name == name)
    }
}

fn parsed_maker_pattern(manufacturers: &[Manufacturer], name: &str) -> Option<String> {
    manufacturers.iter().find(|m| m.name == name).map(|m| {
        // The compiled regex is `(?i-u)\b(?:P)\b`; take P back out.
        let s = m.regex.as_str();
        s.trim_start_matches(r"(?i-u)\b(?:")
            .trim_end_matches(r")\b")
            .to_string()
    })
}

/// Prints a matched piece of a model name by the rule named in `canonical`.
pub fn apply_case(rule: &str, text: &str, words: &HashMap<String, String>) -> String {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    match rule {
        "upper" => compact.to_ascii_uppercase(),
        "lower_suffix" => lower_suffix(&compact),
        "upper_prefix" => {
            let letters = compact
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .count();
            let (head, tail) = compact.split_at(letters);
            format!("{}{}", head.to_ascii_uppercase(), lower_suffix(tail))
        }
        "dash_upper" => {
            let upper = compact.replace('-', "").to_ascii_uppercase();
            let letters = upper
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .count();
            if letters == 0 || letters == upper.len() {
                upper
            } else {
                format!("{}-{}", &upper[..letters], &upper[letters..])
            }
        }
        "word" => {
            let key = text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_lowercase();
            words.get(&key).cloned().unwrap_or_else(|| text.to_string())
        }
        _ => text.to_string(),
    }
}

/// Upper case up to the last digit, lower case after it: "M404DN" -> "M404dn".
fn lower_suffix(s: &str) -> String {
    let cut = s.rfind(|c: char| c.is_ascii_digit()).map_or(0, |i| i + 1);
    format!(
        "{}{}",
        s[..cut].to_ascii_uppercase(),
        s[cut..].to_ascii_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_compile() {
        let rules = Rules::default_rules();
        assert!(rules.families.len() >= 15);
        assert!(rules.codes.iter().any(|c| c.name == "ricoh-sc"));
    }

    #[test]
    fn case_rules() {
        let words = HashMap::from([("colour".to_string(), "Color".to_string())]);
        assert_eq!(apply_case("lower_suffix", "m404DN", &words), "M404dn");
        assert_eq!(apply_case("upper_prefix", "c5535I", &words), "C5535i");
        assert_eq!(apply_case("dash_upper", "et2850", &words), "ET-2850");
        assert_eq!(apply_case("dash_upper", "wf-2860dwf", &words), "WF-2860DWF");
        assert_eq!(apply_case("word", "colour", &words), "Color");
        assert_eq!(apply_case("upper", "l2350dw", &words), "L2350DW");
    }

    #[test]
    fn a_bad_pattern_names_the_field() {
        let err = Rules::parse(
            "[[manufacturer]]\nname = \"X\"\npattern = \"x\"\n[[code]]\nname = \"c\"\nmanufacturers = [\"X\"]\npattern = \"(\"\ncontext = \"anywhere\"\nnormalize = \"asis\"\n",
            "f.toml",
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("code[0].pattern"));
        let err = Rules::parse(
            "[[family]]\nmanufacturer = \"Nobody\"\npattern = \"x\"\ncanonical = \"x\"\n",
            "f.toml",
        )
        .unwrap_err();
        assert!(err.message.contains("unknown manufacturer"), "{err}");
    }
}
