//! The profile planner's rules (one test each) and its wire format.

use super::*;
use crate::graph::CallInfo;
use crate::model::DesiredPhone;

const A: &str = "+1 2065550101";
const B: &str = "+1 2065550102";

fn target(managed_types: Option<&[&str]>, prune: bool) -> ProfilePhones {
    built(
        TargetSection {
            name: "profile".into(),
            managed_types: managed_types.map(|m| m.iter().map(|s| s.to_string()).collect()),
            from: None,
        },
        prune,
    )
}

/// The target built from `section`, with `prune`.
fn built(section: TargetSection, prune: bool) -> ProfilePhones {
    let context = Context {
        prune,
        region: "US".parse().unwrap(),
        app_only: true,
    };
    let built = build(&section, &context).unwrap();
    ProfilePhones {
        settings: built.settings().clone(),
        region: context.region,
        app_only: context.app_only,
    }
}

/// A user wanting (input type, number, display name) rows, on lines 2, 3, …
fn desired(rows: &[(&str, &str, Option<&str>)]) -> DesiredUser {
    let mut d = DesiredUser {
        user: "u@contoso.com".into(),
        ..Default::default()
    };
    for (i, (t, n, name)) in rows.iter().enumerate() {
        d.want(
            t,
            DesiredPhone {
                phone: phone::from_graph(n),
                line: i as u64 + 2,
                display_name: name.map(str::to_string),
            },
        );
    }
    d
}

/// A user whose profile holds (id, type, number, display name) items.
fn current(items: &[(&str, &str, &str, Option<&str>)]) -> CurrentUser {
    CurrentUser {
        items: items
            .iter()
            .map(|(id, t, n, name)| Item {
                id: id.to_string(),
                phone_type: t.to_string(),
                phone: phone::from_graph(n),
                display_name: name.map(str::to_string),
            })
            .collect(),
        ..Default::default()
    }
}

/// The ops as (kind, type, item id).
fn shape(p: &UserPlan) -> Vec<(OpKind, String, Option<String>)> {
    p.ops.iter().map(|o| (o.kind, o.phone_type.clone(), o.item_id.clone())).collect()
}

#[test]
fn a_number_no_item_has_is_an_add_with_type_and_name() {
    let p = target(None, false).plan(&desired(&[("mobile", A, Some("Cell"))]), &current(&[]));
    assert_eq!(shape(&p), [(OpKind::Add, "mobile".to_string(), None)]);
    assert_eq!(p.ops[0].after.as_deref(), Some(A));
    assert_eq!(p.ops[0].display_name.as_deref(), Some("Cell"));
}

#[test]
fn office_feeds_business_by_default() {
    let p = target(None, false).plan(&desired(&[("office", A, None)]), &current(&[]));
    assert_eq!(shape(&p), [(OpKind::Add, "business".to_string(), None)]);
}

#[test]
fn another_type_or_display_name_is_an_update_in_place_never_add_then_delete() {
    let t = target(None, true);
    let p = t.plan(
        &desired(&[("mobile", A, None)]),
        &current(&[("i1", "business", "+1 (206) 555-0101", None)]),
    );
    assert_eq!(shape(&p), [(OpKind::Update, "mobile".to_string(), Some("i1".to_string()))]);
    assert!(p.ops[0].reason.contains("type business → mobile"), "{}", p.ops[0].reason);
    let p = t.plan(
        &desired(&[("mobile", A, Some("Work cell"))]),
        &current(&[("i1", "mobile", A, Some("Old"))]),
    );
    assert_eq!(shape(&p), [(OpKind::Update, "mobile".to_string(), Some("i1".to_string()))]);
    assert_eq!(p.ops[0].display_name.as_deref(), Some("Work cell"));
    assert!(p.ops[0].reason.contains("'Old' → 'Work cell'"), "{}", p.ops[0].reason);
}

#[test]
fn a_matching_item_is_in_line_and_a_row_without_a_name_leaves_the_name() {
    let t = target(None, true);
    let p = t.plan(&desired(&[("mobile", A, None)]), &current(&[("i1", "mobile", A, Some("Anything"))]));
    assert!(p.ops.is_empty(), "{:?}", p.ops);
    assert!(!p.held_back);
}

#[test]
fn prune_deletes_unmatched_managed_items_after_every_write() {
    let items = [("i1", "home", B, None), ("i2", "pager", "+1 2065550109", None)];
    let want = desired(&[("mobile", A, None)]);
    let p = target(None, false).plan(&want, &current(&items));
    assert_eq!(shape(&p), [(OpKind::Add, "mobile".to_string(), None)], "without prune nothing goes");
    let p = target(Some(&["mobile", "home"]), true).plan(&want, &current(&items));
    assert_eq!(
        shape(&p),
        [
            (OpKind::Add, "mobile".to_string(), None),
            (OpKind::Delete, "home".to_string(), Some("i1".to_string())),
        ],
        "the unmanaged pager stays"
    );
    assert_eq!(p.ops[1].depends_on, [0]);
}

#[test]
fn a_rejected_row_never_licenses_a_delete() {
    let t = target(None, true);
    let items = current(&[("i1", "mobile", B, None), ("i2", "home", "+1 2065550109", None)]);
    // The mobile row was rejected: the mobile item stays as it is; home is still pruned.
    let mut d = desired(&[("business", A, None)]);
    d.reject(Some("mobile"), 9);
    let p = t.plan(&d, &items);
    assert_eq!(
        shape(&p),
        [
            (OpKind::Add, "business".to_string(), None),
            (OpKind::Delete, "home".to_string(), Some("i2".to_string())),
        ]
    );
    assert!(p.held_back);
    assert!(p.notes.iter().any(|n| n.contains("line 9")), "{:?}", p.notes);
    // A row of unreadable type: nothing is pruned.
    let mut d = desired(&[("business", A, None)]);
    d.reject(None, 7);
    let p = t.plan(&d, &items);
    assert_eq!(shape(&p), [(OpKind::Add, "business".to_string(), None)]);
    assert!(p.held_back);
    // Every row rejected: nothing is pruned.
    let mut d = desired(&[]);
    d.reject(Some("business"), 4);
    let p = t.plan(&d, &items);
    assert!(p.ops.is_empty(), "{:?}", p.ops);
    // An item of a rejected type is not repurposed for another row with its number.
    let mut d = desired(&[("business", B, None)]);
    d.reject(Some("mobile"), 9);
    let p = t.plan(&d, &current(&[("i1", "mobile", B, None)]));
    assert!(p.ops.is_empty(), "{:?}", p.ops);
}

#[test]
fn extra_copies_of_a_number_are_deleted_with_prune_keeping_the_oldest_and_listed_without() {
    let items = current(&[("i1", "mobile", A, None), ("i2", "mobile", A, None), ("i3", "business", A, None)]);
    let p = target(None, true).plan(&desired(&[("mobile", A, None)]), &items);
    assert_eq!(
        shape(&p),
        [
            (OpKind::Delete, "mobile".to_string(), Some("i2".to_string())),
            (OpKind::Delete, "business".to_string(), Some("i3".to_string())),
        ],
        "the oldest copy (listed first) stays in line"
    );
    assert!(p.ops[0].reason.contains("extra copy"), "{}", p.ops[0].reason);
    let p = target(None, false).plan(&desired(&[("mobile", A, None)]), &items);
    assert!(p.ops.is_empty(), "{:?}", p.ops);
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("several profile phones") && n.contains("run with prune")),
        "{:?}",
        p.notes
    );
}

/// A target whose types are fed by these (input type, profile type) pairs.
fn target_from(from: &[(&str, &str)], prune: bool) -> ProfilePhones {
    built(
        TargetSection {
            name: "profile".into(),
            managed_types: None,
            from: Some(from.iter().map(|(i, t)| (i.to_string(), t.to_string())).collect()),
        },
        prune,
    )
}

const C: &str = "+1 2065550103";

/// An op as (kind, item id, number before, number after).
type Numbers = (OpKind, Option<String>, Option<String>, Option<String>);

/// Each op's [`Numbers`].
fn numbers(p: &UserPlan) -> Vec<Numbers> {
    p.ops
        .iter()
        .map(|o| (o.kind, o.item_id.clone(), o.before.clone(), o.after.clone()))
        .collect()
}

#[test]
fn one_item_and_one_row_of_a_type_with_a_new_number_is_one_update_of_that_item() {
    let p = target(None, false).plan(&desired(&[("mobile", B, None)]), &current(&[("i1", "mobile", A, Some("Cell"))]));
    assert_eq!(numbers(&p), [(OpKind::Update, Some("i1".into()), Some(A.into()), Some(B.into()))]);
    assert_eq!(p.ops[0].display_name, None, "a row without a name keeps the item's");
    assert!(p.ops[0].reason.starts_with(&format!("number {A} → {B}")), "{}", p.ops[0].reason);
}

#[test]
fn two_items_of_a_type_with_one_number_changed_update_only_the_changed_one() {
    let t = target_from(&[("mobile", "mobile"), ("mobile2", "mobile")], false);
    let items = current(&[("m1", "mobile", A, None), ("m2", "mobile", B, None)]);
    let p = t.plan(&desired(&[("mobile", A, None), ("mobile2", C, None)]), &items);
    assert_eq!(numbers(&p), [(OpKind::Update, Some("m2".into()), Some(B.into()), Some(C.into()))]);
}

#[test]
fn more_rows_than_items_of_a_type_pair_in_order_and_add_the_rest() {
    let t = target_from(&[("mobile", "mobile"), ("mobile2", "mobile")], true);
    let p = t.plan(
        &desired(&[("mobile", B, None), ("mobile2", C, None)]),
        &current(&[("m1", "mobile", A, None)]),
    );
    assert_eq!(
        numbers(&p),
        [
            (OpKind::Update, Some("m1".into()), Some(A.into()), Some(B.into())),
            (OpKind::Add, None, None, Some(C.into())),
        ]
    );
}

#[test]
fn more_items_than_rows_of_a_type_pair_the_oldest_and_prune_decides_the_rest() {
    let items = current(&[("m1", "mobile", A, None), ("m2", "mobile", B, None)]);
    let want = desired(&[("mobile", C, None)]);
    let p = target(None, false).plan(&want, &items);
    assert_eq!(
        numbers(&p),
        [(OpKind::Update, Some("m1".into()), Some(A.into()), Some(C.into()))],
        "without prune the other stays"
    );
    let p = target(None, true).plan(&want, &items);
    assert_eq!(
        numbers(&p),
        [
            (OpKind::Update, Some("m1".into()), Some(A.into()), Some(C.into())),
            (OpKind::Delete, Some("m2".into()), Some(B.into()), None),
        ]
    );
    assert_eq!(p.ops[1].depends_on, [0], "the delete waits for the write");
}

#[test]
fn a_leftover_is_never_paired_across_types_or_with_an_item_left_as_it_is() {
    // A home item is no mobile; a mobile of a rejected type stays as it is.
    let p = target(None, false).plan(&desired(&[("mobile", B, None)]), &current(&[("h1", "home", A, None)]));
    assert_eq!(numbers(&p), [(OpKind::Add, None, None, Some(B.into()))]);
    let mut d = desired(&[("mobile", B, None)]);
    d.reject(Some("mobile"), 9);
    let p = target(None, true).plan(&d, &current(&[("m1", "mobile", A, None)]));
    assert_eq!(numbers(&p), [(OpKind::Add, None, None, Some(B.into()))]);
}

#[test]
fn item_numbers_written_nationally_match_the_input() {
    // Profile numbers are free text: `(206) 555-0101` is the input's +1 206 555 0101.
    let t = target(None, true);
    let items = t
        .parse(json!({"value": [{"id": "i1", "type": "mobile", "number": "(206) 555-0101", "displayName": "Cell"}]}))
        .unwrap();
    let current = CurrentUser {
        items,
        ..Default::default()
    };
    let p = t.plan(&desired(&[("mobile", A, None)]), &current);
    assert!(p.ops.is_empty(), "no duplicate add, no delete: {:?}", p.ops);
}

#[test]
fn a_rejected_row_for_another_target_never_licenses_a_delete_here() {
    // The user's only row feeds the sign-in phones and was rejected, or feeds them and was valid:
    // either way the input says nothing about profile phones, so none is pruned.
    let t = target(Some(&["mobile", "business", "home"]), true);
    let items = current(&[("i1", "home", B, None)]);
    let mut d = desired(&[]);
    d.reject(Some("alternateMobile"), 3);
    let p = t.plan(&d, &items);
    assert!(p.ops.is_empty(), "{:?}", p.ops);
    let p = t.plan(&desired(&[("alternateMobile", A, None)]), &items);
    assert!(p.ops.is_empty(), "{:?}", p.ops);
    assert!(
        p.notes.iter().any(|n| n.contains("no row of this user is about these phones")),
        "{:?}",
        p.notes
    );
}

#[test]
fn one_number_on_two_rows_keeps_the_first_line() {
    let p = target(None, false).plan(&desired(&[("mobile", A, None), ("home", A, None)]), &current(&[]));
    assert_eq!(p.ops.len(), 1, "{:?}", p.ops);
    assert!(p.notes.iter().any(|n| n.contains("the same number as line")), "{:?}", p.notes);
}

#[test]
fn rows_of_unmanaged_types_are_noted_and_ignored() {
    let p = target(Some(&["mobile"]), true).plan(&desired(&[("home", A, None)]), &current(&[]));
    assert!(p.ops.is_empty());
    assert!(p.notes.iter().any(|n| n.contains("home is not in managed_types")), "{:?}", p.notes);
    // A number already on an item this run leaves alone is not added again: it is noted.
    let p = target(Some(&["mobile"]), true).plan(&desired(&[("mobile", A, None)]), &current(&[("i1", "pager", A, None)]));
    assert!(p.ops.is_empty(), "{:?}", p.ops);
    assert!(
        p.notes.iter().any(|n| n.contains("already on a pager profile phone")),
        "{:?}",
        p.notes
    );
}

#[test]
fn writes_are_beta_profile_requests_confirmed_by_reading() {
    let t = target(None, false);
    let mut add = Op {
        kind: OpKind::Add,
        phone_type: "mobile".into(),
        item_id: None,
        before: None,
        after: Some(A.into()),
        display_name: Some("Cell".into()),
        depends_on: Vec::new(),
        blocked: None,
        reason: String::new(),
        moves_to: None,
    };
    let (r, confirm) = t.write("kim@contoso.com", &add, "op-1");
    assert_eq!((r.version, r.method.as_str()), (Version::Beta, "POST"));
    assert_eq!(r.path, "/users/kim@contoso.com/profile/phones");
    assert_eq!(r.client_request_id, "op-1");
    assert_eq!(r.body, Some(json!({"type": "mobile", "number": A, "displayName": "Cell"})));
    let Confirm::Holds { path, check } = confirm else {
        panic!("an add is confirmed by a list")
    };
    assert_eq!(path, "/users/kim@contoso.com/profile/phones");
    assert!(check(
        &json!({"value": [{"type": "mobile", "number": "+1 (206) 555-0101", "displayName": "Cell"}]})
    ));
    assert!(!check(&json!({"value": [{"type": "home", "number": A, "displayName": "Cell"}]})));
    assert!(!check(&json!({"value": []})));

    add.kind = OpKind::Update;
    add.item_id = Some("i 1".into());
    add.before = Some(A.into());
    let (r, confirm) = t.write("kim@contoso.com", &add, "op-2");
    assert_eq!(r.method.as_str(), "PATCH");
    assert_eq!(r.path, "/users/kim@contoso.com/profile/phones/i%201");
    assert_eq!(
        r.body,
        Some(json!({"type": "mobile", "displayName": "Cell"})),
        "the number is not sent again"
    );
    let Confirm::Holds { check, .. } = confirm else {
        panic!("an update is confirmed by a read")
    };
    assert!(check(&json!({"type": "mobile", "number": A, "displayName": "Cell"})));
    assert!(!check(&json!({"type": "mobile", "number": A, "displayName": "Old"})));
    // A new number is set in place, and confirmed by the item holding it.
    let renumber = Op {
        after: Some(B.into()),
        ..add.clone()
    };
    let (r, confirm) = t.write("kim@contoso.com", &renumber, "op-2b");
    assert_eq!(r.body, Some(json!({"type": "mobile", "displayName": "Cell", "number": B})));
    let Confirm::Holds { check, .. } = confirm else {
        panic!("an update is confirmed by a read")
    };
    assert!(check(&json!({"type": "mobile", "number": "(206) 555-0102", "displayName": "Cell"})));
    assert!(!check(&json!({"type": "mobile", "number": A, "displayName": "Cell"})));

    add.kind = OpKind::Delete;
    let (r, confirm) = t.write("kim@contoso.com", &add, "op-3");
    assert_eq!((r.method.as_str(), r.body.clone()), ("DELETE", None));
    assert!(matches!(confirm, Confirm::Gone { path } if path == "/users/kim@contoso.com/profile/phones/i%201"));
}

#[test]
fn parse_keeps_server_ids_and_unknown_types() {
    let items = target(None, false)
        .parse(json!({"value": [
            {"id": "a1", "type": "Mobile", "number": "+1 206 555 0101", "displayName": "Cell"},
            {"id": "a2", "type": null, "number": "+1 206 555 0102"},
            {"id": "a3", "type": "satellite", "number": "+1 206 555 0103"},
        ]}))
        .unwrap();
    let got: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|i| (i.id.as_str(), i.phone_type.as_str(), i.phone.key.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("a1", "mobile", "+12065550101"),
            ("a2", "", "+12065550102"),
            ("a3", "satellite", "+12065550103")
        ]
    );
    assert!(target(None, false).parse(json!({"nope": 1})).is_err());
}

#[test]
fn an_app_only_403_refuses_the_target_for_the_run_and_nothing_else_does() {
    let error = |status| GraphError {
        status: Some(status),
        code: "Authorization_RequestDenied".into(),
        message: "Insufficient privileges to complete the operation.".into(),
        info: CallInfo::default(),
    };
    let why = target(None, false).refused_for_run(&error(403)).expect("403 refuses");
    let delegated = ProfilePhones {
        app_only: false,
        ..target(None, false)
    };
    assert!(
        delegated.refused_for_run(&error(403)).is_none(),
        "signed in as a person, a 403 is about one user"
    );
    assert!(why.contains("device_code") && why.contains("Authorization_RequestDenied"), "{why}");
    for status in [400, 404, 409, 429, 500] {
        assert!(target(None, false).refused_for_run(&error(status)).is_none(), "{status}");
    }
}

#[test]
fn phones_of_one_wide_row_are_paired_each_on_its_own_whatever_the_others() {
    // A wide file's row gives every phone one line: the office number already on a home phone
    // (left as it is) must not stop the mobile's new number from replacing the old one.
    let mut d = desired(&[]);
    for (t, n) in [("mobile", B), ("office", A)] {
        d.want(
            t,
            DesiredPhone {
                phone: phone::from_graph(n),
                line: 2,
                display_name: None,
            },
        );
    }
    let items = current(&[("m1", "mobile", C, None), ("h1", "home", A, None)]);
    for prune in [false, true] {
        let p = target(Some(&["mobile", "business"]), prune).plan(&d, &items);
        assert_eq!(
            numbers(&p),
            [(OpKind::Update, Some("m1".into()), Some(C.into()), Some(B.into()))],
            "prune {prune}"
        );
    }
}
