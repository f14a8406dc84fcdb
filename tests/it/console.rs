//! What a run prints and leaves behind: no secret, token or full phone number in any output or
//! file, the emulator named as such even with `--quiet`, JSON log lines for schedulers, and a
//! closed or full console that never makes a run panic.

use crate::world::{CLIENT_ID, SECRET, World, assert_journal_safe, edit_toml, embedded_project, phonesync, pinned, text, toml_table, walk};
use phonesync_emulator::{Fault, Options};
use serde_json::json;
use std::process::Command;

/// `--quiet` never hides that the target is the emulator, not a tenant.
#[test]
fn quiet_still_says_it_is_the_emulator() {
    let dir = embedded_project();
    let out = phonesync(dir.path(), &["plan", "samples/hr_phones.csv", "--quiet"]);
    assert!(text(&out).contains("not a Microsoft tenant"), "{}", text(&out));
}

/// A secret put in config.toml by mistake is refused without echoing it, and a file without a
/// header line does not print its first row (a phone number) to the console.
#[test]
fn secrets_and_rows_are_not_echoed() {
    let dir = embedded_project();
    let bad = dir.path().join("bad.toml");
    std::fs::copy(dir.path().join("config.toml"), &bad).unwrap();
    edit_toml(&bad, |config| {
        toml_table(config, "auth").insert("client_secret".into(), "Zx9-hunter2-Qq".into());
    });
    let out = phonesync(dir.path(), &["plan", "samples/hr_phones.csv", "--config", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(t.contains("auth.client_secret") && !t.contains("hunter2"), "{t}");

    std::fs::write(dir.path().join("noheader.csv"), "kim@contoso.com,mobile,+1 206 555 0177\n").unwrap();
    let out = phonesync(dir.path(), &["plan", "noheader.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(t.contains("header"), "{t}");
    assert!(!t.contains("0177") && !t.contains("kim@contoso.com"), "the row is not echoed: {t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_appears_in_any_output_of_a_run() {
    let secret = "s3cr3t-Value-0f-The-App-91f2";
    let seed = json!({"users": [
        {"id": "1", "userPrincipalName": "a@contoso.com"},
        {"id": "2", "userPrincipalName": "b@contoso.com", "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 4255550100"}]}
    ]});
    let options = Options {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(secret.into()),
        ..Options::default()
    };
    let w = World::builder(seed)
        .emulator(options)
        .rate(|r| r.max_backoff_seconds = 0.1)
        .build()
        .await;
    // Failures and retries put error paths in the logs too.
    // The 401 is aimed at a's read: with calls filled as work is ready, the two reads may travel
    // in one `$batch` or two, in either order, and b's type change must reach its 403 DELETE.
    w.emulator.inject([
        Fault::status(401).only("GET").path("a@contoso.com"),
        Fault::status(503).only("POST"),
        Fault::status(403).only("DELETE"),
    ]);
    w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0100\nb@contoso.com,mobile,425-555-0100\n",
    );
    let path = w.dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_phonesync"))
            .current_dir(&path)
            .args(["apply", "in.csv"])
            .env("AZURE_CLIENT_SECRET", secret)
            .env("PHONESYNC_LOG", "trace")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let mut everything = text(&out);
    assert_eq!(out.status.code(), Some(1), "{everything}");
    for entry in walk(w.dir.path()) {
        everything.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    assert!(
        everything.contains("Authorization_RequestDenied"),
        "the run's failures are in its outputs"
    );
    assert_journal_safe(&w, None);
    assert!(!everything.contains(secret), "the client secret leaked");
    let tokens = w.emulator.issued_tokens();
    assert!(!tokens.is_empty());
    for token in tokens {
        assert!(!everything.contains(&token), "an access token leaked");
    }
}

/// A closed or full stdout/stderr never panics; the reports are still written and the exit code
/// says what happened.
#[test]
fn a_closed_or_full_console_never_panics() {
    let dir = embedded_project();
    // stdout to /dev/full, stderr closed.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_phonesync"))
        .current_dir(dir.path())
        .args(["apply", "samples/hr_phones.csv", "--report-dir", "r1"])
        .stdout(full)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "the sample's exit code, not a panic's 101");
    assert!(dir.path().join("r1/summary.json").exists() && dir.path().join("r1/outcomes.csv").exists());
    // A pipe whose reader has gone (`| head -0`).
    let mut child = Command::new(env!("CARGO_BIN_EXE_phonesync"))
        .current_dir(dir.path())
        .args(["plan", "samples/hr_phones.csv", "--report-dir", "r2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}");
    assert!(dir.path().join("r2/plan.md").exists());
}

/// `--log-format json` for schedulers: every line on stderr is a JSON object a log shipper can
/// parse; with stderr not a terminal, progress comes as log lines with done, remaining, rate,
/// throttled and ETA; no number appears in full; a fatal error is a JSON line too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_carry_messages_progress_and_errors() {
    let users: Vec<serde_json::Value> = (0..4)
        .map(|i| json!({"id": format!("{i}"), "userPrincipalName": format!("u{i}@contoso.com")}))
        .collect();
    // Every call takes 250 ms, one at a time: each phase lasts long enough to report progress.
    let w = World::builder(json!({ "users": users }))
        .emulator(pinned(Options {
            latency_ms: 250,
            ..Options::default()
        }))
        .concurrency(1)
        .batch(false)
        .build()
        .await;
    let rows: String = (0..4).map(|i| format!("u{i}@contoso.com,mobile,206-555-010{i}\n")).collect();
    w.csv("in.csv", &format!("user,phoneType,phoneNumber\n{rows}"));
    let path = w.dir.path().to_path_buf();
    let run = move |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_phonesync"))
            .current_dir(&path)
            .args(args)
            .env("AZURE_CLIENT_SECRET", SECRET)
            .env("PHONESYNC_PROGRESS_SECONDS", "0.2")
            .output()
            .unwrap()
    };
    let (out, failed) = tokio::task::spawn_blocking(move || {
        (
            run(&["apply", "in.csv", "--log-format", "json"]),
            run(&["apply", "missing.csv", "--log-format", "json"]),
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["fields"]["message"].as_str()).collect();
    assert!(messages.iter().any(|m| m.starts_with("Read 4 rows from in.csv")), "{messages:?}");
    let progress: Vec<&serde_json::Value> = lines.iter().filter(|l| l["fields"]["message"] == "progress").collect();
    for phase in ["read", "apply"] {
        // The time left is known once a step is done.
        let line = progress
            .iter()
            .find(|l| l["fields"]["phase"] == phase && l["fields"]["done"].as_u64() > Some(0))
            .unwrap_or_else(|| panic!("no {phase} progress: {stderr}"));
        let f = &line["fields"];
        assert_eq!(line["level"], "INFO");
        assert!(
            f["done"].as_u64().unwrap() + f["remaining"].as_u64().unwrap() == 4
                && f["rate"].as_f64().is_some()
                && f["throttled"].as_u64() == Some(0)
                && f["eta_seconds"].as_u64().is_some(),
            "{line}"
        );
    }
    assert!(
        !stderr.contains("5550100") && !stderr.contains("555-0100"),
        "no number in full: {stderr}"
    );

    assert_eq!(failed.status.code(), Some(2));
    let error: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&failed.stderr).trim()).unwrap();
    assert_eq!(error["level"], "ERROR");
    assert!(error["fields"]["message"].as_str().unwrap().contains("missing.csv"), "{error}");
}
