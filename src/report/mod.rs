//! Report writer: one folder per run with `plan.md` (for a person to approve), `outcomes.csv`
//! (one row per op), `rejects.csv` (input rows refused) and `summary.json` (counts and timings).
//! The files hold personal data, so the folder and files are new, created readable by the owner
//! only and never through a symlink (`files`). The CSVs are safe to open in a spreadsheet
//! ([`cell`]); the text in `plan.md` cannot render as anything but text (`markdown`).
//! `outcomes.csv` is written as the run goes, so a killed run still leaves its audit
//! ([`OutcomeLog`]).

pub mod cell;
mod csvfile;
mod files;
pub mod html;
mod markdown;
mod outcomes;

pub use files::create_dir;
pub use outcomes::{OUTCOME_COLUMNS, OutcomeLog, STARTED};

use crate::executor::{Outcome, Status};
use crate::model::{OpKind, Plan, TargetPlan};
use crate::reader::Reject;
use anyhow::{Context, Result};
use csvfile::{Cell, CsvFile};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Whether the run changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read and plan only.
    Plan,
    /// Read, plan, and execute.
    Apply,
}

impl Mode {
    /// Lowercase name, used in folder names and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Plan => "plan",
            Mode::Apply => "apply",
        }
    }
}

/// Everything a run's reports are made from.
#[derive(Debug)]
pub struct RunReport<'a> {
    /// Plan or apply.
    pub mode: Mode,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// The input file.
    pub input: &'a Path,
    /// What the run talked to, for people (e.g. "embedded Graph emulator").
    pub endpoint: &'a str,
    /// The run's targets, in plan order, for the record.
    pub targets: &'a [TargetInfo],
    /// Whether prune was on.
    pub prune: bool,
    /// Numbers in `plan.md` in full (`--unmask`) rather than masked.
    pub unmask: bool,
    /// Targets whose writes Graph refused for the whole run: (target, explanation).
    pub refused: &'a [(String, String)],
    /// Data rows in the input.
    pub rows: u64,
    /// The input's text encoding and delimiter, as read.
    pub encoding: &'a str,
    /// See `encoding`.
    pub delimiter: &'a str,
    /// Rows refused.
    pub rejects: &'a [Reject],
    /// Rows accepted with a caveat (the reason is the caveat): the first ones.
    pub notes: &'a [Reject],
    /// Rows accepted with a caveat, all of them.
    pub noted: u64,
    /// The plan.
    pub plan: &'a Plan,
    /// Op results (apply only).
    pub outcomes: Option<&'a [Outcome]>,
    /// Wall time of the run.
    pub duration: Duration,
    /// Time spent reading current state.
    pub read_time: Duration,
    /// Time spent executing the plan (zero for a plan run).
    pub apply_time: Duration,
    /// Graph operations sent (single requests and `$batch` items, retries included).
    pub requests: u64,
    /// HTTP calls made (a `$batch` of 20 is one).
    pub http_calls: u64,
    /// Requests answered 429.
    pub throttled: u64,
    /// Requests sent and throttled in each second of the run.
    pub timeline: &'a [[u64; 2]],
    /// Attempts after the first.
    pub retries: u64,
    /// HTTP call times, if any call was answered.
    pub latency: Option<crate::graph::stats::Latency>,
    /// Writes found applied by a re-read after an ambiguous failure.
    pub confirmed_by_reread: u64,
    /// The lowest request rate the run was paced at (the resource-unit budget's rate, or the flat
    /// ceiling when lower): the configured rate when Graph never slowed it.
    pub lowest_rate: f64,
}

/// A target as the reports describe it.
#[derive(Debug, Clone)]
pub struct TargetInfo {
    /// Its name in config (`auth`).
    pub name: String,
    /// What it is, for people (`sign-in phone methods`).
    pub title: String,
    /// Its managed types.
    pub managed_types: Vec<String>,
}

/// Writes `rejects.csv` (a new file), as soon as the input is read so a run that dies later
/// still leaves it.
pub fn write_rejects(dir: &Path, rejects: &[Reject]) -> Result<()> {
    let path = dir.join("rejects.csv");
    let file = files::new_file(&path)?;
    let write = || -> std::io::Result<()> {
        let mut csv = CsvFile::new(file, &REJECT_COLUMNS)?;
        for r in rejects {
            use Cell::Text;
            let line = r.line.to_string();
            csv.row(&[
                Text(&line),
                Text(&r.column),
                Text(&r.user),
                Text(&r.phone_type),
                Text(&r.phone_number),
                Text(&r.reason),
            ])?;
        }
        csv.flush()
    };
    write().with_context(|| format!("cannot write {}", path.display()))
}

/// The columns of `rejects.csv`.
pub const REJECT_COLUMNS: [&str; 6] = ["line", "column", "user", "phoneType", "phoneNumber", "reason"];

/// Writes the report files of a finished run: `plan.md`, `summary.json` and, for `apply`, the
/// final `outcomes.csv`, which replaces the live `log` (closed first). When the live log met a
/// write error, every file is still written, the error is recorded in `summary.json`
/// (`outcomeLogError`), and then returned: the run's audit was not durable while it ran.
pub fn write_all(dir: &Path, report: &RunReport, log: Option<OutcomeLog>) -> Result<()> {
    let log_error = log.and_then(|l| l.finish().err());
    files::new_file(&dir.join("plan.md"))?
        .write_all(markdown::plan(report).as_bytes())
        .context("cannot write plan.md")?;
    files::new_file(&dir.join("report.html"))?
        .write_all(html::page(report).as_bytes())
        .context("cannot write report.html")?;
    if let Some(outcomes) = report.outcomes {
        outcomes::write_final(dir, report.plan, outcomes)?;
    }
    let log_error_text = log_error.as_ref().map(|e| format!("{e:#}"));
    let summary = serde_json::to_string_pretty(&summary(report, log_error_text.as_deref()))?;
    files::new_file(&dir.join("summary.json"))?
        .write_all(summary.as_bytes())
        .context("cannot write summary.json")?;
    match log_error {
        Some(e) => Err(e.context(format!(
            "outcomes.csv could not be kept up to date during the run; it was rewritten in full at the end and the reports in {} are complete",
            dir.display()
        ))),
        None => Ok(()),
    }
}

/// Op counts of a target's plan by kind, in the order add, update, delete.
pub fn planned_counts(plan: &TargetPlan) -> Vec<(&'static str, usize)> {
    [OpKind::Add, OpKind::Update, OpKind::Delete]
        .into_iter()
        .map(|k| (k.as_str(), plan.count(k)))
        .collect()
}

/// Outcome counts by status (every status present, zero or not).
pub fn status_counts<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> = [
        Status::Succeeded,
        Status::Failed,
        Status::Skipped,
        Status::Blocked,
        Status::NotStarted,
    ]
    .into_iter()
    .map(|s| (s.as_str(), 0))
    .collect();
    for o in outcomes {
        *counts.entry(o.status.as_str()).or_default() += 1;
    }
    counts
}

/// Skipped users of a target's plan by reason code.
pub fn skip_counts(plan: &TargetPlan) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for reason in plan.users.iter().filter_map(|u| u.skip.as_ref()) {
        *counts.entry(reason.code()).or_default() += 1;
    }
    counts
}

/// `summary.json`; `log_error` is the first write error of the live outcome log, if any. Counts
/// are given per target (`targets`), and ops also in total.
fn summary(r: &RunReport, log_error: Option<&str>) -> serde_json::Value {
    let outcomes = r.outcomes.unwrap_or_default();
    let by_op = |target: Option<&str>| {
        let mut by_op: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
        for o in outcomes.iter().filter(|o| target.is_none_or(|t| o.target == t)) {
            *by_op.entry(o.op.kind.as_str()).or_default().entry(o.status.as_str()).or_default() += 1;
        }
        by_op
    };
    let targets: serde_json::Map<String, serde_json::Value> = r
        .plan
        .targets
        .iter()
        .zip(r.targets)
        .map(|(plan, info)| {
            let mine = || outcomes.iter().filter(|o| o.target == plan.target);
            let value = json!({
                "title": info.title,
                "managedTypes": info.managed_types,
                "users": {
                    "read": plan.users.len(),
                    "withChanges": plan.users.iter().filter(|u| !u.ops.is_empty()).count(),
                    "unchanged": plan.in_line(),
                    "heldBackByRejectedRows": plan.held_back(),
                    "skipped": skip_counts(plan),
                },
                "ops": {
                    "planned": planned_counts(plan).into_iter().collect::<BTreeMap<_, _>>(),
                    "byStatus": r.outcomes.map(|_| status_counts(mine())),
                    "byOp": r.outcomes.map(|_| by_op(Some(&plan.target))),
                },
                "refusedForRun": r.refused.iter().find(|(t, _)| *t == plan.target).map(|(_, why)| why),
            });
            (plan.target.clone(), value)
        })
        .collect();
    let planned: BTreeMap<&str, usize> = [OpKind::Add, OpKind::Update, OpKind::Delete]
        .into_iter()
        .map(|k| (k.as_str(), r.plan.count(k)))
        .collect();
    json!({
        "mode": r.mode.as_str(),
        "startedAt": r.started_at,
        "durationMs": r.duration.as_millis() as u64,
        "readMs": r.read_time.as_millis() as u64,
        "applyMs": r.apply_time.as_millis() as u64,
        "input": r.input.display().to_string(),
        "endpoint": r.endpoint,
        "settings": {"targets": r.targets.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), "prune": r.prune},
        "rows": {"read": r.rows, "rejected": r.rejects.len(), "noted": r.noted},
        "inputFile": {"encoding": r.encoding, "delimiter": r.delimiter},
        "targets": targets,
        "ops": {
            "planned": planned,
            "byStatus": r.outcomes.map(status_counts),
            "byOp": r.outcomes.map(|_| by_op(None)),
        },
        "requests": r.requests,
        "httpCalls": r.http_calls,
        "throttledRequests": r.throttled,
        "retries": r.retries,
        "httpCallMs": r.latency.map(|l| json!({"p50": l.p50, "p95": l.p95})),
        "writesConfirmedByReread": r.confirmed_by_reread,
        "lowestRequestsPerSecond": (r.lowest_rate * 10.0).round() / 10.0,
        "outcomeLogError": log_error,
    })
}

#[cfg(test)]
mod tests;
