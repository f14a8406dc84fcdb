//! A generated tenant of a few thousand users, run end to end: the generated HR file is fully
//! usable, one apply converges, a second plans nothing, and the journal checker passes.

use crate::world::{World, assert_journal_safe, summary};
use phonesync_emulator::generate;
use std::process::ExitCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_tenant_converges_in_one_apply() {
    let generated = generate::generate(2_000, 11, 0.1);
    let w = World::builder(serde_json::to_value(&generated.seed).unwrap())
        .concurrency(16)
        .build()
        .await;
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
    assert_journal_safe(&w, Some(&w.planned_by(&["first", "second"])));
}
