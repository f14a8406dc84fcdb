//! The journal: every Graph request the emulator answered and every change of state, in order,
//! readable at `GET /_emulator/journal` and optionally appended to a JSON-lines file. Tests
//! check invariants on it (`check.rs`: "no delete before its add", "no user ever had fewer
//! methods than both before and after the run"). A change is journaled while the tenant is
//! still locked, so the journal's order of changes is the order they were made; the request
//! that made it is journaled after it.

use crate::tenant::Change;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// The request header naming the ops a write depends on: `x-phonesync-after: <op id>,<op id>`.
pub const AFTER_HEADER: &str = "x-phonesync-after";

/// The op ids an [`AFTER_HEADER`] value names (none when the header is absent or empty).
pub(crate) fn after_ops(value: Option<&str>) -> Vec<String> {
    value
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|op| !op.is_empty())
        .map(str::to_string)
        .collect()
}

/// One Graph request as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path as received (still percent-encoded); for a `$batch` item, `/{version}{url}`.
    pub path: String,
    /// Status answered (for a dropped connection, the status that was not sent: 0).
    pub status: u16,
    /// The `request-id` assigned.
    pub request_id: String,
    /// The client's `client-request-id`, if sent (for a `$batch` item: the item's own, else the
    /// envelope's). Clients put their op id here.
    pub client_request_id: Option<String>,
    /// The op ids its [`AFTER_HEADER`] named (for a `$batch` item: from the item's `headers`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// For a `$batch` item: the item's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_item: Option<String>,
    /// For a `$batch` item: the `request-id` of the envelope it travelled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
    /// The fault injected, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// The `x-ms-throttle-priority` the client asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle_priority: Option<String>,
}

/// One change of state and the request that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// The change.
    #[serde(flatten)]
    pub change: Change,
    /// The `client-request-id` of the request that made it (its op id), as in that request's
    /// [`RequestRecord::client_request_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Event {
    /// A request was answered.
    Request(RequestRecord),
    /// The tenant changed.
    Change(ChangeRecord),
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// Order, from 1.
    pub seq: u64,
    /// Milliseconds since the emulator started.
    pub at_ms: u64,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

struct Inner {
    entries: Vec<JournalEntry>,
    file: Option<BufWriter<File>>,
}

/// The journal of one emulator.
pub struct Journal {
    start: Instant,
    inner: Mutex<Inner>,
}

impl Journal {
    /// A journal, also appending to `file` when given.
    pub fn new(file: Option<&Path>) -> std::io::Result<Journal> {
        let file = match file {
            Some(p) => Some(BufWriter::new(File::options().create(true).append(true).open(p)?)),
            None => None,
        };
        Ok(Journal {
            start: Instant::now(),
            inner: Mutex::new(Inner { entries: Vec::new(), file }),
        })
    }

    /// Records events in order.
    pub fn record(&self, events: impl IntoIterator<Item = Event>) {
        let mut inner = self.inner.lock().expect("journal lock");
        let at_ms = self.start.elapsed().as_millis() as u64;
        for event in events {
            let entry = JournalEntry {
                seq: inner.entries.len() as u64 + 1,
                at_ms,
                event,
            };
            if let Some(f) = inner.file.as_mut() {
                let _ = serde_json::to_writer(&mut *f, &entry)
                    .map_err(std::io::Error::other)
                    .and_then(|()| f.write_all(b"\n"))
                    .and_then(|()| f.flush());
            }
            inner.entries.push(entry);
        }
    }

    /// A copy of every entry.
    pub fn entries(&self) -> Vec<JournalEntry> {
        self.inner.lock().expect("journal lock").entries.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_from_json() {
        let journal = Journal::new(None).unwrap();
        journal.record([
            Event::Change(ChangeRecord {
                change: Change {
                    user_id: "u1".into(),
                    op: "delete",
                    phone_type: "alternateMobile",
                    before: Some("+1 2065550100".into()),
                    after: None,
                    methods_before: 2,
                    methods_after: 1,
                    ..Change::default()
                },
                by: Some("op-2".into()),
            }),
            Event::Request(RequestRecord {
                method: "DELETE".into(),
                path: "/v1.0/users/u1/authentication/phoneMethods/b6332ec1-7057-4abe-9331-3d72feddfe41".into(),
                status: 204,
                request_id: "r1".into(),
                client_request_id: Some("op-2".into()),
                after: after_ops(Some(" op-1, ,op-0 ")),
                batch_item: Some("3".into()),
                envelope: Some("r0".into()),
                fault: None,
                throttle_priority: None,
            }),
        ]);
        let entries = journal.entries();
        let text = serde_json::to_string(&entries).unwrap();
        assert!(text.contains(r#""kind":"change""#) && text.contains(r#""by":"op-2""#) && text.contains(r#""after":["op-1","op-0"]"#));
        let back: Vec<JournalEntry> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, entries);
        assert!(text.contains(r#""resource":"phoneMethods""#) && !text.contains("itemId"), "{text}");
        let old = text.replace(r#""resource":"phoneMethods","#, "");
        assert_eq!(
            serde_json::from_str::<Vec<JournalEntry>>(&old).unwrap(),
            entries,
            "resource defaults to phoneMethods"
        );
        let bad = text.replace(r#""op":"delete""#, r#""op":"explode""#);
        assert!(
            serde_json::from_str::<Vec<JournalEntry>>(&bad)
                .unwrap_err()
                .to_string()
                .contains("unknown change op")
        );
    }

    #[test]
    fn after_is_absent_or_a_list() {
        assert!(after_ops(None).is_empty());
        assert!(after_ops(Some("")).is_empty());
        assert_eq!(after_ops(Some("a")), ["a"]);
    }
}
