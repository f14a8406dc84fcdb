//! `$batch` over HTTP: dependency chains with 424 for dependents of a failure, responses out of
//! request order, malformed batches, items throttled on their own, each item's own
//! `request-id` and `client-request-id`, and a batch refused as a whole with 429 or 503 running
//! nothing, or its items first with `--refused-batch-ran-items`.

use crate::common::{ALT, Graph, MOBILE, batch_item, graph, graph_with, response, with_headers};
use phonesync_emulator::check::{Violation, check};
use phonesync_emulator::{Effect, Fault, Options, Resource};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn batch_runs_dependency_chains_and_answers_each_item() {
    let g = graph().await;
    let kim = "/users/kim@contoso.com/authentication/phoneMethods";
    let requests = json!({"requests": [
        batch_item("1", "POST", kim, Some(json!({"phoneNumber": "+1 2065550160", "phoneType": "mobile"})), &[]),
        batch_item("2", "POST", kim, Some(json!({"phoneNumber": "+1 2065550161", "phoneType": "alternateMobile"})), &["1"]),
        // A failure, and a dependent of it.
        batch_item("3", "POST", kim, Some(json!({"phoneNumber": "+1 2065550162", "phoneType": "mobile"})), &["2"]),
        batch_item("4", "DELETE", &format!("{kim}/{ALT}"), None, &["3"]),
        batch_item("5", "GET", "/users/nobody/authentication/phoneMethods", None, &[]),
        batch_item("6", "GET", "/users/lee@contoso.com/authentication/phoneMethods", None, &[]),
        batch_item("7", "GET", "/v1.0/users/lee@contoso.com/authentication/phoneMethods", None, &[]),
    ]});
    let r = g.call("POST", "/v1.0/$batch", Some(requests)).await;
    assert_eq!(r.status, StatusCode::OK);
    let responses = r.body["responses"].as_array().unwrap();
    let by_id = |id: &str| response(&r.body, id);
    assert_eq!(by_id("1")["status"], 201);
    assert_eq!(by_id("1")["body"]["id"], MOBILE);
    assert_eq!(by_id("1")["headers"]["content-type"], "application/json");
    assert_eq!(by_id("2")["status"], 201);
    assert_eq!(by_id("3")["status"], 400);
    assert_eq!(by_id("4")["status"], 424, "dependents of a failure get 424");
    assert_eq!(by_id("5")["status"], 404);
    assert_eq!(by_id("6")["status"], 200);
    assert_eq!(by_id("7")["status"], 400, "batch URLs carry no version");
    let order: Vec<&str> = responses.iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_ne!(order, vec!["1", "2", "3", "4", "5", "6", "7"], "responses are not in request order");
    assert_eq!(
        g.phones("kim@contoso.com"),
        vec![
            ("alternateMobile".into(), "+1 2065550161".into()),
            ("mobile".into(), "+1 2065550160".into())
        ]
    );
    let items: Vec<_> = g.emu.requests().into_iter().filter(|r| r.batch_item.is_some()).collect();
    assert_eq!(items.len(), 7, "each item is journaled");
}

#[tokio::test]
async fn malformed_batches_are_refused_with_400() {
    let g = graph().await;
    let get = |id: &str| batch_item(id, "GET", "/users/lee@contoso.com/authentication/phoneMethods", None, &[]);
    let too_many: Vec<Value> = (0..21).map(|i| get(&i.to_string())).collect();
    assert_eq!(
        g.call("POST", "/v1.0/$batch", Some(json!({"requests": too_many}))).await.status,
        StatusCode::BAD_REQUEST
    );
    let twenty: Vec<Value> = (0..20).map(|i| get(&i.to_string())).collect();
    assert_eq!(
        g.call("POST", "/v1.0/$batch", Some(json!({"requests": twenty}))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        g.call("POST", "/v1.0/$batch", Some(json!({"requests": [get("a"), get("A")]})))
            .await
            .status,
        StatusCode::BAD_REQUEST,
        "ids are not case-sensitive"
    );
    let no_type = json!({"requests": [{"id": "1", "method": "POST", "url": "/users/kim@contoso.com/authentication/phoneMethods", "body": {"phoneNumber": "+1 2065550160", "phoneType": "mobile"}}]});
    assert_eq!(
        g.call("POST", "/v1.0/$batch", Some(no_type)).await.status,
        StatusCode::BAD_REQUEST,
        "a body needs Content-Type"
    );
    let unknown_dep = json!({"requests": [batch_item("1", "GET", "/users/lee@contoso.com/authentication/phoneMethods", None, &["9"])]});
    assert_eq!(
        g.call("POST", "/v1.0/$batch", Some(unknown_dep)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        g.call("POST", "/v1.0/$batch", Some(json!({"nope": 1}))).await.status,
        StatusCode::BAD_REQUEST
    );
    let beta = g.call("POST", "/beta/$batch", Some(json!({"requests": [get("1")]}))).await;
    assert_eq!(
        (beta.status, beta.body["responses"][0]["status"].as_u64()),
        (StatusCode::OK, Some(200)),
        "beta batches serve beta paths"
    );
    assert!(
        g.emu.requests().iter().any(|r| r.path.starts_with("/beta/users/")),
        "items are journaled under the batch's version"
    );
}

#[tokio::test]
async fn throttled_batch_items_carry_their_own_retry_after() {
    let g = graph_with(Options {
        throttle_ru: Some(3),
        ..Options::default()
    })
    .await;
    let items: Vec<Value> = (0..5)
        .map(|i| {
            batch_item(
                &i.to_string(),
                "GET",
                "/users/lee@contoso.com/authentication/phoneMethods",
                None,
                &[],
            )
        })
        .collect();
    let r = g.call("POST", "/v1.0/$batch", Some(json!({"requests": items}))).await;
    assert_eq!(r.status, StatusCode::OK);
    let responses = r.body["responses"].as_array().unwrap();
    let throttled: Vec<&Value> = responses.iter().filter(|x| x["status"] == 429).collect();
    assert_eq!(throttled.len(), 2);
    for t in throttled {
        assert!(t["headers"]["retry-after"].as_str().is_some(), "{t}");
        assert_eq!(t["body"]["error"]["code"], "TooManyRequests");
    }
}

#[tokio::test]
async fn batch_items_have_their_own_request_id_and_client_request_id() {
    let g = graph().await;
    let own = with_headers(
        batch_item("own", "GET", "/users/lee@contoso.com/authentication/phoneMethods", None, &[]),
        &[("Client-Request-Id", "item-crid")],
    );
    let inherited = batch_item("inherited", "GET", "/users/kim@contoso.com/authentication/phoneMethods", None, &[]);
    let r = g
        .call_with(
            "POST",
            "/v1.0/$batch",
            Some(json!({"requests": [own, inherited]})),
            &[("client-request-id", "envelope-crid")],
        )
        .await;
    let request_id = |id: &str| response(&r.body, id)["headers"]["request-id"].as_str().unwrap().to_string();
    let (own_id, inherited_id) = (request_id("own"), request_id("inherited"));
    assert_ne!(own_id, inherited_id);
    assert_ne!(Some(own_id.as_str()), r.header("request-id"), "not the envelope's");
    let items = g.emu.requests();
    let record = |rid: &str| items.iter().find(|x| x.request_id == rid).expect("journaled under its request-id");
    assert_eq!(record(&own_id).client_request_id.as_deref(), Some("item-crid"));
    assert_eq!(record(&inherited_id).client_request_id.as_deref(), Some("envelope-crid"));
}

/// A beta batch for kim: a phone-method add (op-1) and, on its own, a profile-phone add (op-2).
fn kims_two_adds() -> Value {
    json!({"requests": [
        with_headers(
            batch_item("1", "POST", "/users/kim@contoso.com/authentication/phoneMethods",
                Some(json!({"phoneNumber": "+1 2065550170", "phoneType": "mobile"})), &[]),
            &[("client-request-id", "op-1")],
        ),
        with_headers(
            batch_item("2", "POST", "/users/kim@contoso.com/profile/phones",
                Some(json!({"type": "business", "number": "+1 425 555 0170"})), &[]),
            &[("client-request-id", "op-2")],
        ),
    ]})
}

/// The state changes so far, as (op, resource, op id), sorted: items without `dependsOn` run
/// in any order.
fn changes_by(g: &Graph) -> Vec<(&'static str, Resource, Option<String>)> {
    let mut changes: Vec<_> = g
        .emu
        .change_records()
        .into_iter()
        .map(|c| (c.change.op, c.change.resource, c.by))
        .collect();
    changes.sort();
    changes
}

#[tokio::test]
async fn a_batch_refused_with_429_or_503_runs_nothing_by_default() {
    let g = graph().await;
    for status in [429, 503] {
        g.emu.inject([Fault::status(status).only("$batch").retry_after("1")]);
        let r = g.call("POST", "/beta/$batch", Some(kims_two_adds())).await;
        assert_eq!((r.status.as_u16(), r.header("retry-after")), (status, Some("1")));
        assert!(r.body.get("responses").is_none(), "{}", r.body);
    }
    assert!(g.emu.changes().is_empty(), "nothing ran");
    assert!(g.emu.requests().iter().all(|r| r.batch_item.is_none()), "no item was served");
    // An `applied` fault on the envelope still runs the items, then answers 429.
    g.emu.inject([Fault::effect(Effect::Applied(429)).only("$batch")]);
    let r = g.call("POST", "/beta/$batch", Some(kims_two_adds())).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let p = Resource::ProfilePhones;
    let m = Resource::PhoneMethods;
    assert_eq!(changes_by(&g), [("add", m, Some("op-1".into())), ("add", p, Some("op-2".into()))]);
}

#[tokio::test]
async fn with_refused_batch_ran_items_a_refused_batch_runs_its_items_first() {
    let g = graph_with(Options {
        refused_batch_ran_items: true,
        ..Options::default()
    })
    .await;
    g.emu.inject([Fault::status(503).only("$batch").retry_after("2")]);
    let r = g.call("POST", "/beta/$batch", Some(kims_two_adds())).await;
    assert_eq!(
        (r.status.as_u16(), r.code(), r.header("retry-after")),
        (503, "serviceNotAvailable", Some("2")),
        "the refusal, not the items' answers"
    );
    assert_eq!(g.phones("kim@contoso.com"), [("mobile".to_string(), "+1 2065550170".to_string())]);
    let (m, p) = (Resource::PhoneMethods, Resource::ProfilePhones);
    assert_eq!(
        changes_by(&g),
        [("add", m, Some("op-1".into())), ("add", p, Some("op-2".into()))],
        "journaled as made by the items' op ids"
    );
    let envelope_id = r.header("request-id").unwrap().to_string();
    let requests = g.emu.requests();
    let items: Vec<_> = requests.iter().filter(|r| r.batch_item.is_some()).collect();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|i| i.status == 201 && i.envelope.as_deref() == Some(envelope_id.as_str())),
        "{items:?}"
    );
    let envelope = requests.iter().find(|r| r.request_id == envelope_id).unwrap();
    assert_eq!((envelope.status, envelope.fault.is_some()), (503, true));

    // A client that takes the refusal as "ran nothing" sends the batch again: the phone-method
    // add meets its own type (400), but the profile phone is created a second time, which the
    // journal check names.
    let again = g.call("POST", "/beta/$batch", Some(kims_two_adds())).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        (
            response(&again.body, "1")["status"].as_u64(),
            response(&again.body, "2")["status"].as_u64()
        ),
        (Some(400), Some(201))
    );
    let v = check(&g.emu.journal(), None);
    assert!(
        matches!(&v[..], [Violation::DuplicateWrite { at, earlier: Some(_) }]
            if at.resource == Resource::ProfilePhones && at.op_id.as_deref() == Some("op-2")),
        "{v:?}"
    );

    // A 429 refusal runs the items too; a refusal with another status does not.
    g.emu.inject([Fault::status(429).only("$batch")]);
    let request = json!({"requests": [with_headers(
        batch_item("3", "POST", "/users/kim@contoso.com/profile/phones", Some(json!({"number": "+1 3"})), &[]),
        &[("client-request-id", "op-3")],
    )]});
    let r = g.call("POST", "/beta/$batch", Some(request.clone())).await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "TooManyRequests"));
    assert!(changes_by(&g).iter().any(|c| c.2.as_deref() == Some("op-3")));
    let before = g.emu.changes().len();
    g.emu.inject([Fault::status(500).only("$batch"), Fault::status(504).only("$batch")]);
    for status in [500, 504] {
        assert_eq!(g.call("POST", "/beta/$batch", Some(request.clone())).await.status.as_u16(), status);
    }
    assert_eq!(g.emu.changes().len(), before, "only 429 and 503 refusals run the items");
    // A single request refused 503 is not run either way.
    g.emu.inject([Fault::status(503).only("POST")]);
    let single = g
        .call(
            "POST",
            "/beta/users/kim@contoso.com/profile/phones",
            Some(json!({"number": "+1 4"})),
        )
        .await;
    assert_eq!(single.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(g.emu.changes().len(), before);
}
