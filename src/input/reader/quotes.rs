//! Finds the quotes a file opens and never properly closes, before the file is read. CSV lets a
//! quoted field span lines, so one stray quote would swallow the rest of the file into a single
//! field; instead its line is refused as such and skipped, and the rest is read as it stands.
//! Never closing is known only at the end of the file, so this is a pass of its own over the
//! raw file: it reads structure (`"`, the delimiter, line ends — ASCII, one code unit each in
//! every encoding taken) without decoding, in constant memory, and after a broken quote seeks
//! back to resume just after the line it skipped.

use crate::input::reader::decode::{Unit, read_some};
use crate::input::reader::lines::LineEnds;
use crate::input::reader::spec::CHUNK;
use std::io::{Read, Seek, SeekFrom};

/// The raw file as a stream of structural units: each code unit as itself when ASCII, else
/// 0x80 (which no structure uses).
struct Units<R> {
    source: R,
    unit: Unit,
    /// Where unit 0 is in the file (after the byte-order mark).
    base: u64,
    buf: Vec<u8>,
    len: usize,
    at: usize,
    /// The index of the unit at `buf[0]`.
    start: u64,
    /// The index of the next unit.
    next: u64,
}

impl<R: Read + Seek> Units<R> {
    fn width(&self) -> u64 {
        if self.unit == Unit::Byte { 1 } else { 2 }
    }

    /// Continues from unit `index`: within what is buffered when it can (a skipped line is
    /// usually just behind), else by seeking the file.
    fn seek(&mut self, index: u64) -> std::io::Result<()> {
        let width = self.width();
        let buffered = (self.len as u64) / width;
        if index >= self.start && index < self.start + buffered {
            self.at = ((index - self.start) * width) as usize;
        } else {
            self.source.seek(SeekFrom::Start(self.base + index * width))?;
            (self.len, self.at, self.start) = (0, 0, index);
        }
        self.next = index;
        Ok(())
    }

    fn next(&mut self) -> std::io::Result<Option<u8>> {
        let width = self.width() as usize;
        if self.at + width > self.len {
            // A unit split by the chunk boundary is carried over.
            let mut len = self.len - self.at;
            self.buf.copy_within(self.at..self.len, 0);
            loop {
                let n = read_some(&mut self.source, &mut self.buf[len..])?;
                len += n;
                if n == 0 || len >= width {
                    break;
                }
            }
            (self.len, self.at, self.start) = (len, 0, self.next);
            if len < width {
                // A trailing odd byte of UTF-16 is no unit.
                return Ok(None);
            }
        }
        let b = &self.buf[self.at..self.at + width];
        let unit = match self.unit {
            Unit::Byte => u16::from(b[0]),
            Unit::Utf16Le => u16::from_le_bytes([b[0], b[1]]),
            Unit::Utf16Be => u16::from_be_bytes([b[0], b[1]]),
        };
        self.at += width;
        self.next += 1;
        Ok(Some(if unit < 0x80 { unit as u8 } else { 0x80 }))
    }
}

/// The lines (1-based, as an editor shows them: `\n`, `\r\n` and a lone `\r` each end one) of
/// the records whose quote opens and is never properly closed, in order. Quotes follow CSV: a
/// quote opens only at the start of a field, `""` inside a quoted field is a quote, a quoted field
/// may span lines, and its closing quote ends the field — a quote followed by anything but a
/// delimiter or line end closes nothing properly, so the field that opened is the one left open.
/// The line named is the one its record starts on; that line is skipped (read as blank) and
/// scanning resumes after it, as the reader will read the file.
pub fn broken(source: impl Read + Seek, unit: Unit, bom: u64, delimiter: u8) -> std::io::Result<Vec<u64>> {
    let mut units = Units {
        source,
        unit,
        base: bom,
        buf: vec![0; CHUNK],
        len: 0,
        at: 0,
        start: 0,
        next: 0,
    };
    units.seek(0)?;
    let mut found = Vec::new();
    // The physical line being read, and where the current record started (line, unit).
    let mut line = 1;
    let (mut record_line, mut record_start) = (1, 0);
    let (mut quoted, mut field_start, mut ends) = (false, true, LineEnds::default());
    // A quote inside a quoted field, waiting for the unit after it.
    let mut quote_pending = false;
    // Skipping a broken line: its content is read as blank up to its line end.
    let mut skipping = false;
    loop {
        let here = units.next;
        let Some(b) = units.next()? else {
            if quoted && !quote_pending {
                // Never closed: skip the record's first line and read what follows as it stands.
                found.push(record_line);
                units.seek(record_start)?;
                (line, quoted, field_start, ends, skipping) = (record_line, false, true, LineEnds::default(), true);
                continue;
            }
            break;
        };
        if skipping {
            if b != b'\n' && b != b'\r' {
                continue;
            }
            skipping = false;
        }
        if quote_pending {
            quote_pending = false;
            match b {
                // `""`: a quote inside the field.
                b'"' => continue,
                b'\n' | b'\r' => quoted = false,
                _ if b == delimiter => quoted = false,
                _ => {
                    // Closed wrongly: the same as never closed.
                    found.push(record_line);
                    units.seek(record_start)?;
                    (line, quoted, field_start, ends, skipping) = (record_line, false, true, LineEnds::default(), true);
                    continue;
                }
            }
        }
        if quoted {
            if b == b'"' {
                quote_pending = true;
            }
        } else if b == b'"' && field_start {
            quoted = true;
        }
        if !quoted {
            field_start = b == delimiter || b == b'\n' || b == b'\r';
        }
        // Line ends count inside quoted fields too: lines are physical.
        if ends.ends(b) {
            line += 1;
        }
        if (b == b'\n' || b == b'\r') && !quoted {
            (record_line, record_start) = (line, here + 1);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken_in(text: &[u8]) -> Vec<u64> {
        broken(std::io::Cursor::new(text), Unit::Byte, 0, b',').unwrap()
    }

    #[test]
    fn an_unterminated_quote_is_found_at_the_line_its_record_starts() {
        assert_eq!(broken_in(b"a,b\n\"x,y\"\n\"multi\nline\",z\n"), Vec::<u64>::new());
        assert_eq!(broken_in(b"a,b\nk,\"open\nl,m\nn,o\n"), vec![2]);
        assert_eq!(broken_in(b"a,b\nk,\"say \"\"hi\"\"\"\nl,\"x"), vec![3]);
        assert_eq!(broken_in(b"a,b\nk,\"open\nl,\"closes-wrongly\"\n"), vec![2]);
        assert_eq!(
            broken_in(b"a,b\nk,5\"3\n"),
            Vec::<u64>::new(),
            "a quote inside a field is a character"
        );
        // The record, not the physical line: a quoted field spanning lines belongs to its start.
        // Once line 2 is skipped, line 3 is read as it stands, and its own quote never closes.
        assert_eq!(broken_in(b"h\na,\"Desk\nfloor\",x,\"open\n"), vec![2, 3]);
        assert_eq!(broken_in(b"a,b\rk,\"open\rl,m\r"), vec![2], "CR-only line ends");
        assert_eq!(broken_in(b"a,b\r\n\r\nk,\"open\r\nl,m\r\n"), vec![3], "CRLF and a blank line");
    }

    #[test]
    fn scanning_resumes_after_the_skipped_line_and_finds_every_broken_one() {
        // Line 2's quote is closed by line 4's opening one; once line 2 is skipped, line 4's
        // quote is the one never closed.
        assert_eq!(broken_in(b"h\nk,\"a\nl,m\nn,\"b\"x\no,p\n"), vec![2, 4]);
        let many: Vec<u8> = (0..1000).flat_map(|i| format!("u{i},\"open\n").into_bytes()).collect();
        assert_eq!(broken_in(&many), (1..=1000).collect::<Vec<u64>>());
        // A record that spans more than what is buffered: resuming seeks the file.
        let mut long = b"h\nk,\"open\n".to_vec();
        long.extend(b"l,m\n".repeat(30_000));
        long.extend(b"n,\"x\n");
        assert_eq!(broken_in(&long), vec![2, 30_003]);
    }

    #[test]
    fn utf16_is_scanned_by_code_unit_after_its_mark() {
        let text = "h\nk,\"öpen\nl,m\n";
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(broken(std::io::Cursor::new(&le), Unit::Utf16Le, 2, b',').unwrap(), vec![2]);
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(broken(std::io::Cursor::new(&be), Unit::Utf16Be, 0, b',').unwrap(), vec![2]);
        // A character whose units hold 0x22 or 0x2C bytes (U+222C) is no quote or delimiter.
        let tricky: Vec<u8> = "h\n\u{222C}\u{2C22},\"x\"\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(
            broken(std::io::Cursor::new(&tricky), Unit::Utf16Le, 0, b',').unwrap(),
            Vec::<u64>::new()
        );
    }
}
