//! No fault, typo, key mix-up or interruption may cost a user a sign-in phone: one test per way
//! phones were once lost (a rejected row under prune, a lost or late `$batch` answer, one person
//! under two keys, the default method, an interrupted run), each asserting the emulator's state,
//! the reports, the exit code and the journal checker.

use crate::world::{World, assert_journal_safe, csv_rows, offices, pairs, pinned, planned_writes, summary};
use phonesync_emulator::{Fault, Options};
use serde_json::json;
use std::process::ExitCode;

const KIM: &str = "0d9c1a3e-5b1f-4c1e-9a53-7f2c8e1b4a01";

/// With prune on, a rejected mobile row (invalid number, or a type written `Mobile Phone`) must
/// not delete the mobile the user has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_keeps_a_phone_whose_row_was_rejected() {
    let seed = json!({"users": [
        {"id": "u1", "userPrincipalName": "a@contoso.com", "phoneMethods": [
            {"phoneType": "mobile", "phoneNumber": "+1 2065550100"}, {"phoneType": "office", "phoneNumber": "+1 4255550100"}]},
        {"id": "u2", "userPrincipalName": "b@contoso.com", "phoneMethods": [
            {"phoneType": "mobile", "phoneNumber": "+1 2065550200"}, {"phoneType": "office", "phoneNumber": "+1 4255550200"}]},
        {"id": "u3", "userPrincipalName": "c@contoso.com", "phoneMethods": [
            {"phoneType": "mobile", "phoneNumber": "+1 2065550300"}, {"phoneType": "office", "phoneNumber": "+1 4255550300"}]}
    ]});
    let w = World::builder(seed).prune(true).build().await;
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\n\
         a@contoso.com,mobile,555-01\na@contoso.com,office,425-555-0100\n\
         b@contoso.com,Mobile Phone,206-555-0200\nb@contoso.com,mobile,206-555-0200\n\
         c@contoso.com,mobile,206-555-0300\n",
    );
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "rejected rows make exit 1");
    // a@: the mobile row was rejected: mobile kept. b@: a row of unreadable type: nothing pruned.
    assert_eq!(
        w.phones("a@contoso.com"),
        pairs(&[("mobile", "+1 2065550100"), ("office", "+1 4255550100")])
    );
    assert_eq!(
        w.phones("b@contoso.com"),
        pairs(&[("mobile", "+1 2065550200"), ("office", "+1 4255550200")])
    );
    // c@ has no rejected row: prune works as configured, so the guard above is what held a@ and b@.
    assert_eq!(w.phones("c@contoso.com"), pairs(&[("mobile", "+1 2065550300")]));
    let plan_md = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    assert!(plan_md.contains("row was rejected"), "plan.md says why: {plan_md}");
    assert!(plan_md.contains("no phone of this user is pruned"), "{plan_md}");
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

/// The `$batch` carrying a user's add and delete is refused (503); the add, re-sent alone, is
/// refused (403). The delete must not be sent: the user keeps the office phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_envelope_never_lets_a_delete_outrun_its_failed_add() {
    let seed = json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com", "phoneMethods": [
        {"phoneType": "office", "phoneNumber": "+1 4255550100"}]}]});
    let w = World::new(seed).await;
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,mobile,425-555-0100\n");
    // The first v1.0 envelope is the read; the second carries the chain.
    w.emulator.inject([
        Fault::status(503).only("$batch").path("/v1.0/").skip(1),
        Fault::status(403)
            .only("POST")
            .code("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    ]);
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    assert_eq!(
        w.phones("a@contoso.com"),
        pairs(&[("office", "+1 4255550100")]),
        "the user keeps a phone"
    );
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    let status: Vec<(&str, &str, &str)> = outcomes
        .iter()
        .map(|o| (o["op"].as_str(), o["status"].as_str(), o["httpStatus"].as_str()))
        .collect();
    assert_eq!(status, vec![("add", "failed", "403"), ("delete", "skipped", "")]);
    assert!(
        w.emulator.requests().iter().any(|r| r.path.ends_with("$batch") && r.status == 503),
        "the envelope was refused"
    );
    assert!(!w.emulator.changes().iter().any(|c| c.op == "delete"), "no delete ran");
    // A refused envelope ran nothing: its writes are sent again, not read back one by one.
    assert_eq!(summary(&dir)["writesConfirmedByReread"], 0);
    assert!(
        !w.calls().iter().any(|c| c.method == "GET" && c.path.contains("/phoneMethods/")),
        "no re-read of a single method"
    );
    assert_eq!(summary(&dir)["throttledRequests"], 1, "the refused envelope counts once");
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

/// The chain's envelope is dropped after Graph ran it; the client re-reads the add, finds it
/// applied, and only then settles the delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_batch_answer_is_reread_in_dependency_order() {
    let seed = json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com", "phoneMethods": [
        {"phoneType": "office", "phoneNumber": "+1 4255550100"}]}]});
    let w = World::new(seed).await;
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,mobile,425-555-0100\n");
    w.emulator.inject([Fault::effect(phonesync_emulator::Effect::AppliedDrop)
        .only("$batch")
        .path("/v1.0/")
        .skip(1)]);
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(w.phones("a@contoso.com"), pairs(&[("mobile", "+1 4255550100")]));
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    assert_eq!(outcomes.len(), 2, "{outcomes:#?}");
    assert!(outcomes.iter().all(|o| o["status"] == "succeeded"), "{outcomes:#?}");
    let writes = w.emulator.changes().iter().filter(|c| c.op != "enableSmsSignIn").count();
    assert_eq!(writes, 2, "each write ran once: none was sent twice");
    assert_eq!(summary(&dir)["writesConfirmedByReread"], 2);
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

/// One person named by UPN on one row and by object id on another is one user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_under_two_keys_is_one_user() {
    let seed = json!({"users": [
        {"id": KIM, "userPrincipalName": "kim@contoso.com", "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550100"}]},
        {"id": "1e8b2f4d-6c20-4d2f-8b64-801d9f2c5b02", "userPrincipalName": "lee@contoso.com", "phoneMethods": [
            {"phoneType": "mobile", "phoneNumber": "+1 2065550200"}, {"phoneType": "office", "phoneNumber": "+1 4255550200"}]}
    ]});
    let w = World::builder(seed).prune(true).build().await;
    // kim: different mobile numbers under her UPN and her object id (upper case): a conflict,
    // named with both physical lines. lee: mobile under the UPN, office under the id: merged,
    // so prune deletes nothing that either row names.
    let csv = w.csv(
        "in.csv",
        &format!(
            "user,phoneType,phoneNumber\nkim@contoso.com,mobile,206-555-0101\n\n{},mobile,206-555-0102\nlee@contoso.com,mobile,206-555-0200\n1E8B2F4D-6C20-4D2F-8B64-801D9F2C5B02,office,425-555-0200\n",
            KIM.to_uppercase()
        ),
    );
    for run in ["first", "second"] {
        let (code, dir) = w.run("apply", &csv, run).await;
        assert_eq!(code.unwrap(), ExitCode::from(1), "the conflict makes exit 1");
        assert_eq!(w.phones("kim@contoso.com"), pairs(&[("mobile", "+1 2065550100")]), "kim untouched");
        assert_eq!(
            w.phones("lee@contoso.com"),
            pairs(&[("mobile", "+1 2065550200"), ("office", "+1 4255550200")]),
            "lee keeps both phones"
        );
        let s = summary(&dir);
        assert_eq!(s["targets"]["auth"]["users"]["skipped"]["conflict"], 1, "{s}");
        let plan_md = std::fs::read_to_string(dir.join("plan.md")).unwrap();
        assert!(plan_md.contains("lines 2 and 4"), "physical lines named: {plan_md}");
    }
    assert!(!w.emulator.changes().iter().any(|c| c.op != "enableSmsSignIn"), "no write at all");
}

/// Deleting the user's default sign-in method is blocked in the plan, not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_method_is_blocked_not_sent() {
    let seed = json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com", "defaultMethod": "office",
        "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 4255550100"}]}]});
    let csv_text = "user,phoneType,phoneNumber\na@contoso.com,mobile,425-555-0100\n";
    let w = World::new(seed.clone()).await;
    let csv = w.csv("in.csv", csv_text);
    let (code, dir) = w.run("plan", &csv, "plan").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "a blocked op is a finding, in plan as in apply");
    let plan_md = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    assert!(
        plan_md.contains("BLOCKED") && plan_md.contains("default sign-in method"),
        "{plan_md}"
    );
    let (code, dir) = w.run("apply", &csv, "apply").await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    assert_eq!(outcomes[1]["op"], "delete");
    assert_eq!(outcomes[1]["status"], "blocked");
    assert!(!w.calls().iter().any(|c| c.method == "DELETE"), "no DELETE was sent");
    assert!(
        w.calls()
            .iter()
            .any(|c| c.path.starts_with("/beta/") && c.path.ends_with("/signInPreferences")),
        "read where Graph exposes it"
    );
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));

    // Without permission to read it, the run says so once and goes on as before.
    let w = World::builder(seed)
        .emulator(pinned(Options {
            sign_in_preferences_forbidden: true,
            ..Options::default()
        }))
        .build()
        .await;
    let csv = w.csv("in.csv", csv_text);
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    assert_eq!(
        (outcomes[1]["status"].as_str(), outcomes[1]["httpStatus"].as_str()),
        ("failed", "400")
    );
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

/// An interrupted run settles the chains in flight, starts no new user, writes every report and
/// exits 130; no user is left half moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_settles_in_flight_chains_and_reports() {
    let (seed, csv) = offices(40);
    let w = World::builder(seed)
        .emulator(pinned(Options {
            latency_ms: 15,
            ..Options::default()
        }))
        .concurrency(2)
        .batch(false)
        .build()
        .await;
    let input = w.csv("in.csv", &csv);
    let stop = phonesync::interrupt::Stop::new();
    let watch = async {
        // Stop right after the first add of the run, between an add and its delete.
        let waiting = std::time::Instant::now();
        while !w.emulator.changes().iter().any(|c| c.op == "add") {
            assert!(waiting.elapsed() < std::time::Duration::from_secs(60), "the run never wrote");
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        stop.request(phonesync::interrupt::EXIT_INTERRUPTED);
    };
    let ((code, dir), ()) = tokio::join!(w.run_stoppable("apply", &input, "r", &stop), watch);
    assert_eq!(code.unwrap(), ExitCode::from(130));
    for f in ["plan.md", "outcomes.csv", "summary.json", "rejects.csv"] {
        assert!(dir.join(f).exists(), "{f} written");
    }
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    let done = outcomes.iter().filter(|o| o["status"] == "succeeded").count();
    let not_started = outcomes.iter().filter(|o| o["status"] == "not_started").count();
    assert!(done >= 2 && done % 2 == 0, "whole chains only: {done}");
    assert!(
        not_started > 0 && done + not_started == 80,
        "{done} done, {not_started} not started"
    );
    for i in 0..40 {
        let phones = w.phones(&format!("u{i}@contoso.com"));
        assert_eq!(phones.len(), 1, "u{i} is either untouched or moved, never half: {phones:?}");
    }
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

/// A chain whose `$batch` answer comes after the client gave up (the envelope was run, then
/// held past the timeout): every write is confirmed by re-reading, none is sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_batch_answer_is_confirmed_not_resent() {
    let seed = json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com"}]});
    let w = World::builder(seed)
        .emulator(pinned(Options {
            slow_ms: 1500,
            ..Options::default()
        }))
        .rate(|r| r.request_timeout_seconds = Some(0.5))
        .build()
        .await;
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0101\na@contoso.com,alternateMobile,206-555-0102\n",
    );
    w.emulator.inject([Fault::effect(phonesync_emulator::Effect::Slow)
        .only("$batch")
        .path("/v1.0/")
        .skip(1)]);
    let (code, dir) = w.run("apply", &csv, "r").await;
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    assert_eq!(code.unwrap(), ExitCode::SUCCESS, "{outcomes:#?}");
    assert_eq!(
        w.phones("a@contoso.com"),
        pairs(&[("alternateMobile", "+1 2065550102"), ("mobile", "+1 2065550101")])
    );
    assert_eq!(summary(&dir)["writesConfirmedByReread"], 2);
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

/// A `$batch` answered 500 after Graph ran its items (the soak found it): the writes may have
/// been applied, so they are read back, not sent again and reported failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answered_500_after_running_is_reread() {
    let seed = json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com", "phoneMethods": [
        {"phoneType": "mobile", "phoneNumber": "+1 2065550101"}]}]});
    let w = World::new(seed).await;
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,206-555-0101\na@contoso.com,alternateMobile,206-555-0102\n",
    );
    w.emulator.inject([Fault::effect(phonesync_emulator::Effect::Applied(500))
        .only("$batch")
        .path("/v1.0/")
        .skip(1)]);
    let (code, dir) = w.run("apply", &csv, "r").await;
    let outcomes = csv_rows(&dir.join("outcomes.csv"));
    assert_eq!(code.unwrap(), ExitCode::SUCCESS, "{outcomes:#?}");
    assert_eq!(outcomes[0]["status"], "succeeded");
    assert_eq!(summary(&dir)["writesConfirmedByReread"], 1);
    assert!(
        !w.calls().iter().any(|c| c.method == "POST" && c.status == 400),
        "the add was not sent twice"
    );
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

/// The default sign-in method is read only where its answer can change the plan: for the users
/// whose plan deletes a method (a prune, or a type change's second half), never for a user
/// whose plan only adds or updates, nor for one already in line. Counted in the requests Graph
/// received: one methods read per user, plus one preferences read per deleting user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_method_is_read_only_for_users_whose_plan_deletes() {
    let method = |t: &str, n: &str| json!([{"phoneType": t, "phoneNumber": n}]);
    let seed = json!({"users": [
        {"id": "1", "userPrincipalName": "adds@contoso.com"},
        {"id": "2", "userPrincipalName": "updates@contoso.com", "phoneMethods": method("mobile", "+1 2065550002")},
        {"id": "3", "userPrincipalName": "moves@contoso.com", "phoneMethods": method("office", "+1 4255550003")},
        {"id": "4", "userPrincipalName": "same@contoso.com", "phoneMethods": method("mobile", "+1 2065550004")},
    ]});
    let w = World::new(seed).await;
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\nadds@contoso.com,mobile,+1 2065550001\nupdates@contoso.com,mobile,+1 2065559002\n\
         moves@contoso.com,mobile,+1 4255550003\nsame@contoso.com,mobile,+1 2065550004\n",
    );
    let (code, dir) = w.run("plan", &csv, "plan").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&dir)["ops"]["planned"], json!({"add": 2, "update": 1, "delete": 1}));
    let gets: Vec<String> = w.calls().iter().filter(|c| c.method == "GET").map(|c| c.path.clone()).collect();
    let preferences: Vec<&String> = gets.iter().filter(|p| p.ends_with("/signInPreferences")).collect();
    assert_eq!(preferences.len(), 1, "{gets:?}");
    assert!(
        preferences[0].contains("moves%40contoso.com") || preferences[0].contains("moves@contoso.com"),
        "{gets:?}"
    );
    let methods = gets.iter().filter(|p| p.ends_with("/authentication/phoneMethods")).count();
    assert_eq!((methods, gets.len()), (4, 5), "one read per user, one preferences read: {gets:?}");
}

/// An input naming users by UPN and by object id resolves its UPNs fifteen a request: 40 UPNs
/// cost 3 requests, not 40. UPNs with `'`, a guest's `#EXT#` and `%` resolve to their users; a UPN
/// the directory lacks is `not_found`; the person named both ways is one user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upns_are_resolved_fifteen_a_request() {
    let odd = ["o'brien@contoso.com", "ann_fabrikam.com#EXT#@contoso.com", "50%off@contoso.com"];
    let mut users: Vec<serde_json::Value> = odd
        .iter()
        .enumerate()
        .map(|(i, u)| json!({"id": format!("00000000-0000-4000-8000-00000000000{i}"), "userPrincipalName": u}))
        .collect();
    users.extend(
        (0..36).map(|i| json!({"id": format!("10000000-0000-4000-8000-{i:012}"), "userPrincipalName": format!("u{i}@contoso.com")})),
    );
    users.push(json!({"id": KIM, "userPrincipalName": "kim@contoso.com"}));
    let w = World::new(json!({ "users": users })).await;
    let mut csv = String::from("user,phoneType,phoneNumber\n");
    for u in odd
        .iter()
        .map(|u| u.to_string())
        .chain((0..36).map(|i| format!("u{i}@contoso.com")))
    {
        csv.push_str(&format!("\"{u}\",mobile,+1 2065550100\n"));
    }
    csv.push_str(&format!("nobody@contoso.com,mobile,+1 2065550101\n{KIM},mobile,+1 2065550102\n"));
    let (code, dir) = w.run("plan", &w.csv("in.csv", &csv), "plan").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "one user not found");
    let s = summary(&dir);
    assert_eq!(s["targets"]["auth"]["users"]["skipped"], json!({"not_found": 1}), "{s}");
    assert_eq!(s["ops"]["planned"]["add"], 40, "{s}");
    let resolving = w.calls().iter().filter(|c| c.path.contains("$filter=")).count();
    assert_eq!(resolving, 3, "40 UPNs, fifteen a request");
    let lookups = w
        .calls()
        .iter()
        .filter(|c| c.path.contains("$select=id,userPrincipalName") && !c.path.contains("$filter"))
        .count();
    assert_eq!(lookups, 0, "no UPN is looked up alone");
}
