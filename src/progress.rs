//! Progress bars for the read and apply phases. They draw on stderr only when it is a
//! terminal (indicatif hides them otherwise), and nothing else is ever routed through them,
//! so piped or scheduled runs get clean output.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` steps labelled `label`, hidden when `quiet` or when stderr is not a terminal.
pub fn bar(len: u64, label: &str, quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    let style = ProgressStyle::with_template("{prefix:>8} [{bar:32}] {pos}/{len} {rate} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}/s", state.per_sec());
        });
    bar.set_style(style.progress_chars("=> "));
    bar.set_prefix(label.to_string());
    bar
}
