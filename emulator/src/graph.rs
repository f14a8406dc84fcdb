//! What one Graph operation does, whether it came alone or as a `$batch` item: addressing users
//! (docs/graph.md#addressing-users), and routing to the phone-method resources (tenant.rs) and
//! the beta profile phones (profile.rs). The token check and throttling are gate.rs's, injected
//! faults inject.rs's.

use crate::access::Issued;
use crate::answer::Answer;
use crate::journal::{ChangeRecord, Event};
use crate::options::UpdateResponse;
use crate::profile;
use crate::shared::Shared;
use crate::tenant::{Failure, Tenant};
use serde_json::{Value, json};

/// Characters escaped in the user part of `@odata.context` (Graph writes `users('kim%40contoso.com')`).
const CONTEXT_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');

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

fn is(segment: &str, name: &str) -> bool {
    segment.eq_ignore_ascii_case(name)
}

/// One Graph operation: a plain request or a `$batch` item.
pub(crate) struct Operation<'a> {
    /// `v1.0` or `beta`.
    pub version: &'a str,
    /// HTTP method, upper case.
    pub method: &'a str,
    /// Decoded path segments after the version.
    pub rest: &'a [String],
    /// The query string, without `?` (empty when none).
    pub query: &'a str,
    /// The request body.
    pub body: &'a [u8],
    /// The `client-request-id` (op id) that changes are journaled as made by.
    pub by: Option<&'a str>,
    /// Whom the bearer token was issued to.
    pub caller: &'a Issued,
}

/// The `$select` list of a query string, if it has one.
fn select(query: &str) -> Option<Vec<String>> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("$select"))
        .map(|(_, v)| v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect())
}

/// `GET /users/{user}`: the properties the emulator knows (`id`, `userPrincipalName`), or the
/// ones `$select` names.
fn user_entity(tenant: &Tenant, u: usize, version: &str, query: &str) -> Answer {
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

/// Users a page holds unless `$top` says otherwise, and at most (Graph's list users: 100, 999).
const PAGE: usize = 100;
const MAX_PAGE: usize = 999;

/// `GET /users`: a page of users (`id`, `userPrincipalName`), in a stable order, with an
/// `@odata.nextLink` carrying a `$skiptoken` while more remain. `$top` sets the page size (1 to
/// 999); a `$skiptoken` this emulator did not issue is refused.
fn list_users(tenant: &Tenant, version: &str, query: &str) -> Answer {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let param = |name: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let top = match param("$top").map(str::parse::<usize>) {
        None => PAGE,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            return Answer::error(
                400,
                "Request_BadRequest",
                "Invalid page size specified: the $top value must be between 1 and 999.",
            );
        }
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

/// Serves one Graph operation on a user; shared by plain requests and `$batch` items. The
/// changes it makes are journaled before the tenant is unlocked, so the journal has them in the
/// order they were made.
pub(crate) fn dispatch(s: &Shared, op: &Operation) -> Answer {
    let (version, method, body) = (op.version, op.method, op.body);
    if method == "GET" && op.rest.len() == 1 && is(&op.rest[0], "users") {
        return list_users(&s.tenant.lock().expect("tenant lock"), version, op.query);
    }
    let (user, tail) = match user_of(op.rest) {
        Ok(v) => v,
        Err(a) => return a,
    };
    let names: Vec<&str> = tail.iter().map(String::as_str).collect();
    let sign_in_preferences = version == "beta" && names.len() == 2 && is(names[0], "authentication") && is(names[1], "signInPreferences");
    if sign_in_preferences && s.options.sign_in_preferences_forbidden {
        return Answer::error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let profile_phones = version == "beta" && names.len() >= 2 && is(names[0], "profile") && is(names[1], "phones");
    if profile_phones
        && s.options.profile_app_only_forbidden
        && !op.caller.delegated
        && matches!(method, "POST" | "PATCH" | "PUT" | "DELETE")
    {
        return Answer::error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let parse_body = || -> Result<Value, Answer> {
        serde_json::from_slice(body).map_err(|_| {
            Answer::error(
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            )
        })
    };
    let user_context = format!(
        "https://graph.microsoft.com/{version}/$metadata#users('{}')",
        percent_encoding::utf8_percent_encode(&user, CONTEXT_SEGMENT)
    );
    let context = |suffix: &str| format!("{user_context}/authentication/{suffix}");
    let profile_entity = |mut v: Value| {
        v["@odata.context"] = json!(format!("{user_context}/profile/phones/$entity"));
        v
    };
    let not_allowed = || {
        Ok(Answer::error(
            405,
            "Request_BadRequest",
            format!("The HTTP method '{method}' is not allowed on this resource."),
        ))
    };
    let mut tenant = s.tenant.lock().expect("tenant lock");
    let u = match tenant.user(&user) {
        Ok(u) => u,
        Err(f) => return f.into(),
    };
    let phone_methods = names.len() >= 2 && is(names[0], "authentication") && is(names[1], "phoneMethods");
    let action = |n: &str| names.len() == 4 && (is(names[3], n) || is(names[3], &format!("microsoft.graph.{n}")));
    let result: Result<Answer, Failure> = match (method, names.len()) {
        ("GET", 0) => Ok(user_entity(&tenant, u, version, op.query)),
        (_, 0) => not_allowed(),
        ("GET", 2) if sign_in_preferences => Ok(Answer::ok(
            200,
            Some(json!({
                "@odata.context": context("signInPreferences"),
                "@odata.type": "#microsoft.graph.signInPreferences",
                "isSystemPreferredAuthenticationMethodEnabled": false,
                "userPreferredMethodForSecondaryAuthentication": tenant.preferred_method(u),
            })),
        )),
        (_, 2) if sign_in_preferences => not_allowed(),
        ("GET", 2) if names[0].eq_ignore_ascii_case("authentication") && is(names[1], "methods") => Ok(Answer::ok(
            200,
            Some(json!({"@odata.context": context("methods"), "value": tenant.all_methods(u)})),
        )),
        ("GET", 2) if phone_methods => Ok(Answer::ok(
            200,
            Some(json!({"@odata.context": context("phoneMethods"), "value": tenant.list(u)})),
        )),
        ("GET", 3) if phone_methods => tenant.get(u, names[2]).map(|mut v| {
            v["@odata.context"] = json!(context("phoneMethods/$entity"));
            Answer::ok(200, Some(v))
        }),
        ("POST", 2) if phone_methods => match parse_body() {
            Ok(b) => tenant.create(u, &b).map(|v| Answer::ok(s.options.create_status, Some(v))),
            Err(a) => return a,
        },
        ("PATCH", 3) if phone_methods => match parse_body() {
            Ok(b) => tenant.update(u, names[2], &b).map(|v| match s.options.update_response {
                UpdateResponse::Empty => Answer::ok(204, None),
                UpdateResponse::Body => Answer::ok(200, Some(v)),
            }),
            Err(a) => return a,
        },
        ("DELETE", 3) if phone_methods => tenant.delete(u, names[2]).map(|()| Answer::ok(204, None)),
        ("POST", 4) if phone_methods && action("enableSmsSignIn") => tenant.sms_sign_in(u, names[2], true).map(|()| Answer::ok(204, None)),
        ("POST", 4) if phone_methods && action("disableSmsSignIn") => {
            tenant.sms_sign_in(u, names[2], false).map(|()| Answer::ok(204, None))
        }
        (_, 2..=4) if phone_methods => not_allowed(),
        ("GET", 2) if profile_phones => Ok(Answer::ok(
            200,
            Some(json!({"@odata.context": format!("{user_context}/profile/phones"), "value": tenant.profile(u).list()})),
        )),
        ("GET", 3) if profile_phones => tenant.profile(u).get(names[2]).map(|v| Answer::ok(200, Some(profile_entity(v)))),
        ("POST", 2) if profile_phones => match parse_body() {
            Ok(b) => profile::create(&mut tenant, u, &b, op.caller).map(|v| Answer::ok(201, Some(profile_entity(v)))),
            Err(a) => return a,
        },
        ("PATCH", 3) if profile_phones => match parse_body() {
            Ok(b) => profile::update(&mut tenant, u, names[2], &b, op.caller).map(|v| Answer::ok(200, Some(profile_entity(v)))),
            Err(a) => return a,
        },
        ("DELETE", 3) if profile_phones => profile::delete(&mut tenant, u, names[2]).map(|()| Answer::ok(204, None)),
        (_, 2..=3) if profile_phones => not_allowed(),
        (_, _) if profile_phones => Ok(Answer::error(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{}'.", names[3]),
        )),
        _ => Ok(Answer::error(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{}'.", names.first().copied().unwrap_or("")),
        )),
    };
    let by = op.by.map(str::to_string);
    s.journal.record(
        tenant
            .take_changes()
            .into_iter()
            .map(|change| Event::Change(ChangeRecord { change, by: by.clone() })),
    );
    result.unwrap_or_else(Answer::from)
}
