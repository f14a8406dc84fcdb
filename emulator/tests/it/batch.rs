//! `$batch` over HTTP: dependency chains with 424 for dependents of a failure, responses out of
//! request order, malformed batches, items throttled on their own, and each item's own
//! `request-id` and `client-request-id`.

use crate::common::{ALT, MOBILE, batch_item, graph, graph_with, response, with_headers};
use phonesync_emulator::Options;
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
