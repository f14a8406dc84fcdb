//! `outcomes.csv`, the audit of what `apply` did. While the run goes, [`OutcomeLog`] appends a
//! `started` row before an op's first request is sent and the op's final row when it settles,
//! flushing each, so a run that is killed (even with SIGKILL) leaves a record of every write it
//! may have made: a `started` row with no final row of the same `clientRequestId` is a write
//! whose fate is unknown. At the end, [`write_final`] rewrites the file compactly: final rows
//! only, in plan order, then one row per skipped user.

use crate::model::{Op, Plan, UserPlan};
use crate::pipeline::executor::{Audit, Outcome};
use crate::report::files;
use crate::sheet::{Cell, CsvFile};
use anyhow::{Context, Result, bail};
use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// The file's name in the report folder.
pub(super) const FILE: &str = "outcomes.csv";

/// The columns of `outcomes.csv` (the order `Row::write` writes them in).
pub const OUTCOME_COLUMNS: [&str; 16] = [
    "user",
    "target",
    "op",
    "phoneType",
    "itemId",
    "before",
    "after",
    "displayName",
    "status",
    "httpStatus",
    "errorCode",
    "message",
    "requestId",
    "clientRequestId",
    "attempts",
    "milliseconds",
];

/// The `status` of a log row written before an op's first request; only the live log has it.
pub const STARTED: &str = "started";

/// One row of `outcomes.csv`; unset columns are empty.
#[derive(Default)]
struct Row<'a> {
    user: &'a str,
    target: &'a str,
    op: &'a str,
    phone_type: &'a str,
    item_id: &'a str,
    before: &'a str,
    after: &'a str,
    display_name: &'a str,
    status: &'a str,
    http_status: String,
    error_code: &'a str,
    message: Cow<'a, str>,
    request_id: &'a str,
    client_request_id: &'a str,
    attempts: String,
    milliseconds: String,
}

impl<'a> Row<'a> {
    /// The columns every row about an op has.
    fn op(target: &'a str, user: &'a str, op: &'a Op, status: &'a str) -> Row<'a> {
        Row {
            user,
            target,
            op: op.kind.as_str(),
            phone_type: op.phone_type.as_str(),
            item_id: op.item_id.as_deref().unwrap_or(""),
            before: op.before.as_deref().unwrap_or(""),
            after: op.after.as_deref().unwrap_or(""),
            display_name: op.display_name.as_deref().unwrap_or(""),
            status,
            ..Row::default()
        }
    }

    /// An op about to be sent.
    fn started(target: &'a str, user: &'a str, op: &'a Op, op_id: &'a str) -> Row<'a> {
        Row {
            client_request_id: op_id,
            ..Row::op(target, user, op, STARTED)
        }
    }

    /// An op's final row.
    fn outcome(o: &'a Outcome) -> Row<'a> {
        Row {
            http_status: o.http_status.map(|s| s.to_string()).unwrap_or_default(),
            error_code: &o.error_code,
            message: Cow::Borrowed(&o.message),
            request_id: &o.request_id,
            client_request_id: &o.client_request_id,
            attempts: o.attempts.to_string(),
            milliseconds: o.elapsed.as_millis().to_string(),
            ..Row::op(&o.target, &o.user, &o.op, o.status.as_str())
        }
    }

    /// A user that got no ops because of a problem.
    fn skipped_user(target: &'a str, u: &'a UserPlan) -> Option<Row<'a>> {
        let reason = u.skip.as_ref()?;
        Some(Row {
            user: &u.user,
            target,
            op: "none",
            status: reason.code(),
            message: Cow::Owned(reason.to_string()),
            attempts: "0".into(),
            milliseconds: "0".into(),
            ..Row::default()
        })
    }

    fn write<W: io::Write>(&self, csv: &mut CsvFile<W>) -> io::Result<()> {
        use Cell::{Phone, Text};
        csv.row(&[
            Text(self.user),
            Text(self.target),
            Text(self.op),
            Text(self.phone_type),
            Text(self.item_id),
            Phone(self.before),
            Phone(self.after),
            Text(self.display_name),
            Text(self.status),
            Text(&self.http_status),
            Text(self.error_code),
            Text(&self.message),
            Text(self.request_id),
            Text(self.client_request_id),
            Text(&self.attempts),
            Text(&self.milliseconds),
        ])
    }
}

/// The live `outcomes.csv` of an `apply` run, the executor's [`Audit`]: shared by its workers
/// (it is `Sync`), every row flushed to the operating system as it is appended (not synced to
/// the disk: it survives the process being killed, not a power cut). A write error never panics
/// and never stops the run: the first one is kept ([`OutcomeLog::error`]) and nothing more is
/// written to the log.
pub struct OutcomeLog {
    path: PathBuf,
    state: Mutex<LogState>,
}

struct LogState {
    /// `None` once closed or after a write error.
    csv: Option<CsvFile<File>>,
    /// The first write error.
    error: Option<String>,
}

impl OutcomeLog {
    /// Creates `outcomes.csv` in `dir` (a new file) and writes its header.
    pub fn create(dir: &Path) -> Result<OutcomeLog> {
        let path = dir.join(FILE);
        let mut csv =
            CsvFile::new(files::new_file(&path)?, &OUTCOME_COLUMNS).with_context(|| format!("cannot write {}", path.display()))?;
        csv.flush().with_context(|| format!("cannot write {}", path.display()))?;
        Ok(OutcomeLog {
            path,
            state: Mutex::new(LogState {
                csv: Some(csv),
                error: None,
            }),
        })
    }

    /// The first write error, if there was one.
    pub fn error(&self) -> Option<String> {
        self.lock().error.clone()
    }

    /// Closes the log; an error if any row could not be written.
    pub fn finish(self) -> Result<()> {
        let state = self.state.into_inner().unwrap_or_else(PoisonError::into_inner);
        match state.error {
            Some(e) => bail!(e),
            None => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        // A worker that panicked while appending left at worst a partial row: keep logging.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, row: &Row) {
        let mut state = self.lock();
        let Some(csv) = state.csv.as_mut() else { return };
        if let Err(e) = row.write(csv).and_then(|()| csv.flush()) {
            state.csv = None;
            state.error = Some(format!("cannot write {}: {e}", self.path.display()));
        }
    }
}

/// The executor's audit: it calls these as ops start and settle.
impl Audit for OutcomeLog {
    /// Appends a `started` row for `op` of `user`, with client-request-id `op_id`: called before
    /// the op's first request goes out.
    fn started(&self, target: &str, user: &str, op: &Op, op_id: &str) {
        self.append(&Row::started(target, user, op, op_id));
    }

    /// Appends the op's final row: called once for every outcome the run reports, sent or not.
    fn settled(&self, outcome: &Outcome) {
        self.append(&Row::outcome(outcome));
    }
}

/// Rewrites `outcomes.csv` in `dir` with the final row of every op in `outcomes` (plan order)
/// and one row per skipped user of `plan`. The file is replaced whole
/// ([`crate::files::write_private`]: a new temporary file renamed over it, which replaces a
/// symlink of that name rather than writing through it).
pub(super) fn write_final(dir: &Path, plan: &Plan, outcomes: &[Outcome]) -> Result<()> {
    let path = dir.join(FILE);
    let mut bytes = Vec::new();
    let render = |bytes: &mut Vec<u8>| -> io::Result<()> {
        let mut csv = CsvFile::new(bytes, &OUTCOME_COLUMNS)?;
        for o in outcomes {
            Row::outcome(o).write(&mut csv)?;
        }
        // Users that got no ops because of a problem get one row each, so this file alone
        // accounts for every user the input named that was not brought in line.
        for row in plan.user_plans().filter_map(|(target, u)| Row::skipped_user(target, u)) {
            row.write(&mut csv)?;
        }
        csv.flush()
    };
    render(&mut bytes).with_context(|| format!("cannot write {}", path.display()))?;
    crate::files::write_private(&path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::executor::Status;
    use crate::report::tests::{apply_report, op, outcome};

    #[test]
    fn a_write_error_is_kept_and_ends_the_log_without_panicking() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(FILE);
        std::fs::write(&path, "").unwrap();
        // A file opened read-only: every flush fails (the header only reached the buffer).
        let log = OutcomeLog {
            path: path.clone(),
            state: Mutex::new(LogState {
                csv: Some(CsvFile::new(File::open(&path).unwrap(), &OUTCOME_COLUMNS).unwrap()),
                error: None,
            }),
        };
        let add = op("add", "mobile", None, Some("+1 2065555555"), "new");
        log.started("auth", "a", &add, "cid");
        let first = log.error().expect("the error is kept");
        assert!(first.contains("outcomes.csv"), "{first}");
        log.settled(&outcome("a", &add, Status::Succeeded, ""));
        assert_eq!(log.error(), Some(first.clone()), "the first error is the one kept");

        // The run's reports are still written in full; the error is recorded, then returned.
        let plan = crate::report::tests::auth_plan(Vec::new());
        let err = crate::report::write_all(tmp.path(), &apply_report(&plan, &[], &[]), Some(log)).unwrap_err();
        assert!(format!("{err:#}").contains(&first), "{err:#}");
        let summary = std::fs::read_to_string(tmp.path().join("summary.json")).unwrap();
        let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
        assert_eq!(summary["outcomeLogError"], first.as_str());
        assert!(tmp.path().join("plan.md").exists());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().lines().next(),
            Some(OUTCOME_COLUMNS.join(",").as_str())
        );
    }
}
