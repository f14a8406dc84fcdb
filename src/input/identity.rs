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

/// Resolves every user's key to its object id (lowercased), in order. An object id is its own
/// answer; only UPNs are asked of Graph. Once `stop` is requested, keys not yet resolved are
/// left unresolved (`notStarted`).
pub async fn resolve(api: &GraphClient, users: &[DesiredUser], concurrency: usize, stop: &Stop) -> Vec<Resolved> {
    in_order(users, concurrency, |u| async move {
        if looks_like_object_id(&u.user) {
            return Ok(u.user.to_lowercase());
        }
        if stop.requested() {
            return Err(GraphError {
                status: None,
                code: crate::graph::NOT_STARTED.into(),
                message: crate::interrupt::NOT_STARTED.into(),
                info: Default::default(),
            });
        }
        let path = format!("{}?$select=id,userPrincipalName", GraphClient::user_path(&u.user));
        api.get_as::<DirectoryUser>(Version::V1, path, "the user")
            .await
            .map(|(d, _)| d.id.to_lowercase())
    })
    .await
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
