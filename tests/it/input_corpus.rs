//! A corpus of malformed HR files, each with the outcome it must have: refused as a whole with
//! a message naming what is wrong (and never echoing data), or read with the bad rows refused
//! by line and reason and the rest used. No case may panic.

use phonesync::config::{InputEncoding, InputFormat, InputSettings};
use phonesync::input::reader::{self, Input};

const HEADER: &str = "user,phoneType,phoneNumber\n";

/// What a case must come to.
enum Outcome {
    /// The file is refused; the message contains this.
    Refused(&'static str),
    /// Read: (data rows, users, refused rows), and a refused row's reason contains this.
    Read(u64, usize, usize, Option<&'static str>),
}
use Outcome::{Read, Refused};

fn long(rows: &str) -> Vec<u8> {
    format!("{HEADER}{rows}").into_bytes()
}

fn wide() -> InputSettings {
    InputSettings {
        format: InputFormat::Wide,
        user_column: "Work Email".into(),
        columns: vec![("Mobile".into(), "mobile".into()), ("Office".into(), "office".into())],
        ..InputSettings::default()
    }
}

fn cases() -> Vec<(&'static str, Vec<u8>, InputSettings, Outcome)> {
    let d = InputSettings::default;
    let ok = "k@x.com,mobile,2065550100\n";
    vec![
        ("empty file", vec![], d(), Refused("empty")),
        ("only a newline", b"\n".to_vec(), d(), Refused("empty")),
        ("header only", HEADER.as_bytes().to_vec(), d(), Read(0, 0, 0, None)),
        (
            "no header",
            b"k@x.com,mobile,2065550100\n".to_vec(),
            d(),
            Refused("looks like data"),
        ),
        (
            "missing column",
            b"user,phoneType\nk@x.com,mobile\n".to_vec(),
            d(),
            Refused("missing column 'phoneNumber'"),
        ),
        (
            "duplicated header",
            b"user,phoneType,phoneNumber,User\n".to_vec(),
            d(),
            Refused("twice (columns 1 and 4)"),
        ),
        ("zip workbook", b"PK\x03\x04\x14\x00rest".to_vec(), d(), Refused("ZIP")),
        ("gzip", b"\x1f\x8b\x08\x00\x00".to_vec(), d(), Refused("gzip")),
        ("old xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1".to_vec(), d(), Refused("xls")),
        ("pdf", b"%PDF-1.4\n".to_vec(), d(), Refused("PDF")),
        ("NUL bytes", long("k@x.com,mobile,206\x00555\n"), d(), Refused("NUL")),
        (
            "utf-16 without BOM",
            "user,phoneType,phoneNumber\n".encode_utf16().flat_map(u16::to_le_bytes).collect(),
            d(),
            Refused("UTF-16"),
        ),
        (
            "utf-16le with BOM",
            [
                vec![0xFF, 0xFE],
                format!("{HEADER}{ok}").encode_utf16().flat_map(u16::to_le_bytes).collect(),
            ]
            .concat(),
            d(),
            Read(1, 1, 0, None),
        ),
        (
            "utf-16be with BOM",
            [
                vec![0xFE, 0xFF],
                format!("{HEADER}{ok}").encode_utf16().flat_map(u16::to_be_bytes).collect(),
            ]
            .concat(),
            d(),
            Read(1, 1, 0, None),
        ),
        ("utf-8 BOM", [b"\xef\xbb\xbf".to_vec(), long(ok)].concat(), d(), Read(1, 1, 0, None)),
        (
            "windows-1252 name",
            [HEADER.as_bytes(), b"k\xe9@x.com,mobile,2065550100\n"].concat(),
            d(),
            Read(1, 1, 0, None),
        ),
        (
            "invalid utf-8 when utf-8 is set",
            [HEADER.as_bytes(), b"k\xff@x.com,mobile,2065550100\n"].concat(),
            InputSettings {
                encoding: InputEncoding::Utf8,
                ..d()
            },
            Read(1, 0, 1, Some("not valid UTF-8")),
        ),
        (
            "CRLF line ends",
            b"user,phoneType,phoneNumber\r\nk@x.com,mobile,2065550100\r\n".to_vec(),
            d(),
            Read(1, 1, 0, None),
        ),
        (
            "semicolons",
            b"user;phoneType;phoneNumber\nk@x.com;mobile;2065550100\n".to_vec(),
            d(),
            Read(1, 1, 0, None),
        ),
        (
            "tabs",
            b"user\tphoneType\tphoneNumber\nk@x.com\tmobile\t2065550100\n".to_vec(),
            d(),
            Read(1, 1, 0, None),
        ),
        (
            "trailing empty columns",
            b"user,phoneType,phoneNumber,,\nk@x.com,mobile,2065550100,,\n".to_vec(),
            d(),
            Read(1, 1, 0, None),
        ),
        (
            "quoted field with the delimiter",
            b"user,phoneType,phoneNumber,displayName\nk@x.com,mobile,2065550100,\"Desk, 2nd floor\"\n".to_vec(),
            d(),
            Read(1, 1, 0, None),
        ),
        (
            "embedded newline in a quoted field",
            b"user,phoneType,phoneNumber,displayName\nk@x.com,mobile,2065550100,\"two\nlines\"\nl@x.com,mobile,2065550101,\n".to_vec(),
            d(),
            Read(2, 2, 0, None),
        ),
        (
            "unterminated quote",
            long("a@x.com,mobile,\"2065550100\nb@x.com,mobile,2065550101\nc@x.com,mobile,2065550102\n"),
            d(),
            Read(3, 3, 1, Some("never closed")),
        ),
        // Line 3's own quote is malformed too (text after its closing quote): both refused.
        (
            "quote closed by a later line",
            long("a@x.com,mobile,\"2065550100\nb@x.com,mobile,\"2065550101\"x\nc@x.com,mobile,2065550102\n"),
            d(),
            Read(3, 3, 2, Some("never closed")),
        ),
        (
            "empty user",
            long(",mobile,2065550100\n"),
            d(),
            Read(1, 0, 1, Some("user column is empty")),
        ),
        (
            "unknown type",
            long("k@x.com,fax,2065550100\n"),
            d(),
            Read(1, 1, 1, Some("unknown phoneType 'fax'")),
        ),
        (
            "empty type",
            long("k@x.com,,2065550100\n"),
            d(),
            Read(1, 1, 1, Some("phoneType column is empty")),
        ),
        ("empty number", long("k@x.com,mobile,\n"), d(), Read(1, 1, 1, Some("empty"))),
        (
            "junk number",
            long("k@x.com,mobile,call reception\n"),
            d(),
            Read(1, 1, 1, Some("letters")),
        ),
        (
            "emoji number",
            long("k@x.com,mobile,\u{1F4DE}2065550100\n"),
            d(),
            Read(1, 1, 1, Some("not part of a phone number")),
        ),
        (
            "vanity number",
            long("k@x.com,mobile,1-800-FLOWERS\n"),
            d(),
            Read(1, 1, 1, Some("vanity")),
        ),
        (
            "too short",
            long("k@x.com,mobile,555-01\n"),
            d(),
            Read(1, 1, 1, Some("not a valid number")),
        ),
        (
            "formula-looking cell",
            long("k@x.com,mobile,=HYPERLINK(\"x\")\n"),
            d(),
            Read(1, 1, 1, None),
        ),
        (
            "5000-character number",
            long(&format!("k@x.com,mobile,{}\n", "9".repeat(5000))),
            d(),
            Read(1, 1, 1, Some("longer than 64")),
        ),
        (
            "5000-character user",
            long(&format!("{}@x.com,mobile,2065550100\n", "k".repeat(5000))),
            d(),
            Read(1, 0, 1, Some("longer than 1024")),
        ),
        (
            "10 MB single line",
            long(&"x".repeat(10 * 1024 * 1024)),
            d(),
            Read(1, 0, 1, Some("longer than 1024")),
        ),
        (
            "control characters in the user",
            long("k\u{7}@x.com,mobile,2065550100\n"),
            d(),
            Read(1, 0, 1, Some("control characters")),
        ),
        (
            "right-to-left mark in the number",
            long("k@x.com,mobile,\u{200F}+1 206 555 0100\n"),
            d(),
            Read(1, 1, 0, None),
        ),
        (
            "user with a path",
            long("../../admin,mobile,2065550100\n"),
            d(),
            Read(1, 1, 0, None),
        ),
        (
            "user with a query and fragment",
            long("k@x.com?$select=id#x,mobile,2065550100\n"),
            d(),
            Read(1, 1, 0, None),
        ),
        (
            "user percent-encoded",
            long("k%40x.com%2F..,mobile,2065550100\n"),
            d(),
            Read(1, 1, 0, None),
        ),
        (
            "rows longer and shorter than the header",
            long("k@x.com,mobile,2065550100,extra,more\nl@x.com,mobile\n"),
            d(),
            Read(2, 2, 1, Some("empty")),
        ),
        (
            "wide: missing configured column",
            b"Work Email,Mobile\nk@x.com,2065550100\n".to_vec(),
            wide(),
            Refused("missing column 'Office'"),
        ),
        (
            // A user whose every cell is empty is still named: the input says they have none.
            "wide: empty cells say none",
            b"Work Email,Mobile,Office\nk@x.com,,\nl@x.com,2065550100,\n".to_vec(),
            wide(),
            Read(2, 2, 0, None),
        ),
        (
            "wide: a bad cell refused by column",
            b"Work Email,Mobile,Office\nk@x.com,junk!,2065550100\n".to_vec(),
            wide(),
            Read(1, 1, 1, Some("not part of a phone number")),
        ),
    ]
}

fn check(name: &str, result: Result<Input, reader::ReadError>, want: &Outcome) {
    match (result, want) {
        (Err(e), Refused(text)) => {
            let e = e.to_string();
            assert!(e.contains(text), "{name}: {e}");
            assert!(!e.contains("2065550100") && !e.contains("k@x.com"), "{name}: data echoed: {e}");
        }
        (Ok(input), Read(rows, users, rejects, reason)) => {
            let got = (input.rows, input.users.len(), input.rejects.len());
            let reasons: Vec<(u64, &str)> = input.rejects.iter().map(|r| (r.line, r.reason.as_str())).collect();
            assert_eq!(got, (*rows, *users, *rejects), "{name}: {reasons:?}");
            if let Some(text) = reason {
                assert!(reasons.iter().any(|(_, r)| r.contains(text)), "{name}: {reasons:?}");
            }
            // A refused value is kept clipped: a 10 MB field is not copied into the reports.
            assert!(
                input.rejects.iter().all(|r| r.user.len() < 1024 && r.phone_number.len() < 1024),
                "{name}"
            );
            assert!(input.rejects.iter().all(|r| r.line >= 1), "{name}: every refusal has its line");
        }
        (Err(e), Read(..)) => panic!("{name}: refused: {e}"),
        (Ok(input), Refused(_)) => panic!("{name}: read: {} rows, {} refused", input.rows, input.rejects.len()),
    }
}

#[test]
fn every_malformed_input_has_its_outcome() {
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let types: Vec<String> = ["mobile", "alternateMobile", "office"].map(String::from).to_vec();
    for (name, bytes, settings, want) in &cases {
        let spec = reader::Spec {
            region: "US".parse().unwrap(),
            types: &types,
            texted: &types[..2],
            settings,
        };
        let result = std::panic::catch_unwind(|| reader::read(std::io::Cursor::new(&bytes[..]), &spec, &|_| {}));
        match result {
            Ok(result) => check(name, result, want),
            Err(_) => panic!("{name}: panicked"),
        }
    }
}
