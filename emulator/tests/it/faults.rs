//! Injected faults over HTTP: status faults with Graph's codes, dropped connections, slow
//! answers, writes applied and then failed, random faults by rate and seed, added latency, and
//! faults queued over `/_emulator/faults` or with the builder, aimed by method, path, skip and
//! times.

use crate::common::{KIM, LEE, MOBILE, OFFICE, batch_item, graph, graph_with, response};
use phonesync_emulator::options::FaultKind;
use phonesync_emulator::{Effect, Fault, Options};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn injected_status_faults_carry_graph_codes() {
    let g = graph().await;
    for (status, code) in [
        (500, "generalException"),
        (502, "BadGateway"),
        (503, "serviceNotAvailable"),
        (504, "GatewayTimeout"),
        (507, "quotaLimitReached"),
        (429, "TooManyRequests"),
    ] {
        g.emu.inject([Fault::status(status).retry_after("2")]);
        let r = g.call("GET", LEE, None).await;
        assert_eq!((r.status.as_u16(), r.code()), (status, code));
        assert_eq!(r.header("retry-after"), Some("2"));
    }
}

#[tokio::test]
async fn dropped_connections_slow_answers_and_applied_but_failed_writes() {
    let g = graph_with(Options {
        slow_ms: 400,
        ..Options::default()
    })
    .await;
    g.emu.inject([Fault::effect(Effect::Drop)]);
    assert!(
        g.try_call("GET", LEE, None, &[]).await.is_err(),
        "the connection is dropped with no answer"
    );

    g.emu.inject([Fault::effect(Effect::Slow)]);
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(150)).build().unwrap();
    let err = impatient
        .get(format!("{}{LEE}", g.emu.url()))
        .bearer_auth(&g.token)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());

    g.emu.inject([Fault::effect(Effect::Applied(500)).only("POST")]);
    let r = g
        .call("POST", KIM, Some(json!({"phoneNumber": "+1 2065550150", "phoneType": "mobile"})))
        .await;
    assert_eq!(r.status.as_u16(), 500);
    assert_eq!(
        g.phones("kim@contoso.com"),
        vec![("mobile".into(), "+1 2065550150".into())],
        "applied anyway"
    );

    g.emu.inject([Fault::effect(Effect::AppliedDrop).only("PATCH")]);
    assert!(
        g.try_call(
            "PATCH",
            &format!("{KIM}/{MOBILE}"),
            Some(json!({"phoneNumber": "+1 2065550151"})),
            &[]
        )
        .await
        .is_err()
    );
    assert_eq!(
        g.phones("kim@contoso.com"),
        vec![("mobile".into(), "+1 2065550151".into())],
        "applied, then dropped"
    );
    let faults: Vec<Option<String>> = g.emu.requests().iter().map(|r| r.fault.clone()).collect();
    assert_eq!(faults.iter().flatten().count(), 4, "{faults:?}");
}

#[tokio::test]
async fn random_faults_follow_rate_and_seed() {
    let count = |seed: u64| async move {
        let g = graph_with(Options {
            fault_rate: 0.3,
            faults: vec![FaultKind::E503],
            random_seed: seed,
            ..Options::default()
        })
        .await;
        let mut statuses = Vec::new();
        for _ in 0..200 {
            statuses.push(g.call("GET", LEE, None).await.status.as_u16());
        }
        statuses
    };
    let a = count(7).await;
    let failed = a.iter().filter(|s| **s == 503).count();
    assert!((35..=85).contains(&failed), "about 30% of 200: {failed}");
    assert_eq!(a, count(7).await, "same seed, same faults");
}

#[tokio::test]
async fn latency_is_added_to_every_request() {
    let g = graph_with(Options {
        latency_ms: 120,
        ..Options::default()
    })
    .await;
    let started = Instant::now();
    g.call("GET", LEE, None).await;
    assert!(started.elapsed() >= Duration::from_millis(120));
}

#[tokio::test]
async fn faults_queued_over_http_aim_at_method_path_and_times() {
    let g = graph().await;
    let (status, body) = g.faults("POST", "[{\"status\": 503").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("not JSON"), "{body}");
    let (status, body) = g.faults("POST", r#"[{"method": "GET", "status": 503, "retry_after": "1"}]"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("retry_after"),
        "names the bad field: {body}"
    );

    let (status, queue) = g
        .faults(
            "POST",
            r#"[{"method": "DELETE", "path": "/authentication/phoneMethods/e37fc753", "status": 403,
                 "code": "Authorization_RequestDenied", "message": "Not this one.", "times": 2},
                {"method": "POST", "effect": "applied", "status": 500}]"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        queue,
        json!([{"method": "DELETE", "path": "/authentication/phoneMethods/e37fc753", "effect": "status", "status": 403,
                "code": "Authorization_RequestDenied", "message": "Not this one.", "times": 2},
               {"method": "POST", "effect": "applied", "status": 500, "times": 1}])
    );
    assert_eq!(
        g.call("GET", &format!("{LEE}/{OFFICE}"), None).await.status,
        StatusCode::OK,
        "not a DELETE"
    );
    for _ in 0..2 {
        let r = g.call("DELETE", &format!("{LEE}/{OFFICE}"), None).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "Authorization_RequestDenied"));
        assert_eq!(r.message(), "Not this one.");
    }
    let third = g.call("DELETE", &format!("{LEE}/{OFFICE}"), None).await;
    assert_eq!(
        (third.status, third.code()),
        (StatusCode::BAD_REQUEST, "invalidRequest"),
        "used up: the rule answers"
    );
    let applied = g
        .call("POST", KIM, Some(json!({"phoneNumber": "+1 2065550180", "phoneType": "mobile"})))
        .await;
    assert_eq!(applied.status.as_u16(), 500);
    assert_eq!(
        g.phones("kim@contoso.com"),
        vec![("mobile".into(), "+1 2065550180".into())],
        "applied, then 500"
    );
    assert_eq!(g.faults("GET", "").await.1, json!([]));

    // Aimed at one item of a batch by path; the envelope and the other item are untouched.
    g.faults(
        "POST",
        r#"[{"method": "GET", "path": "kim@contoso.com", "status": 403, "code": "Authorization_RequestDenied", "message": "No."}]"#,
    )
    .await;
    let requests = json!({"requests": [
        batch_item("lee", "GET", "/users/lee@contoso.com/authentication/phoneMethods", None, &[]),
        batch_item("kim", "GET", "/users/kim%40contoso.com/authentication/phoneMethods", None, &[]),
    ]});
    let r = g.call("POST", "/v1.0/$batch", Some(requests.clone())).await;
    let status_of = |id: &str| response(&r.body, id)["status"].as_u64();
    assert_eq!(
        (r.status, status_of("lee"), status_of("kim")),
        (StatusCode::OK, Some(200), Some(403))
    );

    g.faults(
        "POST",
        r#"[{"method": "$batch", "status": 503, "retryAfter": 0.25}, {"method": "GET", "effect": "drop"}]"#,
    )
    .await;
    let envelope = g.call("POST", "/v1.0/$batch", Some(requests)).await;
    assert_eq!((envelope.status.as_u16(), envelope.header("retry-after")), (503, Some("0.25")));
    assert!(g.try_call("GET", LEE, None, &[]).await.is_err(), "dropped");

    g.faults("POST", r#"[{"status": 500, "times": 5}]"#).await;
    let (status, _) = g.faults("DELETE", "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(g.emu.pending_faults().is_empty());
    assert_eq!(g.call("GET", LEE, None).await.status, StatusCode::OK, "cleared");
}

#[tokio::test]
async fn fault_builder_aims_by_path_skip_times_and_code() {
    let g = graph().await;
    g.emu.inject([Fault::status(403)
        .only("PATCH")
        .path(MOBILE)
        .skip(1)
        .times(2)
        .code("Authorization_RequestDenied", "Denied.")
        .retry_after("Wed, 21 Oct 2026 07:28:00 GMT")]);
    let path = format!("{LEE}/{MOBILE}");
    let patch = || g.call("PATCH", &path, Some(json!({"phoneNumber": "+1 2065550102"})));
    assert_eq!(patch().await.status, StatusCode::NO_CONTENT, "skipped");
    for _ in 0..2 {
        let r = patch().await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "Authorization_RequestDenied"));
        assert_eq!(r.header("retry-after"), Some("Wed, 21 Oct 2026 07:28:00 GMT"));
    }
    assert_eq!(patch().await.status, StatusCode::NO_CONTENT);
}
