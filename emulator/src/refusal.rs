//! Entra's refusals at the token endpoint: the OAuth error body (`error`, an
//! `error_description` that starts with the AADSTS code, `error_codes`, trace and correlation
//! ids), and the refusal a scripted status fault aimed at the endpoint makes. Shared by the
//! grant checks (token.rs) and the client-assertion checks (assertion.rs).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A token-service refusal.
pub(crate) struct Refusal {
    status: StatusCode,
    error: String,
    code: u32,
    description: String,
}

/// A refusal with HTTP `status`, OAuth `error`, AADSTS `code` and `description`.
pub(crate) fn refuse(status: StatusCode, error: impl Into<String>, code: u32, description: impl Into<String>) -> Refusal {
    Refusal {
        status,
        error: error.into(),
        code,
        description: description.into(),
    }
}

/// The refusal a scripted status fault makes: an OAuth error (`temporarily_unavailable` for
/// 429 and 503/504, `server_error` for other 5xx, `invalid_client` for 401, `invalid_request` for
/// other 4xx) unless the fault names its own `code` and `message`.
pub(crate) fn fault_refusal(status: u16, code: Option<String>, message: Option<String>) -> Refusal {
    let (error, description) = match status {
        429 | 503 | 504 => (
            "temporarily_unavailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        401 => ("invalid_client", "Client authentication failed."),
        500..=599 => ("server_error", "An unexpected error occurred on the server."),
        _ => ("invalid_request", "The request is not valid."),
    };
    refuse(
        StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        code.unwrap_or_else(|| error.to_string()),
        90033,
        message.unwrap_or_else(|| description.to_string()),
    )
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let trace = uuid::Uuid::new_v4().to_string();
        let body = json!({
            "error": self.error,
            "error_description": format!("AADSTS{}: {} Trace ID: {trace}", self.code, self.description),
            "error_codes": [self.code],
            "timestamp": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "trace_id": trace,
            "correlation_id": uuid::Uuid::new_v4().to_string(),
        });
        (self.status, axum::Json(body)).into_response()
    }
}
