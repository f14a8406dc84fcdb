//! What the tool says on stderr while it runs, in one place so every message goes the same
//! way: plain lines for a person at a terminal, or, with `--log-format json`, JSON log lines
//! (tracing's JSON format) for schedulers and log shippers. Never report data: counts, paths,
//! reasons; phone numbers only masked. What a command has to say on stdout (summaries,
//! previews) goes to the writer it is given ([`Out`]), never to the process's stdout directly.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where a command writes what it has to say on stdout (summaries, previews): the process's
/// stdout in `main`, a buffer in tests.
pub type Out<'a> = &'a mut (dyn Write + Send);

static JSON: AtomicBool = AtomicBool::new(false);

/// The two ways of writing stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields.message`, …).
    Json,
}

/// Sets the format for the rest of the process (the binary does, once, at start).
pub fn set_format(format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
}

/// Whether messages are JSON log lines.
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// A note for people following the run (banners, what was read).
pub fn info(message: &str) {
    if json() {
        tracing::info!(target: "phonesync", "{message}");
    } else {
        let _ = writeln!(std::io::stderr(), "{message}");
    }
}

/// Something to look at that did not stop the run.
pub fn warn(message: &str) {
    if json() {
        tracing::warn!(target: "phonesync", "{message}");
    } else {
        let _ = writeln!(std::io::stderr(), "Warning: {message}");
    }
}

/// An error that did not stop the run, or the one that did.
pub fn error(message: &str) {
    if json() {
        tracing::error!(target: "phonesync", "{message}");
    } else {
        let _ = writeln!(std::io::stderr(), "Error: {message}");
    }
}

/// A progress line for a run whose stderr is no terminal: done and remaining steps of `phase`,
/// the rate so far, throttled requests, and the time left at that rate (unknown before the
/// first step is done).
pub fn progress(phase: &str, done: u64, total: u64, rate: f64, throttled: u64) {
    let remaining = total.saturating_sub(done);
    let eta = (rate > 0.0).then(|| (remaining as f64 / rate).round() as u64);
    if json() {
        let rate = (rate * 10.0).round() / 10.0;
        tracing::info!(target: "phonesync", phase, done, remaining, rate, throttled, eta_seconds = eta, "progress");
    } else {
        let eta = eta.map_or("unknown".to_string(), |s| format!("{s} s"));
        let _ = writeln!(
            std::io::stderr(),
            "{phase}: {done}/{total} done, {remaining} remaining, {rate:.1}/s, {throttled} throttled, ETA {eta}"
        );
    }
}

/// `n` and the noun, plural unless there is one: `1 user`, `2 users`, `0 users`. Every count
/// sentence the tool says goes through it.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    match n.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// Whether `c` could make text read as something it is not where people read it: a control
/// character (tab, CR and LF included) or a bidirectional control (U+061C, U+200E, U+200F,
/// U+202A–U+202E, U+2066–U+2069), which reorders the text around it when displayed.
pub fn is_hidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every [`is_hidden`] character shown as a visible `\u{XXXX}`: text from the input
/// or from Graph as the console and `plan.md` print it.
pub fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(is_hidden) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hidden(c) {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}
