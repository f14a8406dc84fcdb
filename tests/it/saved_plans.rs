//! Saved plans: `plan --out plan.json` saves what an apply will do; `apply plan.json` executes
//! exactly it, per user, or skips a user changed since as stale, and refuses a saved plan for
//! `plan`, for another tenant, damaged, or under a config that would not have planned it.

use crate::world::{Target, World, assert_journal_safe, pairs, summary};
use serde_json::json;
use std::process::ExitCode;

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
    let mut w = World::new(seed).await;
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
        (Some("phonesync-plan"), Some(2))
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

    // Between planning and applying: someone changes b's mobile, and the HR file itself changes
    // too.
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
    let calls = &w.calls()[before..];
    assert!(
        !calls.is_empty() && calls.iter().all(|c| c.method == "GET"),
        "the users the plan touches are read again, and nothing is written: {calls:?}"
    );
    assert_eq!(w.phones("a@contoso.com"), pairs(&[("mobile", "+1 2065550101")]));

    // A saved plan is for apply, and for the tenant it was planned against.
    let (code, _) = w.run("plan", &saved, "plan-of-plan").await;
    assert!(format!("{:#}", code.unwrap_err()).contains("is a saved plan"));
    w.configure(|c| c.auth.tenant_id = "fabrikam".into());
    let (code, _) = w.run("apply", &saved, "elsewhere").await;
    assert!(format!("{:#}", code.unwrap_err()).contains("another tenant"));
    w.configure(|c| c.auth.tenant_id = "contoso".into());

    // Nor under a config that would not have planned it, nor when damaged: refused, unwritten.
    let before = w.calls().len();
    let mut edited: serde_json::Value = serde_json::from_str(&text).unwrap();
    edited["targets"][0]["users"][0]["plan"]["ops"][0]["depends_on"] = json!([3]);
    let damaged = w.csv("damaged.json", &edited.to_string());
    let (code, _) = w.run("apply", &damaged, "damaged").await;
    let e = format!("{:#}", code.unwrap_err());
    assert!(e.contains("changed after it was made (target auth, user a@contoso.com"), "{e}");
    w.configure(|c| {
        c.target.insert("auth".into(), Target::managing(&["office"], &[]));
    });
    let (code, _) = w.run("apply", &saved, "reconfigured").await;
    assert!(format!("{:#}", code.unwrap_err()).contains("changed since this plan was made"));
    assert_eq!(w.calls().len(), before, "refused before anything was sent");
    assert_journal_safe(&w, Some(&w.planned_by(&["other", "apply", "again"])));
}

/// What was approved is what runs: a plan whose number was edited after review is refused naming
/// the user, and nothing is sent; `--expect-digest` (or PHONESYNC_EXPECT_DIGEST) runs only the
/// approved plan, refuses another one, and refuses an HR file planned and applied unreviewed.
/// plan.md, summary.json and the console carry the digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_plan_is_refused_and_only_the_approved_digest_runs() {
    let seed = json!({"users": [
        {"id": "id1", "userPrincipalName": "kim@contoso.com", "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550001"}]},
        {"id": "id2", "userPrincipalName": "lee@contoso.com", "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550002"}]},
    ]});
    let w = World::new(seed).await;
    let csv = w.csv(
        "hr.csv",
        "user,phoneType,phoneNumber\nkim@contoso.com,mobile,+1 2065550101\nlee@contoso.com,mobile,+1 2065550102\n",
    );
    let approved = w.dir.path().join("approved.json");
    let (code, plan_dir, console) = w
        .run_and_read_with_args("plan", &csv, "plan", &["--out", approved.to_str().unwrap()])
        .await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    let text = std::fs::read_to_string(&approved).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let digest = json["digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    assert!(console.contains(&format!("Plan digest: {digest}")), "{console}");
    let md = std::fs::read_to_string(plan_dir.join("plan.md")).unwrap();
    assert!(md.contains(&format!("Plan digest: `{digest}`")), "{md}");
    assert_eq!(summary(&plan_dir)["planDigest"], json!(digest));

    // An insider edits one number between review and apply: refused, naming the user; nothing sent.
    let before = w.calls().len();
    let mut edited = json.clone();
    edited["targets"][0]["users"][0]["plan"]["ops"][0]["after"] = json!("+1 9005550666");
    let tampered = w.csv("tampered.json", &serde_json::to_string_pretty(&edited).unwrap());
    let (code, _) = w.run("apply", &tampered, "tampered").await;
    let e = format!("{:#}", code.unwrap_err());
    assert!(e.contains("changed after it was made (target auth, user kim@contoso.com"), "{e}");
    assert_eq!(w.calls().len(), before, "refused before anything was read or sent");
    assert_eq!(w.phones("kim@contoso.com"), pairs(&[("mobile", "+1 2065550001")]));

    // The pipeline names the approved digest: another plan (a fresh, self-consistent one) is
    // refused, by flag and by environment; an HR file may not run at all.
    let (code, _) = w
        .run_with_args(
            "plan",
            &w.csv("other.csv", "user,phoneType,phoneNumber\nkim@contoso.com,mobile,+1 9005550666\n"),
            "other",
            &[],
        )
        .await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    let other = w.reports("other").join("plan.json");
    let before = w.calls().len();
    let (code, _) = w.run_with_args("apply", &other, "wrong-flag", &["--expect-digest", &digest]).await;
    assert!(format!("{:#}", code.unwrap_err()).contains("not the approved plan"));
    let env = |d: &str| {
        let mut env = w.env();
        env.set("PHONESYNC_EXPECT_DIGEST", d);
        env
    };
    let (code, _) = w.run_env("apply", &other, "wrong-env", env(&digest)).await;
    assert!(format!("{:#}", code.unwrap_err()).contains("not the approved plan"));
    let (code, _) = w.run_env("apply", &csv, "hr-env", env(&digest)).await;
    assert!(format!("{:#}", code.unwrap_err()).contains("only the approved plan may run"));
    let (code, _) = w
        .run_with_args("apply", &approved, "malformed", &["--expect-digest", "sha256:abc"])
        .await;
    assert!(format!("{:#}", code.unwrap_err()).contains("not a plan digest"));
    assert_eq!(w.calls().len(), before, "every refusal came before Graph was asked anything");

    // The approved plan runs, named by its digest without its prefix and in capitals too.
    let bare = digest.trim_start_matches("sha256:").to_uppercase();
    let (code, dir) = w.run_with_args("apply", &approved, "approved", &["--expect-digest", &bare]).await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(w.phones("kim@contoso.com"), pairs(&[("mobile", "+1 2065550101")]));
    assert_eq!(w.phones("lee@contoso.com"), pairs(&[("mobile", "+1 2065550102")]));
    assert_eq!(summary(&dir)["planDigest"], json!(digest));
    assert_journal_safe(&w, Some(&w.planned_by(&["approved"])));
}
