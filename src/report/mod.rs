//! Report writer: one folder per run with `plan.md` (for a person to approve), `outcomes.csv`
//! (one row per op), `rejects.csv` (input rows refused) and `summary.json` (counts and timings).
//! The files hold personal data, so the folder and files are new, created readable by the owner
//! only and never through a symlink (`files`). The CSVs are safe to open in a spreadsheet
//! ([`crate::sheet`]); the text in `plan.md` cannot render as anything but text (`markdown`).
//! `outcomes.csv` is written as the run goes, so a killed run still leaves its audit
//! ([`OutcomeLog`]).

mod files;
pub mod html;
mod markdown;
mod outcomes;
pub mod run;
pub mod snapshot;
mod summary;

pub use files::{Unfinished, create_dir};
pub use outcomes::{OUTCOME_COLUMNS, OutcomeLog, STARTED};

use crate::input::reader::Reject;
use crate::sheet::{Cell, CsvFile};
use anyhow::{Context, Result};
use run::RunReport;
use std::io::Write;
use std::path::Path;

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
    let summary = serde_json::to_string_pretty(&summary::summary(report, log_error_text.as_deref()))?;
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

#[cfg(test)]
mod tests;
