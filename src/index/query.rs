//! Query clean-up before retrieval. Tickets arrive as emails and call transcripts: the
//! problem sits between a greeting and a signature, after quoted replies, next to phone
//! numbers. Those parts only add noise to both BM25 and the embedding, so they go.

use std::sync::LazyLock;

use regex::Regex;

/// Lines that start a signature or a client's footer: everything after them is dropped.
static SIGNATURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(--\s*$|(bien\s+)?cordialement|bien\s+à\s+vous|salutations|sincères salutations|merci d'avance|merci par avance|best regards|kind regards|regards|best,|thanks in advance|many thanks|cheers|envoyé de mon|sent from my)",
    )
    .expect("valid regex")
});
/// A quoted reply header ("Le 3 mars, X a écrit :", "On Mon, X wrote:") or quoted lines.
static QUOTE_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(le\s.{0,80}a\s+écrit\s*:|on\s.{0,80}wrote:|-{3,}\s*(original message|message d'origine)|de\s*:\s.*@|from:\s.*@)").expect("valid regex")
});
static GREETING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:bonjour|bonsoir|salut|hello|hi|dear|madame|monsieur)\b(?:\s+(?:madame|monsieur|à tous|all|team|l'équipe|the team|there))?\s*[,!:.]?\s*",
    )
    .expect("valid regex")
});
static NOISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"[\w.+-]+@[\w-]+(\.[\w-]+)+", // email addresses
        r"|https?://\S+",              // links
        r"|(\+\d{1,3}[\s.]?)?(\(0\)\s?)?\d{1,4}([\s.-]\d{2,4}){3,5}", // phone numbers
    ))
    .expect("valid regex")
});

/// The part of a message worth searching with. Short queries come back unchanged.
pub fn clean_query(text: &str) -> String {
    if !text.contains('\n') && text.len() < 200 {
        return text.trim().to_string();
    }
    let mut kept: Vec<String> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('>') || QUOTE_HEADER.is_match(trimmed) {
            // The customer's own words come before the quoted history; a quote at the
            // very top is a reply to us, so keep reading after it.
            if kept.iter().any(|l| !l.is_empty()) && QUOTE_HEADER.is_match(trimmed) {
                break;
            }
            continue;
        }
        if SIGNATURE.is_match(trimmed) && kept.iter().any(|l| !l.is_empty()) {
            break;
        }
        // "Bonjour," goes; "Bonjour, la C750 affiche 88" keeps what follows the greeting.
        let line = GREETING.replace(trimmed, "");
        kept.push(NOISE.replace_all(&line, " ").trim().to_string());
    }
    let cleaned = kept
        .iter()
        .filter(|l| !l.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    if cleaned.trim().is_empty() {
        text.trim().to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_problem_and_drops_greeting_signature_and_phone() {
        let mail = "Bonjour,\n\nNotre C750 affiche 202 Bourrage papier depuis ce matin.\nMerci de votre aide.\n\nCordialement,\nMarie Dupont\nTél. 01 23 45 67 89";
        let q = clean_query(mail);
        assert!(q.contains("202 Bourrage papier"), "{q}");
        assert!(
            !q.contains("Marie") && !q.contains("67 89") && !q.contains("Bonjour"),
            "{q}"
        );
    }

    #[test]
    fn skips_quoted_replies() {
        let mail = "Hi team,\n\nThanks for your reply.\n\n> Please switch the printer off.\n\nWe did. It shows 49 Error again.\n\nBest regards,\nTom\n+44 20 7946 0123";
        let q = clean_query(mail);
        assert!(
            q.contains("49 Error") && !q.contains("switch the printer off") && !q.contains("Tom"),
            "{q}"
        );
        let reply = "Toujours le même bourrage.\n\nLe 3 mars 2026, support@x.fr a écrit :\n> Retirez le tiroir.";
        assert_eq!(clean_query(reply), "Toujours le même bourrage.");
    }

    #[test]
    fn short_queries_are_untouched_and_nothing_is_lost_entirely() {
        assert_eq!(clean_query(" 88 toner "), "88 toner");
        assert_eq!(clean_query("Cordialement,\nMarie"), "Cordialement,\nMarie");
    }
}
