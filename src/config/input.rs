//! `[input]`: how the HR file is laid out (long or wide, which columns, delimiter, encoding).

use crate::config::raw::{Bad, RawInput};

/// How the HR file is laid out: one row per phone or one row per person, which columns hold
/// what, the delimiter and the text encoding (`[input]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSettings {
    /// One row per phone (`long`) or one row per person with a column per phone (`wide`).
    pub format: InputFormat,
    /// The column naming the user (object id or UPN).
    pub user_column: String,
    /// Long format: the column giving the phone type.
    pub type_column: String,
    /// Long format: the column giving the number.
    pub number_column: String,
    /// Wide format: which column feeds which input phone type, in the order given.
    pub columns: Vec<(String, String)>,
    /// The optional column naming the phone (profile phones keep a display name).
    pub display_name_column: String,
    /// `,`, `;` or tab; `None`: detected from the header line.
    pub delimiter: Option<u8>,
    /// The text encoding; `Auto`: a byte-order mark, else UTF-8 if valid, else Windows-1252.
    pub encoding: InputEncoding,
    /// Read letters in a number as keypad digits (`1-800-FLOWERS`) instead of refusing it.
    pub allow_vanity_numbers: bool,
    /// The column giving each row's region (an ISO code or an English country name),
    /// overriding `default_region` for that row's numbers; none unless configured (an HR
    /// "Region" column often holds states or sales regions, not countries).
    pub region_column: Option<String>,
    /// Wide format: a column empty in every row still says "none of this type" for everyone,
    /// so a user whose every cell is blank is pruned. Off by default (such a column says
    /// nothing, and a file blank throughout deletes nothing): that is far more often a broken
    /// export or mapping than a fact. Rollback and export configs turn it on.
    pub empty_column_means_none: bool,
    /// Wide format: a phone column's own display-name column (phone column, name column), for
    /// files holding several named phones per row (rollback and export files); a phone column
    /// without one takes the row's `display_name_column`.
    pub name_columns: Vec<(String, String)>,
}

impl Default for InputSettings {
    /// The long format with its standard column names, delimiter and encoding detected.
    fn default() -> Self {
        InputSettings {
            format: InputFormat::Long,
            user_column: "user".into(),
            type_column: "phoneType".into(),
            number_column: "phoneNumber".into(),
            columns: Vec::new(),
            display_name_column: "displayName".into(),
            delimiter: None,
            encoding: InputEncoding::Auto,
            allow_vanity_numbers: false,
            region_column: None,
            empty_column_means_none: false,
            name_columns: Vec::new(),
        }
    }
}

/// The two layouts of an HR file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// One row per user and phone: user, phone type, number.
    Long,
    /// One row per user, one column per phone type.
    Wide,
}

/// The text encodings the reader takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEncoding {
    /// A byte-order mark says; else UTF-8 when the bytes are valid UTF-8; else Windows-1252.
    Auto,
    /// UTF-8 (a row with bytes that are not UTF-8 is refused).
    Utf8,
    /// UTF-16, little-endian (Excel's "Unicode text").
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
    /// Windows-1252 (Excel's "CSV" on Western European Windows).
    Windows1252,
}

/// Checks and types `[input]`.
pub(crate) fn input_settings(raw: RawInput, bad: Bad) -> Result<InputSettings, anyhow::Error> {
    let format = match raw.format.trim().to_ascii_lowercase().as_str() {
        "long" => InputFormat::Long,
        "wide" => InputFormat::Wide,
        other => {
            return Err(bad(
                "input.format",
                format!("'{other}' is not long (one row per phone) or wide (one row per person)"),
            ));
        }
    };
    let mut columns = Vec::new();
    for (column, phone_type) in raw.columns.unwrap_or_default() {
        match phone_type.as_str() {
            Some(t) if !t.trim().is_empty() && !column.trim().is_empty() => columns.push((column.trim().to_string(), t.trim().to_string())),
            _ => {
                return Err(bad(
                    "input.columns",
                    format!("'{column}' must name a column and map it to a phone type, e.g. \"Mobile Phone\" = \"mobile\""),
                ));
            }
        }
    }
    match (format, columns.is_empty()) {
        (InputFormat::Wide, true) => {
            return Err(bad(
                "input.columns",
                "format = \"wide\" needs columns = { \"Mobile Phone\" = \"mobile\", ... }: which column holds which phone type".into(),
            ));
        }
        (InputFormat::Long, false) => {
            return Err(bad(
                "input.columns",
                "is for format = \"wide\"; a long file names the type in type_column".into(),
            ));
        }
        _ => {}
    }
    let delimiter = match raw.delimiter.as_str() {
        "auto" => None,
        "," => Some(b','),
        ";" => Some(b';'),
        "tab" | "\t" => Some(b'\t'),
        other => return Err(bad("input.delimiter", format!("'{other}' is not auto, \",\", \";\" or tab"))),
    };
    let encoding = match raw.encoding.trim().to_ascii_lowercase().replace('_', "-").as_str() {
        "auto" => InputEncoding::Auto,
        "utf-8" | "utf8" => InputEncoding::Utf8,
        "utf-16le" | "utf-16" => InputEncoding::Utf16Le,
        "utf-16be" => InputEncoding::Utf16Be,
        "windows-1252" | "cp1252" | "latin1" | "iso-8859-1" => InputEncoding::Windows1252,
        other => {
            return Err(bad(
                "input.encoding",
                format!("'{other}' is not auto, utf-8, utf-16le, utf-16be or windows-1252"),
            ));
        }
    };
    let column = |key: &str, v: String| {
        let v = v.trim().to_string();
        if v.is_empty() {
            Err(bad(key, "must name a column".into()))
        } else {
            Ok(v)
        }
    };
    let name_columns = name_columns(raw.name_columns, &columns, bad)?;
    Ok(InputSettings {
        format,
        user_column: column("input.user_column", raw.user_column)?,
        type_column: column("input.type_column", raw.type_column)?,
        number_column: column("input.number_column", raw.number_column)?,
        columns,
        display_name_column: column("input.display_name_column", raw.display_name_column)?,
        delimiter,
        encoding,
        allow_vanity_numbers: raw.allow_vanity_numbers,
        region_column: raw.region_column.map(|c| column("input.region_column", c)).transpose()?,
        empty_column_means_none: raw.empty_column_means_none,
        name_columns,
    })
}

/// Checks `[input] name_columns`: each key one of the wide `columns`, each value a column name.
fn name_columns(raw: Option<toml::Table>, columns: &[(String, String)], bad: Bad) -> Result<Vec<(String, String)>, anyhow::Error> {
    let mut names = Vec::new();
    for (column, name) in raw.unwrap_or_default() {
        let name = name.as_str().map(str::trim).unwrap_or_default();
        if name.is_empty() {
            return Err(bad(
                "input.name_columns",
                format!("'{column}' must map to the column holding its display name"),
            ));
        }
        if !columns.iter().any(|(c, _)| c.eq_ignore_ascii_case(column.trim())) {
            return Err(bad(
                "input.name_columns",
                format!("'{column}' is not one of input.columns: a display-name column belongs to a phone column"),
            ));
        }
        names.push((column.trim().to_string(), name.to_string()));
    }
    Ok(names)
}
