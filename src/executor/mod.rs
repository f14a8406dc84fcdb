//! Executor: runs a plan through the Graph client with a bounded pool of workers. Users run in
//! parallel; one user's ops go to the client as a chain in plan order, and an op whose
//! dependency did not succeed is never sent (add before delete, never the other way round).
//! Each op's record goes to the audit as it is sent and as it settles, so a killed run still
//! leaves a true record. The pace comes from the client.

use crate::graph::{CallInfo, ChainObserver, ChainOp, ChainResult, GraphError, NOT_STARTED, PhoneMethods};
use crate::interrupt::Stop;
use crate::model::{Op, Plan, UserPlan};
use futures_util::{StreamExt, stream};
use indicatif::ProgressBar;
use std::sync::Mutex;
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

/// Where each op's record goes as it happens: the durable audit (`outcomes.csv`).
pub trait Audit: Sync {
    /// `op` of `user` is about to be sent for the first time, as `op_id`.
    fn started(&self, user: &str, op: &Op, op_id: &str);
    /// An op has settled.
    fn settled(&self, outcome: &Outcome);
}

/// No audit (tests, plans).
impl Audit for () {
    fn started(&self, _: &str, _: &Op, _: &str) {}
    fn settled(&self, _: &Outcome) {}
}

/// Runs every op of `plan`, `concurrency` users at a time; outcomes come back in plan order.
/// Once `stop` is requested no new user starts; users in flight finish their chains.
pub async fn execute<A: PhoneMethods>(
    api: &A,
    plan: &Plan,
    concurrency: usize,
    progress: &ProgressBar,
    audit: &dyn Audit,
    stop: &Stop,
) -> Vec<Outcome> {
    let mut per_user: Vec<(usize, Vec<Outcome>)> = stream::iter(plan.users.iter().enumerate().filter(|(_, u)| !u.ops.is_empty()))
        .map(|(i, user)| async move {
            let report = Report { user, audit, progress };
            let outcomes = if stop.requested() {
                user.ops
                    .iter()
                    .map(|op| report.settle(not_sent(user, op, Status::NotStarted, crate::interrupt::NOT_STARTED.into())))
                    .collect()
            } else {
                run_user(api, &report).await
            };
            (i, outcomes)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    per_user.sort_by_key(|(i, _)| *i);
    per_user.into_iter().flat_map(|(_, o)| o).collect()
}

/// Reports one user's ops as they settle: to the audit and the progress bar.
struct Report<'a> {
    user: &'a UserPlan,
    audit: &'a dyn Audit,
    progress: &'a ProgressBar,
}

impl Report<'_> {
    fn settle(&self, outcome: Outcome) -> Outcome {
        self.audit.settled(&outcome);
        self.progress.inc(1);
        outcome
    }
}

/// The chain of one user, watched as it runs.
struct Watch<'a> {
    report: &'a Report<'a>,
    /// For each chain position, the op's index in the user's plan.
    picked: &'a [usize],
    op_ids: &'a [String],
    outcomes: Mutex<Vec<Option<Outcome>>>,
}

impl ChainObserver for Watch<'_> {
    fn sending(&self, pos: usize) {
        let r = self.report;
        r.audit.started(&r.user.user, &r.user.ops[self.picked[pos]], &self.op_ids[pos]);
    }

    fn settled(&self, pos: usize, result: &ChainResult) {
        let ops = &self.report.user.ops;
        let op = &ops[self.picked[pos]];
        let outcome = match result {
            ChainResult::Done(r) => sent(self.report.user, op, r.clone()),
            ChainResult::DependencyFailed => {
                let outcomes = self.outcomes.lock().expect("outcomes lock");
                let failed = op
                    .depends_on
                    .iter()
                    .find(|d| outcomes[**d].as_ref().is_none_or(|o| o.status != Status::Succeeded));
                let mut outcome = match failed.and_then(|d| outcomes[*d].as_ref().map(|o| (&ops[*d], o))) {
                    // The run stopped before the dependency was sent: neither was started.
                    Some((_, dep)) if dep.status == Status::NotStarted => {
                        not_sent(self.report.user, op, Status::NotStarted, dep.message.clone())
                    }
                    Some((dep, _)) => {
                        let why = format!("not sent: the {} of {} did not succeed", dep.kind.as_str(), dep.phone_type);
                        not_sent(self.report.user, op, Status::Skipped, why)
                    }
                    None => not_sent(
                        self.report.user,
                        op,
                        Status::Skipped,
                        "not sent: an op it depends on did not succeed".into(),
                    ),
                };
                // The op's id, so a `started` row written for it (a batched first send) is matched.
                outcome.client_request_id = self.op_ids[pos].clone();
                outcome
            }
        };
        let outcome = self.report.settle(outcome);
        self.outcomes.lock().expect("outcomes lock")[self.picked[pos]] = Some(outcome);
    }
}

async fn run_user<A: PhoneMethods>(api: &A, report: &Report<'_>) -> Vec<Outcome> {
    let user = report.user;
    let ops = &user.ops;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; ops.len()];
    // Blocked ops are not sent, nor is anything that depends on them (dependencies always come
    // earlier in the plan, so one pass in order settles chains of them).
    for i in 0..ops.len() {
        if let Some(reason) = &ops[i].blocked {
            outcomes[i] = Some(report.settle(not_sent(user, &ops[i], Status::Blocked, reason.clone())));
        } else if let Some(d) = ops[i].depends_on.iter().find(|d| outcomes[**d].is_some()) {
            let dep = &ops[*d];
            let why = format!("not sent: the {} of {} was not sent", dep.kind.as_str(), dep.phone_type);
            outcomes[i] = Some(report.settle(not_sent(user, &ops[i], Status::Skipped, why)));
        }
    }
    let picked: Vec<usize> = (0..ops.len()).filter(|i| outcomes[*i].is_none()).collect();
    let op_ids: Vec<String> = picked.iter().map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let chain: Vec<ChainOp> = picked
        .iter()
        .zip(&op_ids)
        .map(|(&i, id)| ChainOp {
            kind: ops[i].kind,
            phone_type: ops[i].phone_type,
            number: ops[i].after.clone(),
            depends_on: ops[i]
                .depends_on
                .iter()
                .filter_map(|d| picked.iter().position(|p| p == d))
                .collect(),
            op_id: id.clone(),
        })
        .collect();
    if !chain.is_empty() {
        let watch = Watch {
            report,
            picked: &picked,
            op_ids: &op_ids,
            outcomes: Mutex::new(outcomes),
        };
        api.run_chain(&user.user, &chain, &watch).await;
        outcomes = watch.outcomes.into_inner().expect("outcomes lock");
    }
    outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            o.unwrap_or_else(|| {
                report.settle(not_sent(
                    user,
                    &ops[i],
                    Status::Skipped,
                    "not sent: the client gave no result".into(),
                ))
            })
        })
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
        Err(e) if e.code == NOT_STARTED => (Status::NotStarted, e.info, String::new(), e.message),
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
