//! The reader's vocabulary, shared by its parts: what it is asked to read ([`Spec`]), where the
//! header put the columns, a refused row ([`Reject`]), a file it cannot read ([`ReadError`]),
//! and the rules every part applies to a user field or a refused value.

use crate::config::InputSettings;
use crate::input::phone::{self, Region};

/// The longest user field taken (a UPN is at most 113 characters; an object id 36).
pub const MAX_USER: usize = 1024;
/// Refused values are kept in the reports up to this many characters.
pub const KEPT: usize = 200;

/// `value` as a report keeps it: a 10 MB field is not copied into `rejects.csv`.
pub fn clip(value: &str) -> String {
    match value.char_indices().nth(KEPT) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_string(),
    }
}

/// Why a row with bytes that are not UTF-8 is refused.
pub const NOT_UTF8: &str = "the row is not valid UTF-8; save the file as UTF-8";

/// A file the reader cannot use at all. No message quotes a data value: they reach the console.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The header lacks a needed column.
    #[error("missing column '{missing}' in the header (found: {found}); expected columns: {expected} (set them in [input])")]
    MissingColumn {
        /// The column that is missing.
        missing: String,
        /// What the header had instead.
        found: String,
        /// The columns the configured layout needs.
        expected: String,
    },
    /// Two header fields have the same name (ignoring case and spaces).
    #[error("the header names column '{name}' twice (columns {first} and {second}); rename one")]
    DuplicateColumn {
        /// The name.
        name: String,
        /// 1-based positions of both.
        first: usize,
        /// See `first`.
        second: usize,
    },
    /// Not a text file at all.
    #[error("this is not a CSV text file: it looks like {0}")]
    NotText(String),
    /// The first line is a data row, so the header line is missing. Its values are not quoted.
    #[error("the first line looks like data, not a header: add a header line naming the columns {expected}{hint}")]
    NoHeader {
        /// The columns the configured layout needs.
        expected: String,
        /// How to fix the delimiter as well, or empty.
        hint: &'static str,
    },
    /// A quote in the header line never closes.
    #[error("the header (line {0}) opens a quote that is not properly closed: fix the quoting of the header line")]
    HeaderQuote(u64),
    /// The file is empty: no header.
    #[error("the file is empty: expected a header line with {expected}")]
    Empty {
        /// The columns the configured layout needs.
        expected: String,
    },
    /// The bytes could not be read.
    #[error("could not read the file: {0}")]
    Io(String),
}

/// One input row the reader refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// 1-based line number in the file.
    pub line: u64,
    /// The column the refused value is in (the number column of a long file, the phone's own
    /// column in a wide one), as the header names it; empty when the whole row was unreadable.
    pub column: String,
    /// The `user` field as written (may be empty).
    pub user: String,
    /// The `phoneType` field as written.
    pub phone_type: String,
    /// The `phoneNumber` field as written.
    pub phone_number: String,
    /// Why the row was refused.
    pub reason: String,
}

impl Reject {
    /// The reject as reports show it unless told `--unmask`: the refused number masked like
    /// every number on the console, also where the reason quotes it.
    pub fn masked(&self) -> Reject {
        if self.phone_number.is_empty() {
            return self.clone();
        }
        // A number's reason quotes the value (as cleaned, which may differ from the raw one)
        // first, between single quotes: that quote is masked too.
        let reason = match self.reason.strip_prefix('\'').and_then(|r| r.split_once('\'')) {
            Some((quoted, rest)) => format!("'{}'{rest}", phone::mask(quoted)),
            None => self.reason.clone(),
        };
        Reject {
            reason,
            phone_number: phone::mask(&self.phone_number),
            ..self.clone()
        }
    }
}

/// Where the columns a layout needs are in the header.
pub struct Columns {
    /// The user column.
    pub user: usize,
    /// The display name column, if the header has it.
    pub display_name: Option<usize>,
    /// Wide: phone columns with a display-name column of their own (phone, name).
    pub phone_names: Vec<(usize, usize)>,
    /// The row's region, when the header has the region column.
    pub region: Option<usize>,
    /// Long: the type and number columns. Wide: each phone column (position, header name, type).
    pub layout: Layout,
}

/// How a layout's phone columns are placed.
pub enum Layout {
    /// One row per phone: where the type and the number are, and the number column's name.
    Long {
        phone_type: usize,
        number: usize,
        number_name: String,
    },
    /// One row per person: each phone column (position, header name, type).
    Wide(Vec<(usize, String, String)>),
}

/// What the reader needs to know besides the file.
pub struct Spec<'a> {
    /// The region of numbers written without a country code (a row's region column overrides it).
    pub region: Region,
    /// The phone types the run takes, in their canonical spelling (matched case-insensitively).
    pub types: &'a [String],
    /// Of those, the types whose phones get text messages (SMS sign-in): a number there that can
    /// only be a fixed line is accepted with a note.
    pub texted: &'a [String],
    /// The layout.
    pub settings: &'a InputSettings,
}

/// Bytes read from a file at a time.
pub const CHUNK: usize = 64 * 1024;

/// The user a row's user field names, or why it names none. One rule for rows and skipped lines.
pub fn user<'a>(field: &'a [u8], settings: &InputSettings) -> Result<&'a str, String> {
    let column = &settings.user_column;
    let user = crate::sheet::text_from_cell(std::str::from_utf8(field).map_err(|_| NOT_UTF8.to_string())?);
    if user.is_empty() {
        Err(format!("the {column} column is empty"))
    } else if user.chars().any(char::is_control) {
        Err(format!("the {column} column contains control characters"))
    } else if user.len() > MAX_USER {
        Err(format!("the {column} column is longer than {MAX_USER} bytes"))
    } else {
        Ok(user)
    }
}
