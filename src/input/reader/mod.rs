//! Reader: CSV bytes in, desired state per user out, plus the rows it had to refuse.
//!
//! Two layouts (`[input]`): long, one row per user and phone (columns `user`, `phoneType`,
//! `phoneNumber` by default), and wide, one row per user with a column per phone type (as
//! Workday, SuccessFactors, BambooHR and Excel export). Either may have a column naming the phone
//! (`displayName`, for profile phones). Header names match ignoring case and surrounding
//! spaces; the encoding and delimiter are detected or configured (`decode`). The phone types it
//! takes are the ones the run's targets take. A row or cell that cannot be used becomes a
//! [`Reject`] with its line, column and a reason; only a file that cannot be read at all is an
//! error. In a wide file an empty cell means "no value for this type".
//! Line numbers are physical lines, as a text editor shows them. A refused row whose user can
//! be named is also recorded on that user ([`DesiredUser::rejected`]): what HR wants there is
//! unknown.

mod decode;
mod lines;
mod quotes;
mod rows;
pub mod spec;

pub use spec::{ReadError, Reject, Spec};

use crate::config::{InputFormat, InputSettings};
use crate::input::phone;
use crate::model::DesiredUser;
use lines::Lines;
use rows::{Item, Offer, Outcome};
use spec::{CHUNK, Columns, Layout, user};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

/// Everything the reader learned from one file.
#[derive(Debug, Default)]
pub struct Input {
    /// Desired state per user, in order of the first row naming them with a usable user field
    /// (usable phone or not). Rows refused for a user are recorded on it: a user whose every row
    /// was refused is here, with no phones, so those rows hold the user's phones back.
    pub users: Vec<DesiredUser>,
    /// Rows refused.
    pub rejects: Vec<Reject>,
    /// Rows accepted with a caveat (a fixed-line number offered for text messages), described
    /// like a refused row: the reason is the caveat. The first [`NOTES_KEPT`]; see `noted`.
    pub notes: Vec<Reject>,
    /// Rows accepted with a caveat, all of them.
    pub noted: u64,
    /// Data rows seen (excluding the header).
    pub rows: u64,
    /// Wide format: input types whose column was empty in every row, so says nothing (see
    /// `InputSettings::empty_column_means_none`).
    pub blank_columns: Vec<String>,
    /// The text encoding the file was read in (`utf-8`, `utf-16le`, `utf-16be`, `windows-1252`).
    pub encoding: &'static str,
    /// The delimiter between columns (`,`, `;` or `tab`).
    pub delimiter: &'static str,
}

/// Takes back the "none of this type" of every type no row gives a value for (usable or
/// refused): a wide column blank throughout says nothing. Returns those types.
fn drop_blank_columns(users: &mut [DesiredUser]) -> Vec<String> {
    let mut valued: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for u in users.iter() {
        valued.extend(u.phones.keys().map(String::as_str));
        valued.extend(u.rejected.keys().map(String::as_str));
    }
    let mut blank: Vec<String> = users
        .iter()
        .flat_map(|u| &u.stated_none)
        .filter(|t| !valued.contains(t.as_str()))
        .cloned()
        .collect();
    blank.sort();
    blank.dedup();
    if !blank.is_empty() {
        for u in users.iter_mut() {
            u.stated_none.retain(|t| !blank.contains(t));
        }
    }
    blank
}

/// Rows with a caveat kept to report (each costs a few hundred bytes; a file may have a million).
pub const NOTES_KEPT: usize = 1000;

/// The first bytes of a file, from which its kind, encoding and delimiter are told.
const HEAD: u64 = CHUNK as u64;

/// Files from this size on (some 20,000 rows) are parsed with a copy of the numbering plans per
/// worker, which costs each worker tens of milliseconds to make.
const OWN_PLANS_FROM: u64 = 1024 * 1024;

/// Reads CSV from `source` as `spec` says, calling `progress` with the bytes read so far. The
/// file is read as a stream, a few times over (`decode`, `quotes`); memory grows with its
/// users and the rows it refuses (each is reported), not its size. Rows are worked out on every core (`rows`).
pub fn read<R: Read + Seek>(mut source: R, spec: &Spec, progress: &dyn Fn(u64)) -> Result<Input, ReadError> {
    let io = |e: std::io::Error| ReadError::Io(e.to_string());
    let size = source.seek(SeekFrom::End(0)).map_err(io)?;
    let layout = FileLayout::detect(&mut source, spec.settings)?;
    source.seek(SeekFrom::Start(layout.encoding.bom)).map_err(io)?;
    let mut decoded = decode::Decoding::new(Counted::new(&mut source, progress), layout.encoding);
    std::io::copy(&mut (&mut decoded).take(layout.skip), &mut std::io::sink()).map_err(io)?;
    let lines = Lines::new(decoded, layout.header_line, layout.broken);
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .delimiter(layout.delimiter)
        .trim(csv::Trim::All)
        .from_reader(lines);
    let header = csv.byte_headers().map_err(|e| ReadError::Io(e.to_string()))?.clone();
    let cols = columns(&header, spec.settings)?;
    let mut input = Input {
        encoding: layout.encoding.name(),
        delimiter: decode::delimiter_name(layout.delimiter),
        ..Input::default()
    };
    let mut users = Users::default();
    let mut records = Records {
        csv,
        ready: Default::default(),
        held: Default::default(),
        record: csv::ByteRecord::new(),
        delimiter: layout.delimiter,
        user_column: cols.user,
        settings: spec.settings,
    };
    // Each worker parses numbers with its own copy of the numbering plans (see
    // `phone::own_plans`) once the file is large enough to repay making it.
    let own_plans = size >= OWN_PLANS_FROM;
    let work = |item| {
        if own_plans {
            phone::own_plans();
        }
        rows::examine(item, &cols, spec)
    };
    let mut next = || records.next();
    rows::ordered_map(rows::workers(), &mut next, work, |outcome| merge(&mut input, &mut users, outcome))?;
    // Users whose every row was rejected stay: their rejections hold their phones back.
    input.users = users.found;
    if !spec.settings.empty_column_means_none {
        input.blank_columns = drop_blank_columns(&mut input.users);
    }
    input.rejects.sort_by_key(|r| r.line);
    Ok(input)
}

/// What the file's first bytes tell: its encoding, delimiter, where the header is, and the
/// lines whose quotes are broken.
struct FileLayout {
    encoding: decode::Encoding,
    delimiter: u8,
    /// Bytes after the byte-order mark before the header (Excel's `sep=` line).
    skip: u64,
    /// The header's line number.
    header_line: u64,
    /// Lines whose quote never closes.
    broken: Vec<u64>,
}

impl FileLayout {
    /// Reads the head of `source` (and the whole file, for quotes and, when asked, UTF-8).
    fn detect<R: Read + Seek>(source: &mut R, settings: &InputSettings) -> Result<FileLayout, ReadError> {
        let io = |e: std::io::Error| ReadError::Io(e.to_string());
        source.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut head = Vec::new();
        (&mut *source).take(HEAD).read_to_end(&mut head).map_err(io)?;
        let encoding = decode::choose(&head, settings.encoding, || {
            source.seek(SeekFrom::Start(0))?;
            decode::valid_utf8(&mut *source)
        })
        .map_err(|e| match e {
            decode::ChooseError::NotText(decode::NotText(what)) => ReadError::NotText(what),
            decode::ChooseError::Io(e) => io(e),
        })?;
        let head_text = encoding.head_text(&head);
        // Excel writes `sep=;` on a line of its own before the header to name the delimiter.
        let excel = decode::excel_separator(&head_text);
        let excel_len = excel.map_or(0, |(_, len)| len);
        let delimiter = settings
            .delimiter
            .or(excel.map(|(d, _)| d))
            .unwrap_or_else(|| decode::detect_delimiter(&head_text.as_bytes()[excel_len..]));
        let broken = quotes::broken(&mut *source, encoding.unit(), encoding.bom, delimiter).map_err(io)?;
        let header_line = if excel.is_some() { 2 } else { 1 };
        // A header's first line with content is the header (blank lines before it are skipped).
        if let Some(&first) = broken.first()
            && first <= header_line + decode::blank_lines(&head_text, excel_len)
        {
            return Err(ReadError::HeaderQuote(first));
        }
        Ok(FileLayout {
            encoding,
            delimiter,
            skip: excel_len as u64,
            header_line,
            broken,
        })
    }
}

/// The file's rows as items, in file order: records, unreadable rows, and lines skipped for a
/// broken quote.
struct Records<'a, R: Read> {
    csv: csv::Reader<R>,
    /// Items found but not yet handed on: skipped lines come before the record read after them.
    ready: std::collections::VecDeque<Item>,
    /// Skipped lines the parser's read-ahead has passed, held until a later row comes, so every
    /// item is handed on in file order.
    held: std::collections::VecDeque<Item>,
    record: csv::ByteRecord,
    delimiter: u8,
    user_column: usize,
    settings: &'a InputSettings,
}

impl<R: Read> Records<'_, Lines<R>> {
    /// The next item, `None` at the end.
    fn next(&mut self) -> Result<Option<Item>, ReadError> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Ok(Some(item));
            }
            let read = self.csv.read_byte_record(&mut self.record);
            // Only the user of a skipped line is kept, not its text.
            for (line, text) in self.csv.get_mut().take_skipped() {
                let user = skipped_line_user(&text, self.delimiter, self.user_column, self.settings);
                self.held.push_back(Item::Skipped(line, user));
            }
            let row = match read {
                Ok(false) => None,
                // A blank record (a skipped line reads as one) is no row, but it does say how
                // far the file has been read.
                Ok(true) if self.record.iter().all(|f| f.is_empty()) => {
                    let line = self.line_of(self.record.position().cloned());
                    self.release(|l| l <= line);
                    continue;
                }
                Ok(true) => {
                    let line = self.line_of(self.record.position().cloned());
                    Some(Item::Record(line, std::mem::take(&mut self.record)))
                }
                Err(e) => match e.kind() {
                    csv::ErrorKind::Io(_) => return Err(ReadError::Io(e.to_string())),
                    _ => Some(Item::Unreadable(Reject {
                        line: self.line_of(e.position().cloned()),
                        column: String::new(),
                        user: String::new(),
                        phone_type: String::new(),
                        phone_number: String::new(),
                        reason: format!("unreadable row: {e}"),
                    })),
                },
            };
            let before = match &row {
                Some(Item::Record(line, _)) => *line,
                Some(Item::Unreadable(r)) => r.line,
                _ => u64::MAX,
            };
            self.release(|l| l < before);
            match row {
                Some(row) => self.ready.push_back(row),
                None if self.ready.is_empty() => return Ok(None),
                None => {}
            }
        }
    }

    /// The physical line at a parser position.
    fn line_of(&mut self, position: Option<csv::Position>) -> u64 {
        position.map_or(0, |p| self.csv.get_mut().line_at(p.byte()))
    }

    /// Hands on the held skipped lines whose line number `due` accepts.
    fn release(&mut self, due: impl Fn(u64) -> bool) {
        while self.held.front().is_some_and(|item| matches!(item, Item::Skipped(l, _) if due(*l))) {
            self.ready.extend(self.held.pop_front());
        }
    }
}

/// Takes one examined row into the input: its phones, refusals and notes onto its user.
fn merge(input: &mut Input, users: &mut Users, outcome: Outcome) {
    input.rows += 1;
    match outcome {
        Outcome::Unreadable(reject) => input.rejects.push(reject),
        // The skipped line still says HR wants something for its user, if the user can be
        // read before the broken quote: that user's phones are then held back from prune.
        Outcome::Skipped(reject, user) => {
            if let Some(u) = &user {
                users.found_user(u).reject(None, reject.line);
            }
            input.rejects.push(reject);
        }
        Outcome::Row { user, user_ok, offers } => {
            for offer in offers {
                match offer {
                    Offer::Wanted(phone_type, phone, note) => {
                        users.found_user(&user).want(phone_type, phone);
                        if let Some(note) = note {
                            input.noted += 1;
                            if input.notes.len() < NOTES_KEPT {
                                input.notes.push(note);
                            }
                        }
                    }
                    Offer::Refused(phone_type, reject) => {
                        // A refused row of a user we can name still says HR wants something
                        // we do not know: the user carries it, under its type when the type
                        // could be read.
                        if user_ok {
                            users.found_user(&user).reject(phone_type, reject.line);
                        }
                        input.rejects.push(reject);
                    }
                    Offer::None(phone_type) => users.found_user(&user).state_none(phone_type),
                }
            }
        }
    }
}

/// Counts the bytes read through it for a progress display, every [`HEAD`] bytes or so.
struct Counted<'a, R> {
    inner: R,
    read: u64,
    told: u64,
    progress: &'a dyn Fn(u64),
}

impl<'a, R> Counted<'a, R> {
    fn new(inner: R, progress: &'a dyn Fn(u64)) -> Self {
        Counted {
            inner,
            read: 0,
            told: 0,
            progress,
        }
    }
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if n == 0 || self.read - self.told >= HEAD {
            (self.progress)(self.read);
            self.told = self.read;
        }
        Ok(n)
    }
}

/// The user field of a line skipped for its broken quote, when it can be read: the line's fields
/// as CSV reads them (a quoted field may hold the delimiter), the user's a usable key ([`user`]);
/// and if it is the last field, the one an unclosed quote runs to the end of the line, with no
/// delimiter or quote in it (else the broken quote ran into it).
fn skipped_line_user(line: &[u8], delimiter: u8, column: usize, settings: &InputSettings) -> Option<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(line);
    let mut record = csv::ByteRecord::new();
    reader.read_byte_record(&mut record).ok()?;
    let field = record.get(column)?;
    let last = column + 1 >= record.len();
    if last && (field.contains(&delimiter) || field.contains(&b'"')) {
        return None;
    }
    user(field, settings).ok().map(str::to_string)
}

/// The columns `settings` need, as the error messages list them.
fn expected(settings: &InputSettings) -> String {
    let mut names = vec![settings.user_column.clone()];
    match settings.format {
        InputFormat::Long => names.extend([settings.type_column.clone(), settings.number_column.clone()]),
        InputFormat::Wide => names.extend(settings.columns.iter().map(|(c, _)| c.clone())),
    }
    names.join(", ")
}

/// Finds the columns `settings` need in the header, or says why it cannot.
fn columns(header: &csv::ByteRecord, settings: &InputSettings) -> Result<Columns, ReadError> {
    let expected = expected(settings);
    if header.is_empty() || header.iter().all(|h| h.is_empty()) {
        return Err(ReadError::Empty { expected });
    }
    let names: Vec<String> = header
        .iter()
        .map(|h| crate::sheet::text_from_cell(String::from_utf8_lossy(h).trim_start_matches('\u{feff}').trim()).to_string())
        .collect();
    // A header that is one field holding `;` or tabs is a file with another delimiter.
    let hint = match names.as_slice() {
        [one] if one.contains(';') => "; the file seems to use ';' between columns: set input.delimiter = \";\" (or \"auto\")",
        [one] if one.contains('\t') => "; the file seems to use tabs between columns: set input.delimiter = \"tab\" (or \"auto\")",
        _ => "",
    };
    // A data row's fields (a UPN, a phone number) must not be echoed to the console.
    let looks_like_data = names
        .iter()
        .any(|n| n.contains('@') || n.chars().filter(char::is_ascii_digit).count() >= 3);
    // Header names match ignoring case (any script's) and surrounding spaces.
    // Each name once, by its folded form: a header of 100,000 columns is read in one pass.
    let fold = |a: &str| a.trim().to_lowercase();
    let mut position: HashMap<String, usize> = HashMap::with_capacity(names.len());
    for (i, n) in names.iter().enumerate().filter(|(_, n)| !n.is_empty()) {
        if let Some(j) = position.insert(fold(n), i) {
            return Err(ReadError::DuplicateColumn {
                // A name that may be data is named by its positions only.
                name: if looks_like_data { "(a value)".into() } else { n.clone() },
                first: j + 1,
                second: i + 1,
            });
        }
    }
    let find = |want: &str| position.get(&fold(want)).copied();
    let column = |want: &str| {
        find(want).ok_or_else(|| {
            if looks_like_data {
                ReadError::NoHeader {
                    expected: expected.clone(),
                    hint,
                }
            } else {
                ReadError::MissingColumn {
                    missing: want.to_string(),
                    found: format!("{}{hint}", listed(&names)),
                    expected: expected.clone(),
                }
            }
        })
    };
    let layout = match settings.format {
        InputFormat::Long => Layout::Long {
            phone_type: column(&settings.type_column)?,
            number: column(&settings.number_column)?,
            number_name: settings.number_column.clone(),
        },
        InputFormat::Wide => Layout::Wide(
            settings
                .columns
                .iter()
                .map(|(name, phone_type)| column(name).map(|i| (i, name.clone(), phone_type.clone())))
                .collect::<Result<_, _>>()?,
        ),
    };
    let phone_names = settings
        .name_columns
        .iter()
        .map(|(phone, name)| Ok((column(phone)?, column(name)?)))
        .collect::<Result<_, ReadError>>()?;
    Ok(Columns {
        user: column(&settings.user_column)?,
        display_name: find(&settings.display_name_column),
        phone_names,
        region: settings.region_column.as_deref().map(column).transpose()?,
        layout,
    })
}

/// The header's names as an error lists them: the first few, and how many more.
fn listed(names: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut text = names.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

/// The users of one file, matched case-insensitively (object ids and UPNs alike).
#[derive(Default)]
struct Users {
    /// Every user the file names in a row with a usable user field, in order of the first such
    /// row — also users whose every row was rejected: once keys are resolved, their rejections
    /// may belong to a person another key names, and must hold that person's phones back.
    found: Vec<DesiredUser>,
    /// Position in `found` by lowercased name.
    index: HashMap<String, usize>,
}

impl Users {
    /// The user `name`, named as the first row naming it writes it.
    fn found_user(&mut self, name: &str) -> &mut DesiredUser {
        // Most keys are lowercase ASCII already: no copy to look them up.
        let key = if name.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
            std::borrow::Cow::Borrowed(name)
        } else {
            std::borrow::Cow::Owned(name.to_lowercase())
        };
        let slot = match self.index.get(key.as_ref()) {
            Some(&slot) => slot,
            None => {
                self.found.push(DesiredUser {
                    user: name.to_string(),
                    ..DesiredUser::default()
                });
                self.index.insert(key.into_owned(), self.found.len() - 1);
                self.found.len() - 1
            }
        };
        &mut self.found[slot]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DesiredPhone;

    fn read_str(s: &str) -> Input {
        read_with(s.as_bytes(), &InputSettings::default()).unwrap()
    }

    fn read_err(s: &str) -> String {
        read_with(s.as_bytes(), &InputSettings::default()).unwrap_err().to_string()
    }

    /// The auth target's phone types.
    fn types() -> Vec<String> {
        ["mobile", "alternateMobile", "office"].map(String::from).to_vec()
    }

    fn wanted(number: &str, line: u64) -> DesiredPhone {
        DesiredPhone {
            phone: phone::parse(number, "US".parse().unwrap()).unwrap(),
            line,
            display_name: None,
        }
    }

    #[test]
    fn line_numbers_are_the_lines_an_editor_shows() {
        let input = read_str(concat!(
            "user,phoneType,phoneNumber\r\n",         // 1
            "\r\n",                                   // 2
            "a@x.com,mobile,2065555555\r\n",          // 3
            "\n",                                     // 4
            "\r\n",                                   // 5
            "\"b@x.com\r\nb\",mobile,2065555555\r\n", // 6 and 7
            "a@x.com,mobile,2065550199\r\n",          // 8
            "c@x.com,mobile,12\r",                    // 9, a lone CR
            "\r\n",                                   // 10
            "d@x.com,pager,1\n",                      // 11
        ));
        assert_eq!(input.users[0].phones["mobile"].line, 3);
        assert_eq!(
            input.users[0].conflict.as_deref(),
            Some("lines 3 and 8 give different mobile numbers")
        );
        let lines: Vec<u64> = input.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![6, 9, 11]);
    }

    #[test]
    fn rejected_rows_are_kept_on_their_user_before_or_after_its_usable_rows() {
        let input = read_str(concat!(
            "user,phoneType,phoneNumber\n",
            "K@x.com,mobile,12345\n",            // 2: typed, before the usable row
            "k@x.com,office,4255550100\n",       // 3: usable
            "k@x.com,Mobile Phone,2065555555\n", // 4: untyped
            "K@X.COM,,2065555555\n",             // 5: untyped (empty type)
            "k@x.com,office,\n",                 // 6: typed (empty number)
            "k@x.com,mobile,123\n",              // 7: typed again: line 2 is kept
            "only@x.com,mobile,1\n",             // 8: a user with no usable row
            ",mobile,2065555555\n",              // 9: nobody's
        ));
        assert_eq!(input.rejects.len(), 7);
        assert_eq!(input.users.len(), 2, "{:?}", input.users);
        let k = &input.users[0];
        assert_eq!(k.user, "K@x.com");
        assert_eq!(
            k.rejected,
            [("mobile".to_string(), 2), ("office".to_string(), 6)].into_iter().collect()
        );
        assert_eq!(k.rejected_untyped, vec![4, 5]);
        assert_eq!(k.phones["office"].line, 3);
        // A user whose every row was rejected is still named, holding what its rows hold back.
        let only = &input.users[1];
        assert_eq!(only.user, "only@x.com");
        assert!(only.phones.is_empty());
        assert_eq!(only.rejected, [("mobile".to_string(), 8)].into_iter().collect());
    }

    #[test]
    fn progress_is_told_as_the_rows_are_read_up_to_the_whole_file() {
        let mut csv = String::from("user,phoneType,phoneNumber\n");
        for i in 0..5000 {
            csv.push_str(&format!("u{i}@x.com,office,206 555 {:04}\n", i % 10_000));
        }
        let told = std::cell::RefCell::new(Vec::new());
        let spec = Spec {
            region: "US".parse().unwrap(),
            types: &types(),
            texted: &[],
            settings: &InputSettings::default(),
        };
        read(std::io::Cursor::new(csv.as_bytes()), &spec, &|done| told.borrow_mut().push(done)).unwrap();
        let told = told.into_inner();
        assert!(told.len() >= 3, "told {} times for {} bytes", told.len(), csv.len());
        assert!(told.windows(2).all(|w| w[0] <= w[1]), "{told:?}");
        assert_eq!(told.last(), Some(&(csv.len() as u64)));
    }

    #[test]
    fn notes_are_counted_all_and_kept_to_a_thousand() {
        let mut csv = String::from("user,phoneType,phoneNumber\n");
        for i in 0..1005 {
            csv.push_str(&format!(
                "u{i}@x.com,mobile,+49 30 1234{i:04}\nu{i}@x.com,office,+49 30 5555{i:04}\n"
            ));
        }
        let input = read_str(&csv);
        assert_eq!((input.noted, input.notes.len(), input.rejects.len()), (1005, NOTES_KEPT, 0));
        assert_eq!(input.notes[0].line, 2, "only the mobile row is noted");
        assert_eq!(input.users.len(), 1005);
    }

    #[test]
    fn want_keeps_one_row_per_number_and_notes_a_different_one() {
        let mut u = DesiredUser::default();
        u.want("mobile", wanted("206 555 5555", 7));
        u.want("mobile", wanted("+1 (206) 555-5555", 3));
        u.want("office", wanted("425 555 0100", 4));
        assert_eq!(u.conflict, None);
        assert_eq!(u.phones["mobile"].line, 3, "the earlier line is kept");
        assert_eq!(u.phones.len(), 2);
        u.want("mobile", wanted("206 555 0199", 9));
        u.want("office", wanted("425 555 0199", 1));
        assert_eq!(
            u.conflict.as_deref(),
            Some("lines 3 and 9 give different mobile numbers; lines 1 and 4 give different office numbers")
        );
        // Past three, contradictions are counted, not named: the note stays short.
        for line in 10..1010 {
            u.want("mobile", wanted(&format!("206 555 {line:04}"), line));
        }
        assert_eq!(
            u.conflict.as_deref(),
            Some(
                "lines 3 and 9 give different mobile numbers; lines 1 and 4 give different office numbers; lines 3 and 10 give different mobile numbers (and 999 more)"
            )
        );
    }

    #[test]
    fn absorb_merges_phones_conflicts_and_rejected_rows() {
        let mut a = DesiredUser {
            user: "k@x.com".into(),
            conflict: Some("first".into()),
            rejected: [("office".to_string(), 8)].into_iter().collect(),
            rejected_untyped: vec![4],
            ..Default::default()
        };
        a.want("mobile", wanted("206 555 5555", 5));
        let mut b = DesiredUser {
            user: "0f6c1a3e-0000-0000-0000-000000000000".into(),
            conflict: Some("second".into()),
            rejected: [("office".to_string(), 6), ("mobile".to_string(), 9)].into_iter().collect(),
            rejected_untyped: vec![1, 4],
            ..Default::default()
        };
        b.want("mobile", wanted("206 555 0199", 2));
        b.want("alternateMobile", wanted("206 555 0100", 3));
        a.absorb(b);
        assert_eq!(a.user, "k@x.com");
        assert_eq!(
            a.conflict.as_deref(),
            Some("first; lines 2 and 5 give different mobile numbers; second")
        );
        assert_eq!(a.phones["alternateMobile"].line, 3);
        assert_eq!(
            a.rejected,
            [("mobile".to_string(), 9), ("office".to_string(), 6)].into_iter().collect()
        );
        assert_eq!(a.rejected_untyped, vec![1, 4]);
    }

    #[test]
    fn a_data_line_in_place_of_the_header_is_not_echoed() {
        let err = read_err("kim@contoso.com,mobile,2065555555\n");
        assert!(err.contains("the first line looks like data, not a header"), "{err}");
        assert!(err.contains("user, phoneType, phoneNumber"), "{err}");
        assert!(!err.contains("kim") && !err.contains("555"), "{err}");
        let err = read_err("0f6c1a3e-7d2b-4c55-9e1f-2a3b4c5d6e7f;mobile;+49 30 1234567\n");
        assert!(err.contains("looks like data") && !err.contains("1234567"), "{err}");
        assert!(!err.contains("0f6c") && !err.contains("1234567"), "{err}");
        let err = read_err("user,type,phoneNumber\n");
        assert!(err.contains("found: user, type, phoneNumber"), "{err}");
    }

    #[test]
    fn reads_long_format_case_insensitively() {
        let input = read_str("User,PHONETYPE,phonenumber\nkim@contoso.com,Mobile,(206) 555-5555\nkim@contoso.com,office,425 555 0100\n");
        assert_eq!(input.rows, 2);
        assert!(input.rejects.is_empty(), "{:?}", input.rejects);
        assert_eq!(input.users.len(), 1);
        let kim = &input.users[0];
        assert_eq!(kim.phones["mobile"].phone.display, "+1 2065555555");
        assert_eq!(kim.phones["mobile"].line, 2);
        assert_eq!(kim.phones["office"].line, 3);
    }

    #[test]
    fn rejects_bad_rows_with_line_and_reason_and_goes_on() {
        let input = read_str(
            "user,phoneType,phoneNumber\n,mobile,2065555555\na@x.com,pager,2065555555\nb@x.com,mobile,12345\nc@x.com,mobile\nd@x.com,office,2065555555\n",
        );
        let lines: Vec<u64> = input.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5]);
        assert!(input.rejects[0].reason.contains("user column is empty"));
        let columns: Vec<&str> = input.rejects.iter().map(|r| r.column.as_str()).collect();
        assert_eq!(
            columns,
            ["user", "phoneType", "phoneNumber", "phoneNumber"],
            "each refused where the problem is"
        );
        let long = format!("user,phoneType,phoneNumber\n{}@x.com,mobile,2065555555\n", "u".repeat(1100));
        let input_long = read_str(&long);
        assert_eq!(input_long.rejects[0].column, "user", "{:?}", input_long.rejects[0]);
        assert!(input.rejects[1].reason.contains("unknown phoneType 'pager'"));
        assert!(input.rejects[2].reason.contains("12345"));
        assert!(input.rejects[3].reason.contains("empty"));
        // Users with only rejected rows are named too (holding back what they reject); the
        // row without a user belongs to nobody.
        let named: Vec<&str> = input.users.iter().map(|u| u.user.as_str()).collect();
        assert_eq!(named, vec!["a@x.com", "b@x.com", "c@x.com", "d@x.com"]);
        assert!(input.users[..3].iter().all(|u| u.phones.is_empty()));
        assert_eq!(input.users[3].phones.len(), 1);
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
        let err = read_err("user,phoneType\nx,mobile\n");
        assert!(err.contains("missing column 'phoneNumber'"), "{err}");
        assert!(matches!(read_with(b"", &InputSettings::default()), Err(ReadError::Empty { .. })));
    }

    fn settings(edit: impl FnOnce(&mut InputSettings)) -> InputSettings {
        let mut s = InputSettings::default();
        edit(&mut s);
        s
    }

    fn read_with(bytes: &[u8], settings: &InputSettings) -> Result<Input, ReadError> {
        let spec = Spec {
            region: "US".parse().unwrap(),
            types: &types(),
            texted: &["mobile".to_string(), "alternateMobile".to_string()],
            settings,
        };
        read(std::io::Cursor::new(bytes), &spec, &|_| {})
    }

    #[test]
    fn excel_exports_are_read_in_their_encoding_and_delimiter() {
        let text = "user;phoneType;phoneNumber\r\nk@x.com;mobile;2065555555\r\n";
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let input = read_with(&utf16, &InputSettings::default()).unwrap();
        assert_eq!((input.users.len(), input.encoding, input.delimiter), (1, "utf-16le", ";"));
        // A delimiter set to something else says what it saw.
        let comma = settings(|s| s.delimiter = Some(b','));
        let e = read_with(text.as_bytes(), &comma).unwrap_err().to_string();
        assert!(e.contains("';' between columns"), "{e}");
    }

    #[test]
    fn invalid_utf8_is_windows_1252_unless_utf8_is_configured() {
        let mut bytes = b"user,phoneType,phoneNumber,displayName\n".to_vec();
        bytes.extend_from_slice(b"k@x.com,mobile,2065555555,M\xfcller\nok@x.com,mobile,2065555555,\n");
        let input = read_with(&bytes, &InputSettings::default()).unwrap();
        assert_eq!((input.users.len(), input.rejects.len(), input.encoding), (2, 0, "windows-1252"));
        assert_eq!(input.users[0].phones["mobile"].display_name.as_deref(), Some("Müller"));
        let mut bad_user = b"user,phoneType,phoneNumber\n".to_vec();
        bad_user.extend_from_slice(b"k\xffm@x.com,mobile,2065555555\nok@x.com,mobile,2065555555\n");
        let utf8 = settings(|s| s.encoding = crate::config::InputEncoding::Utf8);
        let input = read_with(&bad_user, &utf8).unwrap();
        assert_eq!(input.rejects.len(), 1);
        assert_eq!((input.rejects[0].line, input.rejects[0].column.as_str()), (2, "user"));
        assert_eq!(input.users.len(), 1);
    }

    #[test]
    fn a_wide_file_gives_a_phone_per_filled_cell_and_refuses_cells_by_column() {
        let wide = settings(|s| {
            s.format = InputFormat::Wide;
            s.user_column = "Work Email".into();
            s.columns = vec![("Mobile Phone".into(), "mobile".into()), ("Office Phone".into(), "office".into())];
        });
        let csv = " work email ;MOBILE PHONE;Office Phone;;\n\
                   kim@x.com;(206) 555-0100;;;\n\
                   lee@x.com;not a number;+1 425 555 0101;;\n\
                   ;2065550102;;;\n";
        let input = read_with(csv.as_bytes(), &wide).unwrap();
        assert_eq!((input.rows, input.delimiter), (3, ";"));
        let kim = &input.users[0];
        assert_eq!((kim.user.as_str(), kim.phones.len()), ("kim@x.com", 1), "an empty cell is no value");
        assert_eq!(kim.phones["mobile"].phone.key, "+12065550100");
        let lee = &input.users[1];
        assert_eq!(lee.phones["office"].phone.key, "+14255550101");
        assert_eq!(lee.rejected.get("mobile"), Some(&3), "a refused cell holds its type back");
        let cols: Vec<(u64, &str)> = input.rejects.iter().map(|r| (r.line, r.column.as_str())).collect();
        assert_eq!(cols, [(3, "Mobile Phone"), (4, "Work Email")]);
        assert!(
            input.rejects[1].reason.contains("Work Email column is empty"),
            "{:?}",
            input.rejects[1]
        );
        // A configured column the header lacks is named.
        let missing = settings(|s| {
            s.format = InputFormat::Wide;
            s.columns = vec![("Pager".into(), "mobile".into())];
        });
        let e = read_with(b"user,Mobile\nk@x.com,1\n", &missing).unwrap_err().to_string();
        assert!(e.contains("missing column 'Pager'"), "{e}");
    }

    #[test]
    fn a_region_column_sets_each_rows_region() {
        let with_country = settings(|s| s.region_column = Some("Country".into()));
        let csv = "user,phoneType,phoneNumber,Country\n\
                   a@x.com,office,020 7946 0958,United Kingdom\n\
                   b@x.com,office,030 1234567,DE\n\
                   c@x.com,office,(206) 555-0100,\n\
                   d@x.com,office,020 7946 0958,Atlantis\n";
        let input = read_with(csv.as_bytes(), &with_country).unwrap();
        let key = |i: usize| input.users[i].phones["office"].phone.key.clone();
        assert_eq!(
            (key(0), key(1), key(2)),
            ("+442079460958".into(), "+49301234567".into(), "+12065550100".into())
        );
        assert_eq!(input.rejects.len(), 1);
        assert!(input.rejects[0].reason.contains("'Atlantis'"), "{:?}", input.rejects[0]);
    }

    #[test]
    fn an_unterminated_quote_is_refused_where_it_opens_and_swallows_nothing() {
        let csv = "user,phoneType,phoneNumber\n\
                   a@x.com,mobile,2065550100\n\
                   b@x.com,mobile,\"206555\n\
                   c@x.com,mobile,2065550102\n\
                   d@x.com,office,\"(206) 555-0103\"\n";
        let input = read_str(csv);
        assert_eq!(input.rows, 4);
        assert_eq!(input.rejects.len(), 1);
        assert_eq!(input.rejects[0].line, 3);
        assert!(input.rejects[0].reason.contains("never closed"), "{:?}", input.rejects[0]);
        let users: Vec<&str> = input.users.iter().map(|u| u.user.as_str()).collect();
        assert_eq!(users, ["a@x.com", "b@x.com", "c@x.com", "d@x.com"], "in file order");
        // The skipped line's user is held back from prune: what HR wants there is unknown.
        assert_eq!((input.users[1].phones.len(), input.users[1].rejected_untyped.clone()), (0, vec![3]));
        assert_eq!(input.rejects[0].user, "b@x.com");
        // The user is read as CSV reads the line: a quoted field before it may hold the delimiter.
        let csv = "name,user,phoneType,phoneNumber\n\"Doe, Jane\",k@x.com,mobile,\"206\n";
        let input = read_str(csv);
        assert_eq!(input.rejects[0].user, "k@x.com");
        assert_eq!(input.users[0].rejected_untyped, vec![2]);
        // A user field the broken quote ran into names nobody.
        let input = read_str("user,phoneType,phoneNumber\n\"k@x.com,mobile,206\n");
        assert_eq!((input.rejects[0].user.as_str(), input.users.len()), ("", 0));
        // A broken header is named as such, not as an empty file.
        assert!(matches!(
            read_with(
                b"\r\n\"user,phoneType,phoneNumber\nk@x.com,mobile,2065550100\n",
                &InputSettings::default()
            ),
            Err(ReadError::HeaderQuote(2))
        ));
    }

    #[test]
    fn header_names_match_without_case_in_any_script() {
        let s = settings(|s| {
            s.format = InputFormat::Wide;
            s.user_column = "E-Mail".into();
            s.columns = vec![("Téléphone Mobile".into(), "mobile".into())];
        });
        let input = read_with("e-mail;TÉLÉPHONE MOBILE\nk@x.com;2065550100\n".as_bytes(), &s).unwrap();
        assert_eq!(input.users.len(), 1);
    }

    #[test]
    fn a_header_naming_a_column_twice_names_both() {
        let e = read_str_err("user,phoneType,phoneNumber, USER \nk@x.com,mobile,2065555555,k\n");
        assert!(e.contains("'USER' twice (columns 1 and 4)"), "{e}");
    }

    /// A header of 100,000 columns is read (its names found through one index, not compared
    /// pairwise), and a missing column's error lists a few of them, not all.
    #[test]
    fn a_very_wide_header_is_read_and_named_briefly() {
        // Names without digits (three digits in a name make a header look like data).
        let letters = |i: usize| {
            (0..4)
                .map(|d| char::from(b'a' + (i / 26usize.pow(d) % 26) as u8))
                .collect::<String>()
        };
        let fillers: String = (0..100_000).map(|i| format!(",filler {}", letters(i))).collect();
        let blanks = ",".repeat(100_000);
        let input = read_str(&format!("{fillers},user,phoneType,phoneNumber\n{blanks}k@x.com,mobile,2065555555\n")[1..]);
        assert_eq!(input.users.len(), 1);
        assert!(input.rejects.is_empty());
        let e = read_str_err(&format!("user,phoneType{fillers}\nk@x.com,mobile{blanks}\n"));
        assert!(e.contains("missing column 'phoneNumber'"), "{e}");
        assert!(e.contains("filler raaa and 99982 more"), "{e}");
        assert!(e.len() < 1000, "{} characters", e.len());
        // Duplicates are still found, at their positions.
        let e = read_str_err(&format!(
            "user,phoneType,phoneNumber{fillers},Filler FAAA\nk@x.com,mobile,1{blanks},\n"
        ));
        assert!(e.contains("twice (columns 9 and 100004)"), "{e}");
    }

    /// A header cell the tool's own CSV rule quoted (a column named like a formula) is read as
    /// the name it was written from.
    #[test]
    fn header_names_are_read_as_the_csv_rule_wrote_them() {
        let s = settings(|s| {
            s.format = InputFormat::Wide;
            s.columns = vec![("+Mobile".into(), "mobile".into())];
        });
        let input = read_with(b"user,'+Mobile\nk@x.com,2065550100\n", &s).unwrap();
        assert_eq!(input.users[0].phones.len(), 1);
    }

    fn read_str_err(s: &str) -> String {
        read_with(s.as_bytes(), &InputSettings::default()).unwrap_err().to_string()
    }

    #[test]
    fn binary_input_is_named_not_echoed() {
        let e = read_with(b"PK\x03\x04user,secret", &InputSettings::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("ZIP") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn utf8_bom_in_header_is_ignored() {
        let input = read_str("\u{feff}user,phoneType,phoneNumber\nk@x.com,mobile,2065555555\n");
        assert_eq!(input.users.len(), 1);
    }
}
