//! Progress bars for the read and apply phases. They draw on stderr only when it is a
//! terminal (indicatif hides them otherwise), and nothing else is ever routed through them,
//! so piped or scheduled runs get clean output.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` steps labelled `label`, hidden when `quiet` or when stderr is not a terminal.
pub fn bar(len: u64, label: &str, quiet: bool) -> ProgressBar {
    let bar = drawn(len, quiet);
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

/// An unstyled bar of `len` drawing on stderr unless `quiet`.
fn drawn(len: u64, quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    ProgressBar::with_draw_target(Some(len), target)
}
