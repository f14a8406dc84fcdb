//! Both targets in one run: one HR file drives sign-in phone methods and profile phones
//! together, each through its own rules, and the run converges; Graph refusing app-only profile
//! writes costs one explanation, not one error per op; a row for one target licenses no prune in
//! the other.

use crate::world::{Target, World, assert_journal_safe, csv_rows, pinned, planned_writes, summary};
use phonesync_emulator::Options;
use serde_json::json;
use std::process::ExitCode;

/// The profile target's table: `mobile` and `business` managed, fed by `mobile` and `office`.
pub fn profile_table() -> Target {
    Target::managing(&["mobile", "business"], &[("mobile", "mobile"), ("office", "business")])
}

/// A world running `targets` in that order, the profile target with [`profile_table`].
async fn both_targets(seed: serde_json::Value, options: Options, targets: &[&str]) -> World {
    World::builder(seed)
        .emulator(pinned(options))
        .targets(targets)
        .target("profile", profile_table())
        .build()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hr_file_syncs_both_targets_and_a_second_run_plans_nothing() {
    let seed = json!({"users": [
        // a: the office phone becomes the mobile (auth: add then delete); in the profile the
        // business item with that number becomes mobile in place and gets the HR name.
        {"id": "u1", "userPrincipalName": "a@contoso.com",
         "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 4255550100"}],
         "profilePhones": [{"id": "p-a", "type": "business", "number": "+1 425 555 0100", "displayName": "Desk"}]},
        // b: only the display name of the profile phone differs.
        {"id": "u2", "userPrincipalName": "b@contoso.com",
         "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550200"}],
         "profilePhones": [{"id": "p-b", "type": "mobile", "number": "+1 206 555 0200", "displayName": "Cell"}]},
        // c: nothing in the profile yet; the office row adds a business phone there.
        {"id": "u3", "userPrincipalName": "c@contoso.com", "phoneMethods": []}
    ]});
    let w = both_targets(seed, Options::default(), &["auth", "profile"]).await;
    let csv = w.csv(
        "hr.csv",
        "user,phoneType,phoneNumber,displayName\n\
         a@contoso.com,mobile,425-555-0100,Work mobile\n\
         b@contoso.com,mobile,206-555-0200,Mobile\n\
         c@contoso.com,office,425-555-0300,Desk\n",
    );
    let (code, first) = w.run("apply", &csv, "first").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);

    // Sign-in phones: a's number moved from office to mobile; c got an office phone.
    assert_eq!(w.phones("a@contoso.com"), [("mobile".to_string(), "+1 4255550100".to_string())]);
    assert_eq!(w.phones("c@contoso.com"), [("office".to_string(), "+1 4255550300".to_string())]);
    // Profile phones: updated in place (same ids), never added and deleted.
    assert_eq!(
        w.profile_phones("a@contoso.com"),
        [("p-a".into(), "mobile".into(), "+1 425 555 0100".into(), "Work mobile".into())]
    );
    assert_eq!(
        w.profile_phones("b@contoso.com"),
        [("p-b".into(), "mobile".into(), "+1 206 555 0200".into(), "Mobile".into())]
    );
    let c = w.profile_phones("c@contoso.com");
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        (c[0].1.as_str(), c[0].2.as_str(), c[0].3.as_str()),
        ("business", "+1 4255550300", "Desk")
    );

    // The reports tell the targets apart.
    let rows = csv_rows(&first.join("outcomes.csv"));
    let ops: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| (r["target"].as_str(), r["user"].as_str(), r["op"].as_str(), r["phoneType"].as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("auth", "a@contoso.com", "add", "mobile"),
            ("auth", "a@contoso.com", "delete", "office"),
            ("auth", "c@contoso.com", "add", "office"),
            ("profile", "a@contoso.com", "update", "mobile"),
            ("profile", "b@contoso.com", "update", "mobile"),
            ("profile", "c@contoso.com", "add", "business"),
        ]
    );
    assert!(rows.iter().all(|r| r["status"] == "succeeded"), "{rows:?}");
    let s = summary(&first);
    assert_eq!(s["targets"]["auth"]["ops"]["planned"], json!({"add": 2, "update": 0, "delete": 1}));
    assert_eq!(
        s["targets"]["profile"]["ops"]["planned"],
        json!({"add": 1, "update": 2, "delete": 0})
    );
    let plan_md = std::fs::read_to_string(first.join("plan.md")).unwrap();
    let auth_at = plan_md.find("## Changes: sign-in phone methods (auth)").expect("auth section");
    let profile_at = plan_md.find("## Changes: profile phones (profile)").expect("profile section");
    assert!(auth_at < profile_at, "{plan_md}");
    assert!(plan_md[profile_at..].contains("type business → mobile"), "{plan_md}");
    assert!(plan_md[profile_at..].contains("'Cell' → 'Mobile'"), "{plan_md}");
    // Each op's result sits beside it, in its own target's section.
    assert_eq!(plan_md[auth_at..profile_at].matches("| succeeded |").count(), 3, "{plan_md}");
    assert_eq!(plan_md[profile_at..].matches("| succeeded |").count(), 3, "{plan_md}");
    assert!(
        plan_md[profile_at..].contains("\\(name: Desk\\)"),
        "the name an add sets: {plan_md}"
    );

    // The journal: every write planned, none twice, none before what it depends on.
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&first])));
    let profile_writes = w
        .emulator
        .changes()
        .into_iter()
        .filter(|c| c.resource == phonesync_emulator::Resource::ProfilePhones)
        .count();
    assert_eq!(profile_writes, 3);

    // Second run: nothing to plan in either target, and only reads are sent.
    let before = w.calls().len();
    let (code, second) = w.run("apply", &csv, "second").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    let s = summary(&second);
    for target in ["auth", "profile"] {
        assert_eq!(
            s["targets"][target]["ops"]["planned"],
            json!({"add": 0, "update": 0, "delete": 0}),
            "{target}: {s}"
        );
    }
    let reads = &w.calls()[before..];
    assert!(reads.len() >= 6, "both targets read every user: {}", reads.len());
    assert!(reads.iter().all(|e| e.method == "GET"), "second run only reads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_app_only_profile_writes_are_reported_once_and_the_rest_is_not_sent() {
    const USERS: usize = 200;
    let users: Vec<_> = (0..USERS)
        .map(|i| json!({"id": format!("u{i}"), "userPrincipalName": format!("u{i}@contoso.com")}))
        .collect();
    let mut csv = String::from("user,phoneType,phoneNumber\n");
    for i in 0..USERS {
        csv.push_str(&format!("u{i}@contoso.com,mobile,206-555-{:04}\n", 1000 + i));
    }
    let options = Options {
        profile_app_only_forbidden: true,
        ..Options::default()
    };
    // Profile first: the sign-in phones come after the refusal and must not be held back by it.
    let w = both_targets(json!({ "users": users }), options, &["profile", "auth"]).await;
    let csv = w.csv("hr.csv", &csv);
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "profile ops failed");

    // Sign-in phones are not held back by the profile target's refusal.
    for i in 0..USERS {
        assert_eq!(w.phones(&format!("u{i}@contoso.com")).len(), 1, "u{i}");
    }
    let rows = csv_rows(&dir.join("outcomes.csv"));
    let profile: Vec<_> = rows.iter().filter(|r| r["target"] == "profile").collect();
    assert_eq!(profile.len(), USERS);
    assert!(profile.iter().all(|r| r["status"] == "failed"), "{profile:?}");
    let sent: Vec<_> = profile.iter().filter(|r| r["httpStatus"] == "403").collect();
    let not_sent: Vec<_> = profile.iter().filter(|r| r["errorCode"] == "refusedForRun").collect();
    // Only writes already on their way when the first 403 came back were sent: at most one
    // `$batch` of 20 per call in flight (4 calls).
    assert!(!sent.is_empty() && sent.len() <= 4 * 20, "sent {}", sent.len());
    assert!(not_sent.len() >= USERS - 80, "withheld {}", not_sent.len());
    assert_eq!(sent.len() + not_sent.len(), USERS);
    assert!(sent.iter().all(|r| r["errorCode"] == "Authorization_RequestDenied"), "{sent:?}");
    assert!(not_sent.iter().all(|r| r["message"].contains("device_code")), "{not_sent:?}");
    let profile_posts = w
        .calls()
        .iter()
        .filter(|c| c.method == "POST" && c.path.contains("/profile/phones"))
        .count();
    assert_eq!(profile_posts, sent.len(), "the journal shows the same few writes");

    // Said once, with what to do.
    let s = summary(&dir);
    let why = s["targets"]["profile"]["refusedForRun"].as_str().expect("refusal recorded");
    assert!(why.contains("device_code") && why.contains("Authorization_RequestDenied"), "{why}");
    assert!(s["targets"]["auth"]["refusedForRun"].is_null());
    let plan_md = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    assert_eq!(plan_md.matches("writes refused for this run").count(), 1, "{plan_md}");
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

/// With both targets and prune on, a row meant for the other target (here a rejected profile
/// `home` row, the user's only one) must not let prune delete sign-in phones, and a valid row for
/// one target says nothing about the other's phones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_for_one_target_never_licenses_a_prune_in_the_other() {
    let seed = json!({"users": [
        {"id": "u1", "userPrincipalName": "a@contoso.com",
         "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550100"}, {"phoneType": "office", "phoneNumber": "+1 4255550100"}],
         "profilePhones": [{"id": "p1", "type": "home", "number": "+1 206 555 0199"}]},
        {"id": "u2", "userPrincipalName": "b@contoso.com",
         "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550200"}],
         "profilePhones": [{"id": "p2", "type": "pager", "number": "+1 206 555 0299"}]}
    ]});
    // Default profile table: every profile type managed and fed.
    let w = World::builder(seed).targets(&["auth", "profile"]).prune(true).build().await;
    let csv = w.csv(
        "hr.csv",
        "user,phoneType,phoneNumber\na@contoso.com,home,not a number\nb@contoso.com,alternateMobile,206-555-0201\n",
    );
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "a rejected row");
    assert_eq!(w.phones("a@contoso.com").len(), 2, "a's sign-in phones stay");
    assert_eq!(
        w.profile_phones("a@contoso.com").len(),
        1,
        "a's home phone stays: its row was rejected"
    );
    // b's only row is for sign-in phones (pruning b's mobile there is infeasible, so b is
    // skipped there); it says nothing about profile phones, so b's pager stays.
    assert_eq!(w.profile_phones("b@contoso.com").len(), 1, "b's pager stays: b has no profile row");
    let deletes = csv_rows(&dir.join("outcomes.csv"))
        .into_iter()
        .filter(|r| r["op"] == "delete")
        .count();
    assert_eq!(deletes, 0);
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}
