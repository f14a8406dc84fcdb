//! The end of a run: the reports written from what the run did, the closing lines on stdout
//! (counts only, no personal data), and the exit code.

use crate::commands::sync::apply::Applied;
use crate::commands::sync::options::Options;
use crate::commands::sync::source::Source;
use crate::console::count;
use crate::graph::GraphClient;
use crate::model::{Op, OpKind, UserPlan};
use crate::pipeline::executor::{Outcome, Status};
use crate::plan::planned::Planned;
use crate::report::run::{self, Mode, RunReport, TargetInfo};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// When the run's phases started.
pub struct Clock {
    /// The run's start.
    pub started: Instant,
    /// The start, UTC, RFC 3339 (reports).
    pub started_at: String,
    /// The start, UTC, compact (report folder names).
    pub stamp: String,
    /// How long reading and planning took.
    pub read_time: Duration,
    /// When applying started (planning's end, for a plan).
    pub apply_started: Instant,
}

impl Clock {
    /// A clock started now.
    pub fn start() -> Clock {
        let now = time::OffsetDateTime::now_utc();
        let format = |f| now.format(f).unwrap_or_default();
        Clock {
            started: Instant::now(),
            started_at: format(time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")),
            stamp: format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z")),
            read_time: Duration::ZERO,
            apply_started: Instant::now(),
        }
    }
}

/// Everything the reports are made of.
pub struct Finished<'a> {
    /// The command line.
    pub options: &'a Options,
    /// The input as read.
    pub source: &'a Source,
    /// The plan.
    pub planned: &'a Planned,
    /// What apply did (an apply only).
    pub applied: Option<&'a Applied>,
    /// What the run talked to, for people.
    pub endpoint: &'a str,
    /// The transport, for its figures.
    pub api: &'a GraphClient,
    /// The phases' times.
    pub clock: &'a Clock,
    /// The digest of the plan saved (plan) or applied (apply of a saved plan).
    pub digest: Option<&'a str>,
}

impl Finished<'_> {
    /// The report of the run, with `targets` described.
    pub fn report<'b>(&'b self, targets: &'b [TargetInfo], timeline: &'b [[u64; 2]]) -> RunReport<'b> {
        let (options, source, stats) = (self.options, self.source, &self.api.stats);
        RunReport {
            mode: options.mode,
            started_at: self.clock.started_at.clone(),
            input: &options.input,
            endpoint: self.endpoint,
            digest: self.digest,
            targets,
            prune: self.planned.prune,
            unmask: options.unmask,
            refused: self.applied.map_or(&[], |a| &a.refused),
            rows: source.input.rows,
            encoding: &source.encoding,
            delimiter: &source.delimiter,
            rejects: &source.input.rejects,
            notes: &source.input.notes,
            noted: source.input.noted,
            plan: &self.planned.plan,
            outcomes: self.applied.map(|a| a.outcomes.as_slice()),
            duration: self.clock.started.elapsed(),
            read_time: self.clock.read_time,
            apply_time: self.clock.apply_started.elapsed(),
            requests: stats.requests.load(Ordering::Relaxed),
            http_calls: stats.http_calls.load(Ordering::Relaxed),
            throttled: stats.throttled.load(Ordering::Relaxed),
            timeline,
            retries: stats.retries.load(Ordering::Relaxed),
            latency: stats.latency(),
            confirmed_by_reread: stats.confirmed_by_reread.load(Ordering::Relaxed),
            lowest_rate: self.api.lowest_rate(),
        }
    }

    /// The run's exit code once it finished. Without `--detailed-exitcode`: 1 when something
    /// needs a look (a failed op; a finding: a blocked op, a skipped user, a refused row), else
    /// 0, plan and apply alike. With it (plan): 2 when there are changes (ops that will be
    /// sent; a blocked op is none), else 0; findings make it 1 only with
    /// `--fail-on-findings`.
    pub fn exit_code(&self) -> ExitCode {
        let outcomes: &[Outcome] = self.applied.map_or(&[], |a| &a.outcomes);
        let plan = &self.planned.plan;
        // Users whose phones could not be read were not planned: the run failed for them.
        let failed =
            outcomes.iter().any(|o| !matches!(o.status, Status::Succeeded | Status::Blocked)) || plan.skipped_as("read_failed") > 0;
        let findings = plan.skipped_users() > 0 || !self.source.input.rejects.is_empty() || plan.ops().any(|o| o.blocked.is_some());
        let changes = plan.user_plans().any(|(_, u)| sendable(u).contains(&true));
        let code = match (self.options.detailed_exitcode, self.options.fail_on_findings) {
            (false, _) => u8::from(failed || findings),
            (true, fail_on_findings) if failed || (fail_on_findings && findings) => 1,
            (true, _) => 2 * u8::from(changes),
        };
        ExitCode::from(code)
    }
}

/// Writes the closing lines to `out`, ignoring a closed or full stdout (`| head`,
/// `> /dev/full`): the reports are written and the exit code tells what happened either way.
/// One plan line per target, named when the run has more than one.
pub fn print_summary(out: &mut dyn Write, r: &RunReport, dir: &Path) {
    let named = r.plan.targets.len() > 1;
    let label = |what: &str, title: &str| if named { format!("{what} ({title})") } else { what.to_string() };
    for (plan, info) in r.plan.targets.iter().zip(r.targets) {
        // Blocked ops, and ops that wait for one, are reported, not sent: no change.
        let sent: Vec<(&Op, bool)> = plan.users.iter().flat_map(|u| u.ops.iter().zip(sendable(u))).collect();
        let changed = plan.users.iter().filter(|u| sendable(u).contains(&true)).count();
        let blocked = sent.iter().filter(|(_, s)| !s).count();
        let unchanged = plan.in_line();
        let held = match plan.held_back() {
            0 => String::new(),
            n => format!("; {n} left as they are because of rejected rows (see plan.md)"),
        };
        let ops: Vec<String> = [OpKind::Add, OpKind::Update, OpKind::Delete]
            .into_iter()
            .map(|k| (k, sent.iter().filter(|(o, s)| *s && o.kind == k).count()))
            .filter(|(_, n)| *n > 0)
            .map(|(kind, n)| format!("{n} {}", kind.as_str()))
            .collect();
        let blocked = match blocked {
            0 => String::new(),
            n => format!("; {} blocked (see plan.md)", count(n as u64, "op")),
        };
        let plan_label = label("Plan", &info.title);
        let in_line = count(unchanged as u64, "user");
        let _ = if ops.is_empty() {
            writeln!(out, "{plan_label}: nothing to change; {in_line} already in line{held}{blocked}")
        } else {
            writeln!(
                out,
                "{plan_label}: {} for {}; {in_line} already in line{held}{blocked}",
                ops.join(", "),
                count(changed as u64, "user")
            )
        };
        let skips = run::skip_counts(plan);
        if !skips.is_empty() {
            let parts: Vec<String> = skips.iter().map(|(k, n)| format!("{n} {}", k.replace('_', " "))).collect();
            let _ = writeln!(out, "{}: {} (see plan.md)", label("Skipped users", &info.title), parts.join(", "));
        }
    }
    if !r.rejects.is_empty() {
        let _ = writeln!(out, "Rejected rows: {} (see rejects.csv)", r.rejects.len());
    }
    if r.noted > 0 {
        let _ = writeln!(out, "Rows accepted with a note: {} (see plan.md)", r.noted);
    }
    match r.outcomes {
        Some(outcomes) => {
            let s = run::status_counts(outcomes.iter());
            let _ = writeln!(
                out,
                "Applied: {} succeeded, {} failed, {} skipped, {} blocked, {} not started ({} requests, {} throttled) in {:.1} s",
                s["succeeded"],
                s["failed"],
                s["skipped"],
                s["blocked"],
                s["not_started"],
                r.requests,
                r.throttled,
                r.duration.as_secs_f64()
            );
        }
        None if r.plan.op_count() > 0 => {
            let _ = writeln!(
                out,
                "Nothing was changed: this was a plan. To make exactly these changes: phonesync apply {}",
                dir.join("plan.json").display()
            );
        }
        None => {}
    }
    if let Some(digest) = r.digest {
        let _ = match r.mode {
            Mode::Plan => writeln!(
                out,
                "Plan digest: {digest} (approve it; --expect-digest runs this plan and no other)"
            ),
            Mode::Apply => writeln!(out, "Applied the plan with digest {digest}"),
        };
    }
    let _ = writeln!(out, "Reports: {}", dir.display());
}

/// Which of a user's ops will be sent: not blocked, and not waiting for one that is not sent
/// (the executor skips those).
fn sendable(u: &UserPlan) -> Vec<bool> {
    let mut sent: Vec<bool> = Vec::with_capacity(u.ops.len());
    for op in &u.ops {
        let ok = op.blocked.is_none() && op.depends_on.iter().all(|d| sent.get(*d).copied().unwrap_or(false));
        sent.push(ok);
    }
    sent
}
