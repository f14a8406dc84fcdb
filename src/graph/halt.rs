//! Why the transport stops sending, and how fast: a stop asked for by a signal (what is in
//! flight gets a grace, then is abandoned and nothing new is sent), and Graph gone away (the
//! circuit breaker: when failures have kept coming for a window with no answer between, no new
//! attempt starts and the run ends saying so). Every wait of the transport (the pacer, a
//! call permit, an HTTP call) ends when the halt says so, so a stop ends within its grace
//! whatever Graph does.

use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The error code of an attempt the run did not make because Graph became unreachable.
pub const UNREACHABLE: &str = "graphUnreachable";
/// The error code of an attempt the run did not make, or a call it abandoned, because it was
/// stopped (Ctrl-C or SIGTERM).
pub const STOPPED: &str = "stopped";

/// A run ended early because Graph became unreachable: the message says since when and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

/// Why the transport stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// [`UNREACHABLE`] or [`STOPPED`].
    pub code: &'static str,
    /// For people: what happened, and since when.
    pub message: String,
}

/// How far the transport has stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Running,
    /// No new attempt starts; calls in flight go on.
    NoNewAttempts(Reason),
    /// Calls in flight are abandoned too.
    Abandon(Reason),
}

/// The transport's stop, shared by every call.
#[derive(Debug)]
pub struct Halt {
    level: watch::Sender<Level>,
}

impl Default for Halt {
    fn default() -> Self {
        Halt {
            level: watch::Sender::new(Level::Running),
        }
    }
}

impl Halt {
    /// From now on no new attempt starts (the first reason given is kept).
    pub fn stop_new(&self, reason: Reason) {
        self.level.send_if_modified(|level| match level {
            Level::Running => {
                *level = Level::NoNewAttempts(reason);
                true
            }
            _ => false,
        });
    }

    /// From now on calls in flight are abandoned too (the first reason given is kept).
    pub fn abandon(&self, reason: Reason) {
        self.level.send_if_modified(|level| {
            let kept = match level {
                Level::Running => reason.clone(),
                Level::NoNewAttempts(r) | Level::Abandon(r) => r.clone(),
            };
            let changed = !matches!(level, Level::Abandon(_));
            *level = Level::Abandon(kept);
            changed
        });
    }

    /// Why no new attempt may start, if none may.
    pub fn reason(&self) -> Option<Reason> {
        match &*self.level.borrow() {
            Level::Running => None,
            Level::NoNewAttempts(r) | Level::Abandon(r) => Some(r.clone()),
        }
    }

    /// Resolves once no new attempt may start.
    pub async fn stopped(&self) -> Reason {
        let mut rx = self.level.subscribe();
        let level = rx.wait_for(|l| *l != Level::Running).await.map(|l| l.clone());
        match level {
            Ok(Level::NoNewAttempts(r) | Level::Abandon(r)) => r,
            _ => std::future::pending().await,
        }
    }

    /// Resolves once calls in flight are to be abandoned.
    pub async fn abandoned(&self) -> Reason {
        let mut rx = self.level.subscribe();
        let level = rx.wait_for(|l| matches!(l, Level::Abandon(_))).await.map(|l| l.clone());
        match level {
            Ok(Level::Abandon(r)) => r,
            _ => std::future::pending().await,
        }
    }
}

/// The circuit breaker: trips when calls have kept failing without an answer (connection
/// refused or dropped, a timeout) or with a 5xx for `window` since the first of them, with no
/// answer between. A blip, a few failures between answers, never trips it, nor does one slow
/// call failing after a quiet spell; 429s are answers (Graph is there, and says to slow down).
#[derive(Debug)]
pub struct Breaker {
    window: Duration,
    state: Mutex<Health>,
}

#[derive(Debug)]
struct Health {
    /// The first failure since the last answer: when, when for people (UTC), and what.
    failing_since: Option<(Instant, String, String)>,
    /// Failures since the last answer.
    failures: u32,
}

/// Failures in a row, at the least, that trip the breaker.
const FAILURES: u32 = 3;

impl Breaker {
    /// A breaker tripping after `window` without an answer.
    pub fn new(window: Duration) -> Breaker {
        Breaker {
            window,
            state: Mutex::new(Health {
                failing_since: None,
                failures: 0,
            }),
        }
    }

    /// Graph answered a call (any status below 500).
    pub fn answered(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.failing_since = None;
        s.failures = 0;
    }

    /// A call failed (`why`); returns the reason to halt with when this trips the breaker.
    pub fn failed(&self, why: &str) -> Option<Reason> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.failures += 1;
        let failures = s.failures;
        let since = s.failing_since.get_or_insert_with(|| {
            let now = time::OffsetDateTime::now_utc()
                .format(time::macros::format_description!("[hour]:[minute]:[second]"))
                .unwrap_or_default();
            (Instant::now(), now, why.chars().take(200).collect())
        });
        (failures >= FAILURES && since.0.elapsed() >= self.window).then(|| Reason {
            code: UNREACHABLE,
            message: format!("Graph has been unreachable since {} UTC ({})", since.1, since.2),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_breaker_trips_only_after_a_window_without_answers() {
        let breaker = Breaker::new(Duration::from_secs(30));
        // A blip: failures between answers never trip it.
        for _ in 0..3 {
            assert_eq!(breaker.failed("connection reset"), None);
        }
        breaker.answered();
        // One slow call failing after a quiet spell is no outage.
        tokio::time::advance(Duration::from_secs(40)).await;
        assert_eq!(breaker.failed("connection refused"), None, "the first failure");
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(breaker.failed("timed out"), None, "29 s of failures");
        tokio::time::advance(Duration::from_secs(1)).await;
        let reason = breaker.failed("timed out").expect("30 s of failures without an answer");
        assert_eq!(reason.code, UNREACHABLE);
        assert!(
            reason.message.contains("(connection refused)"),
            "the first failure names it: {}",
            reason.message
        );
        // An answer closes it again.
        breaker.answered();
        assert_eq!(breaker.failed("connection refused"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_halt_stops_new_attempts_then_abandons_calls_in_flight() {
        let halt = std::sync::Arc::new(Halt::default());
        assert_eq!(halt.reason(), None);
        let waiting = tokio::spawn({
            let halt = halt.clone();
            async move { halt.abandoned().await }
        });
        let reason = Reason {
            code: STOPPED,
            message: "stopped".into(),
        };
        halt.stop_new(reason.clone());
        assert_eq!(halt.reason(), Some(reason.clone()));
        assert_eq!(halt.stopped().await, reason);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "calls in flight go on until abandoned");
        halt.abandon(Reason {
            code: UNREACHABLE,
            message: "later".into(),
        });
        assert_eq!(waiting.await.unwrap(), reason, "the first reason is kept");
    }
}
