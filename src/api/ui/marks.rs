//! Phrases marked in a text, for the ticket page: what the extractor read (model, error
//! code, serial), shown where the customer wrote it.

use maud::{html, Markup, PreEscaped};

/// `text` escaped, with every occurrence of each phrase (case-insensitive, the longest
/// first where two overlap) wrapped in `<mark class="KIND">`. `phrases` holds (phrase,
/// kind) pairs.
pub fn marked(text: &str, phrases: &[(String, String)]) -> Markup {
    let mut sorted: Vec<&(String, String)> = phrases
        .iter()
        .filter(|(p, _)| !p.trim().is_empty())
        .collect();
    if sorted.is_empty() {
        return html! { (text) };
    }
    sorted.sort_by_key(|(p, _)| std::cmp::Reverse(p.chars().count()));
    let pattern = sorted
        .iter()
        .map(|(p, _)| regex::escape(p))
        .collect::<Vec<_>>()
        .join("|");
    let Ok(finder) = regex::RegexBuilder::new(&pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
    else {
        return html! { (text) };
    };
    let kind_of = |found: &str| {
        sorted
            .iter()
            .find(|(p, _)| p.to_lowercase() == found.to_lowercase())
            .map_or("found", |(_, k)| k.as_str())
    };
    let mut out = String::with_capacity(text.len() + 32);
    let mut at = 0;
    for m in finder.find_iter(text) {
        out.push_str(&html! { (&text[at..m.start()]) }.into_string());
        let kind = kind_of(m.as_str());
        out.push_str(&html! { mark class=(kind) title=(kind) { (m.as_str()) } }.into_string());
        at = m.end();
    }
    out.push_str(&html! { (&text[at..]) }.into_string());
    PreEscaped(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(p: &str, k: &str) -> (String, String) {
        (p.to_string(), k.to_string())
    }

    #[test]
    fn phrases_are_marked_with_their_kind_and_the_rest_escaped() {
        let found = [pair("C750", "model"), pair("49 Error", "error_code")];
        let out = marked("Ma c750 <b>affiche</b> 49 error", &found).into_string();
        assert_eq!(
            out,
            "Ma <mark class=\"model\" title=\"model\">c750</mark> &lt;b&gt;affiche&lt;/b&gt; \
             <mark class=\"error_code\" title=\"error_code\">49 error</mark>"
        );
    }

    #[test]
    fn the_longest_phrase_wins_and_special_characters_are_literal() {
        let found = [
            pair("C750", "model"),
            pair("Lexmark C750", "model"),
            pair("a.b", "serial"),
        ];
        let out = marked("Lexmark C750 axb a.b", &found).into_string();
        assert!(out.contains("<mark class=\"model\" title=\"model\">Lexmark C750</mark>"));
        assert!(out.contains(" axb "));
        assert!(out.ends_with(">a.b</mark>"));
        assert_eq!(marked("a & b", &[]).into_string(), "a &amp; b");
    }
}
