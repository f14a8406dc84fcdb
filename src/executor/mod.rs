//! Executor: runs a plan through the Graph client with a bounded pool of workers. Users run in
//! parallel; one user's ops run in plan order, and an op whose dependency did not succeed is
//! not sent (add before delete, never the other way round). The pace comes from the client's
//! shared rate limiter.

use crate::graph::{CallInfo, GraphError, PhoneMethods};
use crate::model::{Op, OpKind, Plan, UserPlan};
use futures_util::{StreamExt, stream};
use indicatif::ProgressBar;
use std::time::Duration;

/// How one op ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Graph accepted it.
    Succeeded,
    /// Graph refused it, or it could not be sent.
    Failed,
    /// Not sent, because an op it depends on did not succeed.
    Skipped,
    /// Not sent, because the plan knew Graph would refuse it.
    Blocked,
}

impl Status {
    /// Lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Blocked => "blocked",
        }
    }
}

/// The result of one op, for the reports.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The user as written in the input.
    pub user: String,
    /// The op.
    pub op: Op,
    /// How it ended.
    pub status: Status,
    /// HTTP status of the last attempt.
    pub http_status: Option<u16>,
    /// Graph's error code, when it failed.
    pub error_code: String,
    /// Graph's message, or why the op was not sent.
    pub message: String,
    /// Graph's `request-id`.
    pub request_id: String,
    /// The `client-request-id` sent.
    pub client_request_id: String,
    /// Attempts made.
    pub attempts: u32,
    /// Time taken, waits included.
    pub elapsed: Duration,
}

/// Runs every op of `plan`, `concurrency` users at a time; outcomes come back in plan order.
pub async fn execute<A: PhoneMethods>(api: &A, plan: &Plan, concurrency: usize, progress: &ProgressBar) -> Vec<Outcome> {
    let mut per_user: Vec<(usize, Vec<Outcome>)> = stream::iter(plan.users.iter().enumerate().filter(|(_, u)| !u.ops.is_empty()))
        .map(|(i, user)| async move {
            let outcomes = run_user(api, user, progress).await;
            (i, outcomes)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    per_user.sort_by_key(|(i, _)| *i);
    per_user.into_iter().flat_map(|(_, o)| o).collect()
}

async fn run_user<A: PhoneMethods>(api: &A, user: &UserPlan, progress: &ProgressBar) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(user.ops.len());
    for op in &user.ops {
        let unmet = op
            .depends_on
            .iter()
            .find(|d| outcomes.get(**d).is_none_or(|o| o.status != Status::Succeeded));
        let outcome = if let Some(blocked) = &op.blocked {
            not_sent(user, op, Status::Blocked, blocked.clone())
        } else if let Some(d) = unmet {
            let dep = &user.ops[*d];
            not_sent(
                user,
                op,
                Status::Skipped,
                format!("not sent: the {} of {} did not succeed", dep.kind.as_str(), dep.phone_type),
            )
        } else {
            let result = match op.kind {
                OpKind::Add => api.add(&user.user, op.phone_type, op.after.as_deref().unwrap_or_default()).await,
                OpKind::Update => api.update(&user.user, op.phone_type, op.after.as_deref().unwrap_or_default()).await,
                OpKind::Delete => api.delete(&user.user, op.phone_type).await,
            };
            sent(user, op, result)
        };
        progress.inc(1);
        outcomes.push(outcome);
    }
    outcomes
}

fn not_sent(user: &UserPlan, op: &Op, status: Status, message: String) -> Outcome {
    Outcome {
        user: user.user.clone(),
        op: op.clone(),
        status,
        http_status: None,
        error_code: String::new(),
        message,
        request_id: String::new(),
        client_request_id: String::new(),
        attempts: 0,
        elapsed: Duration::ZERO,
    }
}

fn sent(user: &UserPlan, op: &Op, result: Result<CallInfo, GraphError>) -> Outcome {
    let (status, info, code, message) = match result {
        Ok(info) if info.confirmed_by_reread => (
            Status::Succeeded,
            info,
            String::new(),
            "applied; confirmed by re-reading after an ambiguous failure, so not sent again".to_string(),
        ),
        Ok(info) => (Status::Succeeded, info, String::new(), String::new()),
        Err(e) => (Status::Failed, e.info, e.code, e.message),
    };
    Outcome {
        user: user.user.clone(),
        op: op.clone(),
        status,
        http_status: info.status,
        error_code: code,
        message,
        request_id: info.request_id.unwrap_or_default(),
        client_request_id: info.client_request_id,
        attempts: info.attempts,
        elapsed: info.elapsed,
    }
}
