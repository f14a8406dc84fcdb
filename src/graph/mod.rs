//! The Graph client: sign-in, paced and retried requests, and the phone-method calls the
//! fetcher and executor make. Everything Graph-specific on the client side (paths, fixed
//! method ids, error bodies, correlation headers) lives here.

pub mod auth;
pub mod batch;
pub mod rate;
pub mod retry;

use crate::model::{OpKind, PhoneType};
use auth::{AuthError, TokenSource};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rate::Pacer;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// Characters left as they are in a user path segment; everything else is percent-encoded,
/// so a UPN with `/`, `?`, `#` or `%` addresses that user and nothing else.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'@');

/// The fixed id of each phone type's method (graph-contract §1.2).
pub fn method_id(t: PhoneType) -> &'static str {
    match t {
        PhoneType::Mobile => "3179e48a-750b-4051-897c-87b9720928f7",
        PhoneType::AlternateMobile => "b6332ec1-7057-4abe-9331-3d72feddfe41",
        PhoneType::Office => "e37fc753-ff3b-4958-9484-eaa9425c82bc",
    }
}

/// What is known about one call, success or not, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallInfo {
    /// HTTP status of the last attempt, if one was answered.
    pub status: Option<u16>,
    /// Graph's `request-id` of the last attempt.
    pub request_id: Option<String>,
    /// The `client-request-id` this tool sent.
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
    /// Graph's `error.code`, or a name for a failure without an answer (`transport`, `signIn`).
    pub code: String,
    /// Graph's `error.message`, or what went wrong.
    pub message: String,
    /// The call's correlation data.
    pub info: CallInfo,
}

/// A phone method as Graph returns it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneMethod {
    /// Fixed id of its type.
    #[serde(default)]
    pub id: String,
    /// `mobile`, `alternateMobile`, `office`, or a future value.
    pub phone_type: String,
    /// The number as Graph stores it.
    pub phone_number: String,
}

/// One write of a user's chain, as the executor hands it to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainOp {
    /// What to do.
    pub kind: OpKind,
    /// Which method.
    pub phone_type: PhoneType,
    /// The number to write (add, update).
    pub number: Option<String>,
    /// Positions, within the same chain, of the ops this one needs to have succeeded.
    pub depends_on: Vec<usize>,
}

/// How one op of a chain ended.
#[derive(Debug, Clone)]
pub enum ChainResult {
    /// Sent (perhaps several times); Graph's final answer.
    Done(Result<CallInfo, GraphError>),
    /// Not run because an op it depends on did not succeed in this chain (Graph's 424). The
    /// executor re-plans it once the dependency's fate is known.
    DependencyFailed,
}

/// The phone-method calls the pipeline makes: the seam between the pipeline and Graph.
pub trait PhoneMethods: Send + Sync {
    /// `GET /users/{u}/authentication/phoneMethods`.
    fn list(&self, user: &str) -> impl Future<Output = Result<(Vec<PhoneMethod>, CallInfo), GraphError>> + Send;
    /// Runs one user's ops in order, each only if its dependencies succeeded; one result per op.
    fn run_chain(&self, user: &str, ops: &[ChainOp]) -> impl Future<Output = Vec<ChainResult>> + Send;
}

/// Request counters for the summary.
#[derive(Debug, Default)]
pub struct Stats {
    /// Graph operations sent, attempts included: single requests plus `$batch` items (what
    /// Graph's throttling counts).
    pub requests: AtomicU64,
    /// Requests answered 429.
    pub throttled: AtomicU64,
    /// Writes found applied by a re-read after an ambiguous failure (so not sent twice).
    pub confirmed_by_reread: AtomicU64,
    /// HTTP calls made (a `$batch` counts once here, and once per item in `requests`).
    pub http_calls: AtomicU64,
}

/// Settings of a [`GraphClient`].
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Graph base URL without version, e.g. `https://graph.microsoft.com`.
    pub base: reqwest::Url,
    /// Ceiling on requests per second.
    pub requests_per_second: u32,
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
}

/// A Graph client shared by every worker of a run.
pub struct GraphClient {
    http: reqwest::Client,
    base: String,
    tokens: TokenSource,
    pacer: Pacer,
    policy: retry::Policy,
    timeout: Duration,
    retry_budget: Duration,
    deadline: Option<Instant>,
    priority: Option<String>,
    batcher: OnceLock<batch::Batcher>,
    /// Counters for the summary.
    pub stats: Stats,
}

/// How to tell, by reading, whether a write that failed ambiguously was applied anyway.
#[derive(Debug, Clone)]
enum Confirm {
    /// The method at this URL holds a number with this comparison key.
    Holds { url: String, key: String },
    /// The method at this URL is gone.
    Gone { url: String },
}

/// Why a signed send got no answer.
enum SendError {
    /// No token could be had.
    SignIn(AuthError),
    /// The request did not complete.
    Transport(reqwest::Error),
}

/// One call to Graph.
struct Call {
    method: Method,
    url: String,
    body: Option<Value>,
    confirm: Option<Confirm>,
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
            tokens: TokenSource::new(credential, http.clone()),
            http,
            base: format!("{}/v1.0", settings.base.as_str().trim_end_matches('/')),
            pacer: Pacer::new(settings.requests_per_second),
            policy: settings.retry,
            timeout: settings.request_timeout,
            retry_budget: settings.retry_budget,
            deadline: settings.deadline,
            priority: settings.throttle_priority,
            batcher: OnceLock::new(),
            stats: Stats::default(),
        });
        if batch_size > 1 {
            let _ = client.batcher.set(batch::Batcher::start(Arc::downgrade(&client), batch_size));
        }
        Ok(client)
    }

    /// The lowest request rate the run fell to because of throttling.
    pub fn lowest_rate(&self) -> f64 {
        self.pacer.lowest_rate()
    }

    /// Signs in once, so a bad credential stops the run before any work.
    pub async fn sign_in(&self) -> Result<(), AuthError> {
        self.tokens.token().await.map(|_| ())
    }

    /// The user's phone-method collection, relative to the version (`/users/…/phoneMethods`).
    fn relative_path(user: &str) -> String {
        // `.`/`..` would be read as path steps and a leading `$` as a system segment:
        // Graph's `users('…')` form addresses such names literally (graph-contract §1.9).
        if user.starts_with('$') || user.chars().all(|c| c == '.') {
            let quoted = user.replace('\'', "''");
            format!("/users('{}')/authentication/phoneMethods", utf8_percent_encode(&quoted, SEGMENT))
        } else {
            format!("/users/{}/authentication/phoneMethods", utf8_percent_encode(user, SEGMENT))
        }
    }

    fn user_path(&self, user: &str) -> String {
        format!("{}{}", self.base, Self::relative_path(user))
    }

    /// Sends one HTTP request with the current token, the `client-request-id` and the throttle
    /// priority; on a 401 it signs in again once and resends. Counts `operations` Graph requests
    /// (a `$batch` counts its items) and one HTTP call per send.
    async fn send_signed(
        &self,
        method: &Method,
        url: &str,
        body: Option<&Value>,
        client_request_id: &str,
        operations: u64,
    ) -> Result<reqwest::Response, SendError> {
        let mut refreshed = false;
        loop {
            let token = self.tokens.token().await.map_err(SendError::SignIn)?;
            let mut request = self
                .http
                .request(method.clone(), url)
                .bearer_auth(token.expose_secret())
                .header("client-request-id", client_request_id)
                .timeout(self.timeout);
            if let Some(p) = &self.priority {
                request = request.header("x-ms-throttle-priority", p);
            }
            if let Some(b) = body {
                request = request.json(b);
            }
            self.stats.requests.fetch_add(operations, Ordering::Relaxed);
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

    /// Sends one call, pacing every attempt through the shared pacer and retrying what Graph
    /// says to retry. A write that failed in a way that may still have applied it (timeout,
    /// dropped connection, 5xx, 429) is re-read first, so it is never sent twice.
    async fn call(&self, call: Call) -> Result<(u16, Vec<u8>, CallInfo), GraphError> {
        let started = Instant::now();
        let mut info = CallInfo {
            client_request_id: uuid::Uuid::new_v4().to_string(),
            ..CallInfo::default()
        };
        let mut ambiguous = false;
        let is_write = call.method != Method::GET;
        loop {
            if let Some(e) = self.past_deadline(&info) {
                return Err(GraphError {
                    info: CallInfo {
                        elapsed: started.elapsed(),
                        ..e.info
                    },
                    ..e
                });
            }
            info.attempts += 1;
            self.pacer.ready().await;
            let sent = self
                .send_signed(&call.method, &call.url, call.body.as_ref(), &info.client_request_id, 1)
                .await;
            let (code, message, retry_after, retryable) = match sent {
                Err(SendError::SignIn(e)) => return Err(self.fail(None, "signIn", e.to_string(), info, started)),
                Ok(response) => {
                    let status = response.status().as_u16();
                    info.status = Some(status);
                    info.request_id = header(&response, "request-id");
                    let retry_after = header(&response, "retry-after").and_then(|v| retry::parse_retry_after(&v, SystemTime::now()));
                    match response.bytes().await {
                        Ok(bytes) if (200..300).contains(&status) => {
                            self.pacer.succeeded();
                            info.elapsed = started.elapsed();
                            return Ok((status, bytes.to_vec(), info));
                        }
                        Ok(bytes) => {
                            if status == 429 {
                                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                                self.pacer.throttled(retry_after);
                            }
                            let (code, message) = error_body(&bytes);
                            (code, message, retry_after, retry::is_retryable_status(status))
                        }
                        Err(e) => (
                            "transport".to_string(),
                            format!("response cut off: {}", e.without_url()),
                            None,
                            true,
                        ),
                    }
                }
                Err(SendError::Transport(e)) => {
                    info.status = None;
                    let transient = e.is_timeout() || e.is_connect() || e.is_request() || e.is_body();
                    ("transport".to_string(), e.without_url().to_string(), None, transient)
                }
            };
            ambiguous |= is_write && (info.status.is_none_or(|s| s >= 500 || s == 429));
            if ambiguous
                && let Some(confirm) = &call.confirm
                && self.applied(confirm).await
            {
                self.stats.confirmed_by_reread.fetch_add(1, Ordering::Relaxed);
                info.confirmed_by_reread = true;
                info.elapsed = started.elapsed();
                return Ok((info.status.unwrap_or(200), Vec::new(), info));
            }
            let wait = self.policy.delay(info.attempts, retry_after);
            let in_budget = started.elapsed() + wait <= self.retry_budget;
            if !(retryable && info.attempts < self.policy.max_attempts && in_budget) {
                return Err(self.fail(info.status, &code, message, info, started));
            }
            tracing::debug!(attempt = info.attempts, wait_ms = wait.as_millis() as u64, code = %code, "retrying Graph call");
            tokio::time::sleep(wait).await;
        }
    }

    /// The error for work not started because the run's time limit has passed.
    fn past_deadline(&self, info: &CallInfo) -> Option<GraphError> {
        self.deadline.filter(|d| Instant::now() >= *d).map(|_| GraphError {
            status: None,
            code: "runTimeout".into(),
            message: "not sent: the run's time limit (rate.run_timeout_seconds) was reached".into(),
            info: info.clone(),
        })
    }

    /// Reads back what an ambiguous write should have done.
    async fn applied(&self, confirm: &Confirm) -> bool {
        let url = match confirm {
            Confirm::Holds { url, .. } | Confirm::Gone { url } => url.clone(),
        };
        let read = Box::pin(self.call(Call {
            method: Method::GET,
            url,
            body: None,
            confirm: None,
        }))
        .await;
        match (confirm, read) {
            (Confirm::Holds { key, .. }, Ok((_, body, _))) => {
                serde_json::from_slice::<PhoneMethod>(&body).is_ok_and(|m| crate::phone::key(&m.phone_number) == *key)
            }
            (Confirm::Gone { .. }, Err(GraphError { status: Some(404), .. })) => true,
            _ => false,
        }
    }

    fn fail(&self, status: Option<u16>, code: &str, message: String, mut info: CallInfo, started: Instant) -> GraphError {
        info.elapsed = started.elapsed();
        GraphError {
            status,
            code: code.to_string(),
            message,
            info,
        }
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Graph's `error.code` and `error.message`, or the raw text when the body is not Graph's shape.
fn error_body(bytes: &[u8]) -> (String, String) {
    let parsed: Option<Value> = serde_json::from_slice(bytes).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let field = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str).map(str::to_string);
    match (field("code"), field("message")) {
        (Some(code), message) => (code, message.unwrap_or_default()),
        (None, _) => (
            "unknown".into(),
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned(),
        ),
    }
}

impl GraphClient {
    fn method_url(&self, user: &str, phone_type: PhoneType) -> String {
        format!("{}/{}", self.user_path(user), method_id(phone_type))
    }

    /// The request that carries `op`: method, URL relative to the version, and body.
    fn request_of(user: &str, op: &ChainOp) -> (Method, String, Option<Value>) {
        let collection = Self::relative_path(user);
        let number = op.number.as_deref().unwrap_or_default();
        match op.kind {
            OpKind::Add => (
                Method::POST,
                collection,
                Some(serde_json::json!({"phoneNumber": number, "phoneType": op.phone_type.as_str()})),
            ),
            OpKind::Update => (
                Method::PATCH,
                format!("{collection}/{}", method_id(op.phone_type)),
                Some(serde_json::json!({"phoneNumber": number})),
            ),
            OpKind::Delete => (Method::DELETE, format!("{collection}/{}", method_id(op.phone_type)), None),
        }
    }

    /// How to tell by reading whether `op` was applied.
    fn confirm_of(&self, user: &str, op: &ChainOp) -> Confirm {
        let url = self.method_url(user, op.phone_type);
        match op.kind {
            OpKind::Delete => Confirm::Gone { url },
            _ => Confirm::Holds {
                url,
                key: crate::phone::key(op.number.as_deref().unwrap_or_default()),
            },
        }
    }

    /// One write on its own, with re-read protection.
    async fn write(&self, user: &str, op: &ChainOp) -> Result<CallInfo, GraphError> {
        let (method, url, body) = Self::request_of(user, op);
        let call = Call {
            method,
            url: format!("{}{url}", self.base),
            body,
            confirm: Some(self.confirm_of(user, op)),
        };
        self.call(call).await.map(|(_, _, info)| info)
    }

    /// A chain through `$batch`: one round trip for the user's ops, linked by `dependsOn`.
    async fn batched_chain(&self, batcher: &batch::Batcher, user: &str, ops: &[ChainOp]) -> Vec<ChainResult> {
        if let Some(e) = self.past_deadline(&CallInfo::default()) {
            return ops.iter().map(|_| ChainResult::Done(Err(e.clone()))).collect();
        }
        let items = ops
            .iter()
            .map(|op| {
                let (method, url, body) = Self::request_of(user, op);
                batch::Item {
                    method,
                    url,
                    body,
                    depends_on: op.depends_on.clone(),
                }
            })
            .collect();
        let started = Instant::now();
        let replies = batcher.submit(items).await;
        let mut results = Vec::with_capacity(ops.len());
        for (op, reply) in ops.iter().zip(replies) {
            if reply.status == Some(424) {
                results.push(ChainResult::DependencyFailed);
                continue;
            }
            let (method, url, body) = Self::request_of(user, op);
            let item = batch::Item {
                method,
                url,
                body,
                depends_on: Vec::new(),
            };
            let result = self
                .settle_item(batcher, item, Some(self.confirm_of(user, op)), reply, started)
                .await;
            results.push(ChainResult::Done(result.map(|(_, info)| info)));
        }
        results
    }

    /// Turns a batch item's first answer into its final one: a success or a non-retryable error
    /// stands; anything else (429, 5xx, 401, no answer) is retried on its own in later batches,
    /// after its Retry-After or a backoff, and a write is read back first so it is never sent
    /// twice. Bounded like single requests by attempts, the retry budget and the run deadline.
    async fn settle_item(
        &self,
        batcher: &batch::Batcher,
        item: batch::Item,
        confirm: Option<Confirm>,
        first: batch::ItemReply,
        started: Instant,
    ) -> Result<(Value, CallInfo), GraphError> {
        let mut reply = first;
        let mut attempts = 1;
        loop {
            let mut info = reply.info(started);
            info.attempts = attempts;
            let status = reply.status;
            if status.is_some_and(|s| (200..300).contains(&s)) {
                return Ok((reply.body, info));
            }
            let (code, message) = error_body(&serde_json::to_vec(&reply.body).unwrap_or_default());
            let failure = GraphError {
                status,
                code,
                message,
                info,
            };
            if status.is_some_and(|s| !retry::is_retryable_status(s) && s != 401) {
                return Err(failure);
            }
            if item.method != Method::GET
                && let Some(c) = &confirm
                && self.applied(c).await
            {
                self.stats.confirmed_by_reread.fetch_add(1, Ordering::Relaxed);
                return Ok((
                    Value::Null,
                    CallInfo {
                        confirmed_by_reread: true,
                        ..failure.info
                    },
                ));
            }
            let wait = self.policy.delay(attempts, reply.retry_after);
            if attempts >= self.policy.max_attempts || started.elapsed() + wait > self.retry_budget {
                return Err(failure);
            }
            tokio::time::sleep(wait).await;
            if let Some(e) = self.past_deadline(&failure.info) {
                return Err(e);
            }
            attempts += 1;
            reply = batcher.submit(vec![item.clone()]).await.remove(0);
        }
    }
}

/// The body of a list of phone methods.
#[derive(serde::Deserialize)]
struct Page {
    value: Vec<PhoneMethod>,
}

/// A list of phone methods, or why it could not be read. The error carries the call's
/// correlation data by value: it is built once per failed call, so its size does not matter.
#[allow(clippy::result_large_err)]
fn parse_page(status: u16, page: serde_json::Result<Page>, info: CallInfo) -> Result<(Vec<PhoneMethod>, CallInfo), GraphError> {
    match page {
        Ok(page) => Ok((page.value, info)),
        Err(e) => Err(GraphError {
            status: Some(status),
            code: "unexpectedResponse".into(),
            message: format!("cannot read the list of phone methods: {e}"),
            info,
        }),
    }
}

impl PhoneMethods for GraphClient {
    async fn list(&self, user: &str) -> Result<(Vec<PhoneMethod>, CallInfo), GraphError> {
        if let Some(batcher) = self.batcher.get() {
            if let Some(e) = self.past_deadline(&CallInfo::default()) {
                return Err(e);
            }
            let started = Instant::now();
            let item = batch::Item {
                method: Method::GET,
                url: Self::relative_path(user),
                body: None,
                depends_on: Vec::new(),
            };
            let first = batcher.submit(vec![item.clone()]).await.remove(0);
            let (body, info) = self.settle_item(batcher, item, None, first, started).await?;
            return parse_page(info.status.unwrap_or(200), serde_json::from_value(body), info);
        }
        let (status, body, info) = self
            .call(Call {
                method: Method::GET,
                url: self.user_path(user),
                body: None,
                confirm: None,
            })
            .await?;
        parse_page(status, serde_json::from_slice(&body), info)
    }

    async fn run_chain(&self, user: &str, ops: &[ChainOp]) -> Vec<ChainResult> {
        if let Some(batcher) = self.batcher.get()
            && ops.len() <= batch::MAX_ITEMS
        {
            return self.batched_chain(batcher, user, ops).await;
        }
        let mut results: Vec<ChainResult> = Vec::with_capacity(ops.len());
        for op in ops {
            let ready = op
                .depends_on
                .iter()
                .all(|d| matches!(results.get(*d), Some(ChainResult::Done(Ok(_)))));
            results.push(if ready {
                ChainResult::Done(self.write(user, op).await)
            } else {
                ChainResult::DependencyFailed
            });
        }
        results
    }
}
