//! The profile planner's rules (one test each) and its wire format.

use super::*;
use crate::graph::CallInfo;
use crate::model::DesiredPhone;

const A: &str = "+1 2065550101";
const B: &str = "+1 2065550102";

fn target(managed_types: Option<&[&str]>, prune: bool) -> ProfilePhones {
    let section = TargetSection {
        name: "profile".into(),
        managed_types: managed_types.map(|m| m.iter().map(|s| s.to_string()).collect()),
        from: None,
    };
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
fn several_items_with_one_number_are_reported_and_one_is_kept_in_line() {
    let t = target(None, true);
    let items = current(&[("i1", "home", A, None), ("i2", "business", A, None)]);
    let p = t.plan(&desired(&[("mobile", A, None)]), &items);
    // One of the two is brought in line (updated to mobile); the other is left and reported,
    // not deleted, although prune is on.
    assert_eq!(shape(&p).len(), 1, "{:?}", p.ops);
    assert_eq!(p.ops[0].kind, OpKind::Update);
    assert_eq!(p.ops[0].phone_type, "mobile");
    assert!(p.notes.iter().any(|n| n.contains("several profile phones")), "{:?}", p.notes);
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
    let (r, confirm) = t.write("kim@contoso.com", &add, "op-2");
    assert_eq!(r.method.as_str(), "PATCH");
    assert_eq!(r.path, "/users/kim@contoso.com/profile/phones/i%201");
    assert_eq!(r.body, Some(json!({"type": "mobile", "displayName": "Cell"})));
    let Confirm::Holds { check, .. } = confirm else {
        panic!("an update is confirmed by a read")
    };
    assert!(check(&json!({"type": "mobile", "number": A, "displayName": "Cell"})));
    assert!(!check(&json!({"type": "mobile", "number": A, "displayName": "Old"})));

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
