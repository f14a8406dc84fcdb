//! Guards that stop `apply` before its first write when the plan looks like an accident rather
//! than an intention: a truncated or wrongly mapped HR file with prune on plans to delete phones
//! of half the tenant. Modelled on directory sync's accidental-delete threshold and rclone's
//! `--max-delete`: the run refuses, says what it would have done and how to proceed.

use crate::model::{OpKind, Plan};

/// Phones the plan deletes outright: deletes that are not the second half of a type change
/// (which keeps the number) and that will be sent (not blocked).
pub fn removing_deletes(plan: &Plan) -> u64 {
    plan.targets
        .iter()
        .flat_map(|t| &t.users)
        .flat_map(|u| &u.ops)
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
                "{deletes} phones would be deleted, more than --allow-deletes {allowed}; {how}"
            ))
        };
    }
    if deletes > max {
        return Err(format!(
            "{deletes} phones would be deleted, more than plan.max_deletes = {max}; {how} (or raise plan.max_deletes)"
        ));
    }
    if let Some(percent) = max_percent {
        let share = 100.0 * deletes as f64 / users_read.max(1) as f64;
        if share > percent {
            return Err(format!(
                "{deletes} phones would be deleted for {users_read} users read ({share:.1} %), more than plan.max_delete_percent = {percent}; {how} (or raise plan.max_delete_percent)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
