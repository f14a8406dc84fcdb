//! What the transport counts for the summary and the benchmark: Graph requests and HTTP calls,
//! throttled answers and retries, and how long HTTP calls took. Every counter is an atomic, so
//! counting takes no lock on the request path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// HTTP call times are counted in 1 ms steps up to this; longer calls share the last step.
const LATENCY_STEPS_MS: usize = 5_000;

/// Request counters for the summary.
#[derive(Debug)]
pub struct Stats {
    /// Graph operations sent, attempts included: single requests plus `$batch` items (what
    /// Graph's throttling counts).
    pub requests: AtomicU64,
    /// Requests (or `$batch` envelopes) answered 429, or 503 on a whole `$batch`.
    pub throttled: std::sync::Arc<AtomicU64>,
    /// Attempts after the first (every retry of a request or `$batch` item).
    pub retries: AtomicU64,
    /// Writes found applied by a re-read after an ambiguous failure (so not sent twice).
    pub confirmed_by_reread: AtomicU64,
    /// HTTP calls made (a `$batch` counts once here, and once per item in `requests`).
    pub http_calls: AtomicU64,
    /// HTTP calls answered, by whole milliseconds from the start of the send (the token included,
    /// and a second sign-in after a 401) to the last byte of the answer. Calls that got no answer
    /// (timeouts, dropped connections) are not counted.
    latency: Box<[AtomicU64]>,
    /// Requests sent and throttled in each second since the client was made, for the report's
    /// timeline.
    timeline: std::sync::Mutex<Vec<[u64; 2]>>,
    /// When the client was made.
    started: std::time::Instant,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            requests: AtomicU64::new(0),
            throttled: std::sync::Arc::new(AtomicU64::new(0)),
            retries: AtomicU64::new(0),
            confirmed_by_reread: AtomicU64::new(0),
            http_calls: AtomicU64::new(0),
            latency: (0..=LATENCY_STEPS_MS).map(|_| AtomicU64::new(0)).collect(),
            timeline: std::sync::Mutex::new(Vec::new()),
            started: std::time::Instant::now(),
        }
    }
}

/// Percentiles of HTTP call time, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
}

impl Stats {
    /// `n` requests were sent now.
    pub fn sent(&self, n: u64) {
        self.requests.fetch_add(n, Ordering::Relaxed);
        self.in_timeline(0, n);
    }

    /// A request (or a whole `$batch`) was throttled now.
    pub fn was_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        self.in_timeline(1, 1);
    }

    fn in_timeline(&self, column: usize, n: u64) {
        let second = self.started.elapsed().as_secs() as usize;
        let mut timeline = self.timeline.lock().unwrap_or_else(|e| e.into_inner());
        if timeline.len() <= second {
            timeline.resize(second + 1, [0, 0]);
        }
        timeline[second][column] += n;
    }

    /// Requests sent and throttled per second, from the client's first second to its last with
    /// a request.
    pub fn timeline(&self) -> Vec<[u64; 2]> {
        self.timeline.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// One HTTP call was answered after `took`.
    pub fn answered_after(&self, took: Duration) {
        let ms = (took.as_millis() as usize).min(LATENCY_STEPS_MS);
        self.latency[ms].fetch_add(1, Ordering::Relaxed);
    }

    /// How many HTTP calls were answered.
    pub fn answered(&self) -> u64 {
        self.latency.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The median and 95th percentile of the answered HTTP calls' times, if any was answered.
    pub fn latency(&self) -> Option<Latency> {
        let counts: Vec<u64> = self.latency.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let at = |fraction: f64| {
            let rank = ((total as f64 * fraction).ceil() as u64).max(1);
            let mut seen = 0;
            counts
                .iter()
                .position(|c| {
                    seen += c;
                    seen >= rank
                })
                .unwrap_or(LATENCY_STEPS_MS) as u64
        };
        Some(Latency {
            p50: at(0.5),
            p95: at(0.95),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_throttling_are_counted_by_second() {
        let s = Stats::default();
        assert!(s.timeline().is_empty());
        s.sent(3);
        s.was_throttled();
        s.sent(2);
        let total = s.timeline().iter().fold([0, 0], |a, b| [a[0] + b[0], a[1] + b[1]]);
        assert_eq!(total, [5, 1], "every request and throttle in some second");
        assert_eq!((s.requests.load(Ordering::Relaxed), s.throttled.load(Ordering::Relaxed)), (5, 1));
    }

    #[test]
    fn percentiles_of_call_times() {
        let s = Stats::default();
        assert_eq!(s.latency(), None, "nothing answered, nothing to say");
        for ms in 1..=100 {
            s.answered_after(Duration::from_millis(ms));
        }
        s.answered_after(Duration::from_secs(3600));
        let l = s.latency().unwrap();
        assert_eq!((l.p50, l.p95), (51, 96));
        for _ in 0..100 {
            s.answered_after(Duration::from_secs(3600));
        }
        assert_eq!(s.latency().unwrap().p95, LATENCY_STEPS_MS as u64, "long calls share the last step");
    }
}
