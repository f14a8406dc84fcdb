//! The Graph resources the emulator serves under a user, one module each, and the route table
//! that says where each sits under `/{version}/users/{user}`. A resource module brings its
//! handlers and, if it keeps data about users, its [`Table`]; adding one is a module, its rows in
//! [`ROUTES`] and its table in [`tables`]. Addressing the user, locking the tenant and journaling
//! the changes are graph.rs's, the same for every resource.

pub(crate) mod phone_methods;
pub(crate) mod profile_phones;
pub(crate) mod users;

use crate::answer::Answer;
use crate::call::{Call, Operation};
use crate::options::Options;
use crate::tenant::{Failure, Table};

/// Serves an operation under a route; `rest` is the path after the route's own segments.
/// `None` when the resource has no such path (Graph's 400 for the first segment after the user).
pub(crate) type Serve = fn(call: &mut Call, rest: &[&str]) -> Option<Result<Answer, Failure>>;

/// Refuses an operation before its user is looked up (a permission the app is configured to
/// lack); `None` lets it through.
pub(crate) type Guard = fn(options: &Options, op: &Operation, rest: &[&str]) -> Option<Answer>;

/// One row of the route table.
pub(crate) struct Route {
    /// The Graph versions that have the resource.
    pub versions: &'static [&'static str],
    /// Its path after the user, segments compared without case.
    pub path: &'static [&'static str],
    /// Checked before the user is looked up.
    pub guard: Option<Guard>,
    /// Serves the operation.
    pub serve: Serve,
}

const BOTH: &[&str] = &["v1.0", "beta"];
const BETA: &[&str] = &["beta"];

/// Every resource under a user. An operation goes to the row of its version with the longest
/// path that starts its own; the user itself (no segments) takes what no other row does.
pub(crate) static ROUTES: [Route; 5] = [
    Route {
        versions: BOTH,
        path: &[],
        guard: None,
        serve: users::serve,
    },
    Route {
        versions: BOTH,
        path: &["authentication", "methods"],
        guard: None,
        serve: phone_methods::serve_all_methods,
    },
    Route {
        versions: BOTH,
        path: &["authentication", "phoneMethods"],
        guard: None,
        serve: phone_methods::serve,
    },
    Route {
        versions: BETA,
        path: &["authentication", "signInPreferences"],
        guard: Some(phone_methods::guard_sign_in_preferences),
        serve: phone_methods::serve_sign_in_preferences,
    },
    Route {
        versions: BETA,
        path: &["profile", "phones"],
        guard: Some(profile_phones::guard),
        serve: profile_phones::serve,
    },
];

/// The route of an operation of `version` on the user path `tail` (the segments after the
/// user), and the rest of the path after the route's segments.
pub(crate) fn route<'p>(version: &str, tail: &'p [&'p str]) -> (&'static Route, &'p [&'p str]) {
    let route = ROUTES
        .iter()
        .filter(|r| r.versions.contains(&version))
        .filter(|r| r.path.len() <= tail.len() && r.path.iter().zip(tail).all(|(p, t)| t.eq_ignore_ascii_case(p)))
        .max_by_key(|r| r.path.len())
        .expect("the user's own route has no segments and takes every path");
    (route, &tail[route.path.len()..])
}

/// The tables a new tenant is built with: one per resource that keeps data about users, in the
/// order their checks of a seed user run.
pub(crate) fn tables() -> Vec<Box<dyn Table>> {
    vec![
        Box::new(phone_methods::PhoneMethodTable::default()),
        Box::new(profile_phones::ProfilePhoneTable::default()),
    ]
}
