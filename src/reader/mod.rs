//! Reader: CSV bytes in, desired state per user out, plus the rows it had to refuse.
//!
//! Long format: one row per user and phone, columns `user`, `phoneType`, `phoneNumber`
//! (header names matched case-insensitively). A row that cannot be used becomes a [`Reject`]
//! with its line number and a reason; only a file that cannot be read at all is an error.

use crate::model::{DesiredPhone, DesiredUser, PhoneType};
use crate::phone::{self, Region};
use std::collections::HashMap;
use std::collections::btree_map::Entry;
use std::io::Read;

/// The columns the long format needs, by their canonical names.
const USER: &str = "user";
const PHONE_TYPE: &str = "phoneType";
const PHONE_NUMBER: &str = "phoneNumber";

/// A file the reader cannot use at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The header lacks a needed column.
    #[error("missing column '{missing}' in the header (found: {found}); expected columns: user, phoneType, phoneNumber")]
    MissingColumn {
        /// The column that is missing.
        missing: &'static str,
        /// What the header had instead.
        found: String,
    },
    /// The file is empty: no header.
    #[error("the file is empty: expected a header line with user, phoneType, phoneNumber")]
    Empty,
    /// The bytes could not be read.
    #[error("could not read the file: {0}")]
    Io(String),
    /// The file is UTF-16 (as Excel's "Unicode text" writes it).
    #[error("the file is UTF-16 encoded; save it as \"CSV UTF-8\" and try again")]
    Utf16,
}

/// One input row the reader refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// 1-based line number in the file.
    pub line: u64,
    /// The `user` field as written (may be empty).
    pub user: String,
    /// The `phoneType` field as written.
    pub phone_type: String,
    /// The `phoneNumber` field as written.
    pub phone_number: String,
    /// Why the row was refused.
    pub reason: String,
}

/// Everything the reader learned from one file.
#[derive(Debug, Default)]
pub struct Input {
    /// Desired state per user, in order of first appearance.
    pub users: Vec<DesiredUser>,
    /// Rows refused.
    pub rejects: Vec<Reject>,
    /// Data rows seen (excluding the header).
    pub rows: u64,
}

/// Reads long-format CSV from `source`, parsing numbers with `region` as the default.
pub fn read(source: impl Read, region: Region) -> Result<Input, ReadError> {
    let mut source = std::io::BufReader::new(source);
    let head = std::io::BufRead::fill_buf(&mut source).map_err(|e| ReadError::Io(e.to_string()))?;
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Err(ReadError::Utf16);
    }
    let mut csv = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(source);
    let header = csv.byte_headers().map_err(|e| ReadError::Io(e.to_string()))?.clone();
    if header.is_empty() || header.iter().all(|h| h.is_empty()) {
        return Err(ReadError::Empty);
    }
    let names: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    // A header that is one field holding `;` or tabs is a file with another delimiter.
    let delimiter_hint = match names.as_slice() {
        [one] if one.contains(';') => "; the file seems to use ';' between columns: save it as comma-separated CSV",
        [one] if one.contains('\t') => "; the file seems to use tabs between columns: save it as comma-separated CSV",
        _ => "",
    };
    let column = |want: &'static str| {
        names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(want))
            .ok_or_else(|| ReadError::MissingColumn {
                missing: want,
                found: format!("{}{delimiter_hint}", names.join(", ")),
            })
    };
    let (user_col, type_col, number_col) = (column(USER)?, column(PHONE_TYPE)?, column(PHONE_NUMBER)?);

    let mut input = Input::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(_) => return Err(ReadError::Io(e.to_string())),
                _ => {
                    input.rows += 1;
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    input.rejects.push(Reject {
                        line,
                        user: String::new(),
                        phone_type: String::new(),
                        phone_number: String::new(),
                        reason: format!("unreadable row: {e}"),
                    });
                    continue;
                }
            },
        }
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        input.rows += 1;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let field = |i: usize| record.get(i).map(|b| String::from_utf8_lossy(b).into_owned());
        let user = field(user_col).unwrap_or_default();
        let type_raw = field(type_col).unwrap_or_default();
        let number_raw = field(number_col).unwrap_or_default();
        let reject = |reason: String| Reject {
            line,
            user: user.clone(),
            phone_type: type_raw.clone(),
            phone_number: number_raw.clone(),
            reason,
        };

        if record.get(user_col).is_some_and(|b| std::str::from_utf8(b).is_err())
            || record.get(number_col).is_some_and(|b| std::str::from_utf8(b).is_err())
        {
            input
                .rejects
                .push(reject("the row is not valid UTF-8; save the file as UTF-8".into()));
            continue;
        }
        if user.is_empty() {
            input.rejects.push(reject("the user column is empty".into()));
            continue;
        }
        if user.chars().any(char::is_control) {
            input.rejects.push(reject("the user column contains control characters".into()));
            continue;
        }
        let Some(phone_type) = PhoneType::parse(&type_raw) else {
            let reason = if type_raw.is_empty() {
                "the phoneType column is empty".to_string()
            } else {
                format!("unknown phoneType '{type_raw}': use mobile, alternateMobile or office")
            };
            input.rejects.push(reject(reason));
            continue;
        };
        let phone = match phone::parse(&number_raw, region) {
            Ok(p) => p,
            Err(reason) => {
                input.rejects.push(reject(reason));
                continue;
            }
        };

        let slot = *index.entry(user.to_lowercase()).or_insert_with(|| {
            input.users.push(DesiredUser {
                user: user.clone(),
                phones: Default::default(),
                conflict: None,
                ..Default::default()
            });
            input.users.len() - 1
        });
        let desired = &mut input.users[slot];
        match desired.phones.entry(phone_type) {
            Entry::Vacant(v) => {
                v.insert(DesiredPhone { phone, line });
            }
            Entry::Occupied(o) if o.get().phone.key == phone.key => {} // the same row twice is one row
            Entry::Occupied(o) => {
                let note = format!("lines {} and {} give different {phone_type} numbers", o.get().line, line);
                desired.conflict = Some(match desired.conflict.take() {
                    Some(prev) => format!("{prev}; {note}"),
                    None => note,
                });
            }
        }
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(s: &str) -> Input {
        read(s.as_bytes(), "US".parse().unwrap()).unwrap()
    }

    #[test]
    fn reads_long_format_case_insensitively() {
        let input = read_str("User,PHONETYPE,phonenumber\nkim@contoso.com,Mobile,(206) 555-5555\nkim@contoso.com,office,425 555 0100\n");
        assert_eq!(input.rows, 2);
        assert!(input.rejects.is_empty(), "{:?}", input.rejects);
        assert_eq!(input.users.len(), 1);
        let kim = &input.users[0];
        assert_eq!(kim.phones[&PhoneType::Mobile].phone.display, "+1 2065555555");
        assert_eq!(kim.phones[&PhoneType::Mobile].line, 2);
        assert_eq!(kim.phones[&PhoneType::Office].line, 3);
    }

    #[test]
    fn rejects_bad_rows_with_line_and_reason_and_goes_on() {
        let input = read_str(
            "user,phoneType,phoneNumber\n,mobile,2065555555\na@x.com,pager,2065555555\nb@x.com,mobile,12345\nc@x.com,mobile\nd@x.com,office,2065555555\n",
        );
        let lines: Vec<u64> = input.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5]);
        assert!(input.rejects[0].reason.contains("user column is empty"));
        assert!(input.rejects[1].reason.contains("unknown phoneType 'pager'"));
        assert!(input.rejects[2].reason.contains("12345"));
        assert!(input.rejects[3].reason.contains("empty"));
        assert_eq!(input.users.len(), 1);
        assert_eq!(input.users[0].user, "d@x.com");
    }

    #[test]
    fn duplicate_rows_merge_and_contradicting_rows_conflict() {
        let input = read_str(
            "user,phoneType,phoneNumber\nA@x.com,mobile,206-555-5555\na@x.com,mobile,+1 2065555555\nb@x.com,mobile,2065555555\nb@x.com,mobile,2065550199\n",
        );
        assert_eq!(input.users.len(), 2, "users are matched case-insensitively");
        assert_eq!(input.users[0].conflict, None);
        assert_eq!(
            input.users[1].conflict.as_deref(),
            Some("lines 4 and 5 give different mobile numbers")
        );
    }

    #[test]
    fn missing_column_names_it() {
        let err = read("user,phoneType\nx,mobile\n".as_bytes(), "US".parse().unwrap()).unwrap_err();
        assert!(err.to_string().contains("missing column 'phoneNumber'"), "{err}");
        assert!(matches!(read("".as_bytes(), "US".parse().unwrap()), Err(ReadError::Empty)));
    }

    #[test]
    fn excel_exports_in_the_wrong_shape_get_a_clear_message() {
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("user,phoneType,phoneNumber\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert!(matches!(read(&utf16[..], "US".parse().unwrap()), Err(ReadError::Utf16)));
        let semicolons = read(
            "user;phoneType;phoneNumber\nk@x.com;mobile;2065555555\n".as_bytes(),
            "US".parse().unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(semicolons.contains("';' between columns"), "{semicolons}");
    }

    #[test]
    fn invalid_utf8_is_a_reject_not_an_abort() {
        let mut bytes = b"user,phoneType,phoneNumber\n".to_vec();
        bytes.extend_from_slice(b"k\xffm@x.com,mobile,2065555555\nok@x.com,mobile,2065555555\n");
        let input = read(&bytes[..], "US".parse().unwrap()).unwrap();
        assert_eq!(input.rejects.len(), 1);
        assert_eq!(input.rejects[0].line, 2);
        assert_eq!(input.users.len(), 1);
    }

    #[test]
    fn utf8_bom_in_header_is_ignored() {
        let input = read_str("\u{feff}user,phoneType,phoneNumber\nk@x.com,mobile,2065555555\n");
        assert_eq!(input.users.len(), 1);
    }
}
