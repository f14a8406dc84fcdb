//! Saved plans, as Terraform's `plan -out` / `apply FILE`: `plan --out plan.json` writes the plan
//! a person reviews, and `apply plan.json` executes exactly that plan later, without planning
//! again. Each user's plan carries a fingerprint of the current state it was computed from; at
//! apply the users it touches are read again, and any whose state changed since is skipped as
//! `stale` rather than written from an outdated picture.

use crate::fetcher;
use crate::graph::GraphClient;
use crate::interrupt::Stop;
use crate::model::{CurrentUser, DesiredUser, Item, Op, OpKind, Plan, SkipReason, TargetPlan, UnfinishedMove, UserPlan};
use crate::targets::Target;
use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// A saved plan checked against the tenant as it is now.
pub struct Rechecked {
    /// The plan to execute: stale and unreadable users skipped.
    pub plan: Plan,
    /// What was read, per target and user of the plan (users not read: an error).
    pub current: Vec<Vec<Result<CurrentUser, SkipReason>>>,
    /// (target, lowercased user) pairs read and unchanged since planning.
    pub read_ok: HashSet<(String, String)>,
    /// Things to say once (a further read refused).
    pub notes: Vec<String>,
}

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

/// SHA-256 of `bytes`, in hex.
fn hex_sha256(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 of the file at `path`, read in pieces (an HR file may be large), in hex.
pub fn file_sha256(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut buffer).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        context.update(&buffer[..n]);
    }
    Ok(context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// A digest of one user's current state in one target: every item (id, type, number, display
/// name), the default sign-in method where it was read, and the type changes on record as
/// unfinished: everything a planner reads of the current state, so a change to any of it
/// changes the digest.
pub fn fingerprint(current: &CurrentUser) -> String {
    let mut items: Vec<String> = current
        .items
        .iter()
        .map(|i| {
            format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}",
                i.id,
                i.phone_type,
                i.phone.key,
                i.display_name.as_deref().unwrap_or("\u{0}")
            )
        })
        .collect();
    items.sort();
    let mut moves: Vec<String> = current
        .unfinished_moves
        .iter()
        .map(|m: &UnfinishedMove| format!("{}\u{1f}{}\u{1f}{}", m.from, m.to, m.key))
        .collect();
    moves.sort();
    let text = format!(
        "items\u{1e}{}\u{1d}default\u{1e}{}\u{1d}moves\u{1e}{}",
        items.join("\u{1e}"),
        current.default_method.as_deref().unwrap_or("\u{0}"),
        moves.join("\u{1e}")
    );
    hex_sha256(text.as_bytes())[..32].to_string()
}

/// A digest of the phones (type, number, display name; not server ids, which a new item only
/// gets when written) `current` holds once every op of `ops` that is sent has succeeded.
pub fn outcome(current: &CurrentUser, ops: &[Op]) -> String {
    let same_item = |i: &Item, op: &Op| match &op.item_id {
        Some(id) => i.id == *id,
        None => i.phone_type == op.phone_type,
    };
    let mut items: Vec<Item> = current.items.clone();
    for op in ops.iter().filter(|o| o.blocked.is_none()) {
        let number = || crate::phone::from_graph(op.after.as_deref().unwrap_or_default());
        match op.kind {
            OpKind::Add => items.push(Item {
                id: String::new(),
                phone_type: op.phone_type.clone(),
                phone: number(),
                display_name: op.display_name.clone(),
            }),
            OpKind::Update => {
                if let Some(item) = items.iter_mut().find(|i| same_item(i, op)) {
                    item.phone = number();
                    item.phone_type = op.phone_type.clone();
                    if op.display_name.is_some() {
                        item.display_name = op.display_name.clone();
                    }
                }
            }
            OpKind::Delete => {
                if let Some(at) = items.iter().position(|i| same_item(i, op)) {
                    items.remove(at);
                }
            }
        }
    }
    outcome_of(&items)
}

/// The digest [`outcome`] gives a user holding `items`.
fn outcome_of(items: &[Item]) -> String {
    let mut phones: Vec<String> = items
        .iter()
        .map(|i| {
            format!(
                "{}\u{1f}{}\u{1f}{}",
                i.phone_type,
                i.phone.key,
                i.display_name.as_deref().unwrap_or("\u{0}")
            )
        })
        .collect();
    phones.sort();
    hex_sha256(phones.join("\u{1e}").as_bytes())[..32].to_string()
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

    /// The plan to execute now: every user whose plan sends something is read again (with the
    /// further read its target asks for, and the moves on record in `unfinished`); a user whose
    /// state differs from the one planned against is skipped as stale, one that cannot be read
    /// is skipped as unreadable.
    #[allow(clippy::too_many_arguments)]
    pub async fn recheck(
        self,
        api: &GraphClient,
        targets: &[Box<dyn Target>],
        unfinished: &mut HashMap<(String, String), Vec<UnfinishedMove>>,
        concurrency: usize,
        progress: &ProgressBar,
        stop: &Stop,
    ) -> Rechecked {
        let mut notes = Vec::new();
        let mut read_ok = HashSet::new();
        let mut plan = Plan::default();
        let mut states = Vec::new();
        for (target, saved) in targets.iter().zip(self.targets) {
            // Users whose ops are all blocked send nothing: they are reported as planned.
            let sends = |u: &SavedUser| u.plan.sends();
            let to_read: Vec<DesiredUser> = saved
                .users
                .iter()
                .filter(|u| sends(u))
                .map(|u| DesiredUser {
                    user: u.plan.user.clone(),
                    ..DesiredUser::default()
                })
                .collect();
            let mut reads: Vec<Result<CurrentUser, SkipReason>> =
                fetcher::fetch(api, target.as_ref(), &to_read, concurrency, progress, stop)
                    .await
                    .into_iter()
                    .zip(&to_read)
                    .map(|(read, u)| {
                        read.map_err(|(reason, _)| reason).map(|mut c| {
                            let key = (target.name().to_string(), u.user.to_lowercase());
                            c.unfinished_moves = unfinished.remove(&key).unwrap_or_default();
                            c
                        })
                    })
                    .collect();
            // The further reads planning made, made again; one refused leaves the state as it
            // was then too (planning noted it and planned without it).
            let sending: Vec<&SavedUser> = saved.users.iter().filter(|u| sends(u)).collect();
            let further: Vec<(usize, (crate::graph::Version, String))> = sending
                .iter()
                .enumerate()
                .filter(|(k, _)| reads[*k].is_ok())
                .filter_map(|(k, u)| target.refine_read(&u.plan.user, &u.plan).map(|r| (k, r)))
                .collect();
            let (_, refused) = fetcher::read_further(api, target.as_ref(), &further, &mut reads, concurrency).await;
            if let Some(e) = refused {
                notes.push(target.refine_refused(&e));
            }
            let mut reads = reads.into_iter();
            let users: Vec<(SavedUser, Option<Result<CurrentUser, SkipReason>>)> = saved
                .users
                .into_iter()
                .map(|u| {
                    let read = sends(&u).then(|| reads.next().expect("one read per user read"));
                    (u, read)
                })
                .collect();
            let (users, current): (Vec<UserPlan>, Vec<Result<CurrentUser, SkipReason>>) = users
                .into_iter()
                .map(|(u, current)| match current {
                    None => (u.plan, Err(SkipReason::ReadFailed("not read: the plan sends nothing".into()))),
                    Some(Err(reason)) => (UserPlan::skipped(&u.plan.user, reason.clone()), Err(reason)),
                    // Already as planned: an earlier apply of this plan did it (or someone did).
                    // Already as planned: an earlier apply of this plan did it (or someone did).
                    // Its blocked ops are still reported; nothing is sent.
                    Some(Ok(c)) if fingerprint(&c) != u.fingerprint && !u.outcome.is_empty() && outcome_of(&c.items) == u.outcome => {
                        read_ok.insert((target.name().to_string(), u.plan.user.to_lowercase()));
                        let blocked = u
                            .plan
                            .ops
                            .iter()
                            .filter(|o| o.blocked.is_some())
                            .map(|o| Op {
                                depends_on: Vec::new(),
                                ..o.clone()
                            })
                            .collect();
                        let mut done = UserPlan { ops: blocked, ..u.plan };
                        done.notes
                            .push("already as this plan makes it (an earlier apply of it): nothing to do".into());
                        (done, Ok(c))
                    }
                    Some(Ok(c)) if fingerprint(&c) != u.fingerprint => {
                        let stale = SkipReason::Stale(
                            "the user's phones (or default sign-in method) in Graph differ from when the plan was made; plan again".into(),
                        );
                        (UserPlan::skipped(&u.plan.user, stale), Ok(c))
                    }
                    // The same state, but ops that do not fit it: an edited plan.
                    Some(Ok(c)) if let Err(why) = ops_fit(&u.plan.ops, &c) => {
                        let stale = SkipReason::Stale(format!(
                            "the plan's ops do not fit the user's phones ({why}): was plan.json edited? plan again"
                        ));
                        (UserPlan::skipped(&u.plan.user, stale), Ok(c))
                    }
                    Some(Ok(c)) => {
                        read_ok.insert((target.name().to_string(), u.plan.user.to_lowercase()));
                        (u.plan, Ok(c))
                    }
                })
                .unzip();
            states.push(current);
            plan.targets.push(TargetPlan {
                target: saved.target,
                users,
            });
        }
        Rechecked {
            plan,
            current: states,
            read_ok,
            notes,
        }
    }
}

/// Whether a saved user's ops are ones a planner could have made under `managed`: every op of
/// a managed type, with the numbers its kind needs (and the server id of the item it changes,
/// for a target that has them), depending only on ops before it.
fn check_ops(plan: &UserPlan, managed: &[String], server_ids: bool) -> Result<(), String> {
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

/// Whether every update and delete of `ops` that is sent changes an item `current` holds, with
/// the number the op says it had: by its server id, else by its type.
fn ops_fit(ops: &[Op], current: &CurrentUser) -> Result<(), String> {
    for (i, op) in ops.iter().enumerate().filter(|(_, o)| o.blocked.is_none() && o.kind != OpKind::Add) {
        let item = current.items.iter().find(|item| match &op.item_id {
            Some(id) => item.id == *id,
            None => item.phone_type == op.phone_type,
        });
        let before = op.before.as_deref().map(crate::phone::key);
        match item {
            Some(item) if Some(&item.phone.key) == before.as_ref() => {}
            _ => return Err(format!("op {} changes a phone the user does not have", i + 1)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Item, Phone};

    fn item(id: &str, t: &str, key: &str) -> Item {
        Item {
            id: id.into(),
            phone_type: t.into(),
            phone: Phone {
                display: key.into(),
                key: key.into(),
            },
            display_name: None,
        }
    }

    #[test]
    fn a_fingerprint_changes_with_every_part_of_the_state_and_not_with_item_order() {
        let base = CurrentUser {
            items: vec![item("a", "mobile", "+12065550100"), item("b", "office", "+12065550101")],
            ..CurrentUser::default()
        };
        let same = CurrentUser {
            items: base.items.iter().rev().cloned().collect(),
            ..CurrentUser::default()
        };
        assert_eq!(fingerprint(&base), fingerprint(&same), "Graph lists items in any order");
        let mut variants = Vec::new();
        let mut v = base.clone();
        v.items[0].phone.key = "+12065550199".into();
        variants.push(v);
        let mut v = base.clone();
        v.items[1].phone_type = "alternateMobile".into();
        variants.push(v);
        let mut v = base.clone();
        v.items[1].id = "c".into();
        variants.push(v);
        let mut v = base.clone();
        v.items[0].display_name = Some("desk".into());
        variants.push(v);
        let mut v = base.clone();
        v.items.pop();
        variants.push(v);
        let mut v = base.clone();
        v.default_method = Some("mobile".into());
        variants.push(v);
        let mut v = base.clone();
        v.unfinished_moves.push(UnfinishedMove {
            from: "office".into(),
            to: "mobile".into(),
            key: "+12065550101".into(),
        });
        variants.push(v);
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(fingerprint(&base), fingerprint(v), "variant {i}");
        }
    }

    #[test]
    fn the_outcome_is_the_state_once_every_sent_op_succeeded() {
        let op = |kind, t: &str, item_id: Option<&str>, after: Option<&str>, blocked: bool| Op {
            kind,
            phone_type: t.into(),
            item_id: item_id.map(str::to_string),
            before: Some("+1 4255550100".into()),
            after: after.map(str::to_string),
            display_name: None,
            depends_on: Vec::new(),
            blocked: blocked.then(|| "default".to_string()),
            reason: String::new(),
            moves_to: None,
        };
        let current = CurrentUser {
            items: vec![item("o", "office", "+14255550100"), item("p", "business", "+12065550100")],
            ..CurrentUser::default()
        };
        let ops = [
            op(OpKind::Add, "mobile", None, Some("+1 4255550100"), false),
            op(OpKind::Delete, "office", None, None, false),
            op(OpKind::Update, "mobile", Some("p"), Some("+1 2065550100"), false),
            op(OpKind::Add, "alternateMobile", None, Some("+1 2065550199"), true),
        ];
        let expected = [item("", "mobile", "+14255550100"), item("p", "mobile", "+12065550100")];
        assert_eq!(outcome(&current, &ops), outcome_of(&expected));
        assert_ne!(outcome(&current, &ops[..1]), outcome_of(&expected));
    }

    #[test]
    fn an_edited_op_that_does_not_fit_the_users_phones_is_caught() {
        let op = |kind, t: &str, item_id: Option<&str>, before: &str| Op {
            kind,
            phone_type: t.into(),
            item_id: item_id.map(str::to_string),
            before: Some(before.into()),
            after: Some("+1 2065550199".into()),
            display_name: None,
            depends_on: Vec::new(),
            blocked: None,
            reason: String::new(),
            moves_to: None,
        };
        let current = CurrentUser {
            items: vec![item("o", "office", "+14255550100"), item("p", "business", "+12065550100")],
            ..CurrentUser::default()
        };
        assert!(ops_fit(&[op(OpKind::Update, "office", None, "+1 425 555 0100")], &current).is_ok());
        assert!(ops_fit(&[op(OpKind::Delete, "home", Some("p"), "+1 2065550100")], &current).is_ok());
        assert!(
            ops_fit(&[op(OpKind::Add, "mobile", None, "")], &current).is_ok(),
            "an add changes nothing held"
        );
        for bad in [
            op(OpKind::Update, "office", None, "+1 4255550999"),
            op(OpKind::Delete, "mobile", None, "+1 4255550100"),
            op(OpKind::Delete, "business", Some("q"), "+1 2065550100"),
        ] {
            assert!(ops_fit(std::slice::from_ref(&bad), &current).is_err(), "{bad:?}");
        }
        let user = |ops: Vec<Op>| UserPlan {
            user: "u".into(),
            ops,
            skip: None,
            notes: Vec::new(),
            held_back: false,
        };
        let managed = ["business".to_string()];
        let unnamed = user(vec![op(OpKind::Delete, "business", None, "+1 2065550100")]);
        assert!(check_ops(&unnamed, &managed, false).is_ok());
        assert!(check_ops(&unnamed, &managed, true).unwrap_err().contains("does not name the item"));
    }

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
