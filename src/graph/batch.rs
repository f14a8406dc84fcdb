//! JSON batching (graph-contract.md §4.5): requests from all workers are gathered into
//! `POST /v1.0/$batch` calls of up to 20 items. A user's chain of writes travels in one batch,
//! linked with `dependsOn`, so Graph runs it in order and answers 424 for the dependents of a
//! failure. Items are correlated by id (the answer's order is not the request's). v1.0 and beta
//! never share a batch: this batcher only speaks v1.0.

use super::{GraphClient, header, retry};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, oneshot};

/// Graph's limit on requests per batch.
pub const MAX_ITEMS: usize = 20;
/// How long the batcher waits for more work before sending a partly filled batch.
const LINGER: Duration = Duration::from_millis(5);

/// One request inside a batch.
#[derive(Debug, Clone)]
pub struct Item {
    /// `GET`, `POST`, `PATCH` or `DELETE`.
    pub method: reqwest::Method,
    /// Relative URL without version, e.g. `/users/kim%40contoso.com/authentication/phoneMethods`.
    pub url: String,
    /// JSON body, if any.
    pub body: Option<Value>,
    /// Indexes, within the same job, of the items this one depends on.
    pub depends_on: Vec<usize>,
}

/// Graph's answer to one item, or why there was none.
#[derive(Debug, Clone)]
pub struct ItemReply {
    /// Item status; `None` when the batch call itself failed.
    pub status: Option<u16>,
    /// Item body.
    pub body: Value,
    /// `Retry-After` from the item's headers.
    pub retry_after: Option<Duration>,
    /// The batch call's `request-id`.
    pub request_id: Option<String>,
    /// The batch call's `client-request-id`.
    pub client_request_id: String,
}

struct Job {
    items: Vec<Item>,
    reply: oneshot::Sender<Vec<ItemReply>>,
}

/// Gathers jobs into batches. Cloning shares the same batcher.
#[derive(Clone)]
pub struct Batcher {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Batcher {
    /// Starts the batcher task for `client`, sending batches of at most `size` items.
    pub fn start(client: std::sync::Weak<GraphClient>, size: usize) -> Batcher {
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        let size = size.clamp(1, MAX_ITEMS);
        tokio::spawn(async move {
            let mut waiting: Option<Job> = None;
            loop {
                let first = match waiting.take() {
                    Some(j) => j,
                    None => match rx.recv().await {
                        Some(j) => j,
                        None => return,
                    },
                };
                let mut batch = vec![first];
                let mut count = batch[0].items.len();
                let deadline = tokio::time::Instant::now() + LINGER;
                while count < size {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(j)) if count + j.items.len() <= size => {
                            count += j.items.len();
                            batch.push(j);
                        }
                        Ok(Some(j)) => {
                            waiting = Some(j);
                            break;
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
                let Some(client) = client.upgrade() else { return };
                tokio::spawn(async move { send(&client, batch).await });
            }
        });
        Batcher { jobs }
    }

    /// Sends `items` (at most [`MAX_ITEMS`]) in one batch with other work; replies align with items.
    pub async fn submit(&self, items: Vec<Item>) -> Vec<ItemReply> {
        let n = items.len();
        let (reply, rx) = oneshot::channel();
        if self.jobs.send(Job { items, reply }).is_err() {
            return vec![failed("the batcher has stopped".into(), String::new()); n];
        }
        rx.await
            .unwrap_or_else(|_| vec![failed("the batch was lost".into(), String::new()); n])
    }
}

impl ItemReply {
    /// The call data of this item, for the report: the batch's ids, one attempt.
    pub fn info(&self, started: Instant) -> super::CallInfo {
        super::CallInfo {
            status: self.status,
            request_id: self.request_id.clone(),
            client_request_id: self.client_request_id.clone(),
            attempts: 1,
            elapsed: started.elapsed(),
            confirmed_by_reread: false,
        }
    }
}

fn failed(message: String, client_request_id: String) -> ItemReply {
    ItemReply {
        status: None,
        body: json!({"error": {"code": "transport", "message": message}}),
        retry_after: None,
        request_id: None,
        client_request_id,
    }
}

/// Sends one batch and hands every job its replies.
async fn send(client: &GraphClient, jobs: Vec<Job>) {
    let mut requests = Vec::new();
    let mut ranges = Vec::new();
    for job in &jobs {
        let start = requests.len();
        for (i, item) in job.items.iter().enumerate() {
            let id = (start + i + 1).to_string();
            let mut r = json!({"id": id, "method": item.method.as_str(), "url": item.url});
            if let Some(b) = &item.body {
                r["body"] = b.clone();
                r["headers"] = json!({"Content-Type": "application/json"});
            }
            if !item.depends_on.is_empty() {
                r["dependsOn"] = json!(item.depends_on.iter().map(|d| (start + d + 1).to_string()).collect::<Vec<_>>());
            }
            requests.push(r);
        }
        ranges.push(start..requests.len());
    }
    let client_request_id = uuid::Uuid::new_v4().to_string();
    let queued = Instant::now();
    for _ in 0..requests.len() {
        client.pacer.ready().await;
    }
    let paced = queued.elapsed();
    let outcome = post(client, &json!({"requests": requests}), &client_request_id).await;
    tracing::debug!(
        items = requests.len(),
        paced_ms = paced.as_millis() as u64,
        total_ms = queued.elapsed().as_millis() as u64,
        ok = outcome.is_ok(),
        "batch sent"
    );
    let replies: Vec<ItemReply> = match outcome {
        Err(message) => vec![failed(message, client_request_id.clone()); requests.len()],
        Ok((request_id, body)) => {
            let mut by_id = vec![None; requests.len()];
            for r in body["responses"].as_array().into_iter().flatten() {
                let Some(n) = r["id"]
                    .as_str()
                    .and_then(|id| id.parse::<usize>().ok())
                    .filter(|n| (1..=requests.len()).contains(n))
                else {
                    continue;
                };
                let status = r["status"].as_u64().map(|s| s as u16);
                let retry_after = r["headers"]
                    .as_object()
                    .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("retry-after")))
                    .and_then(|(_, v)| v.as_str())
                    .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
                if status == Some(429) {
                    client.stats.throttled.fetch_add(1, Ordering::Relaxed);
                    client.pacer.throttled(retry_after);
                }
                by_id[n - 1] = Some(ItemReply {
                    status,
                    body: r.get("body").cloned().unwrap_or(Value::Null),
                    retry_after,
                    request_id: request_id.clone(),
                    client_request_id: client_request_id.clone(),
                });
            }
            by_id
                .into_iter()
                .map(|r| r.unwrap_or_else(|| failed("the batch answer had no response for this item".into(), client_request_id.clone())))
                .collect()
        }
    };
    for (job, range) in jobs.into_iter().zip(ranges) {
        let _ = job.reply.send(replies[range].to_vec());
    }
}

/// Posts the batch once (the signed send signs in again once on 401); item-level retries happen per item.
async fn post(client: &GraphClient, body: &Value, client_request_id: &str) -> Result<(Option<String>, Value), String> {
    let started = Instant::now();
    let items = body["requests"].as_array().map_or(0, Vec::len) as u64;
    let url = format!("{}/$batch", client.base);
    let response = match client
        .send_signed(&reqwest::Method::POST, &url, Some(body), client_request_id, items)
        .await
    {
        Ok(r) => r,
        Err(super::SendError::SignIn(e)) => return Err(e.to_string()),
        Err(super::SendError::Transport(e)) => return Err(e.without_url().to_string()),
    };
    let status = response.status().as_u16();
    let request_id = header(&response, "request-id");
    let bytes = response.bytes().await.map_err(|e| e.without_url().to_string())?;
    if !(200..300).contains(&status) {
        let (code, message) = super::error_body(&bytes);
        return Err(format!(
            "the batch failed after {} ms: HTTP {status} {code}: {message}",
            started.elapsed().as_millis()
        ));
    }
    serde_json::from_slice(&bytes)
        .map(|v| (request_id, v))
        .map_err(|e| format!("unreadable batch answer: {e}"))
}
