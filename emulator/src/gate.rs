//! What a Graph call passes before an operation runs, alone or as a `$batch` item: the
//! bearer-token check (401 as Graph gives it) and the throttle's charge (429 with Graph's
//! headers, docs/graph.md#throttling; the bucket model is throttle.rs's).

use crate::access::Issued;
use crate::answer::Answer;
use crate::shared::Shared;
use crate::throttle::retry_after;
use axum::http::HeaderMap;
use std::time::Instant;

/// The bearer token's grant, or the 401 Graph gives.
pub(crate) fn authorize(s: &Shared, headers: &HeaderMap) -> Result<Issued, Answer> {
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

/// Charges the throttle for one request; a 429 answer when over budget.
pub(crate) fn charge(s: &Shared, issued: &Issued, method: &str) -> Result<Vec<(&'static str, String)>, Answer> {
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
