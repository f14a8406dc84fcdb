//! The Graph client every stage uses: one per-op state machine (`GraphClient::settle`) that
//! every request goes through, single or batched: send → answer → re-read if a write may have
//! been applied → retry or settle. A chain's dependent op is sent again only once its
//! dependency settled as succeeded, whichever path either travelled.

use crate::graph::auth::{self, AuthError};
use crate::graph::batch;
use crate::graph::halt::Halt;
use crate::graph::request::{
    Attempt, CallInfo, ChainItem, ChainObserver, ChainResult, Confirm, GraphError, NOT_STARTED, NotSent, Processed, Request, SEGMENT,
    Version, error_body, next_link_path,
};
use crate::graph::retry;
use crate::graph::stats::Stats;
use crate::graph::wire::{ClientSettings, Wire};
use percent_encoding::utf8_percent_encode;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A Graph client shared by every worker of a run.
pub struct GraphClient {
    /// Signing, pacing and sending of one HTTP call, shared with the batchers.
    wire: Arc<Wire>,
    policy: retry::Policy,
    retry_budget: Duration,
    batchers: [OnceLock<batch::Batcher>; 2],
    /// Counters for the summary.
    pub stats: Arc<Stats>,
}

impl GraphClient {
    /// A client for `settings`, signing in with `credential`.
    pub fn new(settings: ClientSettings, credential: auth::Credential) -> reqwest::Result<Arc<GraphClient>> {
        let stats = Arc::new(Stats::default());
        let batch_size = settings.batch_size;
        let policy = settings.retry.clone();
        let retry_budget = settings.retry_budget;
        let wire = Arc::new(Wire::new(settings, credential, stats.clone())?);
        let batchers = [OnceLock::new(), OnceLock::new()];
        if batch_size > 1 {
            for (slot, version) in batchers.iter().zip([Version::V1, Version::Beta]) {
                let _ = slot.set(batch::Batcher::start(
                    Arc::downgrade(&wire),
                    batch_size,
                    version,
                    wire.calls.clone(),
                ));
            }
        }
        Ok(Arc::new(GraphClient {
            wire,
            policy,
            retry_budget,
            batchers,
            stats,
        }))
    }

    /// The lowest request rate the run fell to because of throttling.
    pub fn lowest_rate(&self) -> f64 {
        self.wire.lowest_rate()
    }

    /// The transport's stop, shared with whoever asks the run to stop (see [`Halt`]).
    pub fn halt(&self) -> &Arc<Halt> {
        &self.wire.halt
    }

    /// Signs in once, so a bad credential stops the run before any work.
    pub async fn sign_in(&self) -> Result<(), AuthError> {
        self.wire.sign_in().await
    }

    fn batcher(&self, version: Version) -> Option<&batch::Batcher> {
        self.batchers[version as usize].get()
    }

    /// The user's path below the version (`/users/…`), quoted where Graph needs it.
    pub fn user_path(user: &str) -> String {
        // `.`/`..` would be read as path steps and a leading `$` as a system segment:
        // Graph's `users('…')` form addresses such names literally (docs/graph.md#addressing-users).
        if user.starts_with('$') || user.chars().all(|c| c == '.') {
            let quoted = user.replace('\'', "''");
            format!("/users('{}')", utf8_percent_encode(&quoted, SEGMENT))
        } else {
            format!("/users/{}", utf8_percent_encode(user, SEGMENT))
        }
    }

    /// One attempt of `request`: through the `$batch` of its version when batching is on, else
    /// on its own, paced either way.
    async fn send_once(&self, request: &Request) -> Attempt {
        match self.batcher(request.version) {
            Some(batcher) => batcher.submit(vec![batch::Item::single(request)]).await.remove(0),
            None => self.wire.send_alone(request).await,
        }
    }

    /// The per-op state machine every request goes through, single or batched: takes the
    /// answer to a first attempt already made (a `$batch` chain) or sends one, then until the
    /// request settles: success stands; a definite refusal stands; a write that may have been
    /// applied (no answer, 5xx, 429) is read back first and counts as done if it was; anything
    /// retryable waits (`Retry-After`, else backoff) and goes again, within the attempts, the
    /// retry budget and the run's deadline.
    async fn settle(&self, request: &Request, first: Option<Attempt>, confirm: Option<&Confirm>) -> Result<(Value, CallInfo), GraphError> {
        let started = Instant::now();
        let mut info = CallInfo {
            client_request_id: request.client_request_id.clone(),
            attempts: u32::from(first.is_some()),
            ..CallInfo::default()
        };
        let mut next = first;
        let mut ambiguous = false;
        loop {
            let attempt = match next.take() {
                Some(a) => a,
                None => {
                    if let Some(e) = self.no_new_attempt(&info, ambiguous) {
                        return Err(e);
                    }
                    info.attempts += 1;
                    let attempt = self.send_once(request).await;
                    // A retry is counted once it was sent (not when the deadline or sign-in stopped it).
                    if info.attempts > 1 && attempt.not_sent.is_none() {
                        self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    }
                    attempt
                }
            };
            if attempt.not_sent == Some(NotSent::Halted) {
                // Stopped, or Graph unreachable, while it waited for its turn: not sent.
                info.attempts = info.attempts.saturating_sub(1);
                info.elapsed = started.elapsed();
                if let Some(e) = self.no_new_attempt(&info, ambiguous) {
                    return Err(e);
                }
            }
            if attempt.not_sent == Some(NotSent::Deadline) {
                // The time limit passed while the request waited for its turn: it was not sent,
                // and the last real answer (if any) stays the one reported.
                info.attempts = info.attempts.saturating_sub(1);
                info.elapsed = started.elapsed();
                return Err(self.past_deadline(&info).unwrap_or_else(|| GraphError {
                    status: info.status,
                    code: "runTimeout".into(),
                    message: "not retried: the run's time limit (rate.run_timeout_seconds) was reached".into(),
                    info: info.clone(),
                }));
            }
            info.status = attempt.status;
            info.request_id = attempt.request_id.clone().or(info.request_id.take());
            info.elapsed = started.elapsed();
            if attempt.succeeded() {
                return Ok((attempt.body, info));
            }
            let (code, message) = match attempt.status {
                Some(_) => error_body(&attempt.body),
                None if attempt.not_sent == Some(NotSent::SignIn) => ("signIn".into(), attempt.message.clone()),
                None => ("transport".into(), attempt.message.clone()),
            };
            let failure = |info: &CallInfo| GraphError {
                status: attempt.status,
                code: code.clone(),
                message: message.clone(),
                info: CallInfo {
                    elapsed: started.elapsed(),
                    ..info.clone()
                },
            };
            if attempt.not_sent == Some(NotSent::SignIn) {
                return Err(failure(&info));
            }
            let retryable = attempt.status.is_none_or(retry::is_retryable_status);
            ambiguous |= request.is_write()
                && match attempt.processed {
                    Processed::Unknown => true,
                    Processed::Answered => attempt.status.is_some_and(|s| s >= 500 || s == 429),
                    Processed::No => false,
                };
            if ambiguous
                && let Some(confirm) = confirm
                && self.applied(request.version, confirm).await
            {
                self.stats.confirmed_by_reread.fetch_add(1, Ordering::Relaxed);
                info.confirmed_by_reread = true;
                info.elapsed = started.elapsed();
                return Ok((Value::Null, info));
            }
            let wait = self.policy.delay(info.attempts, attempt.retry_after);
            let in_budget = started.elapsed() + wait <= self.retry_budget;
            if !(retryable && info.attempts < self.policy.max_attempts && in_budget) {
                return Err(failure(&info));
            }
            tracing::debug!(attempt = info.attempts, wait_ms = wait.as_millis() as u64, code = %code, "retrying Graph request");
            // A stop, or Graph found unreachable, ends the wait: the loop then gives up.
            let _ = self.wire.until_stopped(tokio::time::sleep(wait)).await;
        }
    }

    /// The error for a request that may not be sent (again): the run was stopped, Graph became
    /// unreachable, or the run's time limit passed. `notStarted` when it was never sent at
    /// all; else the halt's code, or `runTimeout`. A write that may have run (`ambiguous`) is
    /// said to be of unknown fate: its `started` row stays in the audit.
    fn no_new_attempt(&self, info: &CallInfo, ambiguous: bool) -> Option<GraphError> {
        if let Some(reason) = self.wire.halt.reason() {
            let (code, message) = match (info.attempts, ambiguous) {
                (0, _) => (NOT_STARTED, format!("not sent: {}", reason.message)),
                (_, true) => (
                    reason.code,
                    format!(
                        "fate unknown: {}; it may have been applied, and the next run reads what it did",
                        reason.message
                    ),
                ),
                (_, false) => (reason.code, format!("not retried: {}", reason.message)),
            };
            return Some(GraphError {
                status: info.status,
                code: code.into(),
                message,
                info: info.clone(),
            });
        }
        self.past_deadline(info)
    }

    /// The error for a request not sent because the run's time limit has passed: `notStarted`
    /// when it was never sent at all, `runTimeout` when earlier attempts failed.
    fn past_deadline(&self, info: &CallInfo) -> Option<GraphError> {
        self.wire.deadline.filter(|d| Instant::now() >= *d).map(|_| {
            let (code, message) = if info.attempts == 0 {
                (NOT_STARTED, "not sent: the run's time limit (rate.run_timeout_seconds) was reached")
            } else {
                (
                    "runTimeout",
                    "not retried: the run's time limit (rate.run_timeout_seconds) was reached",
                )
            };
            GraphError {
                status: info.status,
                code: code.into(),
                message: message.into(),
                info: info.clone(),
            }
        })
    }

    /// Reads back what an ambiguous write should have done.
    async fn applied(&self, version: Version, confirm: &Confirm) -> bool {
        let path = match confirm {
            Confirm::Holds { path, .. } | Confirm::Gone { path } => path.clone(),
        };
        // Every page: a created item may sit on the last one.
        let read = Box::pin(self.get_all(version, path)).await;
        match (confirm, read) {
            (Confirm::Holds { check, .. }, Ok((body, _))) => check(&body),
            (Confirm::Gone { .. }, Err(GraphError { status: Some(404), .. })) => true,
            _ => false,
        }
    }

    /// A read through the state machine: Graph's JSON body.
    pub async fn get(&self, version: Version, path: String) -> Result<(Value, CallInfo), GraphError> {
        self.settle(&Request::read(version, path), None, None).await
    }

    /// A read of a collection through the state machine, every page of it: while Graph's
    /// answer carries an `@odata.nextLink`, the next page is read (on the configured endpoint)
    /// and its `value` items appended. The body returned is the first page's, holding them all.
    pub async fn get_all(&self, version: Version, path: String) -> Result<(Value, CallInfo), GraphError> {
        let (mut body, mut info) = self.get(version, path).await?;
        let mut seen = std::collections::HashSet::new();
        while let Some(link) = body.get("@odata.nextLink").and_then(Value::as_str).map(str::to_string) {
            let unexpected = |message: String, info: &CallInfo| GraphError {
                status: info.status,
                code: "unexpectedResponse".into(),
                message,
                info: info.clone(),
            };
            // A link that comes round again would page for ever.
            if !seen.insert(link.clone()) {
                return Err(unexpected(format!("Graph sent the same next page link twice: {link}"), &info));
            }
            let next = next_link_path(&link).map_err(|m| unexpected(m, &info))?;
            let (mut page, page_info) = self.get(version, next).await?;
            info = page_info;
            let items = match page.get_mut("value").map(Value::take) {
                Some(Value::Array(items)) => items,
                _ => return Err(unexpected("a next page without a value list".into(), &info)),
            };
            match body.get_mut("value") {
                Some(Value::Array(all)) => all.extend(items),
                _ => return Err(unexpected("a first page without a value list".into(), &info)),
            }
            body["@odata.nextLink"] = page.get("@odata.nextLink").cloned().unwrap_or(Value::Null);
        }
        if let Some(fields) = body.as_object_mut() {
            fields.remove("@odata.nextLink");
        }
        Ok((body, info))
    }

    /// A read through the state machine, parsed as `T`; `what` names it in the error.
    pub async fn get_as<T: serde::de::DeserializeOwned>(
        &self,
        version: Version,
        path: String,
        what: &str,
    ) -> Result<(T, CallInfo), GraphError> {
        let (body, info) = self.get(version, path).await?;
        serde_json::from_value(body).map(|v| (v, info.clone())).map_err(|e| GraphError {
            status: info.status,
            code: "unexpectedResponse".into(),
            message: format!("cannot read {what}: {e}"),
            info,
        })
    }
}

impl GraphClient {
    /// Runs one user's chain of writes (all of one API version), each only once its
    /// dependencies succeeded; one result per item.
    pub async fn run_chain(&self, ops: &[ChainItem], observer: &dyn ChainObserver) -> Vec<ChainResult> {
        let requests: Vec<Request> = ops
            .iter()
            .map(|op| Request {
                after: op.depends_on.iter().map(|d| ops[*d].request.client_request_id.clone()).collect(),
                ..op.request.clone()
            })
            .collect();
        let version = requests.first().map_or(Version::V1, |r| r.version);
        debug_assert!(requests.iter().all(|r| r.version == version), "one chain, one API version");
        // With batching, the whole chain goes out in one `$batch`, linked by `dependsOn`, so
        // Graph runs it in order; its answers are each op's first attempt.
        let mut firsts: Vec<Option<Attempt>> = vec![None; ops.len()];
        if let Some(e) = observer.withheld() {
            return (0..ops.len())
                .map(|i| {
                    let result = ChainResult::Done(Err(e.clone()));
                    observer.settled(i, &result);
                    result
                })
                .collect();
        }
        if let Some(batcher) = self.batcher(version)
            && ops.len() <= batch::MAX_ITEMS
            && self.no_new_attempt(&CallInfo::default(), false).is_none()
        {
            let items = requests
                .iter()
                .zip(ops)
                .map(|(r, op)| batch::Item {
                    depends_on: op.depends_on.clone(),
                    ..batch::Item::single(r)
                })
                .collect();
            (0..ops.len()).for_each(|i| observer.sending(i));
            firsts = batcher.submit(items).await.into_iter().map(Some).collect();
        }
        let batched = firsts.iter().any(Option::is_some);
        // Then every op settles in plan order through the one state machine; an op is taken up
        // (re-read, re-sent) only once everything it depends on settled as succeeded.
        let mut results: Vec<ChainResult> = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let ready = op
                .depends_on
                .iter()
                .all(|d| matches!(results.get(*d), Some(ChainResult::Done(Ok(_)))));
            let result = if !ready {
                ChainResult::DependencyFailed
            } else {
                // A 424 means Graph did not run it: it starts afresh now that its dependency succeeded.
                let first = firsts[i].take().filter(|a| a.status != Some(424));
                let unsent = first.is_none() && !batched;
                match observer.withheld().filter(|_| first.is_none()) {
                    Some(e) => ChainResult::Done(Err(e)),
                    None => {
                        if unsent && self.no_new_attempt(&CallInfo::default(), false).is_none() {
                            observer.sending(i);
                        }
                        ChainResult::Done(self.settle(&requests[i], first, Some(&op.confirm)).await.map(|(_, info)| info))
                    }
                }
            };
            observer.settled(i, &result);
            results.push(result);
        }
        results
    }
}
