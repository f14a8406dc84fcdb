//! Convergence: an apply makes the tenant what the HR file says (adds, updates, type changes,
//! users named by UPN or object id, awkward UPNs addressed exactly), a plan writes nothing, and a
//! second apply finds nothing left to do. Asserted on the emulator's state, the reports and the
//! exit code, in-process and through the binary on the embedded emulator.

use crate::world::{
    World, assert_journal_safe, csv_rows, embedded_project, pairs, phonesync, planned_writes, sample, sample_seed, summary, text,
};
use serde_json::json;
use std::process::ExitCode;

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
    // The sample names users by UPN and by object id, so keys are resolved first, fifteen UPNs
    // a request (sam's among them, in one `$filter`); then sam's methods are read; his plan
    // deletes a phone, so his default sign-in method is read; then the add, then the delete.
    assert_eq!(sam_ops, vec!["GET", "GET", "POST", "DELETE"]);
    let resolving = journal.iter().filter(|e| e.path.contains("$filter=")).count();
    assert_eq!(resolving, 1, "the sample's UPNs resolved by one request");

    // Second run: nothing left to do, and no write is sent.
    let before = w.calls().len();
    let (code, second) = w.run("apply", &sample("hr_phones.csv"), "second").await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    assert_eq!(summary(&second)["ops"]["planned"], json!({"add": 0, "update": 0, "delete": 0}));
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&first, &second])));
    let reads = &w.calls()[before..];
    assert!(
        !reads.is_empty() && reads.iter().all(|e| e.method == "GET"),
        "the second run reads, and only reads: {reads:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_run_exits_zero_and_a_plan_writes_nothing() {
    let w = World::new(json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com", "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 4255550100"}]}]})).await;
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,mobile,425-555-0100\n");
    let (code, plan_dir, said) = w.run_and_read("plan", &csv, "plan").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    // The closing lines go to the writer the library is given, counts and paths only.
    let plan_json = plan_dir.join("plan.json");
    assert_eq!(
        said,
        format!(
            "Plan: 1 add, 1 delete for 1 user; 0 users already in line\n\
             Nothing was changed: this was a plan. To make exactly these changes: phonesync apply {}\n\
             Plan digest: {} (approve it; --expect-digest runs this plan and no other)\n\
             Reports: {}\n",
            plan_json.display(),
            serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&plan_json).unwrap()).unwrap()["digest"]
                .as_str()
                .unwrap(),
            plan_dir.display()
        )
    );
    assert_eq!(
        w.phones("a@contoso.com"),
        pairs(&[("office", "+1 4255550100")]),
        "plan changes nothing"
    );
    let calls = w.calls();
    assert!(
        !calls.is_empty() && calls.iter().all(|e| e.method == "GET"),
        "a plan reads, and only reads: {calls:?}"
    );
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
