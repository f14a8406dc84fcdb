//! The client under Graph's failure modes (docs/graph.md#throttling): throttling and transient
//! faults retried, writes that may or may not have been applied read back, throttling that must
//! slow the whole pool, refusals reported with Graph's code and message (and a failed write's
//! dependents not sent), the run's time limit, and the request headers a background run sends.

use crate::world::{World, assert_journal_safe, csv_rows, pairs, pinned, planned_writes, summary};
use phonesync_emulator::options::RetryAfterMode;
use phonesync_emulator::{Effect, Fault, Options};
use serde_json::json;
use std::process::ExitCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_writes_are_reread_and_never_sent_twice() {
    let seed = json!({"users": [
        {"id": "1", "userPrincipalName": "a@contoso.com"},
        {"id": "2", "userPrincipalName": "b@contoso.com", "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550100"}]},
        {"id": "3", "userPrincipalName": "c@contoso.com", "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 4255550100"}]},
        {"id": "4", "userPrincipalName": "d@contoso.com", "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550104"}]}
    ]});
    // Single requests, one at a time: the faults below are aimed at individual calls.
    let w = World::builder(seed)
        .emulator(pinned(Options {
            slow_ms: 1500,
            ..Options::default()
        }))
        .rate(|r| {
            r.concurrency = 1;
            r.request_timeout_seconds = Some(0.5);
            r.batch = Some(false);
        })
        .build()
        .await;
    // a@: the add is applied, then 500. b@: the update is applied, then the connection drops.
    // c@: the add of mobile is applied but answered 429 (docs/graph.md#transient-failures); its
    // delete of office is applied but answered too late for the client's timeout. d@: a plain
    // retryable 503.
    w.emulator.inject([
        Fault::effect(Effect::Applied(500)).only("POST"),
        Fault::effect(Effect::AppliedDrop).only("PATCH"),
        Fault::effect(Effect::Applied(429)).only("POST"),
        Fault::effect(Effect::Slow).only("DELETE"),
        Fault::status(503).only("PATCH"),
    ]);
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0101\nb@contoso.com,mobile,206-555-0102\nc@contoso.com,mobile,425-555-0100\nd@contoso.com,mobile,206-555-0199\n",
    );
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(w.phones("a@contoso.com"), pairs(&[("mobile", "+1 2065550101")]));
    assert_eq!(w.phones("b@contoso.com"), pairs(&[("mobile", "+1 2065550102")]));
    assert_eq!(w.phones("c@contoso.com"), pairs(&[("mobile", "+1 4255550100")]));
    assert_eq!(w.phones("d@contoso.com"), pairs(&[("mobile", "+1 2065550199")]));
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    let confirmed = outcomes.iter().filter(|o| o["message"].contains("confirmed by re-reading")).count();
    assert_eq!(confirmed, 4, "{outcomes:#?}");
    assert!(outcomes.iter().all(|o| o["status"] == "succeeded"));
    assert_eq!(summary(&dir)["writesConfirmedByReread"], 4);
    let posts = w.emulator.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 2, "each add was sent once");
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

/// Runs `apply` adding a mobile to each of `n` users without phones, against an emulator
/// throttled by `throttle`, with `concurrency` calls in flight, 10 attempts per request and
/// `$batch` on or off; returns the world, the summary, and (requests, throttled) from it.
async fn apply_throttled(n: usize, throttle: Options, concurrency: usize, batch: bool) -> (World, serde_json::Value, (u64, u64)) {
    let users: Vec<_> = (0..n)
        .map(|i| json!({"id": format!("id{i}"), "userPrincipalName": format!("u{i}@contoso.com")}))
        .collect();
    let throttle = Options {
        retry_after: RetryAfterMode::Fractional,
        ..throttle
    };
    let w = World::builder(json!({ "users": users }))
        .emulator(pinned(throttle))
        .rate(|r| {
            r.concurrency = concurrency;
            r.max_attempts = Some(10);
            r.batch = Some(batch);
        })
        .build()
        .await;
    let mut csv = String::from("user,phoneType,phoneNumber\n");
    for i in 0..n {
        csv.push_str(&format!("u{i}@contoso.com,mobile,206-555-{:04}\n", 2000 + i));
    }
    let input = w.csv("in.csv", &csv);
    let (code, dir) = w.run("apply", &input, "r").await;
    let s = summary(&dir);
    assert_eq!(code.unwrap(), ExitCode::SUCCESS, "batch {batch}: {s}");
    for i in [0, n - 1] {
        assert_eq!(
            w.phones(&format!("u{i}@contoso.com")),
            pairs(&[("mobile", &format!("+1 206555{:04}", 2000 + i))])
        );
    }
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
    let counts = (s["requests"].as_u64().unwrap(), s["throttledRequests"].as_u64().unwrap());
    assert!(counts.1 > 0, "batch {batch}: Graph's budget was met: {s}");
    (w, s, counts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_budget_far_below_the_configured_one_slows_writes_alone_in_batch_and_single_mode() {
    for batch in [true, false] {
        // Graph admits 10 writes a second here; the config says 3,000 per 150 s, all at once.
        let throttle = Options {
            throttle_writes: Some(10),
            throttle_write_window: 1.0,
            ..Options::default()
        };
        let (w, s, (requests, throttled)) = apply_throttled(60, throttle, 2, batch).await;
        assert_eq!(
            s["lowestRequestsPerSecond"].as_f64(),
            Some(350.0),
            "batch {batch}: write 429s never slowed the resource-unit budget: {s}"
        );
        assert!(
            (throttled as f64) < 0.4 * requests as f64,
            "batch {batch}: the writes backed off: {throttled} of {requests} throttled"
        );
        let refused: Vec<_> = w.calls().into_iter().filter(|r| r.status == 429).collect();
        assert!(
            !refused.is_empty() && refused.iter().all(|r| r.method == "POST"),
            "batch {batch}: writes were refused, and only writes: {refused:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_slows_the_whole_pool_below_the_configured_rate() {
    // Graph allows 20 requests/s here; the config says 3,500 per 10 s, all at once. The pool
    // must find the real rate.
    // Two HTTP calls in flight: with `$batch`, up to 40 requests at once. The first of them
    // find Graph's budget far smaller than the configured one; the rest must not.
    let throttle = Options {
        throttle_ru: Some(20),
        throttle_window: 1.0,
        ..Options::default()
    };
    let (_, s, (requests, throttled)) = apply_throttled(80, throttle, 2, true).await;
    assert!(
        (throttled as f64) < 0.25 * requests as f64,
        "the pool backed off instead of hammering: {throttled} of {requests} throttled"
    );
    assert!(s["lowestRequestsPerSecond"].as_f64().unwrap() < 40.0, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_time_limit_stops_new_work_and_reports_it() {
    let users: Vec<_> = (0..6)
        .map(|i| json!({"id": format!("id{i}"), "userPrincipalName": format!("u{i}@contoso.com")}))
        .collect();
    // One request at a time, so the time limit falls in the middle of the work.
    let w = World::builder(json!({ "users": users }))
        .emulator(pinned(Options {
            latency_ms: 150,
            ..Options::default()
        }))
        .rate(|r| {
            r.concurrency = 1;
            r.batch = Some(false);
            r.run_timeout_seconds = Some(0.4);
        })
        .build()
        .await;
    let mut csv = String::from("user,phoneType,phoneNumber\n");
    for i in 0..6 {
        csv.push_str(&format!("u{i}@contoso.com,mobile,206-555-{:04}\n", 3000 + i));
    }
    let input = w.csv("in.csv", &csv);
    let (code, dir) = w.run("apply", &input, "r").await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    let timed_out: Vec<_> = outcomes.iter().filter(|o| o["message"].contains("time limit")).collect();
    assert!(!timed_out.is_empty(), "{outcomes:#?}");
    assert!(w.emulator.requests().len() < 12, "work stopped early");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_runs_ask_for_low_throttle_priority() {
    let w = World::builder(json!({"users": [{"id": "1", "userPrincipalName": "a@contoso.com"}]}))
        .rate(|r| r.throttle_priority = Some("low".into()))
        .build()
        .await;
    let input = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0100\n");
    let (code, _) = w.run("apply", &input, "r").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    let requests = w.emulator.requests();
    assert!(!requests.is_empty() && requests.iter().all(|r| r.throttle_priority.as_deref() == Some("low")));
    assert!(
        requests.iter().all(|r| r.client_request_id.is_some()),
        "client-request-id on every request"
    );
}

/// Ops the run's time limit stopped before they were sent are `not_started`, not `failed`, and
/// never reached Graph.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_past_the_time_limit_are_not_started() {
    let users: Vec<_> = (0..4)
        .map(|i| json!({"id": format!("id{i}"), "userPrincipalName": format!("u{i}@contoso.com")}))
        .collect();
    // Reads take about 0.4 s one at a time; the limit falls among the writes.
    let w = World::builder(json!({ "users": users }))
        .emulator(pinned(Options {
            latency_ms: 100,
            ..Options::default()
        }))
        .rate(|r| {
            r.concurrency = 1;
            r.batch = Some(false);
            r.run_timeout_seconds = Some(0.65);
        })
        .build()
        .await;
    let mut csv = String::from("user,phoneType,phoneNumber\n");
    for i in 0..4 {
        csv.push_str(&format!("u{i}@contoso.com,mobile,206-555-{:04}\n", 3100 + i));
    }
    let input = w.csv("in.csv", &csv);
    let (code, dir) = w.run("apply", &input, "r").await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    let not_started: Vec<_> = outcomes.iter().filter(|o| o["status"] == "not_started").collect();
    assert!(!not_started.is_empty(), "{outcomes:#?}");
    assert!(outcomes.iter().all(|o| o["status"] != "failed"), "{outcomes:#?}");
    let sent: std::collections::HashSet<String> = w.calls().into_iter().filter_map(|c| c.client_request_id).collect();
    for o in not_started {
        assert_eq!(o["attempts"], "0", "{o:?}");
        assert!(o["message"].contains("time limit"), "{o:?}");
        assert!(o["clientRequestId"].is_empty() || !sent.contains(&o["clientRequestId"]), "{o:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_transient_faults_are_retried() {
    // Single requests (no $batch), so the exact sequence of attempts is visible.
    let w = World::builder(json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com"}]}))
        .batch(false)
        .build()
        .await;
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0100\n");
    // The read meets a 429 with a fractional Retry-After and a 503 without one; the write a 504.
    w.emulator.inject([
        Fault::status(429).retry_after("0.3").only("GET"),
        Fault::status(503).only("GET"),
        Fault::status(504).only("POST"),
    ]);
    let started = std::time::Instant::now();
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(300),
        "Retry-After was honoured"
    );
    assert_eq!(w.phones("a@contoso.com"), pairs(&[("mobile", "+1 2065550100")]));
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    assert_eq!(outcomes[0]["attempts"], "2");
    assert_eq!(outcomes[0]["status"], "succeeded");
    let s = summary(&dir);
    assert_eq!(s["throttledRequests"], 1);
    assert_eq!(s["requests"], 6, "3 reads, 2 writes, and 1 re-read");
    let calls: Vec<(String, u16)> = w.calls().iter().map(|e| (e.method.clone(), e.status)).collect();
    let expect: Vec<(String, u16)> = [("GET", 429), ("GET", 503), ("GET", 200), ("POST", 504), ("GET", 404), ("POST", 201)]
        .iter()
        .map(|(m, s)| (m.to_string(), *s))
        .collect();
    assert_eq!(
        calls, expect,
        "after the ambiguous 504 the write is re-read (404: not applied) before it is sent again"
    );
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_is_reported_and_its_delete_is_not_sent() {
    let w = World::new(json!({"users": [
        {"id": "u1", "userPrincipalName": "a@contoso.com", "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 4255550100"}]},
        {"id": "u2", "userPrincipalName": "b@contoso.com"}
    ]}))
    .await;
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,425-555-0100\nb@contoso.com,office,425-555-0101\n",
    );
    w.emulator.inject([Fault::status(403).only("POST").path("a@contoso.com")]);
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    assert_eq!(
        w.phones("a@contoso.com"),
        pairs(&[("office", "+1 4255550100")]),
        "a@ keeps the office phone it had"
    );
    assert_eq!(
        w.phones("b@contoso.com"),
        pairs(&[("office", "+1 4255550101")]),
        "the rest of the run goes on"
    );
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    let add = &outcomes[0];
    assert_eq!(
        (add["op"].as_str(), add["status"].as_str(), add["httpStatus"].as_str()),
        ("add", "failed", "403")
    );
    assert_eq!(add["errorCode"], "Authorization_RequestDenied");
    assert_eq!(add["message"], "Insufficient privileges to complete the operation.");
    assert_eq!(add["attempts"], "1", "403 is not retried");
    let delete = &outcomes[1];
    assert_eq!((delete["op"].as_str(), delete["status"].as_str()), ("delete", "skipped"));
    assert!(delete["message"].contains("add of mobile did not succeed"));
    assert!(!w.emulator.changes().iter().any(|c| c.op == "delete"), "no delete ran");
    let deletes: Vec<u16> = w.calls().iter().filter(|c| c.method == "DELETE").map(|c| c.status).collect();
    assert!(
        !deletes.is_empty() && deletes.iter().all(|s| *s == 424),
        "the delete, batched with its add, is answered 424, not run: {deletes:?}"
    );
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_refusals_are_reported_with_code_and_message() {
    // The default method cannot be deleted; when the client may not read which method is the
    // default, Graph refuses the delete and the report carries Graph's words.
    let w = World::builder(
        json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com", "defaultMethod": "office",
        "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 4255550100"}]}]}),
    )
    .emulator(pinned(Options {
        sign_in_preferences_forbidden: true,
        ..Options::default()
    }))
    .build()
    .await;
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,mobile,425-555-0100\n");
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    assert_eq!(outcomes[1]["status"], "failed");
    assert_eq!(outcomes[1]["httpStatus"], "400");
    assert_eq!(outcomes[1]["errorCode"], "invalidRequest");
    assert!(outcomes[1]["message"].contains("default"), "{:?}", outcomes[1]);
    assert_eq!(
        w.phones("a@contoso.com"),
        pairs(&[("mobile", "+1 4255550100"), ("office", "+1 4255550100")]),
        "half done; a rerun finishes it"
    );
}
