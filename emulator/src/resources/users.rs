//! The user object itself: `GET /users` (a page of users, docs/graph.md#listing-users; or the
//! users a `$filter` of `userPrincipalName`/`id` `in (…)` or `eq` names, at most 15 values, as
//! bulk resolution sends it) and `GET
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
    if let Some(filter) = param("$filter") {
        return filtered(tenant, version, filter);
    }
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

/// The most values `in (…)` takes without advanced queries (Graph known issue 13635).
pub const MAX_IN_VALUES: usize = 15;

/// `GET /users?$filter=…`: the users whose `userPrincipalName` or `id` is one of the values of
/// `P in ('a', 'b', …)` (at most [`MAX_IN_VALUES`]) or `P eq 'a'`, in the tenant's order, one
/// page. A value's `'` is written `''`; matching ignores case, as Graph's does.
fn filtered(tenant: &Tenant, version: &str, filter: &str) -> Answer {
    let (property, values) = match parse_filter(filter) {
        Ok(parsed) => parsed,
        Err(why) => return Answer::error(400, "BadRequest", why),
    };
    if values.len() > MAX_IN_VALUES {
        return Answer::error(
            400,
            "Request_UnsupportedQuery",
            format!(
                "Too many child clauses specified in search filter expression containing 'OR' operators: {}. Max allowed: {MAX_IN_VALUES}.",
                values.len()
            ),
        );
    }
    let mut found: Vec<usize> = values
        .iter()
        .filter_map(|v| tenant.user(v).ok())
        .filter(|u| {
            let (id, upn) = tenant.identity(*u);
            let own = if property == "id" { id } else { upn };
            values.iter().any(|v| v.eq_ignore_ascii_case(own))
        })
        .collect();
    found.sort_unstable();
    found.dedup();
    let value: Vec<Value> = found
        .into_iter()
        .map(|u| {
            let (id, upn) = tenant.identity(u);
            json!({"id": id, "userPrincipalName": upn})
        })
        .collect();
    Answer::ok(
        200,
        Some(json!({
            "@odata.context": format!("https://graph.microsoft.com/{version}/$metadata#users(id,userPrincipalName)"),
            "value": value,
        })),
    )
}

/// `userPrincipalName in ('a','b')`, `id eq 'x'`: the property (`id` or `userPrincipalName`,
/// as written in Graph's case) and the values, or why the filter is not one the emulator serves.
fn parse_filter(filter: &str) -> Result<(&'static str, Vec<String>), String> {
    let unsupported = || format!("Invalid filter clause: the emulator serves userPrincipalName or id with in (...) or eq, not '{filter}'");
    let text = filter.trim();
    let (name, rest) = text.split_once(char::is_whitespace).ok_or_else(unsupported)?;
    let property = match name {
        n if n.eq_ignore_ascii_case("userPrincipalName") => "userPrincipalName",
        n if n.eq_ignore_ascii_case("id") => "id",
        _ => return Err(unsupported()),
    };
    let rest = rest.trim_start();
    let (op, operand) = rest.split_once(char::is_whitespace).ok_or_else(unsupported)?;
    let operand = operand.trim();
    let list = if op.eq_ignore_ascii_case("in") {
        operand
            .strip_prefix('(')
            .and_then(|o| o.strip_suffix(')'))
            .ok_or_else(unsupported)?
    } else if op.eq_ignore_ascii_case("eq") {
        operand
    } else {
        return Err(unsupported());
    };
    let mut values = Vec::new();
    let mut chars = list.trim().chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('\'') {
            return Err(unsupported());
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\'') if chars.peek() == Some(&'\'') => {
                    chars.next();
                    value.push('\'');
                }
                Some('\'') => break,
                Some(c) => value.push(c),
                None => return Err(unsupported()),
            }
        }
        values.push(value);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => break,
            Some(',') => continue,
            Some(_) => return Err(unsupported()),
        }
    }
    Ok((property, values))
}

#[cfg(test)]
mod tests {
    use super::parse_filter;

    #[test]
    fn filters_read_quoted_values_with_doubled_quotes() {
        assert_eq!(
            parse_filter("userPrincipalName in ('a@x.com', 'o''brien@x.com','g_x.com#EXT#@x.com')").unwrap(),
            (
                "userPrincipalName",
                vec!["a@x.com".to_string(), "o'brien@x.com".into(), "g_x.com#EXT#@x.com".into()]
            )
        );
        assert_eq!(parse_filter("id eq 'abc'").unwrap(), ("id", vec!["abc".to_string()]));
        for bad in [
            "displayName eq 'x'",
            "userPrincipalName in ('a'",
            "userPrincipalName in ('a' 'b')",
            "id ne 'x'",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }
}
