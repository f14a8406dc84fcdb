//! Fetcher: reads what the plan needs from Graph, concurrently and in input order, for any
//! target: each input user's current items, and the further reads a target asks for once it has
//! a plan (e.g. the default sign-in method of users whose plan deletes a phone). A user Graph
//! does not know, or whose items cannot be read, becomes a skip reason for the planner rather
//! than an error for the run.

use crate::fanout::in_order;
use crate::graph::{GraphClient, GraphError};
use crate::interrupt::Stop;
use crate::model::{CurrentUser, DesiredUser, SkipReason, TargetPlan};
use crate::targets::{Target, plan_user_or_skip};
use indicatif::ProgressBar;

/// How reading one user's phones went.
pub type Read = Result<CurrentUser, (SkipReason, Option<GraphError>)>;

/// Current state in `target` for each of `users`, in the same order. Once `stop` is requested,
/// users not yet read are skipped.
pub async fn fetch(
    api: &GraphClient,
    target: &dyn Target,
    users: &[DesiredUser],
    concurrency: usize,
    progress: &ProgressBar,
    stop: &Stop,
) -> Vec<Read> {
    in_order(users, concurrency, |user| async move {
        let result = if stop.requested() {
            Err((SkipReason::ReadFailed(crate::interrupt::NOT_STARTED.into()), None))
        } else if let Some(reason) = api.halt().reason() {
            // Unanswered, as far as the run can tell: a run whose Graph was gone from the start
            // stops as fatal (Graph answered none of the reads).
            let error = GraphError {
                status: None,
                code: reason.code.into(),
                message: reason.message.clone(),
                info: crate::graph::CallInfo::default(),
            };
            Err((SkipReason::ReadFailed(format!("not read: {}", reason.message)), Some(error)))
        } else if user.conflict.is_some() {
            // A conflicting user is skipped by the planner; reading it would only cost quota.
            Ok(CurrentUser::default())
        } else {
            read_one(api, target, &user.user).await
        };
        progress.inc(1);
        result
    })
    .await
}

async fn read_one(api: &GraphClient, target: &dyn Target, user: &str) -> Read {
    let (version, path) = target.read(user);
    // Every page: a list Graph pages (profile phones may) is read whole.
    match api.get_all(version, path).await {
        Ok((body, _)) => match target.parse(body) {
            Ok(items) => Ok(CurrentUser {
                items,
                ..CurrentUser::default()
            }),
            Err(why) => Err((SkipReason::ReadFailed(why), None)),
        },
        Err(e @ GraphError { status: Some(404), .. }) => Err((SkipReason::NotFound, Some(e))),
        Err(e) => Err((SkipReason::ReadFailed(e.to_string()), Some(e))),
    }
}

/// Current state of `users` in every target, per target in order, with the progress on `bar`
/// (finished at the end). Fails with [`graph_refused_everything`]'s error, said after the first
/// target rather than the last, when Graph answered none of the reads.
pub async fn fetch_all(
    api: &GraphClient,
    targets: &[Box<dyn Target>],
    users: &[DesiredUser],
    concurrency: usize,
    bar: &ProgressBar,
    stop: &Stop,
) -> Result<Vec<Vec<Read>>, GraphError> {
    let mut reads = Vec::with_capacity(targets.len());
    for target in targets {
        reads.push(fetch(api, target.as_ref(), users, concurrency, bar, stop).await);
        // A stopped run goes on to write its reports with what it read.
        if !stop.requested()
            && let Some(e) = graph_refused_everything(users, &reads)
        {
            bar.finish_and_clear();
            return Err(e.clone());
        }
    }
    bar.finish_and_clear();
    Ok(reads)
}

/// The error to stop the run with when Graph answered none of the reads it was sent: every one
/// failed without an HTTP answer or with a refused token (401) — Graph is unreachable or
/// refuses this app, and nothing the run could do would work.
pub fn graph_refused_everything<'a>(users: &[DesiredUser], reads: &'a [Vec<Read>]) -> Option<&'a GraphError> {
    let mut first = None;
    for (user, read) in reads.iter().flat_map(|r| users.iter().zip(r)) {
        if user.conflict.is_some() {
            continue; // never read
        }
        match read {
            Err((_, Some(e))) if e.unanswered() || e.status == Some(401) => {
                first.get_or_insert(e);
            }
            _ => return None,
        }
    }
    first
}

/// Takes the further reads `target` asks for into the current state of the users whose plan
/// needs them, and plans those users again. A refused read leaves that user's plan as it was;
/// the first refusal is returned, for the run to say once.
pub async fn refine(
    api: &GraphClient,
    target: &dyn Target,
    users: &[DesiredUser],
    current: &mut [Result<CurrentUser, SkipReason>],
    plan: &mut TargetPlan,
    concurrency: usize,
) -> Option<GraphError> {
    let wanted: Vec<(usize, (crate::graph::Version, String))> = (0..plan.users.len())
        .filter(|i| current[*i].is_ok())
        .filter_map(|i| target.refine_read(&users[i].user, &plan.users[i]).map(|r| (i, r)))
        .collect();
    let (refined, refused) = read_further(api, target, &wanted, current, concurrency).await;
    for i in refined {
        plan.users[i] = plan_user_or_skip(target, &users[i], &current[i]);
    }
    refused
}

/// Sends `target`'s further reads `wanted` (the index in `current` of the user each is for,
/// and the read) and takes each answer into that user's state. Returns the users refined, and
/// the first refusal: a refused read leaves that user's state as it was.
pub async fn read_further(
    api: &GraphClient,
    target: &dyn Target,
    wanted: &[(usize, (crate::graph::Version, String))],
    current: &mut [Result<CurrentUser, SkipReason>],
    concurrency: usize,
) -> (Vec<usize>, Option<GraphError>) {
    let answers = in_order(wanted, concurrency, |(_, (version, path))| api.get(*version, path.clone())).await;
    let mut refused = None;
    let mut refined = Vec::new();
    for ((i, _), answer) in wanted.iter().zip(answers) {
        let error = match answer {
            Err(e) => Some(e),
            Ok((body, info)) => {
                let Ok(c) = current[*i].as_mut() else { continue };
                target.refine(c, body).err().map(|why| GraphError {
                    status: info.status,
                    code: "unexpectedResponse".into(),
                    message: why,
                    info,
                })
            }
        };
        match error {
            None => refined.push(*i),
            Some(e) => {
                refused.get_or_insert(e);
            }
        }
    }
    (refined, refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn one_slow_call_does_not_hold_up_the_others() {
        let items: Vec<u64> = (0..300).collect();
        let started = tokio::time::Instant::now();
        // Every tenth call takes ten seconds, the rest one.
        let done = in_order(&items, 48, |i| {
            let i = *i;
            async move {
                tokio::time::sleep(Duration::from_secs(if i % 10 == 0 { 10 } else { 1 })).await;
                i
            }
        })
        .await;
        assert_eq!(done, items, "results come back in the items' order");
        // 30 slow calls, 48 at a time and never waited for by the others: about ten seconds
        // plus a few rounds of one, not ten seconds per round of 48 (which would be 70).
        let took = started.elapsed();
        assert!(took < Duration::from_secs(20), "{took:?}");
    }
}
