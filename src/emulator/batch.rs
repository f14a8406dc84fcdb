//! `POST /{version}/$batch` (graph-contract.md §4.5): up to 20 requests, ids unique, `dependsOn`
//! chains run in order with 424 for dependents of a failure, each item throttled and faulted on
//! its own, responses in an order that is not the request order, and every item served under the
//! batch's version.

use super::http::{Answer, add_inner_error, charge, dispatch, pick_fault, segments, with_fault};
use super::journal::{Event, RequestRecord};
use super::tenant::Change;
use super::{Issued, Shared};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Graph's limit on requests in one batch.
pub const MAX_REQUESTS: usize = 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    id: Value,
    method: String,
    url: String,
    #[serde(default)]
    headers: Map<String, Value>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    depends_on: Vec<Value>,
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Runs a batch; the outer answer is 200 whenever the batch itself is well formed.
/// What the items of a batch inherit from its envelope.
pub(super) struct Envelope<'a> {
    /// The envelope's `request-id`.
    pub request_id: &'a str,
    /// The client's `client-request-id` on the envelope.
    pub client_request_id: Option<&'a str>,
    /// The client's `x-ms-throttle-priority` on the envelope.
    pub priority: Option<&'a str>,
}

pub(super) fn run(s: &Shared, version: &str, issued: &Issued, body: &[u8], envelope: &Envelope, changes: &mut Vec<Change>) -> Answer {
    let bad = |m: &str| Answer::error(400, "BadRequest", m);
    #[derive(Deserialize)]
    struct Payload {
        requests: Vec<Item>,
    }
    let payload: Payload = match serde_json::from_slice(body) {
        Ok(p) => p,
        Err(e) => return bad(&format!("Invalid batch payload: {e}.")),
    };
    let items = payload.requests;
    if items.is_empty() {
        return bad("The batch must contain at least one request.");
    }
    if items.len() > MAX_REQUESTS {
        return bad(&format!(
            "Number of requests in the batch ({}) exceeds the limit of {MAX_REQUESTS}.",
            items.len()
        ));
    }
    let mut ids = Vec::with_capacity(items.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    for (n, item) in items.iter().enumerate() {
        let Some(id) = id_text(&item.id) else {
            return bad("Every request in the batch needs an id.");
        };
        if index.insert(id.to_lowercase(), n).is_some() {
            return bad(&format!(
                "Request id '{id}' is not unique in the batch; ids are compared without case."
            ));
        }
        if item.body.is_some() && !item.headers.keys().any(|k| k.eq_ignore_ascii_case("content-type")) {
            return bad(&format!("Write request id : {id} does not contain Content-Type header or body."));
        }
        ids.push(id);
    }
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(items.len());
    for item in &items {
        let mut d = Vec::new();
        for dep in &item.depends_on {
            match id_text(dep).and_then(|t| index.get(&t.to_lowercase()).copied()) {
                Some(i) => d.push(i),
                None => return bad(&format!("dependsOn names '{dep}', which is not a request id in this batch.")),
            }
        }
        deps.push(d);
    }
    // Items without dependencies may run in any order; dependents run after what they name.
    let mut order: Vec<usize> = (0..items.len()).collect();
    s.dice.lock().expect("dice lock").shuffle(&mut order);
    let mut done: Vec<Option<u16>> = vec![None; items.len()];
    // A transport fault scripted onto an item (drop, slow) happens to the whole HTTP call.
    let (mut drop_connection, mut delay) = (false, None);
    let mut responses: Vec<(usize, Value)> = Vec::with_capacity(items.len());
    while responses.len() < items.len() {
        let Some(&n) = order
            .iter()
            .find(|&&n| done[n].is_none() && deps[n].iter().all(|d| done[*d].is_some()))
        else {
            return bad("The dependsOn references in the batch form a cycle.");
        };
        let failed_dependency = deps[n].iter().any(|d| !(200..300).contains(&done[*d].unwrap_or(0)));
        let answer = if failed_dependency {
            Answer::error(424, "FailedDependency", "The request depends on a request that failed.")
        } else {
            run_item(s, version, issued, &items[n], changes)
        };
        done[n] = Some(answer.status);
        drop_connection |= answer.drop;
        delay = delay.max(answer.delay);
        let item_request_id = uuid::Uuid::new_v4().to_string();
        s.journal
            .record(changes.drain(..).map(Event::Change).chain([Event::Request(RequestRecord {
                method: items[n].method.to_uppercase(),
                path: format!("/{version}{}", items[n].url),
                status: answer.status,
                request_id: item_request_id.clone(),
                client_request_id: envelope.client_request_id.map(str::to_string),
                batch_item: Some(ids[n].clone()),
                fault: answer.fault.clone(),
                throttle_priority: envelope.priority.map(str::to_string),
            })]));
        responses.push((n, item_response(&ids[n], answer, &item_request_id, envelope.request_id)));
    }
    let mut shuffled: Vec<Value> = responses.into_iter().map(|(_, v)| v).collect();
    let mut dice = s.dice.lock().expect("dice lock");
    dice.shuffle(&mut shuffled);
    Answer {
        drop: drop_connection,
        delay,
        ..Answer::ok(200, Some(json!({"responses": shuffled})))
    }
}

fn run_item(s: &Shared, version: &str, issued: &Issued, item: &Item, changes: &mut Vec<Change>) -> Answer {
    let method = item.method.to_uppercase();
    let (path, _query) = item.url.split_once('?').unwrap_or((&item.url, ""));
    let lower = path.to_ascii_lowercase();
    if lower.starts_with("http") || lower.starts_with("/v1.0/") || lower.starts_with("/beta/") || lower.contains("$batch") {
        return Answer::error(
            400,
            "BadRequest",
            format!("Invalid request URL '{}': batch URLs are relative and carry no version.", item.url),
        );
    }
    let headers = match charge(s, issued, &method) {
        Ok(h) => h,
        Err(throttled) => return throttled,
    };
    let body = item
        .body
        .as_ref()
        .map(|b| serde_json::to_vec(b).unwrap_or_default())
        .unwrap_or_default();
    let segs = segments(path);
    // Transport faults belong to the HTTP call, not to an item inside it.
    let effect = pick_fault(s, &method, false);
    let mut answer = with_fault(effect, || dispatch(s, version, &method, &segs, &body, changes), s.slow());
    answer.headers.extend(headers);
    answer
}

fn item_response(id: &str, mut answer: Answer, request_id: &str, outer_request_id: &str) -> Value {
    add_inner_error(&mut answer.body, request_id, outer_request_id);
    let mut headers: Map<String, Value> = answer.headers.into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect();
    if answer.body.is_some() {
        headers.insert("content-type".into(), json!("application/json"));
    }
    let mut v = json!({"id": id, "status": answer.status, "headers": headers});
    if let Some(b) = answer.body {
        v["body"] = b;
    }
    v
}
