//! Spreadsheet-safe CSV: the one rule every CSV the tool writes follows (the reports, the
//! rollback file, the export and its list of users not read), and its inverse, which the HR
//! file reader applies, so a file the tool wrote and an admin edited in a spreadsheet means, when
//! applied, what the spreadsheet showed. Excel, LibreOffice and Google Sheets run a cell that
//! starts like a formula as one (CSV injection); no cell the tool writes does.
//!
//! - **Free text** (users, names, messages, error codes, the raw HR values of `rejects.csv`,
//!   anything that came from the input or from Graph): a value that begins with `=`, `+`, `-`,
//!   `@`, a tab or a carriage return, or their full-width forms `＝ ＋ － ＠` (which Excel takes
//!   for formulas in East Asian locales), gets a single quote `'` in front of it, so a
//!   spreadsheet shows it as text (OWASP's advice). So does a value that begins with quotes
//!   before such a character, so that reading back is exact. Every other value is written as it
//!   is.
//! - **Phone numbers** (the number columns of `outcomes.csv`, the export and the rollback file):
//!   a value made only of `+`, digits, spaces and `x` (Graph's form, e.g. `+1 2065555555` or
//!   `+44 2079460958x12`) is written as the formula `="+1 2065555555"`, which a spreadsheet
//!   shows as exactly that text (not as a number, and not as `+1 2065555555` evaluated), and
//!   saves back as it. Any other value in those columns, and a phone-shaped value longer than
//!   255 characters (the longest string a spreadsheet formula may hold), follows the free-text
//!   rule.
//!
//! [`text_from_cell`] and [`phone_from_cell`] give back exactly the value a cell was written
//! from; a value a spreadsheet saved (its quote dropped, the formula's text in place of the
//! formula) reads as the same value.

use std::borrow::Cow;
use std::io::{self, Write};

/// The longest phone number written as a formula: spreadsheets refuse longer string literals.
const MAX_FORMULA_TEXT: usize = 255;

/// Whether a value starting with `c` would be taken for a formula.
fn is_trigger(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r' | '＝' | '＋' | '－' | '＠')
}

/// Whether `s` is quotes (perhaps none) then a formula's first character: what the free-text
/// rule quotes.
fn starts_like_formula(s: &str) -> bool {
    s.trim_start_matches('\'').starts_with(is_trigger)
}

/// Whether `s` is a phone number in the form written as a formula.
fn is_phone_shaped(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_FORMULA_TEXT && s.chars().all(|c| matches!(c, '+' | '0'..='9' | ' ' | 'x'))
}

/// Applies the free-text rule: a quote in front of a value that begins like a formula.
pub fn text(s: &str) -> Cow<'_, str> {
    if starts_like_formula(s) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Applies the phone rule: `="…"` around a phone-shaped value, the free-text rule otherwise.
pub fn phone(s: &str) -> Cow<'_, str> {
    if is_phone_shaped(s) {
        Cow::Owned(format!("=\"{s}\""))
    } else {
        text(s)
    }
}

/// The value a free-text cell was written from (the inverse of the free-text rule).
pub fn text_from_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if starts_like_formula(rest) => rest,
        _ => cell,
    }
}

/// The value a phone-column cell was written from (the inverse of the phone rule).
pub fn phone_from_cell(cell: &str) -> &str {
    match cell.strip_prefix("=\"").and_then(|c| c.strip_suffix('"')) {
        Some(inner) if is_phone_shaped(inner) => inner,
        _ => text_from_cell(cell),
    }
}

/// One cell of a row, tagged with the rule it is written by.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// Free text: quoted when it begins like a formula.
    Text(&'a str),
    /// A phone number column: written so a spreadsheet shows the number exactly.
    Phone(&'a str),
}

/// A CSV file being written to `W`, every cell by its rule: the one way the tool writes CSV.
pub struct CsvFile<W: Write>(csv::Writer<W>);

impl<W: Write> CsvFile<W> {
    /// Starts a CSV file on `file` with the `header` row.
    pub fn new<S: AsRef<str>>(file: W, header: &[S]) -> io::Result<CsvFile<W>> {
        let mut csv = CsvFile(csv::Writer::from_writer(file));
        csv.row(&header.iter().map(|h| Cell::Text(h.as_ref())).collect::<Vec<_>>())?;
        Ok(csv)
    }

    /// Appends one row (buffered; see [`CsvFile::flush`]).
    pub fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        let values: Vec<_> = cells
            .iter()
            .map(|c| match *c {
                Cell::Text(s) => text(s),
                Cell::Phone(s) => phone(s),
            })
            .collect();
        self.0.write_record(values.iter().map(|v| v.as_bytes())).map_err(io::Error::from)
    }

    /// Hands every row written so far to the operating system.
    pub fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }

    /// The writer, every row handed to it.
    pub fn into_inner(self) -> io::Result<W> {
        self.0.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values a hostile HR file or directory could hold, and ones that merely look like them.
    const HOSTILE: [&str; 16] = [
        "=cmd|' /C calc'!A0",
        "=HYPERLINK(\"http://x.example\",\"click\")",
        "+SUM(1)",
        "-cmd",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "＝1+1",
        "＋1",
        "－1",
        "＠A1",
        "'=1+2",
        "''+1",
        "=1+2@contoso.com",
        "'quoted",
        "a=b",
    ];

    #[test]
    fn free_text_that_starts_like_a_formula_is_quoted_and_reads_back_exactly() {
        for s in HOSTILE {
            let written = text(s);
            assert_eq!(text_from_cell(&written), s, "{s:?} written as {written:?}");
            let quoted = starts_like_formula(s);
            assert_eq!(
                written.starts_with('\''),
                quoted || s.starts_with('\''),
                "{s:?} written as {written:?}"
            );
            if quoted {
                assert_eq!(written, format!("'{s}"));
            }
        }
        for s in ["", "alex@contoso.com", "a=b", "'quoted", "Request_BadRequest", "x-y"] {
            assert_eq!(text(s), s);
            assert_eq!(text_from_cell(&text(s)), s);
        }
    }

    #[test]
    fn a_cell_a_spreadsheet_saved_without_its_quote_reads_as_the_same_value() {
        // The quote is the spreadsheet's "this is text" mark: saved without it, the value is
        // the one it showed.
        for s in ["=1+2@contoso.com", "+SUM(1)", "＝1"] {
            assert_eq!(text_from_cell(s), s);
        }
        assert_eq!(phone_from_cell("+1 2065555555"), "+1 2065555555");
    }

    #[test]
    fn graph_phone_numbers_are_written_as_text_formulas() {
        for s in ["+1 2065555555", "+44 2079460958x12"] {
            assert_eq!(phone(s), format!("=\"{s}\""));
            assert_eq!(phone_from_cell(&phone(s)), s);
        }
        assert_eq!(phone(""), "");
    }

    #[test]
    fn other_values_in_phone_columns_are_free_text() {
        for (s, written) in [
            ("=1+1", "'=1+1"),
            ("+1 (206) 555", "'+1 (206) 555"),
            ("-1", "'-1"),
            ("\"+1\"", "\"+1\""),
            ("=\"+1 2\"", "'=\"+1 2\""),
            ("n/a", "n/a"),
        ] {
            assert_eq!(phone(s), written);
            assert_eq!(phone_from_cell(&phone(s)), s);
        }
        for s in HOSTILE {
            assert_eq!(phone_from_cell(&phone(s)), s);
        }
        let long = format!("+{}", "1".repeat(MAX_FORMULA_TEXT));
        assert_eq!(phone(&long), format!("'{long}"));
        assert_eq!(phone_from_cell(&phone(&long)), long);
    }
}
