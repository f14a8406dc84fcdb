//! The client under Graph's failure modes (docs/graph.md#throttling): writes that may or may not have
//! been applied, throttling that must slow the whole pool, the run's time limit, and request
//! headers a background run sends.

mod common;

use common::{World, assert_journal_invariants, csv_rows, pairs, pinned, summary};
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
    let w = World::build(
        seed,
        pinned(Options {
            slow_ms: 1500,
            ..Options::default()
        }),
        "",
        "",
    )
    .await;
    // Single requests: the faults below are aimed at individual calls.
    w.edit_config("concurrency = 4", "concurrency = 1\nrequest_timeout_seconds = 0.5\nbatch = false");
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
    assert_journal_invariants(&w.emulator.changes());
}

/// Runs `apply` adding a mobile to each of `n` users without phones, against an emulator
/// throttled by `throttle`, with `rate` lines replacing the default concurrency; returns the
/// world, the summary, and (requests, throttled) from it.
async fn apply_throttled(n: usize, throttle: Options, rate: &str) -> (World, serde_json::Value, (u64, u64)) {
    let users: Vec<_> = (0..n)
        .map(|i| json!({"id": format!("id{i}"), "userPrincipalName": format!("u{i}@contoso.com")}))
        .collect();
    let throttle = Options {
        retry_after: RetryAfterMode::Fractional,
        ..throttle
    };
    let w = World::build(json!({ "users": users }), pinned(throttle), "", "").await;
    w.edit_config("concurrency = 4", rate);
    let mut csv = String::from("user,phoneType,phoneNumber\n");
    for i in 0..n {
        csv.push_str(&format!("u{i}@contoso.com,mobile,206-555-{:04}\n", 2000 + i));
    }
    let input = w.csv("in.csv", &csv);
    let (code, dir) = w.run("apply", &input, "r").await;
    let s = summary(&dir);
    assert_eq!(code.unwrap(), ExitCode::SUCCESS, "{rate}: {s}");
    for i in [0, n - 1] {
        assert_eq!(
            w.phones(&format!("u{i}@contoso.com")),
            pairs(&[("mobile", &format!("+1 206555{:04}", 2000 + i))])
        );
    }
    assert_journal_invariants(&w.emulator.changes());
    let counts = (s["requests"].as_u64().unwrap(), s["throttledRequests"].as_u64().unwrap());
    assert!(counts.1 > 0, "{rate}: Graph's budget was met: {s}");
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
        let rate = format!("concurrency = 2\nmax_attempts = 10\nbatch = {batch}");
        let (w, s, (requests, throttled)) = apply_throttled(60, throttle, &rate).await;
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
        assert!(refused.iter().all(|r| r.method == "POST"), "only writes: {refused:?}");
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
    let rate = "concurrency = 2\nmax_attempts = 10";
    let (_, s, (requests, throttled)) = apply_throttled(80, throttle, rate).await;
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
    let w = World::build(
        json!({ "users": users }),
        pinned(Options {
            latency_ms: 150,
            ..Options::default()
        }),
        "",
        "",
    )
    .await;
    // One request at a time, so the time limit falls in the middle of the work.
    w.edit_config("concurrency = 4", "concurrency = 1\nbatch = false\nrun_timeout_seconds = 0.4");
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
    let w = World::new(json!({"users": [{"id": "1", "userPrincipalName": "a@contoso.com"}]})).await;
    w.edit_config("concurrency = 4", "concurrency = 4\nthrottle_priority = \"low\"");
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
    let w = World::build(
        json!({ "users": users }),
        pinned(Options {
            latency_ms: 100,
            ..Options::default()
        }),
        "",
        "",
    )
    .await;
    // Reads take about 0.4 s one at a time; the limit falls among the writes.
    w.edit_config("concurrency = 4", "concurrency = 1\nbatch = false\nrun_timeout_seconds = 0.65");
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
