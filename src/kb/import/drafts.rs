//! Records an export has not published: a help centre exports its drafts, archived and
//! hidden articles beside the live ones, each tool saying so its own way (`draft: true`,
//! `published: false`, `status: "Brouillon"`). A customer's KB holds what its customers
//! can read, so those are left out unless asked (`--include-drafts`), and said.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Whether an export publishes a record, as its `draft`, `published` or `status` says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Publication {
    /// Nothing says otherwise.
    Published,
    /// A draft, archived, hidden...: what says so (`status: draft`).
    Unpublished(String),
    /// A value this import does not read (`status: 2`, `published: 2024-03-01`): kept.
    Unread(String),
}

/// `status` values that say a record is live.
const PUBLISHED: &[&str] = &[
    "published",
    "publish",
    "publie",
    "publiee",
    "live",
    "public",
    "online",
    "en ligne",
    "active",
    "actif",
    "visible",
    "enabled",
    "approved",
    "approuve",
    "current",
];
/// `status` values that say a record is not (yet, or no longer) shown to customers.
const UNPUBLISHED: &[&str] = &[
    "draft",
    "drafts",
    "brouillon",
    "unpublished",
    "notpublished",
    "not published",
    "non publie",
    "depublie",
    "archived",
    "archive",
    "archivee",
    "private",
    "prive",
    "privee",
    "hidden",
    "masque",
    "masquee",
    "pending",
    "review",
    "in review",
    "en attente",
    "en relecture",
    "deleted",
    "supprime",
    "supprimee",
    "trash",
    "disabled",
    "inactive",
    "inactif",
    "scheduled",
    "planifie",
    "planifiee",
    "expired",
    "expire",
    "obsolete",
    "trashed",
    "corbeille",
];

/// What the record's `draft`, `published` and `status` say. A value this import cannot
/// read (a date in `published`, a tool's own code or object in `status`) keeps the record
/// and is said: an import that refused it would leave the user no way around.
pub(super) fn publication(obj: &Map<String, Value>) -> Publication {
    let mut unread = None;
    for (field, unpublished_when) in [("draft", true), ("published", false)] {
        let value = match obj.get(field) {
            None | Some(Value::Null) => continue,
            // An empty cell says nothing.
            Some(Value::String(s)) if s.trim().is_empty() => continue,
            Some(value) => value,
        };
        match truth(value) {
            Some(flag) if flag == unpublished_when => {
                return Publication::Unpublished(format!("{field}: {flag}"));
            }
            Some(_) => {}
            None => unread = unread.or(Some(format!("{field}: {}", plain(value)))),
        }
    }
    let status = match obj.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(other) => {
            unread = unread.or(Some(format!("status: {}", plain(other))));
            None
        }
    };
    if let Some(status) = status {
        let folded = fold(&status);
        if UNPUBLISHED.contains(&folded.as_str()) {
            return Publication::Unpublished(format!("status: {status}"));
        }
        if !folded.is_empty() && !PUBLISHED.contains(&folded.as_str()) {
            unread = unread.or(Some(format!("status: {status}")));
        }
    }
    match unread {
        Some(said) => Publication::Unread(said),
        None => Publication::Published,
    }
}

/// A flag as exports write it: JSON's booleans, `1`/`0`, `yes`, `oui`, `true`...
fn truth(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match fold(s).as_str() {
            "true" | "yes" | "oui" | "vrai" | "1" | "y" | "x" => Some(true),
            "false" | "no" | "non" | "faux" | "0" | "n" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Lower case without accents, `_` and `-` read as spaces, spaces folded: `Not_Published`
/// is `not published`.
fn fold(text: &str) -> String {
    let bare = crate::kb::lang::fold(text).replace(['_', '-'], " ");
    bare.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A value as a note shows it, cut short.
fn plain(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    };
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

/// `draft: true` (2), `status: archived` (1)
pub(super) fn counted(counts: &BTreeMap<String, usize>) -> String {
    counts
        .iter()
        .map(|(what, n)| format!("`{what}` {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
