//! The journal: every Graph request the emulator answered and every change of state, in order,
//! readable at `GET /_emulator/journal` and optionally appended to a JSON-lines file. Tests
//! check invariants on it ("no delete before its add", "no user ever had fewer methods than
//! both before and after the run").

use super::tenant::Change;
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// One Graph request as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// The client's `client-request-id`, if sent.
    pub client_request_id: Option<String>,
    /// For a `$batch` item: the item's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_item: Option<String>,
    /// The fault injected, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// The `x-ms-throttle-priority` the client asked for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttle_priority: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Event {
    /// A request was answered.
    Request(RequestRecord),
    /// The tenant changed.
    Change(Change),
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
