//! The printer-model catalogue (`kb/catalogue/models.toml`): canonical names and the
//! other spellings people use, so "c750n" and "Lexmark C750" mean the same printer.

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ValidationError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterModel {
    pub manufacturer: String,
    pub name: String,
    #[serde(default)]
    pub series: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl PrinterModel {
    /// "Manufacturer Name", the form entries and API answers use.
    pub fn canonical(&self) -> String {
        if self.manufacturer.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.manufacturer, self.name)
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    #[serde(default)]
    model: Vec<PrinterModel>,
}

/// The product's catalogue, compiled in: every KB inherits its models, variants and
/// spellings, and a KB's own `catalogue/models.toml` extends it.
pub const BUILTIN_CATALOGUE: &str = include_str!("../../kb/catalogue/models.toml");

static BUILTIN: LazyLock<Catalogue> = LazyLock::new(|| {
    // A unit test parses the same text, so a broken file fails the build's tests first.
    Catalogue::parse(BUILTIN_CATALOGUE, "builtin catalogue").unwrap_or_default()
});

/// Lookup key: lowercase, with spaces, dashes and dots removed ("C 750" == "c750").
pub fn model_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    models: Vec<PrinterModel>,
    by_key: HashMap<String, usize>,
}

impl Catalogue {
    pub fn from_models(models: Vec<PrinterModel>) -> Self {
        let mut by_key = HashMap::new();
        for (i, m) in models.iter().enumerate() {
            by_key.insert(model_key(&m.canonical()), i);
            by_key.entry(model_key(&m.name)).or_insert(i);
            for alias in &m.aliases {
                by_key.entry(model_key(alias)).or_insert(i);
                by_key
                    .entry(model_key(&format!("{} {}", m.manufacturer, alias)))
                    .or_insert(i);
            }
        }
        Catalogue { models, by_key }
    }

    /// The product's own catalogue.
    pub fn builtin() -> Catalogue {
        BUILTIN.clone()
    }

    /// The builtin catalogue extended by a KB's own models. The KB's models come first and
    /// keep their own spelling, so its names win every lookup; a builtin model with the same
    /// canonical name only adds its aliases (and type or series when the KB left them empty).
    pub fn with_builtin(own: &[PrinterModel]) -> Catalogue {
        let mut models: Vec<PrinterModel> = own.to_vec();
        for base in &BUILTIN.models {
            let key = model_key(&base.canonical());
            match models.iter_mut().find(|m| model_key(&m.canonical()) == key) {
                Some(mine) => {
                    if mine.series.is_empty() {
                        mine.series = base.series.clone();
                    }
                    if mine.kind.is_empty() {
                        mine.kind = base.kind.clone();
                    }
                    for alias in &base.aliases {
                        if !mine
                            .aliases
                            .iter()
                            .any(|a| model_key(a) == model_key(alias))
                        {
                            mine.aliases.push(alias.clone());
                        }
                    }
                }
                None => models.push(base.clone()),
            }
        }
        Catalogue::from_models(models)
    }

    /// Reads the catalogue; a missing file is an empty catalogue, a broken one an error.
    pub fn load(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Ok(Catalogue::default());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        Self::parse(&text, &path.display().to_string()).map_err(|e| Error::KbInvalid(vec![e]))
    }

    pub fn parse(text: &str, file: &str) -> std::result::Result<Self, ValidationError> {
        let parsed: CatalogueFile = toml::from_str(text).map_err(|e| ValidationError {
            file: file.to_string(),
            line: e.span().map(|s| line_of(text, s.start)),
            field: None,
            message: e.message().trim().to_string(),
        })?;
        Ok(Self::from_models(parsed.model))
    }

    pub fn models(&self) -> &[PrinterModel] {
        &self.models
    }

    /// Resolves any known spelling to the catalogue model.
    pub fn resolve(&self, name: &str) -> Option<&PrinterModel> {
        self.by_key.get(&model_key(name)).map(|&i| &self.models[i])
    }

    /// Models named in free text: any word with a digit (or two adjacent words, for
    /// "C 750" or "HL L2350DW") that is a known spelling. Order of first mention.
    pub fn mentioned_in(&self, text: &str) -> Vec<&PrinterModel> {
        let words: Vec<&str> = text
            .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '.'))
            .map(|w| w.trim_matches(|c| c == '-' || c == '.'))
            .filter(|w| !w.is_empty())
            .collect();
        let mut found: Vec<&PrinterModel> = Vec::new();
        for (i, word) in words.iter().enumerate() {
            let mut candidates = Vec::new();
            if i > 0 {
                candidates.push(format!("{}{}", words[i - 1], word));
            }
            candidates.push(word.to_string());
            for candidate in candidates {
                if !candidate.chars().any(|c| c.is_ascii_digit()) {
                    continue;
                }
                if let Some(m) = self.resolve(&candidate) {
                    if !found.iter().any(|f| f.canonical() == m.canonical()) {
                        found.push(m);
                    }
                    break;
                }
            }
        }
        found
    }

    /// Every spelling of a canonical model name (lowercased), for exact-token indexing.
    pub fn spellings(&self, canonical: &str) -> Vec<String> {
        let mut out = vec![canonical.to_lowercase()];
        if let Some(m) = self.resolve(canonical) {
            out.push(m.name.to_lowercase());
            out.extend(m.aliases.iter().map(|a| a.to_lowercase()));
        }
        out.sort();
        out.dedup();
        out
    }
}

/// 1-based line number of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
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
aliases = ["C750n", "C 750"]
"#,
            "models.toml",
        )
        .unwrap()
    }

    #[test]
    fn resolves_aliases_and_spacing() {
        let c = catalogue();
        for spelling in [
            "Lexmark C750",
            "c750",
            "C750N",
            "c 750",
            "lexmark c750n",
            "C-750",
        ] {
            assert_eq!(
                c.resolve(spelling).map(|m| m.canonical()),
                Some("Lexmark C750".to_string()),
                "{spelling}"
            );
        }
        assert!(c.resolve("C760").is_none());
    }

    #[test]
    fn finds_models_mentioned_in_text() {
        let c = catalogue();
        let names = |t: &str| {
            c.mentioned_in(t)
                .iter()
                .map(|m| m.canonical())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("Bonjour, ma C750n affiche 88"), vec!["Lexmark C750"]);
        assert_eq!(names("la lexmark c 750 bourre"), vec!["Lexmark C750"]);
        assert!(names("erreur 750 sur l'imprimante").is_empty());
    }

    #[test]
    fn builtin_catalogue_parses_and_a_kb_extends_it() {
        let builtin = Catalogue::parse(BUILTIN_CATALOGUE, "models.toml").unwrap();
        assert!(builtin.models().len() >= 100);
        let own = vec![
            PrinterModel {
                manufacturer: "Lexmark".into(),
                name: "C750".into(),
                series: String::new(),
                kind: "laser couleur".into(),
                aliases: vec!["C750-X".into()],
            },
            PrinterModel {
                manufacturer: "Acme".into(),
                name: "P1".into(),
                series: String::new(),
                kind: String::new(),
                aliases: vec![],
            },
        ];
        let merged = Catalogue::with_builtin(&own);
        assert_eq!(merged.models().len(), builtin.models().len() + 1);
        for spelling in ["lexmark c750n", "C750dn", "C750-X"] {
            assert_eq!(
                merged.resolve(spelling).map(|m| m.canonical()),
                Some("Lexmark C750".to_string()),
                "{spelling}"
            );
        }
        assert!(merged.resolve("Acme P1").is_some());
        // The KB's own spelling of a builtin model is kept.
        let shouted = PrinterModel {
            manufacturer: "LEXMARK".into(),
            name: "C750".into(),
            series: String::new(),
            kind: String::new(),
            aliases: vec![],
        };
        let merged = Catalogue::with_builtin(&[shouted]);
        let m = merged.resolve("c750dn").unwrap();
        assert_eq!(m.canonical(), "LEXMARK C750");
        assert!(!m.kind.is_empty());
    }

    #[test]
    fn broken_catalogue_names_the_line() {
        let err =
            Catalogue::parse("[[model]]\nmanufacturer = \"X\"\nname = 3\n", "m.toml").unwrap_err();
        assert_eq!(err.line, Some(3));
    }
}
