//! From a file's bytes to UTF-8 CSV text: what the file is (refusing binary and compressed files
//! by name, never echoing them), which text encoding it uses (a byte-order mark, else UTF-8 when
//! valid, else Windows-1252, or as configured) and which delimiter separates its columns (`,`,
//! `;` or tab, counted on the header line outside quotes, or as configured). HR systems and
//! Excel write all of these; the reader after this sees one shape.

use crate::config::InputEncoding;
use std::borrow::Cow;

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

/// The text of a file as UTF-8 bytes, and the encoding it was read in.
pub struct Decoded<'a> {
    /// UTF-8 text (for `utf-8`, the bytes as they were: a row with invalid bytes is refused later).
    pub bytes: Cow<'a, [u8]>,
    /// The encoding's name, for the reports.
    pub encoding: &'static str,
}

/// Decodes `bytes` as `encoding` says (or detects it), refusing what is not text.
pub fn decode(bytes: &[u8], encoding: InputEncoding) -> Result<Decoded<'_>, NotText> {
    if let Some((_, what)) = SIGNATURES.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Err(NotText(what.to_string()));
    }
    let bom = encoding_rs::Encoding::for_bom(bytes);
    let chosen = match (encoding, bom) {
        // A byte-order mark is unambiguous: it wins over detection and over a configured
        // encoding that contradicts it (a configured one still reads a file without a mark).
        (_, Some((e, _))) => e,
        (InputEncoding::Auto, None) if std::str::from_utf8(bytes).is_ok() => encoding_rs::UTF_8,
        (InputEncoding::Auto, None) => encoding_rs::WINDOWS_1252,
        (InputEncoding::Utf8, None) => encoding_rs::UTF_8,
        (InputEncoding::Utf16Le, None) => encoding_rs::UTF_16LE,
        (InputEncoding::Utf16Be, None) => encoding_rs::UTF_16BE,
        (InputEncoding::Windows1252, None) => encoding_rs::WINDOWS_1252,
    };
    let bytes = if chosen == encoding_rs::UTF_8 {
        // Kept as they are: the reader refuses a row with bytes that are not UTF-8, by line.
        Cow::Borrowed(bytes.strip_prefix(b"\xef\xbb\xbf".as_slice()).unwrap_or(bytes))
    } else {
        // A BOM of the chosen encoding is dropped; text is never echoed on failure.
        let (text, _) = chosen.decode_with_bom_removal(bytes);
        match text {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        }
    };
    // NUL bytes do not occur in text an HR system exports.
    let sample = &bytes[..bytes.len().min(64 * 1024)];
    if sample.contains(&0) {
        return Err(NotText(
            "a binary file (it contains NUL bytes); if it is UTF-16 text without a byte-order mark, set input.encoding".into(),
        ));
    }
    let encoding = match chosen.name() {
        "UTF-8" => "utf-8",
        "UTF-16LE" => "utf-16le",
        "UTF-16BE" => "utf-16be",
        _ => "windows-1252",
    };
    Ok(Decoded { bytes, encoding })
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

/// Where an opening quote that is never properly closed starts: the byte offset of its line, or
/// `None` when every quoted field closes. Quotes follow CSV: a quote opens only at the start of a
/// field, `""` inside a quoted field is a quote, a quoted field may span lines, and its closing
/// quote ends the field (a quote followed by anything but a delimiter or line end closes nothing
/// properly, so the field that opened is the one left open).
pub fn unterminated_quote(text: &[u8], delimiter: u8) -> Option<usize> {
    // The start of the record being read: a line end inside a quoted field starts none.
    let (mut line_start, mut opened_line) = (0, 0);
    let (mut quoted, mut field_start) = (false, true);
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if quoted {
            if b == b'"' {
                match text.get(i + 1) {
                    Some(&b'"') => i += 1,
                    // A closing quote ends its field: anything else after it means this quote
                    // closed another field's opening, and that opening is the one left open.
                    None | Some(&b'\n' | &b'\r') => quoted = false,
                    Some(&next) if next == delimiter => quoted = false,
                    Some(_) => return Some(opened_line),
                }
            }
        } else if b == b'"' && field_start {
            quoted = true;
            opened_line = line_start;
        }
        if !quoted {
            field_start = b == delimiter || b == b'\n' || b == b'\r';
        }
        let line_end = b == b'\n' || (b == b'\r' && text.get(i + 1) != Some(&b'\n'));
        if line_end && !quoted {
            line_start = i + 1;
        }
        i += 1;
    }
    quoted.then_some(opened_line)
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

    fn text(bytes: &[u8], encoding: InputEncoding) -> (String, &'static str) {
        let d = decode(bytes, encoding).unwrap();
        (String::from_utf8(d.bytes.into_owned()).unwrap(), d.encoding)
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
        let d = decode(&latin, InputEncoding::Utf8).unwrap();
        assert_eq!((&d.bytes[..], d.encoding), (&latin[..], "utf-8"));
    }

    #[test]
    fn binary_and_compressed_files_are_named_never_echoed() {
        for (bytes, word) in [
            (b"\x1f\x8b\x08\x00secret".as_slice(), "gzip"),
            (b"PK\x03\x04secret", "ZIP"),
            (b"%PDF-1.7 secret", "PDF"),
            (b"user,phone\x00secret\n", "NUL"),
        ] {
            let NotText(why) = decode(bytes, InputEncoding::Auto).err().unwrap();
            assert!(why.contains(word) && !why.contains("secret"), "{why}");
        }
    }

    #[test]
    fn an_unterminated_quote_is_found_at_the_line_it_opens() {
        assert_eq!(unterminated_quote(b"a,b\n\"x,y\"\n\"multi\nline\",z\n", b','), None);
        assert_eq!(unterminated_quote(b"a,b\nk,\"open\nl,m\nn,o\n", b','), Some(4));
        assert_eq!(unterminated_quote(b"a,b\nk,\"say \"\"hi\"\"\"\nl,\"x", b','), Some(19));
        assert_eq!(unterminated_quote(b"a,b\nk,\"open\nl,\"closes-wrongly\"\n", b','), Some(4));
        assert_eq!(
            unterminated_quote(b"a,b\nk,5\"3\n", b','),
            None,
            "a quote inside a field is a character"
        );
        // The record, not the physical line: a quoted field spanning lines belongs to its start.
        assert_eq!(unterminated_quote(b"h\na,\"Desk\nfloor\",x,\"open\n", b','), Some(2));
        assert_eq!(unterminated_quote(b"a,b\rk,\"open\rl,m\r", b','), Some(4), "CR-only line ends");
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
        assert_eq!(delimiter_name(b'\t'), "tab");
    }
}
