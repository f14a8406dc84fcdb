//! Report writer: one folder per run with `plan.md` (for a person to approve), `outcomes.csv`
//! (one row per op), `rejects.csv` (input rows refused) and `summary.json` (counts and timings).
//! The files hold personal data, so the folder and files are created readable by the owner only.

mod markdown;

use crate::executor::{Outcome, Status};
use crate::model::{OpKind, Plan};
use crate::reader::Reject;
use anyhow::{Context, Result};
use serde_json::json;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
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
    /// Planner settings, for the record.
    pub settings: &'a crate::planner::Settings,
    /// Data rows in the input.
    pub rows: u64,
    /// Rows refused.
    pub rejects: &'a [Reject],
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
    /// Writes found applied by a re-read after an ambiguous failure.
    pub confirmed_by_reread: u64,
    /// The lowest request rate the run slowed to because of throttling.
    pub lowest_rate: f64,
}

/// Creates the run's report folder: `explicit`, or a new `<UTC timestamp>-<mode>` under `base`.
pub fn create_dir(base: &Path, explicit: Option<&Path>, mode: Mode, stamp: &str) -> Result<PathBuf> {
    let dir = match explicit {
        Some(d) => d.to_path_buf(),
        None => {
            std::fs::create_dir_all(base).with_context(|| format!("cannot create report folder {}", base.display()))?;
            // Two runs in the same second get distinct folders.
            let mut candidate = base.join(format!("{stamp}-{}", mode.as_str()));
            let mut n = 1;
            while candidate.exists() {
                n += 1;
                candidate = base.join(format!("{stamp}-{}-{n}", mode.as_str()));
            }
            candidate
        }
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .with_context(|| format!("cannot create report folder {}", dir.display()))?;
    Ok(dir)
}

/// Creates (or truncates) a report file readable by the owner only.
fn private_file(path: &Path) -> Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", path.display()))?;
    Ok(file)
}

fn csv_writer(path: &Path) -> Result<csv::Writer<File>> {
    Ok(csv::Writer::from_writer(private_file(path)?))
}

/// Writes `rejects.csv`.
pub fn write_rejects(dir: &Path, rejects: &[Reject]) -> Result<()> {
    let path = dir.join("rejects.csv");
    let mut w = csv_writer(&path)?;
    w.write_record(["line", "user", "phoneType", "phoneNumber", "reason"])?;
    for r in rejects {
        w.write_record([r.line.to_string().as_str(), &r.user, &r.phone_type, &r.phone_number, &r.reason])?;
    }
    w.flush().with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the report files of a finished run (`rejects.csv` is written by [`write_rejects`] as
/// soon as the input is read, so a run that dies still leaves it).
pub fn write_all(dir: &Path, report: &RunReport) -> Result<()> {
    let mut plan_md = private_file(&dir.join("plan.md"))?;
    plan_md
        .write_all(markdown::plan(report).as_bytes())
        .context("cannot write plan.md")?;
    if let Some(outcomes) = report.outcomes {
        write_outcomes(dir, report.plan, outcomes)?;
    }
    let summary = serde_json::to_string_pretty(&summary(report))?;
    private_file(&dir.join("summary.json"))?
        .write_all(summary.as_bytes())
        .context("cannot write summary.json")
}

/// The columns of `outcomes.csv`.
pub const OUTCOME_COLUMNS: [&str; 13] = [
    "user",
    "op",
    "phoneType",
    "before",
    "after",
    "status",
    "httpStatus",
    "errorCode",
    "message",
    "requestId",
    "clientRequestId",
    "attempts",
    "milliseconds",
];

fn write_outcomes(dir: &Path, plan: &Plan, outcomes: &[Outcome]) -> Result<()> {
    let path = dir.join("outcomes.csv");
    let mut w = csv_writer(&path)?;
    w.write_record(OUTCOME_COLUMNS)?;
    for o in outcomes {
        w.write_record([
            o.user.as_str(),
            o.op.kind.as_str(),
            o.op.phone_type.as_str(),
            o.op.before.as_deref().unwrap_or(""),
            o.op.after.as_deref().unwrap_or(""),
            o.status.as_str(),
            &o.http_status.map(|s| s.to_string()).unwrap_or_default(),
            &o.error_code,
            &o.message,
            &o.request_id,
            &o.client_request_id,
            &o.attempts.to_string(),
            &o.elapsed.as_millis().to_string(),
        ])?;
    }
    // Users that got no ops because of a problem get one row each, so this file alone
    // accounts for every user the input named that was not brought in line.
    for u in plan.users.iter().filter(|u| u.skip.is_some()) {
        let reason = u.skip.as_ref().expect("filtered");
        w.write_record([
            u.user.as_str(),
            "none",
            "",
            "",
            "",
            reason.code(),
            "",
            "",
            &reason.to_string(),
            "",
            "",
            "0",
            "0",
        ])?;
    }
    w.flush().with_context(|| format!("cannot write {}", path.display()))
}

/// Op counts of a plan by kind, in the order add, update, delete.
pub fn planned_counts(plan: &Plan) -> Vec<(&'static str, usize)> {
    [OpKind::Add, OpKind::Update, OpKind::Delete]
        .into_iter()
        .map(|k| (k.as_str(), plan.count(k)))
        .collect()
}

/// Outcome counts by status.
pub fn status_counts(outcomes: &[Outcome]) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> = [Status::Succeeded, Status::Failed, Status::Skipped, Status::Blocked]
        .into_iter()
        .map(|s| (s.as_str(), 0))
        .collect();
    for o in outcomes {
        *counts.entry(o.status.as_str()).or_default() += 1;
    }
    counts
}

/// Skipped users by reason code.
pub fn skip_counts(plan: &Plan) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for reason in plan.users.iter().filter_map(|u| u.skip.as_ref()) {
        *counts.entry(reason.code()).or_default() += 1;
    }
    counts
}

fn summary(r: &RunReport) -> serde_json::Value {
    let mut by_op: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for o in r.outcomes.unwrap_or_default() {
        *by_op.entry(o.op.kind.as_str()).or_default().entry(o.status.as_str()).or_default() += 1;
    }
    let unchanged = r.plan.users.iter().filter(|u| u.skip.is_none() && u.ops.is_empty()).count();
    json!({
        "mode": r.mode.as_str(),
        "startedAt": r.started_at,
        "durationMs": r.duration.as_millis() as u64,
        "readMs": r.read_time.as_millis() as u64,
        "applyMs": r.apply_time.as_millis() as u64,
        "input": r.input.display().to_string(),
        "endpoint": r.endpoint,
        "settings": {"managedTypes": r.settings.managed_types, "prune": r.settings.prune},
        "rows": {"read": r.rows, "rejected": r.rejects.len()},
        "users": {
            "read": r.plan.users.len(),
            "withChanges": r.plan.users.iter().filter(|u| !u.ops.is_empty()).count(),
            "unchanged": unchanged,
            "skipped": skip_counts(r.plan),
        },
        "ops": {
            "planned": planned_counts(r.plan).into_iter().collect::<BTreeMap<_, _>>(),
            "byStatus": r.outcomes.map(status_counts),
            "byOp": r.outcomes.map(|_| by_op),
        },
        "requests": r.requests,
        "httpCalls": r.http_calls,
        "throttledRequests": r.throttled,
        "writesConfirmedByReread": r.confirmed_by_reread,
        "lowestRequestsPerSecond": (r.lowest_rate * 10.0).round() / 10.0,
    })
}
