//! The `auth` target's planner: (current, desired, settings) → the smallest safe list of ops
//! per user.
//!
//! Pure code, no I/O: every rule of docs/planning.md for the `auth` target lives here, so it
//! can be tested exhaustively and a plan can be shown for approval before anything is written.

use crate::model::{Op, OpKind, Phone, SkipReason, UserPlan};
use crate::targets::auth_phones::types::{Current as CurrentUser, Desired as DesiredUser, PhoneType};
use std::collections::BTreeMap;

/// The planner's knobs, from config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Types the tool may change; others are left alone and their input rows ignored.
    pub managed_types: Vec<PhoneType>,
    /// Delete managed phones the input does not name.
    pub prune: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            managed_types: PhoneType::ALL.to_vec(),
            prune: false,
        }
    }
}

/// Plans one user.
pub fn plan_user(desired: &DesiredUser, current: &CurrentUser, settings: &Settings) -> UserPlan {
    if let Some(conflict) = &desired.conflict {
        return UserPlan::skipped(&desired.user, SkipReason::Conflict(conflict.clone()));
    }
    let managed = |t: PhoneType| settings.managed_types.contains(&t);
    let mut notes = Vec::new();
    for (t, d) in desired.phones.iter().filter(|(t, _)| !managed(**t)) {
        notes.push(format!("line {}: {t} is not in managed_types; row ignored", d.line));
    }
    // A rejected row means "we do not know what HR wants", never "HR wants nothing".
    let unknown = |t: PhoneType| desired.rejected.contains_key(&t);
    for (t, line) in desired.rejected.iter().filter(|(t, _)| managed(**t)) {
        notes.push(format!(
            "line {line}: the {t} row was rejected, so {t} is left as it is (not added, updated or deleted)"
        ));
    }
    // Rows of unreadable type could be about any type; a user whose every row here was rejected,
    // or who has no row here, has told us nothing about these phones: nothing of theirs is pruned.
    let prune = crate::targets::rules::prune(
        settings.prune,
        &desired.rejected_untyped,
        desired.phones.len() + desired.stated_none,
        desired.rejected.len(),
        &mut notes,
    );
    let want: BTreeMap<PhoneType, (&Phone, u64)> = desired
        .phones
        .iter()
        .filter(|(t, _)| managed(**t) && !unknown(**t))
        .map(|(t, d)| (*t, (&d.phone, d.line)))
        .collect();
    let types: Vec<PhoneType> = PhoneType::ALL.into_iter().filter(|t| managed(*t) && !unknown(*t)).collect();
    let diff = diff(&types, &want, current, prune.runs);
    if let Some(why) = alternate_without_mobile(&diff.after, current) {
        return UserPlan {
            notes,
            ..UserPlan::skipped(&desired.user, SkipReason::Infeasible(why.to_string()))
        };
    }
    UserPlan {
        user: desired.user.clone(),
        ops: order(diff, current),
        skip: None,
        notes,
        held_back: desired.rejected.keys().any(|t| managed(*t)) || prune.held_by_rejected_rows,
    }
}

/// The writes and deletes that take `current` to `want` in `types`, and the phones the user
/// holds once they ran (by comparison key).
struct Diff<'a> {
    writes: Vec<Op>,
    deletes: Vec<Op>,
    after: BTreeMap<PhoneType, &'a str>,
}

/// Compares each type: an add where nothing is held, an update where the number differs, and a
/// delete where nothing is wanted and the number moves to another type or prune runs.
fn diff<'a>(types: &[PhoneType], want: &BTreeMap<PhoneType, (&'a Phone, u64)>, current: &'a CurrentUser, prune: bool) -> Diff<'a> {
    let mut writes = Vec::new();
    let mut deletes = Vec::new();
    let mut after: BTreeMap<PhoneType, &str> = current.phones.iter().map(|(t, p)| (*t, p.key.as_str())).collect();
    for &t in types {
        match (current.phones.get(&t), want.get(&t)) {
            (None, Some((n, line))) => {
                writes.push(op(OpKind::Add, t, None, Some(n), format!("not registered; wanted by line {line}")));
                after.insert(t, &n.key);
            }
            (Some(m), Some((n, _))) if m.key == n.key => {}
            (Some(m), Some((n, line))) => {
                writes.push(op(OpKind::Update, t, Some(m), Some(n), format!("number differs from line {line}")));
                after.insert(t, &n.key);
            }
            (Some(m), None) => {
                // A move is a number wanted on another type that does not hold it yet, or a
                // move an earlier run started and did not finish. A number that is already on
                // both types without such a record is no move: without prune it stays.
                let moved_to = want.iter().find(|(u, (n, _))| {
                    **u != t
                        && n.key == m.key
                        && (current.phones.get(u).is_none_or(|c| c.key != m.key)
                            || current
                                .unfinished_moves
                                .iter()
                                .any(|(from, to, k)| *from == t && to == *u && *k == m.key))
                });
                let reason = match (moved_to, prune) {
                    (Some((u, (_, line))), _) => format!("number moves to {u} (line {line})"),
                    (None, true) => "not in the input, and prune is on".to_string(),
                    (None, false) => continue,
                };
                deletes.push(Op {
                    moves_to: moved_to.map(|(u, _)| u.as_str().to_string()),
                    ..op(OpKind::Delete, t, Some(m), None, reason)
                });
                after.remove(&t);
            }
            (None, None) => {}
        }
    }
    Diff { writes, deletes, after }
}

/// Why a plan that leaves an `alternateMobile` without a `mobile` cannot run, if it does.
fn alternate_without_mobile(after: &BTreeMap<PhoneType, &str>, current: &CurrentUser) -> Option<&'static str> {
    if !after.contains_key(&PhoneType::AlternateMobile) || after.contains_key(&PhoneType::Mobile) {
        return None;
    }
    Some(if current.phones.contains_key(&PhoneType::Mobile) {
        "the plan would remove the mobile phone but keep alternateMobile, and Graph requires a mobile while an alternateMobile exists; give the user a mobile number too"
    } else {
        "alternateMobile needs a mobile phone, and the user has none and the input gives none"
    })
}

/// The ops in the order they may run, with their dependencies: writes first (an
/// `alternateMobile` after the `mobile` it needs), then deletes office → alternateMobile →
/// mobile, each waiting for every write; a delete of the default sign-in method is blocked.
fn order(diff: Diff, current: &CurrentUser) -> Vec<Op> {
    let Diff { writes, mut deletes, .. } = diff;
    // Deletes go office → alternateMobile → mobile: a mobile may only go once the alternate has.
    deletes.sort_by_key(|o| match PhoneType::parse(&o.phone_type) {
        Some(PhoneType::Office) => 0,
        Some(PhoneType::AlternateMobile) => 1,
        _ => 2,
    });
    let mut ops = writes;
    let write_count = ops.len();
    // An alternateMobile can only be added once the mobile it needs exists.
    if !current.phones.contains_key(&PhoneType::Mobile)
        && let Some(mobile) = ops.iter().position(|o| is(o, PhoneType::Mobile))
        && let Some(alt) = ops.iter_mut().find(|o| is(o, PhoneType::AlternateMobile))
    {
        alt.depends_on.push(mobile);
    }
    for mut delete in deletes {
        // Add before delete, never the other way round: every delete waits for every write.
        delete.depends_on.extend(0..write_count);
        if is(&delete, PhoneType::Mobile)
            && let Some(alt) = ops
                .iter()
                .position(|o| o.kind == OpKind::Delete && is(o, PhoneType::AlternateMobile))
        {
            delete.depends_on.push(alt);
        }
        if current.default_method.is_some_and(|d| is(&delete, d)) {
            delete.blocked = Some("it is the user's default sign-in method; change the default first".into());
        }
        ops.push(delete);
    }
    ops
}

/// Whether `op` is about type `t`.
fn is(op: &Op, t: PhoneType) -> bool {
    op.phone_type == t.as_str()
}

fn op(kind: OpKind, phone_type: PhoneType, before: Option<&Phone>, after: Option<&Phone>, reason: String) -> Op {
    Op {
        kind,
        phone_type: phone_type.as_str().to_string(),
        item_id: None,
        display_name: None,
        before: before.map(|p| p.display.clone()),
        after: after.map(|p| p.display.clone()),
        depends_on: Vec::new(),
        blocked: None,
        reason,
        moves_to: None,
    }
}

#[cfg(test)]
#[path = "planner_tests.rs"]
mod tests;
