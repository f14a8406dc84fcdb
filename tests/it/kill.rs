//! SIGKILL at any moment: the real binary, run against an emulator it reaches over HTTP, keeping
//! both targets in line, is killed at points across the read, apply and report phases. Each
//! killed run's `outcomes.csv` names every write the emulator's journal shows it made, no user is
//! left without a sign-in phone or a profile phone, and the next run converges (each profile
//! phone updated in place) with the journal checker passing.

use crate::targets::profile_table;
use crate::world::{SECRET, World, assert_journal_safe, offices, pairs, pinned, planned_writes, summary, unaudited_write};
use phonesync_emulator::Options;
use serde_json::json;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

const USERS: usize = 24;

/// Writes a run makes: per user, a sign-in mobile added, the office deleted after it, and the
/// profile mobile's number updated in place.
const WRITES: usize = 3 * USERS;

/// Every user moves an office number to mobile: an add, then a delete that depends on it; and
/// each user's one profile mobile `Cell` (another number) gets that number, in place.
async fn world(batch: bool) -> (World, std::path::PathBuf) {
    let (mut seed, csv) = offices(USERS);
    for (i, user) in seed["users"].as_array_mut().unwrap().iter_mut().enumerate() {
        user["profilePhones"] =
            json!([{"id": format!("p{i}"), "type": "mobile", "number": format!("+1 206555{:04}", 1000 + i), "displayName": "Cell"}]);
    }
    let options = pinned(Options {
        latency_ms: 10,
        ..Options::default()
    });
    let w = World::builder(seed)
        .emulator(options)
        .targets(&["auth", "profile"])
        .target("profile", profile_table())
        .concurrency(2)
        .batch(batch)
        .build()
        .await;
    let input = w.csv("hr.csv", &csv);
    (w, input)
}

/// When to kill: after the journal shows this many requests (reads first, then writes).
#[derive(Debug, Clone, Copy)]
enum Point {
    Requests(usize),
    Writes(usize),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_anywhere_leaves_a_true_audit_and_the_next_run_converges() {
    // Each point once with single requests and once with `$batch`.
    let points = [
        Point::Requests(3),             // reading phones
        Point::Requests(2 * USERS + 2), // reading profile phones and default methods
        Point::Writes(1),               // between the first add and its delete
        Point::Writes(USERS),           // mid-apply
        Point::Writes(2 * USERS),       // among profile updates
        Point::Writes(WRITES - 1),
        Point::Writes(WRITES), // every write made: the reports are being written
    ];
    for (point, batch) in points.into_iter().flat_map(|p| [(p, false), (p, true)]) {
        let (w, input) = world(batch).await;
        let reports = w.dir.path().join("reports").join("killed");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_phonesync"))
            .args([
                "apply",
                input.to_str().unwrap(),
                "--quiet",
                "--config",
                w.config.to_str().unwrap(),
                "--report-dir",
            ])
            .arg(&reports)
            .env_clear()
            .env("AZURE_CLIENT_SECRET", SECRET)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the binary starts");
        let reached = |w: &World| {
            let calls = w.calls();
            match point {
                Point::Requests(n) => calls.len() >= n,
                Point::Writes(n) => calls.iter().filter(|c| c.method != "GET").count() >= n,
            }
        };
        loop {
            if reached(&w) || child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let exited = child.try_wait().unwrap();
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if !matches!(point, Point::Writes(n) if n == WRITES) {
            assert!(
                exited.is_none() && status.signal() == Some(9),
                "{point:?} batch {batch}: killed, not finished: {status:?}"
            );
        }

        // The audit names every write the journal shows this run made.
        if let Some(c) = unaudited_write(&w, &reports) {
            panic!("{point:?} batch {batch}: a write outcomes.csv does not name: {c:?}");
        }
        // Nobody lost a phone, whatever the moment.
        for i in 0..USERS {
            assert!(!w.phones(&format!("u{i}@contoso.com")).is_empty(), "{point:?}: u{i} has no phone");
            assert_eq!(
                w.profile_phones(&format!("u{i}@contoso.com")).len(),
                1,
                "{point:?}: u{i}'s profile phone"
            );
        }

        // The next run finishes the job; a plan afterwards finds nothing left.
        let (code, next) = w.run("apply", &input, "next").await;
        assert!(code.is_ok(), "{point:?}: {code:?}");
        let (_, after) = w.run("plan", &input, "after").await;
        assert_eq!(
            summary(&after)["ops"]["planned"],
            json!({"add": 0, "update": 0, "delete": 0}),
            "{point:?} (killed: {status:?}): converged"
        );
        for i in 0..USERS {
            assert_eq!(
                w.phones(&format!("u{i}@contoso.com")),
                pairs(&[("mobile", &format!("+1 425555{:04}", 1000 + i))]),
                "{point:?}"
            );
            let profile: Vec<(String, String, String, String)> = w
                .profile_phones(&format!("u{i}@contoso.com"))
                .into_iter()
                .map(|(id, t, n, name)| (id, t, n.replace(' ', ""), name))
                .collect();
            assert_eq!(
                profile,
                [(format!("p{i}"), "mobile".into(), format!("+1425555{:04}", 1000 + i), "Cell".into())],
                "{point:?}: the same item, in place"
            );
        }
        eprintln!("checking the journal after a kill at {point:?}, batch {batch}");
        assert_journal_safe(&w, Some(&planned_writes(&w, &[&reports, &next])));
    }
}
