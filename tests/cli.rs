//! The binary as a user runs it: exit codes, the embedded emulator's persisted state, console
//! output free of phone numbers and secrets, and owner-only report files.

use std::path::Path;
use std::process::{Command, Output};

fn phonesync(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phonesync"))
        .current_dir(dir)
        .args(args)
        .env_remove("AZURE_CLIENT_SECRET")
        .output()
        .expect("binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// An emulator holding `users` (seed JSON) whose every call takes `latency_ms`, signing in
/// app "app" with `secret`, and a folder whose config.toml points at it (`rate` lines under
/// `[rate]`). Keep the emulator alive as long as the folder is used.
async fn slow_emulator(
    users: serde_json::Value,
    latency_ms: u64,
    secret: &str,
    rate: &str,
) -> (phonesync_emulator::Emulator, tempfile::TempDir) {
    use phonesync_emulator::{Emulator, Options};
    let seed = serde_json::from_value(serde_json::json!({ "users": users })).unwrap();
    let options = Options {
        client_id: Some("app".into()),
        client_secret: Some(secret.into()),
        latency_ms,
        ..Options::default()
    };
    let emu = Emulator::start("127.0.0.1:0".parse().unwrap(), &seed, options).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = emu.url();
    let config =
        format!("endpoint = \"{url}\"\n[auth]\ntenant_id = \"t\"\nclient_id = \"app\"\nauthority_host = \"{url}\"\n[rate]\n{rate}");
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    (emu, dir)
}

fn embedded_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    std::fs::create_dir(dir.path().join("samples")).unwrap();
    for f in ["tenant.json", "hr_phones.csv"] {
        std::fs::copy(samples.join(f), dir.path().join("samples").join(f)).unwrap();
    }
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml"),
        dir.path().join("config.toml"),
    )
    .unwrap();
    dir
}

#[test]
fn the_readme_run_command_converges_on_the_embedded_emulator() {
    let dir = embedded_project();
    let first = phonesync(dir.path(), &["apply", "samples/hr_phones.csv"]);
    let out = text(&first);
    assert_eq!(first.status.code(), Some(1), "{out}");
    assert!(
        out.contains("embedded Graph emulator") && out.contains("not a Microsoft tenant"),
        "banner says it is the emulator: {out}"
    );
    // One HR file drives both targets: sign-in phones (a type change for sam and taylor) and
    // profile phones (alex's business phone becomes mobile in place, kim's gets a new name).
    assert!(out.contains("Plan (sign-in phone methods): 3 add, 2 update, 2 delete"), "{out}");
    assert!(out.contains("Plan (profile phones): 5 add, 2 update for 5 users"), "{out}");
    assert!(out.contains("1 left as they are because of rejected rows"), "riley: {out}");
    assert!(out.contains("Reports: "), "{out}");
    // No phone number appears on the console in full.
    for digits in ["2065550199", "4255550123", "2065550111", "4255550100"] {
        assert!(!out.replace(' ', "").contains(digits), "console shows {digits}: {out}");
    }

    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".phonesync/emulator-state.json")).unwrap()).unwrap();
    let alex = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userPrincipalName"] == "alex@contoso.com")
        .unwrap();
    assert_eq!(alex["phoneMethods"][0]["phoneNumber"], "+1 2065550199");
    assert_eq!(alex["profilePhones"][0]["type"], "mobile", "updated in place: {alex}");
    assert_eq!(alex["profilePhones"].as_array().map(Vec::len), Some(1), "{alex}");

    let second = phonesync(dir.path(), &["apply", "samples/hr_phones.csv"]);
    assert!(
        text(&second).contains("Plan (sign-in phone methods): nothing to change; 5 users already in line; 1 left as they are")
            && text(&second).contains("Plan (profile phones): nothing to change; 6 users already in line; 1 left as they are"),
        "{}",
        text(&second)
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let reports: Vec<_> = std::fs::read_dir(dir.path().join("reports"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(reports.len(), 2, "one folder per run");
        let state = std::fs::metadata(dir.path().join(".phonesync/emulator-state.json")).unwrap();
        assert_eq!(state.permissions().mode() & 0o777, 0o600, "the emulator's state is owner-only");
        for run in reports {
            assert_eq!(std::fs::metadata(&run).unwrap().permissions().mode() & 0o777, 0o700);
            for f in ["plan.md", "outcomes.csv", "rejects.csv", "summary.json"] {
                let mode = std::fs::metadata(run.join(f)).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{f} is owner-only");
            }
        }
    }
}

/// The sample migration in both targets, then its rollback as the file says to run it: every
/// user's phone methods and profile phones (types, numbers, display names) as in the sample
/// tenant again.
#[test]
fn the_sample_migration_rolls_back_to_the_sample_tenant_in_both_targets() {
    let dir = embedded_project();
    let phones = |tenant: &serde_json::Value| {
        let mut users: Vec<(String, Vec<String>)> = tenant["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                let mut phones: Vec<String> = u["phoneMethods"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| format!("method {} {}", p["phoneType"], p["phoneNumber"]))
                    .chain(
                        u["profilePhones"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|p| format!("profile {} {} {}", p["type"], p["number"], p["displayName"])),
                    )
                    .collect();
                phones.sort();
                (u["userPrincipalName"].as_str().unwrap().to_string(), phones)
            })
            .collect();
        users.sort();
        users
    };
    let read = |path: &Path| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap() };
    let seed = phones(&read(&dir.path().join("samples/tenant.json")));
    let run = phonesync(dir.path(), &["apply", "samples/hr_phones.csv", "--report-dir", "migration"]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let state = dir.path().join(".phonesync/emulator-state.json");
    assert_ne!(phones(&read(&state)), seed, "the migration changed phones");
    let out = text(&run);
    assert!(out.contains("Prior state of the 5 users this run changes"), "{out}");
    let csv = std::fs::read_to_string(dir.path().join("migration/rollback.csv")).unwrap();
    assert!(
        csv.starts_with("user,auth mobile,auth alternateMobile,auth office,profile mobile,profile business,displayName\n"),
        "{csv}"
    );

    let rollback = phonesync(
        dir.path(),
        &[
            "apply",
            "migration/rollback.csv",
            "--config",
            "migration/rollback.toml",
            "--report-dir",
            "rollback",
        ],
    );
    assert_eq!(rollback.status.code(), Some(0), "{}", text(&rollback));
    assert_eq!(phones(&read(&state)), seed, "every user as in the sample tenant");
}

#[test]
fn fatal_problems_exit_2_with_one_clear_message() {
    let dir = embedded_project();
    let cases: [(&str, &[&str], &str); 4] = [
        ("[rate]\nconcurrency = 0\n", &["apply", "samples/hr_phones.csv"], "rate.concurrency"),
        (
            "endpoint = \"http://graph.example.com\"\n",
            &["plan", "samples/hr_phones.csv"],
            "plain HTTP",
        ),
        (
            "endpoint = \"https://graph.microsoft.com\"\n",
            &["plan", "samples/hr_phones.csv"],
            "AZURE_CLIENT_SECRET",
        ),
        ("", &["apply", "samples/missing.csv"], "cannot open input file samples/missing.csv"),
    ];
    for (config, args, expect) in cases {
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let out = phonesync(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{config}: {stderr}");
        assert!(stderr.starts_with("Error: ") && stderr.contains(expect), "{config}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one message: {stderr}");
    }
    let out = phonesync(dir.path(), &["apply", "samples/hr_phones.csv", "--config", "nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file nope.toml"));
    let out = phonesync(dir.path(), &["apply"]);
    assert_eq!(out.status.code(), Some(2), "usage errors are fatal too");
}

#[test]
fn help_documents_the_exit_codes() {
    let out = phonesync(Path::new("."), &["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Exit codes:") && help.contains("2  fatal"), "{help}");
    let out = phonesync(Path::new("."), &["emulator", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--seed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_appears_in_any_output_of_a_run() {
    use phonesync_emulator::{Emulator, Fault, Options};
    let secret = "s3cr3t-Value-0f-The-App-91f2";
    let seed = serde_json::from_value(serde_json::json!({"users": [
        {"id": "1", "userPrincipalName": "a@contoso.com"},
        {"id": "2", "userPrincipalName": "b@contoso.com", "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 4255550100"}]}
    ]}))
    .unwrap();
    let options = Options {
        client_id: Some("app".into()),
        client_secret: Some(secret.into()),
        ..Options::default()
    };
    let emu = Emulator::start("127.0.0.1:0".parse().unwrap(), &seed, options).await.unwrap();
    // Failures and retries put error paths in the logs too.
    // The 401 is aimed at a's read: with calls filled as work is ready, the two reads may travel
    // in one `$batch` or two, in either order, and b's type change must reach its 403 DELETE.
    emu.inject([
        Fault::status(401).only("GET").path("a@contoso.com"),
        Fault::status(503).only("POST"),
        Fault::status(403).only("DELETE"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let url = emu.url();
    std::fs::write(dir.path().join("config.toml"), format!("endpoint = \"{url}\"\n[auth]\ntenant_id = \"t\"\nclient_id = \"app\"\nauthority_host = \"{url}\"\n[rate]\nmax_backoff_seconds = 0.1\n")).unwrap();
    std::fs::write(
        dir.path().join("in.csv"),
        "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0100\nb@contoso.com,mobile,425-555-0100\n",
    )
    .unwrap();
    let path = dir.path().to_path_buf();
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
    for entry in walk(dir.path()) {
        everything.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    assert!(
        everything.contains("Authorization_RequestDenied"),
        "the run's failures are in its outputs"
    );
    assert!(!everything.contains(secret), "the client secret leaked");
    let tokens = emu.issued_tokens();
    assert!(!tokens.is_empty());
    for token in tokens {
        assert!(!everything.contains(&token), "an access token leaked");
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path))
        } else {
            files.push(path)
        }
    }
    files
}

/// Issue 7, process hygiene: a closed or full stdout/stderr never panics; the reports are still
/// written and the exit code says what happened.
#[test]
fn regression_a_closed_or_full_console_never_panics() {
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
fn regression_secrets_and_rows_are_not_echoed() {
    let dir = embedded_project();
    let config = std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        config.replace("[auth]", "[auth]\nclient_secret = \"Zx9-hunter2-Qq\""),
    )
    .unwrap();
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

/// SIGTERM stops the run gracefully with exit 143, reports written.
#[test]
fn regression_sigterm_exits_143_with_reports() {
    let dir = embedded_project();
    // A tenant big enough that the run is still going when the signal comes.
    let seed = dir.path().join("big.json");
    let csv = dir.path().join("big.csv");
    let generated = Command::new(env!("CARGO_BIN_EXE_phonesync"))
        .args([
            "emulator",
            "--generate-users",
            "3000",
            "--change-fraction",
            "0.5",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--write-seed")
        .arg(&seed)
        .arg("--write-csv")
        .arg(&csv)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The generator writes its files, then serves: wait for the files, then stop it.
    let mut generated = generated;
    for _ in 0..600 {
        if seed.exists() && std::fs::metadata(&seed).map(|m| m.len() > 0).unwrap_or(false) && csv.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = generated.kill();
    let _ = generated.wait();
    let config = std::fs::read_to_string(dir.path().join("config.toml"))
        .unwrap()
        .replace("seed = \"samples/tenant.json\"", "seed = \"big.json\"")
        .replace("requests_per_second = 20", "requests_per_second = 200");
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_phonesync"))
        .current_dir(dir.path())
        .args(["apply", "big.csv", "--report-dir", "r"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the run has started reading, then SIGTERM.
    for _ in 0..600 {
        if dir.path().join("r/rejects.csv").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status:?}");
    for f in ["plan.md", "summary.json"] {
        assert!(dir.path().join("r").join(f).exists(), "{f}");
    }
    let plan_md = std::fs::read_to_string(dir.path().join("r/plan.md")).unwrap();
    let outcomes = std::fs::read_to_string(dir.path().join("r/outcomes.csv")).unwrap_or_default();
    assert!(
        plan_md.contains("interrupted") || outcomes.contains("not_started"),
        "what the signal stopped is reported as such"
    );
    assert!(
        dir.path().join(".phonesync/emulator-state.json").exists(),
        "the emulator's state was saved"
    );
}

#[test]
fn validate_checks_a_file_with_no_network_and_says_by_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    // No config file here: the defaults apply (long format, sign-in phone types, US).
    let o = phonesync(dir.path(), &["validate", samples.join("hr_phones.csv").to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("13 rows, 9 users, 2 refused (read as utf-8, columns separated by ,)"),
        "{out}"
    );
    assert!(out.contains("refused: line 8, phoneNumber: '***-01'"), "the value masked: {out}");
    assert!(out.contains("refused: line 9, phoneType: unknown phoneType 'pager'"), "{out}");
    assert!(out.contains("conflict: casey@contoso.com: lines 11 and 12"), "{out}");
    assert!(
        out.contains("kim@contoso.com: mobile +1 ") && !out.contains("2065555555"),
        "masked: {out}"
    );
    assert!(
        !dir.path().join("reports").exists() && !dir.path().join(".phonesync").exists(),
        "no run"
    );
    let o = phonesync(
        dir.path(),
        &["validate", "--unmask", samples.join("hr_phones.csv").to_str().unwrap()],
    );
    assert!(text(&o).contains("kim@contoso.com: mobile +1 2065555555"), "{}", text(&o));
    // The wide sample with its own config.
    let wide = samples.join("wide");
    let (config, file) = (wide.join("config.toml"), wide.join("hr_wide.csv"));
    let args = ["validate", "-c", config.to_str().unwrap(), file.to_str().unwrap()];
    let out = text(&phonesync(dir.path(), &args));
    assert!(
        out.contains("6 rows, 6 users, 1 refused") && out.contains("line 7, Mobile Phone"),
        "{out}"
    );
    // Every row usable: 0. Not a CSV at all: 2, naming what it is.
    std::fs::write(dir.path().join("ok.csv"), "user,phoneType,phoneNumber\nk@x.com,mobile,2065550100\n").unwrap();
    assert_eq!(phonesync(dir.path(), &["validate", "ok.csv"]).status.code(), Some(0));
    std::fs::write(dir.path().join("book.csv"), b"PK\x03\x04 k@x.com 2065550100").unwrap();
    let o = phonesync(dir.path(), &["validate", "book.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("ZIP") && !text(&o).contains("2065550100"), "{}", text(&o));
}

/// Two real processes: while one `apply` runs against a tenant, a second one exits 2 naming the
/// first's process; a lock left by a process that is gone is taken over with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_apply_against_the_same_tenant_stops_naming_the_first() {
    // Every call takes 400 ms: the first run is still going when the second starts.
    let users = serde_json::json!([
        {"id": "1", "userPrincipalName": "a@contoso.com"},
        {"id": "2", "userPrincipalName": "b@contoso.com"}
    ]);
    let (emu, dir) = slow_emulator(users, 400, "lock-secret", "batch = false\n").await;
    std::fs::write(
        dir.path().join("in.csv"),
        "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0100\nb@contoso.com,mobile,425-555-0100\n",
    )
    .unwrap();
    let path = dir.path().to_path_buf();
    let apply = move |path: &Path| {
        Command::new(env!("CARGO_BIN_EXE_phonesync"))
            .current_dir(path)
            .args(["apply", "in.csv", "--quiet"])
            .env("AZURE_CLIENT_SECRET", "lock-secret")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let lock_file = |path: &Path| {
        std::fs::read_dir(path.join("reports"))
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
        let second = apply(&path).wait_with_output().unwrap();
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
    assert!(text(&second).contains(&format!("process {first_pid}")), "{}", text(&second));
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(third.status.code(), Some(0), "{}", text(&third));
    assert!(
        text(&third).contains("is taken over") && text(&third).contains(&format!("process {first_pid}")),
        "{}",
        text(&third)
    );
    emu.stop().await;
}

/// A fatal error exits 2, but 1 for `plan --detailed-exitcode`, where 2 means "changes present".
#[test]
fn a_fatal_error_of_a_plan_with_detailed_exit_codes_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "").unwrap();
    let plain = phonesync(dir.path(), &["plan", "missing.csv"]);
    assert_eq!(plain.status.code(), Some(2), "{}", text(&plain));
    let detailed = phonesync(dir.path(), &["plan", "missing.csv", "--detailed-exitcode"]);
    assert_eq!(detailed.status.code(), Some(1), "{}", text(&detailed));
    assert!(text(&detailed).contains("missing.csv"), "{}", text(&detailed));
}

/// `--log-format json` for schedulers: every line on stderr is a JSON object a log shipper can
/// parse; with stderr not a terminal, progress comes as log lines with done, remaining, rate,
/// throttled and ETA; no number appears in full; a fatal error is a JSON line too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_carry_messages_progress_and_errors() {
    let users: Vec<serde_json::Value> = (0..4)
        .map(|i| serde_json::json!({"id": format!("{i}"), "userPrincipalName": format!("u{i}@contoso.com")}))
        .collect();
    // Every call takes 250 ms, one at a time: each phase lasts long enough to report progress.
    let (_emu, dir) = slow_emulator(serde_json::json!(users), 250, "log-secret", "batch = false\nconcurrency = 1\n").await;
    let rows: String = (0..4).map(|i| format!("u{i}@contoso.com,mobile,206-555-010{i}\n")).collect();
    std::fs::write(dir.path().join("in.csv"), format!("user,phoneType,phoneNumber\n{rows}")).unwrap();
    let path = dir.path().to_path_buf();
    let run = move |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_phonesync"))
            .current_dir(&path)
            .args(args)
            .env("AZURE_CLIENT_SECRET", "log-secret")
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
