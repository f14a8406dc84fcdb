//! One Graph answer (status, body, headers, or a dropped connection) and how it becomes an HTTP
//! response with the correlation headers and `innerError` Graph adds (docs/graph.md#error-bodies).
//! Shared by plain requests, `$batch` items and the token endpoint.

use crate::tenant::Failure;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::time::Duration;

/// Marks a response whose connection must be dropped instead of answered.
#[derive(Clone, Copy)]
pub(crate) struct DropConnection;

/// A response whose connection is dropped instead of answered.
pub(crate) fn dropped() -> Response {
    let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    r.extensions_mut().insert(DropConnection);
    r
}

/// The answer to one Graph request (or `$batch` item), before correlation headers are added.
#[derive(Debug)]
pub(crate) struct Answer {
    /// HTTP status.
    pub status: u16,
    /// JSON body, if any.
    pub body: Option<Value>,
    /// Headers besides the correlation headers every answer gets.
    pub headers: Vec<(&'static str, String)>,
    /// Drop the connection instead of answering.
    pub drop: bool,
    /// Hold the answer this long.
    pub delay: Option<Duration>,
    /// The fault injected, for the journal.
    pub fault: Option<String>,
}

impl Answer {
    /// An answer with `status` and `body`.
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

    /// A Graph error: `{"error": {"code", "message"}}` with `status`.
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Answer {
        let message: String = message.into();
        Answer::ok(status, Some(json!({"error": {"code": code, "message": message}})))
    }

    /// The 403 for a permission the app lacks.
    pub fn insufficient_privileges() -> Answer {
        Answer::error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    /// Whether the status is 2xx.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl From<Failure> for Answer {
    fn from(f: Failure) -> Answer {
        Answer::error(f.status, &f.code, f.message)
    }
}

/// Adds `innerError` (date, request-id, client-request-id) to an error body (docs/graph.md#error-bodies).
pub(crate) fn add_inner_error(body: &mut Option<Value>, request_id: &str, client_request_id: &str) {
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

/// Turns an answer into a response with the headers Graph sends on every response.
pub(crate) fn respond(mut answer: Answer, request_id: &str, client_request_id: Option<&str>) -> Response {
    if answer.drop {
        return dropped();
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
