//! Tests of the report files as written to disk, and the fixtures they share with the other
//! report modules' tests.

use super::*;
use crate::model::{Op, Plan, SkipReason, UserPlan};
use crate::pipeline::executor::{Audit, Outcome, Status};
use crate::report::run::{Mode, TargetInfo, status_counts};
use crate::sheet::{phone_from_cell, text_from_cell};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// An op; built from JSON so fields the model adds later keep their defaults.
pub(super) fn op(kind: &str, phone_type: &str, before: Option<&str>, after: Option<&str>, reason: &str) -> Op {
    serde_json::from_value(json!({
        "kind": kind, "phone_type": phone_type, "before": before, "after": after,
        "depends_on": [], "blocked": null, "reason": reason,
    }))
    .expect("an Op")
}

/// How `op` of `user` ended.
pub(super) fn outcome(user: &str, op: &Op, status: Status, message: &str) -> Outcome {
    Outcome {
        target: "auth".into(),
        user: user.into(),
        op: op.clone(),
        status,
        http_status: (status == Status::Succeeded).then_some(201),
        error_code: String::new(),
        message: message.into(),
        request_id: "req-1".into(),
        client_request_id: format!("cid-{user}-{}", op.phone_type),
        attempts: 1,
        elapsed: Duration::from_millis(12),
    }
}

/// A plan of the `auth` target alone.
pub(super) fn auth_plan(users: Vec<UserPlan>) -> Plan {
    Plan {
        targets: vec![crate::model::TargetPlan {
            target: "auth".into(),
            users,
        }],
    }
}

/// A user with `ops`.
fn user(name: &str, ops: Vec<Op>) -> UserPlan {
    UserPlan {
        user: name.into(),
        ops,
        skip: None,
        notes: Vec::new(),
        held_back: false,
    }
}

/// A report of an `apply` run over `plan`.
pub(super) fn apply_report<'a>(plan: &'a Plan, rejects: &'a [Reject], outcomes: &'a [Outcome]) -> RunReport<'a> {
    RunReport {
        mode: Mode::Apply,
        started_at: "2025-01-01T00:00:00Z".into(),
        input: Path::new("hr.csv"),
        endpoint: "test",
        digest: None,
        targets: Box::leak(
            plan.targets
                .iter()
                .map(|t| TargetInfo {
                    name: t.target.clone(),
                    title: t.target.clone(),
                    managed_types: Vec::new(),
                })
                .collect(),
        ),
        prune: false,
        unmask: true,
        refused: &[],
        rows: 3,
        encoding: "utf-8",
        delimiter: ",",
        rejects,
        notes: &[],
        noted: 0,
        plan,
        outcomes: Some(outcomes),
        duration: Duration::ZERO,
        read_time: Duration::ZERO,
        apply_time: Duration::ZERO,
        requests: 0,
        http_calls: 0,
        throttled: 0,
        timeline: &[],
        confirmed_by_reread: 0,
        retries: 0,
        latency: None,
        lowest_rate: 0.0,
    }
}

/// A new report folder in a temporary folder.
fn report_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = create_dir(tmp.path(), None, Mode::Apply, "t").unwrap();
    (tmp, dir)
}

/// A report CSV as header-keyed rows, the way the integration tests read them.
fn csv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .map(str::to_string)
                .zip(rec.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn reject(user: &str, phone_number: &str, reason: &str) -> Reject {
    Reject {
        line: 2,
        column: "phoneNumber".into(),
        user: user.into(),
        phone_type: "mobile".into(),
        phone_number: phone_number.into(),
        reason: reason.into(),
    }
}

#[test]
fn rejects_csv_cells_cannot_run_as_formulas() {
    let (_tmp, dir) = report_dir();
    let rejects = [
        reject("=cmd|' /C calc'!A0", "+1 206 555", "@SUM(A1)"),
        reject("alex@contoso.com", "206-555-0100", "not a number"),
    ];
    write_rejects(&dir, &rejects).unwrap();
    let rows = csv_rows(&dir.join("rejects.csv"));
    assert_eq!(rows[0]["user"], "'=cmd|' /C calc'!A0");
    assert_eq!(rows[0]["phoneNumber"], "'+1 206 555", "raw HR text follows the free-text rule");
    assert_eq!(rows[0]["reason"], "'@SUM(A1)");
    for (row, r) in rows.iter().zip(&rejects) {
        assert_eq!(text_from_cell(&row["user"]), r.user);
        assert_eq!(text_from_cell(&row["phoneNumber"]), r.phone_number);
    }
    assert_eq!(rows[1]["user"], "alex@contoso.com");
    assert_eq!(rows[1]["line"], "2");
}

#[test]
fn the_outcome_log_is_on_disk_after_every_row_and_the_final_file_is_compact() {
    let (_tmp, dir) = report_dir();
    let (add, delete) = (
        op("add", "mobile", None, Some("+1 2065555555"), "new"),
        op("delete", "office", Some("+44 2079460958x12"), None, "prune"),
    );
    let plan = auth_plan(vec![
        user("a@contoso.com", vec![add.clone()]),
        UserPlan::skipped("gone@contoso.com", SkipReason::NotFound),
        user("-b@contoso.com", vec![delete.clone()]),
    ]);
    let outcomes = [
        outcome("a@contoso.com", &add, Status::Succeeded, ""),
        outcome(
            "-b@contoso.com",
            &delete,
            Status::NotStarted,
            "not started: the run was interrupted",
        ),
    ];
    let log = OutcomeLog::create(&dir).unwrap();
    let path = dir.join("outcomes.csv");
    assert!(csv_rows(&path).is_empty(), "the header is on disk at once");
    log.started("auth", "a@contoso.com", &add, "cid-1");
    let rows = csv_rows(&path);
    assert_eq!(rows.len(), 1, "a started row is on disk before the op is sent");
    assert_eq!(
        (rows[0]["status"].as_str(), rows[0]["clientRequestId"].as_str()),
        (STARTED, "cid-1")
    );
    // Settled out of plan order, as parallel workers do.
    log.settled(&outcomes[1]);
    log.settled(&outcomes[0]);
    let live: Vec<String> = csv_rows(&path).iter().map(|r| r["status"].clone()).collect();
    assert_eq!(live, ["started", "not_started", "succeeded"]);
    assert_eq!(log.error(), None);

    write_all(&dir, &apply_report(&plan, &[], &outcomes), Some(log)).unwrap();
    let rows = csv_rows(&path);
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r["user"].as_str(), r["op"].as_str(), r["status"].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("a@contoso.com", "add", "succeeded"),
            ("'-b@contoso.com", "delete", "not_started"),
            ("gone@contoso.com", "none", "not_found"),
        ],
        "final rows only, in plan order, then skipped users"
    );
    assert_eq!(rows[0]["after"], "=\"+1 2065555555\"");
    assert_eq!(phone_from_cell(&rows[0]["after"]), "+1 2065555555");
    assert_eq!(phone_from_cell(&rows[1]["before"]), "+44 2079460958x12");
    assert_eq!(rows[1]["message"], "not started: the run was interrupted");
    assert_eq!(rows[2]["message"], "user not found in the directory");
    assert_eq!(rows[0]["httpStatus"], "201");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        4,
        "plan.md, report.html, outcomes.csv, summary.json; no temporary file left behind: {names:?}"
    );

    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["ops"]["byStatus"]["not_started"], 1);
    assert_eq!(summary["ops"]["byStatus"]["succeeded"], 1);
}

#[test]
fn status_counts_include_every_status() {
    let counts = status_counts(&[]);
    let names: Vec<&str> = counts.keys().copied().collect();
    assert_eq!(names, ["blocked", "failed", "not_started", "skipped", "succeeded"]);
}

#[cfg(unix)]
#[test]
fn a_planted_symlink_is_neither_followed_nor_overwritten() {
    let (tmp, dir) = report_dir();
    let target = tmp.path().join("target");
    std::fs::write(&target, "keep").unwrap();
    for name in ["rejects.csv", "outcomes.csv", "plan.md"] {
        std::os::unix::fs::symlink(&target, dir.join(name)).unwrap();
    }
    let err = write_rejects(&dir, &[reject("x", "y", "z")]).unwrap_err();
    assert!(format!("{err:#}").contains("already exists"), "{err:#}");
    assert!(OutcomeLog::create(&dir).is_err());
    let plan = Plan::default();
    assert!(
        write_all(&dir, &apply_report(&plan, &[], &[]), None).is_err(),
        "plan.md is a symlink"
    );
    std::fs::remove_file(dir.join("plan.md")).unwrap();
    // outcomes.csv is rewritten by renaming a new file over the name: the link is replaced.
    write_all(&dir, &apply_report(&plan, &[], &[]), None).unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert!(std::fs::symlink_metadata(dir.join("outcomes.csv")).unwrap().is_file());
}

#[cfg(unix)]
#[test]
fn report_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (_tmp, dir) = report_dir();
    write_rejects(&dir, &[]).unwrap();
    let log = OutcomeLog::create(&dir).unwrap();
    write_all(&dir, &apply_report(&Plan::default(), &[], &[]), Some(log)).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for f in ["plan.md", "outcomes.csv", "rejects.csv", "summary.json"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
}

#[test]
fn plan_md_shows_outside_text_as_text() {
    let evil = op(
        "add",
        "mobile",
        None,
        Some("<img src=x>"),
        "![i](http://evil) [x](http://evil)\n| injected | row |",
    );
    let plan = auth_plan(vec![
        UserPlan {
            notes: vec!["=cmd|' /C calc'!A0".into()],
            ..user("<script>alert(1)</script>", vec![evil.clone()])
        },
        UserPlan::skipped("a\u{202E}moc.evil", SkipReason::ReadFailed("*boom*".into())),
    ]);
    let outcomes = [outcome("x", &evil, Status::Failed, "`rm -rf` _now_")];
    let rejects = [reject("[x](http://evil)", "", "bad\r\nrow")];
    let md = markdown::plan(&apply_report(&plan, &rejects, &outcomes));
    for raw in ["<script>", "<img", "](http", "![", "\u{202E}", "`rm -rf`", "_now_", "*boom*", "\r"] {
        assert!(!md.contains(raw), "{raw:?} in\n{md}");
    }
    assert!(md.contains("### &lt;script&gt;alert\\(1\\)&lt;/script&gt;"), "{md}");
    assert!(!md.lines().any(|l| l.starts_with("| injected")), "{md}");
    assert!(md.contains("a\\u{202E}moc.evil"), "{md}");
    assert!(md.contains("Note: =cmd\\|' /C calc'\\!A0\n"), "{md}");
    assert!(md.contains("failed: \\`rm -rf\\` \\_now\\_ |"), "{md}");
    assert!(
        md.contains("| 2 | phoneNumber | \\[x\\]\\(http\\://evil\\) | bad\\u{000D}\\u{000A}row |"),
        "{md}"
    );
}

#[test]
fn threads_writing_one_outcome_log_at_once_leave_every_row_whole_and_once() {
    let (_tmp, dir) = report_dir();
    let log = OutcomeLog::create(&dir).unwrap();
    let (threads, per_thread) = (8, 200);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let log = &log;
            scope.spawn(move || {
                for i in 0..per_thread {
                    let user = format!("user{t}-{i}@contoso.com");
                    let op = op("add", "mobile", None, Some("+1 2065550100"), "wanted");
                    let id = format!("op-{t}-{i}");
                    log.started("auth", &user, &op, &id);
                    log.settled(&Outcome {
                        client_request_id: id,
                        ..outcome(&user, &op, Status::Failed, "refused, with a comma and \"quotes\"")
                    });
                }
            });
        }
    });
    log.finish().unwrap();
    let rows = csv_rows(&dir.join("outcomes.csv"));
    assert_eq!(rows.len(), threads * per_thread * 2, "a started and a final row per op");
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for row in &rows {
        assert_eq!(row.len(), OUTCOME_COLUMNS.len(), "a whole row: {row:?}");
        let message = if row["status"] == STARTED {
            ""
        } else {
            "refused, with a comma and \"quotes\""
        };
        assert_eq!(row["message"], message, "{row:?}");
        assert!(row["user"].starts_with("user") && row["user"].ends_with("@contoso.com"), "{row:?}");
        *seen.entry((row["clientRequestId"].clone(), row["status"].clone())).or_default() += 1;
    }
    assert_eq!(seen.len(), threads * per_thread * 2, "every op's started and final row, once each");
    assert!(seen.values().all(|n| *n == 1));
}
