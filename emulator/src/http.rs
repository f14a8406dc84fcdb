//! The emulator's HTTP surface: the routes (Graph's paths for both versions, the token endpoint,
//! the `/_emulator` routes for state, journal and scripted faults), latency, and the request
//! journal. Before an operation runs it passes the token check and the throttle (`gate.rs`) and
//! meets any injected fault (`inject.rs`); what it does is `graph.rs`'s and the resources'
//! (`resources/`); `$batch` is in `batch.rs`.

use crate::answer::{Answer, respond};
use crate::call::Operation;
use crate::gate::{authorize, charge};
use crate::graph::{dispatch, segments};
use crate::inject::with_fault;
use crate::journal::{AFTER_HEADER, Event, RequestRecord, after_ops};
use crate::shared::Shared;
use crate::{batch, fault, token};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use std::sync::Arc;

/// Every route the emulator serves; what no route names is a Graph call.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(token::device_code))
        .route("/_emulator/devicelogin", post(token::approve))
        .route("/_emulator/state", get(state))
        .route("/_emulator/journal", get(journal))
        .route("/_emulator/faults", get(faults).post(add_faults).delete(clear_faults))
        .fallback(graph)
        .with_state(shared)
}

async fn state(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.tenant.lock().expect("tenant lock").to_seed()).into_response()
}

async fn journal(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.journal.entries()).into_response()
}

/// `GET /_emulator/faults`: the scripted faults still queued.
async fn faults(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.faults.list()).into_response()
}

/// `POST /_emulator/faults`: queues a JSON array of faults; answers with the whole queue.
async fn add_faults(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    match fault::parse_list(&body) {
        Ok(list) => {
            s.faults.extend(list);
            faults(State(s)).await
        }
        Err(e) => (StatusCode::BAD_REQUEST, axum::Json(json!({"error": e}))).into_response(),
    }
}

/// `DELETE /_emulator/faults`: forgets every queued fault.
async fn clear_faults(State(s): State<Arc<Shared>>) -> Response {
    s.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn graph(State(s): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let _open = s.calls.open();
    let request_id = uuid::Uuid::new_v4().to_string();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let client_request_id = header("client-request-id").map(str::to_string);
    let latency = s.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let answer = handle(&s, &method, &uri, &headers, &body, &request_id);
    s.journal.record([Event::Request(RequestRecord {
        method: method.to_string(),
        path: uri.path().to_string(),
        status: if answer.drop { 0 } else { answer.status },
        request_id: request_id.clone(),
        client_request_id: client_request_id.clone(),
        after: after_ops(header(AFTER_HEADER)),
        batch_item: None,
        envelope: None,
        fault: answer.fault.clone(),
        throttle_priority: header("x-ms-throttle-priority").map(str::to_string),
    })]);
    if let Some(d) = answer.delay {
        tokio::time::sleep(d).await;
    }
    respond(answer, &request_id, client_request_id.as_deref())
}

/// Handles one Graph request (changes it makes go to the journal as they are made).
fn handle(s: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8], request_id: &str) -> Answer {
    let issued = match authorize(s, headers) {
        Ok(i) => i,
        Err(a) => return a,
    };
    let segs = segments(uri.path());
    let Some((version, rest)) = segs.split_first() else {
        return Answer::error(400, "BadRequest", "Invalid request.");
    };
    if version != "v1.0" && version != "beta" {
        return Answer::error(400, "BadRequest", format!("Invalid version: {version}"));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if rest.len() == 1 && rest[0] == "$batch" {
        if method != Method::POST {
            return Answer::error(405, "BadRequest", "Only POST is allowed on $batch.");
        }
        let envelope = batch::Envelope {
            request_id,
            client_request_id: header("client-request-id"),
            priority: header("x-ms-throttle-priority"),
        };
        // A scripted fault aimed at a method (POST, GET…) is for the operations inside; the
        // envelope takes only faults aimed at `$batch` or at any request.
        return with_fault(s, fault::BATCH, uri.path(), true, || {
            batch::run(s, version, &issued, body, &envelope)
        });
    }
    match charge(s, &issued, method.as_str()) {
        Err(throttled) => throttled,
        Ok(ru_headers) => {
            let operation = Operation {
                version,
                method: method.as_str(),
                rest,
                query: uri.query().unwrap_or(""),
                body,
                by: header("client-request-id"),
                caller: &issued,
            };
            let mut a = with_fault(s, method.as_str(), uri.path(), true, || dispatch(s, &operation));
            a.headers.extend(ru_headers);
            a
        }
    }
}
