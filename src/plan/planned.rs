//! What planning hands on, whether it planned an HR file (`fresh`) or checked a saved plan
//! against the tenant (`recheck`): one type, so the guards, the apply and the reports never ask
//! where a plan came from. Also the reading context both paths share.

use crate::graph::GraphClient;
use crate::interrupt::Stop;
use crate::model::{CurrentUser, Plan, SkipReason, UnfinishedMove};
use crate::targets::Target;
use std::collections::{HashMap, HashSet};

/// Per target, per user of the plan: what was read of the user's current state.
pub type Current = Vec<Vec<Result<CurrentUser, SkipReason>>>;

/// A plan, with what it was made from.
pub struct Planned {
    /// The plan, its targets in the order of `targets`.
    pub plan: Plan,
    /// Users the input named (the guards' measure).
    pub users_read: usize,
    /// Whether prune was on for the plan.
    pub prune: bool,
    /// (target, lowercased user) whose current items this run read successfully.
    pub read_ok: HashSet<(String, String)>,
    /// Per target, per user of the plan: what was read.
    pub current: Current,
    /// The targets, in the plan's order.
    pub targets: Vec<Box<dyn Target>>,
    /// Things to say once (a further read refused).
    pub notes: Vec<String>,
}

/// How planning reads Graph: the client, how many users at a time, whether to draw progress,
/// the run's stop, and the type changes on record as unfinished (taken by the users read).
pub struct Reads<'a> {
    /// The transport.
    pub api: &'a GraphClient,
    /// Users in flight.
    pub concurrency: usize,
    /// No progress bars.
    pub quiet: bool,
    /// The run's stop.
    pub stop: &'a Stop,
    /// Unfinished type changes by (target, lowercased user).
    pub unfinished: HashMap<(String, String), Vec<UnfinishedMove>>,
}

impl Reads<'_> {
    /// `current` with the unfinished type changes on record for `user` in `target`.
    pub fn with_moves(&mut self, target: &str, user: &str, mut current: CurrentUser) -> CurrentUser {
        let key = (target.to_string(), user.to_lowercase());
        current.unfinished_moves = self.unfinished.remove(&key).unwrap_or_default();
        current
    }
}
