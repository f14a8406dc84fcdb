//! Plans an HR file: resolves users keyed in more than one way, reads each user's current state
//! in every target, and lets each target plan its users. A run that could not read some users
//! prunes nothing.

use crate::config::Config;
use crate::graph::{self, GraphError};
use crate::input::{identity, phone};
use crate::model::{DesiredUser, Plan, SkipReason, TargetPlan};
use crate::pipeline::fetcher;
use crate::plan::planned::{Current, Planned, Reads};
use crate::targets::{self, Target};
use crate::{console, progress};
use anyhow::Result;
use std::collections::HashSet;

/// Plans `desired` against the tenant. Fails only when Graph answered none of the reads.
pub async fn plan(
    reads: &mut Reads<'_>,
    config: &Config,
    region: phone::Region,
    targets: Vec<Box<dyn Target>>,
    desired: Vec<DesiredUser>,
) -> Result<Planned> {
    let (users, unresolved) = resolve(reads, desired).await;
    let current = read(reads, &targets, &users, &unresolved).await?;
    let (targets, prune) = prune_if_all_read(config, region, targets, &current)?;
    let mut planned = Planned {
        plan: Plan {
            targets: targets
                .iter()
                .zip(&current)
                .map(|(target, current)| TargetPlan {
                    target: target.name().to_string(),
                    users: users
                        .iter()
                        .zip(current)
                        .map(|(u, c)| targets::plan_user_or_skip(target.as_ref(), u, c))
                        .collect(),
                })
                .collect(),
        },
        users_read: users.len(),
        prune,
        read_ok: HashSet::new(),
        current,
        targets,
        notes: Vec::new(),
    };
    if !reads.stop.requested() {
        refine(reads, &users, &mut planned).await;
    }
    planned.read_ok = read_ok(&planned.targets, &users, &planned.current);
    Ok(planned)
}

/// One person is one object id: keys written in more than one way are resolved and merged.
/// The input's users are moved on, not copied: at 100,000 users a copy is tens of megabytes.
async fn resolve(reads: &Reads<'_>, desired: Vec<DesiredUser>) -> (Vec<DesiredUser>, Vec<Option<GraphError>>) {
    if identity::mixed(&desired) {
        let resolved = identity::resolve(reads.api, &desired, reads.concurrency, reads.stop).await;
        identity::merge(desired, resolved).into_iter().unzip()
    } else {
        let n = desired.len();
        (desired, vec![None; n])
    }
}

/// Every user's current state in every target; a user that could not be resolved is skipped.
async fn read(
    reads: &mut Reads<'_>,
    targets: &[Box<dyn Target>],
    users: &[DesiredUser],
    unresolved: &[Option<GraphError>],
) -> Result<Current> {
    let api = reads.api;
    let bar = progress::bar(
        (users.len() * targets.len()) as u64,
        "read",
        reads.quiet,
        Some(api.stats.throttled.clone()),
    );
    // Graph unreachable, or refusing this app: nothing to plan from.
    let fetched = fetcher::fetch_all(api, targets, users, reads.concurrency, &bar, reads.stop)
        .await
        .map_err(|e| anyhow::anyhow!("Graph answered none of the reads, so nothing was planned or changed: {e}"))?;
    Ok(targets
        .iter()
        .zip(fetched)
        .map(|(target, fetched)| {
            fetched
                .into_iter()
                .zip(unresolved)
                .zip(users)
                .map(|((read, unresolved), user)| match unresolved {
                    Some(e) if e.status == Some(404) => Err(SkipReason::NotFound),
                    Some(e) if e.code == graph::NOT_STARTED => Err(SkipReason::ReadFailed(e.message.clone())),
                    Some(e) => Err(SkipReason::ReadFailed(format!("could not resolve the user: {e}"))),
                    None => read
                        .map_err(|(reason, _)| reason)
                        .map(|c| reads.with_moves(target.name(), &user.user, c)),
                })
                .collect()
        })
        .collect())
}

/// A run that could not read some users deletes nothing by prune, for anyone: a partial read is
/// a sign of trouble (throttling, permissions) better looked at before anything is pruned.
/// Returns the targets to plan with and whether prune is on.
fn prune_if_all_read(
    config: &Config,
    region: phone::Region,
    targets: Vec<Box<dyn Target>>,
    current: &Current,
) -> Result<(Vec<Box<dyn Target>>, bool)> {
    let read_errors = current
        .iter()
        .flatten()
        .filter(|c| matches!(c, Err(SkipReason::ReadFailed(_))))
        .count();
    if !config.prune || read_errors == 0 {
        return Ok((targets, config.prune));
    }
    console::warn(&format!(
        "prune is off for this run: {} failed (see plan.md); run again once Graph answers them",
        console::count(read_errors as u64, "user read")
    ));
    let no_prune = Config {
        prune: false,
        ..config.clone()
    };
    Ok((targets::build(&no_prune, region)?, false))
}

/// The further reads a target's plan asks for (the default sign-in method before a delete),
/// and the plan made again with them.
async fn refine(reads: &Reads<'_>, users: &[DesiredUser], planned: &mut Planned) {
    let targets = planned.targets.iter().zip(&mut planned.current).zip(&mut planned.plan.targets);
    for ((target, current), plan) in targets {
        if let Some(e) = fetcher::refine(reads.api, target.as_ref(), users, current, plan, reads.concurrency).await {
            planned.notes.push(target.refine_refused(&e));
        }
    }
}

/// (target, lowercased user) whose items this run actually read (a conflicting user is not).
fn read_ok(targets: &[Box<dyn Target>], users: &[DesiredUser], current: &Current) -> HashSet<(String, String)> {
    targets
        .iter()
        .zip(current)
        .flat_map(|(t, current)| {
            users
                .iter()
                .zip(current)
                .filter(|(u, c)| c.is_ok() && u.conflict.is_none())
                .map(|(u, _)| (t.name().to_string(), u.user.to_lowercase()))
        })
        .collect()
}
