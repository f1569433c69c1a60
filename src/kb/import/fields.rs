//! How an export's own field names are read. A help centre's export names its fields its
//! own way (`question`, `answer`, `body`, `label_names`) and carries many the KB has no use
//! for (`author_id`, `created_at`): `--field title=question` reads the KB's `title` from
//! the export's `question`, and `--ignore-unknown` leaves out every field that is neither
//! one of the KB's nor mapped to one, instead of refusing the file. Without either, a field
//! the KB does not know is refused by name, so nothing is dropped without the user asking.

use super::records::KNOWN;
use crate::error::{Error, Result};

/// The export's field names mapped to the KB's (`records::KNOWN`).
#[derive(Debug, Clone, Default)]
pub struct FieldMap {
    /// (their name, lowercase; the KB's field it is read as).
    renames: Vec<(String, &'static str)>,
    ignore_unknown: bool,
}

/// What a field of the export is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Read {
    /// The KB's field of that name.
    Field(&'static str),
    /// Left out (`--ignore-unknown`).
    Ignored,
}

impl Read {
    pub(super) fn field(self) -> Option<&'static str> {
        match self {
            Read::Field(field) => Some(field),
            Read::Ignored => None,
        }
    }
}

impl FieldMap {
    /// From `--field OURS=THEIRS` options (each may also hold several pairs separated by
    /// commas) and `--ignore-unknown`.
    pub fn new(pairs: &[String], ignore_unknown: bool) -> Result<Self> {
        let mut renames: Vec<(String, &'static str)> = Vec::new();
        for pair in pairs.iter().flat_map(|p| p.split(',')) {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let Some((ours, theirs)) = pair.split_once('=') else {
                let message = format!("`{pair}` is not OURS=THEIRS (for instance title=question)");
                return Err(Error::invalid("--field", message));
            };
            let (ours, theirs) = (ours.trim().to_lowercase(), theirs.trim().to_lowercase());
            let Some(ours) = KNOWN.iter().copied().find(|k| *k == ours) else {
                let known = KNOWN.join(", ");
                let message = format!("`{ours}` is not a field of the KB ({known})");
                return Err(Error::invalid("--field", message));
            };
            if theirs.is_empty() {
                let message = format!("`{pair}` names no field of the file to read `{ours}` from");
                return Err(Error::invalid("--field", message));
            }
            if renames.iter().any(|(_, o)| *o == ours) {
                let message = format!("`{ours}` is given twice");
                return Err(Error::invalid("--field", message));
            }
            if renames.iter().any(|(t, _)| *t == theirs) {
                let message = format!("the file's `{theirs}` is given twice");
                return Err(Error::invalid("--field", message));
            }
            renames.push((theirs, ours));
        }
        Ok(FieldMap {
            renames,
            ignore_unknown,
        })
    }

    /// What the export's field `theirs` is read as; `None` when it is unknown and not to
    /// be ignored. A mapping comes first: with `--field title=text`, the export's `text`
    /// is the title, not the text.
    pub(super) fn read(&self, theirs: &str) -> Option<Read> {
        let name = theirs.trim().to_lowercase();
        if let Some((_, ours)) = self.renames.iter().find(|(t, _)| *t == name) {
            return Some(Read::Field(ours));
        }
        if let Some(known) = KNOWN.iter().copied().find(|k| **k == name) {
            return Some(Read::Field(known));
        }
        self.ignore_unknown.then_some(Read::Ignored)
    }

    /// What to do about unknown fields (or columns, `what`): said once for a file.
    pub(super) fn how_to_read(&self, what: &str) -> String {
        format!(
            "the KB's fields are {}: `--field OURS=THEIRS` reads one of the file's {what}s as one of them (`--field title=question`), `--ignore-unknown` leaves out the {what}s it does not know",
            KNOWN.join(", ")
        )
    }

    /// The mappings given, as (the KB's field, the export's name).
    pub(super) fn renames(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.renames
            .iter()
            .map(|(theirs, ours)| (*ours, theirs.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_error(pairs: &[&str]) -> String {
        let pairs: Vec<String> = pairs.iter().map(|p| p.to_string()).collect();
        match FieldMap::new(&pairs, false) {
            Err(Error::InvalidInput { field, message }) => format!("{field}: {message}"),
            other => panic!("expected an invalid --field, got {other:?}"),
        }
    }

    #[test]
    fn a_mapping_comes_before_the_kbs_own_names() {
        let pairs = vec![
            "title=text".to_string(),
            "text=Body, tags=label_names".into(),
        ];
        let map = FieldMap::new(&pairs, false).unwrap();
        assert_eq!(map.read("text"), Some(Read::Field("title")));
        assert_eq!(map.read("BODY"), Some(Read::Field("text")));
        assert_eq!(map.read("label_names"), Some(Read::Field("tags")));
        assert_eq!(map.read("steps"), Some(Read::Field("steps")));
        assert_eq!(map.read("author_id"), None);
        let lenient = FieldMap::new(&[], true).unwrap();
        assert_eq!(lenient.read("author_id"), Some(Read::Ignored));
        assert_eq!(lenient.read("id"), Some(Read::Field("id")));
    }

    #[test]
    fn a_mapping_that_cannot_be_read_is_refused_by_name() {
        assert!(field_error(&["title"]).starts_with("--field: `title` is not OURS=THEIRS"));
        assert!(field_error(&["name=question"]).starts_with("--field: `name` is not a field"));
        assert!(field_error(&["title="]).contains("names no field of the file"));
        assert_eq!(
            field_error(&["title=q", "title=r"]),
            "--field: `title` is given twice"
        );
        assert_eq!(
            field_error(&["title=q,text=q"]),
            "--field: the file's `q` is given twice"
        );
    }
}
