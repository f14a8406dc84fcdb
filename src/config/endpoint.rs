//! Where Graph is and how fast to talk to it: the endpoint (`embedded` or an HTTPS URL) and
//! `[rate]` (Graph's documented budgets, concurrency, retries, timeouts, batching).

use crate::config::raw::{Bad, RawRate};
use std::time::Duration;

/// Where Graph is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The emulator inside this binary, started for the run.
    Embedded,
    /// A Graph base URL such as `https://graph.microsoft.com` (no version segment).
    Url(reqwest::Url),
}

/// Graph's documented write budget per app and tenant, whatever the tenant's size
/// (docs/graph.md#throttle-limits).
pub const WRITES_PER_150S: f64 = 3000.0;

/// Graph's documented resource-unit budget per app and tenant for a tenant size (`small`: under
/// 50 users, `medium`: 50 to 500, `large`: over 500; case and spaces ignored), per 10 s.
pub fn resource_units_per_10s(tenant_size: &str) -> Option<f64> {
    match tenant_size.trim().to_ascii_lowercase().as_str() {
        "small" => Some(3500.0),
        "medium" => Some(5000.0),
        "large" => Some(8000.0),
        _ => None,
    }
}

/// Pacing and retry settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    /// Graph's resource-unit budget for this app in this tenant, per 10 s (by tenant size, or set).
    pub resource_units_per_10s: f64,
    /// Graph's write budget for this app in this tenant, per 150 s.
    pub writes_per_150s: f64,
    /// An optional flat ceiling on requests per second across the whole run.
    pub requests_per_second: Option<u32>,
    /// HTTP calls to Graph in flight at once (a `$batch` counts once).
    pub concurrency: usize,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Longest wait between attempts when Graph gives no `Retry-After`.
    pub max_backoff: Duration,
    /// Time allowed for one HTTP request.
    pub request_timeout: Duration,
    /// Longest time one call may spend retrying.
    pub retry_budget: Duration,
    /// Time allowed for the whole run; nothing new starts after it.
    pub run_timeout: Option<Duration>,
    /// `x-ms-throttle-priority` to send (`low` for background runs).
    pub throttle_priority: Option<String>,
    /// Requests per `$batch` call; 1 when batching is off.
    pub batch_size: usize,
    /// Graph is taken as unreachable, and the run ends, when no call has been answered for
    /// this long while calls keep failing (`rate.unreachable_after_seconds`, default 30).
    pub unreachable_after: Duration,
    /// After Ctrl-C or SIGTERM, how long calls in flight get before they are abandoned and the
    /// reports written (`rate.stop_grace_seconds`, default 10).
    pub stop_grace: Duration,
}

impl Rate {
    /// Users worked on at once: enough to fill every call in flight, `concurrency` ×
    /// `batch_size` (with batching off, one user per call).
    pub fn users_in_flight(&self) -> usize {
        self.concurrency * self.batch_size
    }
}

/// Checks and types `[rate]`.
pub(crate) fn rate(r: RawRate, bad: Bad) -> Result<Rate, anyhow::Error> {
    if r.requests_per_second == Some(0) {
        return Err(bad("rate.requests_per_second", "must be at least 1".into()));
    }
    let tier_units = resource_units_per_10s(&r.tenant_size).ok_or_else(|| {
        bad(
            "rate.tenant_size",
            format!(
                "'{}' is not small (under 50 users), medium (50 to 500) or large (over 500)",
                r.tenant_size
            ),
        )
    })?;
    let budget = |key: &str, v: Option<f64>, default: f64| match v {
        None => Ok(default),
        Some(v) if v.is_finite() && v >= 1.0 => Ok(v),
        Some(v) => Err(bad(key, format!("{v} is not a number of requests of at least 1"))),
    };
    if r.concurrency == 0 || r.concurrency > 1024 {
        return Err(bad("rate.concurrency", "must be between 1 and 1024".into()));
    }
    if r.max_attempts == 0 {
        return Err(bad("rate.max_attempts", "must be at least 1".into()));
    }
    let seconds = |key: &str, v: f64| {
        if v.is_finite() && v > 0.0 && v <= 86_400.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(bad(
                key,
                format!("{v} is not a time this run can wait: give seconds above 0 and at most 86400 (a day), e.g. 30"),
            ))
        }
    };
    Ok(Rate {
        resource_units_per_10s: budget("rate.resource_units_per_10s", r.resource_units_per_10s, tier_units)?,
        writes_per_150s: budget("rate.writes_per_150s", r.writes_per_150s, WRITES_PER_150S)?,
        requests_per_second: r.requests_per_second,
        concurrency: r.concurrency,
        max_attempts: r.max_attempts,
        max_backoff: seconds("rate.max_backoff_seconds", r.max_backoff_seconds)?,
        request_timeout: seconds("rate.request_timeout_seconds", r.request_timeout_seconds)?,
        retry_budget: seconds("rate.retry_budget_seconds", r.retry_budget_seconds)?,
        run_timeout: r.run_timeout_seconds.map(|v| seconds("rate.run_timeout_seconds", v)).transpose()?,
        unreachable_after: seconds("rate.unreachable_after_seconds", r.unreachable_after_seconds)?,
        stop_grace: seconds("rate.stop_grace_seconds", r.stop_grace_seconds)?,
        batch_size: match (r.batch, r.batch_size) {
            (false, _) => 1,
            (true, n @ 1..=20) => n,
            (true, n) => {
                return Err(bad(
                    "rate.batch_size",
                    format!("{n} is not between 1 and 20 (Graph's limit per $batch)"),
                ));
            }
        },
        throttle_priority: match r.throttle_priority.as_deref() {
            None => None,
            Some(p @ ("low" | "normal" | "high")) => Some(p.to_string()),
            Some(other) => return Err(bad("rate.throttle_priority", format!("'{other}' is not low, normal or high"))),
        },
    })
}

/// `endpoint`: `embedded`, or a Graph base URL (a pasted version segment is dropped).
pub fn parse_endpoint(value: &str) -> Result<Endpoint, String> {
    if value.trim().eq_ignore_ascii_case("embedded") {
        return Ok(Endpoint::Embedded);
    }
    let mut url = parse_url(value)?;
    // Accept a pasted `https://graph.microsoft.com/v1.0`: the client adds the version itself.
    let path = url
        .path()
        .trim_end_matches('/')
        .trim_end_matches("/v1.0")
        .trim_end_matches("/beta")
        .to_string();
    url.set_path(&path);
    Ok(Endpoint::Url(url))
}

/// HTTPS only, except plain HTTP to this machine (the emulator).
pub fn parse_url(value: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(value.trim())
        .map_err(|e| format!("'{value}' is not a URL ({e}); use \"embedded\" or a URL like https://graph.microsoft.com"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "'{value}' uses plain HTTP to another machine; only https:// is allowed (plain http only to loopback)"
        )),
        other => Err(format!("'{value}' has scheme '{other}'; use https://")),
    }
}
