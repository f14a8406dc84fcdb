//! What a target is: the [`Target`] trait every kind of phone implements, and what a target is
//! built with. The stages work with any target through it.

use crate::config::TargetSection;
use crate::graph::request::{Confirm, GraphError, Request, Version};
use crate::model::{CurrentUser, DesiredUser, Item, Op, UserPlan};
use crate::targets::rules::{Context, Settings};
use anyhow::Result;
use serde_json::Value;

/// Builds a target from its config table and the run's [`Context`], or says which key is wrong
/// (`(key below target.NAME, why)`).
pub type Build = fn(&TargetSection, &Context) -> Result<Box<dyn Target>, (String, String)>;

/// One kind of phone a run keeps in line: its reads, parsing, planner and writes.
pub trait Target: Send + Sync {
    /// The target's name in config and reports (`auth`, `profile`).
    fn name(&self) -> &'static str;
    /// What it is, for people (`sign-in phone methods`).
    fn title(&self) -> &'static str;
    /// Its settings: which input types feed which of its types, which it may change, prune.
    fn settings(&self) -> &Settings;
    /// The delegated Graph permissions its reads and writes need (asked for at device-code
    /// sign-in), e.g. `UserAuthenticationMethod.ReadWrite.All`.
    fn delegated_scopes(&self) -> &'static [&'static str];
    /// Its types that receive text messages (sign-in by SMS), in its spelling: a number that
    /// can only be a fixed line is noted when it feeds one.
    fn texted(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether its items have server ids (an update or delete names the item by its id) rather
    /// than one fixed id per type.
    fn server_ids(&self) -> bool {
        false
    }
    /// Whether its items have display names (the input's `displayName` column feeds them).
    fn keeps_names(&self) -> bool {
        false
    }
    /// The read that lists one user's items.
    fn read(&self, user: &str) -> (Version, String);
    /// Parses the answer to [`Target::read`].
    fn parse(&self, body: Value) -> Result<Vec<Item>, String>;
    /// Plans one user that was read and has no conflicting input.
    fn plan(&self, desired: &DesiredUser, current: &CurrentUser) -> UserPlan;
    /// The request that carries `op` (its `client-request-id` is `op_id`), and how to tell by
    /// reading whether it was applied.
    fn write(&self, user: &str, op: &Op, op_id: &str) -> (Request, Confirm);
    /// A further read the plan of one user needs before it can be trusted (e.g. the default
    /// sign-in method of a user whose plan deletes a phone), if any.
    fn refine_read(&self, _user: &str, _plan: &UserPlan) -> Option<(Version, String)> {
        None
    }
    /// Takes the answer to [`Target::refine_read`] into the user's current state.
    fn refine(&self, _current: &mut CurrentUser, _body: Value) -> Result<(), String> {
        Ok(())
    }
    /// What to tell people when a [`Target::refine_read`] failed (said once per run).
    fn refine_refused(&self, error: &GraphError) -> String {
        format!(
            "a further read of {} failed ({error}); those users keep the plan made without it",
            self.title()
        )
    }
    /// When Graph's refusal of one write means every write of this target will be refused in
    /// this run (e.g. a 403 for a token type the resource does not support): the explanation
    /// to report once, and to mark the target's remaining ops failed with.
    fn refused_for_run(&self, _error: &GraphError) -> Option<String> {
        None
    }
}
