//! Scripted faults: exact failure scenarios a test (or a person trying the client) queues for the
//! next matching requests, through `Emulator::inject` or over HTTP at `/_emulator/faults`. This
//! module holds what a fault is, which request it matches, how many it hits, and its JSON form;
//! what a fault does to an answer lives with the handlers (`inject.rs` for Graph calls,
//! `token.rs` for the token endpoint).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Mutex;

/// What a fault does to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Answer with this status (the request is not processed; but a `$batch` envelope answered
    /// 429 or 503 runs its items first when `Options::refused_batch_ran_items` is set).
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` value, if any, sent as given ("2", "0.25", an HTTP date…).
        retry_after: Option<String>,
        /// `error.code` (Graph) or `error` (token endpoint); a usual one for the status when `None`.
        code: Option<String>,
        /// `error.message` (Graph) or the `error_description` text (token endpoint); a usual
        /// one for the status when `None`.
        message: Option<String>,
    },
    /// Drop the connection without answering (the request is not processed).
    Drop,
    /// Process the request, then hold the answer for `--slow-ms`.
    Slow,
    /// Process the request, then answer with this status anyway.
    Applied(u16),
    /// Process the request, then drop the connection.
    AppliedDrop,
}

/// A scripted fault for the next matching requests (tests use these for exact scenarios).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Wire", into = "Wire")]
pub struct Fault {
    /// What happens.
    pub effect: Effect,
    /// Only a request with this method takes the fault: an HTTP method (`GET`, `POST`, `PATCH`,
    /// `DELETE`; matches single requests and `$batch` items), `$batch` (a batch envelope) or
    /// `token` (`POST /{tenant}/oauth2/v2.0/token`). When `None`, any Graph request (envelope or
    /// item) matches, but never the token endpoint.
    pub method: Option<String>,
    /// Only a request whose path (for a `$batch` item, its url) contains this text takes the
    /// fault; compared without case, with the path as sent and percent-decoded.
    pub path: Option<String>,
    /// How many matching requests the fault lets through untouched before it starts to hit.
    pub skip: u32,
    /// How many more matching requests the fault hits before it is used up (at least 1).
    pub times: u32,
}

/// The method name that aims a fault at the token endpoint.
pub const TOKEN: &str = "token";
/// The method name that aims a fault at a `$batch` envelope.
pub const BATCH: &str = "$batch";

impl Fault {
    /// Answer the next request with `status`.
    pub fn status(status: u16) -> Fault {
        Fault::effect(Effect::Status {
            status,
            retry_after: None,
            code: None,
            message: None,
        })
    }

    /// Any effect for the next request.
    pub fn effect(effect: Effect) -> Fault {
        Fault {
            effect,
            method: None,
            path: None,
            skip: 0,
            times: 1,
        }
    }

    /// With this `Retry-After` value (status faults only).
    pub fn retry_after(mut self, value: &str) -> Fault {
        if let Effect::Status { retry_after, .. } = &mut self.effect {
            *retry_after = Some(value.to_string());
        }
        self
    }

    /// With this error code and message (status faults only), e.g. a 403
    /// `Authorization_RequestDenied` refusal.
    pub fn code(mut self, code: &str, message: &str) -> Fault {
        if let Effect::Status { code: c, message: m, .. } = &mut self.effect {
            *c = Some(code.to_string());
            *m = Some(message.to_string());
        }
        self
    }

    /// Only for a request with `method` (see [`Fault::method`]).
    pub fn only(mut self, method: &str) -> Fault {
        self.method = Some(method.to_string());
        self
    }

    /// Only for a request whose path contains `part` (see [`Fault::path`]).
    pub fn path(mut self, part: &str) -> Fault {
        self.path = Some(part.to_string());
        self
    }

    /// Lets the first `n` matching requests through before it hits (e.g. the second `$batch`).
    pub fn skip(mut self, n: u32) -> Fault {
        self.skip = n;
        self
    }

    /// Hits `n` matching requests instead of one (0 counts as 1).
    pub fn times(mut self, n: u32) -> Fault {
        self.times = n.max(1);
        self
    }

    /// Whether a request with `method` (an HTTP method, [`BATCH`] or [`TOKEN`]) at `path` takes
    /// this fault.
    fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = match &self.method {
            None => method != TOKEN,
            Some(m) => m.eq_ignore_ascii_case(method),
        };
        method_ok
            && self.path.as_deref().is_none_or(|part| {
                let part = part.to_lowercase();
                let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
                path.to_lowercase().contains(&part) || decoded.to_lowercase().contains(&part)
            })
    }
}

/// The queue of scripted faults, in the order they were added.
#[derive(Default)]
pub(crate) struct Queue(Mutex<VecDeque<Fault>>);

impl Queue {
    /// Appends faults.
    pub fn extend(&self, faults: impl IntoIterator<Item = Fault>) {
        self.0.lock().expect("faults lock").extend(faults);
    }

    /// The faults still queued.
    pub fn list(&self) -> Vec<Fault> {
        self.0.lock().expect("faults lock").iter().cloned().collect()
    }

    /// Forgets every queued fault.
    pub fn clear(&self) {
        self.0.lock().expect("faults lock").clear();
    }

    /// The effect a request with `method` at `path` meets. The request goes through the queue
    /// in order: each matching fault with skips left counts it as skipped; the first matching
    /// fault without skips left hits it (and is removed when used up).
    pub fn take(&self, method: &str, path: &str) -> Option<Effect> {
        let mut faults = self.0.lock().expect("faults lock");
        let mut hit = None;
        for (at, fault) in faults.iter_mut().enumerate() {
            if !fault.matches(method, path) {
                continue;
            }
            if fault.skip > 0 {
                fault.skip -= 1;
                continue;
            }
            fault.times = fault.times.saturating_sub(1);
            hit = Some((at, fault.effect.clone(), fault.times == 0));
            break;
        }
        let (at, effect, used_up) = hit?;
        if used_up {
            faults.remove(at);
        }
        Some(effect)
    }
}

/// A fault as JSON, for `/_emulator/faults`: `{"method":"POST","path":"/phoneMethods",
/// "status":403,"code":"Authorization_RequestDenied","message":"…","skip":0,"times":1}`,
/// `{"method":"GET","effect":"drop"}`, `{"effect":"applied","status":500}`,
/// `{"method":"$batch","status":503,"retryAfter":"1"}`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Wire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    /// `status` (the default when `status` is given), `drop`, `slow`, `applied`, `applied-drop`.
    #[serde(default)]
    effect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    /// A string, or a number of seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    skip: Option<u32>,
    #[serde(default)]
    times: Option<u32>,
}

impl TryFrom<Wire> for Fault {
    type Error = String;

    fn try_from(w: Wire) -> Result<Fault, String> {
        let method = match w.method.as_deref() {
            None => None,
            Some(m @ (TOKEN | BATCH)) => Some(m.to_string()),
            Some(m) if ["GET", "POST", "PATCH", "PUT", "DELETE"].iter().any(|k| k.eq_ignore_ascii_case(m)) => Some(m.to_uppercase()),
            Some(m) => return Err(format!("method '{m}' is not GET, POST, PATCH, PUT, DELETE, $batch or token")),
        };
        let status = |what: &str| match w.status {
            Some(s) if (400..=599).contains(&s) => Ok(s),
            Some(s) => Err(format!("status {s} is not an error status (400 to 599)")),
            None => Err(format!("effect '{what}' needs a status")),
        };
        let effect_name = w.effect.as_deref().unwrap_or(if w.status.is_some() { "status" } else { "" });
        let effect = match effect_name {
            "status" => Effect::Status {
                status: status("status")?,
                retry_after: match w.retry_after {
                    None => None,
                    Some(Value::String(s)) => Some(s),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    Some(other) => return Err(format!("retryAfter {other} is neither a string nor a number")),
                },
                code: w.code,
                message: w.message,
            },
            "" => return Err("a fault needs a status or an effect (status, drop, slow, applied, applied-drop)".into()),
            other => {
                let effect = match other {
                    "drop" => Effect::Drop,
                    "slow" => Effect::Slow,
                    "applied" => Effect::Applied(status("applied")?),
                    "applied-drop" => Effect::AppliedDrop,
                    _ => return Err(format!("unknown effect '{other}': use status, drop, slow, applied or applied-drop")),
                };
                if w.status.is_some() && other != "applied" {
                    return Err(format!("effect '{other}' takes no status"));
                }
                if w.code.is_some() || w.message.is_some() || w.retry_after.is_some() {
                    return Err(format!("code, message and retryAfter are for status faults, not '{other}'"));
                }
                effect
            }
        };
        if w.times == Some(0) {
            return Err("times must be at least 1".into());
        }
        Ok(Fault {
            effect,
            method,
            path: w.path,
            skip: w.skip.unwrap_or(0),
            times: w.times.unwrap_or(1),
        })
    }
}

impl From<Fault> for Wire {
    fn from(f: Fault) -> Wire {
        let mut w = Wire {
            method: f.method,
            path: f.path,
            effect: None,
            status: None,
            code: None,
            message: None,
            retry_after: None,
            skip: (f.skip > 0).then_some(f.skip),
            times: Some(f.times),
        };
        let name = match f.effect {
            Effect::Status {
                status,
                retry_after,
                code,
                message,
            } => {
                (w.status, w.retry_after, w.code, w.message) = (Some(status), retry_after.map(Value::String), code, message);
                "status"
            }
            Effect::Drop => "drop",
            Effect::Slow => "slow",
            Effect::Applied(status) => {
                w.status = Some(status);
                "applied"
            }
            Effect::AppliedDrop => "applied-drop",
        };
        w.effect = Some(name.to_string());
        w
    }
}

/// Reads the body of `POST /_emulator/faults`: a JSON array of faults. The error says which
/// fault is wrong and why.
pub(crate) fn parse_list(body: &[u8]) -> Result<Vec<Fault>, String> {
    let items: Vec<Value> = match serde_json::from_slice(body) {
        Ok(Value::Array(items)) => items,
        Ok(_) => return Err("expected a JSON array of faults, e.g. [{\"method\":\"GET\",\"status\":503}]".into()),
        Err(e) => return Err(format!("the body is not JSON: {e}")),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(n, item)| serde_json::from_value(item).map_err(|e| format!("fault [{n}]: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_and_defaults() {
        let faults = parse_list(
            br#"[{"method":"post","path":"/phoneMethods","status":403,"code":"Authorization_RequestDenied","message":"no","skip":1,"times":2},
                {"method":"$batch","status":503,"retryAfter":0.25},{"method":"GET","effect":"drop"},
                {"effect":"applied","status":500},{"method":"token","status":503}]"#,
        )
        .unwrap();
        assert_eq!(
            faults[0],
            Fault::status(403)
                .only("POST")
                .path("/phoneMethods")
                .code("Authorization_RequestDenied", "no")
                .skip(1)
                .times(2)
        );
        assert_eq!(faults[1], Fault::status(503).only("$batch").retry_after("0.25"));
        assert_eq!(faults[2], Fault::effect(Effect::Drop).only("GET"));
        assert_eq!(faults[3], Fault::effect(Effect::Applied(500)));
        assert_eq!(faults[4], Fault::status(503).only("token"));
        let again: Vec<Fault> = serde_json::from_value(serde_json::to_value(&faults).unwrap()).unwrap();
        assert_eq!(again, faults);
    }

    #[test]
    fn bad_faults_say_what_is_wrong() {
        for (body, wanted) in [
            (r#"{"status":503}"#, "JSON array"),
            (r#"[{"status":503"#, "not JSON"),
            (r#"[{}]"#, "needs a status or an effect"),
            (r#"[{"status":200}]"#, "not an error status"),
            (r#"[{"effect":"applied"}]"#, "needs a status"),
            (r#"[{"effect":"drop","status":500}]"#, "takes no status"),
            (r#"[{"effect":"explode"}]"#, "unknown effect"),
            (r#"[{"method":"HEAD","status":500}]"#, "method 'HEAD'"),
            (r#"[{"status":500,"times":0}]"#, "at least 1"),
            (
                r#"[{"status":500},{"status":500,"retry_after":"1"}]"#,
                "fault [1]: unknown field `retry_after`",
            ),
        ] {
            let e = parse_list(body.as_bytes()).unwrap_err();
            assert!(e.contains(wanted), "{body}: {e}");
        }
    }

    #[test]
    fn matching_by_method_path_and_times() {
        let q = Queue::default();
        q.extend([
            Fault::status(403).only("DELETE").path("/phoneMethods/E37FC753").times(2),
            Fault::status(503),
            Fault::status(503).only("token"),
        ]);
        let office = "/v1.0/users/kim%40contoso.com/authentication/phoneMethods/e37fc753-ff3b-4958-9484-eaa9425c82bc";
        assert!(matches!(q.take("DELETE", office), Some(Effect::Status { status: 403, .. })));
        assert!(matches!(q.take("delete", office), Some(Effect::Status { status: 403, .. })));
        assert_eq!(q.list().len(), 2, "used up after two hits");
        assert!(q.take(TOKEN, "/contoso/oauth2/v2.0/token").is_some(), "the token fault");
        assert!(
            q.take(TOKEN, "/contoso/oauth2/v2.0/token").is_none(),
            "a fault for any method skips the token endpoint"
        );
        let q = Queue::default();
        q.extend([Fault::status(500).path("kim@contoso.com")]);
        assert!(q.take("GET", "/v1.0/users/lee%40contoso.com/authentication/phoneMethods").is_none());
        assert!(
            q.take("GET", "/v1.0/users/kim%40contoso.com/authentication/phoneMethods").is_some(),
            "decoded path"
        );
    }

    #[test]
    fn skipping_faults_count_requests_and_let_later_faults_hit() {
        let q = Queue::default();
        q.extend([Fault::status(503).only("$batch").skip(2), Fault::status(500).skip(1)]);
        let envelope = "/v1.0/$batch";
        assert_eq!(q.take(BATCH, envelope), None, "both skip the first");
        assert!(
            matches!(q.take(BATCH, envelope), Some(Effect::Status { status: 500, .. })),
            "the first still skips; the second is ready"
        );
        assert!(matches!(q.take(BATCH, envelope), Some(Effect::Status { status: 503, .. })));
        assert!(q.list().is_empty());
    }
}
