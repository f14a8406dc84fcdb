//! The client's acceptance run: 5,000 generated users against an emulator that injects 10% faults
//! of every kind (docs/graph.md#transient-failures: 500, 502, 503 with and without Retry-After,
//! 504, 507, dropped connections, answers slower than the client's timeout, and writes applied but
//! reported failed) and throttles below the configured rate (docs/graph.md#throttle-limits). One
//! apply must converge. It is part of `cargo test`; `cargo test --test it soak::` runs it alone.

use crate::world::{World, assert_journal_safe, csv_rows, pinned, summary};
use phonesync_emulator::options::FaultKind::*;
use phonesync_emulator::{Options, generate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_users_converge_in_one_apply_under_faults_and_throttling() {
    let generated = generate::generate(5_000, 5, 0.1);
    let options = pinned(Options {
        fault_rate: 0.1,
        // Every kind of transient failure: 5xx (503 with and without Retry-After), dropped connections,
        // answers past the client's timeout, and writes applied but answered 500 or dropped.
        faults: vec![E500, E502, E503, E503RetryAfter, E504, E507, Drop, Slow, Applied500, AppliedDrop],
        slow_ms: 1_500,
        random_seed: 99,
        // 300 requests/s with one second of credit, below the 600/s the config allows.
        throttle_ru: Some(300),
        throttle_window: 1.0,
        ..Options::default()
    });
    // Configured well above the 300 requests/s the emulator allows.
    let w = World::builder(serde_json::to_value(&generated.seed).unwrap())
        .emulator(options)
        .rate(|r| {
            r.requests_per_second = Some(600);
            r.concurrency = 48;
            r.request_timeout_seconds = Some(1.0);
            r.max_attempts = Some(8);
        })
        .build()
        .await;
    let mut csv = Vec::new();
    generated.write_csv(&mut csv).unwrap();
    let input = w.csv("hr.csv", std::str::from_utf8(&csv).unwrap());

    let (code, first) = w.run("apply", &input, "first").await;
    let s = summary(&first);
    eprintln!("first apply: {s}");
    let outcomes = csv_rows(&first.join("outcomes.csv"));
    // A failure counts only where a fault explains it: some attempt of that op met an injected
    // fault, itself or through the `$batch` envelope it travelled in, or never reached the
    // emulator at all (its envelope was dropped) — the journal shows each.
    let requests = w.emulator.requests();
    let faulted_envelopes: std::collections::HashSet<String> = requests
        .iter()
        .filter(|r| r.fault.is_some() && r.path.ends_with("$batch"))
        .map(|r| r.request_id.clone())
        .collect();
    let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut faulted: std::collections::HashSet<String> = std::collections::HashSet::new();
    for r in &requests {
        let Some(id) = r.client_request_id.clone() else { continue };
        *seen.entry(id.clone()).or_default() += 1;
        if r.fault.is_some() || r.envelope.as_ref().is_some_and(|e| faulted_envelopes.contains(e)) {
            faulted.insert(id);
        }
    }
    let explained = |o: &std::collections::HashMap<String, String>| {
        let id = &o["clientRequestId"];
        let attempts: u32 = o["attempts"].parse().unwrap_or(0);
        faulted.contains(id) || seen.get(id).copied().unwrap_or(0) < attempts
    };
    let mut failed_users = std::collections::HashSet::new();
    for o in &outcomes {
        match o["status"].as_str() {
            "succeeded" => {}
            "failed" | "skipped" => {
                if o["status"] == "failed" {
                    assert!(explained(o), "a failure no fault explains: {o:?}");
                }
                failed_users.insert(o["user"].clone());
            }
            other => panic!("unexpected outcome {other}: {o:?}"),
        }
    }
    assert_eq!(s["rows"]["rejected"], 0);
    assert_eq!(
        s["targets"]["auth"]["users"]["skipped"],
        serde_json::json!({}),
        "every user was read despite the faults: {s}"
    );
    assert!(s["throttledRequests"].as_u64().unwrap() > 0, "the throttle was met: {s}");
    assert_eq!(s["targets"]["auth"]["users"]["withChanges"], generated.changed_users);
    let failed = s["ops"]["byStatus"]["failed"].as_u64().unwrap();
    assert_eq!(
        code.unwrap(),
        if failed == 0 {
            std::process::ExitCode::SUCCESS
        } else {
            std::process::ExitCode::from(1)
        }
    );
    assert_journal_safe(&w, Some(&w.planned_by(&["first"])));

    // Converged: a second apply, still under faults, finds nothing left to do.
    let (_, second) = w.run("apply", &input, "second").await;
    let s2 = summary(&second);
    assert_eq!(
        s2["targets"]["auth"]["users"]["withChanges"].as_u64().unwrap(),
        failed_users.len() as u64,
        "only the users with a failure remain, user for user: {s2}"
    );
    assert_journal_safe(&w, Some(&w.planned_by(&["first", "second"])));
}
