//! Prune: with `plan.prune`, managed phones the input does not name are deleted, for the users
//! it names; and when the input cannot be trusted to say what HR wants (no usable row, a read
//! error, a refused cell, a wide column blank throughout) nothing is pruned.

use crate::world::{Target, World, assert_journal_safe, csv_rows, pairs, summary};
use phonesync_emulator::Fault;
use serde_json::json;
use std::process::ExitCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmanaged_types_and_prune_follow_config() {
    let seed = json!({"users": [{"id": "u1", "userPrincipalName": "a@contoso.com", "phoneMethods": [
        {"phoneType": "mobile", "phoneNumber": "+1 2065550100"}, {"phoneType": "office", "phoneNumber": "+1 4255550100"}]}]});
    let w = World::builder(seed)
        .prune(true)
        .target("auth", Target::managing(&["mobile", "alternateMobile"], &[]))
        .build()
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
    assert_journal_safe(&w, Some(&w.planned_by(&["r", "r2"])));
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
    let w = World::builder(seed).prune(true).build().await;
    // b's phones cannot be read (every attempt refused).
    w.emulator
        .inject([Fault::status(403).only("GET").path("b@contoso.com").times(1000)]);
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
    assert_journal_safe(&w, Some(&w.planned_by(&["r", "r2"])));
}

/// An input with no usable row, with prune on: every row refused, so nothing is known about
/// what HR wants and no phone is deleted; the run exits 1 with the refusals reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_without_a_usable_row_prunes_nothing() {
    let seed = json!({"users": [{"id": "id1", "userPrincipalName": "a@contoso.com", "phoneMethods": [
        {"phoneType": "mobile", "phoneNumber": "+1 2065550001"}, {"phoneType": "office", "phoneNumber": "+1 4255550001"}]}]});
    let w = World::builder(seed).prune(true).build().await;
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,12\na@contoso.com,fax,+1 2065550001\n",
    );
    let (code, dir) = w.run("apply", &csv, "r").await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    assert_eq!(summary(&dir)["ops"]["planned"], json!({"add": 0, "update": 0, "delete": 0}));
    assert_eq!(w.phones("a@contoso.com").len(), 2);
    assert_eq!(csv_rows(&dir.join("rejects.csv")).len(), 2);
    assert_journal_safe(&w, Some(&w.planned_by(&["r"])));
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
    let w = World::builder(seed)
        .prune(true)
        .wide("Email", &[("Mobile", "mobile"), ("Office", "office")])
        .build()
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
    assert_journal_safe(&w, Some(&w.planned_by(&["r"])));
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
    let mut w = World::builder(seed)
        .prune(true)
        .wide("Email", &[("Mobile", "mobile"), ("Office", "office")])
        .build()
        .await;
    // Every cell blank; then only the office column blank.
    let blank = w.csv("blank.csv", "Email,Mobile,Office\nkim@contoso.com,,\nlee@contoso.com,,\n");
    let (code, dir) = w.run("apply", &blank, "blank").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&dir)["ops"]["planned"], json!({"add": 0, "update": 0, "delete": 0}));
    assert_eq!(w.phones("kim@contoso.com").len(), 2);
    // Said to mean it: nobody has these phones, and prune deletes them.
    w.configure(|c| c.input.empty_column_means_none = Some(true));
    let (code, _) = w.run("apply", &blank, "meant").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(w.phones("kim@contoso.com"), []);
    assert_journal_safe(&w, Some(&w.planned_by(&["blank", "meant"])));
}
