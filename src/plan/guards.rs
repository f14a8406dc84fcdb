//! Guards that stop `apply` before its first write when the plan looks like an accident rather
//! than an intention: a truncated or wrongly mapped HR file with prune on plans to delete phones
//! of half the tenant. Modelled on directory sync's accidental-delete threshold and rclone's
//! `--max-delete`: the run refuses, says what it would have done and how to proceed.

use crate::console::count;
use crate::model::{OpKind, Plan};
use anyhow::Result;
use std::path::Path;

/// What the last successful apply against a tenant read, kept in its state folder.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct LastRun {
    /// Users the input named.
    users: u64,
}

/// Users the last successful apply against `tenant` read, if one is on record in `dir`.
pub fn last_run_users(dir: &Path, tenant: &str) -> Option<u64> {
    let bytes = std::fs::read(crate::files::tenant_file(dir, tenant, "last-run.json")).ok()?;
    serde_json::from_slice::<LastRun>(&bytes).ok().map(|r| r.users)
}

/// Records that an apply against `tenant` read `users` users and finished.
pub fn record_run(dir: &Path, tenant: &str, users: u64) -> Result<()> {
    let bytes = serde_json::to_vec(&LastRun { users })?;
    crate::files::write_private(&crate::files::tenant_file(dir, tenant, "last-run.json"), &bytes)
}

/// Whether prune may run for an input naming `users` users, against `last` users read by the
/// last successful apply: not for one naming more than `max_shrink_percent` fewer users (a
/// truncated export), or why not. (An input without a usable row prunes nothing already: a user
/// whose every row was refused is held back from prune by the planners.)
pub fn check_shrink(users: u64, last: Option<u64>, max_shrink_percent: f64) -> Result<(), String> {
    let how = "check that the input file is complete; if it is, re-run with --allow-deletes N (N: the deletes `phonesync plan` lists)";
    match last {
        Some(last) if last > 0 && (users as f64) < last as f64 * (1.0 - max_shrink_percent / 100.0) => Err(format!(
            "the input names {}, {:.0} % fewer than the {last} of the last successful apply (plan.max_shrink_percent = {max_shrink_percent}); {how}",
            count(users, "user"),
            100.0 * (1.0 - users as f64 / last as f64)
        )),
        _ => Ok(()),
    }
}

/// Phones the plan deletes outright: deletes that are not the second half of a type change
/// (which keeps the number) and that will be sent (not blocked).
pub fn removing_deletes(plan: &Plan) -> u64 {
    plan.ops()
        .filter(|op| op.kind == OpKind::Delete && op.moves_to.is_none() && op.blocked.is_none())
        .count() as u64
}

/// Whether `deletes` over `users_read` users stays within `max` and `max_percent`, or why not,
/// with how to proceed. `allowed` (from `--allow-deletes`) replaces both limits.
pub fn check_deletes(deletes: u64, users_read: usize, max: u64, max_percent: Option<f64>, allowed: Option<u64>) -> Result<(), String> {
    let how = format!(
        "check that the input file is complete and mapped as intended (`phonesync plan` lists every delete in plan.md), then re-run with --allow-deletes {deletes}"
    );
    if let Some(allowed) = allowed {
        return if deletes <= allowed {
            Ok(())
        } else {
            Err(format!(
                "{} would be deleted, more than --allow-deletes {allowed}; {how}",
                count(deletes, "phone")
            ))
        };
    }
    if deletes > max {
        return Err(format!(
            "{} would be deleted, more than plan.max_deletes = {max}; {how} (or raise plan.max_deletes)",
            count(deletes, "phone")
        ));
    }
    if let Some(percent) = max_percent {
        let share = 100.0 * deletes as f64 / users_read.max(1) as f64;
        if share > percent {
            return Err(format!(
                "{} would be deleted for {} read ({share:.1} %), more than plan.max_delete_percent = {percent}; {how} (or raise plan.max_delete_percent)",
                count(deletes, "phone"),
                count(users_read as u64, "user")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Op, TargetPlan, UserPlan};

    #[test]
    fn only_deletes_that_remove_a_number_and_will_be_sent_count() {
        let op = |kind: OpKind, moves_to: Option<&str>, blocked: bool| Op {
            kind,
            phone_type: "office".into(),
            item_id: None,
            before: Some("+1 4255550100".into()),
            after: None,
            display_name: None,
            depends_on: Vec::new(),
            blocked: blocked.then(|| "the default sign-in method".to_string()),
            reason: String::new(),
            moves_to: moves_to.map(str::to_string),
        };
        let user = |ops: Vec<Op>| UserPlan {
            user: "u@contoso.com".into(),
            ops,
            skip: None,
            notes: Vec::new(),
            held_back: false,
        };
        let plan = Plan {
            targets: vec![
                TargetPlan {
                    target: "auth".into(),
                    users: vec![
                        user(vec![op(OpKind::Add, None, false), op(OpKind::Delete, Some("mobile"), false)]),
                        user(vec![op(OpKind::Delete, None, false), op(OpKind::Delete, None, true)]),
                    ],
                },
                TargetPlan {
                    target: "profile".into(),
                    users: vec![user(vec![op(OpKind::Update, None, false), op(OpKind::Delete, None, false)])],
                },
            ],
        };
        // The type change's delete keeps the number; the blocked one is never sent.
        assert_eq!(removing_deletes(&plan), 2);
    }

    #[test]
    fn an_input_far_smaller_than_the_last_run_may_not_prune() {
        assert_eq!(check_shrink(10, None, 50.0), Ok(()));
        assert_eq!(check_shrink(500, Some(1000), 50.0), Ok(()));
        let e = check_shrink(499, Some(1000), 50.0).unwrap_err();
        assert!(e.contains("499 users") && e.contains("50 % fewer") && e.contains("1000"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(last_run_users(dir.path(), "t"), None);
        record_run(dir.path(), "t", 1200).unwrap();
        assert_eq!(
            (last_run_users(dir.path(), "t"), last_run_users(dir.path(), "u")),
            (Some(1200), None)
        );
    }

    #[test]
    fn deletes_over_either_limit_are_refused_and_allow_deletes_lifts_both() {
        assert_eq!(check_deletes(500, 10_000, 500, None, None), Ok(()));
        let e = check_deletes(501, 10_000, 500, None, None).unwrap_err();
        assert!(
            e.contains("501 phones") && e.contains("max_deletes = 500") && e.contains("--allow-deletes 501"),
            "{e}"
        );
        let e = check_deletes(11, 100, 500, Some(10.0), None).unwrap_err();
        assert!(e.contains("11.0 %") && e.contains("max_delete_percent = 10"), "{e}");
        assert_eq!(check_deletes(10, 100, 500, Some(10.0), None), Ok(()));
        assert_eq!(check_deletes(900, 100, 500, Some(10.0), Some(900)), Ok(()));
        assert!(check_deletes(901, 100, 500, Some(10.0), Some(900)).is_err());
    }
}
