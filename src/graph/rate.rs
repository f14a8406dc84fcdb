//! The shared pace of all requests of a run, modelled on Graph's own throttle
//! (docs/graph.md#throttle-limits): per app and tenant, a token bucket of resource units (every
//! request, and every `$batch` item, costs one) and a separate bucket of writes, each starting
//! full and refilling continuously. A request (or a whole `$batch`) waits until every bucket it
//! draws on holds a token, then takes its cost, so the run spends Graph's initial burst and then
//! its refill rate, retries and re-reads included. An optional flat ceiling
//! (`rate.requests_per_second`) is a third bucket that Graph's answers never move.
//!
//! Graph's answers steer the model, not only its 429s, the same way whether they came alone or
//! as `$batch` items:
//! - `x-ms-throttle-limit-percentage` (sent once more than 80 % of a budget is used): at 95 % or
//!   more, Graph's bucket is nearly empty, so the model stops spending what is left of its own
//!   burst (it goes on at the refill rate) and holds the rate where it is. So the run slows
//!   *before* the limit, also when another run of the same app shares the budget.
//! - A 429 names its budget in `x-ms-throttle-scope` (`…/Write/…` or `…/ReadWrite/…`): that
//!   bucket hands out nothing until the `Retry-After` (capped at five minutes) has passed, and
//!   its refill rate falls to what Graph actually admitted lately: at least by half, at most to
//!   a thirty-second, once per burst of 429s. Measuring the admitted rate finds a budget far
//!   below the configured one in a burst or two, where halving alone would need many.
//! - While answers come back calm, a slowed rate climbs back toward the configured one.
//! - `x-ms-resource-unit` above 1 is charged on top of the unit already paid.

use crate::graph::retry::MAX_RETRY_AFTER;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
// tokio's clock, so tests can pause it.
use tokio::time::Instant;

/// At or above this `x-ms-throttle-limit-percentage`, Graph's bucket is nearly empty.
const HOT: f64 = 0.95;
/// How long a rate must stay calm (no 429, no hot answer) before it climbs a step, and by how much.
const CLIMB_EVERY: Duration = Duration::from_secs(1);
const CLIMB: f64 = 1.5;
/// A burst of 429s multiplies the rate by at most this.
const FALL: f64 = 0.5;
/// 429s closer together than this (or than the `Retry-After` they carry) are one burst.
const FALL_EVERY: Duration = Duration::from_millis(250);
/// The admitted rate is measured over at most this much of the recent past, and at least this
/// little (so a burst admitted in one instant does not read as an infinite rate).
const MEASURE_OVER: Duration = Duration::from_secs(10);
const MEASURE_AT_LEAST: Duration = Duration::from_secs(1);
/// No 429 lowers a rate below this many requests per second, or below half the configured
/// rate when that is lower still.
const FLOOR: f64 = 0.1;
/// No single wait is longer than this (it keeps instants in range whatever the arithmetic).
const LONGEST_WAIT: Duration = Duration::from_secs(86_400);
/// Admissions are counted in bins of this length (a bounded record at any rate).
const BIN: Duration = Duration::from_millis(50);

/// Graph's two budgets for one app in one tenant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budgets {
    /// Resource units per 10 s (every request and `$batch` item costs 1).
    pub resource_units_per_10s: f64,
    /// Writes (POST, PATCH, PUT, DELETE) per 150 s.
    pub writes_per_150s: f64,
}

/// Which of Graph's budgets a signal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Resource units (reads and writes).
    ResourceUnits,
    /// Writes.
    Writes,
}

impl Budget {
    /// The budget a 429's `x-ms-throttle-scope` names (`…/Write/…` is writes; `Read` and
    /// `ReadWrite`, or no scope, are resource units).
    pub fn of_scope(scope: Option<&str>) -> Budget {
        match scope {
            Some(s) if s.split('/').any(|part| part.eq_ignore_ascii_case("Write")) => Budget::Writes,
            _ => Budget::ResourceUnits,
        }
    }
}

/// What one send costs: resource units (requests or `$batch` items) and writes among them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cost {
    /// Requests, each costing one resource unit.
    pub units: f64,
    /// Writes among them.
    pub writes: f64,
}

impl Cost {
    /// The cost of one request.
    pub fn of(write: bool) -> Cost {
        Cost {
            units: 1.0,
            writes: if write { 1.0 } else { 0.0 },
        }
    }

    /// Adds one request.
    pub fn add(&mut self, write: bool) {
        let one = Cost::of(write);
        self.units += one.units;
        self.writes += one.writes;
    }
}

/// One token bucket of the model.
#[derive(Debug)]
struct Bucket {
    capacity: f64,
    /// Tokens now; below zero when a cost larger than what was left was taken (a `$batch`).
    tokens: f64,
    /// The configured refill rate, per second.
    nominal: f64,
    /// The current refill rate, per second (lower after throttling).
    rate: f64,
    last: Instant,
    /// When the rate last changed, or last had a reason not to climb.
    settled: Instant,
    /// No token is handed out before this (a 429's `Retry-After`).
    blocked_until: Option<Instant>,
    /// 429s before this belong to the burst that already lowered the rate.
    burst_until: Option<Instant>,
    /// Requests drawing on this bucket that Graph admitted lately: (start of a `BIN`, count).
    admitted: VecDeque<(Instant, usize)>,
    /// Whether Graph's answers steer this bucket (not the flat ceiling).
    steered: bool,
}

impl Bucket {
    fn new(capacity: f64, window: Duration, now: Instant, steered: bool) -> Bucket {
        let capacity = capacity.max(1.0);
        let nominal = capacity / window.as_secs_f64();
        Bucket {
            capacity,
            tokens: capacity,
            nominal,
            rate: nominal,
            last: now,
            settled: now,
            blocked_until: None,
            burst_until: None,
            admitted: VecDeque::new(),
            steered,
        }
    }

    /// Adds what flowed in since `last` (nothing while blocked: `last` is then the block's end).
    fn refill(&mut self, now: Instant) {
        if now > self.last {
            let elapsed = now.duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
            self.last = now;
        }
    }

    /// How long until `cost` may be taken (zero: now): until the bucket holds the whole cost, or
    /// is full when the cost is larger than the bucket (the rest is then taken as debt).
    fn wait(&self, cost: f64, now: Instant) -> Duration {
        let blocked = self.blocked_until.map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
        let need = cost.min(self.capacity);
        let short = if self.tokens >= need {
            Duration::ZERO
        } else {
            // A few microseconds more guard against rounding.
            Duration::try_from_secs_f64((need - self.tokens) / self.rate + 1e-6)
                .unwrap_or(LONGEST_WAIT)
                .min(LONGEST_WAIT)
        };
        blocked.max(short)
    }

    /// How much of the bucket is used, 0 (full) to 1 (empty) or more (in debt).
    fn used(&self) -> f64 {
        1.0 - self.tokens / self.capacity
    }

    /// Graph admitted `n` requests drawing on this bucket.
    fn admit(&mut self, n: usize, now: Instant) {
        match self.admitted.back_mut() {
            Some((start, count)) if now.saturating_duration_since(*start) < BIN => *count += n,
            _ => self.admitted.push_back((now, n)),
        }
        self.forget(now);
    }

    /// Forgets admissions older than `MEASURE_OVER`.
    fn forget(&mut self, now: Instant) {
        while self
            .admitted
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > MEASURE_OVER)
        {
            self.admitted.pop_front();
        }
    }

    /// The rate Graph admitted lately, per second, if it admitted anything.
    fn admitted_rate(&mut self, now: Instant) -> Option<f64> {
        self.forget(now);
        if self.admitted.is_empty() {
            return None;
        }
        let span = self
            .admitted
            .front()
            .map_or(Duration::ZERO, |(t, _)| now.saturating_duration_since(*t))
            .max(MEASURE_AT_LEAST);
        let admitted: usize = self.admitted.iter().map(|(_, n)| n).sum();
        Some(admitted as f64 / span.as_secs_f64())
    }

    /// Graph refused for this budget until `until`: nothing before then; once per burst, the
    /// rate falls to what Graph admitted lately, and at least by half.
    fn throttled(&mut self, until: Option<Instant>, now: Instant) {
        self.refill(now);
        self.tokens = self.tokens.min(0.0);
        if let Some(until) = until {
            self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
            // Graph's bucket is empty when the wait ends: so is the model's.
            self.last = self.last.max(until);
        }
        // No climbing before the block is over.
        self.settled = self.settled.max(until.unwrap_or(now)).max(now);
        if self.burst_until.is_some_and(|t| now < t) {
            return;
        }
        // Without anything admitted lately there is nothing to measure: halve. A measure is
        // trusted down to a sixteenth of the halved rate, one trickle of answers being no proof.
        let halved = self.rate * FALL;
        let measured = self.admitted_rate(now).map_or(halved, |m| m.max(halved / 16.0));
        self.rate = halved.min(measured).max(FLOOR.min(self.nominal * FALL));
        self.burst_until = Some(until.unwrap_or(now).max(now + FALL_EVERY));
    }

    /// Graph's bucket for this budget is nearly empty: stop spending the model's burst, and do
    /// not climb for a while.
    fn hot(&mut self, now: Instant) {
        self.refill(now);
        self.tokens = self.tokens.min(0.0);
        self.settled = self.settled.max(now);
    }

    /// A calm answer: after a calm interval, climb back toward the configured rate.
    fn calm(&mut self, now: Instant) {
        if self.rate < self.nominal && now.saturating_duration_since(self.settled) >= CLIMB_EVERY {
            self.refill(now);
            self.rate = (self.rate * CLIMB).min(self.nominal);
            self.settled = now;
        }
    }
}

struct State {
    resource_units: Bucket,
    writes: Bucket,
    ceiling: Option<Bucket>,
    /// Everything waits until then (a 503 on a whole `$batch` with a `Retry-After`).
    paused_until: Option<Instant>,
    /// The lowest resource-unit rate reached, per second.
    lowest: f64,
}

impl State {
    /// The buckets a cost draws on.
    fn drawn(&mut self, cost: Cost) -> impl Iterator<Item = (&mut Bucket, f64)> {
        [
            Some((&mut self.resource_units, cost.units)),
            (cost.writes > 0.0).then_some((&mut self.writes, cost.writes)),
            self.ceiling.as_mut().map(|c| (c, cost.units)),
        ]
        .into_iter()
        .flatten()
    }

    fn bucket(&mut self, budget: Budget) -> &mut Bucket {
        match budget {
            Budget::ResourceUnits => &mut self.resource_units,
            Budget::Writes => &mut self.writes,
        }
    }

    fn note_lowest(&mut self) {
        let ceiling = self.ceiling.as_ref().map_or(f64::INFINITY, |c| c.rate);
        self.lowest = self.lowest.min(self.resource_units.rate.min(ceiling));
    }
}

/// Paces every request of a run.
pub struct Pacer {
    state: Mutex<State>,
}

impl Pacer {
    /// A pacer spending `budgets` (both buckets full at the start), and never more than
    /// `ceiling` requests per second (with a burst of one second's worth) when one is given.
    pub fn new(budgets: Budgets, ceiling: Option<u32>) -> Pacer {
        let now = Instant::now();
        let resource_units = Bucket::new(budgets.resource_units_per_10s, Duration::from_secs(10), now, true);
        let ceiling = ceiling.map(|n| Bucket::new(f64::from(n), Duration::from_secs(1), now, false));
        let mut state = State {
            lowest: f64::INFINITY,
            resource_units,
            writes: Bucket::new(budgets.writes_per_150s, Duration::from_secs(150), now, true),
            ceiling,
            paused_until: None,
        };
        state.note_lowest();
        Pacer { state: Mutex::new(state) }
    }

    /// Waits until `cost` may be sent — no pause in force, and the whole cost in every bucket it
    /// draws on (a cost larger than a bucket waits for it to be full and leaves it in debt,
    /// which later requests wait out) — and takes it. Returns false, taking nothing, if
    /// `deadline` comes first.
    pub async fn ready(&self, cost: Cost, deadline: Option<Instant>) -> bool {
        loop {
            let now = Instant::now();
            if deadline.is_some_and(|d| d <= now) {
                return false;
            }
            let wait = {
                let mut s = self.state.lock().expect("pacer lock");
                let paused = s.paused_until.map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
                let mut wait = paused;
                for (bucket, n) in s.drawn(cost) {
                    bucket.refill(now);
                    wait = wait.max(bucket.wait(n, now));
                }
                if wait.is_zero() {
                    for (bucket, n) in s.drawn(cost) {
                        bucket.tokens -= n;
                    }
                }
                wait
            };
            if wait.is_zero() {
                return true;
            }
            let wake = now + wait;
            match deadline {
                Some(d) if d <= wake => {
                    tokio::time::sleep_until(d).await;
                    return false;
                }
                _ => tokio::time::sleep_until(wake).await,
            }
        }
    }

    /// Graph answered 429 for `budget`: that bucket waits out `retry_after` (when given) and
    /// refills more slowly for a while.
    pub fn throttled(&self, budget: Budget, retry_after: Option<Duration>) {
        let now = Instant::now();
        let mut s = self.state.lock().expect("pacer lock");
        let until = retry_after.map(|w| now + w.min(MAX_RETRY_AFTER));
        s.bucket(budget).throttled(until, now);
        s.note_lowest();
    }

    /// Graph asked for a pause without saying it was throttling (a 503 on a whole `$batch` with
    /// a `Retry-After`): every request waits it out, but the rates stay where they are.
    pub fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_RETRY_AFTER);
        let mut s = self.state.lock().expect("pacer lock");
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
    }

    /// Graph admitted a request of cost `cost` (one request: `units` is 1) and answered it with
    /// these usage headers: `resource_units` (`x-ms-resource-unit`) and `limit_percentage`
    /// (`x-ms-throttle-limit-percentage`). At or above 95 % used, the budget the model thinks
    /// fuller (the header does not say which) stops spending its burst and holds its rate;
    /// otherwise slowed rates climb back.
    pub fn answered(&self, cost: Cost, resource_units: Option<f64>, limit_percentage: Option<f64>) {
        let now = Instant::now();
        let mut s = self.state.lock().expect("pacer lock");
        if let Some(extra) = resource_units.map(|u| u - cost.units).filter(|e| e.is_finite() && *e > 0.0) {
            // Nonsensical values leave at most one bucket of debt.
            let capacity = s.resource_units.capacity;
            s.resource_units.tokens = (s.resource_units.tokens - extra).max(-capacity);
        }
        let units = cost.units as usize;
        s.resource_units.admit(units, now);
        if cost.writes > 0.0 {
            s.writes.admit(cost.writes as usize, now);
        }
        let hot = limit_percentage.is_some_and(|p| p.is_finite() && p >= HOT);
        if hot {
            s.resource_units.refill(now);
            s.writes.refill(now);
            let fuller = if s.writes.used() > s.resource_units.used() {
                Budget::Writes
            } else {
                Budget::ResourceUnits
            };
            s.bucket(fuller).hot(now);
        }
        for (bucket, _) in s.drawn(cost) {
            if bucket.steered {
                bucket.calm(now);
            }
        }
    }

    /// The current resource-unit rate, per second.
    pub fn rate(&self) -> f64 {
        self.state.lock().expect("pacer lock").resource_units.rate
    }

    /// The current write rate, per second.
    pub fn write_rate(&self) -> f64 {
        self.state.lock().expect("pacer lock").writes.rate
    }

    /// The lowest request rate the run was paced at, per second (resource units, or the flat
    /// ceiling when that is lower).
    pub fn lowest_rate(&self) -> f64 {
        self.state.lock().expect("pacer lock").lowest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Budgets = Budgets {
        resource_units_per_10s: 100.0,
        writes_per_150s: 30.0,
    };

    /// Takes `n` requests one by one and returns how long they took on the paused clock.
    async fn take(p: &Pacer, n: usize, write: bool) -> Duration {
        let started = Instant::now();
        for _ in 0..n {
            assert!(p.ready(Cost::of(write), None).await);
        }
        started.elapsed()
    }

    fn near(d: Duration, secs: f64) -> bool {
        (d.as_secs_f64() - secs).abs() < 0.05
    }

    #[tokio::test(start_paused = true)]
    async fn the_burst_is_spent_at_once_then_the_refill_rate() {
        let p = Pacer::new(SMALL, None);
        assert!(take(&p, 100, false).await < Duration::from_millis(1), "the full bucket");
        // 50 more at 10 per second.
        let t = take(&p, 50, false).await;
        assert!(near(t, 5.0), "{t:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_takes_its_whole_cost_and_later_requests_wait_out_the_debt() {
        let p = Pacer::new(SMALL, None);
        let twenty = Cost { units: 20.0, writes: 0.0 };
        for _ in 0..5 {
            assert!(p.ready(twenty, None).await);
        }
        let started = Instant::now();
        assert!(p.ready(twenty, None).await);
        let t = started.elapsed();
        assert!(near(t, 2.0), "the sixth batch waits for its 20 tokens: {t:?}");
        // A batch larger than a bucket waits for it to be full, and leaves it in debt.
        let p = Pacer::new(SMALL, Some(4));
        assert!(p.ready(twenty, None).await);
        let t = take(&p, 1, false).await;
        assert!(near(t, 4.25), "16 in debt, then one more, at 4/s: {t:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_flows_in_while_a_429_blocks_the_bucket() {
        let p = Pacer::new(SMALL, None);
        p.throttled(Budget::ResourceUnits, Some(Duration::from_secs(3)));
        // Blocked 3 s; the bucket starts from empty then, at the halved rate of 5/s.
        let t = take(&p, 1, false).await;
        assert!(near(t, 3.2), "{t:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn writes_draw_on_both_budgets() {
        let p = Pacer::new(SMALL, None);
        assert!(take(&p, 30, true).await < Duration::from_millis(1));
        // The write bucket (30 per 150 s = 0.2/s) is empty: the next write waits ~5 s, a read not.
        assert!(take(&p, 1, false).await < Duration::from_millis(1));
        let t = take(&p, 1, true).await;
        assert!(near(t, 5.0), "{t:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_flat_ceiling_caps_the_rate_and_the_answers_never_move_it() {
        let p = Pacer::new(SMALL, Some(4));
        let t = take(&p, 4 + 8, false).await;
        assert!(near(t, 2.0), "a second's worth at once, then 4/s: {t:?}");
        assert_eq!(p.lowest_rate(), 4.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_waits_out_retry_after_and_slows_only_its_budget() {
        let p = Pacer::new(SMALL, None);
        for _ in 0..10 {
            p.answered(Cost::of(true), None, None);
        }
        p.throttled(
            Budget::of_scope(Some("Tenant_Application/Write/app/tenant")),
            Some(Duration::from_secs(20)),
        );
        assert!(take(&p, 5, false).await < Duration::from_millis(1), "reads go on");
        assert!(take(&p, 1, true).await >= Duration::from_secs(20), "writes wait out Retry-After");
        assert_eq!(p.rate(), 10.0, "the resource-unit rate is untouched");
        assert!(p.write_rate() < 0.2, "{}", p.write_rate());
        p.throttled(Budget::of_scope(Some("Tenant_Application/ReadWrite/app/tenant")), None);
        assert!(p.rate() <= 5.0 && p.lowest_rate() <= 5.0);
        // Calm answers bring it back, one step per second, never above the documented rate.
        for _ in 0..60 {
            tokio::time::advance(CLIMB_EVERY).await;
            p.answered(Cost::of(false), None, None);
        }
        assert_eq!(p.rate(), 10.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_sets_the_rate_to_what_graph_admitted_in_one_step() {
        // Configured for 350/s, but Graph admits 20/s: over two seconds, 40 admitted.
        let p = Pacer::new(
            Budgets {
                resource_units_per_10s: 3500.0,
                writes_per_150s: 3000.0,
            },
            None,
        );
        for _ in 0..40 {
            p.answered(Cost::of(false), None, None);
            tokio::time::advance(Duration::from_millis(50)).await;
        }
        p.throttled(Budget::ResourceUnits, Some(Duration::from_millis(100)));
        assert!((p.rate() - 20.0).abs() < 1.5, "{}", p.rate());
        // The 429s of the same burst do not lower it again.
        p.throttled(Budget::ResourceUnits, Some(Duration::from_millis(100)));
        assert!((p.rate() - 20.0).abs() < 1.5, "{}", p.rate());
        // A later burst does, by at least half.
        tokio::time::advance(Duration::from_secs(1)).await;
        p.throttled(Budget::ResourceUnits, None);
        assert!(p.rate() <= 10.5, "{}", p.rate());
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_percentage_stops_the_burst_and_holds_the_rate() {
        let p = Pacer::new(SMALL, None);
        p.throttled(Budget::ResourceUnits, None);
        let slowed = p.rate();
        tokio::time::advance(Duration::from_secs(5)).await;
        // Graph says 96 % of a budget is used (another run shares it): what the model still
        // holds is not spent at once, and the rate does not climb while it stays hot.
        p.answered(Cost::of(false), None, Some(0.96));
        let t = take(&p, 2, false).await;
        assert!(t >= Duration::from_secs_f64(1.9 / slowed), "{t:?} at {slowed}/s");
        assert_eq!(slowed, 5.0, "nothing admitted before the 429: halved");
        tokio::time::advance(Duration::from_millis(900)).await;
        p.answered(Cost::of(false), None, Some(0.97));
        tokio::time::advance(Duration::from_millis(900)).await;
        p.answered(Cost::of(false), None, Some(0.85));
        assert_eq!(p.rate(), slowed, "held for a calm interval after the last hot answer");
        tokio::time::advance(CLIMB_EVERY).await;
        p.answered(Cost::of(false), None, None);
        assert!(p.rate() > slowed, "climbs once usage falls");
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_percentage_is_put_on_the_fuller_budget() {
        let p = Pacer::new(SMALL, None);
        assert!(take(&p, 29, true).await < Duration::from_millis(1));
        // Writes are 29/30 used, units 29/100: the header is about writes.
        p.answered(Cost::of(false), None, Some(0.97));
        assert!(
            take(&p, 1, true).await >= Duration::from_secs(4),
            "the last write token was given up"
        );
        assert!(take(&p, 50, false).await < Duration::from_millis(1), "reads keep their burst");
    }

    #[tokio::test(start_paused = true)]
    async fn extra_resource_units_are_charged() {
        let p = Pacer::new(SMALL, None);
        p.answered(Cost::of(false), Some(60.0), None);
        assert!(take(&p, 41, false).await < Duration::from_millis(1));
        assert!(take(&p, 1, false).await >= Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_gives_up_at_the_deadline() {
        let p = Pacer::new(SMALL, None);
        p.throttled(Budget::ResourceUnits, Some(Duration::from_secs(60)));
        let started = Instant::now();
        assert!(!p.ready(Cost::of(false), Some(started + Duration::from_secs(3))).await);
        assert!(near(started.elapsed(), 3.0));
        let fresh = Pacer::new(SMALL, None);
        assert!(
            !fresh.ready(Cost::of(false), Some(Instant::now())).await,
            "nothing after the deadline"
        );
        assert!(fresh.ready(Cost::of(false), None).await, "and nothing was taken");
        assert!(take(&fresh, 99, false).await < Duration::from_millis(1));
    }

    #[tokio::test(start_paused = true)]
    async fn nonsense_from_graph_costs_at_most_a_bucket_and_five_minutes() {
        let p = Pacer::new(SMALL, None);
        p.answered(Cost::of(false), Some(1e300), None);
        let t = take(&p, 1, false).await;
        assert!(near(t, 10.1), "one bucket of debt, no more, at 10/s: {t:?}");
        p.throttled(Budget::ResourceUnits, Some(Duration::from_secs(86_400)));
        let t = take(&p, 1, false).await;
        // Five minutes, then one token at the rate measured (one admitted in a second).
        assert!(t >= MAX_RETRY_AFTER && t <= MAX_RETRY_AFTER + Duration::from_secs(2), "{t:?}");
        p.pause(Duration::from_secs(86_400));
        assert!(take(&p, 1, false).await <= MAX_RETRY_AFTER + Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_never_raises_a_rate_configured_below_the_floor() {
        let p = Pacer::new(
            Budgets {
                resource_units_per_10s: 100.0,
                writes_per_150s: 6.0,
            },
            None,
        );
        let before = p.write_rate();
        p.throttled(Budget::Writes, None);
        assert!(p.write_rate() <= before / 2.0, "{} from {before}", p.write_rate());
        // Bursts of 429s without Retry-After never take a rate below its floor.
        for _ in 0..100 {
            tokio::time::advance(Duration::from_secs(1)).await;
            p.throttled(Budget::ResourceUnits, None);
        }
        assert_eq!(p.rate(), FLOOR);
        assert!(take(&p, 1, false).await <= Duration::from_secs_f64(1.0 / FLOOR + 0.01));
    }

    #[tokio::test(start_paused = true)]
    async fn no_climbing_while_a_429_still_blocks() {
        let p = Pacer::new(SMALL, None);
        p.throttled(Budget::ResourceUnits, Some(Duration::from_secs(10)));
        let slowed = p.rate();
        tokio::time::advance(Duration::from_secs(3)).await;
        p.answered(Cost::of(false), None, None);
        p.answered(Cost::of(false), None, Some(0.99));
        tokio::time::advance(Duration::from_secs(2)).await;
        p.answered(Cost::of(false), None, None);
        assert_eq!(p.rate(), slowed, "answers of calls sent before the 429 do not lift it");
        tokio::time::advance(Duration::from_secs(8)).await;
        p.answered(Cost::of(false), None, None);
        assert!(p.rate() > slowed, "after the block and a calm second it climbs");
    }

    #[tokio::test(start_paused = true)]
    async fn every_request_waits_out_a_pause() {
        let p = Pacer::new(SMALL, None);
        p.pause(Duration::from_secs(5));
        assert!(take(&p, 1, false).await >= Duration::from_secs(5));
        assert_eq!(p.rate(), 10.0, "a pause is no throttling");
    }
}
