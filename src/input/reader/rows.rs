//! What each row says, worked out on every core. The reader hands rows over in chunks, in file
//! order; workers turn them into [`Outcome`]s (the phone number parsing is most of a file's
//! cost); the reader takes the outcomes back in file order, so the result never depends on
//! which worker was faster. Memory holds a few chunks, never the file.

use crate::input::phone::{self, Kind};
use crate::input::reader::spec::{self, Columns, Layout, NOT_UTF8, Reject, Spec, clip};
use crate::model::DesiredPhone;
use crate::sheet;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, mpsc};

/// Rows handed to a worker at a time: enough to make the hand-over cost nothing.
const CHUNK: usize = 512;

/// One item of the file, in file order.
pub enum Item {
    /// A record with content, and the line it starts on.
    Record(u64, csv::ByteRecord),
    /// A line skipped for its broken quote, with its user when the line names one readably.
    Skipped(u64, Option<String>),
    /// A row the CSV parser could not read.
    Unreadable(Reject),
}

/// What one item says.
pub enum Outcome<'a> {
    /// A record: its user as written, whether that field is usable, and each phone it offers.
    Row {
        /// The user field as written.
        user: String,
        /// The user field is usable: its refused phones still belong to it.
        user_ok: bool,
        /// Each phone the row offers, in column order.
        offers: Vec<Offer<'a>>,
    },
    /// See [`Item::Skipped`]; the reject is ready to report.
    Skipped(Reject, Option<String>),
    /// See [`Item::Unreadable`].
    Unreadable(Reject),
}

/// One phone a row offers.
pub enum Offer<'a> {
    /// Usable: the type (as the run spells it), the phone, and a caveat to report.
    Wanted(&'a str, DesiredPhone, Option<Reject>),
    /// Refused, under its type when the type could be read.
    Refused(Option<&'a str>, Reject),
    /// An empty cell of a wide file: no phone of this type.
    None(&'a str),
}

/// Works out what `item` says, as laid out by `cols`.
pub fn examine<'a>(item: Item, cols: &Columns, spec: &Spec<'a>) -> Outcome<'a> {
    let (line, record) = match item {
        Item::Record(line, record) => (line, record),
        Item::Unreadable(reject) => return Outcome::Unreadable(reject),
        Item::Skipped(line, user) => {
            let reject = Reject {
                line,
                column: String::new(),
                user: user.as_deref().map(clip).unwrap_or_default(),
                phone_type: String::new(),
                phone_number: String::new(),
                reason: "a quote opens on this line and is never closed (or closed by a later line's quote); the line was skipped".into(),
            };
            return Outcome::Skipped(reject, user);
        }
    };
    let settings = spec.settings;
    // Borrowed from the record unless a byte is not UTF-8 (then the row is refused anyway), and
    // read as the tool's own CSVs write cells (a file it exported, edited and applied).
    let cell = |i: usize, rule: fn(&str) -> &str| match record.get(i).map(String::from_utf8_lossy).unwrap_or_default() {
        Cow::Borrowed(s) => Cow::Borrowed(rule(s)),
        Cow::Owned(s) => Cow::Owned(rule(&s).to_string()),
    };
    let field = |i: usize| cell(i, sheet::text_from_cell);
    let number_cell = |i: usize| cell(i, sheet::phone_from_cell);
    let not_utf8 = |col: usize| record.get(col).is_some_and(|b| std::str::from_utf8(b).is_err());
    let user = field(cols.user).into_owned();
    let name_in = |col: Option<usize>| {
        col.map(field)
            .filter(|n| !n.is_empty() && !n.chars().any(char::is_control))
            .map(Cow::into_owned)
    };
    let display_name = name_in(cols.display_name);
    // A phone column with a display-name column of its own takes its name from there.
    let name_of = |col: usize| match cols.phone_names.iter().find(|(phone, _)| *phone == col) {
        Some((_, name)) => name_in(Some(*name)),
        None => display_name.clone(),
    };
    // The row's own region, if it names one; an unknown one refuses the row's numbers.
    let row_region = match cols.region.map(field).filter(|r| !r.is_empty()) {
        None => Ok(spec.region),
        Some(r) => phone::Region::from_column(&r),
    };
    let user_problem = spec::user(record.get(cols.user).unwrap_or_default(), settings).err();
    // The phones this row offers: (column position, column name, type as written, number).
    let offered: Vec<(usize, &str, Cow<str>, Cow<str>)> = match &cols.layout {
        Layout::Long {
            phone_type,
            number,
            number_name,
        } => vec![(*number, number_name.as_str(), field(*phone_type), number_cell(*number))],
        // An empty cell is no value for its type.
        Layout::Wide(phones) => phones
            .iter()
            .map(|(col, name, t)| (*col, name.as_str(), Cow::Borrowed(t.as_str()), number_cell(*col)))
            .filter(|(col, _, _, n)| !n.is_empty() || not_utf8(*col))
            .collect(),
    };
    // Empty cells of a wide file (of a usable user) say "none of this type".
    let empty: Vec<Offer> = match &cols.layout {
        Layout::Wide(phones) if user_problem.is_none() => phones
            .iter()
            .filter(|(col, _, _)| field(*col).is_empty() && !not_utf8(*col))
            .filter_map(|(_, _, t)| spec.types.iter().find(|v| v.eq_ignore_ascii_case(t)))
            .map(|t| Offer::None(t.as_str()))
            .collect(),
        _ => Vec::new(),
    };
    let row = Row {
        line,
        user: &user,
        user_problem: user_problem.as_deref(),
        region: &row_region,
        long: matches!(cols.layout, Layout::Long { .. }),
        spec,
    };
    let mut offers: Vec<Offer> = offered
        .into_iter()
        .map(|(col, column, type_raw, number_raw)| {
            let name = name_of(col);
            row.offer(column, &type_raw, &number_raw, not_utf8(col), name.as_deref())
        })
        .collect();
    offers.extend(empty);
    Outcome::Row {
        user_ok: user_problem.is_none(),
        user,
        offers,
    }
}

/// What one row says of every phone it offers.
struct Row<'r, 'a> {
    line: u64,
    user: &'r str,
    /// Why the user field names no user, if it does not.
    user_problem: Option<&'r str>,
    /// The row's region, or why its region column is unusable.
    region: &'r Result<phone::Region, String>,
    /// A long file (a type refused is refused in the type column).
    long: bool,
    spec: &'r Spec<'a>,
}

impl<'a> Row<'_, 'a> {
    /// The phone in `column` (its type and number as written; `not_utf8` when its bytes are
    /// not UTF-8): wanted, perhaps with a note, or refused with why.
    fn offer(&self, column: &str, type_raw: &str, number_raw: &str, not_utf8: bool, display_name: Option<&str>) -> Offer<'a> {
        let settings = self.spec.settings;
        let phone_type = self
            .spec
            .types
            .iter()
            .find(|t| t.eq_ignore_ascii_case(type_raw))
            .map(String::as_str);
        let parsed = if let Some(problem) = self.user_problem {
            Err(problem.to_string())
        } else if not_utf8 {
            Err(NOT_UTF8.to_string())
        } else if let Some(phone_type) = phone_type {
            self.region
                .clone()
                .and_then(|region| phone::parse_kind(number_raw, region, settings.allow_vanity_numbers))
                .map(|phone| (phone_type, phone))
        } else if type_raw.is_empty() {
            Err(format!("the {} column is empty", settings.type_column))
        } else {
            Err(format!(
                "unknown {} '{type_raw}': use {}",
                settings.type_column,
                self.spec.types.join(", ")
            ))
        };
        let reject = |column: &str, reason: String| Reject {
            line: self.line,
            column: column.to_string(),
            user: clip(self.user),
            phone_type: clip(type_raw),
            phone_number: clip(number_raw),
            reason,
        };
        match parsed {
            Ok((phone_type, (phone, kind))) => {
                // Graph takes a fixed line as a mobile; a text message will not reach it.
                let texted = self.spec.texted.iter().any(|t| t.eq_ignore_ascii_case(phone_type));
                let note = (texted && kind == Kind::FixedLine).then(|| {
                    let reason = format!(
                        "'{}' is a fixed-line number in its country's plan: Graph takes it as {phone_type}, but text messages (SMS sign-in) will not reach it",
                        phone.display
                    );
                    reject(column, reason)
                });
                let wanted = DesiredPhone {
                    phone,
                    line: self.line,
                    display_name: display_name.map(str::to_string),
                };
                Offer::Wanted(phone_type, wanted, note)
            }
            Err(reason) => {
                // Refused for its user: in the user column; a long row refused for its type:
                // in the type column.
                let type_refused = self.user_problem.is_none() && phone_type.is_none();
                let column = if self.user_problem.is_some() {
                    settings.user_column.as_str()
                } else if self.long && type_refused {
                    settings.type_column.as_str()
                } else {
                    column
                };
                Offer::Refused(phone_type, reject(column, reason))
            }
        }
    }
}

/// The workers to use: one per core.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(16)
}

/// Maps every item `next` yields through `work` on `workers` threads and hands the results to
/// `merge` in the order the items came. Stops at `next`'s first error, returning it.
pub fn ordered_map<T: Send, U: Send, E>(
    workers: usize,
    mut next: impl FnMut() -> Result<Option<T>, E>,
    work: impl Fn(T) -> U + Sync,
    mut merge: impl FnMut(U),
) -> Result<(), E> {
    // Bounded: reading waits for the workers rather than filling memory ahead of them. The
    // receiver is the workers' alone: were they all gone, sending fails instead of waiting.
    let (work_tx, work_rx) = mpsc::sync_channel::<(u64, Vec<T>)>(workers * 2);
    let work_rx = Arc::new(Mutex::new(work_rx));
    // A chunk's results, or the panic its work raised (re-raised here, never a hang).
    type Done<U> = (u64, std::thread::Result<Vec<U>>);
    let (done_tx, done_rx) = mpsc::channel::<Done<U>>();
    // Chunks handed out and not yet merged, at most: a stalled worker stops reading too.
    let in_flight = 4 * workers.max(1) as u64;
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            let (done_tx, work_rx, work) = (done_tx.clone(), Arc::clone(&work_rx), &work);
            scope.spawn(move || {
                loop {
                    let job = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((seq, items))) = job else { break };
                    let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| items.into_iter().map(work).collect()));
                    if done_tx.send((seq, results)).is_err() {
                        break;
                    }
                }
            });
        }
        drop((done_tx, work_rx));
        // Results that came back ahead of an earlier chunk wait here.
        let mut pending: BTreeMap<u64, Vec<U>> = BTreeMap::new();
        let (mut sent, mut merged) = (0u64, 0u64);
        let mut take = |(seq, results): Done<U>, merged: &mut u64| {
            let results = results.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            pending.insert(seq, results);
            while let Some(results) = pending.remove(merged) {
                results.into_iter().for_each(&mut merge);
                *merged += 1;
            }
        };
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut workers_gone = false;
        let result = loop {
            let last = match next() {
                Ok(Some(item)) => {
                    chunk.push(item);
                    false
                }
                Ok(None) => true,
                Err(e) => break Err(e),
            };
            if !chunk.is_empty() && (last || chunk.len() == CHUNK) {
                while sent - merged >= in_flight {
                    let Ok(results) = done_rx.recv() else { break };
                    take(results, &mut merged);
                }
                if work_tx
                    .send((sent, std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))))
                    .is_err()
                {
                    // Every worker is gone: only a panic outside the work does that, and the
                    // scope re-raises it below.
                    workers_gone = true;
                    break Ok(());
                }
                sent += 1;
                while let Ok(results) = done_rx.try_recv() {
                    take(results, &mut merged);
                }
            }
            if last {
                break Ok(());
            }
        };
        drop(work_tx);
        result?;
        while merged < sent && !workers_gone {
            // Ends early only if a worker died; the scope then re-raises its panic.
            let Ok(results) = done_rx.recv() else { break };
            take(results, &mut merged);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order_whichever_worker_is_faster() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let second_done = AtomicBool::new(false);
        let mut n = 0u64;
        let mut got = Vec::new();
        let r: Result<(), ()> = ordered_map(
            3,
            || {
                n += 1;
                Ok((n <= 5000).then_some(n))
            },
            // The first chunk finishes only after the second: its results come back later.
            |i| {
                if i == 1 {
                    while !second_done.load(Ordering::SeqCst) {
                        std::thread::yield_now();
                    }
                }
                if i == CHUNK as u64 + 1 {
                    second_done.store(true, Ordering::SeqCst);
                }
                i * 2
            },
            |u| got.push(u),
        );
        assert_eq!(r, Ok(()));
        assert_eq!(got, (1..=5000).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_panic_in_the_work_is_raised_not_a_hang() {
        // One item panics; there are many more chunks than the pool keeps in flight, so a lost
        // chunk would leave the reader waiting for it for ever.
        let mut n = 0u64;
        let raised = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = ordered_map::<_, _, ()>(
                2,
                || {
                    n += 1;
                    Ok((n <= 40 * CHUNK as u64).then_some(n))
                },
                |i| {
                    assert!(i != 700, "a bug in the work");
                    i
                },
                |_| {},
            );
        }));
        assert!(raised.is_err(), "the panic reaches the caller");
    }

    #[test]
    fn the_first_reading_error_stops_it() {
        let mut n = 0;
        let r = ordered_map(
            2,
            || {
                n += 1;
                if n == 700 { Err("broken") } else { Ok(Some(n)) }
            },
            |i| i,
            |_| {},
        );
        assert_eq!(r, Err("broken"));
    }
}
