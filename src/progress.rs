//! Progress of the read and apply phases. At a terminal it is a bar on stderr; when stderr is
//! not a terminal (a scheduler, a pipe) or logs are JSON, it is one log line every few seconds
//! (done, remaining, rate, throttled, ETA; see `console::progress`). Nothing else is routed
//! through the bars, so piped or scheduled runs get clean output.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Seconds between progress lines when stderr is not a terminal; `PHONESYNC_PROGRESS_SECONDS`
/// sets another.
const LINE_EVERY: f64 = 5.0;

/// A bar of `len` steps labelled `label`, hidden when `quiet`. When stderr is not a terminal or
/// logs are JSON and not `quiet`, a progress line is logged every few seconds instead, with the
/// requests `throttled` so far, until the bar is finished.
pub fn bar(len: u64, label: &str, quiet: bool, throttled: Option<Arc<AtomicU64>>) -> ProgressBar {
    let bar = drawn(len, quiet);
    if !quiet && len > 0 && (crate::console::json() || !std::io::stderr().is_terminal()) {
        log_lines(bar.clone(), label.to_string(), throttled);
    }
    let style = ProgressStyle::with_template("{prefix:>8} [{bar:32}] {pos}/{len} {rate} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}/s", state.per_sec());
        });
    bar.set_style(style.progress_chars("=> "));
    bar.set_prefix(label.to_string());
    bar
}

/// A bar of `len` bytes (reading a file) labelled `label`, hidden as [`bar`] is.
pub fn bytes_bar(len: u64, label: &str, quiet: bool) -> ProgressBar {
    let bar = drawn(len, quiet);
    let style = ProgressStyle::with_template("{prefix:>8} [{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.set_prefix(label.to_string());
    bar
}

/// Logs `bar`'s progress every few seconds on a thread of its own until it is finished; the
/// first line comes after the first interval, so a short phase says nothing.
fn log_lines(bar: ProgressBar, phase: String, throttled: Option<Arc<AtomicU64>>) {
    // Held weakly: a bar dropped unfinished (a run that failed) ends the thread too.
    let bar = bar.downgrade();
    let every = std::env::var("PHONESYNC_PROGRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(LINE_EVERY);
    let step = Duration::from_millis(50);
    let spawned = std::thread::Builder::new().name("progress".into()).spawn(move || {
        let started = std::time::Instant::now();
        let mut next = Duration::from_secs_f64(every);
        loop {
            std::thread::sleep(step);
            let Some(bar) = bar.upgrade().filter(|b| !b.is_finished()) else {
                return;
            };
            let elapsed = started.elapsed();
            if elapsed < next || bar.is_finished() {
                continue;
            }
            next = elapsed + Duration::from_secs_f64(every);
            let done = bar.position();
            let rate = done as f64 / elapsed.as_secs_f64();
            let throttled = throttled.as_ref().map_or(0, |t| t.load(Ordering::Relaxed));
            crate::console::progress(&phase, done, bar.length().unwrap_or(done), rate, throttled);
        }
    });
    // No thread, no lines: the run goes on.
    drop(spawned);
}

/// An unstyled bar of `len` drawing on stderr unless `quiet` or logs are JSON (a bar would
/// break the JSON lines).
fn drawn(len: u64, quiet: bool) -> ProgressBar {
    let target = if quiet || crate::console::json() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    ProgressBar::with_draw_target(Some(len), target)
}
