//! The one place report CSV rows are written (`rejects.csv`, the outcome log, the final
//! `outcomes.csv`), so every cell goes through the spreadsheet-safety rules of [`crate::report::cell`].

use crate::report::cell;
use std::io::{self, Write};

/// One cell of a row, tagged with the rule it is written by.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cell<'a> {
    /// Free text: quoted when it begins like a formula.
    Text(&'a str),
    /// A phone number column: written so a spreadsheet shows the number exactly.
    Phone(&'a str),
}

/// A report CSV file being written to `W`.
pub(super) struct CsvFile<W: Write>(csv::Writer<W>);

impl<W: Write> CsvFile<W> {
    /// Starts a CSV file on `file` with the `header` row.
    pub(super) fn new(file: W, header: &[&str]) -> io::Result<CsvFile<W>> {
        let mut csv = CsvFile(csv::Writer::from_writer(file));
        csv.row(&header.iter().map(|h| Cell::Text(h)).collect::<Vec<_>>())?;
        Ok(csv)
    }

    /// Appends one row (buffered; see [`CsvFile::flush`]).
    pub(super) fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        let values: Vec<_> = cells
            .iter()
            .map(|c| match *c {
                Cell::Text(s) => cell::text(s),
                Cell::Phone(s) => cell::phone(s),
            })
            .collect();
        self.0.write_record(values.iter().map(|v| v.as_bytes())).map_err(io::Error::from)
    }

    /// Hands every row written so far to the operating system.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
