//! One test per planner rule of design.md §4 and per example given there.

use super::*;
use crate::model::DesiredPhone;
use PhoneType::{AlternateMobile as Alt, Mobile, Office};

const A: &str = "+1 2065550101";
const B: &str = "+1 2065550102";
const N: &str = "+1 2065550103";

fn phone(s: &str) -> Phone {
    crate::phone::from_graph(s)
}

fn desired(pairs: &[(PhoneType, &str)]) -> DesiredUser {
    DesiredUser {
        user: "u@contoso.com".into(),
        phones: pairs
            .iter()
            .enumerate()
            .map(|(i, (t, n))| {
                (
                    *t,
                    DesiredPhone {
                        phone: phone(n),
                        line: i as u64 + 2,
                    },
                )
            })
            .collect(),
        conflict: None,
        ..Default::default()
    }
}

fn current(pairs: &[(PhoneType, &str)]) -> CurrentUser {
    CurrentUser {
        phones: pairs.iter().map(|(t, n)| (*t, phone(n))).collect(),
        default_method: None,
    }
}

fn run(c: &[(PhoneType, &str)], d: &[(PhoneType, &str)]) -> UserPlan {
    plan_user(&desired(d), &current(c), &Settings::default())
}

/// The ops as (kind, type) pairs, in order.
fn shape(p: &UserPlan) -> Vec<(OpKind, PhoneType)> {
    p.ops.iter().map(|o| (o.kind, o.phone_type)).collect()
}

#[test]
fn absent_then_wanted_is_an_add() {
    let p = run(&[], &[(Mobile, A)]);
    assert_eq!(shape(&p), vec![(OpKind::Add, Mobile)]);
    assert_eq!(p.ops[0].after.as_deref(), Some(A));
}

#[test]
fn same_number_written_differently_is_nothing() {
    let p = run(&[(Mobile, "+12065550101")], &[(Mobile, A)]);
    assert!(p.ops.is_empty() && p.skip.is_none());
}

#[test]
fn different_number_is_an_update() {
    let p = run(&[(Office, A)], &[(Office, B)]);
    assert_eq!(shape(&p), vec![(OpKind::Update, Office)]);
    assert_eq!((p.ops[0].before.as_deref(), p.ops[0].after.as_deref()), (Some(A), Some(B)));
}

#[test]
fn unnamed_phone_is_kept_without_prune_and_deleted_with_it() {
    assert!(run(&[(Mobile, A), (Office, B)], &[(Mobile, A)]).ops.is_empty());
    let settings = Settings {
        prune: true,
        ..Settings::default()
    };
    let p = plan_user(&desired(&[(Mobile, A)]), &current(&[(Mobile, A), (Office, B)]), &settings);
    assert_eq!(shape(&p), vec![(OpKind::Delete, Office)]);
}

#[test]
fn type_change_is_add_then_delete_and_the_delete_depends_on_the_add() {
    let p = run(&[(Office, A)], &[(Mobile, A)]);
    assert_eq!(shape(&p), vec![(OpKind::Add, Mobile), (OpKind::Delete, Office)]);
    assert_eq!(p.ops[1].depends_on, vec![0]);
}

#[test]
fn half_done_type_change_only_deletes() {
    let p = run(&[(Office, A), (Mobile, A)], &[(Mobile, A)]);
    assert_eq!(shape(&p), vec![(OpKind::Delete, Office)]);
    assert!(p.ops[0].depends_on.is_empty());
}

#[test]
fn type_change_onto_an_existing_type_updates_it_then_deletes() {
    let p = run(&[(Mobile, B), (Office, A)], &[(Mobile, A)]);
    assert_eq!(shape(&p), vec![(OpKind::Update, Mobile), (OpKind::Delete, Office)]);
    assert_eq!(p.ops[1].depends_on, vec![0]);
}

#[test]
fn promoting_the_alternate_patches_mobile_then_deletes_alternate() {
    let p = run(&[(Mobile, A), (Alt, B)], &[(Mobile, B)]);
    assert_eq!(shape(&p), vec![(OpKind::Update, Mobile), (OpKind::Delete, Alt)]);
    assert_eq!(p.ops[1].depends_on, vec![0]);
}

#[test]
fn mobile_is_written_before_an_alternate_is_added() {
    let p = run(&[], &[(Office, N), (Alt, B), (Mobile, A)]);
    assert_eq!(shape(&p), vec![(OpKind::Add, Mobile), (OpKind::Add, Alt), (OpKind::Add, Office)]);
    assert_eq!(p.ops[1].depends_on, vec![0], "the alternate waits for its mobile");
    assert!(p.ops[2].depends_on.is_empty());
}

#[test]
fn alternate_without_any_mobile_is_infeasible() {
    let p = run(&[], &[(Alt, A)]);
    assert!(matches!(p.skip, Some(SkipReason::Infeasible(_))), "{p:?}");
    assert!(p.ops.is_empty());
}

#[test]
fn alternate_with_an_existing_mobile_is_fine() {
    let p = run(&[(Mobile, A)], &[(Alt, B)]);
    assert_eq!(shape(&p), vec![(OpKind::Add, Alt)]);
    assert!(p.ops[0].depends_on.is_empty());
}

#[test]
fn moving_the_only_mobile_to_alternate_is_infeasible() {
    // Adding the alternate works, but deleting the mobile afterwards is not allowed (graph-contract §1.4).
    let p = run(&[(Mobile, A)], &[(Alt, A)]);
    assert!(
        matches!(p.skip, Some(SkipReason::Infeasible(ref m)) if m.contains("remove the mobile")),
        "{p:?}"
    );
}

#[test]
fn pruning_mobile_while_keeping_alternate_is_infeasible() {
    let settings = Settings {
        prune: true,
        ..Settings::default()
    };
    let p = plan_user(&desired(&[(Alt, B)]), &current(&[(Mobile, A), (Alt, B)]), &settings);
    assert!(matches!(p.skip, Some(SkipReason::Infeasible(_))));
}

#[test]
fn pruning_both_deletes_alternate_before_mobile() {
    let settings = Settings {
        prune: true,
        ..Settings::default()
    };
    let p = plan_user(&desired(&[]), &current(&[(Mobile, A), (Alt, B), (Office, N)]), &settings);
    assert_eq!(
        shape(&p),
        vec![(OpKind::Delete, Office), (OpKind::Delete, Alt), (OpKind::Delete, Mobile)]
    );
    assert_eq!(p.ops[2].depends_on, vec![1], "mobile waits for the alternate's delete");
}

#[test]
fn every_delete_depends_on_every_write() {
    let settings = Settings {
        prune: true,
        ..Settings::default()
    };
    let p = plan_user(&desired(&[(Mobile, B), (Alt, A)]), &current(&[(Mobile, A), (Office, N)]), &settings);
    assert_eq!(
        shape(&p),
        vec![(OpKind::Update, Mobile), (OpKind::Add, Alt), (OpKind::Delete, Office)]
    );
    assert_eq!(p.ops[2].depends_on, vec![0, 1]);
}

#[test]
fn deleting_the_default_method_is_blocked_not_sent() {
    let mut c = current(&[(Office, A)]);
    c.default_method = Some(Office);
    let p = plan_user(&desired(&[(Mobile, A)]), &c, &Settings::default());
    assert_eq!(shape(&p), vec![(OpKind::Add, Mobile), (OpKind::Delete, Office)]);
    assert!(p.ops[0].blocked.is_none());
    assert!(p.ops[1].blocked.as_deref().unwrap().contains("default sign-in method"));
}

#[test]
fn conflicting_input_skips_the_user() {
    let mut d = desired(&[(Mobile, A)]);
    d.conflict = Some("lines 2 and 3 give different mobile numbers".into());
    let p = plan_user(&d, &current(&[]), &Settings::default());
    assert_eq!(
        p.skip,
        Some(SkipReason::Conflict("lines 2 and 3 give different mobile numbers".into()))
    );
    assert!(p.ops.is_empty());
}

#[test]
fn unmanaged_types_are_neither_written_nor_deleted() {
    let settings = Settings {
        managed_types: vec![Mobile],
        prune: true,
    };
    let p = plan_user(&desired(&[(Mobile, A), (Office, B)]), &current(&[(Office, N), (Alt, N)]), &settings);
    assert_eq!(shape(&p), vec![(OpKind::Add, Mobile)]);
    assert_eq!(p.notes.len(), 1);
    assert!(p.notes[0].contains("office is not in managed_types"));
}

#[test]
fn an_unmanaged_alternate_still_needs_a_mobile() {
    // The user keeps an alternate the tool may not touch; pruning its mobile would break the rule.
    let settings = Settings {
        managed_types: vec![Mobile, Office],
        prune: true,
    };
    let p = plan_user(&desired(&[]), &current(&[(Mobile, A), (Alt, B)]), &settings);
    assert!(matches!(p.skip, Some(SkipReason::Infeasible(_))));
}

#[test]
fn read_problems_become_skips() {
    let d = desired(&[(Mobile, A)]);
    let missing: Result<CurrentUser, SkipReason> = Err(SkipReason::NotFound);
    let plan = plan([(&d, &missing)], &Settings::default());
    assert_eq!(plan.users[0].skip, Some(SkipReason::NotFound));
    assert_eq!(plan.skipped_users(), 1);
}

/// Applies a user's plan to its current state, following Graph's rules, and fails on any
/// violation: a property check that every feasible plan is executable in order and ends at the
/// desired state.
fn simulate(c: &[(PhoneType, &str)], p: &UserPlan) -> BTreeMap<PhoneType, String> {
    let mut state: BTreeMap<PhoneType, String> = c.iter().map(|(t, n)| (*t, crate::phone::key(n))).collect();
    for o in &p.ops {
        match o.kind {
            OpKind::Add => {
                assert!(!state.contains_key(&o.phone_type), "POST of an existing type: {p:?}");
                if o.phone_type == Alt {
                    assert!(state.contains_key(&Mobile), "alternate added before mobile: {p:?}");
                }
                state.insert(o.phone_type, crate::phone::key(o.after.as_ref().unwrap()));
            }
            OpKind::Update => {
                assert!(state.contains_key(&o.phone_type));
                state.insert(o.phone_type, crate::phone::key(o.after.as_ref().unwrap()));
            }
            OpKind::Delete => {
                if o.phone_type == Mobile {
                    assert!(!state.contains_key(&Alt), "mobile deleted while alternate exists: {p:?}");
                }
                assert!(state.remove(&o.phone_type).is_some());
            }
        }
    }
    state
}

#[test]
fn every_feasible_plan_obeys_graphs_rules_and_reaches_the_goal() {
    let numbers = [None, Some(A), Some(B), Some(N)];
    let mut checked = 0;
    for prune in [false, true] {
        let settings = Settings {
            prune,
            ..Settings::default()
        };
        for cm in numbers {
            for ca in numbers {
                for co in numbers {
                    for dm in numbers {
                        for da in numbers {
                            for d_o in numbers {
                                let c: Vec<(PhoneType, &str)> = [(Mobile, cm), (Alt, ca), (Office, co)]
                                    .into_iter()
                                    .filter_map(|(t, n)| n.map(|n| (t, n)))
                                    .collect();
                                if c.iter().any(|(t, _)| *t == Alt) && !c.iter().any(|(t, _)| *t == Mobile) {
                                    continue; // Graph never holds such a state
                                }
                                let d: Vec<(PhoneType, &str)> = [(Mobile, dm), (Alt, da), (Office, d_o)]
                                    .into_iter()
                                    .filter_map(|(t, n)| n.map(|n| (t, n)))
                                    .collect();
                                let p = plan_user(&desired(&d), &current(&c), &settings);
                                if p.skip.is_some() {
                                    continue;
                                }
                                let end = simulate(&c, &p);
                                for (t, n) in &d {
                                    assert_eq!(end.get(t), Some(&crate::phone::key(n)), "{c:?} -> {d:?}: {p:?}");
                                }
                                if prune {
                                    assert_eq!(end.len(), d.len(), "prune leaves only what is named: {p:?}");
                                }
                                // Deletes come after all writes.
                                let first_delete = p.ops.iter().position(|o| o.kind == OpKind::Delete).unwrap_or(p.ops.len());
                                assert!(p.ops[first_delete..].iter().all(|o| o.kind == OpKind::Delete));
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} cases checked");
}
