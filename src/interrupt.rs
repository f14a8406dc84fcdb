//! Ctrl-C and SIGTERM: the first asks the run to stop taking new work (in-flight user chains
//! settle, reports are written, the embedded emulator's state is saved, and the process exits
//! 130 for Ctrl-C or 143 for SIGTERM); a second one exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Whether the run has been asked to stop, and by what.
#[derive(Debug)]
pub struct Stop {
    /// 0 while running; else the exit code the signal asks for.
    code: AtomicU8,
    /// The same, for those who wait for it.
    told: tokio::sync::watch::Sender<u8>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            code: AtomicU8::new(0),
            told: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// Why work the stop left undone was not done, for the reports.
pub const NOT_STARTED: &str = "not started: the run was interrupted";

/// Exit code after Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit code after SIGTERM (128 + SIGTERM).
pub const EXIT_TERMINATED: u8 = 143;

impl Stop {
    /// A run that has not been asked to stop.
    pub fn new() -> Arc<Stop> {
        Arc::new(Stop::default())
    }

    /// Asks the run to stop; the process will exit with `code`. The first request wins.
    pub fn request(&self, code: u8) {
        if self.code.compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            self.told.send_replace(code);
        }
    }

    /// A receiver that sees the stop's exit code once one is asked for (0 before), for a task
    /// that waits for it.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u8> {
        self.told.subscribe()
    }

    /// True once a stop was asked for: no new user may start.
    pub fn requested(&self) -> bool {
        self.code.load(Ordering::SeqCst) != 0
    }

    /// The exit code the stop asks for, if one was asked for.
    pub fn exit_code(&self) -> Option<u8> {
        match self.code.load(Ordering::SeqCst) {
            0 => None,
            c => Some(c),
        }
    }
}

/// Listens for Ctrl-C and SIGTERM for the rest of the process: the first signal requests a
/// stop, the second exits at once with the first signal's code.
pub fn listen(stop: Arc<Stop>) {
    tokio::spawn(async move {
        loop {
            let code = next_signal().await;
            if stop.requested() {
                eprintln_quietly("phonesync: second signal, exiting now");
                std::process::exit(i32::from(stop.exit_code().unwrap_or(code)));
            }
            stop.request(code);
            eprintln_quietly(
                "phonesync: stopping: no new users start; in-flight changes finish and the reports are written (signal again to exit at once)",
            );
        }
    });
}

/// Waits for the next Ctrl-C or SIGTERM and returns its exit code.
async fn next_signal() -> u8 {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => EXIT_INTERRUPTED,
            _ = term.recv() => EXIT_TERMINATED,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        EXIT_INTERRUPTED
    }
}

/// Says a line on stderr (see `console`), ignoring a closed or full stderr.
fn eprintln_quietly(line: &str) {
    crate::console::info(line);
}
