//! Executor: runs a plan through the Graph client with a bounded pool of workers. Users run in
//! parallel; one user's ops go to the client as a chain in plan order, and an op whose
//! dependency did not succeed is never sent (add before delete, never the other way round). An
//! op Graph did not run because a dependency failed inside a batch (424) is re-planned in a
//! later round, once that dependency's fate is known. The pace comes from the client.

use crate::graph::{CallInfo, ChainOp, ChainResult, GraphError, PhoneMethods};
use crate::model::{Op, Plan, UserPlan};
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
    /// Not sent, because the run stopped first (time limit or interruption).
    NotStarted,
}

impl Status {
    /// Lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Blocked => "blocked",
            Status::NotStarted => "not_started",
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
    let ops = &user.ops;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; ops.len()];
    let settle = |outcomes: &mut Vec<Option<Outcome>>, i: usize, o: Outcome| {
        progress.inc(1);
        outcomes[i] = Some(o);
    };
    for (i, op) in ops.iter().enumerate() {
        if let Some(reason) = &op.blocked {
            settle(&mut outcomes, i, not_sent(user, op, Status::Blocked, reason.clone()));
        }
    }
    let succeeded = |o: &Option<Outcome>| o.as_ref().is_some_and(|o| o.status == Status::Succeeded);
    loop {
        // Ops whose dependency ended without success are not sent. Dependencies always come
        // earlier in the plan, so one pass in order settles chains of them.
        for i in 0..ops.len() {
            if outcomes[i].is_some() {
                continue;
            }
            if let Some(d) = ops[i]
                .depends_on
                .iter()
                .find(|d| outcomes[**d].as_ref().is_some_and(|o| o.status != Status::Succeeded))
            {
                let dep = &ops[*d];
                let why = format!("not sent: the {} of {} did not succeed", dep.kind.as_str(), dep.phone_type);
                settle(&mut outcomes, i, not_sent(user, &ops[i], Status::Skipped, why));
            }
        }
        // This round: every open op whose dependencies succeeded or travel in the same chain.
        let mut pick: Vec<usize> = Vec::new();
        for i in 0..ops.len() {
            if outcomes[i].is_none() && ops[i].depends_on.iter().all(|d| succeeded(&outcomes[*d]) || pick.contains(d)) {
                pick.push(i);
            }
        }
        if pick.is_empty() {
            break;
        }
        let chain: Vec<ChainOp> = pick
            .iter()
            .map(|&i| ChainOp {
                kind: ops[i].kind,
                phone_type: ops[i].phone_type,
                number: ops[i].after.clone(),
                depends_on: ops[i].depends_on.iter().filter_map(|d| pick.iter().position(|p| p == d)).collect(),
            })
            .collect();
        let results = api.run_chain(&user.user, &chain).await;
        let mut progressed = false;
        for (pos, result) in results.into_iter().enumerate() {
            if let ChainResult::Done(r) = result {
                settle(&mut outcomes, pick[pos], sent(user, &ops[pick[pos]], r));
                progressed = true;
            }
        }
        if !progressed {
            // Nothing ran and nothing failed: do not spin; report what is left.
            break;
        }
    }
    outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| o.unwrap_or_else(|| not_sent(user, &ops[i], Status::Skipped, "not sent: its dependency did not complete".into())))
        .collect()
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
