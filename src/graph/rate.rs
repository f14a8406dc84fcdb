//! The shared pace of all requests of a run. A governor limiter spreads requests evenly below the
//! current rate; the configured rate is a ceiling, not a target. A 429 halves the current rate
//! for the whole pool and makes every worker wait out the `Retry-After`; while no throttling is
//! seen, the rate climbs back toward the ceiling.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
// tokio's clock, so tests can pause it (governor's limiter keeps its own clock).
use tokio::time::Instant;

/// 429s closer together than this are one burst: the rate falls once for them.
const FALL_EVERY: Duration = Duration::from_millis(250);
/// How long the rate must stay calm before it climbs a step.
const CLIMB_EVERY: Duration = Duration::from_secs(1);
/// Climb factor while well below the rate that last drew a 429, and near it.
const CLIMB_FAST: f64 = 1.25;
const CLIMB_SLOW: f64 = 1.05;
/// After this long without a 429, the rate that drew the last one is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(30);

struct State {
    rate: f64,
    limiter: Arc<DefaultDirectRateLimiter>,
    /// Bumped whenever the limiter is replaced, so waiters on an old one wait again.
    generation: u64,
    paused_until: Option<Instant>,
    last_change: Instant,
    /// The rate at which the last 429 came, and when.
    throttled_at: Option<(f64, Instant)>,
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
                generation: 0,
                paused_until: None,
                last_change: Instant::now(),
                throttled_at: None,
                lowest: ceiling,
            }),
        }
    }

    /// Waits until one more request may be sent: no pause in force, and a slot free on the
    /// limiter that is current when the wait ends. A worker that queued before a 429 arrived
    /// therefore does not fire through the pause or at the old, faster rate.
    pub async fn ready(&self) {
        loop {
            let (pause, limiter, generation) = {
                let s = self.state.lock().expect("pacer lock");
                (s.paused_until.filter(|t| *t > Instant::now()), s.limiter.clone(), s.generation)
            };
            if let Some(until) = pause {
                tokio::time::sleep_until(until).await;
                continue;
            }
            limiter.until_ready().await;
            let s = self.state.lock().expect("pacer lock");
            if s.generation == generation && s.paused_until.is_none_or(|t| t <= Instant::now()) {
                return;
            }
        }
    }

    /// Graph said 429: halve the rate (once per burst of 429s) and, when Graph said how long to
    /// wait, make every worker wait that long. Without a `Retry-After`, the throttled request
    /// backs off on its own and the lower rate shapes the rest.
    pub fn throttled(&self, retry_after: Option<Duration>) {
        let now = Instant::now();
        let mut s = self.state.lock().expect("pacer lock");
        if let Some(wait) = retry_after {
            let until = now + wait;
            s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
        }
        let first = s.throttled_at.is_none();
        if first || now.duration_since(s.last_change) >= FALL_EVERY {
            s.throttled_at = Some((s.rate, now));
            s.rate = (s.rate / 2.0).max(0.1);
            s.lowest = s.lowest.min(s.rate);
            s.limiter = limiter(s.rate);
            s.generation += 1;
            s.last_change = now;
        }
    }

    /// Graph asked for a pause without saying it was throttling (a 503 on a whole `$batch` with
    /// a `Retry-After`): every worker waits it out, but the rate stays where it is.
    pub fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut s = self.state.lock().expect("pacer lock");
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
    }

    /// A request went through without throttling: after a calm interval, climb back toward the
    /// ceiling, quickly while well below the rate that last drew a 429 and gently near it.
    pub fn succeeded(&self) {
        let now = Instant::now();
        let mut s = self.state.lock().expect("pacer lock");
        if s.rate >= self.ceiling || now.duration_since(s.last_change) < CLIMB_EVERY {
            return;
        }
        if s.throttled_at.is_some_and(|(_, at)| now.duration_since(at) >= FORGET_AFTER) {
            s.throttled_at = None;
        }
        let near = s.throttled_at.is_some_and(|(r, _)| s.rate >= 0.8 * r);
        let factor = if near { CLIMB_SLOW } else { CLIMB_FAST };
        s.rate = (s.rate * factor + 0.5).min(self.ceiling);
        s.limiter = limiter(s.rate);
        s.generation += 1;
        s.last_change = now;
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
        p.state.lock().unwrap().last_change -= FALL_EVERY;
        p.throttled(None);
        assert_eq!(p.rate(), 25.0, "a later 429 halves again");
        p.state.lock().unwrap().last_change -= CLIMB_EVERY;
        p.succeeded();
        assert!(p.rate() > 25.0 && p.rate() <= 50.0);
        for _ in 0..200 {
            let mut s = p.state.lock().unwrap();
            s.last_change -= CLIMB_EVERY;
            if let Some((_, at)) = s.throttled_at.as_mut() {
                *at -= CLIMB_EVERY;
            }
            drop(s);
            p.succeeded();
        }
        assert_eq!(p.rate(), 100.0, "never above the ceiling");
        assert_eq!(p.lowest_rate(), 25.0);
    }

    #[tokio::test(start_paused = true)]
    async fn every_worker_waits_out_the_pause() {
        let p = Pacer::new(1000);
        p.throttled(Some(Duration::from_secs(20)));
        let started = Instant::now();
        p.ready().await;
        assert!(started.elapsed() >= Duration::from_secs(20), "{:?}", started.elapsed());
        // A pause without throttling (a 503 on a whole batch) waits too, and keeps the rate.
        let rate = p.rate();
        p.pause(Duration::from_secs(5));
        let started = Instant::now();
        p.ready().await;
        assert!(started.elapsed() >= Duration::from_secs(5));
        assert_eq!(p.rate(), rate);
    }
}
