//! When to try a Graph request again and how long to wait first: `Retry-After` in integer
//! seconds, fractional seconds or an HTTP date (docs/graph.md#retry-after), else exponential backoff
//! with full jitter, capped.

use std::time::{Duration, SystemTime};

/// The retry settings of one client.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff step when Graph gives no `Retry-After`.
    pub base_delay: Duration,
    /// Longest single wait.
    pub max_delay: Duration,
}

/// The longest `Retry-After` honoured as given (by the retry wait and by the pacer).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Statuses that mean "not now" rather than "no": 429, and the 5xx family
/// (docs/graph.md#transient-failures). Kiota retries only 429/503/504; phonesync also retries
/// 500/502/507 because reads are idempotent and writes are re-read before they are sent again.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504 | 507)
}

/// The wait a `Retry-After` header asks for, if it has a value that parses (as of now).
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    value.and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// Parses a `Retry-After` value: `10`, `2.128`, or `Wed, 21 Oct 2026 07:28:00 GMT`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

impl Policy {
    /// The wait before attempt `attempt + 1` (attempt counts from 1), honouring the server's
    /// `Retry-After` when it gave one.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            // The server knows best; the cap only guards against a nonsensical value.
            return d.min(MAX_RETRY_AFTER);
        }
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        ceiling.mul_f64(jitter())
    }
}

/// A uniform number in [0, 1) for full jitter, from the OS random source `uuid` already uses.
fn jitter() -> f64 {
    let bits = (uuid::Uuid::new_v4().as_u128() >> 75) as u64; // 53 random bits
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_every_documented_form() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("10", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("2.128", now), Some(Duration::from_millis(2128)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(7)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn backoff_is_jittered_below_a_growing_capped_ceiling() {
        let p = Policy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for attempt in 1..10 {
            let ceiling = Duration::from_millis(100 * (1 << (attempt - 1))).min(Duration::from_secs(1));
            for _ in 0..50 {
                assert!(p.delay(attempt, None) <= ceiling);
            }
        }
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3),
            "Retry-After beats the backoff cap"
        );
    }
}
