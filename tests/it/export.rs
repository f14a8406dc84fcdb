//! Export: the tenant's phones written as an input file (every user, past the first page of the
//! users list, or the users a list names) with the config that applies it, so an edited export
//! applied is what the tenant then holds; nothing is overwritten.

use crate::targets::profile_table;
use crate::world::{World, assert_journal_safe, assert_spreadsheet_safe, csv_rows, pairs, planned_writes, summary};
use serde_json::json;
use std::process::ExitCode;

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
    let code = w.export(&["--out", out.to_str().unwrap()]).await.unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 1003, "a header and every user, past the first page");
    assert_eq!(lines[0], "user,auth mobile,auth alternateMobile,auth office");
    // Numbers as text formulas a spreadsheet shows as they are (docs/reports.md).
    let a = format!("a@contoso.com,{},,{}", shown("+1 2065550001"), shown("+1 4255550001"));
    assert!(lines.contains(&a.as_str()), "{}", &text[..300]);
    assert!(lines.contains(&"c@contoso.com,,,"));

    // The admin edits: a's mobile changes and a's office goes; b gets an office, c a mobile
    // (typed plainly, as a text editor or a spreadsheet saving the file writes them).
    let edited = text
        .replace(&a, "a@contoso.com,+1 2065559001,,")
        .replace(
            &format!("b@contoso.com,{},,", shown("+1 2065550002")),
            "b@contoso.com,+1 2065550002,,+1 4255559002",
        )
        .replace("c@contoso.com,,,", "c@contoso.com,+1 2065559003,,");
    let input = w.csv("edited.csv", &edited);
    let (code, reports) = w.run_config("apply", &input, "edited", &w.dir.path().join("current.toml")).await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&reports)["ops"]["planned"], json!({"add": 2, "update": 1, "delete": 1}));
    assert_eq!(w.phones("a@contoso.com"), pairs(&[("mobile", "+1 2065559001")]));
    assert_eq!(
        w.phones("b@contoso.com"),
        pairs(&[("mobile", "+1 2065550002"), ("office", "+1 4255559002")])
    );
    assert_eq!(w.phones("c@contoso.com"), pairs(&[("mobile", "+1 2065559003")]));
    assert!(w.phones("u7@contoso.com").is_empty());
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&reports])));

    // Named users only; one the tenant does not have is left out, and the run says so.
    let list = w.csv("users.txt", "user\nb@contoso.com\nnobody@contoso.com\n");
    let some = w.dir.path().join("some.csv");
    let code = w
        .export(&["--out", some.to_str().unwrap(), "--users", list.to_str().unwrap()])
        .await
        .unwrap();
    assert_eq!(code, ExitCode::from(1), "a named user was not found");
    let unread = std::fs::read_to_string(w.dir.path().join("some.unread.csv")).unwrap();
    assert!(unread.contains("nobody@contoso.com (auth),user not found"), "{unread}");
    let text = std::fs::read_to_string(&some).unwrap();
    assert_eq!(
        text.lines().skip(1).collect::<Vec<_>>(),
        [format!("b@contoso.com,{},,{}", shown("+1 2065550002"), shown("+1 4255559002"))]
    );
    // Nothing is overwritten.
    let again = w.export(&["--out", some.to_str().unwrap()]).await;
    assert!(format!("{:#}", again.unwrap_err()).contains("already exists"));
}

/// A phone number as the tool writes it in a CSV (`="…"`), quoted for CSV.
fn shown(number: &str) -> String {
    let cell = phonesync::sheet::phone(number);
    assert!(cell.starts_with("=\""), "{cell}");
    format!("\"{}\"", cell.replace('"', "\"\""))
}

/// UPNs and display names a hostile directory could hold, each beside a plain one.
const HOSTILE_UPNS: [&str; 7] = [
    "=1+2@contoso.com",
    "-cmd@contoso.com",
    "+sum@contoso.com",
    "@calc@contoso.com",
    "＝x@contoso.com",
    "'=q@contoso.com",
    "plain@contoso.com",
];
const HOSTILE_NAMES: [&str; 7] = [
    "=HYPERLINK(\"http://x.example\",\"click\")",
    "@cmd|' /C calc'!A0",
    "-2+3",
    "+SUM(1)",
    "＠A1",
    "'+1",
    "Cell",
];

/// Every CSV the tool writes (rollback.csv, outcomes.csv, rejects.csv, the export and its list
/// of users not read) opens in a spreadsheet without a formula running, and reads back as what
/// it was written from: the rollback of a run over hostile UPNs and display names restores them
/// exactly, and their export planned again plans nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_csv_written_is_spreadsheet_safe_and_reads_back_as_written() {
    let users: Vec<_> = HOSTILE_UPNS
        .iter()
        .zip(HOSTILE_NAMES)
        .enumerate()
        .map(|(i, (upn, name))| {
            json!({"id": format!("0000000{i}-1111-4111-8111-111111111111"), "userPrincipalName": upn,
                "phoneMethods": [{"phoneType": "mobile", "phoneNumber": format!("+1 20655501{i:02}")}],
                "profilePhones": [{"id": format!("p-{i}"), "type": "mobile", "number": format!("+1 206 555 01{i:02}"),
                    "displayName": name, "allowedAudiences": "contacts"}]})
        })
        .collect();
    let w = World::builder(json!({ "users": users }))
        .targets(&["auth", "profile"])
        .prune(true)
        .target("profile", profile_table())
        .build()
        .await;
    let state = |w: &World| -> Vec<_> {
        HOSTILE_UPNS
            .iter()
            .map(|u| {
                let profile: Vec<_> = w
                    .profile_phones(u)
                    .into_iter()
                    .map(|(_, t, n, name)| (t, n.replace(' ', ""), name))
                    .collect();
                (w.phones(u), profile)
            })
            .collect()
    };
    let before = state(&w);
    // Every user's mobile changes; the HR file names them as the tool writes cells, and one row's
    // numbers are formulas, refused.
    let mut hr = String::from("user,phoneType,phoneNumber\n");
    for (i, upn) in HOSTILE_UPNS.iter().enumerate() {
        hr.push_str(&format!(
            "\"{}\",mobile,+1 20655599{i:02}\n",
            phonesync::sheet::text(upn).replace('"', "\"\"")
        ));
    }
    hr.push_str("plain@contoso.com,office,=1+1\nplain@contoso.com,alternateMobile,@SUM(1)\n");
    let (code, dir) = w.run("apply", &w.csv("hr.csv", &hr), "run").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "two rows refused");
    assert_eq!(summary(&dir)["ops"]["planned"], json!({"add": 0, "update": 14, "delete": 0}));
    let quoted: usize = ["rollback.csv", "outcomes.csv", "rejects.csv"]
        .iter()
        .map(|f| assert_spreadsheet_safe(&dir.join(f)))
        .sum();
    assert!(quoted >= 20, "hostile cells were quoted: {quoted}");
    let rejected: Vec<String> = csv_rows(&dir.join("rejects.csv"))
        .iter()
        .map(|r| r["phoneNumber"].clone())
        .collect();
    assert_eq!(rejected, ["=1+1", "@SUM(1)"]);
    let rollback: Vec<(String, String)> = csv_rows(&dir.join("rollback.csv"))
        .iter()
        .map(|r| (r["user"].clone(), r["profile mobile name"].clone()))
        .collect();
    let written: Vec<(String, String)> = HOSTILE_UPNS
        .iter()
        .zip(HOSTILE_NAMES)
        .map(|(u, n)| (u.to_string(), n.to_string()))
        .collect();
    assert_eq!(rollback, written);

    // The rollback, as it says to run it, gives every hostile user back exactly.
    let (code, back) = w
        .run_config("apply", &dir.join("rollback.csv"), "rollback", &dir.join("rollback.toml"))
        .await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&back)["ops"]["planned"], json!({"add": 0, "update": 14, "delete": 0}));
    assert_eq!(state(&w), before);
    assert_journal_safe(&w, Some(&planned_writes(&w, &[&dir, &back])));

    // Their export, and a list naming one the tenant does not have.
    let out = w.dir.path().join("export.csv");
    let list = w.csv("users.txt", &format!("{}\n=evil@contoso.com\n", HOSTILE_UPNS.join("\n")));
    let code = w.export(&["--out", out.to_str().unwrap(), "--users", list.to_str().unwrap()]).await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    assert!(assert_spreadsheet_safe(&out) >= 10);
    let unread = w.dir.path().join("export.unread.csv");
    assert!(assert_spreadsheet_safe(&unread) >= 1);
    assert_eq!(csv_rows(&unread)[0]["user"], "=evil@contoso.com (auth)");
    let (code, again) = w.run_config("plan", &out, "again", &w.dir.path().join("export.toml")).await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&again)["ops"]["planned"], json!({"add": 0, "update": 0, "delete": 0}));
    assert_eq!(summary(&again)["rows"]["rejected"], json!(0));
}

/// A users list naming one person by UPN and by object id exports them once (the first name
/// given), so an edit of their row cannot conflict with a second row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_listed_by_upn_and_by_object_id_is_exported_once() {
    const KIM: &str = "0d9c1a3e-5b1f-4c1e-9a53-7f2c8e1b4a01";
    let w = World::new(json!({"users": [
        {"id": KIM, "userPrincipalName": "kim@contoso.com", "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550001"}]},
        {"id": "1e9c1a3e-5b1f-4c1e-9a53-7f2c8e1b4a02", "userPrincipalName": "lee@contoso.com"},
    ]}))
    .await;
    let list = w.csv("users.txt", &format!("kim@contoso.com\n{}\nlee@contoso.com\n", KIM.to_uppercase()));
    let out = w.dir.path().join("some.csv");
    let code = w.export(&["--out", out.to_str().unwrap(), "--users", list.to_str().unwrap()]).await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    let users: Vec<String> = csv_rows(&out).iter().map(|r| r["user"].clone()).collect();
    assert_eq!(users, ["kim@contoso.com", "lee@contoso.com"]);
    // Applied as exported (with kim's mobile changed): one row per person, no conflict.
    let text = std::fs::read_to_string(&out)
        .unwrap()
        .replace(&shown("+1 2065550001"), "+1 2065550099");
    let (code, dir) = w
        .run_config("apply", &w.csv("edited.csv", &text), "edited", &w.dir.path().join("some.toml"))
        .await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&dir)["ops"]["planned"], json!({"add": 0, "update": 1, "delete": 0}));
    assert_eq!(w.phones("kim@contoso.com"), pairs(&[("mobile", "+1 2065550099")]));
}
