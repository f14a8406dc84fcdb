//! From a file's bytes to UTF-8 CSV text: what the file is (refusing binary and compressed files
//! by name, never echoing them), which text encoding it uses (a byte-order mark, else UTF-8 when
//! valid, else Windows-1252, or as configured) and which delimiter separates its columns (`,`,
//! `;` or tab, counted on the header line outside quotes, or named by Excel's `sep=;` first line,
//! or as configured). HR systems and
//! Excel write all of these; the reader after this sees one shape.

use crate::config::InputEncoding;
use crate::input::reader::spec::CHUNK;
use std::io::Read;

/// Files that are not text, by their first bytes: what to call them.
const SIGNATURES: [(&[u8], &str); 7] = [
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one): save the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls): save the sheet as CSV"),
    (b"%PDF", "a PDF document"),
    (b"BZh", "a bzip2-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
];

/// Why the bytes are not a text file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotText(pub String);

/// How a file is to be decoded, chosen from its first bytes (and, for UTF-8 without a mark, a
/// pass over the whole file: Windows-1252 is told only by an invalid UTF-8 byte anywhere).
#[derive(Debug, Clone, Copy)]
pub struct Encoding {
    /// The text encoding.
    coding: &'static encoding_rs::Encoding,
    /// Bytes of byte-order mark at the start of the file, skipped.
    pub bom: u64,
}

impl Encoding {
    /// The encoding's name, for the reports.
    pub fn name(self) -> &'static str {
        match self.coding.name() {
            "UTF-8" => "utf-8",
            "UTF-16LE" => "utf-16le",
            "UTF-16BE" => "utf-16be",
            _ => "windows-1252",
        }
    }

    /// The text of a file's first bytes (a character cut off at the end is replaced).
    pub fn head_text(self, head: &[u8]) -> String {
        let bom = (self.bom as usize).min(head.len());
        self.coding.decode_without_bom_handling(&head[bom..]).0.into_owned()
    }

    /// The width of one code unit, which the quote scan reads structure from.
    pub fn unit(self) -> Unit {
        match self.name() {
            "utf-16le" => Unit::Utf16Le,
            "utf-16be" => Unit::Utf16Be,
            _ => Unit::Byte,
        }
    }
}

/// How a file's code units are laid out. `"`, the delimiters and line ends are ASCII, and in
/// each of these encodings an ASCII character is one unit that nothing else contains, so a
/// file's structure can be read from its raw units without decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// UTF-8 and Windows-1252.
    Byte,
    /// UTF-16, little-endian.
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
}

/// Chooses how to decode a file from its first bytes (`head`), refusing what is not text.
/// `valid_utf8` is asked only when the choice depends on the whole file.
pub fn choose(head: &[u8], encoding: InputEncoding, valid_utf8: impl FnOnce() -> std::io::Result<bool>) -> Result<Encoding, ChooseError> {
    if let Some((_, what)) = SIGNATURES.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Err(ChooseError::NotText(NotText(what.to_string())));
    }
    let bom = encoding_rs::Encoding::for_bom(head);
    let coding = match (encoding, bom) {
        // A byte-order mark is unambiguous: it wins over detection and over a configured
        // encoding that contradicts it (a configured one still reads a file without a mark).
        (_, Some((e, _))) => e,
        (InputEncoding::Auto, None) if valid_utf8().map_err(ChooseError::Io)? => encoding_rs::UTF_8,
        (InputEncoding::Auto, None) => encoding_rs::WINDOWS_1252,
        (InputEncoding::Utf8, None) => encoding_rs::UTF_8,
        (InputEncoding::Utf16Le, None) => encoding_rs::UTF_16LE,
        (InputEncoding::Utf16Be, None) => encoding_rs::UTF_16BE,
        (InputEncoding::Windows1252, None) => encoding_rs::WINDOWS_1252,
    };
    let chosen = Encoding {
        coding,
        bom: bom.map_or(0, |(_, len)| len as u64),
    };
    // NUL bytes do not occur in text an HR system exports.
    if chosen.head_text(head).contains('\0') {
        return Err(ChooseError::NotText(NotText(
            "a binary file (it contains NUL bytes); if it is UTF-16 text without a byte-order mark, set input.encoding".into(),
        )));
    }
    Ok(chosen)
}

/// Why [`choose`] failed.
#[derive(Debug)]
pub enum ChooseError {
    /// Not a text file.
    NotText(NotText),
    /// The file could not be read.
    Io(std::io::Error),
}

/// Whether everything `source` holds is valid UTF-8, read in chunks.
pub fn valid_utf8(mut source: impl Read) -> std::io::Result<bool> {
    let mut buf = vec![0; CHUNK];
    // Bytes of a character split by the chunk boundary, carried into the next chunk.
    let mut carried = 0;
    loop {
        let n = read_some(&mut source, &mut buf[carried..])?;
        let len = carried + n;
        match std::str::from_utf8(&buf[..len]) {
            Ok(_) => carried = 0,
            // An incomplete character at the end may complete in the next chunk.
            Err(e) if e.error_len().is_none() && n > 0 => {
                let valid = e.valid_up_to();
                buf.copy_within(valid..len, 0);
                carried = len - valid;
            }
            Err(_) => return Ok(false),
        }
        if n == 0 {
            return Ok(carried == 0);
        }
    }
}

/// `read`, retried when interrupted.
pub fn read_some(source: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match source.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// A file's text as UTF-8, decoded as it is read. UTF-8 passes through as it is (a row with
/// invalid bytes is refused later, by line); a byte-order mark is skipped by the caller.
pub struct Decoding<R> {
    inner: R,
    /// `None` for UTF-8.
    decoder: Option<encoding_rs::Decoder>,
    raw: Vec<u8>,
    out: Vec<u8>,
    /// How much of `out` has been handed on.
    taken: usize,
    done: bool,
}

impl<R: Read> Decoding<R> {
    /// Decodes `inner`, positioned after the byte-order mark, as `encoding`.
    pub fn new(inner: R, encoding: Encoding) -> Self {
        let decoder = (encoding.coding != encoding_rs::UTF_8).then(|| encoding.coding.new_decoder_without_bom_handling());
        Decoding {
            inner,
            decoder,
            raw: vec![0; CHUNK],
            out: Vec::new(),
            taken: 0,
            done: false,
        }
    }
}

impl<R: Read> Read for Decoding<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(decoder) = &mut self.decoder else {
            return self.inner.read(buf);
        };
        while self.taken == self.out.len() && !self.done {
            let n = read_some(&mut self.inner, &mut self.raw)?;
            self.done = n == 0;
            let room = decoder.max_utf8_buffer_length(n).unwrap_or(n * 3 + 16);
            self.out.resize(room, 0);
            // The output always has room, so the whole input is taken in one call.
            let (_, _, written, _) = decoder.decode_to_utf8(&self.raw[..n], &mut self.out, self.done);
            self.out.truncate(written);
            self.taken = 0;
        }
        let n = buf.len().min(self.out.len() - self.taken);
        buf[..n].copy_from_slice(&self.out[self.taken..self.taken + n]);
        self.taken += n;
        Ok(n)
    }
}

/// The delimiter of a CSV text: the one of `,` `;` tab found most often on its first line outside
/// quotes (a comma when none is).
pub fn detect_delimiter(text: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in text {
        if !quoted && (b == b'\n' || b == b'\r') {
            break;
        }
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let delimiters = [b',', b';', b'\t'];
    let best = (0..3).max_by_key(|&i| (counts[i], std::cmp::Reverse(i))).unwrap_or(0);
    if counts[best] == 0 { b',' } else { delimiters[best] }
}

/// The delimiter an Excel `sep=;` first line names, and the length of that line with its line
/// end, or `None` when the text does not start with one.
pub fn excel_separator(text: &str) -> Option<(u8, usize)> {
    let rest = text.get(..4).filter(|p| p.eq_ignore_ascii_case("sep="))?;
    let after = &text[rest.len()..];
    let end = after.find(['\r', '\n']).unwrap_or(after.len());
    let delimiter = match &after[..end] {
        "\t" => b'\t',
        "," => b',',
        ";" => b';',
        _ => return None,
    };
    let terminator = if after[end..].starts_with("\r\n") {
        2
    } else {
        usize::from(end < after.len())
    };
    Some((delimiter, 4 + end + terminator))
}

/// How many blank lines `text` has from byte `from` on, before its first line with content.
pub fn blank_lines(text: &str, from: usize) -> u64 {
    let mut ends = crate::input::reader::lines::LineEnds::default();
    let rest = text.get(from..).unwrap_or_default();
    rest.bytes()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .filter(|&b| ends.ends(b))
        .count() as u64
}

/// How the reports name a delimiter.
pub fn delimiter_name(delimiter: u8) -> &'static str {
    match delimiter {
        b';' => ";",
        b'\t' => "tab",
        _ => ",",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, little: bool) -> Vec<u8> {
        let bom: [u8; 2] = if little { [0xFF, 0xFE] } else { [0xFE, 0xFF] };
        bom.into_iter()
            .chain(
                text.encode_utf16()
                    .flat_map(|u| if little { u.to_le_bytes() } else { u.to_be_bytes() }),
            )
            .collect()
    }

    /// Decodes `bytes` as the reader does: chosen from the head, streamed after the mark.
    fn decode(bytes: &[u8], encoding: InputEncoding) -> Result<(Vec<u8>, &'static str), NotText> {
        let chosen = match choose(bytes, encoding, || valid_utf8(bytes)) {
            Ok(chosen) => chosen,
            Err(ChooseError::NotText(e)) => return Err(e),
            Err(ChooseError::Io(e)) => panic!("{e}"),
        };
        let mut out = Vec::new();
        // A tiny inner chunk size would not be exercised by `read_to_end` alone: read by 3s.
        let mut reader = Decoding::new(&bytes[chosen.bom as usize..], chosen);
        let mut buf = [0; 3];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        Ok((out, chosen.name()))
    }

    fn text(bytes: &[u8], encoding: InputEncoding) -> (String, &'static str) {
        let (bytes, name) = decode(bytes, encoding).unwrap();
        (String::from_utf8(bytes).unwrap(), name)
    }

    #[test]
    fn utf8_validity_is_judged_across_chunk_boundaries() {
        // A two-byte character straddling the 64 KiB chunk boundary is valid.
        let mut text = "a".repeat(CHUNK - 1);
        text.push('ü');
        assert_eq!(valid_utf8(text.as_bytes()).ok(), Some(true));
        let mut cut = text.into_bytes();
        cut.pop();
        assert_eq!(valid_utf8(&cut[..]).ok(), Some(false), "a character cut off at the end");
        assert_eq!(valid_utf8(&b"ok\xe9ok"[..]).ok(), Some(false));
    }

    #[test]
    fn an_excel_separator_line_names_the_delimiter() {
        assert_eq!(excel_separator("sep=;\r\nuser;mobile"), Some((b';', 7)));
        assert_eq!(excel_separator("SEP=,\nuser"), Some((b',', 6)));
        assert_eq!(excel_separator("sep=\t"), Some((b'\t', 5)));
        assert_eq!(excel_separator("sep=|\nuser"), None);
        assert_eq!(excel_separator("user,sep=;"), None);
    }

    #[test]
    fn encodings_are_told_by_bom_then_validity() {
        let csv = "user;Büro\nkim@x.com;+49 30 1234567\n";
        assert_eq!(text(&utf16(csv, true), InputEncoding::Auto), (csv.into(), "utf-16le"));
        assert_eq!(text(&utf16(csv, false), InputEncoding::Auto), (csv.into(), "utf-16be"));
        let bom8 = [b"\xef\xbb\xbf".as_slice(), csv.as_bytes()].concat();
        assert_eq!(text(&bom8, InputEncoding::Auto), (csv.into(), "utf-8"));
        assert_eq!(text(csv.as_bytes(), InputEncoding::Auto), (csv.into(), "utf-8"));
        let (latin, _, _) = encoding_rs::WINDOWS_1252.encode(csv);
        assert_eq!(text(&latin, InputEncoding::Auto), (csv.into(), "windows-1252"));
        // As configured, whatever the bytes look like, unless a byte-order mark says otherwise.
        assert_eq!(text(csv.as_bytes(), InputEncoding::Windows1252).1, "windows-1252");
        assert_eq!(text(&bom8, InputEncoding::Windows1252), (csv.into(), "utf-8"));
        assert_eq!(text(&utf16(csv, true), InputEncoding::Utf8), (csv.into(), "utf-16le"));
        // Configured UTF-8 keeps invalid bytes for the reader to refuse, row by row.
        assert_eq!(decode(&latin, InputEncoding::Utf8), Ok((latin.to_vec(), "utf-8")));
        // Decoding streams: a long file comes through whole.
        let long = csv.repeat(20_000);
        assert_eq!(text(&utf16(&long, true), InputEncoding::Auto), (long.clone(), "utf-16le"));
    }

    #[test]
    fn binary_and_compressed_files_are_named_never_echoed() {
        for (bytes, word) in [
            (b"\x1f\x8b\x08\x00secret".as_slice(), "gzip"),
            (b"PK\x03\x04secret", "ZIP"),
            (b"%PDF-1.7 secret", "PDF"),
            (b"user,phone\x00secret\n", "NUL"),
        ] {
            let NotText(why) = decode(bytes, InputEncoding::Auto).unwrap_err();
            assert!(why.contains(word) && !why.contains("secret"), "{why}");
        }
    }

    #[test]
    fn the_delimiter_is_the_commonest_on_the_header_line_outside_quotes() {
        assert_eq!(detect_delimiter(b"user,phoneType,phoneNumber\n"), b',');
        assert_eq!(detect_delimiter(b"Work Email;Mobile Phone;Office Phone\r\na,b;c"), b';');
        assert_eq!(detect_delimiter(b"user\tmobile\n"), b'\t');
        assert_eq!(
            detect_delimiter(b"\"Name, full\";Mobile\n"),
            b';',
            "a comma inside quotes does not count"
        );
        assert_eq!(detect_delimiter(b"user\n"), b',');
        assert_eq!(detect_delimiter(b"user;phone,type\tx\n"), b',', "a tie goes to the comma");
        assert_eq!(detect_delimiter(b"user;phone;x\ttype\tx,\n"), b';', "then the semicolon");
        assert_eq!(delimiter_name(b'\t'), "tab");
    }
}
