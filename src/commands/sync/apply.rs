//! The apply stage of a run: the way back written before the first write (rollback files),
//! type changes recorded as begun, the plan executed through the worker pool with every op
//! audited as it goes, and the type changes that finished recorded as done.

use crate::config::Config;
use crate::console;
use crate::graph::GraphClient;
use crate::interrupt::Stop;
use crate::model::OpKind;
use crate::pipeline::executor::{self, Outcome, Status};
use crate::pipeline::moves::Moves;
use crate::plan::planned::Planned;
use crate::progress;
use crate::report::{OutcomeLog, snapshot};
use anyhow::Result;
use std::path::Path;

/// What applying a plan did.
pub struct Applied {
    /// One outcome per op.
    pub outcomes: Vec<Outcome>,
    /// Targets Graph refused outright (permission), with why.
    pub refused: Vec<(String, String)>,
    /// The audit the outcomes were written to as they happened (taken by the reports).
    pub audit: Option<OutcomeLog>,
    /// An error after writes were made: returned once every report is written.
    pub late_error: Option<anyhow::Error>,
}

/// Where the apply runs: the client, its concurrency, and the run's stop.
pub struct Apply<'a> {
    /// The transport.
    pub api: &'a GraphClient,
    /// Users in flight.
    pub concurrency: usize,
    /// No banners or progress.
    pub quiet: bool,
    /// The run's stop.
    pub stop: &'a Stop,
}

impl Apply<'_> {
    /// Writes the rollback files, then executes `planned`; `moves` records type changes begun
    /// and finished.
    pub async fn run(&self, planned: &Planned, config: &Config, report_dir: &Path, moves: &mut Moves) -> Result<Applied> {
        let (plan, targets) = (&planned.plan, &planned.targets);
        // The way back, before the first write.
        let snapshot = snapshot::rollback(report_dir, config, targets, plan, &planned.current)?;
        if snapshot > 0 && !self.quiet {
            console::info(&format!(
                "Prior state of the {} this run changes: {} (see {})",
                console::count(snapshot as u64, "user"),
                report_dir.join(snapshot::CSV).display(),
                report_dir.join(snapshot::TOML).display()
            ));
        }
        moves.begin(plan, |t, u| planned.read_ok.contains(&(t.to_string(), u.to_string())))?;
        let audit = OutcomeLog::create(report_dir)?;
        let bar = progress::bar(plan.op_count() as u64, "apply", self.quiet, Some(self.api.stats.throttled.clone()));
        let execution = executor::execute(self.api, targets, plan, self.concurrency, &bar, &audit, self.stop).await;
        bar.finish_and_clear();
        for (target, why) in &execution.refused {
            // Said once, whatever the number of ops it cost; never hidden by --quiet.
            console::error(&format!("({target}) {why}"));
        }
        let outcomes = execution.outcomes;
        // From here on writes were made: a failure to record the moves must not cost the reports.
        let recorded = moves.finish(|target, user, from| {
            outcomes.iter().any(|o| {
                o.target == target
                    && o.user.to_lowercase() == user
                    && o.op.kind == OpKind::Delete
                    && o.op.phone_type == from
                    && o.status == Status::Succeeded
            })
        });
        Ok(Applied {
            outcomes,
            refused: execution.refused,
            audit: Some(audit),
            late_error: recorded.err(),
        })
    }
}
