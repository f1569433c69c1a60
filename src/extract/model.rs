//! Printer models and manufacturers named in a text.
//!
//! Two sources: the catalogue (every spelling of every model we know, matched through a
//! character trie over the text's words, so "HLL2350DW", "HL L2350DW" and "Brother
//! HL-L2350DW" all land on the same entry), then the family rules, which recognise and
//! normalise models the catalogue does not list. A family match that names a catalogue
//! model (a regional variant, say) takes the catalogue's name.

use std::collections::HashMap;

use super::rules::{apply_case, Rules};
use crate::kb::catalogue::{model_key, Catalogue};

#[derive(Debug, Clone, PartialEq)]
pub struct ModelMention {
    pub start: usize,
    pub end: usize,
    /// "Manufacturer Model".
    pub canonical: String,
    pub manufacturer: String,
    pub confidence: f32,
    /// A family word alone ("the WorkCentre") standing for a model named elsewhere.
    pub reference: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MakerMention {
    pub start: usize,
    pub end: usize,
    pub name: String,
}

#[derive(Debug, Default)]
struct Node {
    children: Vec<(char, u32)>,
    model: Option<u32>,
}

/// A character trie of the catalogue's spellings (as `model_key`s).
#[derive(Debug, Default)]
pub struct CatalogueMatcher {
    nodes: Vec<Node>,
    /// The root's children by ASCII character (`u32::MAX`: none).
    root: Vec<u32>,
    /// canonical name, manufacturer, lower-case words of the name (for extending a
    /// match leftwards over "Epson WorkForce" in front of an alias "WF-2860DWF").
    models: Vec<(String, String, Vec<String>)>,
}

impl CatalogueMatcher {
    pub fn new(catalogue: &Catalogue) -> Self {
        let mut matcher = CatalogueMatcher {
            nodes: vec![Node::default()],
            root: Vec::new(),
            models: Vec::new(),
        };
        for (i, m) in catalogue.models().iter().enumerate() {
            let canonical = m.canonical();
            let words = canonical
                .split(|c: char| c.is_whitespace() || c == '-')
                .map(str::to_lowercase)
                .collect();
            matcher
                .models
                .push((canonical.clone(), m.manufacturer.clone(), words));
            let mut spellings = vec![m.name.clone(), canonical];
            for alias in &m.aliases {
                spellings.push(alias.clone());
                spellings.push(format!("{} {}", m.manufacturer, alias));
            }
            for spelling in spellings {
                let key = model_key(&spelling);
                // A bare number ("9010") is never a model on its own.
                if key.chars().any(|c| c.is_ascii_digit()) && key.chars().any(char::is_alphabetic) {
                    matcher.insert(&key, i as u32);
                }
            }
        }
        matcher.root = vec![u32::MAX; 128];
        for &(c, next) in &matcher.nodes[0].children {
            if c.is_ascii() {
                matcher.root[c as usize] = next;
            }
        }
        matcher
    }

    fn insert(&mut self, key: &str, model: u32) {
        let mut node = 0usize;
        for c in key.chars() {
            node = match self.nodes[node].children.iter().find(|(k, _)| *k == c) {
                Some(&(_, next)) => next as usize,
                None => {
                    self.nodes.push(Node::default());
                    let next = self.nodes.len() - 1;
                    self.nodes[node].children.push((c, next as u32));
                    next
                }
            };
        }
        // The first model to claim a spelling keeps it, as in `Catalogue::resolve`.
        self.nodes[node].model.get_or_insert(model);
    }

    fn child(&self, node: usize, c: char) -> Option<usize> {
        // The root has a child for most letters and digits, and every word starts there.
        if node == 0 && c.is_ascii() {
            let next = self.root[c as usize];
            return (next != u32::MAX).then_some(next as usize);
        }
        self.nodes[node]
            .children
            .iter()
            .find(|(k, _)| *k == c)
            .map(|&(_, n)| n as usize)
    }

    /// Catalogue models in `text`, longest spelling first at each word.
    pub fn find(&self, text: &str) -> Vec<ModelMention> {
        let words = alnum_words(text);
        let mut found = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let mut node = 0usize;
            let mut best: Option<(usize, u32)> = None;
            let mut j = i;
            'walk: while j < words.len() && j < i + 6 {
                if j > i && !joinable(&text[words[j - 1].1..words[j].0]) {
                    break;
                }
                for c in text[words[j].0..words[j].1].chars() {
                    let lower = if c.is_ascii() {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_lowercase().next().unwrap_or(c)
                    };
                    match self.child(node, lower) {
                        Some(n) => node = n,
                        None => break 'walk,
                    }
                }
                if let Some(m) = self.nodes[node].model {
                    best = Some((j, m));
                }
                j += 1;
            }
            match best {
                Some((last, m)) => {
                    let (canonical, maker, name_words) = &self.models[m as usize];
                    let mut first = i;
                    // Extend over the maker's name and family words written in front.
                    while first > 0
                        && first + 2 > i
                        && joinable(&text[words[first - 1].1..words[first].0])
                    {
                        let w = text[words[first - 1].0..words[first - 1].1].to_lowercase();
                        if name_words.contains(&w) || w == maker.to_lowercase() {
                            first -= 1;
                        } else {
                            break;
                        }
                    }
                    let span_words = last + 1 - first;
                    found.push(ModelMention {
                        start: words[first].0,
                        end: words[last].1,
                        canonical: canonical.clone(),
                        manufacturer: maker.clone(),
                        confidence: if span_words > 1 { 0.97 } else { 0.9 },
                        reference: false,
                    });
                    i = last + 1;
                }
                None => i += 1,
            }
        }
        found
    }
}

/// Byte spans of the runs of letters and digits.
fn alnum_words(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            out.push((s, i));
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// May two words separated by `gap` belong to one model name ("C 750", "HL-L2350DW")?
fn joinable(gap: &str) -> bool {
    gap.len() <= 3 && gap.chars().all(|c| c == ' ' || c == '-' || c == '\u{a0}')
}

/// Fills a family's `canonical` template from a regex match.
fn render(template: &str, caps: &regex::Captures<'_>, words: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let spec = &rest[open + 1..open + close];
        let (group, rule) = spec.split_once(':').unwrap_or((spec, "asis"));
        if let Some(m) = caps.name(group) {
            out.push_str(&apply_case(rule, m.as_str(), words));
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Models written the way a family writes them, named by the catalogue when it knows them.
pub fn find_by_family(text: &str, rules: &Rules, catalogue: &Catalogue) -> Vec<ModelMention> {
    let mut found = Vec::new();
    for (pattern, start, end) in rules.family_any.find_iter(text) {
        let (family_index, bare) = rules.family_any_index[pattern];
        let family = &rules.families[family_index];
        let regex = if bare {
            family.bare.as_ref()
        } else {
            family.full.as_ref()
        };
        // Captures only on the match: the capture engines are slower than a search.
        let Some(caps) = regex.and_then(|r| r.captures(&text[start..end])) else {
            continue;
        };
        let name = render(&family.canonical, &caps, &rules.words);
        if name.is_empty() {
            continue;
        }
        let full_name = format!("{} {}", family.manufacturer, name);
        // The catalogue may know the model by its code alone ("Epson WF-2860DWF").
        let by_code = caps.name("code").and_then(|code| {
            catalogue.resolve(&format!("{} {}", family.manufacturer, code.as_str()))
        });
        let (canonical, manufacturer, known) = match catalogue.resolve(&full_name).or(by_code) {
            Some(m) => (m.canonical(), m.manufacturer.clone(), true),
            None => (full_name, family.manufacturer.clone(), false),
        };
        let confidence = match (known, bare) {
            (true, _) => 0.95,
            (false, false) => 0.85,
            (false, true) => 0.75,
        };
        found.push(ModelMention {
            start,
            end,
            canonical,
            manufacturer,
            confidence,
            reference: false,
        });
    }
    found
}

/// "the WorkCentre" when a WorkCentre was named elsewhere in the text: a mention of it.
pub fn find_references(text: &str, rules: &Rules, models: &[ModelMention]) -> Vec<ModelMention> {
    let mut found = Vec::new();
    if models.is_empty() {
        return found;
    }
    for (index, start, end) in rules.word_any.find_iter(text) {
        let family = &rules.families[index];
        if models.iter().any(|x| x.start <= start && end <= x.end) {
            continue;
        }
        let key = model_key(&text[start..end]);
        let mut targets: Vec<&ModelMention> = models
            .iter()
            .filter(|x| {
                !x.reference
                    && x.manufacturer == family.manufacturer
                    && model_key(&x.canonical).contains(&key)
            })
            .collect();
        targets.dedup_by(|a, b| a.canonical == b.canonical);
        if let [target] = targets.as_slice() {
            found.push(ModelMention {
                start,
                end,
                canonical: target.canonical.clone(),
                manufacturer: target.manufacturer.clone(),
                confidence: 0.7,
                reference: true,
            });
        }
    }
    found
}

/// Keeps, of overlapping mentions, the longest (then the most confident); sorted by start.
pub fn resolve_overlaps(mut mentions: Vec<ModelMention>) -> Vec<ModelMention> {
    mentions.sort_by(|a, b| {
        (b.end - b.start)
            .cmp(&(a.end - a.start))
            .then(b.confidence.total_cmp(&a.confidence))
    });
    let mut kept: Vec<ModelMention> = Vec::new();
    for m in mentions {
        if !kept.iter().any(|k| m.start < k.end && k.start < m.end) {
            kept.push(m);
        }
    }
    kept.sort_by_key(|m| m.start);
    kept
}

/// Manufacturer names in the text. A name that is also an ordinary word ("my brother")
/// only counts capitalised, or right before one of its models.
pub fn find_makers(
    masked: &str,
    original: &str,
    rules: &Rules,
    models: &[ModelMention],
) -> Vec<MakerMention> {
    let mut found = Vec::new();
    for (index, start, end) in rules.maker_any.find_iter(masked) {
        let maker = &rules.manufacturers[index];
        if maker.needs_capital {
            let capital = original[start..].starts_with(|c: char| c.is_uppercase());
            let before_model = models
                .iter()
                .any(|x| x.manufacturer == maker.name && x.start >= end && x.start - end <= 2);
            let inside_model = models.iter().any(|x| x.start <= start && end <= x.end);
            if !(capital || before_model || inside_model) {
                continue;
            }
        }
        found.push(MakerMention {
            start,
            end,
            name: maker.name.clone(),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue::parse(
            r#"
[[model]]
manufacturer = "Lexmark"
name = "C750"
aliases = ["C750n", "C750dn"]

[[model]]
manufacturer = "Epson"
name = "WorkForce WF-2860"
aliases = ["WF-2860", "WF-2860DWF"]
"#,
            "models.toml",
        )
        .unwrap()
    }

    fn names(found: &[ModelMention]) -> Vec<&str> {
        found.iter().map(|m| m.canonical.as_str()).collect()
    }

    #[test]
    fn catalogue_spellings_and_spans() {
        let matcher = CatalogueMatcher::new(&catalogue());
        let text = "Notre Lexmark C750dn et la C 750, puis une Epson WorkForce WF-2860DWF.";
        let found = matcher.find(text);
        assert_eq!(
            names(&found),
            vec!["Lexmark C750", "Lexmark C750", "Epson WorkForce WF-2860"]
        );
        assert_eq!(&text[found[0].start..found[0].end], "Lexmark C750dn");
        assert_eq!(
            &text[found[2].start..found[2].end],
            "Epson WorkForce WF-2860DWF"
        );
        assert!(matcher.find("erreur 750 et C7500").is_empty());
    }

    #[test]
    fn families_normalise_unknown_models() {
        let rules = Rules::default_rules();
        let cat = catalogue();
        let find = |t: &str| {
            resolve_overlaps(find_by_family(t, &rules, &cat))
                .into_iter()
                .map(|m| m.canonical)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            find("ECOSYS P2040DN shows J0511"),
            vec!["Kyocera ECOSYS P2040dn"]
        );
        assert_eq!(find("brother mfc l2710dw"), vec!["Brother MFC-L2710DW"]);
        assert_eq!(
            find("colour laserjet pro mfp m479FDW"),
            vec!["HP Color LaserJet Pro MFP M479fdw"]
        );
        assert_eq!(find("imageCLASS MF443dw"), vec!["Canon i-SENSYS MF443dw"]);
        assert_eq!(find("ricoh mpc3004 sc542"), vec!["Ricoh MP C3004"]);
        assert_eq!(find("epson wf-2860dwf"), vec!["Epson WorkForce WF-2860"]);
        assert!(find("My brother set up the printer").is_empty());
    }
}
