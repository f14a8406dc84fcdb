//! The guards that stop an apply before its first write: more deletes than `plan.max_deletes`
//! or `plan.max_delete_percent` allow, an input far smaller than the last one with prune on (each
//! until `--allow-deletes N` says otherwise), and a second apply against a tenant another process
//! is applying to (the lock).

use crate::world::{SECRET, World, pairs, pinned, text};
use phonesync_emulator::Options;
use serde_json::json;
use std::path::Path;
use std::process::{Command, ExitCode};

/// A plan that deletes more phones than `[plan] max_deletes` allows (a truncated HR file with
/// prune on looks like this) is refused by `apply` before any write, with how to proceed;
/// `--allow-deletes N` lifts it for one run. A plan run only warns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_refuses_more_deletes_than_allowed_before_any_write_until_told_otherwise() {
    let both = |n: u32| json!([{"phoneType": "mobile", "phoneNumber": format!("+1 206555{n:04}")}, {"phoneType": "office", "phoneNumber": format!("+1 425555{n:04}")}]);
    let seed = json!({"users": [
        {"id": "id1", "userPrincipalName": "a@contoso.com", "phoneMethods": both(1)},
        {"id": "id2", "userPrincipalName": "b@contoso.com", "phoneMethods": both(2)},
        {"id": "id3", "userPrincipalName": "c@contoso.com", "phoneMethods": both(3)},
    ]});
    let w = World::builder(seed).prune(true).plan(|p| p.max_deletes = Some(2)).build().await;
    // The office column went missing from the export: every office phone would be pruned.
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,+1 2065550001\nb@contoso.com,mobile,+1 2065550002\nc@contoso.com,mobile,+1 2065550003\n",
    );
    let (code, _) = w.run("plan", &csv, "plan").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS, "a plan only warns");
    let (code, _) = w.run("apply", &csv, "refused").await;
    let e = format!("{:#}", code.unwrap_err());
    assert!(
        e.contains("refusing to apply")
            && e.contains("3 phones would be deleted")
            && e.contains("max_deletes = 2")
            && e.contains("--allow-deletes 3"),
        "{e}"
    );
    let calls = w.calls();
    assert!(
        !calls.is_empty() && calls.iter().all(|c| c.method == "GET"),
        "reads, and no write: {calls:?}"
    );
    assert_eq!(w.phones("a@contoso.com").len(), 2);

    let (code, _) = w.run_with_args("apply", &csv, "allowed", &["--allow-deletes", "3"]).await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    for (user, n) in [("a", 1), ("b", 2), ("c", 3)] {
        assert_eq!(
            w.phones(&format!("{user}@contoso.com")),
            pairs(&[("mobile", &format!("+1 206555000{n}"))])
        );
    }
}

/// `plan.max_delete_percent` refuses an apply whose deletes exceed that share of the users read,
/// before any write, even under `max_deletes`; `--allow-deletes` lifts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_refuses_deletes_over_a_share_of_the_users_read() {
    let both = |n: u32| json!([{"phoneType": "mobile", "phoneNumber": format!("+1 206555{n:04}")}, {"phoneType": "office", "phoneNumber": format!("+1 425555{n:04}")}]);
    let users: Vec<_> = (1..=4)
        .map(|n| json!({"id": format!("id{n}"), "userPrincipalName": format!("u{n}@contoso.com"), "phoneMethods": both(n)}))
        .collect();
    let w = World::builder(json!({ "users": users }))
        .prune(true)
        .plan(|p| p.max_delete_percent = Some(25.0))
        .build()
        .await;
    // Two of four users lose their office phone: 50 % of the users read, over 25 %.
    let rows: String = (1..=4)
        .map(|n| {
            let office = if n <= 2 {
                String::new()
            } else {
                format!("u{n}@contoso.com,office,+1 425555{n:04}\n")
            };
            format!("u{n}@contoso.com,mobile,+1 206555{n:04}\n{office}")
        })
        .collect();
    let csv = w.csv("in.csv", &format!("user,phoneType,phoneNumber\n{rows}"));
    let (code, _) = w.run("apply", &csv, "refused").await;
    let e = format!("{:#}", code.unwrap_err());
    assert!(e.contains("refusing to apply") && e.contains("max_delete_percent = 25"), "{e}");
    let calls = w.calls();
    assert!(
        !calls.is_empty() && calls.iter().all(|c| c.method == "GET"),
        "the users were read, and nothing written: {calls:?}"
    );
    let (code, _) = w.run_with_args("apply", &csv, "allowed", &["--allow-deletes", "2"]).await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(w.phones("u1@contoso.com"), pairs(&[("mobile", "+1 2065550001")]));
    assert_eq!(w.phones("u3@contoso.com").len(), 2);
}

/// With prune, an input naming far fewer users than the last finished apply read (a truncated
/// export) is refused before any write; `--allow-deletes N` lets it through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_with_prune_refuses_an_input_far_smaller_than_the_last_one() {
    let users: Vec<_> = (1..=4)
        .map(|i| {
            json!({"id": format!("id{i}"), "userPrincipalName": format!("u{i}@contoso.com"),
            "phoneMethods": [{"phoneType": "office", "phoneNumber": format!("+1 425555{i:04}")}]})
        })
        .collect();
    let w = World::builder(json!({"users": users})).prune(true).build().await;
    let full: String = (1..=4).map(|i| format!("u{i}@contoso.com,office,+1 425555{i:04}\n")).collect();
    let csv = w.csv("full.csv", &format!("user,phoneType,phoneNumber\n{full}"));
    let (code, _) = w.run("apply", &csv, "full").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    // Cut short: one user of four, whose office the file no longer names.
    let short = w.csv("short.csv", "user,phoneType,phoneNumber\nu1@contoso.com,mobile,+1 2065550001\n");
    let (code, _) = w.run("apply", &short, "short").await;
    let e = format!("{:#}", code.unwrap_err());
    assert!(
        e.contains("refusing to apply with prune") && e.contains("1 user, 75 % fewer than the 4"),
        "{e}"
    );
    assert_eq!(w.phones("u1@contoso.com"), pairs(&[("office", "+1 4255550001")]), "nothing written");
    let (code, _) = w.run_with_args("apply", &short, "allowed", &["--allow-deletes", "1"]).await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(w.phones("u1@contoso.com"), pairs(&[("mobile", "+1 2065550001")]));
}

/// Two real processes: while one `apply` runs against a tenant, a second one, from a config in
/// another folder (its own reports folder) writing the tenant id in capitals, exits 2
/// naming the first's process, start and config; a lock left by a process that is gone is
/// taken over with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_apply_against_the_same_tenant_stops_naming_the_first() {
    // Every call takes 400 ms: the first run is still going when the second starts.
    let users = json!([
        {"id": "1", "userPrincipalName": "a@contoso.com"},
        {"id": "2", "userPrincipalName": "b@contoso.com"}
    ]);
    let w = World::builder(json!({ "users": users }))
        .emulator(pinned(Options {
            latency_ms: 400,
            ..Options::default()
        }))
        .batch(false)
        .build()
        .await;
    w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0100\nb@contoso.com,mobile,425-555-0100\n",
    );
    let path = w.dir.path().to_path_buf();
    // The same tenant from another folder, its id written in capitals.
    let other = path.join("other");
    std::fs::create_dir(&other).unwrap();
    let config = std::fs::read_to_string(path.join("config.toml")).unwrap();
    assert!(config.contains("tenant_id = \"contoso\""), "{config}");
    std::fs::write(
        other.join("config.toml"),
        config.replace("tenant_id = \"contoso\"", "tenant_id = \"CONTOSO\""),
    )
    .unwrap();
    std::fs::copy(path.join("in.csv"), other.join("in.csv")).unwrap();
    let locks = w.lock_dir();
    let apply = move |path: &Path| {
        Command::new(env!("CARGO_BIN_EXE_phonesync"))
            .current_dir(path)
            .args(["apply", "in.csv", "--quiet"])
            .env("AZURE_CLIENT_SECRET", SECRET)
            .env(phonesync::lock::LOCK_DIR_VAR, &locks)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let lock_dir = w.lock_dir();
    let other_reports = other.join("reports");
    let lock_file = move |_: &Path| {
        std::fs::read_dir(&lock_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "lock"))
    };
    let (second, first_pid, first, third) = tokio::task::spawn_blocking(move || {
        let first = apply(&path);
        // Wait until the first run holds its lock (it takes it before reading the file).
        let mut waited = 0;
        let lock = loop {
            if let Some(lock) = lock_file(&path) {
                break lock;
            }
            assert!(waited < 3000, "the first run never took its lock");
            std::thread::sleep(std::time::Duration::from_millis(10));
            waited += 1;
        };
        let second = apply(&other).wait_with_output().unwrap();
        let first_pid = first.id();
        let first = first.wait_with_output().unwrap();
        assert_eq!(std::fs::read_to_string(&lock).unwrap(), "", "released when the run ends");
        // As a killed run leaves it: free, but naming the process that held it.
        std::fs::write(&lock, format!("{first_pid}\n")).unwrap();
        let third = apply(&path).wait_with_output().unwrap();
        assert_eq!(std::fs::read_to_string(&lock).unwrap(), "", "the taken-over lock is released too");
        (second, first_pid, first, third)
    })
    .await
    .unwrap();
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    assert!(
        text(&second).contains(&format!("process {first_pid}, started 20")),
        "{}",
        text(&second)
    );
    assert!(text(&second).contains("config.toml"), "{}", text(&second));
    assert!(!other_reports.exists(), "refused before its report folder was made");
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(third.status.code(), Some(0), "{}", text(&third));
    assert!(
        text(&third).contains("is taken over") && text(&third).contains(&format!("process {first_pid}")),
        "{}",
        text(&third)
    );
    w.emulator.stop().await;
}
