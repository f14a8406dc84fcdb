//! The transport: signs, paces, batches (v1.0 and beta never mixed), retries and confirms any
//! Graph request. It speaks requests, not phones: what to read and write, and how to tell by
//! reading whether a write was applied, come from the targets (`targets`). Graph's error bodies,
//! correlation headers and user addressing live here.
//!
//! Every request, alone or inside a `$batch`, goes through one per-op state machine
//! (`GraphClient::settle`): send → answer → re-read if a write may have been applied →
//! retry or settle. A chain's dependent op is sent again only once its dependency settled as
//! succeeded, whichever path either travelled.

pub mod auth;
pub mod batch;
pub mod rate;
pub mod retry;
pub mod stats;

use auth::{AuthError, TokenSource};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rate::Pacer;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::Value;
use stats::Stats;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Characters left as they are in a user path segment; everything else is percent-encoded,
/// so a UPN with `/`, `?`, `#` or `%` addresses that user and nothing else.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'@');

/// The header naming the ops (by their `client-request-id`) a write depends on, so Graph's
/// journal (or the emulator's) can tell a dependent write from an independent one.
pub const AFTER_HEADER: &str = "x-phonesync-after";

/// The error code of an op that was never sent because the run stopped first.
pub const NOT_STARTED: &str = "notStarted";

/// `s` as one path segment: percent-encoded so it cannot end the segment or start a query.
pub fn path_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Graph's API versions. v1.0 and beta never share a `$batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `/v1.0`
    V1,
    /// `/beta`
    Beta,
}

impl Version {
    /// The path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1.0",
            Version::Beta => "beta",
        }
    }
}

/// What is known about one call, success or not, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallInfo {
    /// HTTP status of the last attempt, if one was answered.
    pub status: Option<u16>,
    /// Graph's `request-id` of the last attempt.
    pub request_id: Option<String>,
    /// The `client-request-id` this tool sent (for a write: the op's id, the same on every attempt).
    pub client_request_id: String,
    /// Attempts made.
    pub attempts: u32,
    /// Time from the first attempt to the end, waits included.
    pub elapsed: Duration,
    /// Set when an ambiguous failure (timeout, dropped connection, 5xx, 429) was followed by a
    /// re-read showing the write had been applied.
    pub confirmed_by_reread: bool,
}

/// A call that did not succeed: Graph's answer, or why there was none.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{code}: {message}", status.map(|s| format!("HTTP {s} ")).unwrap_or_default())]
pub struct GraphError {
    /// HTTP status, if Graph answered.
    pub status: Option<u16>,
    /// Graph's `error.code`, or a name for a failure without an answer (`transport`, `signIn`,
    /// [`NOT_STARTED`], `runTimeout`).
    pub code: String,
    /// Graph's `error.message`, or what went wrong.
    pub message: String,
    /// The call's correlation data.
    pub info: CallInfo,
}

impl GraphError {
    /// True when Graph never answered this request (no HTTP status): unreachable, refused
    /// sign-in, or a dropped connection.
    pub fn unanswered(&self) -> bool {
        self.status.is_none() && self.code != NOT_STARTED
    }
}

/// One write of a chain, as the executor hands it to the client.
#[derive(Clone)]
pub struct ChainItem {
    /// The request; its `client-request-id` is the op's id, sent on every attempt.
    pub request: Request,
    /// Positions, within the same chain, of the items this one needs to have succeeded.
    pub depends_on: Vec<usize>,
    /// How to tell by reading whether the write was applied after an ambiguous failure.
    pub confirm: Confirm,
}

/// How one op of a chain ended.
#[derive(Debug, Clone)]
pub enum ChainResult {
    /// Sent (perhaps several times); Graph's final answer.
    Done(Result<CallInfo, GraphError>),
    /// Not run, because an op it depends on did not succeed.
    DependencyFailed,
}

/// Told about each op of a chain as it goes, so the audit is written as ops settle.
pub trait ChainObserver: Sync {
    /// Op `index` of the chain is about to be sent for the first time.
    fn sending(&self, index: usize);
    /// Op `index` of the chain has settled.
    fn settled(&self, index: usize, result: &ChainResult);
    /// Asked before an op is first sent (alone, or the chain in its `$batch`): an error here
    /// settles it unsent with that error (e.g. its target was refused for the run meanwhile).
    fn withheld(&self) -> Option<GraphError> {
        None
    }
}

/// An observer that ignores everything.
impl ChainObserver for () {
    fn sending(&self, _: usize) {}
    fn settled(&self, _: usize, _: &ChainResult) {}
}

/// A user as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryUser {
    /// Object id.
    pub id: String,
    /// User principal name.
    #[serde(default)]
    pub user_principal_name: String,
}

/// Settings of a [`GraphClient`].
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
}

/// A Graph client shared by every worker of a run.
pub struct GraphClient {
    http: reqwest::Client,
    /// Base URL without version and without a trailing slash.
    root: String,
    tokens: TokenSource,
    pacer: Pacer,
    policy: retry::Policy,
    timeout: Duration,
    retry_budget: Duration,
    deadline: Option<Instant>,
    priority: Option<String>,
    batchers: [OnceLock<batch::Batcher>; 2],
    /// One permit per HTTP call to Graph in flight.
    calls: Arc<tokio::sync::Semaphore>,
    /// Counters for the summary.
    pub stats: Stats,
}

/// How to tell, by reading, whether a write that failed ambiguously was applied anyway.
#[derive(Clone)]
pub enum Confirm {
    /// Read `path`: the write was applied when `check` holds for the body Graph returns.
    Holds {
        /// Path below the version.
        path: String,
        /// What the body must show.
        check: std::sync::Arc<dyn Fn(&Value) -> bool + Send + Sync>,
    },
    /// The item at `path` is gone (Graph answers 404).
    Gone {
        /// Path below the version.
        path: String,
    },
}

/// Why a signed send got no answer.
enum SendError {
    /// No token could be had.
    SignIn(AuthError),
    /// The request did not complete.
    Transport(reqwest::Error),
}

/// One Graph request: version, method, path relative to the version, body and extra headers.
#[derive(Debug, Clone)]
pub struct Request {
    /// API version.
    pub version: Version,
    /// HTTP method.
    pub method: Method,
    /// Path and query below the version, e.g. `/users/kim%40contoso.com/authentication/phoneMethods`.
    pub path: String,
    /// JSON body, if any.
    pub body: Option<Value>,
    /// `client-request-id`: the op's id for a write, a fresh one for a read.
    pub client_request_id: String,
    /// Ops (by id) this request depends on, sent as [`AFTER_HEADER`].
    pub after: Vec<String>,
}

impl Request {
    /// A `GET` of `path` below `version`, with a fresh `client-request-id`.
    pub fn read(version: Version, path: String) -> Request {
        Request {
            version,
            method: Method::GET,
            path,
            body: None,
            client_request_id: uuid::Uuid::new_v4().to_string(),
            after: Vec::new(),
        }
    }

    fn is_write(&self) -> bool {
        self.method != Method::GET
    }
}

/// Why an attempt was never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSent {
    /// No token could be had.
    SignIn,
    /// The run's time limit passed while it waited for the pacer.
    Deadline,
}

/// Whether Graph processed a request that got no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processed {
    /// Graph answered this request itself: its status says what happened.
    Answered,
    /// No answer (dropped connection, timeout, a lost `$batch`): it may or may not have run.
    Unknown,
    /// A `$batch` envelope was refused as a whole (e.g. 429 or 503): nothing inside it ran.
    No,
}

/// One attempt's result, from a single request or a `$batch` item.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// HTTP status of the request (or of the refused envelope); `None` without an answer.
    pub status: Option<u16>,
    /// The body (JSON, or `Null`).
    pub body: Value,
    /// `Retry-After`, if given.
    pub retry_after: Option<Duration>,
    /// Graph's `request-id` for this request (for a batch item, the item's own if it has one).
    pub request_id: Option<String>,
    /// Whether Graph processed it.
    pub processed: Processed,
    /// What went wrong when there was no answer.
    pub message: String,
    /// Set when the request was never sent, and why.
    pub not_sent: Option<NotSent>,
}

impl Attempt {
    /// An attempt that got no answer.
    pub fn unanswered(message: String, processed: Processed) -> Attempt {
        Attempt {
            status: None,
            body: Value::Null,
            retry_after: None,
            request_id: None,
            processed,
            message,
            not_sent: None,
        }
    }

    /// An attempt never sent because sign-in failed.
    pub(crate) fn sign_in(e: &AuthError) -> Attempt {
        Attempt {
            not_sent: Some(NotSent::SignIn),
            ..Attempt::unanswered(e.to_string(), Processed::No)
        }
    }

    fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The `reqwest` client every part of the tool uses.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("phonesync/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .build()
}

impl GraphClient {
    /// A client for `settings`, signing in with `credential`.
    pub fn new(settings: ClientSettings, credential: auth::Credential) -> reqwest::Result<Arc<GraphClient>> {
        let http = http_client()?;
        let batch_size = settings.batch_size;
        let client = Arc::new(GraphClient {
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
            policy: settings.retry,
            timeout: settings.request_timeout,
            retry_budget: settings.retry_budget,
            deadline: settings.deadline,
            priority: settings.throttle_priority,
            batchers: [OnceLock::new(), OnceLock::new()],
            calls: Arc::new(tokio::sync::Semaphore::new(settings.calls_in_flight.max(1))),
            stats: Stats::default(),
        });
        if batch_size > 1 {
            for (slot, version) in client.batchers.iter().zip([Version::V1, Version::Beta]) {
                let _ = slot.set(batch::Batcher::start(
                    Arc::downgrade(&client),
                    batch_size,
                    version,
                    client.calls.clone(),
                ));
            }
        }
        Ok(client)
    }

    fn batcher(&self, version: Version) -> Option<&batch::Batcher> {
        self.batchers[version as usize].get()
    }

    /// Graph answered 429 for the budget `scope` names: count it and slow that budget.
    fn throttled(&self, scope: Option<&str>, retry_after: Option<Duration>) {
        self.stats.was_throttled();
        self.pacer.throttled(rate::Budget::of_scope(scope), retry_after);
    }

    /// Graph answered a request (alone or as a `$batch` item; a write when `write`): a 429 slows
    /// the budget its scope names; any other answer is admitted usage, with Graph's word on how
    /// much it cost (`x-ms-resource-unit`) and how full its budget is
    /// (`x-ms-throttle-limit-percentage`).
    fn feedback(&self, status: u16, write: bool, header: impl Fn(&str) -> Option<String>, retry_after: Option<Duration>) {
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

    /// The user's path below the version (`/users/…`), quoted where Graph needs it.
    pub fn user_path(user: &str) -> String {
        // `.`/`..` would be read as path steps and a leading `$` as a system segment:
        // Graph's `users('…')` form addresses such names literally (docs/graph.md#addressing-users).
        if user.starts_with('$') || user.chars().all(|c| c == '.') {
            let quoted = user.replace('\'', "''");
            format!("/users('{}')", utf8_percent_encode(&quoted, SEGMENT))
        } else {
            format!("/users/{}", utf8_percent_encode(user, SEGMENT))
        }
    }

    /// Sends one HTTP request with the current token, the `client-request-id`, the dependency
    /// header and the throttle priority; on a 401 it signs in again once and resends. Counts
    /// `operations` Graph requests (a `$batch` counts its items) and one HTTP call per send.
    async fn send_signed(
        &self,
        method: &Method,
        url: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
        operations: u64,
    ) -> Result<reqwest::Response, SendError> {
        let mut refreshed = false;
        loop {
            let token = self.tokens.token().await.map_err(SendError::SignIn)?;
            let mut request = self
                .http
                .request(method.clone(), url)
                .bearer_auth(token.expose_secret())
                .timeout(self.timeout);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some(p) = &self.priority {
                request = request.header("x-ms-throttle-priority", p);
            }
            if let Some(b) = body {
                request = request.json(b);
            }
            self.stats.sent(operations);
            self.stats.http_calls.fetch_add(1, Ordering::Relaxed);
            let response = request.send().await.map_err(SendError::Transport)?;
            // The token may have been revoked or expired early: sign in again, once.
            if response.status() == 401 && !refreshed && self.tokens.invalidate(&token).await {
                refreshed = true;
                continue;
            }
            return Ok(response);
        }
    }

    /// One attempt of `request`: through the `$batch` of its version when batching is on, else
    /// on its own, paced either way.
    async fn send_once(&self, request: &Request) -> Attempt {
        if let Some(batcher) = self.batcher(request.version) {
            return batcher.submit(vec![batch::Item::single(request)]).await.remove(0);
        }
        if !self
            .pacer
            .ready(rate::Cost::of(request.is_write()), self.deadline.map(Into::into))
            .await
        {
            return Attempt {
                not_sent: Some(NotSent::Deadline),
                ..Attempt::unanswered("the run's time limit was reached".into(), Processed::No)
            };
        }
        let url = format!("{}/{}{}", self.root, request.version.as_str(), request.path);
        let after = request.after.join(",");
        let mut headers = vec![("client-request-id", request.client_request_id.as_str())];
        if !after.is_empty() {
            headers.push((AFTER_HEADER, after.as_str()));
        }
        // One HTTP call in flight per permit; the permit is held until the answer is read.
        let _call = self.calls.acquire().await.expect("the call semaphore is never closed");
        let sent = Instant::now();
        match self.send_signed(&request.method, &url, request.body.as_ref(), &headers, 1).await {
            Err(SendError::SignIn(e)) => Attempt::sign_in(&e),
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
                match response.bytes().await {
                    Ok(bytes) => {
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
                    Err(e) => Attempt {
                        request_id,
                        ..Attempt::unanswered(format!("response cut off: {}", e.without_url()), Processed::Unknown)
                    },
                }
            }
        }
    }

    /// The per-op state machine every request goes through, single or batched: takes the
    /// answer to a first attempt already made (a `$batch` chain) or sends one, then until the
    /// request settles: success stands; a definite refusal stands; a write that may have been
    /// applied (no answer, 5xx, 429) is read back first and counts as done if it was; anything
    /// retryable waits (`Retry-After`, else backoff) and goes again, within the attempts, the
    /// retry budget and the run's deadline.
    async fn settle(&self, request: &Request, first: Option<Attempt>, confirm: Option<&Confirm>) -> Result<(Value, CallInfo), GraphError> {
        let started = Instant::now();
        let mut info = CallInfo {
            client_request_id: request.client_request_id.clone(),
            attempts: u32::from(first.is_some()),
            ..CallInfo::default()
        };
        let mut next = first;
        let mut ambiguous = false;
        loop {
            let attempt = match next.take() {
                Some(a) => a,
                None => {
                    if let Some(e) = self.past_deadline(&info) {
                        return Err(e);
                    }
                    info.attempts += 1;
                    let attempt = self.send_once(request).await;
                    // A retry is counted once it was sent (not when the deadline or sign-in stopped it).
                    if info.attempts > 1 && attempt.not_sent.is_none() {
                        self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    }
                    attempt
                }
            };
            if attempt.not_sent == Some(NotSent::Deadline) {
                // The time limit passed while the request waited for its turn: it was not sent,
                // and the last real answer (if any) stays the one reported.
                info.attempts = info.attempts.saturating_sub(1);
                info.elapsed = started.elapsed();
                return Err(self.past_deadline(&info).unwrap_or_else(|| GraphError {
                    status: info.status,
                    code: "runTimeout".into(),
                    message: "not retried: the run's time limit (rate.run_timeout_seconds) was reached".into(),
                    info: info.clone(),
                }));
            }
            info.status = attempt.status;
            info.request_id = attempt.request_id.clone().or(info.request_id.take());
            info.elapsed = started.elapsed();
            if attempt.succeeded() {
                return Ok((attempt.body, info));
            }
            let (code, message) = match attempt.status {
                Some(_) => error_body(&attempt.body),
                None if attempt.not_sent == Some(NotSent::SignIn) => ("signIn".into(), attempt.message.clone()),
                None => ("transport".into(), attempt.message.clone()),
            };
            let failure = |info: &CallInfo| GraphError {
                status: attempt.status,
                code: code.clone(),
                message: message.clone(),
                info: CallInfo {
                    elapsed: started.elapsed(),
                    ..info.clone()
                },
            };
            if attempt.not_sent == Some(NotSent::SignIn) {
                return Err(failure(&info));
            }
            let retryable = attempt.status.is_none_or(retry::is_retryable_status);
            ambiguous |= request.is_write()
                && match attempt.processed {
                    Processed::Unknown => true,
                    Processed::Answered => attempt.status.is_some_and(|s| s >= 500 || s == 429),
                    Processed::No => false,
                };
            if ambiguous
                && let Some(confirm) = confirm
                && self.applied(request.version, confirm).await
            {
                self.stats.confirmed_by_reread.fetch_add(1, Ordering::Relaxed);
                info.confirmed_by_reread = true;
                info.elapsed = started.elapsed();
                return Ok((Value::Null, info));
            }
            let wait = self.policy.delay(info.attempts, attempt.retry_after);
            let in_budget = started.elapsed() + wait <= self.retry_budget;
            if !(retryable && info.attempts < self.policy.max_attempts && in_budget) {
                return Err(failure(&info));
            }
            tracing::debug!(attempt = info.attempts, wait_ms = wait.as_millis() as u64, code = %code, "retrying Graph request");
            tokio::time::sleep(wait).await;
        }
    }

    /// The error for a request not sent because the run's time limit has passed: `notStarted`
    /// when it was never sent at all, `runTimeout` when earlier attempts failed.
    fn past_deadline(&self, info: &CallInfo) -> Option<GraphError> {
        self.deadline.filter(|d| Instant::now() >= *d).map(|_| {
            let (code, message) = if info.attempts == 0 {
                (NOT_STARTED, "not sent: the run's time limit (rate.run_timeout_seconds) was reached")
            } else {
                (
                    "runTimeout",
                    "not retried: the run's time limit (rate.run_timeout_seconds) was reached",
                )
            };
            GraphError {
                status: info.status,
                code: code.into(),
                message: message.into(),
                info: info.clone(),
            }
        })
    }

    /// Reads back what an ambiguous write should have done.
    async fn applied(&self, version: Version, confirm: &Confirm) -> bool {
        let path = match confirm {
            Confirm::Holds { path, .. } | Confirm::Gone { path } => path.clone(),
        };
        let read = Box::pin(self.settle(&Request::read(version, path), None, None)).await;
        match (confirm, read) {
            (Confirm::Holds { check, .. }, Ok((body, _))) => check(&body),
            (Confirm::Gone { .. }, Err(GraphError { status: Some(404), .. })) => true,
            _ => false,
        }
    }

    /// A read through the state machine: Graph's JSON body.
    pub async fn get(&self, version: Version, path: String) -> Result<(Value, CallInfo), GraphError> {
        self.settle(&Request::read(version, path), None, None).await
    }

    /// A read through the state machine, parsed as `T`; `what` names it in the error.
    pub async fn get_as<T: serde::de::DeserializeOwned>(
        &self,
        version: Version,
        path: String,
        what: &str,
    ) -> Result<(T, CallInfo), GraphError> {
        let (body, info) = self.get(version, path).await?;
        serde_json::from_value(body).map(|v| (v, info.clone())).map_err(|e| GraphError {
            status: info.status,
            code: "unexpectedResponse".into(),
            message: format!("cannot read {what}: {e}"),
            info,
        })
    }
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Graph's `error.code` and `error.message`, or the raw text when the body is not Graph's shape.
fn error_body(body: &Value) -> (String, String) {
    let error = body.get("error");
    let field = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str).map(str::to_string);
    match (field("code"), field("message")) {
        (Some(code), message) => (code, message.unwrap_or_default()),
        (None, _) => {
            let text = match body {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            ("unknown".into(), text.chars().take(300).collect())
        }
    }
}

impl GraphClient {
    /// Runs one user's chain of writes (all of one API version), each only once its
    /// dependencies succeeded; one result per item.
    pub async fn run_chain(&self, ops: &[ChainItem], observer: &dyn ChainObserver) -> Vec<ChainResult> {
        let requests: Vec<Request> = ops
            .iter()
            .map(|op| Request {
                after: op.depends_on.iter().map(|d| ops[*d].request.client_request_id.clone()).collect(),
                ..op.request.clone()
            })
            .collect();
        let version = requests.first().map_or(Version::V1, |r| r.version);
        debug_assert!(requests.iter().all(|r| r.version == version), "one chain, one API version");
        // With batching, the whole chain goes out in one `$batch`, linked by `dependsOn`, so
        // Graph runs it in order; its answers are each op's first attempt.
        let mut firsts: Vec<Option<Attempt>> = vec![None; ops.len()];
        if let Some(e) = observer.withheld() {
            return (0..ops.len())
                .map(|i| {
                    let result = ChainResult::Done(Err(e.clone()));
                    observer.settled(i, &result);
                    result
                })
                .collect();
        }
        if let Some(batcher) = self.batcher(version)
            && ops.len() <= batch::MAX_ITEMS
            && self.past_deadline(&CallInfo::default()).is_none()
        {
            let items = requests
                .iter()
                .zip(ops)
                .map(|(r, op)| batch::Item {
                    depends_on: op.depends_on.clone(),
                    ..batch::Item::single(r)
                })
                .collect();
            (0..ops.len()).for_each(|i| observer.sending(i));
            firsts = batcher.submit(items).await.into_iter().map(Some).collect();
        }
        let batched = firsts.iter().any(Option::is_some);
        // Then every op settles in plan order through the one state machine; an op is taken up
        // (re-read, re-sent) only once everything it depends on settled as succeeded.
        let mut results: Vec<ChainResult> = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let ready = op
                .depends_on
                .iter()
                .all(|d| matches!(results.get(*d), Some(ChainResult::Done(Ok(_)))));
            let result = if !ready {
                ChainResult::DependencyFailed
            } else {
                // A 424 means Graph did not run it: it starts afresh now that its dependency succeeded.
                let first = firsts[i].take().filter(|a| a.status != Some(424));
                let unsent = first.is_none() && !batched;
                match observer.withheld().filter(|_| first.is_none()) {
                    Some(e) => ChainResult::Done(Err(e)),
                    None => {
                        if unsent && self.past_deadline(&CallInfo::default()).is_none() {
                            observer.sending(i);
                        }
                        ChainResult::Done(self.settle(&requests[i], first, Some(&op.confirm)).await.map(|(_, info)| info))
                    }
                }
            };
            observer.settled(i, &result);
            results.push(result);
        }
        results
    }
}
