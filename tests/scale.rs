//! A generated tenant of a few thousand users, run end to end: the generated HR file is fully
//! usable, one apply converges, a second plans nothing, and the journal keeps its invariants.

mod common;

use common::{World, assert_journal_invariants, summary};
use phonesync_emulator::generate;
use std::process::ExitCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_tenant_converges_in_one_apply() {
    let generated = generate::generate(2_000, 11, 0.1);
    let w = World::with_config(serde_json::to_value(&generated.seed).unwrap(), "").await;
    std::fs::write(
        &w.config,
        std::fs::read_to_string(&w.config)
            .unwrap()
            .replace("concurrency = 4", "concurrency = 16"),
    )
    .unwrap();
    let mut csv = Vec::new();
    generated.write_csv(&mut csv).unwrap();
    let input = w.csv("hr.csv", std::str::from_utf8(&csv).unwrap());

    let (code, first) = w.run("apply", &input, "first").await;
    let s = summary(&first);
    assert_eq!(s["rows"]["rejected"], 0, "every generated row is usable: {s}");
    assert_eq!(s["targets"]["auth"]["users"]["skipped"], serde_json::json!({}), "{s}");
    assert_eq!(code.unwrap(), ExitCode::SUCCESS, "{s}");
    assert_eq!(
        s["targets"]["auth"]["users"]["withChanges"], generated.changed_users,
        "each changed user gets a plan: {s}"
    );
    assert_eq!(s["ops"]["byStatus"]["failed"], 0);

    let (code, second) = w.run("apply", &input, "second").await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    assert_eq!(summary(&second)["targets"]["auth"]["users"]["withChanges"], 0);
    assert_journal_invariants(&w.emulator.changes());
}

#[test]
#[should_panic(expected = "went down to 0 methods")]
fn the_invariant_checker_catches_a_delete_before_its_add() {
    let change =
        |op: &'static str, t: &'static str, before: Option<&str>, after: Option<&str>, b: usize, a: usize| phonesync_emulator::Change {
            user_id: "u".into(),
            op,
            phone_type: t,
            before: before.map(str::to_string),
            after: after.map(str::to_string),
            methods_before: b,
            methods_after: a,
            resource: Default::default(),
            item_id: None,
            display_name: None,
        };
    // office → mobile done the wrong way round: delete first, then add.
    assert_journal_invariants(&[
        change("delete", "office", Some("+1 1"), None, 1, 0),
        change("add", "mobile", None, Some("+1 1"), 0, 1),
    ]);
}

#[test]
#[should_panic(expected = "duplicate add")]
fn the_invariant_checker_catches_a_duplicate_add() {
    let add = phonesync_emulator::Change {
        user_id: "u".into(),
        op: "add",
        phone_type: "mobile",
        before: None,
        after: Some("+1 1".into()),
        methods_before: 0,
        methods_after: 1,
        resource: Default::default(),
        item_id: None,
        display_name: None,
    };
    assert_journal_invariants(&[add.clone(), add]);
}
