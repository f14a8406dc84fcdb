//! `POST /{version}/$batch` (docs/graph.md#batch): up to 20 requests, ids unique, `dependsOn`
//! chains run in order with 424 for dependents of a failure, each item throttled and faulted on
//! its own, responses in an order that is not the request order, and every item served under the
//! batch's version. Each item is journaled as its own request, with its own `request-id` (also in
//! its response's `headers`) and its own `client-request-id` and `x-phonesync-after` when its
//! `headers` carry them.

use crate::access::Issued;
use crate::answer::{Answer, add_inner_error};
use crate::call::Operation;
use crate::gate::charge;
use crate::graph::{dispatch, segments};
use crate::inject::with_fault;
use crate::journal::{AFTER_HEADER, Event, RequestRecord, after_ops};
use crate::shared::Shared;
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

impl Item {
    /// A header of the item (names compared without case), if it is text.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What the items of a batch inherit from its envelope.
pub(crate) struct Envelope<'a> {
    /// The envelope's `request-id`.
    pub request_id: &'a str,
    /// The client's `client-request-id` on the envelope.
    pub client_request_id: Option<&'a str>,
    /// The client's `x-ms-throttle-priority` on the envelope.
    pub priority: Option<&'a str>,
}

/// Runs a batch; the outer answer is 200 whenever the batch itself is well formed.
pub(crate) fn run(s: &Shared, version: &str, issued: &Issued, body: &[u8], envelope: &Envelope) -> Answer {
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
        let item = &items[n];
        let client_request_id = item.header("client-request-id").or(envelope.client_request_id);
        let answer = if failed_dependency {
            Answer::error(424, "FailedDependency", "The request depends on a request that failed.")
        } else {
            run_item(s, version, issued, item, client_request_id)
        };
        done[n] = Some(answer.status);
        drop_connection |= answer.drop;
        delay = delay.max(answer.delay);
        let item_request_id = uuid::Uuid::new_v4().to_string();
        s.journal.record([Event::Request(RequestRecord {
            method: item.method.to_uppercase(),
            path: format!("/{version}{}", item.url),
            status: answer.status,
            request_id: item_request_id.clone(),
            client_request_id: client_request_id.map(str::to_string),
            after: after_ops(item.header(AFTER_HEADER)),
            batch_item: Some(ids[n].clone()),
            envelope: Some(envelope.request_id.to_string()),
            fault: answer.fault.clone(),
            throttle_priority: envelope.priority.map(str::to_string),
        })]);
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

/// Serves one item; `by` is the op id its changes are journaled as made by.
fn run_item(s: &Shared, version: &str, issued: &Issued, item: &Item, by: Option<&str>) -> Answer {
    let method = item.method.to_uppercase();
    let (path, query) = item.url.split_once('?').unwrap_or((&item.url, ""));
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
    let operation = Operation {
        version,
        method: &method,
        rest: &segs,
        query,
        body: &body,
        by,
        caller: issued,
    };
    // Random transport faults belong to the HTTP call, not to an item inside it.
    let mut answer = with_fault(s, &method, &item.url, false, || dispatch(s, &operation));
    answer.headers.extend(headers);
    answer
}

/// An item's entry in `responses`, with its own `request-id` in its `headers`.
fn item_response(id: &str, mut answer: Answer, request_id: &str, outer_request_id: &str) -> Value {
    add_inner_error(&mut answer.body, request_id, outer_request_id);
    let mut headers: Map<String, Value> = answer.headers.into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect();
    headers.insert("request-id".into(), json!(request_id));
    if answer.body.is_some() {
        headers.insert("content-type".into(), json!("application/json"));
    }
    let mut v = json!({"id": id, "status": answer.status, "headers": headers});
    if let Some(b) = answer.body {
        v["body"] = b;
    }
    v
}
