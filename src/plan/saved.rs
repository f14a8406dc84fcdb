//! Saved plans, as Terraform's `plan -out` / `apply FILE`: `plan --out plan.json` writes the plan
//! a person reviews, and `apply plan.json` executes exactly that plan later, without planning
//! again. Each user's plan carries a fingerprint of the current state it was computed from; at
//! apply the users it touches are read again, and any whose state changed since is skipped as
//! `stale` rather than written from an outdated picture.
//!
//! A plan is bound to its approval by its **digest**: `sha256:` and the SHA-256 of the plan's
//! own JSON (everything in the file but the digest: tenant, input and config records with their
//! hashes, prune, every target's users with their ops and fingerprints). `plan.md` and the
//! console show it; `apply` recomputes it from what it parsed — what it would run — and refuses
//! a file whose content no longer matches, naming the first part that differs (the settings,
//! or a user of a target, by the seals each part carries); `--expect-digest` refuses any plan
//! but the approved one, so an edit that also rewrote the digest is caught too.

use crate::model::{CurrentUser, OpKind, Plan, SkipReason, UserPlan};
use crate::plan::fingerprint::{fingerprint, hex_sha256, outcome};
use crate::targets::Target;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The `format` field of every saved plan.
pub const FORMAT: &str = "phonesync-plan";
/// The version of the format this build writes and reads (2: plans carry their digest).
pub const VERSION: u32 = 2;
/// What a digest is written as: this, then 64 hex digits.
pub const DIGEST_PREFIX: &str = "sha256:";

/// A plan on disk: what it was computed from, and per user the ops with the fingerprint of the
/// state they were planned against. Users with nothing to change are left out.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedPlan {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format's version ([`VERSION`] when written by this build).
    pub version: u32,
    /// The plan's digest: [`DIGEST_PREFIX`] and the SHA-256, in hex, of the rest of the plan
    /// ([`SavedPlan::computed_digest`]).
    pub digest: String,
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
    /// The seal of the fields above (all but the digest and the targets' users): where an
    /// edit of them shows.
    pub settings_seal: String,
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
    /// The seal of the fields above: where an edit of this user's plan shows.
    pub seal: String,
}

/// What a user's seal covers: everything of [`SavedUser`] but the seal.
#[derive(Serialize)]
struct UserContent<'a> {
    fingerprint: &'a str,
    outcome: &'a str,
    plan: &'a UserPlan,
}

/// What the settings seal covers: every field of [`SavedPlan`] but the digest, the seal itself
/// and the targets' users (their names included).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Settings<'a> {
    format: &'a str,
    version: u32,
    created_at: &'a str,
    tenant: &'a str,
    endpoint: &'a str,
    input: &'a InputRecord,
    config: &'a ConfigRecord,
    users_read: u64,
    prune: bool,
    targets: Vec<&'a str>,
}

/// A short hash of `value`'s JSON: enough to point at the part of a plan that changed (the
/// digest, over the whole plan, is what proves it).
fn seal_of<T: Serialize>(value: &T) -> String {
    hex_sha256(&serde_json::to_vec(value).expect("plain data serializes"))[..16].to_string()
}

impl SavedUser {
    /// What [`SavedUser::seal`] is, for this content.
    fn computed_seal(&self) -> String {
        seal_of(&UserContent {
            fingerprint: &self.fingerprint,
            outcome: &self.outcome,
            plan: &self.plan,
        })
    }
}

/// `text` (`sha256:` and 64 hex digits, or the digits alone, any case) as a digest is written,
/// or why it is not one.
pub fn parse_digest(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let hex = match trimmed.get(..DIGEST_PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(DIGEST_PREFIX) => &trimmed[DIGEST_PREFIX.len()..],
        _ => trimmed,
    };
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "not a plan digest: give the {DIGEST_PREFIX} and 64 hex digits plan.md shows"
        ));
    }
    Ok(format!("{DIGEST_PREFIX}{}", hex.to_ascii_lowercase()))
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
        let mut saved = SavedPlan {
            format: FORMAT.into(),
            version: VERSION,
            digest: String::new(),
            created_at: created_at.into(),
            tenant: tenant.into(),
            endpoint: endpoint.into(),
            input,
            config,
            users_read,
            prune,
            settings_seal: String::new(),
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
                                seal: String::new(),
                            })
                        })
                        .collect(),
                })
                .collect(),
        };
        saved.seal();
        saved
    }

    /// The fields the settings seal covers.
    fn settings(&self) -> Settings<'_> {
        Settings {
            format: &self.format,
            version: self.version,
            created_at: &self.created_at,
            tenant: &self.tenant,
            endpoint: &self.endpoint,
            input: &self.input,
            config: &self.config,
            users_read: self.users_read,
            prune: self.prune,
            targets: self.targets.iter().map(|t| t.target.as_str()).collect(),
        }
    }

    /// The digest of this content: [`DIGEST_PREFIX`] and the SHA-256 of the JSON of every field
    /// but the digest (the settings, their seal, every target's users with their seals).
    pub fn computed_digest(&self) -> String {
        let json = serde_json::to_vec(&(&self.settings(), &self.settings_seal, &self.targets)).expect("plain data serializes");
        format!("{DIGEST_PREFIX}{}", hex_sha256(&json))
    }

    /// Seals every part and the whole.
    fn seal(&mut self) {
        self.settings_seal = seal_of(&self.settings());
        for user in self.targets.iter_mut().flat_map(|t| t.users.iter_mut()) {
            user.seal = user.computed_seal();
        }
        self.digest = self.computed_digest();
    }

    /// Whether the content is what was sealed, or the first part that is not.
    fn check_seals(&self) -> Result<(), String> {
        if self.settings_seal != seal_of(&self.settings()) {
            return Err("its settings (tenant, input, config, prune or its targets) are not the ones it was made with".into());
        }
        for target in &self.targets {
            if let Some(u) = target.users.iter().find(|u| u.seal != u.computed_seal()) {
                return Err(format!(
                    "target {}, user {}: the ops (or the state they were planned against) are not the ones planned",
                    target.target, u.plan.user
                ));
            }
        }
        if self.digest != self.computed_digest() {
            return Err("its users are not the ones planned (a user was added, removed or moved, or the digest edited)".into());
        }
        Ok(())
    }

    /// Writes the plan to `path`, readable by the owner only (it holds the planned numbers).
    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)?;
        crate::files::write_private(path, &json)
    }

    /// Reads a saved plan, or says why the file is not one this build can apply: not a plan,
    /// another version, damaged, changed since it was made (its digest no longer matches its
    /// content), or not the plan whose digest is `expected`.
    pub fn load(path: &Path, expected: Option<&str>) -> Result<SavedPlan> {
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
            Some(1) => bail!(
                "{} was saved by an earlier phonesync, without the digest that binds a plan to its review: plan again",
                path.display()
            ),
            Some(v) if v > VERSION => bail!(
                "{} was saved by a newer phonesync (plan format {v}; this one reads {VERSION}): apply it with that version, or plan again",
                path.display()
            ),
            _ => bail!("{} has an unknown plan format version: plan again", path.display()),
        }
        let saved: SavedPlan = serde_json::from_slice(&bytes).with_context(|| format!("{} is damaged: plan again", path.display()))?;
        if let Err(first) = saved.check_seals() {
            bail!(
                "refusing to apply {}: it was changed after it was made ({first}); its digest no longer matches its content, \
                 so it is not the plan that was reviewed. Plan again and review the new plan",
                path.display()
            );
        }
        if let Some(expected) = expected
            && saved.digest != expected
        {
            bail!(
                "refusing to apply {}: it is not the approved plan (its digest is {}, the approved one {expected})",
                path.display(),
                saved.digest
            );
        }
        Ok(saved)
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
    use crate::model::TargetPlan;
    use serde_json::json;

    /// A plan of one update for kim, as `plan` saves it.
    fn sample() -> SavedPlan {
        let op = serde_json::from_value(json!({"kind": "update", "phone_type": "mobile", "before": "+1 2065550100",
            "after": "+1 2065550199", "depends_on": [], "blocked": null, "reason": "new number"}))
        .unwrap();
        let plan = Plan {
            targets: vec![TargetPlan {
                target: "auth".into(),
                users: vec![UserPlan {
                    user: "kim@contoso.com".into(),
                    ops: vec![op],
                    skip: None,
                    notes: Vec::new(),
                    held_back: false,
                }],
            }],
        };
        let input = InputRecord {
            path: "hr.csv".into(),
            sha256: "00".into(),
            rows: 1,
            rejected: 0,
            encoding: "utf-8".into(),
            delimiter: ",".into(),
        };
        let config = ConfigRecord {
            path: "config.toml".into(),
            sha256: "11".into(),
            targets: Vec::new(),
        };
        let meta = ("2026-12-04T00:00:00Z", "embedded|", "the emulator");
        SavedPlan::new(&plan, &[vec![Ok(CurrentUser::default())]], input, config, meta, 1, false)
    }

    /// The plan `edit` makes of `saved`'s JSON, written to a file.
    fn edited(dir: &Path, saved: &SavedPlan, edit: impl FnOnce(&mut serde_json::Value)) -> std::path::PathBuf {
        let mut json = serde_json::to_value(saved).unwrap();
        edit(&mut json);
        let path = dir.join(format!("{}.json", hex_sha256(json.to_string().as_bytes())));
        std::fs::write(&path, json.to_string()).unwrap();
        path
    }

    /// An edit anywhere in the plan is refused, naming the part that changed; an edit that also
    /// wrote every seal and the digest anew is refused by the approved digest.
    #[test]
    fn a_plan_changed_after_it_was_made_is_refused_naming_where() {
        let dir = tempfile::tempdir().unwrap();
        let saved = sample();
        assert!(saved.digest.starts_with(DIGEST_PREFIX) && saved.digest.len() == DIGEST_PREFIX.len() + 64);
        let path = dir.path().join("plan.json");
        saved.write(&path).unwrap();
        assert_eq!(SavedPlan::load(&path, None).unwrap().digest, saved.digest);
        assert!(SavedPlan::load(&path, Some(&saved.digest)).is_ok());
        let other = format!("{DIGEST_PREFIX}{}", "0".repeat(64));
        let e = format!("{:#}", SavedPlan::load(&path, Some(&other)).unwrap_err());
        assert!(e.contains("not the approved plan") && e.contains(&saved.digest), "{e}");

        let refused = |path: &Path| format!("{:#}", SavedPlan::load(path, None).unwrap_err());
        let number = edited(dir.path(), &saved, |j| {
            j["targets"][0]["users"][0]["plan"]["ops"][0]["after"] = json!("+1 9005550666")
        });
        let e = refused(&number);
        assert!(
            e.contains("changed after it was made (target auth, user kim@contoso.com: the ops"),
            "{e}"
        );
        let tenant = edited(dir.path(), &saved, |j| j["tenant"] = json!("https://graph.microsoft.com|fabrikam"));
        assert!(refused(&tenant).contains("its settings"), "{}", refused(&tenant));
        let dropped = edited(dir.path(), &saved, |j| j["targets"][0]["users"] = json!([]));
        assert!(refused(&dropped).contains("its users are not the ones planned"));
        let digest = edited(dir.path(), &saved, |j| j["digest"] = json!(other));
        assert!(refused(&digest).contains("its users are not the ones planned"));

        // Whoever can write the file can seal their edit again: only the approved digest tells.
        let mut forged: SavedPlan = serde_json::from_str(&std::fs::read_to_string(&number).unwrap()).unwrap();
        forged.seal();
        forged.write(&dir.path().join("forged.json")).unwrap();
        assert!(SavedPlan::load(&dir.path().join("forged.json"), None).is_ok());
        let e = format!(
            "{:#}",
            SavedPlan::load(&dir.path().join("forged.json"), Some(&saved.digest)).unwrap_err()
        );
        assert!(e.contains("not the approved plan"), "{e}");
    }

    #[test]
    fn a_digest_is_read_with_or_without_its_prefix_in_any_case() {
        let hex = "ab".repeat(32);
        let want = format!("sha256:{hex}");
        for text in [hex.clone(), hex.to_uppercase(), format!("SHA256:{hex}"), format!(" sha256:{hex}\n")] {
            assert_eq!(parse_digest(&text).as_ref(), Ok(&want), "{text}");
        }
        for bad in ["", "sha256:", "abc", &format!("md5:{hex}"), &hex[1..]] {
            assert!(parse_digest(bad).unwrap_err().contains("not a plan digest"), "{bad}");
        }
    }

    #[test]
    fn a_file_that_is_not_a_saved_plan_of_this_version_is_refused_with_why() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("{\"targets\": []}", "is not a plan saved by"),
            ("not json", "is not a plan saved by"),
            ("{\"format\": \"phonesync-plan\", \"version\": 99}", "newer phonesync"),
            ("{\"format\": \"phonesync-plan\", \"version\": 2}", "damaged"),
            ("{\"format\": \"phonesync-plan\", \"version\": 1}", "earlier phonesync"),
        ];
        for (i, (text, why)) in cases.iter().enumerate() {
            let path = dir.path().join(format!("{i}.json"));
            std::fs::write(&path, text).unwrap();
            let e = format!("{:#}", SavedPlan::load(&path, None).unwrap_err());
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
