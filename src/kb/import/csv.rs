//! `devicekb import csv`: a spreadsheet's export, one entry a row, the first row naming the
//! columns with the fields JSON Lines uses (`records::KNOWN`; `title` and `text`
//! required).
//!
//! Read as the spreadsheets French teams use write it: the separator is the one the header
//! row uses (`;` from a French Excel, `,` elsewhere, or a tab), the text is UTF-8 (a byte
//! order mark is skipped), UTF-16 with its byte order mark, or else Windows-1252 (Excel's
//! "CSV" on a French Windows), lines end however the system ends them, and a list cell holds
//! one item a line, or items separated by `;` when it has a single line.

use std::path::{Path, PathBuf};

use encoding_rs::{UTF_16BE, UTF_16LE, WINDOWS_1252};
use serde_json::{Map, Value};

use super::fields::Read;
use super::records::{Records, LISTS};
use super::{ImportOptions, ImportReport};
use crate::error::Result;

/// Imports a CSV file (see the module's documentation).
pub fn import_csv(
    file: &Path,
    out_dir: &Path,
    collection: &str,
    options: &ImportOptions,
) -> Result<ImportReport> {
    import_csv_files(&[file.to_path_buf()], out_dir, collection, options)
}

/// Imports several CSV files of one export as one collection, each under its own header
/// row: ids are unique across them, and a problem names its file.
pub fn import_csv_files(
    files: &[PathBuf],
    out_dir: &Path,
    collection: &str,
    options: &ImportOptions,
) -> Result<ImportReport> {
    let mut records = Records::for_files(files, out_dir, collection, options)?;
    let mut notes = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let Some(bytes) = records.read_file(i, files.len(), file)? else {
            continue;
        };
        let (text, encoding) = decode(&bytes);
        read_rows(&text, &mut records);
        if let Some(encoding) = encoding {
            notes.push(format!(
                "{} is not UTF-8: read as {encoding}",
                file.display()
            ));
        }
    }
    let mut report = records.finish(out_dir, collection)?;
    notes.append(&mut report.notes);
    report.notes = notes;
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

/// Reads every row into `records`; a header that cannot be used, and a bad row, are
/// among the records' problems.
fn read_rows(text: &str, records: &mut Records) {
    let mut lines = Lines::new(text);
    let header_line = text
        .lines()
        .position(|line| !line.trim().is_empty())
        .map_or(1, |i| i + 1);
    // A file whose header does not read has no row to read: its problems join the
    // export's, and the next files are still read, so one run names them all.
    let shown = records.shown().to_string();
    let header_problem = |field: Option<&str>, message: String| {
        super::problem(&shown, Some(header_line), field, message)
    };
    if text.trim().is_empty() {
        let message = "the file is empty (a header row naming the columns comes first)";
        records.file_refused(vec![header_problem(None, message.into())]);
        return;
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator(text))
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(e) => {
            records.file_refused(vec![header_problem(
                None,
                format!("unreadable header row: {e}"),
            )]);
            return;
        }
    };
    // A column with no name is one a spreadsheet pads its rows with: its cells must be
    // empty. A column left out (`--ignore-unknown`) is read as none.
    let mut fields: Vec<Column> = Vec::with_capacity(headers.len());
    let mut unknown = Vec::new();
    let mut twice = Vec::new();
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
            twice.push((name.to_string(), message));
            fields.push(Column::Unknown);
            continue;
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
    problems.extend(
        twice
            .iter()
            .map(|(name, m)| (Some(name.as_str()), m.clone())),
    );
    for required in ["title", "text"] {
        if !fields.contains(&Column::Field(required)) {
            let message = format!(
                "missing column (the first row names the columns; `--field {required}=COLUMN` reads another)"
            );
            problems.push((Some(required), message));
        }
    }
    for (ours, theirs) in records.fields().renames() {
        if !headers.iter().any(|h| h.trim().to_lowercase() == theirs) {
            let message = format!("`--field {ours}={theirs}`: the file has no column `{theirs}`");
            problems.push((Some("--field"), message));
        }
    }
    if !problems.is_empty() {
        let problems = problems
            .into_iter()
            .map(|(field, message)| header_problem(field, message))
            .collect();
        records.file_refused(problems);
        return;
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
}

#[cfg(test)]
#[path = "csv_tests.rs"]
mod tests;
