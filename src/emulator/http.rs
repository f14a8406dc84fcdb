//! The emulator's HTTP surface: Graph's paths for both versions, error bodies and correlation
//! headers (§3), the bearer-token check, throttling (§4.2–4.3), injected faults and latency, and
//! the `/_emulator` inspection routes. `$batch` lives in `batch.rs` and reuses [`dispatch`].

use super::journal::{Event, RequestRecord};
use super::options::{FaultKind, RetryAfterMode};
use super::tenant::Failure;
use super::{Effect, Issued, Shared, batch, token};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Characters escaped in the user part of `@odata.context` (Graph writes `users('kim%40contoso.com')`).
const CONTEXT_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');

/// Marks a response whose connection must be dropped instead of answered.
#[derive(Clone, Copy)]
pub(super) struct DropConnection;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(token::device_code))
        .route("/_emulator/devicelogin", post(token::approve))
        .route("/_emulator/state", get(state))
        .route("/_emulator/journal", get(journal))
        .fallback(graph)
        .with_state(shared)
}

async fn state(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.tenant.lock().expect("tenant lock").to_seed()).into_response()
}

async fn journal(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.journal.entries()).into_response()
}

/// The answer to one Graph request (or `$batch` item), before correlation headers are added.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(&'static str, String)>,
    /// Drop the connection instead of answering.
    pub drop: bool,
    /// Hold the answer this long.
    pub delay: Option<Duration>,
    /// The fault injected, for the journal.
    pub fault: Option<String>,
}

impl Answer {
    pub fn ok(status: u16, body: Option<Value>) -> Answer {
        Answer {
            status,
            body,
            headers: Vec::new(),
            drop: false,
            delay: None,
            fault: None,
        }
    }

    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Answer {
        let message: String = message.into();
        Answer::ok(status, Some(json!({"error": {"code": code, "message": message}})))
    }

    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl From<Failure> for Answer {
    fn from(f: Failure) -> Answer {
        Answer::error(f.status, &f.code, f.message)
    }
}

/// Adds `innerError` (date, request-id, client-request-id) to an error body (§3).
pub(super) fn add_inner_error(body: &mut Option<Value>, request_id: &str, client_request_id: &str) {
    if let Some(error) = body.as_mut().and_then(|b| b.get_mut("error")).and_then(Value::as_object_mut) {
        let date = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"))
            .unwrap_or_default();
        let mut inner = json!({"date": date, "request-id": request_id, "client-request-id": client_request_id});
        if error.get("code").and_then(Value::as_str) == Some("TooManyRequests") {
            inner["code"] = json!("429");
            inner["status"] = json!("429");
            inner["message"] = json!("Please retry after");
        }
        error.insert("innerError".into(), inner);
    }
}

async fn graph(State(s): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = headers.get("client-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let latency = s.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (answer, changes) = handle(&s, &method, uri.path(), &headers, &body, &request_id);
    let mut events: Vec<Event> = changes.into_iter().map(Event::Change).collect();
    events.push(Event::Request(RequestRecord {
        method: method.to_string(),
        path: uri.path().to_string(),
        status: if answer.drop { 0 } else { answer.status },
        request_id: request_id.clone(),
        client_request_id: client_request_id.clone(),
        batch_item: None,
        fault: answer.fault.clone(),
        throttle_priority: headers
            .get("x-ms-throttle-priority")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }));
    s.journal.record(events);
    if let Some(d) = answer.delay {
        tokio::time::sleep(d).await;
    }
    respond(answer, &request_id, client_request_id.as_deref())
}

/// Turns an answer into a response with the headers Graph sends on every response.
fn respond(mut answer: Answer, request_id: &str, client_request_id: Option<&str>) -> Response {
    if answer.drop {
        let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        r.extensions_mut().insert(DropConnection);
        return r;
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let client_request_id = client_request_id.unwrap_or(request_id);
    add_inner_error(&mut answer.body, request_id, client_request_id);
    let mut response = match answer.body {
        Some(b) => (status, axum::Json(b)).into_response(),
        None => status.into_response(),
    };
    let h = response.headers_mut();
    for (name, value) in [("request-id", request_id), ("client-request-id", client_request_id)] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    for (name, value) in answer.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    response
}

/// The bearer token's grant, or the 401 Graph gives.
pub(super) fn authorize(s: &Shared, headers: &HeaderMap) -> Result<Issued, Answer> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .unwrap_or("");
    if token.is_empty() {
        return Err(Answer::error(401, "InvalidAuthenticationToken", "Access token is empty."));
    }
    match s.tokens.lock().expect("tokens lock").get(token) {
        None => Err(Answer::error(
            401,
            "InvalidAuthenticationToken",
            "IDX14100: JWT is not well formed. Access token validation failure.",
        )),
        Some(issued) if issued.expiry <= Instant::now() => Err(Answer::error(
            401,
            "InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired.",
        )),
        Some(issued) => Ok(issued.clone()),
    }
}

/// The `Retry-After` value for a wait, in the configured style (§4.3).
pub(super) fn retry_after(mode: RetryAfterMode, wait: Duration) -> Option<String> {
    match mode {
        RetryAfterMode::Seconds => Some(wait.as_secs_f64().ceil().max(1.0).to_string()),
        RetryAfterMode::Fractional => Some(format!("{:.3}", wait.as_secs_f64().max(0.001))),
        RetryAfterMode::HttpDate => Some(httpdate::fmt_http_date(
            SystemTime::now() + Duration::from_secs_f64(wait.as_secs_f64().ceil().max(1.0)),
        )),
        RetryAfterMode::Absent => None,
    }
}

/// Charges the throttle for one request; a 429 answer when over budget.
pub(super) fn charge(s: &Shared, issued: &Issued, method: &str) -> Result<Vec<(&'static str, String)>, Answer> {
    let is_write = matches!(method, "POST" | "PATCH" | "PUT" | "DELETE");
    let mut headers = vec![("x-ms-resource-unit", "1".to_string())];
    match s
        .throttle
        .lock()
        .expect("throttle lock")
        .charge(&issued.app, &issued.tenant, is_write, Instant::now())
    {
        Ok(admitted) => {
            if let Some(p) = admitted.limit_percentage {
                headers.push(("x-ms-throttle-limit-percentage", format!("{p:.1}")));
            }
            Ok(headers)
        }
        Err(t) => {
            let mut a = Answer::error(429, "TooManyRequests", "Please retry again later.");
            headers.push(("x-ms-throttle-scope", t.scope));
            headers.push(("x-ms-throttle-information", t.information.to_string()));
            if let Some(ra) = retry_after(s.options.retry_after, t.wait) {
                headers.push(("retry-after", ra));
            }
            a.headers = headers;
            Err(a)
        }
    }
}

/// The fault this request meets, if any: a scripted one first, else a random draw.
pub(super) fn pick_fault(s: &Shared, method: &str, transport_ok: bool) -> Option<Effect> {
    {
        let mut faults = s.faults.lock().expect("faults lock");
        if let Some(at) = faults
            .iter()
            .position(|f| f.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method)))
        {
            return faults.remove(at).map(|f| f.effect);
        }
    }
    if s.options.fault_rate <= 0.0 {
        return None;
    }
    let mut dice = s.dice.lock().expect("dice lock");
    if dice.unit() >= s.options.fault_rate {
        return None;
    }
    let kinds: Vec<FaultKind> = s
        .options
        .faults
        .iter()
        .copied()
        .filter(|k| transport_ok || !matches!(k, FaultKind::Drop | FaultKind::Slow | FaultKind::AppliedDrop))
        .collect();
    let kind = *kinds.get(dice.below(kinds.len() as u64) as usize)?;
    Some(match kind {
        FaultKind::E500 => Effect::Status {
            status: 500,
            retry_after: None,
        },
        FaultKind::E502 => Effect::Status {
            status: 502,
            retry_after: None,
        },
        FaultKind::E503 => Effect::Status {
            status: 503,
            retry_after: None,
        },
        FaultKind::E503RetryAfter => Effect::Status {
            status: 503,
            retry_after: retry_after(s.options.retry_after, Duration::from_secs(1)),
        },
        FaultKind::E504 => Effect::Status {
            status: 504,
            retry_after: None,
        },
        FaultKind::E507 => Effect::Status {
            status: 507,
            retry_after: None,
        },
        FaultKind::Drop => Effect::Drop,
        FaultKind::Slow => Effect::Slow,
        FaultKind::Applied500 => Effect::Applied(500),
        FaultKind::AppliedDrop => Effect::AppliedDrop,
        FaultKind::Applied429 => Effect::Applied(429),
    })
}

/// The Graph error for an injected status.
pub(super) fn fault_answer(status: u16, retry_after: Option<String>) -> Answer {
    let (code, message) = match status {
        401 => ("InvalidAuthenticationToken", "Access token validation failure."),
        403 => ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
        429 => ("TooManyRequests", "Please retry again later."),
        500 => ("generalException", "An unspecified error has occurred."),
        502 => ("BadGateway", "The upstream service returned an invalid response."),
        503 => ("serviceNotAvailable", "The service is temporarily unavailable. Please retry later."),
        504 => ("GatewayTimeout", "The upstream service did not respond in time."),
        507 => ("quotaLimitReached", "Insufficient storage to complete the request."),
        _ => ("UnknownError", "Injected fault."),
    };
    let mut a = Answer::error(status, code, message);
    if let Some(ra) = retry_after {
        a.headers.push(("retry-after", ra));
    }
    a
}

/// Applies the effect of a fault around `run`, which processes the request.
pub(super) fn with_fault(effect: Option<Effect>, run: impl FnOnce() -> Answer, slow: Duration) -> Answer {
    let name = effect.as_ref().map(|e| format!("{e:?}"));
    let mut answer = match effect {
        None => return run(),
        Some(Effect::Status { status, retry_after }) => fault_answer(status, retry_after),
        Some(Effect::Drop) => Answer {
            drop: true,
            ..Answer::ok(0, None)
        },
        Some(Effect::Slow) => Answer {
            delay: Some(slow),
            ..run()
        },
        Some(Effect::Applied(status)) => {
            let done = run();
            if done.is_success() { fault_answer(status, None) } else { done }
        }
        Some(Effect::AppliedDrop) => Answer { drop: true, ..run() },
    };
    answer.fault = name;
    answer
}

/// Splits a raw path into decoded segments, so `%2F` inside a UPN stays inside its segment.
pub(super) fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

/// Handles one Graph request; returns the answer and the state changes it made.
fn handle(
    s: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    request_id: &str,
) -> (Answer, Vec<super::tenant::Change>) {
    let issued = match authorize(s, headers) {
        Ok(i) => i,
        Err(a) => return (a, Vec::new()),
    };
    let segs = segments(path);
    let Some((version, rest)) = segs.split_first() else {
        return (Answer::error(400, "BadRequest", "Invalid request."), Vec::new());
    };
    if version != "v1.0" && version != "beta" {
        return (Answer::error(400, "BadRequest", format!("Invalid version: {version}")), Vec::new());
    }
    if rest.len() == 1 && rest[0] == "$batch" {
        if method != Method::POST {
            return (Answer::error(405, "BadRequest", "Only POST is allowed on $batch."), Vec::new());
        }
        // A scripted fault aimed at a method (POST, GET…) is for the operations inside; the
        // envelope takes only faults aimed at `$batch` or at any request.
        let effect = pick_fault(s, "$batch", true);
        let mut changes = Vec::new();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let envelope = batch::Envelope {
            request_id,
            client_request_id: header("client-request-id"),
            priority: header("x-ms-throttle-priority"),
        };
        let answer = with_fault(effect, || batch::run(s, version, &issued, body, &envelope, &mut changes), s.slow());
        return (answer, changes);
    }
    let mut changes = Vec::new();
    let answer = match charge(s, &issued, method.as_str()) {
        Err(throttled) => throttled,
        Ok(ru_headers) => {
            let effect = pick_fault(s, method.as_str(), true);
            let mut a = with_fault(effect, || dispatch(s, version, method.as_str(), rest, body, &mut changes), s.slow());
            a.headers.extend(ru_headers);
            a
        }
    };
    (answer, changes)
}

/// The user named by `users/{x}` or `users('{x}')` (graph-contract §1.9), and the rest of the path.
fn user_of(segs: &[String]) -> Result<(String, &[String]), Answer> {
    let not_found = |seg: &str| Answer::error(400, "BadRequest", format!("Resource not found for the segment '{seg}'."));
    let first = segs.first().ok_or_else(|| not_found(""))?;
    if first.eq_ignore_ascii_case("users") {
        let user = segs.get(1).ok_or_else(|| not_found("users"))?;
        if user.starts_with('$') {
            return Err(Answer::error(
                400,
                "BadRequest",
                format!("Invalid object identifier '{user}'. Use the users('{user}') form for a name that starts with $."),
            ));
        }
        return Ok((user.clone(), &segs[2..]));
    }
    let inner = first
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("users('"))
        .and_then(|_| first[7..].strip_suffix("')"))
        .ok_or_else(|| not_found(first))?;
    Ok((inner.replace("''", "'"), &segs[1..]))
}

fn is(segment: &str, name: &str) -> bool {
    segment.eq_ignore_ascii_case(name)
}

/// Serves one phone-method request; shared by plain requests and `$batch` items.
pub(super) fn dispatch(
    s: &Shared,
    version: &str,
    method: &str,
    rest: &[String],
    body: &[u8],
    changes: &mut Vec<super::tenant::Change>,
) -> Answer {
    let (user, tail) = match user_of(rest) {
        Ok(v) => v,
        Err(a) => return a,
    };
    let names: Vec<&str> = tail.iter().map(String::as_str).collect();
    let parse_body = || -> Result<Value, Answer> {
        serde_json::from_slice(body).map_err(|_| {
            Answer::error(
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            )
        })
    };
    let context = |suffix: &str| {
        format!(
            "https://graph.microsoft.com/{version}/$metadata#users('{}')/authentication/{suffix}",
            percent_encoding::utf8_percent_encode(&user, CONTEXT_SEGMENT)
        )
    };
    let mut tenant = s.tenant.lock().expect("tenant lock");
    let u = match tenant.user(&user) {
        Ok(u) => u,
        Err(f) => return f.into(),
    };
    let phone_methods = names.len() >= 2 && is(names[0], "authentication") && is(names[1], "phoneMethods");
    let action = |n: &str| names.len() == 4 && (is(names[3], n) || is(names[3], &format!("microsoft.graph.{n}")));
    let result: Result<Answer, Failure> = match (method, names.len()) {
        ("GET", 2) if names[0].eq_ignore_ascii_case("authentication") && is(names[1], "methods") => Ok(Answer::ok(
            200,
            Some(json!({"@odata.context": context("methods"), "value": tenant.all_methods(u)})),
        )),
        ("GET", 2) if phone_methods => Ok(Answer::ok(
            200,
            Some(json!({"@odata.context": context("phoneMethods"), "value": tenant.list(u)})),
        )),
        ("GET", 3) if phone_methods => tenant.get(u, names[2]).map(|mut v| {
            v["@odata.context"] = json!(context("phoneMethods/$entity"));
            Answer::ok(200, Some(v))
        }),
        ("POST", 2) if phone_methods => match parse_body() {
            Ok(b) => tenant.create(u, &b).map(|v| Answer::ok(s.options.create_status, Some(v))),
            Err(a) => return a,
        },
        ("PATCH", 3) if phone_methods => match parse_body() {
            Ok(b) => tenant.update(u, names[2], &b).map(|v| match s.options.update_response {
                super::options::UpdateResponse::Empty => Answer::ok(204, None),
                super::options::UpdateResponse::Body => Answer::ok(200, Some(v)),
            }),
            Err(a) => return a,
        },
        ("DELETE", 3) if phone_methods => tenant.delete(u, names[2]).map(|()| Answer::ok(204, None)),
        ("POST", 4) if phone_methods && action("enableSmsSignIn") => tenant.sms_sign_in(u, names[2], true).map(|()| Answer::ok(204, None)),
        ("POST", 4) if phone_methods && action("disableSmsSignIn") => {
            tenant.sms_sign_in(u, names[2], false).map(|()| Answer::ok(204, None))
        }
        (_, 2..=4) if phone_methods => Ok(Answer::error(
            405,
            "Request_BadRequest",
            format!("The HTTP method '{method}' is not allowed on this resource."),
        )),
        _ => Ok(Answer::error(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{}'.", names.first().copied().unwrap_or("")),
        )),
    };
    changes.extend(tenant.take_changes());
    result.unwrap_or_else(Answer::from)
}
