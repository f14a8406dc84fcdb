//! The journal over HTTP: requests and changes in order, as JSON lines in a file and at
//! `/_emulator/journal`, the op tags (`client-request-id`, `x-phonesync-after`) on requests and
//! changes, and the journal checker reading it.

use crate::common::{ALT, KIM, LEE, MOBILE, batch_item, graph, graph_with, with_headers};
use phonesync_emulator::check::{PlannedWrite, Violation, assert_safe, check};
use phonesync_emulator::{Event, Fault, Options};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn journal_records_requests_and_changes_and_can_be_written_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("journal.jsonl");
    let g = graph_with(Options {
        journal: Some(file.clone()),
        ..Options::default()
    })
    .await;
    g.call("POST", KIM, Some(json!({"phoneNumber": "+1 2065550170", "phoneType": "mobile"})))
        .await;
    g.call("GET", KIM, None).await;
    let entries = g.emu.journal();
    assert!(
        matches!(&entries[0].event, Event::Change(c) if c.change.op == "add" && c.change.methods_before == 0 && c.change.methods_after == 1)
    );
    assert!(matches!(&entries[1].event, Event::Request(r) if r.method == "POST" && r.status == 201));
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["kind"], "change");
    assert_eq!(lines[2]["kind"], "request");
    let over_http = g.emulator_json("journal").await;
    assert_eq!(over_http.as_array().unwrap().len(), 3);
    let state = g.emulator_json("state").await;
    assert_eq!(state["users"][0]["phoneMethods"][0]["phoneNumber"], "+1 2065550170");
}

#[tokio::test]
async fn journal_records_op_tags_and_the_checker_reads_it_over_http() {
    let g = graph().await;
    // kim: add a mobile (op-1), then an alternate that depends on it (op-2) in a batch.
    let add_mobile = json!({"phoneNumber": "+1 2065550190", "phoneType": "mobile"});
    let r = g
        .call_with(
            "POST",
            KIM,
            Some(add_mobile),
            &[("client-request-id", "op-1"), ("x-phonesync-after", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let kim = "/users/kim@contoso.com/authentication/phoneMethods";
    let alt = with_headers(
        batch_item(
            "1",
            "POST",
            kim,
            Some(json!({"phoneNumber": "+1 2065550191", "phoneType": "alternateMobile"})),
            &[],
        ),
        &[("client-request-id", "op-2"), ("x-phonesync-after", "op-1")],
    );
    // lee: update the mobile (op-3), then delete the alternate after it (op-4).
    let update = with_headers(
        batch_item(
            "2",
            "PATCH",
            &format!("/users/u-lee/authentication/phoneMethods/{MOBILE}"),
            Some(json!({"phoneNumber": "+1 2065550192"})),
            &[],
        ),
        &[("client-request-id", "op-3")],
    );
    let r = g.call("POST", "/v1.0/$batch", Some(json!({"requests": [alt, update]}))).await;
    assert!(
        r.body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["status"].as_u64().unwrap() < 300),
        "{}",
        r.body
    );
    let r = g
        .call_with(
            "DELETE",
            &format!("{LEE}/{ALT}"),
            None,
            &[("client-request-id", "op-4"), ("x-phonesync-after", "op-3, op-2")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    let requests = g.emu.requests();
    let after = |op: &str| {
        requests
            .iter()
            .find(|x| x.client_request_id.as_deref() == Some(op))
            .unwrap()
            .after
            .clone()
    };
    assert_eq!(after("op-1"), Vec::<String>::new(), "an empty header names no op");
    assert_eq!(after("op-2"), ["op-1"]);
    assert_eq!(after("op-4"), ["op-3", "op-2"]);
    let made_by: Vec<(String, Option<String>)> = g
        .emu
        .change_records()
        .into_iter()
        .map(|c| (format!("{} {} {}", c.change.user_id, c.change.op, c.change.phone_type), c.by))
        .collect();
    assert_eq!(
        made_by,
        [
            ("u-kim add mobile".to_string(), Some("op-1".to_string())),
            ("u-kim add alternateMobile".into(), Some("op-2".into())),
            ("u-lee update mobile".into(), Some("op-3".into())),
            ("u-lee delete alternateMobile".into(), Some("op-4".into())),
        ]
    );

    let journal = g.journal_over_http().await;
    assert_eq!(journal, g.emu.journal(), "the journal reads back from JSON");
    let plan = [
        ("op-1", "u-kim", "mobile", "add"),
        ("op-2", "u-kim", "alternateMobile", "add"),
        ("op-3", "u-lee", "mobile", "update"),
        ("op-4", "u-lee", "alternateMobile", "delete"),
    ]
    .map(|(op_id, user_id, phone_type, op)| PlannedWrite {
        op_id: op_id.into(),
        user_id: user_id.into(),
        phone_type: phone_type.into(),
        op: op.into(),
        resource: Default::default(),
        item_id: None,
    });
    assert_safe(&journal, Some(&plan));

    // An add refused, then the delete that depends on it runs anyway.
    g.emu.inject([Fault::status(403).only("POST").path("lee@contoso.com")]);
    let refused = g
        .call_with(
            "POST",
            LEE,
            Some(json!({"phoneNumber": "+1 2065550193", "phoneType": "alternateMobile"})),
            &[("client-request-id", "op-5")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    g.call_with(
        "DELETE",
        &format!("{KIM}/{ALT}"),
        None,
        &[("client-request-id", "op-6"), ("x-phonesync-after", "op-5")],
    )
    .await;
    let violations = check(&g.journal_over_http().await, None);
    assert!(
        matches!(violations.as_slice(), [Violation::DependencyNotMet { at, missing }] if missing == "op-5" && at.op_id.as_deref() == Some("op-6")),
        "{violations:?}"
    );
}
