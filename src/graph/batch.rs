//! JSON batching (docs/graph.md#batch): requests from all workers are gathered into
//! `POST /{version}/$batch` calls of up to 20 items. A user's chain of writes travels in one
//! batch, linked with `dependsOn`, so Graph runs it in order and answers 424 for the dependents
//! of a failure. Items are correlated by id (the answer's order is not the request's). Each
//! version has its own batcher, so v1.0 and beta never share a batch.
//!
//! The batcher only carries attempts: what an item's answer means (retry, re-read, settle) is
//! decided by the client's one per-op state machine, exactly as for a single request.

use crate::graph::rate::Cost;
use crate::graph::request::{AFTER_HEADER, Attempt, Processed, Request, Version, header};
use crate::graph::retry;
use crate::graph::wire::Wire;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Graph's limit on requests per batch.
pub const MAX_ITEMS: usize = 20;
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
    /// The request's `client-request-id`, sent in the item's headers.
    pub client_request_id: String,
    /// Ops this one depends on, sent as the dependency header.
    pub after: Vec<String>,
    /// See [`Request::resend_may_duplicate`].
    pub resend_may_duplicate: bool,
}

impl Item {
    /// The item that carries `request`, depending on nothing in its batch.
    pub fn single(request: &Request) -> Item {
        Item {
            method: request.method.clone(),
            url: request.path.clone(),
            body: request.body.clone(),
            depends_on: Vec::new(),
            client_request_id: request.client_request_id.clone(),
            after: request.after.clone(),
            resend_may_duplicate: request.resend_may_duplicate,
        }
    }
}

struct Job {
    items: Vec<Item>,
    reply: oneshot::Sender<Vec<Attempt>>,
}

/// Gathers jobs into batches of one version. Cloning shares the same batcher.
#[derive(Clone)]
pub struct Batcher {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Batcher {
    /// Starts the batcher task for `client`, sending batches of at most `size` items to
    /// `/{version}/$batch`. With work in hand, the batcher waits for an HTTP call to be free (a
    /// permit of `calls`, shared with the other version's batcher, so it never holds one while
    /// idle); then it takes whatever other work is ready, up to `size` items, and the batch goes
    /// at once. So while every call is in flight work queues up and the next batch leaves full,
    /// and when the queue runs dry an under-filled batch leaves without lingering for more.
    pub fn start(client: std::sync::Weak<Wire>, size: usize, version: Version, calls: Arc<Semaphore>) -> Batcher {
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
                let Ok(permit) = calls.clone().acquire_owned().await else { return };
                let mut batch = vec![first];
                let mut count = batch[0].items.len();
                // Workers woken by the last answers may be about to queue: let them, once.
                tokio::task::yield_now().await;
                while count < size {
                    match rx.try_recv() {
                        Ok(j) if count + j.items.len() <= size => {
                            count += j.items.len();
                            batch.push(j);
                        }
                        Ok(j) => {
                            waiting = Some(j);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let Some(client) = client.upgrade() else { return };
                tokio::spawn(async move {
                    send(&client, version, batch).await;
                    drop(permit);
                });
            }
        });
        Batcher { jobs }
    }

    /// Sends `items` (at most [`MAX_ITEMS`]) in one batch with other work; one attempt per
    /// item, aligned with `items`.
    pub async fn submit(&self, items: Vec<Item>) -> Vec<Attempt> {
        let n = items.len();
        let (reply, rx) = oneshot::channel();
        if self.jobs.send(Job { items, reply }).is_err() {
            return vec![Attempt::unanswered("the batcher has stopped".into(), Processed::No); n];
        }
        rx.await
            .unwrap_or_else(|_| vec![Attempt::unanswered("the batch was lost".into(), Processed::Unknown); n])
    }
}

/// What each item learns from a `$batch` answered with an HTTP error. A refused envelope — a
/// 4xx (401, 400, 429…) or a 503, Graph turning the whole call away — ran nothing inside; any
/// other error (500, 502, 504…) may have come after Graph ran the items, so their writes must be
/// read back before they go again.
fn refused(status: u16, body: Value, retry_after: Option<Duration>, request_id: Option<String>) -> Attempt {
    let processed = if (400..500).contains(&status) || status == 503 {
        Processed::No
    } else {
        Processed::Unknown
    };
    Attempt {
        status: Some(status),
        body,
        retry_after,
        request_id,
        ..Attempt::unanswered(String::new(), processed)
    }
}

/// What each item learns from a `$batch` whose answer was lost (no answer, cut off, unreadable):
/// Graph may have run anything in it.
fn lost(message: String, request_id: Option<String>) -> Attempt {
    Attempt {
        request_id,
        ..Attempt::unanswered(message, Processed::Unknown)
    }
}

/// Sends one batch and hands every job its attempts.
async fn send(client: &Wire, version: Version, mut jobs: Vec<Job>) {
    let (requests, ranges, writes, may_duplicate) = envelope(&mut jobs);
    let client_request_id = uuid::Uuid::new_v4().to_string();
    let queued = Instant::now();
    // Every item costs a resource unit, and a write a write, as Graph counts them; the batch
    // waits for its whole cost at once.
    let mut cost = Cost::default();
    writes.iter().for_each(|w| cost.add(*w));
    let in_time = match client
        .until_stopped(client.pacer.ready(cost, client.deadline.map(Into::into)))
        .await
    {
        Ok(in_time) => in_time,
        Err(reason) => {
            // Stopped, or Graph unreachable, while the batch waited for its turn: send nothing.
            for (job, range) in jobs.into_iter().zip(ranges) {
                let _ = job.reply.send(vec![Attempt::halted(reason.clone()); range.len()]);
            }
            return;
        }
    };
    let paced = queued.elapsed();
    if !in_time {
        // The time limit passed while the batch waited for its turn: send nothing.
        let not_sent = Attempt {
            not_sent: Some(crate::graph::request::NotSent::Deadline),
            ..Attempt::unanswered("the run's time limit was reached".into(), Processed::No)
        };
        for (job, range) in jobs.into_iter().zip(ranges) {
            let _ = job.reply.send(vec![not_sent.clone(); range.len()]);
        }
        return;
    }
    let outcome = post(client, version, &json!({"requests": requests}), &client_request_id).await;
    tracing::debug!(
        items = requests.len(),
        paced_ms = paced.as_millis() as u64,
        total_ms = queued.elapsed().as_millis() as u64,
        ok = outcome.is_ok(),
        "batch sent"
    );
    let attempts: Vec<Attempt> = match outcome {
        Err(failure) => {
            match failure.status {
                // Throttled as a whole: the budget slowed once, in `post`, not once per item.
                Some(429) => {}
                // Unavailable as a whole: the pool waits out its Retry-After once.
                Some(503) => {
                    client.stats.was_throttled();
                    if let Some(wait) = failure.retry_after {
                        client.pacer.pause(wait);
                    }
                }
                _ => {}
            }
            refused_items(&failure, &may_duplicate)
        }
        Ok((envelope_request_id, body)) => answers(client, body, &writes, envelope_request_id),
    };
    for (job, range) in jobs.into_iter().zip(ranges) {
        let _ = job.reply.send(attempts[range].to_vec());
    }
}

/// The `$batch` items of `jobs` (ids 1, 2, … across jobs, `dependsOn` within a job), each job's
/// range of them, and which are writes. Each item's JSON is built once, its body moved in.
fn envelope(jobs: &mut [Job]) -> Envelope {
    let mut requests = Vec::new();
    let mut ranges = Vec::new();
    let mut writes = Vec::new();
    let mut may_duplicate = Vec::new();
    for job in jobs {
        let start = requests.len();
        for (i, item) in std::mem::take(&mut job.items).into_iter().enumerate() {
            writes.push(item.method != reqwest::Method::GET);
            may_duplicate.push(item.resend_may_duplicate);
            let id = (start + i + 1).to_string();
            let mut headers = json!({"client-request-id": item.client_request_id});
            if !item.after.is_empty() {
                headers[AFTER_HEADER] = json!(item.after.join(","));
            }
            let mut r = json!({"id": id, "method": item.method.as_str(), "url": item.url});
            if let Some(b) = item.body {
                r["body"] = b;
                headers["Content-Type"] = json!("application/json");
            }
            r["headers"] = headers;
            if !item.depends_on.is_empty() {
                r["dependsOn"] = json!(item.depends_on.iter().map(|d| (start + d + 1).to_string()).collect::<Vec<_>>());
            }
            requests.push(r);
        }
        ranges.push(start..requests.len());
    }
    (requests, ranges, writes, may_duplicate)
}

/// A batch's items, each job's range of them, which write, and which may duplicate if resent.
type Envelope = (Vec<Value>, Vec<std::ops::Range<usize>>, Vec<bool>, Vec<bool>);

/// Each item's attempt when the envelope was refused as a whole. Graph documents that nothing
/// inside ran; whether it can run items and still answer 429 or 503 is unconfirmed
/// (docs/graph.md), so an item that would make a second copy if resent is taken as maybe run,
/// and read back before it goes again.
fn refused_items(failure: &Attempt, may_duplicate: &[bool]) -> Vec<Attempt> {
    let ambiguous = matches!(failure.status, Some(429 | 503));
    may_duplicate
        .iter()
        .map(|d| match ambiguous && *d {
            true => Attempt {
                processed: Processed::Unknown,
                ..failure.clone()
            },
            false => failure.clone(),
        })
        .collect()
}

/// Each item's attempt from an answered envelope (`writes` says which items write); an item the
/// answer does not mention got no answer. Each answer is taken out of the parsed reply, not
/// copied, and tells the pacer what it cost.
fn answers(client: &Wire, mut body: Value, writes: &[bool], envelope_request_id: Option<String>) -> Vec<Attempt> {
    let mut by_id: Vec<Option<Attempt>> = vec![None; writes.len()];
    let responses = match body["responses"].take() {
        Value::Array(responses) => responses,
        _ => Vec::new(),
    };
    for mut r in responses {
        let Some(n) = r["id"]
            .as_str()
            .and_then(|id| id.parse::<usize>().ok())
            .filter(|n| (1..=writes.len()).contains(n))
        else {
            continue;
        };
        let status = r["status"].as_u64().map(|s| s as u16);
        let item_header = |name: &str| {
            r["headers"]
                .as_object()
                .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_string)
        };
        let retry_after = retry::retry_after(item_header("retry-after").as_deref());
        if let Some(status) = status {
            client.feedback(status, writes[n - 1], item_header, retry_after);
            // Each item says whether Graph is there, not the envelope.
            if status >= 500 {
                client.observe_failure(&format!("HTTP {status} on a $batch item"));
            } else {
                client.observe_answer();
            }
        }
        let request_id = item_header("request-id").or_else(|| envelope_request_id.clone());
        let processed = if status.is_some() {
            Processed::Answered
        } else {
            Processed::Unknown
        };
        by_id[n - 1] = Some(Attempt {
            status,
            body: r["body"].take(),
            retry_after,
            request_id,
            ..Attempt::unanswered(String::new(), processed)
        });
    }
    by_id
        .into_iter()
        .map(|a| {
            a.unwrap_or_else(|| Attempt {
                request_id: envelope_request_id.clone(),
                ..Attempt::unanswered("the batch answer had no response for this item".into(), Processed::Unknown)
            })
        })
        .collect()
}

/// Posts the batch once (the signed send signs in again once on 401); item-level retries
/// happen per item, in the client's state machine.
async fn post(client: &Wire, version: Version, body: &Value, client_request_id: &str) -> Result<(Option<String>, Value), Attempt> {
    let started = Instant::now();
    let items = body["requests"].as_array().map_or(0, Vec::len) as u64;
    let url = format!("{}/{}/$batch", client.root, version.as_str());
    let response = match client
        .send_signed(
            &reqwest::Method::POST,
            &url,
            Some(body),
            &[("client-request-id", client_request_id)],
            items,
        )
        .await
    {
        Ok(r) => r,
        Err(crate::graph::wire::SendError::SignIn(e)) => return Err(Attempt::sign_in(&e)),
        Err(crate::graph::wire::SendError::Halted(reason)) => return Err(lost(reason.message, None)),
        Err(crate::graph::wire::SendError::NotSent(reason)) => return Err(Attempt::halted(reason)),
        Err(crate::graph::wire::SendError::Transport(e)) => return Err(lost(e.without_url().to_string(), None)),
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let request_id = header(&headers, "request-id");
    let retry_after = retry::retry_after(header(&headers, "retry-after").as_deref());
    let bytes = match client.until_abandoned(response.bytes()).await {
        Ok(Ok(b)) => {
            client.stats.answered_after(started.elapsed());
            b
        }
        Ok(Err(e)) => return Err(lost(format!("the batch answer was cut off: {}", e.without_url()), request_id)),
        Err(reason) => return Err(lost(reason.message, request_id)),
    };
    if !(200..300).contains(&status) {
        tracing::debug!(status, ms = started.elapsed().as_millis() as u64, "batch refused");
        if status < 500 {
            // Refused, but answered: Graph is there.
            client.observe_answer();
        }
        if status == 429 {
            // Throttled as a whole: the budget it names slows and waits once, not once per item.
            client.throttled(header(&headers, "x-ms-throttle-scope").as_deref(), retry_after);
        }
        return Err(refused(
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            retry_after,
            request_id,
        ));
    }
    serde_json::from_slice(&bytes)
        .map(|v| (request_id.clone(), v))
        .map_err(|e| lost(format!("unreadable batch answer: {e}"), request_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_or_unavailable_envelope_leaves_only_creates_that_may_duplicate_in_doubt() {
        let processed = |status: u16, may_duplicate: &[bool]| -> Vec<Processed> {
            let failure = refused(status, Value::Null, None, None);
            refused_items(&failure, may_duplicate).iter().map(|a| a.processed).collect()
        };
        for status in [429, 503] {
            assert_eq!(
                processed(status, &[true, false]),
                [Processed::Unknown, Processed::No],
                "{status}: the create is read back, the rest is resent"
            );
        }
        // A 400 or 401 refuses the call before anything could run; a 500 may have run anything.
        assert_eq!(processed(400, &[true, false]), [Processed::No, Processed::No]);
        assert_eq!(processed(500, &[true, false]), [Processed::Unknown, Processed::Unknown]);
    }
}
