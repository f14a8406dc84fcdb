//! `plan.md`: the plan as a person reads it before approving it, and (after `apply`) with each
//! op's result beside it.

use super::{Mode, RunReport, planned_counts, skip_counts, status_counts};
use std::fmt::Write;

/// Escapes text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Renders the report.
pub fn plan(r: &RunReport) -> String {
    let mut out = String::new();
    let title = match r.mode {
        Mode::Plan => "phonesync plan",
        Mode::Apply => "phonesync apply",
    };
    let _ = writeln!(out, "# {title}\n");
    let _ = writeln!(out, "- Started: {}", r.started_at);
    let _ = writeln!(
        out,
        "- Input: `{}` ({} rows, {} rejected)",
        r.input.display(),
        r.rows,
        r.rejects.len()
    );
    let _ = writeln!(out, "- Graph: {}", r.endpoint);
    let types: Vec<&str> = r.settings.managed_types.iter().map(|t| t.as_str()).collect();
    let _ = writeln!(
        out,
        "- Managed types: {}; prune: {}",
        types.join(", "),
        if r.settings.prune { "on" } else { "off" }
    );
    if r.mode == Mode::Plan {
        let _ = writeln!(out, "- Nothing was changed: this is a plan.");
    }

    let _ = writeln!(out, "\n## Summary\n\n| | count |\n|---|---|");
    for (kind, n) in planned_counts(r.plan) {
        let _ = writeln!(out, "| {kind} | {n} |");
    }
    let _ = writeln!(out, "| users named in the input | {} |", r.plan.users.len());
    let _ = writeln!(
        out,
        "| users already in line | {} |",
        r.plan.users.iter().filter(|u| u.skip.is_none() && u.ops.is_empty()).count()
    );
    for (code, n) in skip_counts(r.plan) {
        let _ = writeln!(out, "| users skipped: {code} | {n} |");
    }
    if let Some(outcomes) = r.outcomes {
        for (status, n) in status_counts(outcomes) {
            let _ = writeln!(out, "| ops {status} | {n} |");
        }
    }

    let changed: Vec<_> = r.plan.users.iter().filter(|u| !u.ops.is_empty()).collect();
    let _ = writeln!(out, "\n## Changes\n");
    if changed.is_empty() {
        let _ = writeln!(out, "None: every readable user already matches the input.");
    }
    let mut outcomes = r.outcomes.unwrap_or_default().iter();
    for u in changed {
        let _ = writeln!(out, "### {}\n", cell(&u.user));
        let result_header = if r.outcomes.is_some() { " result |" } else { "" };
        let _ = writeln!(out, "| # | op | type | before | after | why |{result_header}");
        let _ = writeln!(out, "|---|---|---|---|---|---|{}", if r.outcomes.is_some() { "---|" } else { "" });
        for (i, op) in u.ops.iter().enumerate() {
            let mut why = op.reason.clone();
            if !op.depends_on.is_empty() {
                let deps: Vec<String> = op.depends_on.iter().map(|d| (d + 1).to_string()).collect();
                let _ = write!(why, "; runs only if #{} succeeded", deps.join(", #"));
            }
            if let Some(b) = &op.blocked {
                let _ = write!(why, "; BLOCKED: {b}");
            }
            let result = match r.outcomes.map(|_| outcomes.next()) {
                Some(Some(o)) if o.message.is_empty() => format!(" {} |", o.status.as_str()),
                Some(Some(o)) => format!(" {}: {} |", o.status.as_str(), cell(&o.message)),
                Some(None) => " ? |".to_string(),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |{result}",
                i + 1,
                op.kind.as_str(),
                op.phone_type,
                op.before.as_deref().unwrap_or(""),
                op.after.as_deref().unwrap_or(""),
                cell(&why)
            );
        }
        for note in &u.notes {
            let _ = writeln!(out, "\nNote: {}", cell(note));
        }
        let _ = writeln!(out);
    }

    let skipped: Vec<_> = r.plan.users.iter().filter(|u| u.skip.is_some()).collect();
    if !skipped.is_empty() {
        let _ = writeln!(out, "## Users skipped\n\n| user | reason |\n|---|---|");
        for u in skipped {
            let _ = writeln!(
                out,
                "| {} | {} |",
                cell(&u.user),
                cell(&u.skip.as_ref().map(|s| s.to_string()).unwrap_or_default())
            );
        }
        let _ = writeln!(out);
    }
    if !r.rejects.is_empty() {
        let _ = writeln!(out, "## Rejected rows\n\n| line | user | reason |\n|---|---|---|");
        for rej in r.rejects {
            let _ = writeln!(out, "| {} | {} | {} |", rej.line, cell(&rej.user), cell(&rej.reason));
        }
    }
    out
}
