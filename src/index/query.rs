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

/// The most of a message's cleaned text retrieval reads. The customer says what is wrong
/// in the first lines; a 57 KB paste (a log, a whole mail thread) would otherwise cost
/// seconds of BM25 clauses and tokenisation for nothing the model reads anyway (it stops
/// at 512 tokens).
pub const MAX_RETRIEVAL_BYTES: usize = 2048;

/// `text` cut to at most `MAX_RETRIEVAL_BYTES`, at a word boundary when there is one.
pub fn retrieval_prefix(text: &str) -> &str {
    if text.len() <= MAX_RETRIEVAL_BYTES {
        return text;
    }
    let mut end = MAX_RETRIEVAL_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = &text[..end];
    match head.rfind(char::is_whitespace) {
        Some(space) if space > MAX_RETRIEVAL_BYTES / 2 => head[..space].trim_end(),
        _ => head,
    }
}

/// The part of a message worth searching with. Short queries come back unchanged.
pub fn clean_query(text: &str) -> String {
    kept_lines(text, AfterSignOff::Stop, |line| {
        NOISE.replace_all(line, " ").trim().to_string()
    })
}

/// The customer's own words: `clean_query` without removing contact details, for a reader
/// that must see the whole sentence (the LLM, once the details are masked). The
/// signature, with the name, and the quoted history, with other people's, are cut.
pub fn message_body(text: &str) -> String {
    kept_lines(text, AfterSignOff::Stop, |line| line.trim().to_string())
}

/// What the customer wrote in this message, for the readers of requests (billing, a
/// person, leaving): the quoted history goes (our own earlier reply, quoted back, is not
/// the customer asking about an invoice), and so do the signature's name, title, company
/// and address lines (a customer called Price does not ask for a price). Unlike
/// `message_body`, reading goes on past the sign-off: its own line can carry a request
/// ("Merci d'avance pour le devis"), and so can a sentence after it ("Cheers" then "call
/// me back, we are switching provider", a "PS: send me the March invoice").
pub fn customer_words(text: &str) -> String {
    kept_lines(text, AfterSignOff::KeepSentences, |line| {
        line.trim().to_string()
    })
}

/// What becomes of the lines after a sign-off ("Cordialement", "Regards", "--").
#[derive(Clone, Copy, PartialEq)]
enum AfterSignOff {
    /// The signature starts there: reading stops (a sign-off on the first line is not
    /// one yet).
    Stop,
    /// The sign-off's line and the sentences after it are kept; the name, title,
    /// company and address lines are not (`says_something`).
    KeepSentences,
}

/// A line that says something, unlike a signature's name, title, company or address: it
/// asks, ends like a sentence, or runs past six words.
fn says_something(line: &str) -> bool {
    line.contains('?') || line.ends_with(['.', '!', ':']) || line.split_whitespace().count() > 6
}

/// The lines outside quotes, up to the signature or past it (`after`), each without its
/// greeting and through `clean`, joined; the trimmed text when that leaves nothing or it
/// is short.
fn kept_lines(text: &str, after: AfterSignOff, clean: impl Fn(&str) -> String) -> String {
    if !text.contains('\n') && text.len() < 200 {
        return text.trim().to_string();
    }
    let mut kept: Vec<String> = Vec::new();
    let mut signed = false;
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
        if SIGNATURE.is_match(trimmed) {
            match after {
                AfterSignOff::Stop if kept.iter().any(|l| !l.is_empty()) => break,
                AfterSignOff::Stop => {}
                AfterSignOff::KeepSentences => signed = true,
            }
        } else if signed && !says_something(trimmed) {
            continue;
        }
        // "Bonjour," goes; "Bonjour, la C750 affiche 88" keeps what follows the greeting.
        let line = GREETING.replace(trimmed, "");
        kept.push(clean(&line));
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

    #[test]
    fn retrieval_reads_the_first_two_kib_cut_between_words() {
        let short = "bourrage papier bac 2";
        assert_eq!(retrieval_prefix(short), short);
        let long = "électrode ".repeat(1000);
        let head = retrieval_prefix(&long);
        assert!(head.len() <= MAX_RETRIEVAL_BYTES && head.len() > MAX_RETRIEVAL_BYTES - 20);
        assert!(head.ends_with("électrode"), "cut between words");
        let one_word = "é".repeat(3000);
        assert!(retrieval_prefix(&one_word).len() <= MAX_RETRIEVAL_BYTES);
    }

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

    #[test]
    fn the_body_keeps_contact_details_and_drops_the_signature() {
        let mail = "Bonjour,\n\nLa C750 affiche 31.13.01, rappelez-moi au 06 12 34 56 78.\n\nCordialement,\nMarie Dupont\n12 rue de la Paix";
        assert_eq!(
            message_body(mail),
            "La C750 affiche 31.13.01, rappelez-moi au 06 12 34 56 78."
        );
        let reply = "Still jammed, see www.x.io.\n\nOn Mon, Tom <t@x.io> wrote:\n> Open tray 2.";
        assert_eq!(message_body(reply), "Still jammed, see www.x.io.");
        assert_eq!(message_body(" 88 toner "), "88 toner");
    }

    #[test]
    fn the_customer_s_words_skip_the_signature_s_names_but_not_what_is_said_after_it() {
        let signed = "Hello,\n\nTray 2 jams every morning.\n\nBest regards,\nJohn Price\nPrice & Sons\n12 rue de la Paix";
        assert_eq!(
            customer_words(signed),
            "Tray 2 jams every morning.\nBest regards,"
        );
        let asking = "Bonjour,\nLa C750 fait du bruit.\nMerci d'avance de m'envoyer le devis du kit.\nMarie Dupont";
        assert!(customer_words(asking).ends_with("m'envoyer le devis du kit."));
        let after = "Hi,\nThanks for the fix.\nCheers\nCall me back please, we're switching to another provider\nTom";
        assert!(customer_words(after).ends_with("switching to another provider"));
        let ps =
            "Printer fine now.\nRegards,\nJohn\n\nPS: could you send me the invoice for March?";
        assert!(customer_words(ps).ends_with("invoice for March?"));
        let thanks_first = "Thanks in advance for your help!\nJohn Price\nPrice & Sons";
        assert_eq!(
            customer_words(thanks_first),
            "Thanks in advance for your help!"
        );
        let quoting = "Toujours bloqué.\n\nLe 3 mars 2026, support@x.fr a écrit :\n> Votre facture est jointe.";
        assert_eq!(customer_words(quoting), "Toujours bloqué.");
        assert_eq!(customer_words("le prix du toner ?"), "le prix du toner ?");
    }
}
