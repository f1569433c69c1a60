//! The workspace's page frame and its simple pages (sign-in, messages). Markup is checked
//! at compile time and every value is escaped by the template macro.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::session::{Lang, Viewer};

/// The sections of the workspace, in the navigation's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Search,
    Queue,
    Kpis,
    Kb,
}

/// The frame of every page: head, navigation (when signed in), main content.
pub fn layout(lang: Lang, title: &str, viewer: Option<(&Viewer, Section)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · devicekb" }
                link rel="stylesheet" href="/ui/assets/app.css";
                script src="/ui/assets/app.js" defer {}
            }
            body {
                a.skip href="#main" { (lang.pick("Aller au contenu", "Skip to content")) }
                header.top {
                    span.brand { "devicekb" }
                    @if let Some((viewer, section)) = viewer {
                        nav aria-label=(lang.pick("Sections", "Sections")) {
                            a href="/ui/queue" aria-current=[(section == Section::Queue).then_some("page")] {
                                (lang.pick("Tickets", "Tickets"))
                            }
                            a href="/ui/search" aria-current=[(section == Section::Search).then_some("page")] {
                                (lang.pick("Recherche", "Search"))
                            }
                            a href="/ui/kpis" aria-current=[(section == Section::Kpis).then_some("page")] {
                                (lang.pick("Indicateurs", "Key figures"))
                            }
                            a href="/ui/kb" aria-current=[(section == Section::Kb).then_some("page")] {
                                (lang.pick("Base de connaissances", "Knowledge base"))
                            }
                        }
                        div.who {
                            @match &viewer.name {
                                Some(name) => span { (name) " · " (viewer.role.as_str()) },
                                None => span { (lang.pick("accès local ouvert", "open local access")) },
                            }
                            @if viewer.name.is_some() {
                                form method="post" action="/ui/signout" {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    button type="submit" { (lang.pick("Se déconnecter", "Sign out")) }
                                }
                            }
                        }
                    }
                    (lang_switch(lang))
                }
                main id="main" { (body) }
            }
        }
    }
}

/// The FR / EN switch; the script fills `back` with the current page.
fn lang_switch(lang: Lang) -> Markup {
    let (other, label) = match lang {
        Lang::Fr => ("en", "English"),
        Lang::En => ("fr", "Français"),
    };
    html! {
        a.lang href={ "/ui/lang?to=" (other) } data-lang-switch lang=(other) { (label) }
    }
}

/// The sign-in page; `problem` says why the last attempt failed.
pub fn signin(lang: Lang, csrf: &str, next: &str, problem: Option<String>) -> Markup {
    let body = html! {
        section.signin {
            h1 { (lang.pick("Connexion", "Sign in")) }
            p { (lang.pick(
                "Entrez votre clé d'API du support (rôle staff ou admin).",
                "Enter your staff API key (staff or admin role)."
            )) }
            @if let Some(problem) = problem.filter(|p| !p.is_empty()) {
                p.problem role="alert" { (problem) }
            }
            form method="post" action="/ui/signin" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                label for="key" { (lang.pick("Clé d'API", "API key")) }
                input #key type="password" name="key" autocomplete="current-password" required autofocus;
                button type="submit" { (lang.pick("Se connecter", "Sign in")) }
            }
        }
    };
    layout(lang, lang.pick("Connexion", "Sign in"), None, body)
}

/// A page with a title and one message (refusals, errors).
pub fn message(lang: Lang, title: &str, detail: &str) -> Markup {
    let body = html! {
        section.message {
            h1 { (title) }
            p role="alert" { (detail) }
            p { a href="/ui/search" { (lang.pick("Retour à la recherche", "Back to search")) } }
        }
    };
    layout(lang, title, None, body)
}

/// The first `chars` characters of `text`, with an ellipsis when it was longer.
pub fn shortened(text: &str, chars: usize) -> String {
    let mut short: String = text.chars().take(chars).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// An escalation reason's code (`low_confidence`, ...) in words; an unknown one as is.
pub fn reason_label(lang: Lang, code: &str) -> String {
    let text = match code {
        "low_confidence" => lang.pick("pertinence trop faible", "relevance too low"),
        "out_of_scope" => lang.pick("hors du périmètre de la base", "outside the KB"),
        "sensitive_category" => lang.pick("sujet sensible", "sensitive subject"),
        "human_requested" => lang.pick("un humain demandé", "a person asked for"),
        "unsupported_language" => lang.pick("langue non prise en charge", "language not supported"),
        "no_kb_answer" => lang.pick("rien dans la base (agent)", "nothing in the KB (agent)"),
        _ => code,
    };
    text.to_string()
}

/// `text` with every occurrence of `words` (already lowercased, accents folded) wrapped
/// in `<mark>`, the rest escaped.
pub fn highlighted(text: &str, words: &[String]) -> Markup {
    if words.is_empty() {
        return html! { (text) };
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let escaped = html! { (word.as_str()) }.into_string();
        if words.contains(&fold(word)) {
            out.push_str("<mark>");
            out.push_str(&escaped);
            out.push_str("</mark>");
        } else {
            out.push_str(&escaped);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '-' && !word.is_empty() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push_str(&html! { (c.to_string()) }.into_string());
        }
    }
    flush(&mut word, &mut out);
    PreEscaped(out)
}

/// Lowercase without accents, so "Erreur" matches "erreur" and "bourrée" "bourree".
pub use crate::service::fold;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matched_words_are_marked_and_everything_is_escaped() {
        let words = vec![fold("bourrage"), fold("Tiroir")];
        let out = highlighted("Bourrage <b>papier</b> au tiroir 2", &words).into_string();
        assert_eq!(
            out,
            "<mark>Bourrage</mark> &lt;b&gt;papier&lt;/b&gt; au <mark>tiroir</mark> 2"
        );
        assert_eq!(highlighted("a & b", &[]).into_string(), "a &amp; b");
    }

    #[test]
    fn folding_ignores_case_and_accents() {
        assert_eq!(fold("Éteinte"), "eteinte");
    }
}
