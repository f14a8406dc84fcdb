//! Faults injected into Graph calls (docs/graph.md#transient-failures): a call meets the first
//! scripted fault queued for it (fault.rs), else a random one at the configured rate, and the
//! fault's effect decides whether the operation runs and what is answered. A status fault runs
//! nothing, except that a `$batch` envelope refused with 429 or 503 runs its items first under
//! `--refused-batch-ran-items` (docs/graph.md#batch). The token endpoint meets its own faults in
//! token.rs, in Entra's shape.

use crate::answer::Answer;
use crate::fault::{BATCH, Effect};
use crate::options::FaultKind;
use crate::shared::Shared;
use crate::throttle::retry_after;
use std::time::Duration;

/// The fault a Graph request with `method` at `path` meets, if any: a scripted one first, else a
/// random draw (without transport faults unless `transport_ok`).
fn pick_fault(s: &Shared, method: &str, path: &str, transport_ok: bool) -> Option<Effect> {
    if let Some(effect) = s.faults.take(method, path) {
        return Some(effect);
    }
    if s.options.fault_rate <= 0.0 {
        return None;
    }
    let mut dice = s.dice.lock().expect("dice lock");
    if dice.unit() >= s.options.fault_rate {
        return None;
    }
    let kinds: Vec<FaultKind> = s
        .options
        .faults
        .iter()
        .copied()
        .filter(|k| transport_ok || !matches!(k, FaultKind::Drop | FaultKind::Slow | FaultKind::AppliedDrop))
        .collect();
    let kind = *kinds.get(dice.below(kinds.len() as u64) as usize)?;
    Some(match kind {
        FaultKind::E500 => fault_status(500, None),
        FaultKind::E502 => fault_status(502, None),
        FaultKind::E503 => fault_status(503, None),
        FaultKind::E503RetryAfter => fault_status(503, retry_after(s.options.retry_after, Duration::from_secs(1))),
        FaultKind::E504 => fault_status(504, None),
        FaultKind::E507 => fault_status(507, None),
        FaultKind::Drop => Effect::Drop,
        FaultKind::Slow => Effect::Slow,
        FaultKind::Applied500 => Effect::Applied(500),
        FaultKind::AppliedDrop => Effect::AppliedDrop,
        FaultKind::Applied429 => Effect::Applied(429),
    })
}

/// A status effect with the usual code and message.
fn fault_status(status: u16, retry_after: Option<String>) -> Effect {
    Effect::Status {
        status,
        retry_after,
        code: None,
        message: None,
    }
}

/// The Graph error for an injected status; `code` and `message` default to the usual ones.
fn fault_answer(status: u16, retry_after: Option<String>, code: Option<String>, message: Option<String>) -> Answer {
    let (usual_code, usual_message) = match status {
        401 => ("InvalidAuthenticationToken", "Access token validation failure."),
        403 => ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
        429 => ("TooManyRequests", "Please retry again later."),
        500 => ("generalException", "An unspecified error has occurred."),
        502 => ("BadGateway", "The upstream service returned an invalid response."),
        503 => ("serviceNotAvailable", "The service is temporarily unavailable. Please retry later."),
        504 => ("GatewayTimeout", "The upstream service did not respond in time."),
        507 => ("quotaLimitReached", "Insufficient storage to complete the request."),
        _ => ("UnknownError", "Injected fault."),
    };
    let mut a = Answer::error(
        status,
        code.as_deref().unwrap_or(usual_code),
        message.unwrap_or_else(|| usual_message.to_string()),
    );
    if let Some(ra) = retry_after {
        a.headers.push(("retry-after", ra));
    }
    a
}

/// Whether a status fault's refusal of a request with `method` runs it first: only a `$batch`
/// envelope refused with 429 or 503, and only with `--refused-batch-ran-items` (whether Graph
/// can run a batch's items and still refuse it is UNCONFIRMED, docs/graph.md#batch).
fn refusal_runs(s: &Shared, method: &str, status: u16) -> bool {
    s.options.refused_batch_ran_items && method == BATCH && matches!(status, 429 | 503)
}

/// Meets the fault a Graph request with `method` at `path` draws (see [`pick_fault`]) around
/// `run`, which processes the request.
pub(crate) fn with_fault(s: &Shared, method: &str, path: &str, transport_ok: bool, run: impl FnOnce() -> Answer) -> Answer {
    let effect = pick_fault(s, method, path, transport_ok);
    let name = effect.as_ref().map(|e| format!("{e:?}"));
    let mut answer = match effect {
        None => return run(),
        Some(Effect::Status {
            status,
            retry_after,
            code,
            message,
        }) => {
            if refusal_runs(s, method, status) {
                // The items run and are journaled; what they answered is not sent.
                drop(run());
            }
            fault_answer(status, retry_after, code, message)
        }
        Some(Effect::Drop) => Answer {
            drop: true,
            ..Answer::ok(0, None)
        },
        Some(Effect::Slow) => Answer {
            delay: Some(s.slow()),
            ..run()
        },
        Some(Effect::Applied(status)) => {
            let done = run();
            if done.is_success() {
                fault_answer(status, None, None, None)
            } else {
                done
            }
        }
        Some(Effect::AppliedDrop) => Answer { drop: true, ..run() },
    };
    answer.fault = name;
    answer
}
