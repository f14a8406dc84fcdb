//! Exit codes, as `--help` documents them: 0 done, 1 done with problems, 2 fatal (one clear
//! message, before any work), `plan --detailed-exitcode` as Terraform's, and 143 after SIGTERM
//! with the reports written.

use crate::world::{World, edit_toml, embedded_project, phonesync, text, toml_table};
use serde_json::json;
use std::path::Path;
use std::process::{Command, ExitCode};

#[test]
fn help_documents_the_exit_codes() {
    let out = phonesync(Path::new("."), &["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    // What the tool does, every target named, not only sign-in phones.
    assert!(help.contains("sign-in phone methods") && help.contains("profile phones"), "{help}");
    for code in [
        "0    every op",
        "1    the run finished",
        "2    fatal",
        "3    Graph became unreachable",
        "130  stopped",
        "--detailed-exitcode: 0 no changes, 2 changes",
    ] {
        assert!(help.contains(code), "{code}: {help}");
    }
    let out = phonesync(Path::new("."), &["emulator", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--seed"));
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

/// `plan --detailed-exitcode`, as Terraform's: 2 when there are changes, 0 when there are none;
/// a refused row is a finding, not a failure (1 only with `--fail-on-findings`); `apply` does
/// not take it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_detailed_exitcode_tells_changes_from_none_from_problems() {
    let seed = json!({"users": [{"id": "id1", "userPrincipalName": "a@contoso.com"}]});
    let w = World::new(seed).await;
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0100\n");
    let (code, _) = w.run_with_args("plan", &csv, "p1", &["--detailed-exitcode"]).await;
    assert_eq!(code.unwrap(), ExitCode::from(2), "changes present");
    let (code, _) = w.run("plan", &csv, "p2").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS, "without the flag, changes are a success");
    let (code, _) = w.run("apply", &csv, "a").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    let (code, _) = w.run_with_args("plan", &csv, "p3", &["--detailed-exitcode"]).await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS, "nothing to change");
    let bad = w.csv(
        "bad.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0199\na@contoso.com,office,12345\n",
    );
    let (code, _) = w.run_with_args("plan", &bad, "p4", &["--detailed-exitcode"]).await;
    assert_eq!(code.unwrap(), ExitCode::from(2), "a refused row does not hide the changes");
    let (code, _) = w
        .run_with_args("plan", &bad, "p5", &["--detailed-exitcode", "--fail-on-findings"])
        .await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "unless findings fail the step");
    let (code, _) = w.run("plan", &bad, "p6").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "without the flag, a refused row needs a look");
    let (code, _) = w.run_with_args("apply", &csv, "a2", &["--detailed-exitcode"]).await;
    assert!(format!("{:#}", code.unwrap_err()).contains("for `phonesync plan`"));
}

/// Graph unreachable (the token service answers, Graph does not): the run stops before any
/// work with an error (exit 2), instead of reporting every user as read_failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_unreachable_before_any_work_is_fatal() {
    let mut w = World::new(json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com"}]})).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    // Graph at a closed port; the token service is still the emulator's.
    w.configure(|c| c.endpoint = format!("http://127.0.0.1:{port}"));
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0100\n");
    let (result, dir) = w.run("apply", &csv, "r").await;
    let message = format!("{:#}", result.unwrap_err());
    assert!(message.contains("answered none of the reads"), "{message}");
    assert!(!dir.join("outcomes.csv").exists(), "no work was started");
}

/// SIGTERM stops the run gracefully with exit 143, reports written.
#[test]
fn sigterm_stops_the_run_with_exit_143_and_its_reports() {
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
    // The embedded emulator starts from the generated tenant; 200 requests a second keep the
    // run going long enough for the signal to find it at work.
    edit_toml(&dir.path().join("config.toml"), |config| {
        toml_table(config, "emulator").insert("seed".into(), "big.json".into());
        toml_table(config, "rate").insert("requests_per_second".into(), 200.into());
    });
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

/// A plan whose only ops are blocked (deletes of the default sign-in method) has no changes:
/// the console says they are blocked, not planned; plan and apply agree on exit 1 (a finding
/// that needs a look); `--detailed-exitcode` says "no changes" unless findings fail the step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_ops_are_findings_not_changes_in_plan_and_apply_alike() {
    let seed = json!({"users": [
        {"id": "id1", "userPrincipalName": "a@contoso.com", "defaultMethod": "mobile",
         "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550100"}]},
        {"id": "id2", "userPrincipalName": "b@contoso.com", "defaultMethod": "mobile",
         "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550101"}]}]});
    let w = World::builder(seed).prune(true).build().await;
    // Each user named with an office phone only: their default mobile would be pruned.
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\na@contoso.com,office,+1 4255550100\nb@contoso.com,office,+1 4255550101\n",
    );
    let (code, dir, said) = w.run_and_read("plan", &csv, "plan").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "{said}");
    assert!(
        said.contains("2 add for 2 users") && said.contains("2 ops blocked (see plan.md)") && !said.contains("delete"),
        "{said}"
    );
    assert_eq!(crate::world::summary(&dir)["ops"]["planned"]["delete"], json!(2));
    let only_blocked = w.csv("blocked.csv", "user,phoneType,phoneNumber\na@contoso.com,office,+1 4255550100\n");
    let (code, _) = w.run("apply", &csv, "apply").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "apply agrees with plan");
    let (code, _, said) = w.run_and_read("plan", &only_blocked, "again").await;
    assert!(said.contains("nothing to change") && said.contains("1 op blocked"), "{said}");
    assert_eq!(code.unwrap(), ExitCode::from(1));
    let (code, _) = w.run_with_args("plan", &only_blocked, "detailed", &["--detailed-exitcode"]).await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS, "blocked ops are no changes");
    let (code, _) = w
        .run_with_args("plan", &only_blocked, "strict", &["--detailed-exitcode", "--fail-on-findings"])
        .await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
}

/// A run that fails fatally before any work (sign-in not configured) leaves no report folder
/// behind, though it had written its refused rows there: the same `--report-dir` works on the
/// rerun. A run that did its work keeps its folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_error_before_any_work_leaves_no_report_folder_to_refuse_the_rerun() {
    let w = World::new(json!({"users": [{"id": "1", "userPrincipalName": "kim@contoso.com"}]})).await;
    let csv = w.csv(
        "hr.csv",
        "user,phoneType,phoneNumber\nkim@contoso.com,mobile,+1 2065550100\nkim@contoso.com,pager,123\n",
    );
    let mut unsigned = w.env();
    unsigned.set("AZURE_CLIENT_SECRET", "");
    let (code, dir) = w.run_env("apply", &csv, "r", unsigned).await;
    let e = format!("{:#}", code.unwrap_err());
    assert!(e.contains("AZURE_CLIENT_SECRET"), "{e}");
    assert!(!dir.exists(), "{} was left behind", dir.display());
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "one row refused");
    assert!(dir.join("rejects.csv").exists() && dir.join("summary.json").exists());
}
