//! The KB entry: one problem and its fix, as KB editors write it in `kb/entries/**/*.toml`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Language of an entry; picks the text analyzer used to index it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// A language's code or name, or a regional tag of it (`fr-CA`, `en_US`).
    pub fn parse(value: &str) -> Option<Lang> {
        let value = value.trim().to_lowercase();
        let primary = match value.split_once(['-', '_']) {
            Some((primary, region)) if !region.is_empty() => primary,
            _ => value.as_str(),
        };
        match primary {
            "fr" | "fra" | "fre" | "french" | "français" | "francais" => Some(Lang::Fr),
            "en" | "eng" | "english" | "anglais" => Some(Lang::En),
            _ => None,
        }
    }
}

/// Kind of problem an entry solves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    ErrorMessage,
    PaperJam,
    PrintQuality,
    Supplies,
    Maintenance,
    Network,
    Driver,
    Hardware,
    Setup,
    General,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::ErrorMessage,
        Category::PaperJam,
        Category::PrintQuality,
        Category::Supplies,
        Category::Maintenance,
        Category::Network,
        Category::Driver,
        Category::Hardware,
        Category::Setup,
        Category::General,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::ErrorMessage => "error_message",
            Category::PaperJam => "paper_jam",
            Category::PrintQuality => "print_quality",
            Category::Supplies => "supplies",
            Category::Maintenance => "maintenance",
            Category::Network => "network",
            Category::Driver => "driver",
            Category::Hardware => "hardware",
            Category::Setup => "setup",
            Category::General => "general",
        }
    }

    pub fn parse(value: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

/// One KB entry. Field order is the order of the TOML files the importers write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KbEntry {
    pub id: String,
    pub title: String,
    pub lang: Lang,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manufacturer: String,
    #[serde(default)]
    pub models: Vec<String>,
    pub category: Category,
    #[serde(default)]
    pub error_codes: Vec<String>,
    #[serde(default)]
    pub symptoms: Vec<String>,
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cause: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub solution: String,
    #[serde(default)]
    pub steps: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub source: String,
}

#[cfg(test)]
impl KbEntry {
    /// A French entry with only an id, a title and a description, for unit tests.
    pub(crate) fn sample(id: &str, title: &str, description: &str) -> KbEntry {
        KbEntry {
            id: id.into(),
            title: title.into(),
            lang: Lang::Fr,
            manufacturer: String::new(),
            models: vec![],
            category: Category::General,
            error_codes: vec![],
            symptoms: vec![],
            description: description.into(),
            cause: String::new(),
            solution: String::new(),
            steps: vec![],
            tags: vec![],
            source: "s".into(),
        }
    }
}

impl KbEntry {
    /// Stable digest of everything that is indexed; a changed hash means re-embedding.
    pub fn content_hash(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("a KbEntry always serialises");
        hex::encode(Sha256::digest(&canonical))
    }

    /// Digest of what a reply can show of the entry (title, description, cause, solution,
    /// steps; an LLM's passages are these too). A customer's "not helpful" holds against
    /// it, so an edit of what the customer never read (symptoms, tags, models, codes, the
    /// category or the source) keeps the mark, and a rewrite of the fix lifts it.
    pub fn reply_version(&self) -> String {
        #[derive(Serialize)]
        struct Shown<'a> {
            title: &'a str,
            description: &'a str,
            cause: &'a str,
            solution: &'a str,
            steps: Vec<&'a str>,
        }
        let shown = Shown {
            title: self.title.trim(),
            description: self.description.trim(),
            cause: self.cause.trim(),
            solution: self.solution.trim(),
            // As a reply shows them: trimmed, empty ones left out.
            steps: self
                .steps
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .collect(),
        };
        let canonical = serde_json::to_vec(&shown).expect("strings always serialise");
        // Prefixed so it can never equal a `content_hash`, which marks stored before it
        // carry.
        format!("r1-{}", hex::encode(Sha256::digest(&canonical)))
    }

    /// The solution as prose: the editor's own text, else the steps joined.
    pub fn solution_text(&self) -> String {
        if !self.solution.trim().is_empty() {
            return self.solution.trim().to_string();
        }
        self.steps
            .iter()
            .map(|s| {
                let s = s.trim().trim_end_matches('.');
                format!("{s}.")
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// True when the entry applies to every model (no `models` listed).
    pub fn is_generic(&self) -> bool {
        self.models.is_empty()
    }

    /// The whole text of the entry, in reading order, for dense embedding.
    pub fn passage_text(&self) -> String {
        let mut parts: Vec<String> = vec![self.title.trim().to_string()];
        if !self.models.is_empty() {
            parts.push(self.models.join(", "));
        }
        if !self.error_codes.is_empty() {
            parts.push(self.error_codes.join(", "));
        }
        parts.extend(self.symptoms.iter().map(|s| s.trim().to_string()));
        parts.push(self.description.trim().to_string());
        if !self.cause.trim().is_empty() {
            parts.push(self.cause.trim().to_string());
        }
        if !self.solution.trim().is_empty() {
            parts.push(self.solution.trim().to_string());
        }
        parts.extend(self.steps.iter().map(|s| s.trim().to_string()));
        parts
            .into_iter()
            .filter(|p| !p.is_empty())
            .map(|p| {
                if p.ends_with(['.', '!', '?', ':']) {
                    p
                } else {
                    format!("{p}.")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}
