//! Export: the tenant's phones written as an input file (every user, past the first page of the
//! users list, or the users a list names) with the config that applies it, so an edited export
//! applied is what the tenant then holds; nothing is overwritten.

use crate::world::{World, assert_journal_safe, pairs, planned_writes, summary};
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
    assert!(lines.contains(&"a@contoso.com,+1 2065550001,,+1 4255550001"), "{}", &text[..300]);
    assert!(lines.contains(&"c@contoso.com,,,"));

    // The admin edits: a's mobile changes and a's office goes; b gets an office, c a mobile.
    let edited = text
        .replace("a@contoso.com,+1 2065550001,,+1 4255550001", "a@contoso.com,+1 2065559001,,")
        .replace("b@contoso.com,+1 2065550002,,", "b@contoso.com,+1 2065550002,,+1 4255559002")
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
        ["b@contoso.com,+1 2065550002,,+1 4255559002"]
    );
    // Nothing is overwritten.
    let again = w.export(&["--out", some.to_str().unwrap()]).await;
    assert!(format!("{:#}", again.unwrap_err()).contains("already exists"));
}
