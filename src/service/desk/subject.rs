//! Ticket subjects: a reply's "RE: TR:" prefixes do not start a new conversation, and a
//! message without a subject is named by its first line, and a reply is "Re: " the subject.

/// A subject without its reply and forward prefixes ("RE: TR: Bourrage" → "Bourrage").
pub fn strip_reply_prefixes(subject: &str) -> &str {
    let mut s = subject.trim();
    loop {
        let lower = s.to_lowercase();
        let prefix = [
            "re:", "re :", "tr:", "tr :", "fwd:", "fw:", "aw:", "réf:", "ref:",
        ]
        .iter()
        .find(|p| lower.starts_with(*p));
        match prefix {
            // The prefixes are ASCII but for "réf:", whose lower case has the same length.
            Some(p) if s.is_char_boundary(p.len()) => s = s[p.len()..].trim_start(),
            _ => break,
        }
    }
    s
}

/// A subject without its reply and forward prefixes, lower case, spaces collapsed:
/// "RE: TR: Bourrage" and "bourrage" are one conversation.
pub(super) fn normalized_subject(subject: &str) -> String {
    strip_reply_prefixes(subject)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The subject of a reply: "Re: " and the ticket's subject without its own reply and
/// forward prefixes, within the 500 characters a subject may have.
pub(crate) fn reply_subject(subject: &str) -> String {
    let base = strip_reply_prefixes(subject);
    if base.is_empty() {
        "Re: votre demande".into()
    } else {
        let cut: String = base
            .chars()
            .take(super::tickets::MAX_SUBJECT_CHARS - 4)
            .collect();
        format!("Re: {cut}")
    }
}

/// The first line of a text, at most `max` characters, for a subject.
pub(super) fn first_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let cut: String = line.chars().take(max).collect();
        format!("{}…", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_prefixes_do_not_change_the_conversation() {
        assert_eq!(
            normalized_subject("RE: TR:  Bourrage  tiroir 2"),
            "bourrage tiroir 2"
        );
        assert_eq!(normalized_subject("Fwd: re : Error 49"), "error 49");
        assert_eq!(normalized_subject("Réparation"), "réparation");
    }

    #[test]
    fn a_subject_is_the_first_line_cut_short() {
        assert_eq!(first_line("\n  Bonjour\nla suite", 120), "Bonjour");
        assert_eq!(
            first_line(&"a".repeat(200), 10),
            format!("{}…", "a".repeat(10))
        );
    }
}
