//! The shared pace of all requests of a run. A governor limiter spreads requests evenly below the
//! current rate; the configured rate is a ceiling, not a target. A 429 halves the current rate
//! for the whole pool and makes every worker wait out the `Retry-After`; while no throttling is
//! seen, the rate climbs back toward the ceiling.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the rate may fall (one 429 burst counts once) and how often it may climb.
const ADJUST_EVERY: Duration = Duration::from_secs(1);
/// The fraction the rate climbs by per calm interval.
const CLIMB: f64 = 1.25;

struct State {
    rate: f64,
    limiter: Arc<DefaultDirectRateLimiter>,
    paused_until: Option<Instant>,
    last_change: Instant,
    lowest: f64,
}

/// Paces every request of a run.
pub struct Pacer {
    ceiling: f64,
    state: Mutex<State>,
}

fn limiter(rate: f64) -> Arc<DefaultDirectRateLimiter> {
    // Quota by period keeps fractional rates (below 1/s) exact; burst of one spreads requests evenly.
    let period = Duration::from_secs_f64(1.0 / rate.max(0.01));
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::MIN);
    Arc::new(RateLimiter::direct(quota))
}

impl Pacer {
    /// A pacer whose rate starts at, and never exceeds, `ceiling` requests per second.
    pub fn new(ceiling: u32) -> Pacer {
        let ceiling = f64::from(ceiling.max(1));
        Pacer {
            ceiling,
            state: Mutex::new(State {
                rate: ceiling,
                limiter: limiter(ceiling),
                paused_until: None,
                last_change: Instant::now(),
                lowest: ceiling,
            }),
        }
    }

    /// Waits until one more request may be sent.
    pub async fn ready(&self) {
        loop {
            let (pause, limiter) = {
                let s = self.state.lock().expect("pacer lock");
                (s.paused_until.filter(|t| *t > Instant::now()), s.limiter.clone())
            };
            match pause {
                Some(until) => tokio::time::sleep_until(until.into()).await,
                None => {
                    limiter.until_ready().await;
                    return;
                }
            }
        }
    }

    /// Graph said 429: pause everyone for `retry_after` (or a second) and slow down.
    pub fn throttled(&self, retry_after: Option<Duration>) {
        let now = Instant::now();
        let mut s = self.state.lock().expect("pacer lock");
        let until = now + retry_after.unwrap_or(Duration::from_secs(1));
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
        if now.duration_since(s.last_change) >= ADJUST_EVERY || s.rate == self.ceiling {
            s.rate = (s.rate / 2.0).max(0.1);
            s.lowest = s.lowest.min(s.rate);
            s.limiter = limiter(s.rate);
            s.last_change = now;
        }
    }

    /// A request went through without throttling: climb back toward the ceiling.
    pub fn succeeded(&self) {
        let now = Instant::now();
        let mut s = self.state.lock().expect("pacer lock");
        if s.rate < self.ceiling && now.duration_since(s.last_change) >= ADJUST_EVERY {
            s.rate = (s.rate * CLIMB + 1.0).min(self.ceiling);
            s.limiter = limiter(s.rate);
            s.last_change = now;
        }
    }

    /// The current rate, requests per second.
    pub fn rate(&self) -> f64 {
        self.state.lock().expect("pacer lock").rate
    }

    /// The lowest rate the run fell to.
    pub fn lowest_rate(&self) -> f64 {
        self.state.lock().expect("pacer lock").lowest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_halves_the_rate_once_per_burst_and_calm_restores_it() {
        let p = Pacer::new(100);
        p.throttled(Some(Duration::from_millis(1)));
        assert_eq!(p.rate(), 50.0);
        p.throttled(None);
        assert_eq!(p.rate(), 50.0, "a burst of 429s counts once");
        {
            let mut s = p.state.lock().unwrap();
            s.last_change -= ADJUST_EVERY;
        }
        p.succeeded();
        assert!(p.rate() > 50.0 && p.rate() <= 100.0);
        for _ in 0..20 {
            p.state.lock().unwrap().last_change -= ADJUST_EVERY;
            p.succeeded();
        }
        assert_eq!(p.rate(), 100.0, "never above the ceiling");
        assert_eq!(p.lowest_rate(), 50.0);
    }

    #[tokio::test]
    async fn every_worker_waits_out_the_pause() {
        let p = Pacer::new(1000);
        p.throttled(Some(Duration::from_millis(200)));
        let started = Instant::now();
        p.ready().await;
        assert!(started.elapsed() >= Duration::from_millis(190));
    }
}
