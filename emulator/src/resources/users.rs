//! The user object itself: `GET /users` (a page of users, docs/graph.md#listing-users) and `GET
//! /users/{user}` with `$select` (docs/graph.md#resolving-users), both with the properties the
//! emulator knows, `id` and `userPrincipalName`. The users collection is the one path not under a
//! user; graph.rs serves it before it addresses one.

use crate::answer::Answer;
use crate::call::{Call, bad_page_size};
use crate::options::MAX_PAGE_SIZE;
use crate::tenant::{Failure, Tenant};
use serde_json::{Value, json};

/// The user itself: `GET` (other methods 405). A path beyond the user that no route has: `None`.
pub(crate) fn serve(call: &mut Call, rest: &[&str]) -> Option<Result<Answer, Failure>> {
    match (call.op.method, rest) {
        ("GET", []) => Some(Ok(entity(call.tenant, call.user, call.op.version, call.op.query))),
        (_, []) => Some(Ok(call.not_allowed())),
        _ => None,
    }
}

/// The `$select` list of a query string, if it has one.
fn select(query: &str) -> Option<Vec<String>> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("$select"))
        .map(|(_, v)| v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect())
}

/// `GET /users/{user}`: the properties the emulator knows (`id`, `userPrincipalName`), or the
/// ones `$select` names.
fn entity(tenant: &Tenant, u: usize, version: &str, query: &str) -> Answer {
    let (id, upn) = tenant.identity(u);
    let known = [("id", id), ("userPrincipalName", upn)];
    let Some(wanted) = select(query) else {
        let mut body = json!({"@odata.context": format!("https://graph.microsoft.com/{version}/$metadata#users/$entity")});
        for (name, value) in known {
            body[name] = json!(value);
        }
        return Answer::ok(200, Some(body));
    };
    let mut picked = Vec::new();
    for name in &wanted {
        match known.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some(p) => picked.push(*p),
            None => {
                return Answer::error(
                    400,
                    "BadRequest",
                    format!(
                        "Parsing OData Select and Expand failed: Could not find a property named '{name}' on type 'microsoft.graph.user'."
                    ),
                );
            }
        }
    }
    let names: Vec<&str> = picked.iter().map(|(k, _)| *k).collect();
    let mut body = json!({"@odata.context": format!("https://graph.microsoft.com/{version}/$metadata#users({})/$entity", names.join(","))});
    for (name, value) in picked {
        body[name] = json!(value);
    }
    Answer::ok(200, Some(body))
}

/// Users a page holds unless `$top` says otherwise (Graph's list users: 100).
const PAGE: usize = 100;

/// `GET /users`: a page of users (`id`, `userPrincipalName`), in a stable order, with an
/// `@odata.nextLink` carrying a `$skiptoken` while more remain. `$top` sets the page size (1 to
/// 999); a `$skiptoken` this emulator did not issue is refused.
pub(crate) fn list(tenant: &Tenant, version: &str, query: &str) -> Answer {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let param = |name: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let top = match param("$top").map(str::parse::<usize>) {
        None => PAGE,
        Some(Ok(n)) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
        Some(_) => return bad_page_size().into(),
    };
    let from = match param("$skiptoken").map(|t| t.strip_prefix("emu-").and_then(|n| n.parse::<usize>().ok())) {
        None => 0,
        Some(Some(n)) if n <= tenant.user_count() => n,
        Some(_) => {
            return Answer::error(
                400,
                "Directory_ExpiredPageToken",
                "The specified page token value has expired and can no longer be included in your request.",
            );
        }
    };
    let to = (from + top).min(tenant.user_count());
    let value: Vec<Value> = (from..to)
        .map(|u| {
            let (id, upn) = tenant.identity(u);
            json!({"id": id, "userPrincipalName": upn})
        })
        .collect();
    let mut body = json!({
        "@odata.context": format!("https://graph.microsoft.com/{version}/$metadata#users(id,userPrincipalName)"),
        "value": value,
    });
    if to < tenant.user_count() {
        body["@odata.nextLink"] = json!(format!(
            "https://graph.microsoft.com/{version}/users?$select=id,userPrincipalName&$top={top}&$skiptoken=emu-{to}"
        ));
    }
    Answer::ok(200, Some(body))
}
