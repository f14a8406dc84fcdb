//! The emulator's HTTP surface: Graph's paths, error bodies and correlation headers (§3), the
//! bearer-token check, the OAuth token endpoint (§5), and the `/_emulator` inspection routes.

use super::tenant::Failure;
use super::{JournalEntry, Shared};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/_emulator/state", get(state))
        .route("/_emulator/journal", get(journal))
        .fallback(graph)
        .with_state(shared)
}

async fn state(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.tenant.lock().expect("tenant lock").to_seed()).into_response()
}

async fn journal(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.journal.lock().expect("journal lock").clone()).into_response()
}

/// The answer to one Graph request, before headers are added.
struct Answer {
    status: u16,
    body: Option<Value>,
    retry_after: Option<String>,
}

impl Answer {
    fn ok(status: u16, body: Option<Value>) -> Answer {
        Answer {
            status,
            body,
            retry_after: None,
        }
    }

    fn error(status: u16, code: &str, message: impl Into<String>) -> Answer {
        let message: String = message.into();
        Answer {
            status,
            body: Some(json!({"error": {"code": code, "message": message}})),
            retry_after: None,
        }
    }
}

impl From<Failure> for Answer {
    fn from(f: Failure) -> Answer {
        Answer::error(f.status, f.code, f.message)
    }
}

async fn graph(State(s): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = headers.get("client-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let answer = match authorize(&s, &headers) {
        Err(a) => a,
        Ok(()) => match take_fault(&s, &method) {
            Some(fault) => fault_answer(fault.status, fault.retry_after),
            None => dispatch(&s, &method, uri.path(), &body),
        },
    };
    {
        let mut journal = s.journal.lock().expect("journal lock");
        let seq = journal.len() as u64 + 1;
        journal.push(JournalEntry {
            seq,
            method: method.to_string(),
            path: uri.path().to_string(),
            status: answer.status,
            request_id: request_id.clone(),
            client_request_id: client_request_id.clone(),
        });
    }
    respond(answer, &request_id, client_request_id.as_deref())
}

/// Adds the correlation headers Graph sends on every response and the `innerError` block to
/// error bodies.
fn respond(answer: Answer, request_id: &str, client_request_id: Option<&str>) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let client_request_id = client_request_id.unwrap_or(request_id);
    let mut body = answer.body;
    if let Some(error) = body.as_mut().and_then(|b| b.get_mut("error")).and_then(Value::as_object_mut) {
        let date = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"))
            .unwrap_or_default();
        error.insert(
            "innerError".into(),
            json!({"date": date, "request-id": request_id, "client-request-id": client_request_id}),
        );
    }
    let mut response = match body {
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
    if let Some(ra) = answer.retry_after.and_then(|r| HeaderValue::from_str(&r).ok()) {
        h.insert("retry-after", ra);
    }
    response
}

fn authorize(s: &Shared, headers: &HeaderMap) -> Result<(), Answer> {
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
            "Access token validation failure. Invalid audience.",
        )),
        Some(expiry) if *expiry <= Instant::now() => Err(Answer::error(
            401,
            "InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired.",
        )),
        Some(_) => Ok(()),
    }
}

/// The first queued fault that matches this request, removed from the queue.
fn take_fault(s: &Shared, method: &Method) -> Option<super::Fault> {
    let mut faults = s.faults.lock().expect("faults lock");
    let at = faults
        .iter()
        .position(|f| f.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method.as_str())))?;
    faults.remove(at)
}

fn fault_answer(status: u16, retry_after: Option<String>) -> Answer {
    let (code, message) = match status {
        429 => ("TooManyRequests", "Please retry again later."),
        503 => ("serviceNotAvailable", "The service is temporarily unavailable. Please retry later."),
        504 => ("UnknownError", "The upstream service did not respond in time."),
        500 => ("generalException", "An unspecified error has occurred."),
        _ => ("UnknownError", "Injected fault."),
    };
    Answer {
        retry_after,
        ..Answer::error(status, code, message)
    }
}

/// Splits a raw path into decoded segments, so `%2F` inside a UPN stays inside its segment.
fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

/// The user named by `users/{x}` or `users('{x}')` (graph-contract §1.9).
fn user_of(segs: &[String]) -> Option<(String, &[String])> {
    let first = segs.first()?;
    if first.eq_ignore_ascii_case("users") {
        let user = segs.get(1)?;
        if user.starts_with('$') {
            return None; // Graph needs the users('$…') form for these
        }
        return Some((user.clone(), &segs[2..]));
    }
    let inner = first
        .strip_prefix("users('")
        .or_else(|| first.strip_prefix("Users('"))?
        .strip_suffix("')")?;
    Some((inner.replace("''", "'"), &segs[1..]))
}

fn dispatch(s: &Shared, method: &Method, path: &str, body: &[u8]) -> Answer {
    let segs = segments(path);
    let Some((version, rest)) = segs.split_first() else {
        return Answer::error(400, "BadRequest", "Invalid request.");
    };
    if version != "v1.0" {
        return Answer::error(400, "BadRequest", format!("Invalid version: {version}"));
    }
    let Some((user, tail)) = user_of(rest) else {
        return Answer::error(
            400,
            "BadRequest",
            format!(
                "Resource not found for the segment '{}'.",
                rest.first().map(String::as_str).unwrap_or("")
            ),
        );
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
            "https://graph.microsoft.com/v1.0/$metadata#users('{}')/authentication/phoneMethods{suffix}",
            percent_encoding::utf8_percent_encode(&user, percent_encoding::NON_ALPHANUMERIC)
        )
    };
    let mut tenant = s.tenant.lock().expect("tenant lock");
    let result = match (method.as_str(), names.as_slice()) {
        ("GET", [a, p]) if is(a, "authentication") && is(p, "phoneMethods") => tenant
            .list(&user)
            .map(|v| Answer::ok(200, Some(json!({"@odata.context": context(""), "value": v})))),
        ("GET", [a, p, id]) if is(a, "authentication") && is(p, "phoneMethods") => tenant.get(&user, id).map(|mut v| {
            v["@odata.context"] = json!(context("/$entity"));
            Answer::ok(200, Some(v))
        }),
        ("POST", [a, p]) if is(a, "authentication") && is(p, "phoneMethods") => match parse_body() {
            Ok(b) => tenant.create(&user, &b).map(|v| Answer::ok(201, Some(v))),
            Err(a) => return a,
        },
        ("PATCH", [a, p, id]) if is(a, "authentication") && is(p, "phoneMethods") => match parse_body() {
            Ok(b) => tenant.update(&user, id, &b).map(|()| Answer::ok(204, None)),
            Err(a) => return a,
        },
        ("DELETE", [a, p, id]) if is(a, "authentication") && is(p, "phoneMethods") => {
            tenant.delete(&user, id).map(|()| Answer::ok(204, None))
        }
        (_, [a, p, ..]) if is(a, "authentication") && is(p, "phoneMethods") => {
            return Answer::error(
                405,
                "Request_BadRequest",
                format!("The HTTP method '{method}' is not allowed on this resource."),
            );
        }
        _ => {
            return Answer::error(
                400,
                "BadRequest",
                format!("Resource not found for the segment '{}'.", names.first().copied().unwrap_or("")),
            );
        }
    };
    result.unwrap_or_else(Answer::from)
}

fn is(segment: &str, name: &str) -> bool {
    segment.eq_ignore_ascii_case(name)
}

/// `POST /{tenant}/oauth2/v2.0/token`, client-credentials grant with a client secret.
async fn token(State(s): State<Arc<Shared>>, Path(_tenant): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let aad_error = |status: StatusCode, error: &str, code: u32, description: &str| {
        let trace = uuid::Uuid::new_v4().to_string();
        (status, axum::Json(json!({"error": error, "error_description": format!("AADSTS{code}: {description} Trace ID: {trace}"), "error_codes": [code], "trace_id": trace, "correlation_id": uuid::Uuid::new_v4().to_string()}))).into_response()
    };
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    let Some(client_id) = form.get("client_id").filter(|c| !c.is_empty()) else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    if !form.get("scope").is_some_and(|sc| sc.ends_with("/.default") && !sc.contains(' ')) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid. The scope must name one resource with /.default.",
        );
    }
    if s.options.client_id.as_ref().is_some_and(|pinned| pinned != client_id) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            "Application with identifier was not found in the directory.",
        );
    }
    let Some(secret) = form.get("client_secret").filter(|c| !c.is_empty()) else {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client secret provided.",
        );
    };
    if s.options.client_secret.as_ref().is_some_and(|pinned| pinned != secret) {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client secret provided.",
        );
    }
    let access_token = format!("emu.{}", uuid::Uuid::new_v4().simple());
    let lifetime = s.options.token_lifetime;
    s.tokens
        .lock()
        .expect("tokens lock")
        .insert(access_token.clone(), Instant::now() + lifetime);
    axum::Json(json!({"token_type": "Bearer", "expires_in": lifetime.as_secs(), "ext_expires_in": lifetime.as_secs(), "access_token": access_token})).into_response()
}
