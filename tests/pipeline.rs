//! End-to-end runs of the whole pipeline against the emulator over real HTTP. Each test asserts
//! the emulator's final state, the reports, and the exit code.

mod common;

use common::{World, assert_journal_invariants, csv_rows, pairs, summary};
use phonesync_emulator::Fault;
use serde_json::json;
use std::process::ExitCode;

fn sample(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples").join(name)
}

fn sample_seed() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(sample("tenant.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_file_converges_and_a_second_run_changes_nothing() {
    let w = World::new(sample_seed()).await;
    let (code, first) = w.run("apply", &sample("hr_phones.csv"), "first").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "skipped users and rejected rows make exit 1");

    // add: kim gets an office phone; her mobile is untouched.
    assert_eq!(
        w.phones("kim@contoso.com"),
        pairs(&[("mobile", "+1 2065555555"), ("office", "+1 4255550100")])
    );
    // update
    assert_eq!(w.phones("alex@contoso.com"), pairs(&[("mobile", "+1 2065550199")]));
    // type change office -> mobile: add then delete
    assert_eq!(w.phones("sam@contoso.com"), pairs(&[("mobile", "+1 4255550123")]));
    // promote the alternate, addressed by object id
    assert_eq!(w.phones("taylor@contoso.com"), pairs(&[("mobile", "+1 2065550111")]));
    // infeasible, conflicting and all-rejected users are untouched
    assert_eq!(w.phones("jordan@contoso.com"), vec![]);
    assert_eq!(w.phones("casey@contoso.com"), vec![]);
    assert_eq!(w.phones("riley@contoso.com"), pairs(&[("mobile", "+1 2065550120")]));
    // an extension
    assert_eq!(
        w.phones("morgan@contoso.com"),
        pairs(&[("mobile", "+44 7911123456"), ("office", "+1 2065550150x12")])
    );

    let outcomes = csv_rows(&first.join("outcomes.csv"));
    let ops: Vec<(String, String, String, String)> = outcomes
        .iter()
        .map(|r| (r["user"].clone(), r["op"].clone(), r["phoneType"].clone(), r["status"].clone()))
        .collect();
    let expect = |u: &str, op: &str, t: &str, s: &str| (u.to_string(), op.to_string(), t.to_string(), s.to_string());
    assert!(ops.contains(&expect("sam@contoso.com", "add", "mobile", "succeeded")));
    assert!(ops.contains(&expect("sam@contoso.com", "delete", "office", "succeeded")));
    assert!(ops.contains(&expect("ghost@contoso.com", "none", "", "not_found")));
    assert!(ops.contains(&expect("jordan@contoso.com", "none", "", "infeasible")));
    assert!(ops.contains(&expect("casey@contoso.com", "none", "", "conflict")));
    let sam_add = outcomes
        .iter()
        .find(|r| r["user"] == "sam@contoso.com" && r["op"] == "add")
        .unwrap();
    assert_eq!(sam_add["httpStatus"], "201");
    assert!(!sam_add["requestId"].is_empty() && !sam_add["clientRequestId"].is_empty());
    assert_eq!(sam_add["attempts"], "1");

    let rejects = csv_rows(&first.join("rejects.csv"));
    let lines: Vec<&str> = rejects.iter().map(|r| r["line"].as_str()).collect();
    assert_eq!(lines, vec!["8", "9"]);
    assert!(rejects[1]["reason"].contains("pager"));
    // The refused number is masked, also where the reason quotes it (`--unmask` shows it).
    assert_eq!(rejects[0]["phoneNumber"], "***-01");
    assert!(
        rejects[0]["reason"].starts_with("'***-01' is not a valid number"),
        "{:?}",
        rejects[0]
    );
    assert_eq!(rejects[0]["column"], "phoneNumber");

    let s = summary(&first);
    assert_eq!(s["ops"]["planned"], json!({"add": 3, "update": 2, "delete": 2}));
    assert_eq!(s["ops"]["byStatus"]["succeeded"], 7);
    assert_eq!(
        s["targets"]["auth"]["users"]["skipped"],
        json!({"conflict": 1, "infeasible": 1, "not_found": 1})
    );
    assert_eq!(s["rows"], json!({"read": 13, "rejected": 2, "noted": 0}));
    let plan_md = std::fs::read_to_string(first.join("plan.md")).unwrap();
    assert!(plan_md.contains("number moves to mobile"), "{plan_md}");

    // The journal: within each user, no delete ran before the write it depends on.
    let journal = w.calls();
    let sam_ops: Vec<&str> = journal
        .iter()
        .filter(|e| e.path.contains("sam%40contoso.com") || e.path.contains("sam@contoso.com"))
        .map(|e| e.method.as_str())
        .collect();
    // The sample names users by UPN and by object id, so keys are resolved first; sam's plan
    // deletes a phone, so his default sign-in method is read; then the add, then the delete.
    assert_eq!(sam_ops, vec!["GET", "GET", "GET", "POST", "DELETE"]);

    // Second run: nothing left to do, and no write is sent.
    let before = w.calls().len();
    let (code, second) = w.run("apply", &sample("hr_phones.csv"), "second").await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    assert_eq!(summary(&second)["ops"]["planned"], json!({"add": 0, "update": 0, "delete": 0}));
    assert_journal_invariants(&w.emulator.changes());
    assert!(w.calls()[before..].iter().all(|e| e.method == "GET"), "second run only reads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_run_exits_zero_and_a_plan_writes_nothing() {
    let w = World::new(json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com", "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 4255550100"}]}]})).await;
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,mobile,425-555-0100\n");
    let (code, plan_dir) = w.run("plan", &csv, "plan").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(
        w.phones("a@contoso.com"),
        pairs(&[("office", "+1 4255550100")]),
        "plan changes nothing"
    );
    assert!(w.calls().iter().all(|e| e.method == "GET"));
    assert!(!plan_dir.join("outcomes.csv").exists());
    let plan_md = std::fs::read_to_string(plan_dir.join("plan.md")).unwrap();
    // A type change is marked as one on both halves; numbers are masked (the stars escaped
    // for Markdown).
    assert!(
        plan_md.contains(r"| 1 | ± add | mobile |  | +1 425\*\*\*\*\*00 |")
            && plan_md.contains(r"| 2 | ± delete | office | +1 425\*\*\*\*\*00 |")
            && plan_md.contains("Legend: `+` add, `~` update, `±` type change")
            && plan_md.contains("this is a plan")
            && !plan_md.contains("4255550100"),
        "{plan_md}"
    );
    let (_, unmasked) = w.run_with_args("plan", &csv, "unmasked", &["--unmask"]).await;
    let plan_md = std::fs::read_to_string(unmasked.join("plan.md")).unwrap();
    assert!(plan_md.contains("| 1 | ± add | mobile |  | +1 4255550100 |"), "{plan_md}");

    let (code, _) = w.run("apply", &csv, "apply").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(w.phones("a@contoso.com"), pairs(&[("mobile", "+1 4255550100")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_transient_faults_are_retried() {
    let w = World::new(json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com"}]})).await;
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0100\n");
    // Single requests (no $batch), so the exact sequence of attempts is visible.
    w.edit_config("concurrency = 4", "concurrency = 4\nbatch = false");
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
    assert!(
        w.calls().iter().filter(|c| c.method == "DELETE").all(|c| c.status == 424),
        "a batched delete is answered 424, not run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_refusals_are_reported_with_code_and_message() {
    // The default method cannot be deleted; when the client may not read which method is the
    // default, Graph refuses the delete and the report carries Graph's words.
    let w = World::build(
        json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com", "defaultMethod": "office",
        "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 4255550100"}]}]}),
        phonesync_emulator::Options {
            client_id: Some(common::CLIENT_ID.into()),
            client_secret: Some(common::SECRET.into()),
            sign_in_preferences_forbidden: true,
            ..Default::default()
        },
        "",
        "",
    )
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_upns_address_exactly_their_user() {
    let upns = [
        "a/b@contoso.com",
        "q?x=1@contoso.com",
        "h#sh@contoso.com",
        "p%41@contoso.com",
        "$dollar@contoso.com",
        "o'neil@contoso.com",
        "../a@contoso.com",
        "a@contoso.com/..",
        "..",
    ];
    let users: Vec<_> = upns
        .iter()
        .enumerate()
        .map(|(i, u)| json!({"id": format!("id{i}"), "userPrincipalName": u}))
        .collect();
    let mut all = users.clone();
    all.push(json!({"id": "decoy", "userPrincipalName": "a@contoso.com"}));
    let w = World::new(json!({ "users": all })).await;
    let mut csv = String::from("user,phoneType,phoneNumber\n");
    for u in upns {
        csv.push_str(&format!("\"{u}\",mobile,206-555-0100\n"));
    }
    let input = w.csv("in.csv", &csv);
    let (code, _) = w.run("apply", &input, "r").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    for u in upns {
        assert_eq!(w.phones(u), pairs(&[("mobile", "+1 2065550100")]), "{u}");
    }
    assert_eq!(w.phones("a@contoso.com"), vec![], "the decoy is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_column_stops_with_a_clear_message_and_writes_nothing() {
    let w = World::new(json!({"users": []})).await;
    let csv = w.csv("in.csv", "user,phone\na@contoso.com,2065550100\n");
    let (result, _) = w.run("apply", &csv, "r").await;
    let message = format!("{:#}", result.unwrap_err());
    assert!(
        message.contains("missing column 'phoneType'") && message.contains("in.csv"),
        "{message}"
    );
    assert!(w.calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_stops_before_any_work() {
    let w = World::new(json!({"users": []})).await;
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,mobile,2065550100\n");
    let cli = <phonesync::cli::Cli as clap::Parser>::parse_from([
        "phonesync",
        "apply",
        csv.to_str().unwrap(),
        "-q",
        "--config",
        w.config.to_str().unwrap(),
    ]);
    let err = phonesync::run_async(
        cli,
        phonesync::config::Env::from_pairs([("AZURE_CLIENT_SECRET", "wrong")]),
        &mut std::io::sink(),
    )
    .await
    .unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("cannot sign in") && message.contains("invalid_client"),
        "{message}"
    );
    assert!(!message.contains("wrong"), "the secret is not echoed: {message}");
    assert!(w.calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmanaged_types_and_prune_follow_config() {
    let seed = json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com", "phoneMethods": [
        {"phoneType": "mobile", "phoneNumber": "+1 2065550100"}, {"phoneType": "office", "phoneNumber": "+1 4255550100"}]}]});
    let w = World::with_config(
        seed,
        "\n[plan]\nprune = true\n\n[target.auth]\nmanaged_types = [\"mobile\", \"alternateMobile\"]\n",
    )
    .await;
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,alternateMobile,206-555-0101\n");
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(
        code.unwrap(),
        ExitCode::from(1),
        "pruning the mobile but keeping the alternate is infeasible"
    );
    assert_eq!(summary(&dir)["targets"]["auth"]["users"]["skipped"]["infeasible"], 1);

    let csv = w.csv(
        "in2.csv",
        "user,phoneType,phoneNumber\na@contoso.com,alternateMobile,206-555-0101\na@contoso.com,mobile,206-555-0102\n",
    );
    let (code, _) = w.run("apply", &csv, "r2").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(
        w.phones("a@contoso.com"),
        pairs(&[
            ("alternateMobile", "+1 2065550101"),
            ("mobile", "+1 2065550102"),
            ("office", "+1 4255550100")
        ]),
        "office is not managed, so not pruned"
    );
}

/// Graph unreachable (the token service answers, Graph does not): the run stops before any
/// work with an error (exit 2), instead of reporting every user as read_failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_unreachable_before_any_work_is_fatal() {
    let w = World::new(json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com"}]})).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = w.emulator.url();
    let text = std::fs::read_to_string(&w.config).unwrap();
    let text = text.replacen(
        &format!("endpoint = \"{url}\""),
        &format!("endpoint = \"http://127.0.0.1:{port}\""),
        1,
    );
    std::fs::write(&w.config, text).unwrap();
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0100\n");
    let (result, dir) = w.run("apply", &csv, "r").await;
    let message = format!("{:#}", result.unwrap_err());
    assert!(message.contains("answered none of the reads"), "{message}");
    assert!(!dir.join("outcomes.csv").exists(), "no work was started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_windows_1252_export_with_semicolons_is_applied_as_configured() {
    let seed = json!({"users": [
        {"id": "id1", "userPrincipalName": "kim@contoso.com",
         "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 4255550100"}]},
        {"id": "id2", "userPrincipalName": "lee@contoso.com"},
    ]});
    let w = World::with_config(
        seed,
        "[input]\nformat = \"wide\"\nuser_column = \"Work Email\"\n\
         columns = { \"Mobile Phone\" = \"mobile\", \"Office Phone\" = \"office\" }\n",
    )
    .await;
    // As Excel saves "CSV" on a Western European Windows: Windows-1252, `;`, CRLF.
    let text = "Work Email;Mobile Phone;Office Phone;Name\r\n\
                kim@contoso.com;(206) 555-0100;425-555-0100;Müller\r\n\
                lee@contoso.com;;425 555 0199;Ødegård\r\n";
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
    assert!(!unmappable);
    let input = w.dir.path().join("wide.csv");
    std::fs::write(&input, &bytes).unwrap();
    let (code, dir) = w.run("apply", &input, "r").await;
    let s = summary(&dir);
    assert_eq!(code.unwrap(), ExitCode::SUCCESS, "{s}");
    assert_eq!(
        w.phones("kim@contoso.com"),
        pairs(&[("mobile", "+1 2065550100"), ("office", "+1 4255550100")])
    );
    assert_eq!(
        w.phones("lee@contoso.com"),
        pairs(&[("office", "+1 4255550199")]),
        "an empty cell adds nothing"
    );
    assert_eq!(s["inputFile"], json!({"encoding": "windows-1252", "delimiter": ";"}), "{s}");
    let md = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    assert!(md.contains("read as windows-1252, columns separated by ;"), "{md}");
}

/// In a wide file an empty cell means "no value": with prune on, that type is removed, also
/// when every cell of the row is empty. A refused cell is not "no value": its type stays as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_empty_cell_prunes_its_type_and_a_refused_cell_never_does() {
    let both = json!([{"phoneType": "mobile", "phoneNumber": "+1 2065550100"}, {"phoneType": "office", "phoneNumber": "+1 4255550100"}]);
    let seed = json!({"users": [
        {"id": "id1", "userPrincipalName": "kim@contoso.com", "phoneMethods": both},
        {"id": "id2", "userPrincipalName": "lee@contoso.com", "phoneMethods": both},
        {"id": "id3", "userPrincipalName": "max@contoso.com", "phoneMethods": both},
    ]});
    let w = World::with_config(
        seed,
        "\n[plan]\nprune = true\n\n[input]\nformat = \"wide\"\nuser_column = \"Email\"\n\
         columns = { \"Mobile\" = \"mobile\", \"Office\" = \"office\" }\n",
    )
    .await;
    let csv = w.csv(
        "wide.csv",
        "Email,Mobile,Office\nkim@contoso.com,206 555 0100,\nlee@contoso.com,206 555 0100,12345\nmax@contoso.com,,\n",
    );
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(w.phones("max@contoso.com"), [], "a row of empty cells says: no phones");
    assert_eq!(code.unwrap(), ExitCode::from(1), "a refused cell makes the run exit 1");
    assert_eq!(
        w.phones("kim@contoso.com"),
        pairs(&[("mobile", "+1 2065550100")]),
        "the empty office cell pruned"
    );
    assert_eq!(
        w.phones("lee@contoso.com"),
        pairs(&[("mobile", "+1 2065550100"), ("office", "+1 4255550100")]),
        "the refused office cell licenses no delete"
    );
    let rejects = csv_rows(&dir.join("rejects.csv"));
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!((rejects[0]["line"].as_str(), rejects[0]["column"].as_str()), ("3", "Office"));
}

/// A number that can only be a fixed line, offered as a mobile: Graph takes it, so it is
/// applied, and plan.md notes that text messages will not reach it — masked unless --unmask,
/// like every number in the reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_line_offered_as_mobile_is_applied_with_a_note_masked_unless_unmask() {
    let seed = json!({"users": [{"id": "id1", "userPrincipalName": "kim@contoso.com"}]});
    let w = World::new(seed).await;
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\nkim@contoso.com,mobile,+49 30 1234567\nkim@contoso.com,office,+49 30 7654321\nkim@contoso.com,alternateMobile,12345\n",
    );
    let (code, dir) = w.run("plan", &csv, "plan").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "one row refused");
    let md = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    let notes = md
        .split("## Accepted with a note")
        .nth(1)
        .unwrap_or_else(|| panic!("no notes section: {md}"));
    assert!(notes.contains("| 2 | phoneNumber | kim@contoso.com |"), "{notes}");
    // Markdown-escaped, as every cell of plan.md.
    assert!(
        notes.contains(r"'+49 301\*\*\*\*67' is a fixed-line number") && notes.contains("text messages"),
        "{notes}"
    );
    assert!(!notes.contains("| 3 |"), "an office number needs no note: {notes}");
    assert!(!notes.contains("1234567"), "masked in the note: {notes}");
    let rejected = md
        .split("## Rejected rows")
        .nth(1)
        .unwrap_or_else(|| panic!("no rejects section: {md}"));
    assert!(
        rejected.contains("'\\*\\*\\*45'") && !rejected.contains("12345"),
        "masked in the reason: {rejected}"
    );
    let rejects = csv_rows(&dir.join("rejects.csv"));
    assert_eq!(rejects[0]["phoneNumber"], "***45");
    assert_eq!(summary(&dir)["rows"], json!({"read": 3, "rejected": 1, "noted": 1}));

    let (code, dir) = w.run_with_args("apply", &csv, "apply", &["--unmask"]).await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    assert_eq!(
        w.phones("kim@contoso.com"),
        pairs(&[("mobile", "+49 301234567"), ("office", "+49 307654321")]),
        "the fixed line is applied as the mobile"
    );
    let md = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    assert!(md.contains("'+49 301234567' is a fixed-line number"), "--unmask shows it: {md}");
    assert_eq!(csv_rows(&dir.join("rejects.csv"))[0]["phoneNumber"], "12345");
}

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
    let w = World::with_config(seed, "\n[plan]\nprune = true\nmax_deletes = 2\n").await;
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

/// `plan --detailed-exitcode`, as Terraform's: 2 when there are changes, 0 when there are none,
/// 1 when rows were refused; `apply` does not take it.
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
        "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0100\na@contoso.com,office,12345\n",
    );
    let (code, _) = w.run_with_args("plan", &bad, "p4", &["--detailed-exitcode"]).await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "a refused row needs a look");
    let (code, _) = w.run_with_args("apply", &csv, "a2", &["--detailed-exitcode"]).await;
    assert!(format!("{:#}", code.unwrap_err()).contains("for `phonesync plan`"));
}

/// A run in which some user's phones could not be read prunes nothing, for anyone: the users it
/// read are planned without prune deletes, and the one it could not read is skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_read_errors_prunes_nothing() {
    let both = |n: u32| json!([{"phoneType": "mobile", "phoneNumber": format!("+1 206555{n:04}")}, {"phoneType": "office", "phoneNumber": format!("+1 425555{n:04}")}]);
    let seed = json!({"users": [
        {"id": "id1", "userPrincipalName": "a@contoso.com", "phoneMethods": both(1)},
        {"id": "id2", "userPrincipalName": "b@contoso.com", "phoneMethods": both(2)},
    ]});
    let w = World::with_config(seed, "\n[plan]\nprune = true\n").await;
    // b's phones cannot be read (every attempt refused).
    w.emulator
        .inject([phonesync_emulator::Fault::status(403).only("GET").path("b@contoso.com").times(1000)]);
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,+1 2065550001\nb@contoso.com,mobile,+1 2065550002\n",
    );
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    let s = summary(&dir);
    assert_eq!(s["targets"]["auth"]["users"]["skipped"]["read_failed"], 1, "{s}");
    assert_eq!(w.phones("a@contoso.com").len(), 2, "a's office phone is not pruned");
    assert_eq!(s["ops"]["planned"]["delete"], 0, "{s}");

    // Once every read succeeds, prune does its work.
    w.emulator.clear_faults();
    let (code, _) = w.run("apply", &csv, "r2").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(w.phones("a@contoso.com"), pairs(&[("mobile", "+1 2065550001")]));
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
    let w = World::with_config(json!({"users": users}), "\n[plan]\nprune = true\n").await;
    let full: String = (1..=4).map(|i| format!("u{i}@contoso.com,office,+1 425555{i:04}\n")).collect();
    let csv = w.csv("full.csv", &format!("user,phoneType,phoneNumber\n{full}"));
    let (code, _) = w.run("apply", &csv, "full").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    // Cut short: one user of four, whose office the file no longer names.
    let short = w.csv("short.csv", "user,phoneType,phoneNumber\nu1@contoso.com,mobile,+1 2065550001\n");
    let (code, _) = w.run("apply", &short, "short").await;
    let e = format!("{:#}", code.unwrap_err());
    assert!(
        e.contains("refusing to apply with prune") && e.contains("1 users, 75 % fewer than the 4"),
        "{e}"
    );
    assert_eq!(w.phones("u1@contoso.com"), pairs(&[("office", "+1 4255550001")]), "nothing written");
    let (code, _) = w.run_with_args("apply", &short, "allowed", &["--allow-deletes", "1"]).await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(w.phones("u1@contoso.com"), pairs(&[("mobile", "+1 2065550001")]));
}

/// `plan --out plan.json` saves the plan; `apply plan.json` executes exactly it (not the input
/// as it is now), reads again only the users it touches, and skips as stale a user whose phones
/// changed after planning (exit 1), leaving that user as the other change left it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_applies_as_planned_and_skips_users_changed_since_as_stale() {
    let mobile = |n: &str| json!([{"phoneType": "mobile", "phoneNumber": format!("+1 206555{n}")}]);
    let seed = json!({"users": [
        {"id": "id1", "userPrincipalName": "a@contoso.com", "phoneMethods": mobile("0001")},
        {"id": "id2", "userPrincipalName": "b@contoso.com", "phoneMethods": mobile("0002")},
        {"id": "id3", "userPrincipalName": "c@contoso.com", "phoneMethods": mobile("0003")},
    ]});
    let w = World::new(seed).await;
    let csv = w.csv(
        "hr.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,+1 2065550101\nb@contoso.com,mobile,+1 2065550102\nc@contoso.com,mobile,+1 2065550003\n",
    );
    let saved = w.dir.path().join("approved.json");
    let (code, plan_dir) = w.run_with_args("plan", &csv, "plan", &["--out", saved.to_str().unwrap()]).await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    let text = std::fs::read_to_string(&saved).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (json["format"].as_str(), json["version"].as_u64()),
        (Some("phonesync-plan"), Some(1))
    );
    assert_eq!(json["input"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(json["usersRead"], 3);
    let users: Vec<&str> = json["targets"][0]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["plan"]["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["a@contoso.com", "b@contoso.com"], "users with changes only");
    assert_eq!(
        std::fs::read(plan_dir.join("plan.json")).unwrap(),
        text.as_bytes(),
        "and in the report folder"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // After the review: someone changes b's mobile, and the HR file itself changes too.
    let other = w.csv("other.csv", "user,phoneType,phoneNumber\nb@contoso.com,mobile,+1 2065550999\n");
    let (code, _) = w.run("apply", &other, "other").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    w.csv(
        "hr.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,+1 2065557777\nc@contoso.com,mobile,+1 2065557777\n",
    );
    let before = w.calls().len();
    let (code, dir) = w.run("apply", &saved, "apply").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "a stale user is a problem to look at");
    assert_eq!(
        w.phones("a@contoso.com"),
        pairs(&[("mobile", "+1 2065550101")]),
        "as planned, not as the file says now"
    );
    assert_eq!(
        w.phones("b@contoso.com"),
        pairs(&[("mobile", "+1 2065550999")]),
        "the stale user is left alone"
    );
    assert_eq!(w.phones("c@contoso.com"), pairs(&[("mobile", "+1 2065550003")]));
    let calls = &w.calls()[before..];
    assert!(
        !calls.iter().any(|c| c.path.contains("c@contoso.com") || c.path.contains("id3")),
        "an untouched user is not read: {calls:?}"
    );
    assert!(
        calls.iter().any(|c| c.method == "GET" && c.path.contains("b@contoso.com")),
        "{calls:?}"
    );
    let s = summary(&dir);
    assert_eq!(s["targets"]["auth"]["users"]["skipped"]["stale"], 1, "{s}");
    assert_eq!(s["ops"]["byStatus"]["succeeded"], 1, "{s}");
    let md = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    assert!(
        md.contains("b@contoso.com") && md.contains("stale: the user's phones \\(or default sign-in method\\) in Graph differ"),
        "{md}"
    );

    // Applying it again (as after a crash): a is already as planned, so nothing is sent for a
    // and a is not stale; b still is.
    let before = w.calls().len();
    let (code, dir) = w.run("apply", &saved, "again").await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    let s = summary(&dir);
    assert_eq!(s["targets"]["auth"]["users"]["skipped"], json!({"stale": 1}), "{s}");
    assert_eq!(s["ops"]["planned"], json!({"add": 0, "update": 0, "delete": 0}), "{s}");
    assert!(w.calls()[before..].iter().all(|c| c.method == "GET"));
    assert_eq!(w.phones("a@contoso.com"), pairs(&[("mobile", "+1 2065550101")]));

    // A saved plan is for apply, and for the tenant it was planned against.
    let (code, _) = w.run("plan", &saved, "plan-of-plan").await;
    assert!(format!("{:#}", code.unwrap_err()).contains("is a saved plan"));
    w.edit_config("tenant_id = \"contoso\"", "tenant_id = \"fabrikam\"");
    let (code, _) = w.run("apply", &saved, "elsewhere").await;
    assert!(format!("{:#}", code.unwrap_err()).contains("another tenant"));
    w.edit_config("tenant_id = \"fabrikam\"", "tenant_id = \"contoso\"");

    // Nor under a config that would not have planned it, nor when damaged: refused, unwritten.
    let before = w.calls().len();
    let mut edited: serde_json::Value = serde_json::from_str(&text).unwrap();
    edited["targets"][0]["users"][0]["plan"]["ops"][0]["depends_on"] = json!([3]);
    let damaged = w.csv("damaged.json", &edited.to_string());
    let (code, _) = w.run("apply", &damaged, "damaged").await;
    let e = format!("{:#}", code.unwrap_err());
    assert!(e.contains("damaged") && e.contains("does not come before it"), "{e}");
    let text = std::fs::read_to_string(&w.config).unwrap();
    std::fs::write(&w.config, format!("{text}\n[target.auth]\nmanaged_types = [\"office\"]\n")).unwrap();
    let (code, _) = w.run("apply", &saved, "reconfigured").await;
    assert!(format!("{:#}", code.unwrap_err()).contains("changed since this plan was made"));
    assert!(w.calls()[before..].iter().all(|c| c.method == "GET"), "nothing written");
}

/// Before its first write, apply leaves rollback.csv and rollback.toml; applying them after a
/// migration (updates, a type change, an add to a user who had nothing, a prune delete) puts
/// every user back exactly as they were, and leaves users the migration did not touch alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_restores_the_exact_prior_state_after_a_migration() {
    let seed = json!({"users": [
        {"id": "id1", "userPrincipalName": "a@contoso.com", "phoneMethods": [
            {"phoneType": "mobile", "phoneNumber": "+1 2065550001"}, {"phoneType": "office", "phoneNumber": "+1 4255550001"}]},
        {"id": "id2", "userPrincipalName": "b@contoso.com", "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 2065550002"}]},
        {"id": "id3", "userPrincipalName": "c@contoso.com"},
        {"id": "id4", "userPrincipalName": "d@contoso.com", "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550004"}]},
    ]});
    let w = World::with_config(seed, "\n[plan]\nprune = true\n").await;
    let users = ["a@contoso.com", "b@contoso.com", "c@contoso.com", "d@contoso.com"];
    let before: Vec<_> = users.iter().map(|u| w.phones(u)).collect();
    let migration = w.csv(
        "migration.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,+1 2065559001\nb@contoso.com,mobile,+1 2065550002\n\
         c@contoso.com,mobile,+1 2065559003\nd@contoso.com,mobile,+1 2065550004\n",
    );
    let (code, dir) = w.run("apply", &migration, "migration").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    let after: Vec<_> = users.iter().map(|u| w.phones(u)).collect();
    assert_eq!(after[0], pairs(&[("mobile", "+1 2065559001")]), "updated, office pruned");
    assert_eq!(after[1], pairs(&[("mobile", "+1 2065550002")]), "moved to mobile");
    assert_eq!(after[2], pairs(&[("mobile", "+1 2065559003")]), "added");

    let snapshot = csv_rows(&dir.join("rollback.csv"));
    let rows: Vec<Vec<&str>> = snapshot
        .iter()
        .map(|r| {
            vec![
                r["user"].as_str(),
                r["auth mobile"].as_str(),
                r["auth alternateMobile"].as_str(),
                r["auth office"].as_str(),
            ]
        })
        .collect();
    assert_eq!(
        rows,
        [
            ["a@contoso.com", "+1 2065550001", "", "+1 4255550001"],
            ["b@contoso.com", "", "", "+1 2065550002"],
            ["c@contoso.com", "", "", ""],
        ],
        "the touched users, as they were; d was in line and is not in it"
    );
    #[cfg(unix)]
    for file in ["rollback.csv", "rollback.toml"] {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(dir.join(file)).unwrap().permissions().mode() & 0o777,
            0o600,
            "{file}"
        );
    }

    // The rollback, as the file says to run it: its plan first, then the apply.
    let rollback_config = dir.join("rollback.toml");
    let toml = std::fs::read_to_string(&rollback_config).unwrap();
    assert!(toml.contains("prune = true") && toml.contains("phonesync apply"), "{toml}");
    let run = |mode: &'static str, name: &'static str| {
        let reports = w.dir.path().join("reports").join(name);
        let args = [
            "phonesync",
            mode,
            dir.join("rollback.csv").to_str().unwrap().to_string().leak(),
            "--quiet",
            "--config",
            rollback_config.to_str().unwrap().to_string().leak(),
            "--report-dir",
            reports.to_str().unwrap().to_string().leak(),
        ];
        let cli = <phonesync::cli::Cli as clap::Parser>::parse_from(args);
        (phonesync::run_async(cli, w.env(), Box::leak(Box::new(std::io::sink()))), reports)
    };
    let (plan, reports) = run("plan", "rollback-plan");
    assert_eq!(plan.await.unwrap(), ExitCode::SUCCESS);
    assert_eq!(
        summary(&reports)["ops"]["planned"],
        json!({"add": 2, "update": 1, "delete": 2}),
        "add a's office and b's office, update a's mobile, delete b's mobile and c's"
    );
    let from = w.emulator.changes().len();
    let (apply, _) = run("apply", "rollback");
    assert_eq!(apply.await.unwrap(), ExitCode::SUCCESS);
    let restored: Vec<_> = users.iter().map(|u| w.phones(u)).collect();
    assert_eq!(restored, before, "every user exactly as before the migration");
    assert_journal_invariants(&w.emulator.changes()[from..]);
}

/// `export` writes every user of the tenant (listed page by page) as an input file with the
/// config that applies it; an edited copy, applied with that config, is what the tenant then
/// holds: a changed number, a cleared cell (deleted), a filled one (added).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_edited_and_applied_is_what_the_tenant_then_holds() {
    // More users than one page of the users list.
    let mut users = vec![
        json!({"id": "id-a", "userPrincipalName": "a@contoso.com", "phoneMethods": [
            {"phoneType": "mobile", "phoneNumber": "+1 2065550001"}, {"phoneType": "office", "phoneNumber": "+1 4255550001"}]}),
        json!({"id": "id-b", "userPrincipalName": "b@contoso.com", "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550002"}]}),
    ];
    users.extend((0..1000).map(|i| json!({"id": format!("id-{i}"), "userPrincipalName": format!("u{i}@contoso.com")})));
    users.push(json!({"id": "id-c", "userPrincipalName": "c@contoso.com"}));
    let w = World::new(json!({ "users": users })).await;
    let out = w.dir.path().join("current.csv");
    let export = |args: Vec<String>| {
        let mut all = vec!["phonesync".to_string(), "export".into(), "--quiet".into(), "--config".into()];
        all.push(w.config.to_str().unwrap().into());
        all.extend(args);
        phonesync::run_async(
            <phonesync::cli::Cli as clap::Parser>::parse_from(all),
            w.env(),
            Box::leak(Box::new(std::io::sink())),
        )
    };
    let code = export(vec!["--out".into(), out.to_str().unwrap().into()]).await.unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 1003, "a header and every user, past the first page");
    assert_eq!(lines[0], "user,auth mobile,auth alternateMobile,auth office,displayName");
    assert!(lines.contains(&"a@contoso.com,+1 2065550001,,+1 4255550001,"), "{}", &text[..300]);
    assert!(lines.contains(&"c@contoso.com,,,,"));

    // The admin edits: a's mobile changes and a's office goes; b gets an office, c a mobile.
    let edited = text
        .replace("a@contoso.com,+1 2065550001,,+1 4255550001,", "a@contoso.com,+1 2065559001,,,")
        .replace("b@contoso.com,+1 2065550002,,,", "b@contoso.com,+1 2065550002,,+1 4255559002,")
        .replace("c@contoso.com,,,,", "c@contoso.com,+1 2065559003,,,");
    let input = w.csv("edited.csv", &edited);
    let toml = w.dir.path().join("current.toml");
    let reports = w.dir.path().join("reports").join("edited");
    let args = [
        "phonesync",
        "apply",
        input.to_str().unwrap(),
        "--quiet",
        "--config",
        toml.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
    ];
    let code = phonesync::run_async(
        <phonesync::cli::Cli as clap::Parser>::parse_from(args),
        w.env(),
        &mut std::io::sink(),
    )
    .await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&reports)["ops"]["planned"], json!({"add": 2, "update": 1, "delete": 1}));
    assert_eq!(w.phones("a@contoso.com"), pairs(&[("mobile", "+1 2065559001")]));
    assert_eq!(
        w.phones("b@contoso.com"),
        pairs(&[("mobile", "+1 2065550002"), ("office", "+1 4255559002")])
    );
    assert_eq!(w.phones("c@contoso.com"), pairs(&[("mobile", "+1 2065559003")]));
    assert!(w.phones("u7@contoso.com").is_empty());

    // Named users only; one the tenant does not have is left out, and the run says so.
    let list = w.csv("users.txt", "user\nb@contoso.com\nnobody@contoso.com\n");
    let some = w.dir.path().join("some.csv");
    let code = export(vec![
        "--out".into(),
        some.to_str().unwrap().into(),
        "--users".into(),
        list.to_str().unwrap().into(),
    ])
    .await
    .unwrap();
    assert_eq!(code, ExitCode::from(1), "a named user was not found");
    let unread = std::fs::read_to_string(w.dir.path().join("some.unread.csv")).unwrap();
    assert!(unread.contains("nobody@contoso.com (auth),user not found"), "{unread}");
    let text = std::fs::read_to_string(&some).unwrap();
    assert_eq!(
        text.lines().skip(1).collect::<Vec<_>>(),
        ["b@contoso.com,+1 2065550002,,+1 4255559002,"]
    );
    // Nothing is overwritten.
    let again = export(vec!["--out".into(), some.to_str().unwrap().into()]).await;
    assert!(format!("{:#}", again.unwrap_err()).contains("already exists"));
}

/// `plan.max_delete_percent` refuses an apply whose deletes exceed that share of the users read,
/// before any write, even under `max_deletes`; `--allow-deletes` lifts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_refuses_deletes_over_a_share_of_the_users_read() {
    let both = |n: u32| json!([{"phoneType": "mobile", "phoneNumber": format!("+1 206555{n:04}")}, {"phoneType": "office", "phoneNumber": format!("+1 425555{n:04}")}]);
    let users: Vec<_> = (1..=4)
        .map(|n| json!({"id": format!("id{n}"), "userPrincipalName": format!("u{n}@contoso.com"), "phoneMethods": both(n)}))
        .collect();
    let w = World::with_config(json!({ "users": users }), "\n[plan]\nprune = true\nmax_delete_percent = 25\n").await;
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
    assert!(w.calls().iter().all(|c| c.method == "GET"), "no write");
    let (code, _) = w.run_with_args("apply", &csv, "allowed", &["--allow-deletes", "2"]).await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(w.phones("u1@contoso.com"), pairs(&[("mobile", "+1 2065550001")]));
    assert_eq!(w.phones("u3@contoso.com").len(), 2);
}

/// An input with no usable row, with prune on: every row refused, so nothing is known about
/// what HR wants and no phone is deleted; the run exits 1 with the refusals reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_without_a_usable_row_prunes_nothing() {
    let seed = json!({"users": [{"id": "id1", "userPrincipalName": "a@contoso.com", "phoneMethods": [
        {"phoneType": "mobile", "phoneNumber": "+1 2065550001"}, {"phoneType": "office", "phoneNumber": "+1 4255550001"}]}]});
    let w = World::with_config(seed, "\n[plan]\nprune = true\n").await;
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,12\na@contoso.com,fax,+1 2065550001\n",
    );
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    assert_eq!(summary(&dir)["ops"]["planned"], json!({"add": 0, "update": 0, "delete": 0}));
    assert_eq!(w.phones("a@contoso.com").len(), 2);
    assert_eq!(csv_rows(&dir.join("rejects.csv")).len(), 2);
}

/// A wide export whose phone columns all came out blank (a broken export or mapping) deletes
/// nothing, with prune on, though every row is "empty": a column blank throughout says
/// nothing unless the config says it means "none" (as rollback and export configs do). (One
/// blank column among filled ones is a type missing from the file, as in a long file: the
/// delete guard's business.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_column_blank_in_every_row_deletes_nothing_unless_configured() {
    let both = json!([{"phoneType": "mobile", "phoneNumber": "+1 2065550100"}, {"phoneType": "office", "phoneNumber": "+1 4255550100"}]);
    let seed = json!({"users": [
        {"id": "id1", "userPrincipalName": "kim@contoso.com", "phoneMethods": both},
        {"id": "id2", "userPrincipalName": "lee@contoso.com", "phoneMethods": both},
    ]});
    let wide = "\n[plan]\nprune = true\n\n[input]\nformat = \"wide\"\nuser_column = \"Email\"\n\
                columns = { \"Mobile\" = \"mobile\", \"Office\" = \"office\" }\n";
    let w = World::with_config(seed, wide).await;
    // Every cell blank; then only the office column blank.
    let blank = w.csv("blank.csv", "Email,Mobile,Office\nkim@contoso.com,,\nlee@contoso.com,,\n");
    let (code, dir) = w.run("apply", &blank, "blank").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&dir)["ops"]["planned"], json!({"add": 0, "update": 0, "delete": 0}));
    assert_eq!(w.phones("kim@contoso.com").len(), 2);
    // Said to mean it: nobody has these phones, and prune deletes them.
    let text = std::fs::read_to_string(&w.config).unwrap();
    std::fs::write(&w.config, text.replace("[input]\n", "[input]\nempty_column_means_none = true\n")).unwrap();
    let (code, _) = w.run("apply", &blank, "meant").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(w.phones("kim@contoso.com"), []);
}
