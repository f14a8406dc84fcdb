//! One person is one object id. An HR file may name a user by UPN on one row and by object id
//! on another; planned apart, the two would fight (each run flipping a phone back and forth,
//! or one plan deleting what the other adds). When the input names users in more than one
//! way, every key is resolved through Graph and rows naming the same object id are merged
//! before planning, so different numbers for one type become a conflict.

use crate::fanout::in_order;
use crate::graph::{DirectoryUser, GraphClient, GraphError, Version};
use crate::interrupt::Stop;
use crate::model::DesiredUser;

/// Whether `key` is written like an object id (a GUID) rather than a UPN.
pub fn looks_like_object_id(key: &str) -> bool {
    let parts: Vec<&str> = key.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// True when the input names users both by object id and by UPN.
pub fn mixed(users: &[DesiredUser]) -> bool {
    let ids = users.iter().filter(|u| looks_like_object_id(&u.user)).count();
    ids > 0 && ids < users.len()
}

/// What resolving a key found.
pub type Resolved = Result<String, GraphError>;

/// UPNs one request resolves: `$filter=userPrincipalName in (…)` takes at most 15 values
/// without advanced queries (docs/graph.md#resolving-many-users).
pub const UPNS_PER_REQUEST: usize = 15;

/// Resolves every user's key to its object id (lowercased), in order. An object id is its own
/// answer; UPNs are asked of Graph fifteen at a time (`GET /users?$filter=userPrincipalName in
/// (…)`, which the client batches twenty to a `$batch`), so resolving costs one request per
/// fifteen UPNs, not one each. A UPN the answer leaves out is not in the directory (404, as a
/// lookup of it would say). Once `stop` is requested, keys not yet resolved are left unresolved
/// (`notStarted`).
pub async fn resolve(api: &GraphClient, users: &[DesiredUser], concurrency: usize, stop: &Stop) -> Vec<Resolved> {
    let upns: Vec<&str> = users.iter().map(|u| u.user.as_str()).filter(|k| !looks_like_object_id(k)).collect();
    let groups: Vec<&[&str]> = upns.chunks(UPNS_PER_REQUEST).collect();
    let answers = in_order(&groups, concurrency, |group| async move {
        if stop.requested() {
            return Err(GraphError {
                status: None,
                code: crate::graph::NOT_STARTED.into(),
                message: crate::interrupt::NOT_STARTED.into(),
                info: Default::default(),
            });
        }
        #[derive(serde::Deserialize)]
        struct Page {
            value: Vec<DirectoryUser>,
        }
        api.get_as::<Page>(Version::V1, filter_path(group), "the users")
            .await
            .map(|(page, _)| page.value)
    })
    .await;
    let mut found: std::collections::HashMap<String, Resolved> = std::collections::HashMap::new();
    for (group, answer) in groups.iter().zip(answers) {
        for upn in group.iter() {
            let resolved = match &answer {
                Ok(page) => page
                    .iter()
                    .find(|d| d.user_principal_name.eq_ignore_ascii_case(upn))
                    .map(|d| d.id.to_lowercase())
                    .ok_or_else(|| GraphError {
                        status: Some(404),
                        code: "Request_ResourceNotFound".into(),
                        message: "no user has this user principal name".into(),
                        info: Default::default(),
                    }),
                Err(e) => Err(e.clone()),
            };
            found.insert(upn.to_lowercase(), resolved);
        }
    }
    let mut resolved = Vec::with_capacity(users.len());
    for u in users {
        resolved.push(if looks_like_object_id(&u.user) {
            Ok(u.user.to_lowercase())
        } else {
            found.get(&u.user.to_lowercase()).cloned().expect("every UPN was asked")
        });
    }
    resolved
}

/// The request resolving `upns`: their values quoted (`'` written `''`), the whole filter
/// percent-encoded (a guest's `#`, a `%`, a `+` or `&` in a UPN stay in the value).
fn filter_path(upns: &[&str]) -> String {
    let values: Vec<String> = upns.iter().map(|u| format!("'{}'", u.replace('\'', "''"))).collect();
    let clause = format!("userPrincipalName in ({})", values.join(","));
    format!(
        "/users?$filter={}&$select=id,userPrincipalName",
        percent_encoding::utf8_percent_encode(&clause, percent_encoding::NON_ALPHANUMERIC)
    )
}

/// Merges users that resolved to the same object id into the first of them (input order);
/// users whose key could not be resolved stay as they are, with their resolution error.
pub fn merge(users: Vec<DesiredUser>, resolved: Vec<Resolved>) -> Vec<(DesiredUser, Option<GraphError>)> {
    let mut out: Vec<(DesiredUser, Option<GraphError>)> = Vec::new();
    let mut by_id: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (user, id) in users.into_iter().zip(resolved) {
        match id {
            Ok(id) => match by_id.get(&id) {
                Some(&at) => {
                    let first = &mut out[at].0;
                    let note = format!("{} and {} name the same person", first.user, user.user);
                    first.absorb(user);
                    if let Some(c) = first.conflict.as_mut()
                        && !c.contains(&note)
                    {
                        c.push_str(&format!(" ({note})"));
                    }
                }
                None => {
                    by_id.insert(id, out.len());
                    out.push((user, None));
                }
            },
            Err(e) => out.push((user, Some(e))),
        }
    }
    // A UPN Graph could not resolve — no answer, throttled, refused, out of time; anything but
    // "no such user" (404) or "not a valid name" (400) — may name any of the people named by
    // object id: none of them can be planned safely this run.
    let blocking = out
        .iter()
        .filter_map(|(u, e)| e.as_ref().map(|e| (u, e)))
        .find(|(u, e)| !looks_like_object_id(&u.user) && !matches!(e.status, Some(400 | 404)));
    if let Some((_, e)) = blocking {
        let why = GraphError {
            message: "not planned: a user named by UPN could not be resolved, and may be this user; run again".into(),
            ..e.clone()
        };
        for (u, error) in out.iter_mut() {
            if looks_like_object_id(&u.user) && error.is_none() {
                *error = Some(why.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(key: &str, line: u64) -> DesiredUser {
        let mut u = DesiredUser {
            user: key.into(),
            ..Default::default()
        };
        let phone = crate::input::phone::parse("+1 2065550100", "US".parse().unwrap()).unwrap();
        u.want(
            "office",
            crate::model::DesiredPhone {
                phone,
                line,
                display_name: None,
            },
        );
        u
    }

    fn failed(status: Option<u16>) -> GraphError {
        GraphError {
            status,
            code: "x".into(),
            message: "failed".into(),
            info: Default::default(),
        }
    }

    /// A UPN that could not be resolved blocks every user named by object id (it may be one of
    /// them); a UPN Graph does not know blocks nobody.
    #[test]
    fn an_unresolved_upn_blocks_users_named_by_object_id() {
        const ID: &str = "0d9c1a3e-5b1f-4c1e-9a53-7f2c8e1b4a01";
        let users = || vec![user("kim@contoso.com", 2), user(ID, 3), user("lee@contoso.com", 4)];
        let merged = merge(users(), vec![Err(failed(None)), Ok(ID.into()), Ok("other".into())]);
        let blocked: Vec<bool> = merged.iter().map(|(_, e)| e.is_some()).collect();
        assert_eq!(blocked, [true, true, false]);
        let merged = merge(users(), vec![Err(failed(Some(404))), Ok(ID.into()), Ok("other".into())]);
        let blocked: Vec<bool> = merged.iter().map(|(_, e)| e.is_some()).collect();
        assert_eq!(blocked, [true, false, false]);
        // Resolved to the same id: one user, whose rows conflict when the numbers differ.
        let merged = merge(users(), vec![Ok(ID.into()), Ok(ID.into()), Ok("other".into())]);
        assert_eq!(merged.len(), 2);
    }

    #[test]
    fn object_ids_are_told_from_upns() {
        assert!(looks_like_object_id("0d9c1a3e-5b1f-4c1e-9a53-7f2c8e1b4a01"));
        assert!(looks_like_object_id("0D9C1A3E-5B1F-4C1E-9A53-7F2C8E1B4A01"));
        assert!(!looks_like_object_id("kim@contoso.com"));
        assert!(!looks_like_object_id("0d9c1a3e-5b1f-4c1e-9a53-7f2c8e1b4a0"));
        let user = |k: &str| DesiredUser {
            user: k.into(),
            ..Default::default()
        };
        assert!(mixed(&[user("kim@contoso.com"), user("0d9c1a3e-5b1f-4c1e-9a53-7f2c8e1b4a01")]));
        assert!(!mixed(&[user("kim@contoso.com"), user("lee@contoso.com")]));
        assert!(!mixed(&[user("0d9c1a3e-5b1f-4c1e-9a53-7f2c8e1b4a01")]));
    }
}
