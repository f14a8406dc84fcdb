//! Graph's identity-and-access throttle model (docs/graph.md#throttle-limits): per app, a token
//! bucket of resource units and a separate bucket of writes, refilled continuously. Usage is
//! counted even while throttled, so retrying before `Retry-After` only makes the wait longer
//! (docs/graph.md#retry-after).

use crate::options::{Options, RetryAfterMode};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Clone)]
struct Bucket {
    capacity: f64,
    tokens: f64,
    per_second: f64,
    last: Instant,
}

impl Bucket {
    fn new(capacity: u32, window: f64, now: Instant) -> Bucket {
        let capacity = f64::from(capacity.max(1));
        Bucket {
            capacity,
            tokens: capacity,
            per_second: capacity / window,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
    }

    /// Spends `cost`; when short, counts it anyway and says how long until it would fit.
    fn spend(&mut self, cost: f64, now: Instant) -> Option<Duration> {
        self.refill(now);
        if self.tokens >= cost {
            self.tokens -= cost;
            return None;
        }
        self.tokens = (self.tokens - cost).max(-self.capacity);
        Some(Duration::from_secs_f64((cost - self.tokens) / self.per_second))
    }

    fn used_fraction(&self) -> f64 {
        1.0 - self.tokens / self.capacity
    }
}

/// Why a request was throttled.
#[derive(Debug, Clone, PartialEq)]
pub struct Throttled {
    /// How long until the request would be accepted.
    pub wait: Duration,
    /// `x-ms-throttle-information`.
    pub information: &'static str,
    /// `x-ms-throttle-scope`.
    pub scope: String,
}

/// Headers for a request that was let through.
#[derive(Debug, Clone, PartialEq)]
pub struct Admitted {
    /// `x-ms-throttle-limit-percentage`, once more than 80% of a budget is used.
    pub limit_percentage: Option<f64>,
}

/// The buckets of every app.
pub struct Throttle {
    ru: Option<(u32, f64)>,
    writes: Option<(u32, f64)>,
    apps: HashMap<String, (Option<Bucket>, Option<Bucket>)>,
}

impl Throttle {
    /// The model configured in `options` (no limits when none are set).
    pub fn new(options: &Options) -> Throttle {
        Throttle {
            ru: options.throttle_ru.map(|n| (n, options.throttle_window)),
            writes: options.throttle_writes.map(|n| (n, options.throttle_write_window)),
            apps: HashMap::new(),
        }
    }

    /// Charges one request of `app`: 1 resource unit, plus 1 write for POST/PATCH/DELETE.
    pub fn charge(&mut self, app: &str, tenant: &str, is_write: bool, now: Instant) -> Result<Admitted, Throttled> {
        let (ru, writes) = (self.ru, self.writes);
        let (ru_bucket, write_bucket) = self
            .apps
            .entry(app.to_string())
            .or_insert_with(|| (ru.map(|(n, w)| Bucket::new(n, w, now)), writes.map(|(n, w)| Bucket::new(n, w, now))));
        let scope = |kind: &str| format!("Tenant_Application/{kind}/{app}/{tenant}");
        if let Some(b) = ru_bucket.as_mut()
            && let Some(wait) = b.spend(1.0, now)
        {
            return Err(Throttled {
                wait,
                information: "ResourceUnitLimitExceeded",
                scope: scope("ReadWrite"),
            });
        }
        if is_write
            && let Some(b) = write_bucket.as_mut()
            && let Some(wait) = b.spend(1.0, now)
        {
            return Err(Throttled {
                wait,
                information: "WriteLimitExceeded",
                scope: scope("Write"),
            });
        }
        let used = [ru_bucket.as_ref(), write_bucket.as_ref()]
            .into_iter()
            .flatten()
            .map(Bucket::used_fraction)
            .fold(0.0, f64::max);
        Ok(Admitted {
            limit_percentage: (used > 0.8).then_some(used.min(1.8)),
        })
    }
}

/// The `Retry-After` value for a wait, in the configured style (docs/graph.md#retry-after).
pub(crate) fn retry_after(mode: RetryAfterMode, wait: Duration) -> Option<String> {
    match mode {
        RetryAfterMode::Seconds => Some(wait.as_secs_f64().ceil().max(1.0).to_string()),
        RetryAfterMode::Fractional => Some(format!("{:.3}", wait.as_secs_f64().max(0.001))),
        RetryAfterMode::HttpDate => Some(httpdate::fmt_http_date(
            SystemTime::now() + Duration::from_secs_f64(wait.as_secs_f64().ceil().max(1.0)),
        )),
        RetryAfterMode::Absent => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_admits_its_capacity_then_throttles_until_refilled() {
        let options = Options {
            throttle_ru: Some(10),
            throttle_window: 10.0,
            ..Options::default()
        };
        let mut t = Throttle::new(&options);
        let now = Instant::now();
        for _ in 0..10 {
            assert!(t.charge("app", "t", false, now).is_ok());
        }
        let throttled = t.charge("app", "t", false, now).unwrap_err();
        assert_eq!(throttled.information, "ResourceUnitLimitExceeded");
        assert!(throttled.wait >= Duration::from_secs(1), "{throttled:?}");
        assert!(t.charge("other-app", "t", false, now).is_ok(), "buckets are per app");
        assert!(t.charge("app", "t", false, now + Duration::from_secs(10)).is_ok());
    }

    #[test]
    fn writes_have_their_own_budget() {
        let options = Options {
            throttle_writes: Some(2),
            throttle_write_window: 150.0,
            ..Options::default()
        };
        let mut t = Throttle::new(&options);
        let now = Instant::now();
        assert!(t.charge("a", "t", true, now).is_ok());
        assert!(t.charge("a", "t", true, now).is_ok());
        assert_eq!(t.charge("a", "t", true, now).unwrap_err().information, "WriteLimitExceeded");
        assert!(t.charge("a", "t", false, now).is_ok(), "reads are not writes");
    }
}
