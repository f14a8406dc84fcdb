//! Rollback: before its first write, apply leaves rollback.csv and rollback.toml, the prior
//! state of every user it changes; applying them puts those users back exactly as they were, in
//! both targets, and a type the input format cannot write back is left alone.

use crate::targets::profile_table;
use crate::world::{
    World, assert_journal_safe, assert_journal_safe_since, csv_rows, embedded_project, pairs, phonesync, planned_writes, summary, text,
};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

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
    let w = World::builder(seed).prune(true).build().await;
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
    let snapshot = dir.join("rollback.csv");
    let (plan, reports) = w.run_config("plan", &snapshot, "rollback-plan", &rollback_config).await;
    assert_eq!(plan.unwrap(), ExitCode::SUCCESS);
    assert_eq!(
        summary(&reports)["ops"]["planned"],
        json!({"add": 2, "update": 1, "delete": 2}),
        "add a's office and b's office, update a's mobile, delete b's mobile and c's"
    );
    // The migration's own journal was safe; so is the rollback's, checked on its own (each
    // run's floors are its users' counts before and after that run).
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));
    let from = w.journal_mark();
    let (apply, rollback) = w.run_config("apply", &snapshot, "rollback", &rollback_config).await;
    assert_eq!(apply.unwrap(), ExitCode::SUCCESS);
    let restored: Vec<_> = users.iter().map(|u| w.phones(u)).collect();
    assert_eq!(restored, before, "every user exactly as before the migration");
    assert_journal_safe_since(&w, from, Some(&planned_writes(&w, &[&rollback])));
}

/// A user holding two named profile mobiles and an HR file naming only an office phone: with
/// prune the run deletes both mobiles and adds a business phone. rollback.csv holds both mobiles
/// with their names (a column each, oldest first), and applying it gives back exactly what the
/// user had: both mobiles with their names, and no business phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_gives_back_several_named_phones_of_one_type() {
    let seed = json!({"users": [{"id": "id1", "userPrincipalName": "kim@contoso.com", "profilePhones": [
        {"type": "mobile", "number": "+44 7911 123456", "displayName": "UK", "createdDateTime": "2024-01-01T00:00:00Z"},
        {"type": "mobile", "number": "+44 7911 123457", "displayName": "UK2", "createdDateTime": "2025-01-01T00:00:00Z"}]}]});
    let w = World::builder(seed)
        .targets(&["profile"])
        .prune(true)
        .target("profile", profile_table())
        .build()
        .await;
    let before = |w: &World| {
        let mut p: Vec<(String, String, String)> = w
            .profile_phones("kim@contoso.com")
            .into_iter()
            .map(|(_, t, n, name)| (t, n.replace(' ', ""), name))
            .collect();
        p.sort();
        p
    };
    let had = before(&w);
    assert_eq!(had.len(), 2);
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\nkim@contoso.com,office,+1 425 555 0100\n");
    let (code, dir) = w.run("apply", &csv, "run").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(
        w.profile_phones("kim@contoso.com").into_iter().map(|p| p.1).collect::<Vec<_>>(),
        ["business"],
        "both mobiles pruned"
    );
    let rows = csv_rows(&dir.join("rollback.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    let cell = |k: &str| rows[0][k].replace(' ', "");
    assert_eq!(
        (
            cell("profile mobile"),
            cell("profile mobile name"),
            cell("profile mobile 2"),
            cell("profile mobile 2 name")
        ),
        ("+447911123456".into(), "UK".into(), "+447911123457".into(), "UK2".into()),
        "{rows:?}"
    );
    assert_eq!(cell("profile business"), "", "kim had no business phone");
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir])));

    // The rollback, checked on its own: kim's count went down in the run it undoes.
    let from = w.journal_mark();
    let (code, reports) = w
        .run_config("apply", &dir.join("rollback.csv"), "rollback", &dir.join("rollback.toml"))
        .await;
    let plan_md = std::fs::read_to_string(reports.join("plan.md")).unwrap_or_default();
    assert_eq!(code.unwrap(), ExitCode::SUCCESS, "{plan_md}");
    assert_eq!(summary(&reports)["ops"]["planned"], json!({"add": 2, "update": 0, "delete": 1}));
    assert_eq!(before(&w), had, "both mobiles with their names, and no business phone");
    assert_journal_safe_since(&w, from, Some(&planned_writes(&w, &[&reports])));
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
        csv.starts_with(
            "user,auth mobile,auth alternateMobile,auth office,profile mobile,profile mobile name,profile business,profile business name\n"
        ),
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
