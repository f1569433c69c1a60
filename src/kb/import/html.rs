//! HTML in an imported record, as a help centre's export writes its answers: read as the
//! plain text a reply can show and a search can index (a tag is neither a word a customer
//! types nor something to send them).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

/// HTML's own element names: only these are tags. A help text's `<Menu>`, `<OK>` or
/// `<adresse IP>` names a key or a placeholder and stays.
const ELEMENTS: &str = "a|abbr|article|aside|b|big|blockquote|body|br|caption|center|cite|code|col|colgroup|dd|del|details|div|dl|dt|em|figcaption|figure|font|footer|h[1-6]|head|header|hr|html|i|img|ins|kbd|label|li|link|main|mark|meta|nav|ol|p|pre|q|s|samp|section|small|span|strike|strong|sub|summary|sup|table|tbody|td|tfoot|th|thead|title|tr|tt|u|ul|var|wbr";

/// A tag of one of `ELEMENTS`, or an entity: the sign that a text is HTML.
static MARKUP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)</?(?:{ELEMENTS})(?:\s[^<>]*)?/?>|&(?:[a-z][a-z0-9]{{1,31}}|#[0-9]{{1,7}}|#x[0-9a-f]{{1,6}});"
    ))
    .expect("valid regex")
});
/// What is never text: scripts, styles, comments, the document's head and doctype.
static HIDDEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?is)<(script|style|head)\b.*?</(?:script|style|head)\s*>|<!--.*?-->|<!doctype[^<>]*>",
    )
    .expect("valid regex")
});
/// The tags that open or close a list, or start one of its items.
static LIST_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)<(/?)(ol|ul|li)(\s[^<>]*)?/?>").expect("valid regex"));
/// An ordered list's first number (`<ol start="3">`).
static START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:^|\s)start\s*=\s*["']?(-?[0-9]{1,6})"#).expect("valid regex")
});
/// An ordered list numbered downwards (`<ol reversed>`).
static REVERSED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)(?:^|\s)reversed(?:\s|=|/|$)"#).expect("valid regex"));
/// A list item's own number (`<li value="5">`).
static VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:^|\s)value\s*=\s*["']?(-?[0-9]{1,6})"#).expect("valid regex")
});
/// Tags that end a line: line breaks and the ends of blocks.
static BREAK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)<br\s*/?>|</?(?:p|div|ul|ol|li|h[1-6]|tr|table|blockquote|pre|section|article|header|footer|dd|dt)(?:\s[^<>]*)?/?>")
        .expect("valid regex")
});
/// Any other tag of `ELEMENTS`.
static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)</?(?:{ELEMENTS})(?:\s[^<>]*)?/?>")).expect("valid regex")
});
/// Line breaks in the source: HTML reads them as spaces.
static SOURCE_BREAK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\r\n]+").expect("valid regex"));

/// Each list item on a line of its own, as the page shows it: an ordered list's numbered
/// from its `start` (a list inside an item numbered on its own, the outer one going on
/// after it; a `reversed` one counting down, from its number of items unless it has a
/// `start`), another list's with `- `. The lists' own tags stay for `BREAK`.
fn mark_items(text: &str) -> String {
    enum List {
        /// The next item's number, and what each item adds to it (1, or -1 reversed).
        Ordered(i64, i64),
        /// Reversed with no `start`: it counts down from its number of items, known once
        /// it closes; each item's place in the text and its own `value`.
        CountingDown(Vec<(usize, Option<i64>)>),
        Bullets,
    }
    // The numbers of lists counting down, and where they go: written in once the text is
    // whole, so that no place moves before its number is in.
    let mut deferred: Vec<(usize, i64)> = Vec::new();
    let close = |lists: &mut Vec<List>, at: usize, deferred: &mut Vec<(usize, i64)>| {
        for list in lists.drain(at..) {
            if let List::CountingDown(items) = list {
                let mut next = items.len() as i64;
                for (place, value) in items {
                    next = value.unwrap_or(next);
                    deferred.push((place, next));
                    next -= 1;
                }
            }
        }
    };
    let mut lists: Vec<List> = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for tag in LIST_TAG.captures_iter(text) {
        let whole = tag.get(0).expect("a match has a whole");
        out.push_str(&text[last..whole.start()]);
        last = whole.end();
        let closing = !tag[1].is_empty();
        match (tag[2].to_ascii_lowercase().as_str(), closing) {
            ("ol", false) => {
                let attributes = tag.get(3).map_or("", |a| a.as_str());
                let start = START
                    .captures(attributes)
                    .and_then(|c| c[1].parse::<i64>().ok());
                lists.push(match (start, REVERSED.is_match(attributes)) {
                    (None, true) => List::CountingDown(Vec::new()),
                    (Some(start), true) => List::Ordered(start, -1),
                    (start, false) => List::Ordered(start.unwrap_or(1), 1),
                });
            }
            ("ul", false) => lists.push(List::Bullets),
            // Only the list it closes: a stray `</ul>` does not end an `<ol>`.
            ("ol", true) => {
                let ordered = |l: &List| matches!(l, List::Ordered(..) | List::CountingDown(_));
                if let Some(at) = lists.iter().rposition(ordered) {
                    close(&mut lists, at, &mut deferred);
                }
            }
            ("ul", true) => {
                if let Some(at) = lists.iter().rposition(|l| matches!(l, List::Bullets)) {
                    close(&mut lists, at, &mut deferred);
                }
            }
            ("li", false) => {
                let attributes = tag.get(3).map_or("", |a| a.as_str());
                let value = VALUE
                    .captures(attributes)
                    .and_then(|c| c[1].parse::<i64>().ok());
                match lists.last_mut() {
                    Some(List::Ordered(next, step)) => {
                        if let Some(value) = value {
                            *next = value;
                        }
                        out.push_str(&format!("\n{next}. "));
                        *next += *step;
                    }
                    Some(List::CountingDown(items)) => {
                        out.push('\n');
                        items.push((out.len(), value));
                        out.push_str(". ");
                    }
                    Some(List::Bullets) | None => out.push_str("\n- "),
                }
                // The item's tag is its mark now.
                continue;
            }
            // `</li>`: `BREAK` ends the line.
            _ => {}
        }
        out.push_str(whole.as_str());
    }
    out.push_str(&text[last..]);
    // A list left open counts the items it has.
    close(&mut lists, 0, &mut deferred);
    deferred.sort_unstable_by_key(|(place, _)| std::cmp::Reverse(*place));
    for (place, number) in deferred {
        out.insert_str(place, &number.to_string());
    }
    out
}

/// The plain text of `text` when it is HTML, else `None`: tags dropped, entities decoded,
/// list items on lines of their own, blank lines and spaces folded.
pub(super) fn plain_text(text: &str) -> Option<String> {
    if !MARKUP.is_match(text) {
        return None;
    }
    let text = HIDDEN.replace_all(text, " ");
    let text = SOURCE_BREAK.replace_all(&text, " ");
    // Numbered as the page shows them: a reply quotes "1. Ouvrez le capot", not "- Ouvrez".
    let text = mark_items(&text);
    let text = BREAK.replace_all(&text, "\n");
    let text = TAG.replace_all(&text, "");
    let text = html_escape::decode_html_entities(&text);
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            // A non-breaking space is a space here.
            line.replace('\u{a0}', " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|line| !line.is_empty() && line != "-")
        .collect();
    Some(lines.join("\n"))
}

/// The record with its texts written in HTML read as plain text (before its language is
/// detected and its category guessed, which tags would mislead), and whether one was. A
/// title or a list item stays on one line.
pub(super) fn read_record(obj: &Map<String, Value>) -> (Map<String, Value>, bool) {
    let mut obj = obj.clone();
    let mut any = false;
    let mut read = |value: &mut Value, one_line: bool| {
        if let Value::String(text) = value {
            if let Some(plain) = plain_text(text) {
                *text = if one_line {
                    plain.lines().collect::<Vec<_>>().join(" ")
                } else {
                    plain
                };
                any = true;
            }
        }
    };
    for (field, value) in obj.iter_mut() {
        match field.as_str() {
            "text" | "cause" | "solution" => read(value, false),
            "title" => read(value, true),
            "steps" | "symptoms" => {
                if let Value::Array(items) = value {
                    items.iter_mut().for_each(|item| read(item, true));
                }
            }
            _ => {}
        }
    }
    (obj, any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_help_centre_answer_reads_as_text() {
        let html = "<p>Pour d&eacute;bloquer le papier&nbsp;:</p><ol><li>Ouvrez le <strong>capot</strong></li>\n<li>Retirez la feuille</li></ol><p>C&#39;est tout.<br>Merci</p><!-- fin --><script>x()</script>";
        assert_eq!(
            plain_text(html).unwrap(),
            "Pour débloquer le papier :\n1. Ouvrez le capot\n2. Retirez la feuille\nC'est tout.\nMerci"
        );
    }

    #[test]
    fn ordered_lists_are_numbered_and_other_lists_are_not() {
        let html = "<ol start=\"3\"><li>Ouvrez</li><li>Fermez</li></ol><ul><li>Note</li></ul><OL><LI>Un</LI><li class=\"x\">Deux</li><li>Trois</li></OL>";
        assert_eq!(
            plain_text(html).unwrap(),
            "3. Ouvrez\n4. Fermez\n- Note\n1. Un\n2. Deux\n3. Trois"
        );
        // A list inside an item: numbered on its own, the outer one going on after it.
        let nested = "<ol><li>Windows<ol><li>Ouvrez</li><li>Cliquez</li></ol></li><li>Mac<ul><li>Attention</li></ul></li><li>Linux</li></ol>";
        assert_eq!(
            plain_text(nested).unwrap(),
            "1. Windows\n1. Ouvrez\n2. Cliquez\n2. Mac\n- Attention\n3. Linux"
        );
        // Only `start` itself, a stray closing tag, an item's own number.
        assert_eq!(
            plain_text("<ol data-start=\"5\"><li>A</li></ul><li>B</li><li value=\"7\">C</li><li>D</li></ol>").unwrap(),
            "1. A\n2. B\n7. C\n8. D"
        );
        // Counting down: from the number of its own items, or from its `start`.
        assert_eq!(
            plain_text("<ol reversed><li>Trois<ol><li>a</li><li>b</li></ol></li></ul><li>Deux</li><li>Un</li></ol><ol reversed start=\"10\"><li>Dix</li><li>Neuf</li></ol>").unwrap(),
            "3. Trois\n1. a\n2. b\n2. Deux\n1. Un\n10. Dix\n9. Neuf"
        );
        // A stray `</ul>` closes a reversed list inside a `<ul>` as it closes any list
        // there; a reversed list's own `value`; one left open counts what it has.
        assert_eq!(
            plain_text("<ul><li>S<ol reversed><li>A</ul><li>B<li>C</ol>").unwrap(),
            "- S\n1. A\n- B\n- C"
        );
        assert_eq!(
            plain_text("<ol reversed><li>A<li value=\"5\">B<li>C</ol><ol reversed><li>X<li>Y")
                .unwrap(),
            "3. A\n5. B\n4. C\n2. X\n1. Y"
        );
        // An item outside any list, and a list left open, still read.
        assert_eq!(
            plain_text("<li>Seul</li><ol><li>Un").unwrap(),
            "- Seul\n1. Un"
        );
    }

    #[test]
    fn text_that_is_not_html_is_left_alone() {
        for text in [
            "Si la valeur est < 10 & que le voyant clignote",
            "Tapez a<b dans le champ",
            "Toner & tambour",
            "Appuyez sur <Menu> puis <OK>, et saisissez <adresse IP>",
        ] {
            assert_eq!(plain_text(text), None, "{text}");
        }
        assert_eq!(
            plain_text("Toner &amp; tambour").unwrap(),
            "Toner & tambour"
        );
    }
}
