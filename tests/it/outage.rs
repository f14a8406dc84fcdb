//! When Graph goes away, or the scheduler says stop: the run ends promptly, truthfully, and
//! says why. A Graph that stops answering mid-run trips the circuit breaker (no new user, no
//! new attempt, one message, exit 3) after a window without answers; a blip of a few failed
//! calls does not; a stop with Graph hung ends within the grace with every report written.

use crate::world::{World, assert_journal_safe, csv_rows, pinned, planned_writes, summary};
use phonesync::interrupt::Stop;
use phonesync_emulator::{Effect, Fault, Options};
use serde_json::json;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `n` users without phones, and an HR file giving each a mobile.
fn tenant(n: usize) -> (serde_json::Value, String) {
    let users: Vec<_> = (0..n)
        .map(|i| json!({"id": format!("id{i}"), "userPrincipalName": format!("u{i}@contoso.com")}))
        .collect();
    let mut csv = String::from("user,phoneType,phoneNumber\n");
    for i in 0..n {
        csv.push_str(&format!("u{i}@contoso.com,mobile,+1 206555{:04}\n", 1000 + i));
    }
    (json!({ "users": users }), csv)
}

/// A world of `n` users whose calls each take 20 ms, one call in flight, no `$batch`, and a
/// breaker that trips after one second without an answer.
async fn slow_world(n: usize) -> (World, std::path::PathBuf) {
    slow_world_batched(n, false).await
}

/// [`slow_world`], with `$batch` on or off.
async fn slow_world_batched(n: usize, batch: bool) -> (World, std::path::PathBuf) {
    let (seed, csv) = tenant(n);
    let options = pinned(Options {
        latency_ms: 20,
        ..Options::default()
    });
    let w = World::builder(seed)
        .emulator(options)
        .concurrency(1)
        .batch(batch)
        .rate(|r| {
            r.unreachable_after_seconds = Some(1.0);
            r.max_backoff_seconds = 0.2;
        })
        .build()
        .await;
    let input = w.csv("hr.csv", &csv);
    (w, input)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_going_away_mid_run_ends_it_promptly_with_exit_3_and_a_clean_rerun_finishes() {
    let (w, input) = slow_world(200).await;
    let run = w.run("apply", &input, "outage");
    let outage = async {
        // Once some writes are made, every connection is dropped from then on.
        while w.calls().iter().filter(|c| c.method == "POST").count() < 10 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        w.emulator.inject([Fault::effect(Effect::Drop).times(u32::MAX)]);
        (Instant::now(), w.emulator.requests().len())
    };
    let ((code, dir), (gone_at, calls_before)) = tokio::join!(run, outage);
    let took = gone_at.elapsed();
    assert_eq!(code.unwrap(), ExitCode::from(3), "its own exit code");
    let calls_after = w.emulator.requests().len() - calls_before;
    eprintln!("Graph went away: the run ended {took:?} later, after {calls_after} more calls (window 1 s)");
    assert!(took < Duration::from_secs(10), "ended {took:?} after Graph went away");
    assert!(calls_after < 50, "a few calls while Graph was gone, not thousands: {calls_after}");
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    let count = |status: &str| outcomes.iter().filter(|o| o["status"] == status).count();
    assert!(count("succeeded") >= 10 && count("not_started") > 100, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .filter(|o| o["status"] == "not_started")
            .all(|o| o["message"].contains("Graph has been unreachable since")),
        "each op not started says why"
    );
    assert_eq!(summary(&dir)["ops"]["byStatus"]["succeeded"], json!(count("succeeded")));
    // Back again: the next run finishes the job and doubles nothing.
    w.emulator.clear_faults();
    let (code, again) = w.run("apply", &input, "again").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    let (_, after) = w.run("plan", &input, "after").await;
    assert_eq!(summary(&after)["ops"]["planned"], json!({"add": 0, "update": 0, "delete": 0}));
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir, &again])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blip_of_three_dropped_calls_does_not_trip_the_breaker() {
    let (w, input) = slow_world(30).await;
    w.emulator.inject([Fault::effect(Effect::Drop).skip(5).times(3)]);
    let (code, dir) = w.run("apply", &input, "blip").await;
    assert!(w.emulator.pending_faults().is_empty(), "the three drops happened");
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&dir)["ops"]["byStatus"]["succeeded"], json!(30));
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

/// A listener that accepts connections and never answers; its address.
fn hung_server() -> std::net::SocketAddr {
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = hung.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for connection in hung.incoming().flatten() {
            held.push(connection); // accepted, never answered
        }
    });
    address
}

/// A world of `users` users (a grace of one second, calls that may wait ten minutes) whose config
/// `aim` points somewhere at a [`hung_server`], and its HR file.
async fn hung_world(users: usize, aim: impl FnOnce(&mut crate::world::Config, std::net::SocketAddr)) -> (World, std::path::PathBuf) {
    let address = hung_server();
    let (seed, csv) = tenant(users);
    let mut w = World::builder(seed)
        .rate(|r| {
            r.stop_grace_seconds = Some(1.0);
            r.request_timeout_seconds = Some(600.0);
        })
        .build()
        .await;
    w.configure(|c| aim(c, address));
    let input = w.csv("hr.csv", &csv);
    (w, input)
}

/// An apply of `input` reporting as `name`, stopped as SIGTERM would after `ms`: its result and
/// report folder, and when the stop came.
async fn stopped_after(
    w: &World,
    input: &std::path::Path,
    name: &str,
    ms: u64,
) -> ((anyhow::Result<ExitCode>, std::path::PathBuf), Instant) {
    let stop = Stop::new();
    let run = w.run_stoppable("apply", input, name, &stop);
    let signal = async {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        stop.request(phonesync::interrupt::EXIT_TERMINATED);
        Instant::now()
    };
    tokio::join!(run, signal)
}

/// A token service that never answers: a stop while the run signs in ends it within the grace
/// too, saying so, with nothing read or written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_while_signing_in_with_the_token_service_hung_ends_within_the_grace() {
    let (w, input) = hung_world(3, |c, address| c.auth.authority_host = format!("http://{address}")).await;
    let ((code, _), stopped_at) = stopped_after(&w, &input, "signing-in", 300).await;
    assert_eq!(code.unwrap(), ExitCode::from(143));
    assert!(stopped_at.elapsed() < Duration::from_secs(4), "{:?}", stopped_at.elapsed());
    assert!(w.calls().is_empty(), "nothing read or written");
}

/// A Graph that accepts connections and never answers: a stop ends the run within the grace
/// (here one second), with exit 143 and every report written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_with_graph_hung_ends_within_the_grace_with_the_reports() {
    let (w, input) = hung_world(20, |c, address| c.endpoint = format!("http://{address}")).await;
    let ((code, dir), stopped_at) = stopped_after(&w, &input, "stopped", 500).await;
    let took = stopped_at.elapsed();
    eprintln!("SIGTERM with Graph hung: the run ended {took:?} later (grace 1 s)");
    assert_eq!(code.unwrap(), ExitCode::from(143));
    assert!(took < Duration::from_secs(4), "ended {took:?} after the stop, with a grace of 1 s");
    for report in ["plan.md", "summary.json", "report.html", "rejects.csv"] {
        assert!(dir.join(report).exists(), "{report} written");
    }
    let skipped = &summary(&dir)["targets"]["auth"]["users"]["skipped"];
    assert_eq!(skipped["read_failed"], json!(20), "{skipped}");
}

/// With `$batch` on (the default), Graph answering every envelope 200 while every request
/// inside fails with 503: the items say Graph is not there, so the breaker trips as it does for
/// calls that get no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_inside_batches_trip_the_breaker_too() {
    let (w, input) = slow_world_batched(100, true).await;
    // Every item (their paths are under /users); the envelopes are answered 200.
    w.emulator.inject([Fault::status(503).path("/users/").times(u32::MAX)]);
    let started = Instant::now();
    let (code, dir) = w.run("apply", &input, "items").await;
    assert_eq!(code.unwrap(), ExitCode::from(3), "{:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    let skipped = &summary(&dir)["targets"]["auth"]["users"]["skipped"];
    assert_eq!(skipped["read_failed"], json!(100), "{skipped}");
    let batches = w.emulator.requests().iter().filter(|r| r.path.ends_with("$batch")).count();
    assert!(batches < 60, "a few envelopes once Graph was taken as gone: {batches}");
}
