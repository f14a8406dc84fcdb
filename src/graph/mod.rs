//! The Graph client: sign-in, paced and retried requests, and the phone-method calls the
//! fetcher and executor make. Everything Graph-specific on the client side (paths, fixed
//! method ids, error bodies, correlation headers) lives here.

pub mod auth;
pub mod retry;

use crate::model::PhoneType;
use auth::{AuthError, TokenSource};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::Value;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// The phone-method calls the pipeline makes: the seam between the pipeline and Graph.
pub trait PhoneMethods: Send + Sync {
    /// `GET /users/{u}/authentication/phoneMethods`.
    fn list(&self, user: &str) -> impl Future<Output = Result<(Vec<PhoneMethod>, CallInfo), GraphError>> + Send;
    /// `POST /users/{u}/authentication/phoneMethods`.
    fn add(&self, user: &str, phone_type: PhoneType, number: &str) -> impl Future<Output = Result<CallInfo, GraphError>> + Send;
    /// `PATCH /users/{u}/authentication/phoneMethods/{id}`.
    fn update(&self, user: &str, phone_type: PhoneType, number: &str) -> impl Future<Output = Result<CallInfo, GraphError>> + Send;
    /// `DELETE /users/{u}/authentication/phoneMethods/{id}`.
    fn delete(&self, user: &str, phone_type: PhoneType) -> impl Future<Output = Result<CallInfo, GraphError>> + Send;
}

/// Request counters for the summary.
#[derive(Debug, Default)]
pub struct Stats {
    /// HTTP requests sent to Graph (attempts, not calls).
    pub requests: AtomicU64,
    /// Requests answered 429.
    pub throttled: AtomicU64,
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
}

/// A Graph client shared by every worker of a run.
pub struct GraphClient {
    http: reqwest::Client,
    base: String,
    tokens: TokenSource,
    limiter: DefaultDirectRateLimiter,
    policy: retry::Policy,
    timeout: Duration,
    /// Counters for the summary.
    pub stats: Stats,
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
    pub fn new(settings: ClientSettings, credential: auth::Credential) -> reqwest::Result<GraphClient> {
        let http = http_client()?;
        let rps = NonZeroU32::new(settings.requests_per_second).unwrap_or(NonZeroU32::MIN);
        Ok(GraphClient {
            tokens: TokenSource::new(credential, http.clone()),
            http,
            base: format!("{}/v1.0", settings.base.as_str().trim_end_matches('/')),
            // Burst of one: requests are spread evenly, never bunched above the ceiling.
            limiter: RateLimiter::direct(Quota::per_second(rps).allow_burst(NonZeroU32::MIN)),
            policy: settings.retry,
            timeout: settings.request_timeout,
            stats: Stats::default(),
        })
    }

    /// Signs in once, so a bad credential stops the run before any work.
    pub async fn sign_in(&self) -> Result<(), AuthError> {
        self.tokens.token().await.map(|_| ())
    }

    fn user_path(&self, user: &str) -> String {
        // `.`/`..` would be read as path steps and a leading `$` as a system segment:
        // Graph's `users('…')` form addresses such names literally (graph-contract §1.9).
        if user.starts_with('$') || user.chars().all(|c| c == '.') {
            let quoted = user.replace('\'', "''");
            format!(
                "{}/users('{}')/authentication/phoneMethods",
                self.base,
                utf8_percent_encode(&quoted, SEGMENT)
            )
        } else {
            format!(
                "{}/users/{}/authentication/phoneMethods",
                self.base,
                utf8_percent_encode(user, SEGMENT)
            )
        }
    }

    /// Sends one call, pacing every attempt through the shared limiter and retrying what
    /// Graph says to retry. Returns the status and body of the successful attempt.
    async fn call(&self, method: Method, url: String, body: Option<Value>) -> Result<(u16, Vec<u8>, CallInfo), GraphError> {
        let started = Instant::now();
        let mut info = CallInfo {
            client_request_id: uuid::Uuid::new_v4().to_string(),
            ..CallInfo::default()
        };
        let mut refreshed = false;
        loop {
            info.attempts += 1;
            self.limiter.until_ready().await;
            let token = match self.tokens.token().await {
                Ok(t) => t,
                Err(e) => return Err(self.fail(None, "signIn", e.to_string(), info, started)),
            };
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose_secret())
                .header("client-request-id", &info.client_request_id)
                .timeout(self.timeout);
            if let Some(b) = &body {
                request = request.json(b);
            }
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let retry_after;
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    info.status = Some(status);
                    info.request_id = header(&response, "request-id");
                    retry_after = header(&response, "retry-after").and_then(|v| retry::parse_retry_after(&v, SystemTime::now()));
                    let bytes = match response.bytes().await {
                        Ok(b) => b.to_vec(),
                        Err(e) if info.attempts < self.policy.max_attempts => {
                            tracing::debug!(error = %e.without_url(), "response body cut off; retrying");
                            tokio::time::sleep(self.policy.delay(info.attempts, None)).await;
                            continue;
                        }
                        Err(e) => return Err(self.fail(Some(status), "transport", e.without_url().to_string(), info, started)),
                    };
                    if (200..300).contains(&status) {
                        info.elapsed = started.elapsed();
                        return Ok((status, bytes, info));
                    }
                    if status == 401 && !refreshed {
                        // The token may have been revoked or expired early: sign in again, once.
                        refreshed = true;
                        self.tokens.invalidate(&token).await;
                        info.attempts -= 1;
                        continue;
                    }
                    if status == 429 {
                        self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    if !(retry::is_retryable_status(status) && info.attempts < self.policy.max_attempts) {
                        let (code, message) = error_body(&bytes);
                        return Err(self.fail(Some(status), &code, message, info, started));
                    }
                }
                Err(e) => {
                    let transient = e.is_timeout() || e.is_connect() || e.is_request() || e.is_body();
                    let message = e.without_url().to_string();
                    if !(transient && info.attempts < self.policy.max_attempts) {
                        return Err(self.fail(None, "transport", message, info, started));
                    }
                    retry_after = None;
                }
            }
            let wait = self.policy.delay(info.attempts, retry_after);
            tracing::debug!(attempt = info.attempts, wait_ms = wait.as_millis() as u64, "retrying Graph call");
            tokio::time::sleep(wait).await;
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

impl PhoneMethods for GraphClient {
    async fn list(&self, user: &str) -> Result<(Vec<PhoneMethod>, CallInfo), GraphError> {
        #[derive(serde::Deserialize)]
        struct Page {
            value: Vec<PhoneMethod>,
        }
        let (status, body, info) = self.call(Method::GET, self.user_path(user), None).await?;
        match serde_json::from_slice::<Page>(&body) {
            Ok(page) => Ok((page.value, info)),
            Err(e) => Err(GraphError {
                status: Some(status),
                code: "unexpectedResponse".into(),
                message: format!("cannot read the list of phone methods: {e}"),
                info,
            }),
        }
    }

    async fn add(&self, user: &str, phone_type: PhoneType, number: &str) -> Result<CallInfo, GraphError> {
        let body = serde_json::json!({"phoneNumber": number, "phoneType": phone_type.as_str()});
        self.call(Method::POST, self.user_path(user), Some(body))
            .await
            .map(|(_, _, info)| info)
    }

    async fn update(&self, user: &str, phone_type: PhoneType, number: &str) -> Result<CallInfo, GraphError> {
        let url = format!("{}/{}", self.user_path(user), method_id(phone_type));
        self.call(Method::PATCH, url, Some(serde_json::json!({"phoneNumber": number})))
            .await
            .map(|(_, _, info)| info)
    }

    async fn delete(&self, user: &str, phone_type: PhoneType) -> Result<CallInfo, GraphError> {
        let url = format!("{}/{}", self.user_path(user), method_id(phone_type));
        self.call(Method::DELETE, url, None).await.map(|(_, _, info)| info)
    }
}
