//! Reads and writes through `$batch` (docs/graph.md#batch): 20 items per HTTP call, a user's
//! chain linked with `dependsOn`, failed items retried on their own, and 424 dependents re-planned
//! rather than counted as failures.

use crate::world::{World, assert_journal_safe, csv_rows, offices, pairs, pinned, planned_writes, summary};
use phonesync_emulator::{Fault, Options};
use std::collections::HashMap;
use std::process::ExitCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_chains_travel_twenty_to_a_call() {
    let (seed, csv) = offices(60);
    let w = World::builder(seed).concurrency(20).build().await;
    let input = w.csv("in.csv", &csv);
    let (code, dir) = w.run("apply", &input, "r").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    for i in [0, 29, 59] {
        assert_eq!(
            w.phones(&format!("u{i}@contoso.com")),
            pairs(&[("mobile", &format!("+1 425555{:04}", 1000 + i))])
        );
    }
    let s = summary(&dir);
    assert_eq!(
        s["requests"], 240,
        "60 reads, 60 reads of the default method (each user's plan deletes), 60 adds, 60 deletes: {s}"
    );
    let calls = s["httpCalls"].as_u64().unwrap();
    assert!(calls <= 28, "{calls} HTTP calls for 240 operations");
    // Every item of one user's chain travelled in the same envelope.
    let mut envelope_of: HashMap<String, Vec<Option<String>>> = HashMap::new();
    for r in w.calls().iter().filter(|r| r.method != "GET") {
        let user = r.path.split('/').nth(3).unwrap().to_string();
        envelope_of.entry(user).or_default().push(r.envelope.clone());
    }
    assert_eq!(envelope_of.len(), 60);
    assert!(
        envelope_of.values().all(|v| v.len() == 2 && v[0] == v[1] && v[0].is_some()),
        "{envelope_of:?}"
    );
    let sizes: Vec<usize> = w
        .calls()
        .iter()
        .filter(|r| r.batch_item.is_some())
        .fold(HashMap::<String, usize>::new(), |mut m, r| {
            *m.entry(r.envelope.clone().unwrap_or_default()).or_default() += 1;
            m
        })
        .into_values()
        .collect();
    assert!(!sizes.is_empty() && sizes.iter().all(|n| *n <= 20), "{sizes:?}");
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_counts_calls_in_flight_and_each_call_is_filled_from_ready_work() {
    // Two calls in flight, 20 to a call: 40 users are worked on at once, so calls leave full.
    // (Were concurrency users in flight, no call could hold more than two of them.)
    let (seed, csv) = offices(200);
    let options = Options {
        latency_ms: 30,
        ..Options::default()
    };
    let w = World::builder(seed).emulator(pinned(options)).concurrency(2).build().await;
    let input = w.csv("in.csv", &csv);
    let (code, dir) = w.run("apply", &input, "r").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    let s = summary(&dir);
    assert_eq!(s["requests"], 800, "reads, default-method reads, adds and deletes: {s}");
    let calls = s["httpCalls"].as_u64().unwrap();
    assert!(calls <= 60, "{calls} HTTP calls for 800 operations: {s}");
    assert_eq!(w.emulator.most_calls_in_flight(), 2, "both calls used, never a third");
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_424_dependent_is_replanned_once_its_dependency_succeeds() {
    let (seed, csv) = offices(1);
    let w = World::new(seed).await;
    // The add inside the batch is throttled, so the delete that depends on it gets 424.
    w.emulator.inject([Fault::status(429).retry_after("0.2").only("POST")]);
    let input = w.csv("in.csv", &csv);
    let (code, dir) = w.run("apply", &input, "r").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(w.phones("u0@contoso.com"), pairs(&[("mobile", "+1 4255551000")]));
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    assert_eq!(outcomes.len(), 2, "the add and its delete: {outcomes:#?}");
    assert!(outcomes.iter().all(|o| o["status"] == "succeeded"), "{outcomes:#?}");
    let deletes: Vec<u16> = w.calls().iter().filter(|r| r.method == "DELETE").map(|r| r.status).collect();
    assert_eq!(deletes, vec![424, 204], "the delete waited for its add, then ran");
    let posts: Vec<u16> = w.calls().iter().filter(|r| r.method == "POST").map(|r| r.status).collect();
    assert_eq!(posts, vec![429, 201], "the throttled add was retried on its own, once");
    assert!(
        w.calls().iter().filter(|r| r.method == "POST").all(|r| r.batch_item.is_some()),
        "and the retry went in a later batch"
    );
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batching_can_be_turned_off() {
    let (seed, csv) = offices(3);
    let w = World::builder(seed).batch(false).build().await;
    let input = w.csv("in.csv", &csv);
    let (code, dir) = w.run("apply", &input, "r").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    let requests = w.emulator.requests();
    assert!(
        !requests.is_empty() && requests.iter().all(|r| !r.path.ends_with("$batch")),
        "{requests:?}"
    );
    assert_eq!(summary(&dir)["httpCalls"], 12, "3 reads, 3 default-method reads, 3 adds, 3 deletes");
}
