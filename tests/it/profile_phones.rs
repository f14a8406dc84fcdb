//! Profile phones as admins expect them: a new HR number updates the phone in place (one PATCH,
//! the item's id, display name and audiences kept), duplicates heal with prune, a saved plan of a
//! nationally written number applies as planned, a `$batch` refused after it ran its creates
//! makes no second copy, and a list Graph pages is read whole.

use crate::targets::profile_table;
use crate::world::{World, assert_journal_safe, csv_rows, embedded_project, phonesync, planned_writes, summary, text};
use phonesync_emulator::{Effect, Fault};
use serde_json::json;
use std::process::ExitCode;

/// The user's profile phones as (id, type, number without spaces, display name), in order.
fn items(w: &World, upn: &str) -> Vec<(String, String, String, String)> {
    w.profile_phones(upn)
        .into_iter()
        .map(|(id, t, n, name)| (id, t, n.replace(' ', ""), name))
        .collect()
}

/// The committed config (both targets, prune off) and a user whose one profile mobile is
/// `+1 206 555 0100` "Cell": an HR row giving `+1 206 555 0199` for mobile ends with one profile
/// mobile of the new number, the same item (id, display name, audience), made by one PATCH; a
/// second run plans nothing.
#[test]
fn a_new_hr_number_updates_the_profile_phone_in_place_under_the_committed_config() {
    let dir = embedded_project();
    let tenant = json!({"users": [{"id": "11111111-1111-4111-8111-111111111111", "userPrincipalName": "kim@contoso.com",
        "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550199"}],
        "profilePhones": [{"id": "p-1", "type": "mobile", "number": "+1 206 555 0100", "displayName": "Cell", "allowedAudiences": "contacts"}]}]});
    std::fs::write(dir.path().join("samples/tenant.json"), tenant.to_string()).unwrap();
    std::fs::write(
        dir.path().join("hr.csv"),
        "user,phoneType,phoneNumber\nkim@contoso.com,mobile,+1 206 555 0199\n",
    )
    .unwrap();
    let run = phonesync(dir.path(), &["apply", "hr.csv", "--report-dir", "first"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let outcomes = csv_rows(&dir.path().join("first/outcomes.csv"));
    let sent: Vec<(&str, &str, &str)> = outcomes
        .iter()
        .filter(|o| o["op"] != "none")
        .map(|o| (o["target"].as_str(), o["op"].as_str(), o["status"].as_str()))
        .collect();
    assert_eq!(sent, [("profile", "update", "succeeded")], "one PATCH and nothing else");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".phonesync/emulator-state.json")).unwrap()).unwrap();
    let phones = &state["users"][0]["profilePhones"];
    assert_eq!(phones.as_array().map(Vec::len), Some(1), "{phones}");
    assert_eq!(
        (
            &phones[0]["id"],
            &phones[0]["type"],
            &phones[0]["number"],
            &phones[0]["displayName"],
            &phones[0]["allowedAudiences"]
        ),
        (
            &json!("p-1"),
            &json!("mobile"),
            &json!("+1 2065550199"),
            &json!("Cell"),
            &json!("contacts")
        )
    );
    let plan_md = std::fs::read_to_string(dir.path().join("first/plan.md")).unwrap();
    // The number change in words, masked like every number in plan.md.
    assert!(
        plan_md.contains(
            r"| ~ update | mobile | +1 206 \*\*\* \*\*00 | +1 206\*\*\*\*\*99 | number +1 206 \*\*\* \*\*00 → +1 206\*\*\*\*\*99"
        ),
        "{plan_md}"
    );
    let rollback = csv_rows(&dir.path().join("first/rollback.csv"));
    assert_eq!(
        (rollback[0]["profile mobile"].as_str(), rollback[0]["profile mobile name"].as_str()),
        ("+1 206 555 0100", "Cell"),
        "the way back names the old number"
    );
    let again = phonesync(dir.path(), &["plan", "hr.csv", "--report-dir", "again"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(
        summary(&dir.path().join("again"))["ops"]["planned"],
        json!({"add": 0, "update": 0, "delete": 0})
    );
    // The rollback gives the old number back to the same item.
    let back = phonesync(
        dir.path(),
        &[
            "apply",
            "first/rollback.csv",
            "--config",
            "first/rollback.toml",
            "--report-dir",
            "back",
        ],
    );
    assert_eq!(back.status.code(), Some(0), "{}", text(&back));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(".phonesync/emulator-state.json")).unwrap()).unwrap();
    let phones = &state["users"][0]["profilePhones"];
    assert_eq!(
        (phones.as_array().map(Vec::len), &phones[0]["id"], &phones[0]["number"]),
        (Some(1), &json!("p-1"), &json!("+1 2065550100"))
    );
}

/// Two profile mobiles of one number (an earlier tool's or two overlapping runs' doing): with
/// prune the newer copy is deleted and the oldest kept; without prune plan.md lists them with
/// the hint, and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_profile_phones_heal_with_prune_keeping_the_oldest() {
    let seed = json!({"users": [{"id": "id1", "userPrincipalName": "kim@contoso.com", "profilePhones": [
        {"id": "new", "type": "mobile", "number": "+1 206 555 0100", "createdDateTime": "2025-06-01T00:00:00Z"},
        {"id": "old", "type": "mobile", "number": "+1 206 555 0100", "createdDateTime": "2024-06-01T00:00:00Z"}]}]});
    let csv = "user,phoneType,phoneNumber\nkim@contoso.com,mobile,+1 206 555 0100\n";
    let w = World::builder(seed.clone())
        .targets(&["profile"])
        .target("profile", profile_table())
        .build()
        .await;
    let input = w.csv("in.csv", csv);
    let (code, dir) = w.run("plan", &input, "kept").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&dir)["ops"]["planned"], json!({"add": 0, "update": 0, "delete": 0}));
    let plan_md = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    assert!(
        plan_md.contains("several profile phones hold the number") && plan_md.contains("run with prune"),
        "{plan_md}"
    );

    let w = World::builder(seed)
        .targets(&["profile"])
        .target("profile", profile_table())
        .prune(true)
        .build()
        .await;
    let input = w.csv("in.csv", csv);
    let (code, dir) = w.run("apply", &input, "healed").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&dir)["ops"]["planned"], json!({"add": 0, "update": 0, "delete": 1}));
    let left: Vec<String> = items(&w, "kim@contoso.com").into_iter().map(|i| i.0).collect();
    assert_eq!(left, ["old"], "the oldest copy stays");
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

/// A profile phone stored in national form (`(206) 555-0123`, as people type them): a saved plan
/// that changes it applies as planned (the fit check reads numbers as the planner does), not as
/// `stale … was plan.json edited?`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_of_a_nationally_written_profile_phone_applies_as_planned() {
    let seed = json!({"users": [{"id": "id1", "userPrincipalName": "kim@contoso.com", "profilePhones": [
        {"id": "p1", "type": "mobile", "number": "(206) 555-0123", "displayName": "Old"}]}]});
    let w = World::builder(seed)
        .targets(&["profile"])
        .target("profile", profile_table())
        .build()
        .await;
    let input = w.csv("in.csv", "user,phoneType,phoneNumber\nkim@contoso.com,mobile,+1 206 555 0199\n");
    let (code, dir) = w.run("plan", &input, "plan").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    let (code, applied) = w.run("apply", &dir.join("plan.json"), "apply").await;
    assert_eq!(
        code.unwrap(),
        ExitCode::SUCCESS,
        "{}",
        std::fs::read_to_string(applied.join("plan.md")).unwrap()
    );
    assert_eq!(summary(&applied)["targets"]["profile"]["users"]["skipped"], json!({}));
    assert_eq!(
        items(&w, "kim@contoso.com"),
        [(
            "p1".to_string(),
            "mobile".to_string(),
            "+12065550199".to_string(),
            "Old".to_string()
        )]
    );
}

/// A `$batch` answered 429 after Graph ran its items (unconfirmed that Graph does, so the client
/// must not assume it did not): the profile create it held is read back before it would be sent
/// again, so the user ends with one copy, and the journal shows no second create.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_envelope_that_ran_its_creates_makes_no_second_copy() {
    let seed = json!({"users": [{"id": "id1", "userPrincipalName": "kim@contoso.com"}]});
    let w = World::builder(seed)
        .targets(&["profile"])
        .target("profile", profile_table())
        .build()
        .await;
    // The first `$batch` reads kim's phones; the second carries the create.
    w.emulator
        .inject([Fault::effect(Effect::Applied(429)).only("$batch").skip(1).retry_after("0")]);
    let input = w.csv("in.csv", "user,phoneType,phoneNumber\nkim@contoso.com,mobile,+1 206 555 0101\n");
    let (code, dir) = w.run("apply", &input, "apply").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert!(w.emulator.pending_faults().is_empty(), "the fault fired");
    assert_eq!(items(&w, "kim@contoso.com").len(), 1, "{:?}", items(&w, "kim@contoso.com"));
    assert!(
        summary(&dir)["writesConfirmedByReread"].as_u64().unwrap() >= 1,
        "read back, not resent"
    );
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}

/// Graph pages a user's profile phones (whether it does by default is unconfirmed; the emulator
/// here pages by 2): five phones are read across three pages, none missed or doubled, so a run
/// naming all five plans nothing, and one naming a new number for the fifth updates that item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_phones_read_across_pages_are_all_seen_once() {
    let numbers = ["+1 2065550101", "+1 2065550102", "+1 2065550103", "+1 2065550104", "+1 2065550105"];
    let phones: Vec<serde_json::Value> = numbers
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"id": format!("p{i}"), "type": "mobile", "number": n, "createdDateTime": format!("2024-01-0{}T00:00:00Z", i + 1)}))
        .collect();
    let seed = json!({"users": [{"id": "id1", "userPrincipalName": "kim@contoso.com", "profilePhones": phones}]});
    let from: Vec<(String, &str)> = (1..=5).map(|i| (format!("m{i}"), "mobile")).collect();
    let from: Vec<(&str, &str)> = from.iter().map(|(i, t)| (i.as_str(), *t)).collect();
    let w = World::builder(seed)
        .emulator(crate::world::pinned(phonesync_emulator::Options {
            profile_page_size: Some(2),
            ..Default::default()
        }))
        .targets(&["profile"])
        .target("profile", crate::world::Target::managing(&["mobile"], &from))
        .prune(true)
        .build()
        .await;
    let rows = |fifth: &str| {
        let mut csv = String::from("user,phoneType,phoneNumber\n");
        for (i, n) in numbers[..4].iter().enumerate() {
            csv.push_str(&format!("kim@contoso.com,m{},{n}\n", i + 1));
        }
        csv.push_str(&format!("kim@contoso.com,m5,{fifth}\n"));
        csv
    };
    let input = w.csv("all.csv", &rows(numbers[4]));
    let (code, dir) = w.run("plan", &input, "all").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&dir)["ops"]["planned"], json!({"add": 0, "update": 0, "delete": 0}));
    let reads = w.calls().iter().filter(|c| c.path.contains("profile/phones")).count();
    assert!(reads >= 3, "three pages read: {reads}");

    let input = w.csv("new.csv", &rows("+1 2065550199"));
    let (code, dir) = w.run("apply", &input, "new").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&dir)["ops"]["planned"], json!({"add": 0, "update": 1, "delete": 0}));
    let now = items(&w, "kim@contoso.com");
    assert_eq!(now.len(), 5, "{now:?}");
    assert_eq!(now[4], ("p4".into(), "mobile".into(), "+12065550199".into(), String::new()));
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
}
