//! `devicekb import csv`: a spreadsheet's export, one entry a row, the first row naming the
//! columns with the fields JSON Lines uses (`records::KNOWN`; `title` and `text`
//! required).
//!
//! Read as the spreadsheets French teams use write it: the separator is the one the header
//! row uses (`;` from a French Excel, `,` elsewhere, or a tab), the text is UTF-8 (a byte
//! order mark is skipped), UTF-16 with its byte order mark, or else Windows-1252 (Excel's
//! "CSV" on a French Windows), lines end however the system ends them, and a list cell holds
//! one item a line, or items separated by `;` when it has a single line.

use std::path::Path;

use encoding_rs::{UTF_16BE, UTF_16LE, WINDOWS_1252};
use serde_json::{Map, Value};

use super::fields::{FieldMap, Read};
use super::records::{Records, LISTS};
use super::{EntityReader, ImportReport};
use crate::error::{Error, Result};

/// Imports a CSV file (see the module's documentation).
pub fn import_csv(
    file: &Path,
    out_dir: &Path,
    collection: &str,
    fields: &FieldMap,
    entities: Option<EntityReader>,
) -> Result<ImportReport> {
    let mut records = Records::new(file, out_dir, fields, entities)?;
    let bytes =
        std::fs::read(file).map_err(|e| Error::io(format!("reading {}", records.shown()), e))?;
    let (text, encoding) = decode(&bytes);
    read_rows(&text, &mut records)?;
    let mut report = records.finish(out_dir, collection)?;
    if let Some(encoding) = encoding {
        let note = format!("{} is not UTF-8: read as {encoding}", file.display());
        report.notes.insert(0, note);
    }
    Ok(report)
}

/// The file's text, with its line breaks as `\n` (Windows' `\r\n` and old Macs' `\r`
/// alike), and the encoding it was read as when that is not UTF-8.
fn decode(bytes: &[u8]) -> (String, Option<&'static str>) {
    let (text, encoding) = if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        // Excel's "Unicode text" export: UTF-16 with its byte order mark.
        let utf16 = if bytes[0] == 0xFF { UTF_16LE } else { UTF_16BE };
        (utf16.decode(bytes).0.into_owned(), None)
    } else {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_string(), None),
            // Every byte is a character in Windows-1252: nothing is refused, and a file in
            // another single-byte encoding shows its wrong letters in the entries written.
            Err(_) => (
                WINDOWS_1252.decode(bytes).0.into_owned(),
                Some("Windows-1252"),
            ),
        }
    };
    (text.replace("\r\n", "\n").replace('\r', "\n"), encoding)
}

/// The separator the header row (the first line that is not blank) uses most, outside
/// quotes: `;`, `,` or a tab.
fn separator(text: &str) -> u8 {
    let header = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default();
    let mut quoted = false;
    let mut counts = [0usize; 3];
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => counts[0] += 1,
            ',' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], i == 1)).unwrap_or(1);
    [b';', b',', b'\t'][best]
}

/// One list cell's items: a line each, or separated by `;` on a single line (also by `,`
/// for the lists whose items never hold one: models, tags and error codes).
fn list_items(field: &str, cell: &str) -> Vec<Value> {
    let items: Vec<&str> = if cell.contains('\n') {
        cell.lines().collect()
    } else if matches!(field, "models" | "tags" | "error_codes") {
        cell.split([';', ',', '|']).collect()
    } else {
        cell.split(';').collect()
    };
    items
        .into_iter()
        .map(|item| item.trim().trim_start_matches(['-', '•', '*']).trim())
        .filter(|item| !item.is_empty())
        .map(|item| Value::String(item.to_string()))
        .collect()
}

/// Line numbers of byte offsets, asked in increasing order (rows come in file order), so
/// a large file is counted once.
struct Lines<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            text: text.as_bytes(),
            at: 0,
            line: 1,
        }
    }

    /// The line (1-based) of the row starting at byte `at`, past any line break the
    /// reader's position still points at (it can stop just before one).
    fn of(&mut self, at: u64) -> usize {
        let mut at = (at as usize).min(self.text.len());
        while at < self.text.len() && self.text[at] == b'\n' {
            at += 1;
        }
        if at < self.at {
            self.at = 0;
            self.line = 1;
        }
        self.line += self.text[self.at..at]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.at = at;
        self.line
    }
}

/// What a column of the header holds.
#[derive(Debug, PartialEq, Eq)]
enum Column {
    /// The KB's field of that name.
    Field(&'static str),
    /// No name: a spreadsheet's padding, whose cells must be empty.
    Padding,
    /// A column the KB does not know, left out (`--ignore-unknown`).
    LeftOut(String),
    /// A column the KB does not know (the header is refused).
    Unknown,
}

/// Reads every row into `records`. A header that cannot be used is the only error
/// returned here; a bad row is one of the records' problems.
fn read_rows(text: &str, records: &mut Records) -> Result<()> {
    let mut lines = Lines::new(text);
    let header_line = text
        .lines()
        .position(|line| !line.trim().is_empty())
        .map_or(1, |i| i + 1);
    let header_problem = |field: Option<&str>, message: String| {
        Error::KbInvalid(vec![super::problem(
            records.shown(),
            Some(header_line),
            field,
            message,
        )])
    };
    if text.trim().is_empty() {
        return Err(header_problem(
            None,
            "the file is empty (a header row naming the columns comes first)".into(),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator(text))
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| header_problem(None, format!("unreadable header row: {e}")))?
        .clone();
    // A column with no name is one a spreadsheet pads its rows with: its cells must be
    // empty. A column left out (`--ignore-unknown`) is read as none.
    let mut fields: Vec<Column> = Vec::with_capacity(headers.len());
    let mut unknown = Vec::new();
    let mut met = Vec::new();
    for name in headers.iter() {
        let name = name.trim();
        if name.is_empty() {
            fields.push(Column::Padding);
            continue;
        }
        let field = match records.fields().read(name) {
            Some(Read::Field(field)) => field,
            Some(Read::Ignored) => {
                fields.push(Column::LeftOut(name.to_string()));
                continue;
            }
            None => {
                unknown.push(name.to_string());
                fields.push(Column::Unknown);
                continue;
            }
        };
        if fields.contains(&Column::Field(field)) {
            let message = if name.eq_ignore_ascii_case(field) {
                "column named twice".to_string()
            } else {
                format!("a second column read as `{field}`")
            };
            return Err(header_problem(Some(name), message));
        }
        fields.push(Column::Field(field));
        met.push((name.to_string(), field));
    }
    // Every problem of the header at once: each run of a customer's is one to fix.
    let mut problems: Vec<(Option<&str>, String)> = unknown
        .iter()
        .map(|name| (Some(name.as_str()), "unknown column".to_string()))
        .collect();
    if !unknown.is_empty() {
        problems.push((None, records.fields().how_to_read("column")));
    }
    for required in ["title", "text"] {
        if !fields.contains(&Column::Field(required)) {
            let message = format!(
                "missing column (the first row names the columns; `--field {required}=COLUMN` reads another)"
            );
            problems.push((Some(required), message));
        }
    }
    for (ours, theirs) in records.fields().renames() {
        if !headers
            .iter()
            .any(|h| h.trim().eq_ignore_ascii_case(theirs))
        {
            let message = format!("`--field {ours}={theirs}`: the file has no column `{theirs}`");
            problems.push((Some("--field"), message));
        }
    }
    if !problems.is_empty() {
        let shown = records.shown().to_string();
        let problems = problems
            .into_iter()
            .map(|(field, message)| super::problem(&shown, Some(header_line), field, message))
            .collect();
        return Err(Error::KbInvalid(problems));
    }
    for column in &fields {
        if let Column::LeftOut(name) = column {
            records.left_out(name);
        }
    }
    for (name, field) in met {
        records.met(&name, Some(field));
    }
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // The reader cannot find the next row's start after this: stop here.
                let line = e.position().map_or(0, |p| lines.of(p.byte()));
                records.refuse(line, None, format!("unreadable row: {e}"));
                break;
            }
        }
        // The line the row starts on (a cell may hold several lines).
        let start = record.position().map_or(0, |p| p.byte() as usize);
        let line = lines.of(start as u64);
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        // A quote never closed makes the rest of the file one cell, without an error from
        // the reader: that row is the last, spans lines, and has an odd number of quotes.
        let rest = text[start.min(text.len())..].trim_end();
        let at_end = reader.position().byte() as usize >= text.trim_end().len();
        if at_end && rest.contains('\n') && rest.matches('"').count() % 2 == 1 {
            let message = "a quote opened in this row is never closed: the rest of the file would be one cell";
            records.refuse(line, None, message.into());
            break;
        }
        let named = record.len().min(fields.len());
        let unnamed = (0..record.len()).find(|&i| {
            (i >= fields.len() || fields[i] == Column::Padding) && !record[i].trim().is_empty()
        });
        if let Some(i) = unnamed {
            let message = if i >= fields.len() {
                format!(
                    "{} cells where the header names {} columns",
                    record.len(),
                    fields.len()
                )
            } else {
                format!("cell {} is under a column the header does not name", i + 1)
            };
            records.refuse(line, None, message);
            continue;
        }
        let mut obj = Map::new();
        for (field, cell) in fields[..named].iter().zip(record.iter()) {
            let (Column::Field(field), cell) = (field, cell.trim()) else {
                continue;
            };
            if cell.is_empty() {
                continue;
            }
            let value = if LISTS.contains(field) {
                Value::Array(list_items(field, cell))
            } else {
                Value::String(cell.to_string())
            };
            obj.insert(field.to_string(), value);
        }
        records.add_fields(&obj, line);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kb::entry::Category;
    use crate::kb::load::read_kb;

    fn import(bytes: &[u8]) -> (tempfile::TempDir, Result<ImportReport>) {
        import_with(bytes, &FieldMap::default())
    }

    fn import_with(bytes: &[u8], fields: &FieldMap) -> (tempfile::TempDir, Result<ImportReport>) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("faq.csv");
        std::fs::write(&file, bytes).unwrap();
        let out = dir.path().join("kb");
        let report = import_csv(&file, &out, "faq", fields, None);
        (dir, report)
    }

    fn problems(report: Result<ImportReport>) -> Vec<(Option<usize>, Option<String>, String)> {
        match report {
            Err(Error::KbInvalid(p)) => p
                .into_iter()
                .map(|p| (p.line, p.field, p.message))
                .collect(),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn a_french_excel_export_reads_as_written() {
        // Windows-1252, `;`-separated, a quoted cell over several lines, a list cell of
        // one line, headers in capitals, a numeric id.
        let text = "ID;Title;Text;Steps;Tags\r\n\
            12;Bourrage papier;\"Le papier reste coincé ; que faire ?\";\"- Ouvrir le capot\r\n- Retirer la feuille\";\"papier; bourrage\"\r\n\
            ;;;;\r\n\
            bac-vide;Bac vide;L'imprimante dit que le bac est vide.;;\r\n";
        let (bytes, _, _) = WINDOWS_1252.encode(text);
        let (dir, report) = import(&bytes);
        let report = report.unwrap();
        assert_eq!(report.entries_written, 2);
        assert!(
            report.notes[0].contains("read as Windows-1252"),
            "{:?}",
            report.notes
        );
        let (kb, problems) = read_kb(&dir.path().join("kb")).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let jam = kb.entries.iter().find(|e| e.id == "12").unwrap();
        assert_eq!(jam.description, "Le papier reste coincé ; que faire ?");
        assert_eq!(jam.steps, ["Ouvrir le capot", "Retirer la feuille"]);
        assert_eq!(jam.tags, ["papier", "bourrage"]);
        assert!(jam.source.contains("faq.csv line 2"), "{}", jam.source);
        let empty = kb.entries.iter().find(|e| e.id == "bac-vide").unwrap();
        assert!(empty.steps.is_empty());
        // The row after a cell of two lines is named by the line it starts on.
        assert!(empty.source.contains("line 5"), "{}", empty.source);
    }

    #[test]
    fn utf8_with_a_byte_order_mark_and_commas() {
        let (_dir, report) = import(
            "\u{feff}id,title,text,models\nc750-88,Message 88,\"Toner bas, commander\",Lexmark C750\n"
                .as_bytes(),
        );
        let report = report.unwrap();
        assert_eq!(report.entries_written, 1);
        assert!(report.notes.iter().all(|n| !n.contains("UTF-8")));
    }

    #[test]
    fn a_header_that_cannot_be_used_names_the_column() {
        // Every problem of the header at once, each run of the customer's is one to fix.
        let (dir, report) = import(b"id;question;answer\n1;a;b\n");
        let header = |field: Option<&str>, message: &str| {
            (Some(1), field.map(str::to_string), message.to_string())
        };
        let missing = |f: &str| {
            format!("missing column (the first row names the columns; `--field {f}=COLUMN` reads another)")
        };
        assert_eq!(
            problems(report),
            [
                header(Some("question"), "unknown column"),
                header(Some("answer"), "unknown column"),
                header(None, &FieldMap::default().how_to_read("column")),
                header(Some("title"), &missing("title")),
                header(Some("text"), &missing("text")),
            ]
        );
        assert!(!dir.path().join("kb").exists());
        let (_dir, report) = import(b"id;title\n1;a\n");
        assert_eq!(problems(report)[0].1.as_deref(), Some("text"));
        let map = FieldMap::new(&["tags=labels".to_string()], false).unwrap();
        let (_dir, report) = import_with(b"id;title;text;lables\n1;a;b;c\n", &map);
        let found = problems(report);
        assert_eq!(found[0], header(Some("lables"), "unknown column"));
        assert_eq!(
            found[2],
            header(
                Some("--field"),
                "`--field tags=labels`: the file has no column `labels`"
            )
        );
        let (_dir, report) = import(b"id;title;text;Title\n1;a;b;c\n");
        assert_eq!(problems(report)[0].2, "column named twice");
    }

    #[test]
    fn an_faq_with_its_own_column_names_reads_through_a_mapping() {
        // A CMS's export: question and answer, and columns the KB has no use for.
        let text = "Ref;Question;Answer;Author;Updated\n\
            q1;Comment changer le toner ?;Ouvrez la trappe avant.;marie;2026-11-02\n";
        let pairs = ["id=ref,title=question".to_string(), "text=answer".into()];
        let strict = FieldMap::new(&pairs, false).unwrap();
        let (dir, report) = import_with(text.as_bytes(), &strict);
        assert_eq!(problems(report)[0].1.as_deref(), Some("Author"));
        assert!(!dir.path().join("kb").exists());
        let lenient = FieldMap::new(&pairs, true).unwrap();
        let (dir, report) = import_with(text.as_bytes(), &lenient);
        let report = report.unwrap();
        assert_eq!(report.entries_written, 1);
        assert_eq!(
            report.notes[0],
            "left out, not being fields of the KB (--ignore-unknown): author, updated"
        );
        let (kb, _) = read_kb(&dir.path().join("kb")).unwrap();
        assert_eq!(kb.entries[0].id, "q1");
        assert_eq!(kb.entries[0].title, "Comment changer le toner ?");
        assert_eq!(kb.entries[0].description, "Ouvrez la trappe avant.");
        // Two columns read as one field, and a required one left unmapped, are named.
        let both = FieldMap::new(&["title=question".to_string()], true).unwrap();
        let (_dir, report) = import_with(b"id;title;question;text\n1;a;b;c\n", &both);
        assert_eq!(
            problems(report)[0],
            (
                Some(1),
                Some("question".into()),
                "a second column read as `title`".into()
            )
        );
        let (_dir, report) = import_with(b"id;question;answer\n1;a;b\n", &both);
        let problem = &problems(report)[0];
        assert_eq!(problem.1.as_deref(), Some("text"));
        assert!(problem.2.contains("`--field text=COLUMN`"), "{}", problem.2);
    }

    #[test]
    fn every_bad_row_is_named_and_nothing_is_written() {
        let (dir, report) = import(
            "id;title;text;category\n\
             1;Bourrage;Ouvrir le capot;paper_jam\n\
             2;;Sans titre;\n\
             1;Doublon;Encore;\n\
             3;Trop;de;general;cellules\n\
             ;Sans id;Les autres en ont un\n"
                .as_bytes(),
        );
        let found = problems(report);
        let lines: Vec<_> = found.iter().map(|(l, f, _)| (*l, f.as_deref())).collect();
        assert_eq!(
            lines,
            [
                (Some(3), Some("title")),
                (Some(4), Some("id")),
                (Some(5), None),
                (Some(6), Some("id")),
            ],
            "{found:?}"
        );
        assert!(found[2]
            .2
            .contains("5 cells where the header names 4 columns"));
        assert!(!dir.path().join("kb").exists());
    }

    #[test]
    fn a_sheet_without_ids_or_with_its_own_categories_imports_and_says_so() {
        let (dir, report) = import(
            "Title;Text;Category;Tags\n\
             Bourrage papier;Ouvrez le capot.;FAQ>Bourrages;papier|capot\n\
             Bourrage papier;Au bac 2 : ouvrez le bac.;paper_jam;\n\
             ¿?;Sans titre lisible.;;\n"
                .as_bytes(),
        );
        let report = report.unwrap();
        let notes = report.notes.join("\n");
        assert!(notes.contains("no record has an id"), "{notes}");
        assert!(
            notes.contains("categories of the export's own (`FAQ>Bourrages`) are kept as tags"),
            "{notes}"
        );
        let (kb, _) = read_kb(&dir.path().join("kb")).unwrap();
        let ids: Vec<&str> = kb.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), 3);
        for id in ["bourrage-papier", "bourrage-papier-2", "entry-4"] {
            assert!(ids.contains(&id), "{ids:?}");
        }
        let first = kb
            .entries
            .iter()
            .find(|e| e.id == "bourrage-papier")
            .unwrap();
        assert_eq!(first.category, Category::PaperJam);
        assert_eq!(first.tags, ["papier", "capot", "FAQ", "Bourrages"]);
    }

    #[test]
    fn a_help_centres_html_is_read_as_text_and_said() {
        let (dir, report) = import(
            "id,title,text\n\
             html,<b>Bourrage</b>,\"<p>Pour d&eacute;bloquer&nbsp;:</p><ol><li>Ouvrez le capot</li><li>Retirez la feuille</li></ol>\"\n\
             plain,Toner bas,Commandez une cartouche.\n"
                .as_bytes(),
        );
        let report = report.unwrap();
        assert!(
            report.notes[0].starts_with("1 of 2 entries were written in HTML"),
            "{:?}",
            report.notes
        );
        let (kb, _) = read_kb(&dir.path().join("kb")).unwrap();
        let html = kb.entries.iter().find(|e| e.id == "html").unwrap();
        assert_eq!(html.title, "Bourrage");
        assert_eq!(
            html.description,
            "Pour débloquer :\n- Ouvrez le capot\n- Retirez la feuille"
        );
        assert_eq!(html.category, crate::kb::Category::PaperJam);
    }

    #[test]
    fn what_spreadsheets_do_to_a_file_is_read_or_said() {
        // Old Mac line ends, a blank line before the header, padding columns with no name,
        // models separated by commas.
        let (dir, report) = import(
            b"\r\rid;title;text;models;;\r1;Bourrage;Ouvrir le capot;Lexmark C750, Lexmark C752;;\r2;Toner;Commander;;;\r",
        );
        report.unwrap();
        let (kb, _) = read_kb(&dir.path().join("kb")).unwrap();
        let jam = kb.entries.iter().find(|e| e.id == "1").unwrap();
        assert_eq!(jam.models.len(), 2, "{:?}", jam.models);
        assert!(jam.source.ends_with("line 4"), "{}", jam.source);
        // UTF-16 with its byte order mark, tab-separated.
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "id\ttitle\ttext\n1\tÉcran\tRedémarrer\n".encode_utf16() {
            utf16.extend(unit.to_le_bytes());
        }
        let (dir, report) = import(&utf16);
        assert!(report.unwrap().notes.is_empty());
        let (kb, _) = read_kb(&dir.path().join("kb")).unwrap();
        assert_eq!(kb.entries[0].title, "Écran");
        // A quote never closed would swallow the rows after it.
        let (_dir, report) = import(b"id;title;text\n1;a;\"b\n2;c;d\n3;e;f\n");
        let found = problems(report);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Some(2));
        assert!(found[0].2.contains("never closed"), "{found:?}");
        // A cell under a column with no name, and an empty file.
        let (_dir, report) = import(b"id;title;text;\n1;a;b;c\n");
        assert!(problems(report)[0].2.contains("cell 4 is under a column"));
        let (_dir, report) = import(b"\xEF\xBB\xBF \n");
        assert!(problems(report)[0].2.contains("the file is empty"));
    }

    #[test]
    fn the_separator_is_the_header_rows() {
        assert_eq!(separator("id;title;text\n1,2;b;c"), b';');
        assert_eq!(separator("id,title,text"), b',');
        assert_eq!(separator("id\ttitle\ttext"), b'\t');
        assert_eq!(separator("\"a;b\",title,text"), b',');
        assert_eq!(separator("id"), b',');
        assert_eq!(separator("\n\nid;title;text"), b';');
    }
}
