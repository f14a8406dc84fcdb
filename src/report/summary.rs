//! `summary.json`: a run's counts and timings, per target and in total, for machines.

use crate::model::OpKind;
use crate::report::run::{RunReport, planned_counts, skip_counts, status_counts};
use serde_json::json;
use std::collections::BTreeMap;

/// `summary.json`; `log_error` is the first write error of the live outcome log, if any. Counts
/// are given per target (`targets`), and ops also in total.
pub fn summary(r: &RunReport, log_error: Option<&str>) -> serde_json::Value {
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
        "planDigest": r.digest,
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
