//! A saved plan checked against the tenant as it is now, before it runs: every user whose plan
//! sends something is read again, and one whose state changed since planning is skipped as
//! stale rather than written from an outdated picture.

use crate::model::{CurrentUser, DesiredUser, Op, OpKind, Plan, SkipReason, TargetPlan, UserPlan};
use crate::pipeline::fetcher;
use crate::plan::fingerprint::{fingerprint, outcome_of};
use crate::plan::planned::{Planned, Reads};
use crate::plan::saved::{SavedPlan, SavedUser};
use crate::progress;
use crate::targets::Target;
use std::collections::HashSet;

impl SavedPlan {
    /// The plan to execute now: every user whose plan sends something is read again (with the
    /// further read its target asks for, and the moves on record); a user whose state differs
    /// from the one planned against is skipped as stale, one that cannot be read is skipped as
    /// unreadable. `targets` are the configured targets in the plan's order.
    pub async fn recheck(self, reads: &mut Reads<'_>, targets: Vec<Box<dyn Target>>) -> Planned {
        let sends = self.targets.iter().flat_map(|t| &t.users).filter(|u| u.plan.sends()).count();
        let bar = progress::bar(sends as u64, "re-read", reads.quiet, Some(reads.api.stats.throttled.clone()));
        let mut planned = Planned {
            plan: Plan::default(),
            users_read: self.users_read as usize,
            prune: self.prune,
            read_ok: HashSet::new(),
            current: Vec::new(),
            targets: Vec::new(),
            notes: Vec::new(),
        };
        for (target, saved) in targets.into_iter().zip(self.targets) {
            let reads = read_again(reads, target.as_ref(), &saved.users, &bar, &mut planned.notes).await;
            let mut reads = reads.into_iter();
            let (users, current): (Vec<UserPlan>, Vec<Result<CurrentUser, SkipReason>>) = saved
                .users
                .into_iter()
                .map(|u| {
                    let read = u.plan.sends().then(|| reads.next().expect("one read per user read"));
                    let (plan, current, fits) = judge(u, read);
                    if fits {
                        planned.read_ok.insert((saved.target.clone(), plan.user.to_lowercase()));
                    }
                    (plan, current)
                })
                .unzip();
            planned.current.push(current);
            planned.plan.targets.push(TargetPlan {
                target: saved.target,
                users,
            });
            planned.targets.push(target);
        }
        bar.finish_and_clear();
        planned
    }
}

/// The current state of the saved users whose plan sends something (users whose ops are all
/// blocked send nothing and are reported as planned), with the further reads planning made,
/// made again; one refused leaves the state as it was then too (planning noted it and planned
/// without it), and is noted in `notes`.
async fn read_again(
    reads: &mut Reads<'_>,
    target: &dyn Target,
    saved: &[SavedUser],
    bar: &indicatif::ProgressBar,
    notes: &mut Vec<String>,
) -> Vec<Result<CurrentUser, SkipReason>> {
    let sending: Vec<&SavedUser> = saved.iter().filter(|u| u.plan.sends()).collect();
    let to_read: Vec<DesiredUser> = sending
        .iter()
        .map(|u| DesiredUser {
            user: u.plan.user.clone(),
            ..DesiredUser::default()
        })
        .collect();
    let fetched = fetcher::fetch(reads.api, target, &to_read, reads.concurrency, bar, reads.stop).await;
    let mut current: Vec<Result<CurrentUser, SkipReason>> = fetched
        .into_iter()
        .zip(&to_read)
        .map(|(read, u)| {
            read.map_err(|(reason, _)| reason)
                .map(|c| reads.with_moves(target.name(), &u.user, c))
        })
        .collect();
    let further: Vec<(usize, (crate::graph::Version, String))> = sending
        .iter()
        .enumerate()
        .filter(|(k, _)| current[*k].is_ok())
        .filter_map(|(k, u)| target.refine_read(&u.plan.user, &u.plan).map(|r| (k, r)))
        .collect();
    let (_, refused) = fetcher::read_further(reads.api, target, &further, &mut current, reads.concurrency).await;
    if let Some(e) = refused {
        notes.push(target.refine_refused(&e));
    }
    current
}

/// What to do with one saved user given what was read now (`None`: not read, the plan sends
/// nothing): the user's plan to run (or skipped, and why), the state read, and whether the
/// user was read and is as planned (its writes may go ahead).
fn judge(u: SavedUser, read: Option<Result<CurrentUser, SkipReason>>) -> (UserPlan, Result<CurrentUser, SkipReason>, bool) {
    match read {
        None => (
            u.plan,
            Err(SkipReason::ReadFailed("not read: the plan sends nothing".into())),
            false,
        ),
        Some(Err(reason)) => (UserPlan::skipped(&u.plan.user, reason.clone()), Err(reason), false),
        // Already as planned: an earlier apply of this plan did it (or someone did). Its
        // blocked ops are still reported; nothing is sent.
        Some(Ok(c)) if fingerprint(&c) != u.fingerprint && !u.outcome.is_empty() && outcome_of(&c.items) == u.outcome => {
            let blocked = u
                .plan
                .ops
                .iter()
                .filter(|o| o.blocked.is_some())
                .map(|o| Op {
                    depends_on: Vec::new(),
                    ..o.clone()
                })
                .collect();
            let mut done = UserPlan { ops: blocked, ..u.plan };
            done.notes
                .push("already as this plan makes it (an earlier apply of it): nothing to do".into());
            (done, Ok(c), true)
        }
        Some(Ok(c)) if fingerprint(&c) != u.fingerprint => {
            let stale = SkipReason::Stale(
                "the user's phones (or default sign-in method) in Graph differ from when the plan was made; plan again".into(),
            );
            (UserPlan::skipped(&u.plan.user, stale), Ok(c), false)
        }
        // The same state, but ops that do not fit it: an edited plan.
        Some(Ok(c)) if let Err(why) = ops_fit(&u.plan.ops, &c) => {
            let stale = SkipReason::Stale(format!(
                "the plan's ops do not fit the user's phones ({why}): was plan.json edited? plan again"
            ));
            (UserPlan::skipped(&u.plan.user, stale), Ok(c), false)
        }
        Some(Ok(c)) => (u.plan, Ok(c), true),
    }
}

/// Whether every update and delete of `ops` that is sent changes an item `current` holds, with
/// the number the op says it had: by its server id, else by its type.
fn ops_fit(ops: &[Op], current: &CurrentUser) -> Result<(), String> {
    for (i, op) in ops.iter().enumerate().filter(|(_, o)| o.blocked.is_none() && o.kind != OpKind::Add) {
        let item = current.items.iter().find(|item| match &op.item_id {
            Some(id) => item.id == *id,
            None => item.phone_type == op.phone_type,
        });
        // The number as the plan read it (a profile number may be written nationally, which
        // only its target reads right), else as a number.
        let before = op.before.as_deref();
        let same =
            |item: &crate::model::Item| before.is_some_and(|b| item.phone.display == b || item.phone.key == crate::input::phone::key(b));
        match item {
            Some(item) if same(item) => {}
            _ => return Err(format!("op {} changes a phone the user does not have", i + 1)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fingerprint::tests::item;
    use crate::plan::saved::check_ops;

    #[test]
    fn an_edited_op_that_does_not_fit_the_users_phones_is_caught() {
        let op = |kind, t: &str, item_id: Option<&str>, before: &str| Op {
            kind,
            phone_type: t.into(),
            item_id: item_id.map(str::to_string),
            before: Some(before.into()),
            after: Some("+1 2065550199".into()),
            display_name: None,
            depends_on: Vec::new(),
            blocked: None,
            reason: String::new(),
            moves_to: None,
        };
        let current = CurrentUser {
            items: vec![item("o", "office", "+14255550100"), item("p", "business", "+12065550100")],
            ..CurrentUser::default()
        };
        assert!(ops_fit(&[op(OpKind::Update, "office", None, "+1 425 555 0100")], &current).is_ok());
        assert!(ops_fit(&[op(OpKind::Delete, "home", Some("p"), "+1 2065550100")], &current).is_ok());
        assert!(
            ops_fit(&[op(OpKind::Add, "mobile", None, "")], &current).is_ok(),
            "an add changes nothing held"
        );
        for bad in [
            op(OpKind::Update, "office", None, "+1 4255550999"),
            op(OpKind::Delete, "mobile", None, "+1 4255550100"),
            op(OpKind::Delete, "business", Some("q"), "+1 2065550100"),
        ] {
            assert!(ops_fit(std::slice::from_ref(&bad), &current).is_err(), "{bad:?}");
        }
        let user = |ops: Vec<Op>| UserPlan {
            user: "u".into(),
            ops,
            skip: None,
            notes: Vec::new(),
            held_back: false,
        };
        let managed = ["business".to_string()];
        let unnamed = user(vec![op(OpKind::Delete, "business", None, "+1 2065550100")]);
        assert!(check_ops(&unnamed, &managed, false).is_ok());
        assert!(check_ops(&unnamed, &managed, true).unwrap_err().contains("does not name the item"));
    }
}
