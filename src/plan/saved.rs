//! Saved plans, as Terraform's `plan -out` / `apply FILE`: `plan --out plan.json` writes the plan
//! a person reviews, and `apply plan.json` executes exactly that plan later, without planning
//! again. Each user's plan carries a fingerprint of the current state it was computed from; at
//! apply the users it touches are read again, and any whose state changed since is skipped as
//! `stale` rather than written from an outdated picture.

use crate::model::{CurrentUser, OpKind, Plan, SkipReason, UserPlan};
use crate::plan::fingerprint::{fingerprint, outcome};
use crate::targets::Target;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The `format` field of every saved plan.
pub const FORMAT: &str = "phonesync-plan";
/// The version of the format this build writes and reads.
pub const VERSION: u32 = 1;

/// A plan on disk: what it was computed from, and per user the ops with the fingerprint of the
/// state they were planned against. Users with nothing to change are left out.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedPlan {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format's version ([`VERSION`] when written by this build).
    pub version: u32,
    /// When the plan was made (UTC, RFC 3339).
    pub created_at: String,
    /// The tenant it was planned against (endpoint and tenant id): it applies only there.
    pub tenant: String,
    /// What the run talked to, for people.
    pub endpoint: String,
    /// The HR file it was planned from.
    pub input: InputRecord,
    /// The config that shaped it.
    pub config: ConfigRecord,
    /// Users the input named (for the delete and shrink guards at apply).
    pub users_read: u64,
    /// Whether prune was on when planning.
    pub prune: bool,
    /// The plan of each target, in the order the run planned them.
    pub targets: Vec<SavedTarget>,
}

/// The input a plan was made from.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputRecord {
    /// The path given on the command line.
    pub path: String,
    /// SHA-256 of the file's bytes, in hex.
    pub sha256: String,
    /// Data rows read.
    pub rows: u64,
    /// Rows refused.
    pub rejected: u64,
    /// The encoding and delimiter it was read with.
    pub encoding: String,
    /// See `encoding`.
    pub delimiter: String,
}

/// The config a plan was made under.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigRecord {
    /// The path given on the command line.
    pub path: String,
    /// SHA-256 of the file's bytes, in hex (empty when there was no file).
    pub sha256: String,
    /// Each target's settings as planned with.
    pub targets: Vec<TargetRecord>,
}

/// One target's settings, as a plan was made with them.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRecord {
    /// Its name in config.
    pub name: String,
    /// Which input type fed which of its types.
    pub from: BTreeMap<String, String>,
    /// The types it was allowed to change.
    pub managed_types: Vec<String>,
}

/// One target's saved plan.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedTarget {
    /// The target's name in config.
    pub target: String,
    /// Users with ops, in input order.
    pub users: Vec<SavedUser>,
}

/// One user's saved plan.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedUser {
    /// [`fingerprint`] of the state the ops were planned against.
    pub fingerprint: String,
    /// [`outcome`] of the plan: the user's phones once every op that is sent succeeded. A user
    /// found in that state at apply was done by an earlier apply of this plan.
    #[serde(default)]
    pub outcome: String,
    /// The plan.
    pub plan: UserPlan,
}

/// Whether the command line's input is a saved plan rather than an HR file: a `.json` file.
pub fn is_saved_plan(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

impl SavedPlan {
    /// The saved form of `plan`, whose users' current states are `current` (per target, per
    /// user, in the plan's order).
    pub fn new(
        plan: &Plan,
        current: &[Vec<Result<CurrentUser, SkipReason>>],
        input: InputRecord,
        config: ConfigRecord,
        meta: (&str, &str, &str),
        users_read: u64,
        prune: bool,
    ) -> SavedPlan {
        let (created_at, tenant, endpoint) = meta;
        SavedPlan {
            format: FORMAT.into(),
            version: VERSION,
            created_at: created_at.into(),
            tenant: tenant.into(),
            endpoint: endpoint.into(),
            input,
            config,
            users_read,
            prune,
            targets: plan
                .targets
                .iter()
                .zip(current)
                .map(|(t, current)| SavedTarget {
                    target: t.target.clone(),
                    users: t
                        .users
                        .iter()
                        .zip(current)
                        .filter(|(u, _)| !u.ops.is_empty())
                        .filter_map(|(u, c)| {
                            c.as_ref().ok().map(|c| SavedUser {
                                fingerprint: fingerprint(c),
                                outcome: outcome(c, &u.ops),
                                plan: u.clone(),
                            })
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Writes the plan to `path`, readable by the owner only (it holds the planned numbers).
    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)?;
        crate::files::write_private(path, &json)
    }

    /// Reads a saved plan, or says why the file is not one this build can apply.
    pub fn load(path: &Path) -> Result<SavedPlan> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read the saved plan {}", path.display()))?;
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
            version: Option<u32>,
        }
        let not_a_plan = || {
            format!(
                "{} is not a plan saved by `phonesync plan --out` (an HR file must be a CSV, not .json)",
                path.display()
            )
        };
        let head: Head = serde_json::from_slice(&bytes).with_context(not_a_plan)?;
        if head.format.as_deref() != Some(FORMAT) {
            bail!(not_a_plan());
        }
        match head.version {
            Some(VERSION) => {}
            Some(v) if v > VERSION => bail!(
                "{} was saved by a newer phonesync (plan format {v}; this one reads {VERSION}): apply it with that version, or plan again",
                path.display()
            ),
            _ => bail!("{} has an unknown plan format version: plan again", path.display()),
        }
        serde_json::from_slice(&bytes).with_context(|| format!("{} is damaged: plan again", path.display()))
    }

    /// The configured `targets` in the plan's order, or why the plan cannot run under this
    /// config: another tenant, a target not configured, a target's `from` or managed types
    /// changed since planning, prune turned off after a plan that prunes, or an op this config
    /// could not have planned (a damaged or edited file).
    pub fn targets_for(&self, tenant: &str, prune: bool, mut targets: Vec<Box<dyn Target>>) -> Result<Vec<Box<dyn Target>>> {
        if self.tenant != tenant {
            bail!(
                "this plan was made against {} and the config now points at another tenant: apply it with the config it was planned with, or plan again",
                self.endpoint
            );
        }
        if self.prune && !prune {
            bail!(
                "this plan was made with prune on and the config now has it off: plan again, or apply it with the config it was planned with"
            );
        }
        let ordered: Vec<Box<dyn Target>> = self
            .targets
            .iter()
            .map(|saved| match targets.iter().position(|t| t.name() == saved.target) {
                Some(i) => Ok(targets.swap_remove(i)),
                None => bail!(
                    "this plan changes target '{}', which the config does not configure: apply it with the config it was planned with",
                    saved.target
                ),
            })
            .collect::<Result<_>>()?;
        for (target, saved) in ordered.iter().zip(&self.targets) {
            let settings = target.settings();
            let record = self.config.targets.iter().find(|r| r.name == saved.target);
            if record.is_none_or(|r| r.from != settings.from || r.managed_types != settings.managed) {
                bail!(
                    "target.{}'s from or managed_types changed since this plan was made: plan again, or apply it with the config it was planned with",
                    saved.target
                );
            }
            for u in &saved.users {
                check_ops(&u.plan, &settings.managed, target.server_ids())
                    .map_err(|why| anyhow::anyhow!("this plan is damaged ({}, target {}): {why}; plan again", u.plan.user, saved.target))?;
            }
        }
        Ok(ordered)
    }
}

/// Whether a saved user's ops are ones a planner could have made under `managed`: every op of
/// a managed type, with the numbers its kind needs (and the server id of the item it changes,
/// for a target that has them), depending only on ops before it.
pub(crate) fn check_ops(plan: &UserPlan, managed: &[String], server_ids: bool) -> Result<(), String> {
    for (i, op) in plan.ops.iter().enumerate() {
        if !managed.contains(&op.phone_type) {
            return Err(format!("op {} changes type '{}', which is not managed", i + 1, op.phone_type));
        }
        if server_ids && op.kind != OpKind::Add && op.item_id.is_none() {
            return Err(format!("op {} does not name the item it changes", i + 1));
        }
        let numbers = match op.kind {
            crate::model::OpKind::Add | crate::model::OpKind::Update => op.after.is_some(),
            crate::model::OpKind::Delete => op.before.is_some(),
        };
        if !numbers {
            return Err(format!("op {} lacks the number its kind needs", i + 1));
        }
        if let Some(d) = op.depends_on.iter().find(|d| **d >= i) {
            return Err(format!("op {} depends on op {}, which does not come before it", i + 1, d + 1));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_saved_plan_of_this_version_is_refused_with_why() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("{\"targets\": []}", "is not a plan saved by"),
            ("not json", "is not a plan saved by"),
            ("{\"format\": \"phonesync-plan\", \"version\": 99}", "newer phonesync"),
            ("{\"format\": \"phonesync-plan\", \"version\": 1}", "damaged"),
        ];
        for (i, (text, why)) in cases.iter().enumerate() {
            let path = dir.path().join(format!("{i}.json"));
            std::fs::write(&path, text).unwrap();
            let e = format!("{:#}", SavedPlan::load(&path).unwrap_err());
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
