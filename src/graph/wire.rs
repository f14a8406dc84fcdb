//! One HTTP call to Graph, signed and paced: the token, the pacer, the call permits and the
//! counters that single requests and `$batch` calls share. It knows requests, not ops: retries
//! and confirmation are the client's.

use crate::graph::auth::{self, AuthError, TokenSource};
use crate::graph::halt::{Breaker, Halt, Reason};
use crate::graph::rate::{self, Pacer};
use crate::graph::request::{AFTER_HEADER, Attempt, NotSent, Processed, Request, header};
use crate::graph::retry;
use crate::graph::stats::Stats;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Why a signed send got no answer.
pub(crate) enum SendError {
    /// Abandoned in flight: the run stopped and its grace ran out.
    Halted(Reason),
    /// Not sent: the transport halted first.
    NotSent(Reason),
    /// No token could be had.
    SignIn(AuthError),
    /// The request did not complete.
    Transport(reqwest::Error),
}

/// The `reqwest` client every part of the tool uses.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("phonesync/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .build()
}

/// Settings of a [`GraphClient`](crate::graph::client::GraphClient): of its wire, and its retries and batching.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Graph base URL without version, e.g. `https://graph.microsoft.com`.
    pub base: reqwest::Url,
    /// Graph's budgets the pacer spends.
    pub budgets: rate::Budgets,
    /// An optional flat ceiling on requests per second.
    pub requests_per_second: Option<u32>,
    /// Retry settings.
    pub retry: retry::Policy,
    /// Time allowed for one HTTP request.
    pub request_timeout: Duration,
    /// Longest time one call may spend retrying.
    pub retry_budget: Duration,
    /// No request starts after this instant (the run's time limit).
    pub deadline: Option<Instant>,
    /// `x-ms-throttle-priority` sent on every request (`low` for background runs).
    pub throttle_priority: Option<String>,
    /// Items per `$batch` call; 1 sends every request on its own.
    pub batch_size: usize,
    /// HTTP calls to Graph in flight at once (a `$batch` is one).
    pub calls_in_flight: usize,
    /// Graph is taken as unreachable when no call has been answered for this long while calls
    /// keep failing (the circuit breaker).
    pub unreachable_after: Duration,
}

/// The shortest a call's timeout gets however fast Graph answers (see `Wire::call_timeout`).
pub const SHORTEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What every HTTP call to Graph goes through.
pub struct Wire {
    /// The HTTP client (connections are pooled).
    pub(crate) http: reqwest::Client,
    /// Base URL without version and without a trailing slash.
    pub(crate) root: String,
    tokens: TokenSource,
    /// Spends Graph's budgets: every call waits for its turn here.
    pub(crate) pacer: Pacer,
    timeout: Duration,
    /// No request starts after this instant (the run's time limit).
    pub(crate) deadline: Option<Instant>,
    priority: Option<String>,
    /// One permit per HTTP call to Graph in flight.
    pub(crate) calls: Arc<tokio::sync::Semaphore>,
    /// Counters for the summary, shared with the client.
    pub(crate) stats: Arc<Stats>,
    /// When to send nothing more, and abandon what is in flight.
    pub(crate) halt: Arc<Halt>,
    /// Trips the halt when Graph stops answering.
    breaker: Breaker,
}

impl Wire {
    /// The wire for `settings`, signing in with `credential`, counting into `stats`.
    pub fn new(settings: ClientSettings, credential: auth::Credential, stats: Arc<Stats>) -> reqwest::Result<Wire> {
        let http = http_client()?;
        Ok(Wire {
            tokens: TokenSource::new(
                credential,
                http.clone(),
                settings.request_timeout,
                settings.deadline,
                settings.retry.clone(),
            ),
            http,
            root: settings.base.as_str().trim_end_matches('/').to_string(),
            pacer: Pacer::new(settings.budgets, settings.requests_per_second),
            timeout: settings.request_timeout,
            deadline: settings.deadline,
            priority: settings.throttle_priority,
            calls: Arc::new(tokio::sync::Semaphore::new(settings.calls_in_flight.max(1))),
            stats,
            halt: Arc::new(Halt::default()),
            breaker: Breaker::new(settings.unreachable_after),
        })
    }

    /// Graph answered 429 for the budget `scope` names: count it and slow that budget.
    pub(crate) fn throttled(&self, scope: Option<&str>, retry_after: Option<Duration>) {
        self.stats.was_throttled();
        self.pacer.throttled(rate::Budget::of_scope(scope), retry_after);
    }

    /// Graph answered a request (alone or as a `$batch` item; a write when `write`): a 429 slows
    /// the budget its scope names; any other answer is admitted usage, with Graph's word on how
    /// much it cost (`x-ms-resource-unit`) and how full its budget is
    /// (`x-ms-throttle-limit-percentage`).
    pub(crate) fn feedback(&self, status: u16, write: bool, header: impl Fn(&str) -> Option<String>, retry_after: Option<Duration>) {
        if status == 429 {
            self.throttled(header("x-ms-throttle-scope").as_deref(), retry_after);
        } else {
            let number = |name: &str| header(name).and_then(|v| v.trim().parse::<f64>().ok());
            self.pacer.answered(
                rate::Cost::of(write),
                number("x-ms-resource-unit"),
                number("x-ms-throttle-limit-percentage"),
            );
        }
    }

    /// The lowest request rate the run fell to because of throttling.
    pub fn lowest_rate(&self) -> f64 {
        self.pacer.lowest_rate()
    }

    /// Signs in once, so a bad credential stops the run before any work.
    pub async fn sign_in(&self) -> Result<(), AuthError> {
        self.tokens.token().await.map(|_| ())
    }

    /// How long one call may take: the configured timeout until Graph's answers are known, then
    /// ten times their 95th percentile (at least [`SHORTEST_TIMEOUT`], at most the configured
    /// one). An answer held far past the others is then given up early and the call's op goes
    /// again, instead of one held call keeping a twentieth of the pool (a whole `$batch`)
    /// waiting the full timeout.
    fn call_timeout(&self) -> Duration {
        if self.stats.answered() < 3 {
            return self.timeout;
        }
        match self.stats.latency() {
            Some(l) => (Duration::from_millis(l.p95) * 10).clamp(SHORTEST_TIMEOUT.min(self.timeout), self.timeout),
            None => self.timeout,
        }
    }

    /// `work`, unless calls in flight are abandoned first (a stop's grace ran out).
    pub(crate) async fn until_abandoned<T>(&self, work: impl std::future::Future<Output = T>) -> Result<T, Reason> {
        tokio::select! {
            biased;
            reason = self.halt.abandoned() => Err(reason),
            done = work => Ok(done),
        }
    }

    /// `work`, unless no new attempt may start first (a stop, or Graph unreachable): for the
    /// waits before a call (the pacer, a call permit).
    pub(crate) async fn until_stopped<T>(&self, work: impl std::future::Future<Output = T>) -> Result<T, Reason> {
        tokio::select! {
            biased;
            reason = self.halt.stopped() => Err(reason),
            done = work => Ok(done),
        }
    }

    /// Graph answered (a status below 500): the breaker closes. For a `$batch`, each item's
    /// answer says, not the envelope's.
    pub(crate) fn observe_answer(&self) {
        self.breaker.answered();
    }

    /// A call failed without an answer or with a 5xx: the breaker may trip, and then no new
    /// attempt starts.
    pub(crate) fn observe_failure(&self, why: &str) {
        if let Some(reason) = self.breaker.failed(why) {
            self.halt.stop_new(reason);
        }
    }

    /// Sends one HTTP request with the current token, the `client-request-id`, the dependency
    /// header and the throttle priority; on a 401 it signs in again once and resends. Counts
    /// `operations` Graph requests (a `$batch` counts its items) and one HTTP call per send.
    pub(crate) async fn send_signed(
        &self,
        method: &Method,
        url: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
        operations: u64,
    ) -> Result<reqwest::Response, SendError> {
        let mut refreshed = false;
        loop {
            let token = match self.until_abandoned(self.tokens.token()).await {
                Err(reason) => return Err(SendError::Halted(reason)),
                Ok(token) => token.map_err(SendError::SignIn)?,
            };
            let mut request = self.http.request(method.clone(), url).bearer_auth(token.expose_secret());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some(p) = &self.priority {
                request = request.header("x-ms-throttle-priority", p);
            }
            if let Some(b) = body {
                request = request.json(b);
            }
            // Halted while it waited for a token: not sent.
            if let Some(reason) = self.halt.reason() {
                return Err(SendError::NotSent(reason));
            }
            self.stats.sent(operations);
            self.stats.http_calls.fetch_add(1, Ordering::Relaxed);
            let timeout = self.call_timeout();
            let response = match self.until_abandoned(request.timeout(timeout).send()).await {
                Err(reason) => return Err(SendError::Halted(reason)),
                Ok(Err(e)) => {
                    let e = e.without_url();
                    if e.is_timeout() {
                        // A call given up counts as taking the whole timeout, so a Graph slow
                        // for everyone lengthens the timeout instead of being cut at it.
                        self.stats.answered_after(timeout);
                    }
                    self.observe_failure(&e.to_string());
                    return Err(SendError::Transport(e));
                }
                Ok(Ok(response)) if response.status().is_server_error() => {
                    self.observe_failure(&format!("HTTP {}", response.status().as_u16()));
                    response
                }
                // A `$batch` envelope's own answer says nothing of the items: they are observed
                // one by one (`batch::answers`).
                Ok(Ok(response)) if operations > 1 || url.ends_with("/$batch") => response,
                Ok(Ok(response)) => {
                    self.breaker.answered();
                    response
                }
            };
            // The token may have been revoked or expired early: sign in again, once.
            if response.status() == 401 && !refreshed && self.tokens.invalidate(&token).await {
                refreshed = true;
                continue;
            }
            return Ok(response);
        }
    }

    /// One attempt of `request` on its own (not in a `$batch`), paced.
    pub async fn send_alone(&self, request: &Request) -> Attempt {
        let paced = self
            .until_stopped(self.pacer.ready(rate::Cost::of(request.is_write()), self.deadline.map(Into::into)))
            .await;
        match paced {
            Ok(true) => {}
            Ok(false) => {
                return Attempt {
                    not_sent: Some(NotSent::Deadline),
                    ..Attempt::unanswered("the run's time limit was reached".into(), Processed::No)
                };
            }
            Err(reason) => return Attempt::halted(reason),
        }
        let url = format!("{}/{}{}", self.root, request.version.as_str(), request.path);
        let after = request.after.join(",");
        let mut headers = vec![("client-request-id", request.client_request_id.as_str())];
        if !after.is_empty() {
            headers.push((AFTER_HEADER, after.as_str()));
        }
        // One HTTP call in flight per permit; the permit is held until the answer is read.
        let _call = match self.until_stopped(self.calls.acquire()).await {
            Ok(permit) => permit.expect("the call semaphore is never closed"),
            Err(reason) => return Attempt::halted(reason),
        };
        let sent = Instant::now();
        match self.send_signed(&request.method, &url, request.body.as_ref(), &headers, 1).await {
            Err(SendError::SignIn(e)) => Attempt::sign_in(&e),
            // Sent, and abandoned before an answer: it may or may not have run.
            Err(SendError::Halted(reason)) => Attempt::unanswered(reason.message, Processed::Unknown),
            Err(SendError::NotSent(reason)) => Attempt::halted(reason),
            Err(SendError::Transport(e)) => {
                // A request that never connected never reached Graph.
                let processed = if e.is_connect() { Processed::No } else { Processed::Unknown };
                Attempt::unanswered(e.without_url().to_string(), processed)
            }
            Ok(response) => {
                let status = response.status().as_u16();
                let response_headers = response.headers().clone();
                let request_id = header(&response_headers, "request-id");
                let retry_after = retry::retry_after(header(&response_headers, "retry-after").as_deref());
                match self.until_abandoned(response.bytes()).await {
                    Err(reason) => Attempt {
                        request_id,
                        ..Attempt::unanswered(reason.message, Processed::Unknown)
                    },
                    Ok(Err(e)) => Attempt {
                        request_id,
                        ..Attempt::unanswered(format!("response cut off: {}", e.without_url()), Processed::Unknown)
                    },
                    Ok(Ok(bytes)) => {
                        self.stats.answered_after(sent.elapsed());
                        self.feedback(status, request.is_write(), |name| header(&response_headers, name), retry_after);
                        Attempt {
                            status: Some(status),
                            body: if bytes.is_empty() {
                                Value::Null
                            } else {
                                serde_json::from_slice(&bytes)
                                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
                            },
                            retry_after,
                            request_id,
                            processed: Processed::Answered,
                            message: String::new(),
                            not_sent: None,
                        }
                    }
                }
            }
        }
    }
}
