//! The extractor: printer model, manufacturer, error codes and serial number from any
//! ticket text (French, English, mixed; e-mails with signatures, quoted replies, HTML).
//!
//! A pure function of the text and the rules (`kb/catalogue/models.toml` and
//! `families.toml`, plus the error codes the KB's entries list per model): no I/O, no
//! allocation proportional to anything but the text. Steps, in order:
//! 1. `mask`: blank what is never a finding (dates, phones, prices, versions, HTML);
//! 2. `model`: catalogue spellings, then family patterns, then "the WorkCentre" references;
//! 3. `serial`: after a cue, or in a known format of a maker the text names;
//! 4. `code`: each code format, judged by the words around it;
//! 5. ranking: the model the codes are about comes first.

mod code;
mod context;
pub mod eval;
pub mod mask;
mod model;
pub mod rules;
mod serial;
pub mod signals;

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

pub use rules::Rules;

use crate::kb::{Catalogue, KbEntry, LoadedKb};
use code::CodeScope;
use model::{CatalogueMatcher, ModelMention};

/// What an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Model,
    Manufacturer,
    ErrorCode,
    Serial,
}

/// One finding with its place in the text. `start` and `end` count characters (Unicode
/// scalar values), not bytes, so clients in any language can slice the text with them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entity {
    pub kind: EntityKind,
    /// As written in the text.
    pub value: String,
    /// Normalised: "Lexmark C750", "SC899-00", "0xEA".
    pub normalized: String,
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
}

/// The extractor's answer. `model`, `error_codes` and `serial` hold the most likely
/// findings; `entities` holds every one, the most likely first within each kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Extraction {
    pub model: Option<String>,
    pub manufacturer: Option<String>,
    pub error_codes: Vec<String>,
    pub serial: Option<String>,
    pub entities: Vec<Entity>,
}

impl Extraction {
    /// Every model named, the most likely first.
    pub fn models(&self) -> Vec<&str> {
        self.entities
            .iter()
            .filter(|e| e.kind == EntityKind::Model)
            .map(|e| e.normalized.as_str())
            .fold(Vec::new(), |mut acc, m| {
                if !acc.contains(&m) {
                    acc.push(m);
                }
                acc
            })
    }
}

/// Compiled rules, catalogue and known codes. Build once, share, call `extract` freely.
pub struct Extractor {
    rules: Rules,
    catalogue: Catalogue,
    matcher: CatalogueMatcher,
    /// canonical model -> error codes its KB entries list.
    known_codes: HashMap<String, HashSet<String>>,
}

impl Extractor {
    pub fn new(rules: Rules, catalogue: Catalogue, entries: &[KbEntry]) -> Self {
        let mut known_codes: HashMap<String, HashSet<String>> = HashMap::new();
        for entry in entries {
            for model in &entry.models {
                let canonical = catalogue
                    .resolve(model)
                    .map_or_else(|| model.clone(), |m| m.canonical());
                let codes = known_codes.entry(canonical).or_default();
                for code in &entry.error_codes {
                    if code.chars().any(|c| c.is_ascii_digit()) && code.len() <= 16 {
                        codes.insert(code.trim().to_string());
                    }
                }
            }
        }
        let matcher = CatalogueMatcher::new(&catalogue);
        Extractor {
            rules,
            catalogue,
            matcher,
            known_codes,
        }
    }

    /// Reads the rules, the catalogue and the entries' error codes of a KB directory.
    pub fn from_kb_dir(kb_dir: &std::path::Path) -> crate::Result<Self> {
        let (kb, rules) = read_checked(kb_dir)?;
        Ok(Extractor::new(rules, kb.catalogue, &kb.entries))
    }

    /// An extractor with the shipped rules and the given catalogue, no KB entries.
    pub fn with_catalogue(catalogue: Catalogue) -> Self {
        Extractor::new(Rules::default_rules(), catalogue, &[])
    }

    pub fn extract(&self, text: &str) -> Extraction {
        let masked = mask::mask(text);
        // Every model, code and serial has a digit: without one, only makers can be named.
        let digits = masked.bytes().any(|b| b.is_ascii_digit());

        let mut models = Vec::new();
        if digits {
            models = model::find_by_family(&masked, &self.rules, &self.catalogue);
            // A bare code after a place or a reference word is a room, not a printer:
            // "salle C315", "bureau B230", "réunion en C235".
            models.extend(self.matcher.find(&masked).into_iter().filter(|m| {
                // Bare: no maker or family word in the match ("C315", "C 750").
                let bare = !masked[m.start..m.end]
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|w| w.chars().count() >= 2 && w.chars().all(char::is_alphabetic));
                let before = context::words_before(&masked, m.start, 1);
                !(bare
                    && before
                        .first()
                        .is_some_and(|w| context::is_place_prefix(&w.lower)))
            }));
        }
        let mut models = model::resolve_overlaps(models);
        let references = model::find_references(&masked, &self.rules, &models);
        models.extend(references);
        models.sort_by_key(|m| m.start);

        let makers = model::find_makers(&masked, text, &self.rules, &models);
        let mut maker_names: Vec<&str> = models.iter().map(|m| m.manufacturer.as_str()).collect();
        maker_names.extend(makers.iter().map(|m| m.name.as_str()));
        maker_names.sort_unstable();
        maker_names.dedup();

        let serials = if digits {
            serial::find(&masked, &self.rules, &maker_names, &models)
        } else {
            Vec::new()
        };

        let mut taken: Vec<(usize, usize)> = models.iter().map(|m| (m.start, m.end)).collect();
        taken.extend(serials.iter().map(|s| (s.start, s.end)));
        let known: Vec<&HashSet<String>> = models
            .iter()
            .filter_map(|m| self.known_codes.get(&m.canonical))
            .collect();
        let codes = if !digits {
            Vec::new()
        } else {
            code::find(
                &masked,
                text,
                &self.rules,
                &CodeScope {
                    makers: &maker_names,
                    models: &models,
                    taken: &taken,
                    known: &known,
                },
            )
        };

        let ranked = rank_models(&masked, &models, &codes);
        let primary = ranked.first().map(|&i| &models[i]);
        // Codes about the primary model first, then the others; each in text order.
        let mut code_order: Vec<usize> = (0..codes.len()).collect();
        code_order.sort_by_key(|&i| {
            let about = attribute(&codes[i], &models);
            let first =
                primary.is_some_and(|p| about.is_some_and(|a| models[a].canonical == p.canonical));
            (!first, codes[i].start)
        });
        let mut error_codes: Vec<String> = Vec::new();
        for &i in &code_order {
            if !error_codes.contains(&codes[i].normalized) {
                error_codes.push(codes[i].normalized.clone());
            }
        }

        let manufacturer = primary.map(|m| m.manufacturer.clone()).or_else(|| {
            // No model: the maker whose code formats were seen, else the first named.
            makers
                .iter()
                .find(|m| codes.iter().any(|c| c.manufacturers.contains(&m.name)))
                .or(makers.first())
                .map(|m| m.name.clone())
        });

        let mut chars = CharOffsets::new(text);
        let mut entities = Vec::new();
        for &i in &ranked {
            let m = &models[i];
            entities.push(entity(
                &mut chars,
                text,
                EntityKind::Model,
                m.start,
                m.end,
                m.canonical.clone(),
                m.confidence,
            ));
        }
        for m in &makers {
            entities.push(entity(
                &mut chars,
                text,
                EntityKind::Manufacturer,
                m.start,
                m.end,
                m.name.clone(),
                0.9,
            ));
        }
        for &i in &code_order {
            let c = &codes[i];
            entities.push(entity(
                &mut chars,
                text,
                EntityKind::ErrorCode,
                c.start,
                c.end,
                c.normalized.clone(),
                c.confidence,
            ));
        }
        for s in &serials {
            entities.push(entity(
                &mut chars,
                text,
                EntityKind::Serial,
                s.start,
                s.end,
                s.normalized.clone(),
                s.confidence,
            ));
        }

        Extraction {
            model: primary.map(|m| m.canonical.clone()),
            manufacturer,
            error_codes,
            serial: serials.first().map(|s| s.normalized.clone()),
            entities,
        }
    }
}

/// The model a code is about: the nearest model of a maker that prints this format named
/// before it, else the nearest model before it, else the first model after it.
fn attribute(code: &code::CodeMention, models: &[ModelMention]) -> Option<usize> {
    let before = |same_maker: bool| {
        models
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                m.end <= code.start && (!same_maker || code.manufacturers.contains(&m.manufacturer))
            })
            .max_by_key(|(_, m)| m.end)
            .map(|(i, _)| i)
    };
    before(true).or_else(|| before(false)).or_else(|| {
        models
            .iter()
            .enumerate()
            .filter(|(_, m)| m.start >= code.end)
            .min_by_key(|(_, m)| m.start)
            .map(|(i, _)| i)
    })
}

/// Words after a model that say it is not the one with the problem.
const WORKS_FINE: &[&str] = &[
    "works fine",
    "work fine",
    "working fine",
    "is fine",
    "works well",
    "is ok",
    "works ok",
    "marche bien",
    "marche très bien",
    "fonctionne bien",
    "fonctionne très bien",
    "marche,",
    "marche très",
    "fonctionne,",
    "est ok",
    "va bien",
    "no problem",
    "sans problème",
];

/// Indexes of one mention per distinct model, the most likely first: the model most
/// codes are about, then the most confident, then the first named.
fn rank_models(masked: &str, models: &[ModelMention], codes: &[code::CodeMention]) -> Vec<usize> {
    let mut score: HashMap<&str, (f32, usize)> = HashMap::new();
    for (i, m) in models.iter().enumerate() {
        let tail: String = masked[m.end..]
            .chars()
            .take(48)
            .collect::<String>()
            .to_lowercase();
        let clause = tail.split(['.', ';', '!', '?', '\n']).next().unwrap_or("");
        let fine = WORKS_FINE.iter().any(|w| clause.contains(w));
        let s = m.confidence - if fine { 0.5 } else { 0.0 };
        let e = score.entry(m.canonical.as_str()).or_insert((f32::MIN, i));
        if s > e.0 {
            e.0 = s;
        }
    }
    for c in codes {
        if let Some(i) = attribute(c, models) {
            if let Some(e) = score.get_mut(models[i].canonical.as_str()) {
                e.0 += 1.0;
            }
        }
    }
    let mut firsts: Vec<(usize, f32)> = Vec::new();
    for (i, m) in models.iter().enumerate() {
        if !m.reference
            && !firsts
                .iter()
                .any(|&(j, _)| models[j].canonical == m.canonical)
        {
            firsts.push((i, score[m.canonical.as_str()].0));
        }
    }
    firsts.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    firsts.into_iter().map(|(i, _)| i).collect()
}

/// Converts byte offsets to character offsets, moving forward through the text.
struct CharOffsets<'a> {
    text: &'a str,
    ascii: bool,
}

impl<'a> CharOffsets<'a> {
    fn new(text: &'a str) -> Self {
        CharOffsets {
            text,
            ascii: text.is_ascii(),
        }
    }
    fn at(&mut self, byte: usize) -> usize {
        if self.ascii {
            byte
        } else {
            self.text[..byte].chars().count()
        }
    }
}

fn entity(
    chars: &mut CharOffsets<'_>,
    text: &str,
    kind: EntityKind,
    start: usize,
    end: usize,
    normalized: String,
    confidence: f32,
) -> Entity {
    Entity {
        kind,
        value: text[start..end].to_string(),
        normalized,
        start: chars.at(start),
        end: chars.at(end),
        confidence,
    }
}

/// Loads and validates the whole KB under `kb_dir`, its extraction rules included (the
/// KB checks its own formats, the rules' format is the extractor's). On any problem,
/// `Error::KbInvalid` lists every problem found.
pub fn load_kb(kb_dir: &std::path::Path) -> crate::Result<LoadedKb> {
    read_checked(kb_dir).map(|(kb, _)| kb)
}

/// The validated KB and its compiled rules (the shipped ones when it has none).
fn read_checked(kb_dir: &std::path::Path) -> crate::Result<(LoadedKb, Rules)> {
    let (kb, mut errors) = crate::kb::read_kb(kb_dir)?;
    let rules = match &kb.rules {
        Some(text) => {
            let shown = kb_dir.join(rules::RULES_FILE).display().to_string();
            Rules::parse(text, &shown)
                .map_err(|e| errors.insert(0, e))
                .ok()
        }
        None => Some(Rules::default_rules()),
    };
    match rules {
        Some(rules) if errors.is_empty() => Ok((kb, rules)),
        _ => Err(crate::Error::KbInvalid(errors)),
    }
}

#[cfg(test)]
mod tests;
