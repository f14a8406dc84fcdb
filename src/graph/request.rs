//! The vocabulary of Graph requests every part of the transport speaks: a request and its API
//! version, one attempt's answer, a call's correlation data and errors, how to confirm a write
//! by reading, and a chain of dependent writes. Graph's error bodies and headers are read here.

use crate::graph::auth::AuthError;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

/// Characters left as they are in a user path segment; everything else is percent-encoded,
/// so a UPN with `/`, `?`, `#` or `%` addresses that user and nothing else.
pub(crate) const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'@');

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
    /// Sent again after Graph may have run it, it could make a second copy (a create whose
    /// server assigns the id): a `$batch` envelope refused with 429 or 503 is then taken as
    /// maybe having run it, and it is read back before it goes again.
    pub resend_may_duplicate: bool,
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
            resend_may_duplicate: false,
        }
    }

    /// Whether it writes (anything but a `GET`).
    pub fn is_write(&self) -> bool {
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
    /// The run was stopped, or Graph became unreachable, before it was sent.
    Halted,
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

    /// An attempt never sent because the transport halted (see [`crate::graph::halt`]).
    pub fn halted(reason: crate::graph::halt::Reason) -> Attempt {
        Attempt {
            not_sent: Some(NotSent::Halted),
            ..Attempt::unanswered(reason.message, Processed::No)
        }
    }

    /// An attempt never sent because sign-in failed.
    pub(crate) fn sign_in(e: &AuthError) -> Attempt {
        Attempt {
            not_sent: Some(NotSent::SignIn),
            ..Attempt::unanswered(e.to_string(), Processed::No)
        }
    }

    /// Whether Graph answered 2xx.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The header `name` of an answer, as text.
pub fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Graph's `error.code` and `error.message`, or the raw text when the body is not Graph's shape.
pub fn error_body(body: &Value) -> (String, String) {
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

/// The path and query of an `@odata.nextLink` after its version segment: a next page is read
/// on the configured endpoint, never on the host the link names.
pub fn next_link_path(link: &str) -> Result<String, String> {
    let url = url::Url::parse(link).map_err(|_| format!("Graph sent a next page link that is not a URL: {link}"))?;
    let path = url.path();
    let rest = ["/v1.0", "/beta"]
        .iter()
        .find_map(|v| path.strip_prefix(v))
        .ok_or_else(|| format!("Graph sent a next page link without a version: {link}"))?;
    Ok(match url.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    })
}
