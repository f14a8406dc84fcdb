//! The vocabulary of a run's reports, shared by every report writer: what kind of run it was,
//! everything the reports are made from ([`RunReport`]), and the counts they all show.

use crate::input::reader::Reject;
use crate::model::{OpKind, Plan, TargetPlan};
use crate::pipeline::executor::{Outcome, Status};
use crate::targets::Target;
use std::collections::BTreeMap;
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
    /// The digest of the plan the run saved (plan) or applied (apply of a saved plan).
    pub digest: Option<&'a str>,
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

impl TargetInfo {
    /// How the reports describe `target`.
    pub fn of(target: &dyn Target) -> TargetInfo {
        TargetInfo {
            name: target.name().to_string(),
            title: target.title().to_string(),
            managed_types: target.settings().managed.clone(),
        }
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
