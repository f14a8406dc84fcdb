//! Executor: runs a plan, whatever its targets, through the Graph client with a bounded pool of
//! workers. Users run in parallel; one user's ops in one target go to the client as a chain in
//! plan order, and an op whose dependency did not succeed is never sent (add before delete,
//! never the other way round). Each op's record goes to the audit as it is sent and as it
//! settles, so a killed run still leaves a true record. The pace comes from the client. When a
//! target says a refusal means all its writes will be refused this run, its remaining ops are
//! marked failed with that explanation instead of being sent.

use crate::graph::{CallInfo, ChainItem, ChainObserver, ChainResult, GraphClient, GraphError, NOT_STARTED};
use crate::interrupt::Stop;
use crate::model::{Op, Plan, UserPlan};
use crate::targets::Target;
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
    /// The target (`auth`, `profile`).
    pub target: String,
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
    /// `op` of `user` in `target` is about to be sent for the first time, as `op_id`.
    fn started(&self, target: &str, user: &str, op: &Op, op_id: &str);
    /// An op has settled.
    fn settled(&self, outcome: &Outcome);
}

/// No audit (tests, plans).
impl Audit for () {
    fn started(&self, _: &str, _: &str, _: &Op, _: &str) {}
    fn settled(&self, _: &Outcome) {}
}

/// The error code of an op not sent because Graph had refused its target for the whole run.
pub const REFUSED_FOR_RUN: &str = "refusedForRun";

/// What running a plan did.
#[derive(Debug, Default)]
pub struct Execution {
    /// One per op, in plan order (targets in config order, users in input order).
    pub outcomes: Vec<Outcome>,
    /// Targets whose writes Graph refused for the whole run: (target, explanation), said once.
    pub refused: Vec<(String, String)>,
}

/// Runs every op of `plan` (whose targets are `targets`, in the same order), `concurrency` users
/// at a time. Once `stop` is requested no new user starts; users in flight finish their chains.
pub async fn execute(
    api: &GraphClient,
    targets: &[Box<dyn Target>],
    plan: &Plan,
    concurrency: usize,
    progress: &ProgressBar,
    audit: &dyn Audit,
    stop: &Stop,
) -> Execution {
    let refused: Vec<Mutex<Option<String>>> = targets.iter().map(|_| Mutex::new(None)).collect();
    let work = plan.targets.iter().enumerate().flat_map(|(t, tp)| {
        tp.users
            .iter()
            .enumerate()
            .filter(|(_, u)| !u.ops.is_empty())
            .map(move |(i, u)| ((t, i), u))
    });
    let refused_ref = &refused;
    let mut per_user: Vec<((usize, usize), Vec<Outcome>)> = stream::iter(work)
        .map(|(at, user)| async move {
            let target = targets[at.0].as_ref();
            let report = Report {
                target,
                user,
                audit,
                progress,
                refused: &refused_ref[at.0],
            };
            // Stopped, or Graph unreachable: no new user starts.
            let halted = api.halt().reason().map(|r| format!("not started: {}", r.message));
            let outcomes = if stop.requested() || halted.is_some() {
                let why = halted.unwrap_or_else(|| crate::interrupt::NOT_STARTED.into());
                user.ops
                    .iter()
                    .map(|op| match &op.blocked {
                        Some(reason) => report.settle(report.not_sent(op, Status::Blocked, reason.clone())),
                        None => report.settle(report.not_sent(op, Status::NotStarted, why.clone())),
                    })
                    .collect()
            } else {
                // Once the target is refused for the run, the chain withholds what it has not
                // sent (`Watch::withheld`).
                run_user(api, &report).await
            };
            (at, outcomes)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    per_user.sort_by_key(|(at, _)| *at);
    Execution {
        outcomes: per_user.into_iter().flat_map(|(_, o)| o).collect(),
        refused: targets
            .iter()
            .zip(refused)
            .filter_map(|(t, r)| r.into_inner().expect("refused lock").map(|why| (t.name().to_string(), why)))
            .collect(),
    }
}

/// Reports one user's ops as they settle: to the audit and the progress bar.
struct Report<'a> {
    target: &'a dyn Target,
    user: &'a UserPlan,
    audit: &'a dyn Audit,
    progress: &'a ProgressBar,
    /// Set once Graph refused this target for the whole run.
    refused: &'a Mutex<Option<String>>,
}

impl Report<'_> {
    fn settle(&self, outcome: Outcome) -> Outcome {
        self.audit.settled(&outcome);
        self.progress.inc(1);
        outcome
    }

    /// The outcome of `op` when it was not sent.
    fn not_sent(&self, op: &Op, status: Status, message: String) -> Outcome {
        Outcome {
            target: self.target.name().to_string(),
            user: self.user.user.clone(),
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

    /// The outcome of `op` once sent.
    fn sent(&self, op: &Op, result: Result<CallInfo, GraphError>) -> Outcome {
        if let Err(e) = &result
            && let Some(why) = self.target.refused_for_run(e)
        {
            self.refused.lock().expect("refused lock").get_or_insert(why);
        }
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
            http_status: info.status,
            error_code: code,
            request_id: info.request_id.unwrap_or_default(),
            client_request_id: info.client_request_id,
            attempts: info.attempts,
            elapsed: info.elapsed,
            ..self.not_sent(op, status, message)
        }
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
        r.audit
            .started(r.target.name(), &r.user.user, &r.user.ops[self.picked[pos]], &self.op_ids[pos]);
    }

    fn withheld(&self) -> Option<GraphError> {
        let why = self.report.refused.lock().expect("refused lock").clone()?;
        Some(GraphError {
            status: None,
            code: REFUSED_FOR_RUN.into(),
            message: format!("not sent: {why}"),
            info: CallInfo::default(),
        })
    }

    fn settled(&self, pos: usize, result: &ChainResult) {
        let ops = &self.report.user.ops;
        let op = &ops[self.picked[pos]];
        let outcome = match result {
            ChainResult::Done(r) => self.report.sent(op, r.clone()),
            ChainResult::DependencyFailed => {
                let outcomes = self.outcomes.lock().expect("outcomes lock");
                let failed = op
                    .depends_on
                    .iter()
                    .find(|d| outcomes[**d].as_ref().is_none_or(|o| o.status != Status::Succeeded));
                let mut outcome = match failed.and_then(|d| outcomes[*d].as_ref().map(|o| (&ops[*d], o))) {
                    // The run stopped before the dependency was sent, or gave up on it when Graph
                    // went away or its grace ran out: this one was not started.
                    Some((_, dep))
                        if dep.status == Status::NotStarted
                            || [crate::graph::halt::STOPPED, crate::graph::halt::UNREACHABLE].contains(&dep.error_code.as_str()) =>
                    {
                        self.report
                            .not_sent(op, Status::NotStarted, format!("not started: {}", dep.message))
                    }
                    Some((dep, _)) => {
                        let why = format!("not sent: the {} of {} did not succeed", dep.kind.as_str(), dep.phone_type);
                        self.report.not_sent(op, Status::Skipped, why)
                    }
                    None => self
                        .report
                        .not_sent(op, Status::Skipped, "not sent: an op it depends on did not succeed".into()),
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

async fn run_user(api: &GraphClient, report: &Report<'_>) -> Vec<Outcome> {
    let user = report.user;
    let ops = &user.ops;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; ops.len()];
    // Blocked ops are not sent, nor is anything that depends on them (dependencies always come
    // earlier in the plan, so one pass in order settles chains of them).
    for i in 0..ops.len() {
        if let Some(reason) = &ops[i].blocked {
            outcomes[i] = Some(report.settle(report.not_sent(&ops[i], Status::Blocked, reason.clone())));
        } else if let Some(d) = ops[i].depends_on.iter().find(|d| outcomes[**d].is_some()) {
            let dep = &ops[*d];
            let why = format!("not sent: the {} of {} was not sent", dep.kind.as_str(), dep.phone_type);
            outcomes[i] = Some(report.settle(report.not_sent(&ops[i], Status::Skipped, why)));
        }
    }
    let picked: Vec<usize> = (0..ops.len()).filter(|i| outcomes[*i].is_none()).collect();
    let op_ids: Vec<String> = picked.iter().map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let chain: Vec<ChainItem> = picked
        .iter()
        .zip(&op_ids)
        .map(|(&i, id)| {
            let (request, confirm) = report.target.write(&user.user, &ops[i], id);
            ChainItem {
                request,
                confirm,
                depends_on: ops[i]
                    .depends_on
                    .iter()
                    .filter_map(|d| picked.iter().position(|p| p == d))
                    .collect(),
            }
        })
        .collect();
    if !chain.is_empty() {
        let watch = Watch {
            report,
            picked: &picked,
            op_ids: &op_ids,
            outcomes: Mutex::new(outcomes),
        };
        api.run_chain(&chain, &watch).await;
        outcomes = watch.outcomes.into_inner().expect("outcomes lock");
    }
    outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            o.unwrap_or_else(|| report.settle(report.not_sent(&ops[i], Status::Skipped, "not sent: the client gave no result".into())))
        })
        .collect()
}
