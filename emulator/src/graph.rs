//! What one Graph operation does, whether it came alone or as a `$batch` item: it addresses the
//! user (docs/graph.md#addressing-users), finds the resource in the route table (resources/),
//! lets its guard refuse it, looks the user up in the locked tenant, has the resource serve it,
//! and journals the changes made before the tenant is unlocked. The token check and throttling
//! happen before (gate.rs), and so does an injected fault (inject.rs).

use crate::answer::Answer;
use crate::call::{Call, Operation};
use crate::journal::{ChangeRecord, Event};
use crate::resources::{self, users};
use crate::shared::Shared;

/// Splits a raw path into decoded segments, so `%2F` inside a UPN stays inside its segment.
pub(crate) fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

/// The user named by `users/{x}` or `users('{x}')` (docs/graph.md#addressing-users), and the rest of the path.
fn user_of(segs: &[String]) -> Result<(String, &[String]), Answer> {
    let not_found = |seg: &str| Answer::error(400, "BadRequest", format!("Resource not found for the segment '{seg}'."));
    let first = segs.first().ok_or_else(|| not_found(""))?;
    if first.eq_ignore_ascii_case("users") {
        let user = segs.get(1).ok_or_else(|| not_found("users"))?;
        if user.starts_with('$') {
            return Err(Answer::error(
                400,
                "BadRequest",
                format!("Invalid object identifier '{user}'. Use the users('{user}') form for a name that starts with $."),
            ));
        }
        return Ok((user.clone(), &segs[2..]));
    }
    let inner = first
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("users('"))
        .and_then(|_| first[7..].strip_suffix("')"))
        .ok_or_else(|| not_found(first))?;
    Ok((inner.replace("''", "'"), &segs[1..]))
}

/// Serves one Graph operation; shared by plain requests and `$batch` items. The changes it makes
/// are journaled before the tenant is unlocked, so the journal has them in the order they were
/// made.
pub(crate) fn dispatch(s: &Shared, op: &Operation) -> Answer {
    // The users collection is the one path not under a user.
    if op.method == "GET" && op.rest.len() == 1 && op.rest[0].eq_ignore_ascii_case("users") {
        return users::list(&s.tenant.lock().expect("tenant lock"), op.version, op.query);
    }
    let (user, tail) = match user_of(op.rest) {
        Ok(v) => v,
        Err(a) => return a,
    };
    let names: Vec<&str> = tail.iter().map(String::as_str).collect();
    let (route, rest) = resources::route(op.version, &names);
    if let Some(refused) = route.guard.and_then(|guard| guard(&s.options, op, rest)) {
        return refused;
    }
    let mut tenant = s.tenant.lock().expect("tenant lock");
    let u = match tenant.user(&user) {
        Ok(u) => u,
        Err(f) => return f.into(),
    };
    let mut call = Call::new(op, &s.options, &mut tenant, u, &user);
    let answer = match (route.serve)(&mut call, rest) {
        Some(Ok(answer)) => answer,
        Some(Err(failure)) => failure.into(),
        None => Answer::error(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{}'.", names.first().copied().unwrap_or("")),
        ),
    };
    let by = op.by.map(str::to_string);
    s.journal.record(
        tenant
            .take_changes()
            .into_iter()
            .map(|change| Event::Change(ChangeRecord { change, by: by.clone() })),
    );
    answer
}
