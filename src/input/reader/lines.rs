//! The physical lines of the decoded text as the CSV parser reads it: which line (as an editor
//! shows it; csv's own count skips blank lines and counts `\r\n` twice) each record starts on,
//! and the blanking of the lines the quote scan found broken, whose text is kept aside (capped)
//! so the reader can still name the line's user. Memory holds only the lines the parser has
//! read ahead, never the file.

use std::collections::VecDeque;
use std::io::Read;

/// Of a skipped line, this many bytes are kept (enough for any user field before a quote).
const KEPT: usize = 64 * 1024;

/// Counts physical lines as an editor does: `\n`, `\r\n` and a lone `\r` each end one. The one
/// rule the quote scan (on raw code units) and the reader (on decoded text) both follow, so they
/// name the same lines.
#[derive(Debug, Default, Clone, Copy)]
pub struct LineEnds {
    after_cr: bool,
}

impl LineEnds {
    /// Whether `b`, the next character, ends a line (the `\n` of a `\r\n` does not: its `\r`
    /// did).
    pub fn ends(&mut self, b: u8) -> bool {
        let end = b == b'\r' || (b == b'\n' && !self.after_cr);
        self.after_cr = b == b'\r';
        end
    }
}

/// A reader of decoded text that numbers its lines and blanks the broken ones.
pub struct Lines<R> {
    inner: R,
    /// Bytes handed on so far: the parser's byte positions.
    offset: u64,
    /// The line the next byte is on.
    line: u64,
    /// The next byte other than a line end starts a line.
    at_line_start: bool,
    ends: LineEnds,
    /// (offset, line) of each line with content the parser has read but not yet claimed.
    starts: VecDeque<(u64, u64)>,
    /// Lines still to blank, ascending.
    broken: VecDeque<u64>,
    /// The line being blanked, as it was.
    blanking: Option<(u64, Vec<u8>)>,
    /// Blanked lines, as they were, not yet taken.
    skipped: Vec<(u64, Vec<u8>)>,
}

impl<R: Read> Lines<R> {
    /// Reads `inner`, whose first byte is on line `first_line`, blanking `broken` lines.
    pub fn new(inner: R, first_line: u64, broken: Vec<u64>) -> Self {
        Lines {
            inner,
            offset: 0,
            line: first_line,
            at_line_start: true,
            ends: LineEnds::default(),
            starts: VecDeque::new(),
            broken: broken.into(),
            blanking: None,
            skipped: Vec::new(),
        }
    }

    /// The line of the record csv says starts at byte `offset`. csv's offset is where the
    /// previous record ended: the record itself begins on the first line with content at or
    /// after it. Offsets asked must not decrease.
    pub fn line_at(&mut self, offset: u64) -> u64 {
        while self.starts.front().is_some_and(|&(start, _)| start < offset) {
            self.starts.pop_front();
        }
        self.starts.front().map_or(self.line, |&(_, line)| line)
    }

    /// The blanked lines read since the last call, with their text as it was.
    pub fn take_skipped(&mut self) -> Vec<(u64, Vec<u8>)> {
        std::mem::take(&mut self.skipped)
    }

    fn end_blanking(&mut self) {
        if let Some(done) = self.blanking.take() {
            self.skipped.push(done);
        }
    }
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.end_blanking();
        }
        for (i, b) in buf[..n].iter_mut().enumerate() {
            if self.ends.ends(*b) {
                self.line += 1;
            }
            match *b {
                b'\n' | b'\r' => {
                    self.at_line_start = true;
                    self.end_blanking();
                }
                _ => {
                    if self.at_line_start {
                        self.at_line_start = false;
                        self.starts.push_back((self.offset + i as u64, self.line));
                        while self.broken.front().is_some_and(|&l| l < self.line) {
                            self.broken.pop_front();
                        }
                        if self.broken.front() == Some(&self.line) {
                            self.blanking = Some((self.line, Vec::new()));
                        }
                    }
                    if let Some((_, kept)) = &mut self.blanking {
                        if kept.len() < KEPT {
                            kept.push(*b);
                        }
                        *b = b' ';
                    }
                }
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str, broken: Vec<u64>) -> (String, Lines<&[u8]>) {
        let mut lines = Lines::new(text.as_bytes(), 1, broken);
        let mut out = String::new();
        lines.read_to_string(&mut out).unwrap();
        (out, lines)
    }

    #[test]
    fn records_are_numbered_by_the_lines_an_editor_shows() {
        // Lines: 1 "h", 2 blank, 3 "a", 4 blank (CRLF), 5 "b" (lone CR ends it), 6 "c".
        let text = "h\n\na\r\n\r\nb\rc";
        let (_, mut lines) = read_all(text, vec![]);
        assert_eq!(lines.line_at(0), 1);
        assert_eq!(lines.line_at(2), 3, "blank lines before a record are skipped");
        assert_eq!(lines.line_at(4), 5);
        assert_eq!(lines.line_at(10), 6);
    }

    #[test]
    fn broken_lines_are_blanked_and_kept_aside() {
        let (out, mut lines) = read_all("h\r\nk,\"open\r\nl,m\n", vec![2]);
        assert_eq!(out, "h\r\n       \r\nl,m\n");
        assert_eq!(lines.take_skipped(), vec![(2, b"k,\"open".to_vec())]);
        assert_eq!(lines.line_at(3), 2);
        assert_eq!(lines.line_at(12), 3);
    }
}
