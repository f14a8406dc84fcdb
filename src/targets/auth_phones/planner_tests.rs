//! One test per planner rule (docs/planning.md, and the `planner` module doc) and per example given there.

use super::*;
use crate::model::DesiredPhone;
use crate::targets::auth_phones::types::PhoneType;
use PhoneType::{AlternateMobile as Alt, Mobile, Office};

const A: &str = "+1 2065550101";
const B: &str = "+1 2065550102";
const N: &str = "+1 2065550103";

fn phone(s: &str) -> Phone {
    crate::input::phone::from_graph(s)
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
                        display_name: None,
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
        ..CurrentUser::default()
    }
}

fn run(c: &[(PhoneType, &str)], d: &[(PhoneType, &str)]) -> UserPlan {
    plan_user(&desired(d), &current(c), &Settings::default())
}

/// The ops as (kind, type) pairs, in order.
fn shape(p: &UserPlan) -> Vec<(OpKind, PhoneType)> {
    p.ops.iter().map(|o| (o.kind, ty(o))).collect()
}

/// The op's type.
fn ty(o: &Op) -> PhoneType {
    PhoneType::parse(&o.phone_type).expect("an auth type")
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
    // An earlier run wrote the mobile and recorded the move, then stopped before the delete.
    let mut c = current(&[(Office, A), (Mobile, A)]);
    c.unfinished_moves = vec![(Office, Mobile, crate::input::phone::key(A))];
    let p = plan_user(&desired(&[(Mobile, A)]), &c, &Settings::default());
    assert_eq!(shape(&p), vec![(OpKind::Delete, Office)]);
    assert!(p.ops[0].depends_on.is_empty());
}

/// Issue 7, path 4: mobile X and office X, HR gives mobile X only. Nothing moves, so without
/// prune nothing is deleted.
#[test]
fn regression_no_delete_without_prune_when_nothing_moved() {
    let p = run(&[(Office, A), (Mobile, A)], &[(Mobile, A)]);
    assert!(p.ops.is_empty(), "{p:?}");
    // A record of another move (other number, other types) licenses nothing either.
    let mut c = current(&[(Office, A), (Mobile, A)]);
    c.unfinished_moves = vec![
        (Office, Mobile, crate::input::phone::key(B)),
        (Alt, Mobile, crate::input::phone::key(A)),
    ];
    assert!(plan_user(&desired(&[(Mobile, A)]), &c, &Settings::default()).ops.is_empty());
}

/// Issue 7, path 1: with prune on, a rejected row is "we don't know", never "HR wants nothing".
#[test]
fn regression_prune_never_deletes_a_type_whose_row_was_rejected() {
    let settings = Settings {
        prune: true,
        ..Settings::default()
    };
    // The mobile row was rejected (invalid number); the office row is fine.
    let mut d = desired(&[(Office, B)]);
    d.rejected.insert(Mobile, 7);
    let p = plan_user(&d, &current(&[(Mobile, A), (Office, B)]), &settings);
    assert!(p.ops.is_empty() && p.skip.is_none(), "{p:?}");
    assert!(
        p.notes.iter().any(|n| n.contains("line 7") && n.contains("rejected")),
        "{:?}",
        p.notes
    );
    // Nor is it updated when a valid row for the same type is also there.
    let mut d = desired(&[(Mobile, B)]);
    d.rejected.insert(Mobile, 3);
    assert!(plan_user(&d, &current(&[(Mobile, A)]), &settings).ops.is_empty());
    // Nor deleted as the source of a move.
    let mut d = desired(&[(Mobile, A)]);
    d.rejected.insert(Office, 4);
    let p = plan_user(&d, &current(&[(Office, A)]), &settings);
    assert_eq!(shape(&p), vec![(OpKind::Add, Mobile)], "{p:?}");
    // A rejected row whose type cannot be read (`Mobile Phone`) blocks every prune delete.
    let mut d = desired(&[(Mobile, A)]);
    d.rejected_untyped.push(5);
    let p = plan_user(&d, &current(&[(Mobile, A), (Office, B), (Alt, N)]), &settings);
    assert!(p.ops.is_empty(), "{p:?}");
    assert!(p.notes.iter().any(|n| n.contains("line 5")), "{:?}", p.notes);
    // A user whose every row was rejected has said nothing: nothing of theirs is pruned.
    let mut d = desired(&[]);
    d.rejected.insert(Mobile, 6);
    let p = plan_user(&d, &current(&[(Mobile, A), (Office, B)]), &settings);
    assert!(p.ops.is_empty(), "{p:?}");
    // Without any rejected row the same input prunes: the guard above is what held it back.
    let p = plan_user(&desired(&[(Mobile, A)]), &current(&[(Mobile, A), (Office, B), (Alt, N)]), &settings);
    assert_eq!(shape(&p), vec![(OpKind::Delete, Office), (OpKind::Delete, Alt)]);
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
    // Adding the alternate works, but deleting the mobile afterwards is not allowed (docs/graph.md#phone-method-rules).
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
    // Office is wanted with a new number, so the user has a row here and prune runs.
    let p = plan_user(&desired(&[(Office, N)]), &current(&[(Mobile, A), (Alt, B), (Office, N)]), &settings);
    assert_eq!(shape(&p), vec![(OpKind::Delete, Alt), (OpKind::Delete, Mobile)]);
    assert_eq!(p.ops[1].depends_on, vec![0], "mobile waits for the alternate's delete");
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
    let p = plan_user(&desired(&[(Office, N)]), &current(&[(Mobile, A), (Alt, B)]), &settings);
    assert!(matches!(p.skip, Some(SkipReason::Infeasible(_))));
}

type State = [Option<&'static str>; 3];

fn index(t: PhoneType) -> usize {
    match t {
        Mobile => 0,
        Alt => 1,
        Office => 2,
    }
}

/// One Graph request under Graph's rules (docs/graph.md#phone-method-rules), or why Graph refuses it.
fn graph_step(s: &State, kind: OpKind, t: PhoneType, n: Option<&'static str>) -> Result<State, &'static str> {
    let mut next = *s;
    let i = index(t);
    match kind {
        OpKind::Add if s[i].is_some() => return Err("POST of an existing type"),
        OpKind::Add if t == Alt && s[0].is_none() => return Err("alternate added without a mobile"),
        OpKind::Update if s[i].is_none() => return Err("PATCH of a missing method"),
        OpKind::Delete if s[i].is_none() => return Err("DELETE of a missing method"),
        OpKind::Delete if t == Mobile && s[1].is_some() => return Err("mobile deleted while an alternate exists"),
        OpKind::Add | OpKind::Update => next[i] = n,
        OpKind::Delete => next[i] = None,
    }
    Ok(next)
}

/// Whether Graph's rules allow any sequence of requests from `from` to `to` (breadth-first over
/// the few states three types and a handful of numbers make).
fn reachable(from: State, to: State, numbers: &[&'static str]) -> bool {
    let mut seen = vec![from];
    let mut queue = std::collections::VecDeque::from([from]);
    while let Some(s) = queue.pop_front() {
        if s == to {
            return true;
        }
        for t in PhoneType::ALL {
            let mut moves: Vec<(OpKind, Option<&'static str>)> = vec![(OpKind::Delete, None)];
            for n in numbers {
                moves.push((OpKind::Add, Some(n)));
                moves.push((OpKind::Update, Some(n)));
            }
            for (kind, n) in moves {
                if let Ok(next) = graph_step(&s, kind, t, n)
                    && !seen.contains(&next)
                {
                    seen.push(next);
                    queue.push_back(next);
                }
            }
        }
    }
    false
}

/// Every order of `ops` that `depends_on` allows (as `$batch` may run them): each is a list of
/// op indexes.
fn every_order(ops: &[Op]) -> Vec<Vec<usize>> {
    fn extend(ops: &[Op], done: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if done.len() == ops.len() {
            out.push(done.clone());
            return;
        }
        for i in 0..ops.len() {
            if !done.contains(&i) && ops[i].depends_on.iter().all(|d| done.contains(d)) {
                done.push(i);
                extend(ops, done, out);
                done.pop();
            }
        }
    }
    let mut out = Vec::new();
    extend(ops, &mut Vec::new(), &mut out);
    out
}

/// The end state docs/planning.md asks for, written from the rule table alone (not from the
/// planner): wanted numbers; unknown (rejected) types as they are; unnamed phones kept unless
/// pruned or moved to a type that does not hold their number yet.
fn goal(c: &State, d: &State, rejected: Option<PhoneType>, prune: bool) -> State {
    let mut g = *c;
    for t in PhoneType::ALL {
        let i = index(t);
        if Some(t) == rejected {
            continue;
        }
        if d[i].is_some() {
            g[i] = d[i];
        } else if c[i].is_some() {
            let moves = PhoneType::ALL
                .into_iter()
                .any(|u| u != t && Some(u) != rejected && d[index(u)] == c[i] && c[index(u)] != c[i]);
            if prune || moves {
                g[i] = None;
            }
        }
    }
    g
}

/// Every feasible plan, run in every order its dependencies allow, obeys Graph's rules at
/// every step, never leaves the user with fewer phones than both before and after, and ends in
/// the goal; and the planner calls a case infeasible exactly when Graph's rules allow no way to
/// the goal.
#[test]
fn every_order_of_every_plan_obeys_graphs_rules_and_infeasible_means_unreachable() {
    let numbers = [None, Some(A), Some(B), Some(N)];
    let mut feasible = 0;
    let mut infeasible = 0;
    let mut orders = 0;
    for prune in [false, true] {
        for untyped in [false, true] {
            for rejected in [None, Some(Mobile), Some(Alt), Some(Office)] {
                let settings = Settings {
                    prune,
                    ..Settings::default()
                };
                for c in states(&numbers) {
                    if c[1].is_some() && c[0].is_none() {
                        continue; // Graph never holds such a state
                    }
                    for d in states(&numbers) {
                        let mut desired_user = desired(&pairs(&d));
                        if let Some(r) = rejected {
                            desired_user.rejected.insert(r, 99);
                        }
                        if untyped {
                            desired_user.rejected_untyped.push(98);
                        }
                        let p = plan_user(&desired_user, &current(&pairs(&c)), &settings);
                        // Every row rejected, or no row here at all: the input said nothing of these phones.
                        let said_nothing = count(&d) == 0;
                        let target = goal(&c, &d, rejected, prune && !untyped && !said_nothing);
                        match &p.skip {
                            Some(SkipReason::Infeasible(_)) => {
                                assert!(
                                    !reachable(c, target, &[A, B, N]),
                                    "{c:?} -> {d:?} (rejected {rejected:?}, prune {prune}) is reachable, but the planner says infeasible"
                                );
                                infeasible += 1;
                                continue;
                            }
                            Some(other) => panic!("unexpected skip {other:?}"),
                            None => {}
                        }
                        let floor = count(&c).min(count(&target));
                        for order in every_order(&p.ops) {
                            let mut s = c;
                            for &i in &order {
                                let o = &p.ops[i];
                                let n = o.after.as_deref().map(|a| [A, B, N].into_iter().find(|x| *x == a).unwrap());
                                s = graph_step(&s, o.kind, ty(o), n)
                                    .unwrap_or_else(|e| panic!("{e}: {c:?} -> {d:?}, order {order:?}: {p:?}"));
                                assert!(count(&s) >= floor, "fewer phones than before and after: {c:?} -> {d:?} {order:?}");
                            }
                            assert_eq!(
                                s, target,
                                "{c:?} -> {d:?} (rejected {rejected:?}, prune {prune}), order {order:?}: {p:?}"
                            );
                            orders += 1;
                        }
                        feasible += 1;
                    }
                }
            }
        }
    }
    assert!(
        feasible > 10_000 && infeasible > 100 && orders > feasible,
        "{feasible} feasible, {infeasible} infeasible, {orders} orders"
    );
}

fn states(numbers: &[Option<&'static str>]) -> Vec<State> {
    let mut v = Vec::new();
    for m in numbers {
        for a in numbers {
            for o in numbers {
                v.push([*m, *a, *o]);
            }
        }
    }
    v
}

fn pairs(s: &State) -> Vec<(PhoneType, &'static str)> {
    PhoneType::ALL.into_iter().filter_map(|t| s[index(t)].map(|n| (t, n))).collect()
}

fn count(s: &State) -> usize {
    s.iter().flatten().count()
}

/// Issue 8 review: with two targets, a user whose only row is for the other target (valid or
/// rejected) has told us nothing about sign-in phones: prune deletes none of them.
#[test]
fn regression_a_row_for_another_target_never_licenses_a_prune_here() {
    let settings = Settings {
        prune: true,
        ..Settings::default()
    };
    let c = current(&[(Mobile, A), (Office, B)]);
    // The projection left nothing for this target: no wanted phone, no rejected row.
    let p = plan_user(&desired(&[]), &c, &settings);
    assert!(p.ops.is_empty(), "{:?}", p.ops);
    assert!(
        p.notes.iter().any(|n| n.contains("no row of this user is about these phones")),
        "{:?}",
        p.notes
    );
    // One row here is enough for prune to work as configured.
    let p = plan_user(&desired(&[(Mobile, A)]), &c, &settings);
    assert_eq!(shape(&p), vec![(OpKind::Delete, Office)]);
}
