//! Targets: the kinds of phone a run keeps in line with the HR file. A target is one module that
//! owns its resource's wire format, its rules, its planner and its confirm-by-reread: what to
//! read for a user, how to parse it (items with their server ids), how to plan current against
//! desired under the settings, and the request for each op. The fetcher, the executor and the
//! reports work with any target through [`Target`]; the transport (`graph`) knows none of them.
//!
//! - [`auth_phones`]: sign-in phone methods (v1.0 `/authentication/phoneMethods`);
//! - [`profile_phones`]: phones shown in the directory profile (beta `/profile/phones`).
//!
//! Adding a target is one new module and one line in [`REGISTRY`].

pub mod auth_phones;
pub mod profile_phones;

use crate::config::{Config, Endpoint, SignIn, TargetSection};
use crate::graph::{Confirm, GraphError, Request, Version};
use crate::model::{CurrentUser, DesiredPhone, DesiredUser, Item, Op, SkipReason, UserPlan};
use crate::phone::Region;
use anyhow::Result;
use serde_json::Value;
use std::collections::BTreeMap;

/// What a target is built with besides its own `[target.NAME]` table.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// Delete managed items the input does not name (`plan.prune`).
    pub prune: bool,
    /// Region for numbers written without a country code (`input.default_region`).
    pub region: Region,
    /// The run signs in app-only (client secret, certificate, workload identity, the embedded
    /// emulator): a refusal that app-only tokens are documented to get is then run-wide.
    pub app_only: bool,
}

/// Builds a target from its config table and the run's [`Context`], or says which key is wrong
/// (`(key below target.NAME, why)`).
pub type Build = fn(&TargetSection, &Context) -> Result<Box<dyn Target>, (String, String)>;

/// Every target the tool knows, by its name in config.
pub const REGISTRY: &[(&str, Build)] = &[("auth", auth_phones::build), ("profile", profile_phones::build)];

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

/// Builds the configured targets, in config order, reading numbers with `region`; an unknown
/// name or a bad table stops the run with the key named.
pub fn build(config: &Config, region: Region) -> Result<Vec<Box<dyn Target>>> {
    let app_only = match (&config.endpoint, &config.auth.sign_in) {
        (Endpoint::Embedded, _) => true,
        (_, Some(SignIn::ClientSecret(_) | SignIn::Certificate { .. } | SignIn::WorkloadIdentity { .. })) => true,
        // Delegated, or a token from elsewhere that may be either.
        (_, Some(SignIn::DeviceCode | SignIn::AccessToken(_)) | None) => false,
    };
    let context = Context {
        prune: config.prune,
        region,
        app_only,
    };
    config
        .targets
        .iter()
        .map(|section| {
            let Some((_, build)) = REGISTRY.iter().find(|(name, _)| *name == section.name) else {
                let known: Vec<&str> = REGISTRY.iter().map(|(n, _)| *n).collect();
                return Err(config.error("targets", format!("unknown target '{}': use {}", section.name, known.join(" or "))));
            };
            build(section, &context).map_err(|(key, why)| config.error(&format!("target.{}.{key}", section.name), why))
        })
        .collect()
}

/// Every input `phoneType` the configured targets take, once each whatever its case (the
/// first target's spelling is the canonical one).
pub fn input_vocabulary(targets: &[Box<dyn Target>]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for name in targets.iter().flat_map(|t| t.settings().from.keys()) {
        if !all.iter().any(|a| a.eq_ignore_ascii_case(name)) {
            all.push(name.clone());
        }
    }
    all
}

/// The input phone types that feed a type some target texts (see [`Target::texted`]).
pub fn texted_input_types(targets: &[Box<dyn Target>]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for target in targets {
        for (input, fed) in &target.settings().from {
            if target.texted().iter().any(|t| t.eq_ignore_ascii_case(fed)) && !all.iter().any(|a| a.eq_ignore_ascii_case(input)) {
                all.push(input.clone());
            }
        }
    }
    all
}

/// The target type `input_type` feeds under `from`, matched without case.
fn feeds<'a>(from: &'a BTreeMap<String, String>, input_type: &str) -> Option<&'a str> {
    from.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(input_type))
        .map(|(_, v)| v.as_str())
}

/// Plans one user in `target` from what was read: a skip for conflicting input or a failed
/// read, else the target's plan.
pub fn plan_user_or_skip(target: &dyn Target, desired: &DesiredUser, current: &Result<CurrentUser, SkipReason>) -> UserPlan {
    if let Some(conflict) = &desired.conflict {
        return UserPlan::skipped(&desired.user, SkipReason::Conflict(conflict.clone()));
    }
    match current {
        Ok(current) => target.plan(desired, current),
        Err(reason) => UserPlan::skipped(&desired.user, reason.clone()),
    }
}

/// A user's desired state seen through one target's `from` map: the wanted phones and rejected
/// rows under the target's types. Rows of input types the target does not take are not its
/// business and are left out. Empty wide cells are counted in `none`. Two input types feeding the same target type with different
/// numbers is a contradiction, noted in `conflict`.
pub struct Projected<T> {
    /// Wanted phones by target type; each with its input type.
    pub phones: BTreeMap<T, Vec<(String, DesiredPhone)>>,
    /// Rejected rows by target type (earliest line).
    pub rejected: BTreeMap<T, u64>,
    /// Target types an empty wide cell says the user has none of, and no row gives a phone.
    pub none: usize,
}

/// Projects `desired` through `from` (input type → target type, parsed by `parse`).
pub fn project<T: Ord + Clone>(desired: &DesiredUser, from: &BTreeMap<String, String>, parse: impl Fn(&str) -> Option<T>) -> Projected<T> {
    let mut phones: BTreeMap<T, Vec<(String, DesiredPhone)>> = BTreeMap::new();
    let mut rejected: BTreeMap<T, u64> = BTreeMap::new();
    for (input_type, wanted) in &desired.phones {
        if let Some(t) = feeds(from, input_type).and_then(&parse) {
            phones.entry(t).or_default().push((input_type.clone(), wanted.clone()));
        }
    }
    for (input_type, line) in &desired.rejected {
        if let Some(t) = feeds(from, input_type).and_then(&parse) {
            let kept = rejected.entry(t).or_insert(*line);
            *kept = (*kept).min(*line);
        }
    }
    let mut none: Vec<T> = desired
        .stated_none
        .iter()
        .filter_map(|input_type| feeds(from, input_type).and_then(&parse))
        .filter(|t| !phones.contains_key(t))
        .collect();
    none.sort();
    none.dedup();
    Projected {
        phones,
        rejected,
        none: none.len(),
    }
}

/// What every target is configured with, from its `[target.NAME]` table and `plan.prune`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Which input `phoneType` (any case) feeds which of the target's types.
    pub from: BTreeMap<String, String>,
    /// The target's types phonesync may change, in the target's spelling.
    pub managed: Vec<String>,
    /// Delete managed items the input does not name.
    pub prune: bool,
}

impl Settings {
    /// Reads `section` for a target whose types are `types`: `from` ([`from_map`], else
    /// `default_from`) and `managed_types` ([`managed`]); prune from `context`.
    pub fn read(
        section: &TargetSection,
        types: &[&str],
        default_from: BTreeMap<String, String>,
        context: &Context,
    ) -> Result<Settings, (String, String)> {
        let from = from_map(section, types, default_from)?;
        let managed = managed(section, types, &from, context.prune)?;
        Ok(Settings {
            from,
            managed,
            prune: context.prune,
        })
    }
}

/// The `from` map of a target: the configured one, every key an input type (case kept as
/// written, matched case-insensitively by the reader) and every value one of `types`; or
/// `default` when none is configured.
pub fn from_map(
    section: &TargetSection,
    types: &[&str],
    default: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, (String, String)> {
    let Some(from) = &section.from else { return Ok(default) };
    let mut out = BTreeMap::new();
    for (input, target_type) in from {
        let Some(t) = types.iter().find(|t| t.eq_ignore_ascii_case(target_type.trim())) else {
            return Err((
                "from".into(),
                format!("'{target_type}' (for input type '{input}') is not one of {}", types.join(", ")),
            ));
        };
        if input.trim().is_empty() {
            return Err(("from".into(), "an input type is empty".into()));
        }
        if out.keys().any(|k: &String| k.eq_ignore_ascii_case(input.trim())) {
            return Err(("from".into(), format!("input type '{input}' is named twice (case does not count)")));
        }
        out.insert(input.trim().to_string(), t.to_string());
    }
    if out.is_empty() {
        return Err(("from".into(), "maps no input type, so this target would get no rows".into()));
    }
    Ok(out)
}

/// Whether prune runs for one user in one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prune {
    /// Managed items the input does not name may be deleted.
    pub runs: bool,
    /// Prune is on but rejected rows stop it (the user is counted as held back by them).
    pub held_by_rejected_rows: bool,
}

/// Decides prune for one user in a target, noting why in `notes` when it is on but must delete
/// nothing: a rejected row whose type could not be read (it could be about any phone), every row
/// feeding this target rejected (HR told us nothing about these phones), or no row feeding this
/// target at all (the user is in the file for another target's phones). A rejected row never
/// licenses a delete, whichever target it was meant for. One rule for every target.
pub fn prune(on: bool, untyped: &[u64], rows_here: usize, rejected_here: usize, notes: &mut Vec<String>) -> Prune {
    let block = if !untyped.is_empty() {
        let lines: Vec<String> = untyped.iter().map(u64::to_string).collect();
        let note = format!(
            "line {}: a rejected row whose type could not be read, so no phone of this user is pruned",
            lines.join(", ")
        );
        Some((note, true))
    } else if rows_here == 0 && rejected_here > 0 {
        Some((
            "every row of this user was rejected, so no phone of this user is pruned".to_string(),
            true,
        ))
    } else if rows_here == 0 {
        Some((
            "no row of this user is about these phones, so none of them is pruned".to_string(),
            false,
        ))
    } else {
        None
    };
    match block {
        Some((note, by_rejected_rows)) if on => {
            notes.push(note);
            Prune {
                runs: false,
                held_by_rejected_rows: by_rejected_rows,
            }
        }
        _ => Prune {
            runs: on && block.is_none(),
            held_by_rejected_rows: false,
        },
    }
}

/// The managed types of a target: the configured ones (each one of `types`, matched
/// case-insensitively, duplicates dropped), or by default the types `from` feeds. With `prune`,
/// a managed type no input type feeds is an error: every phone of that type of every user in the
/// file would be deleted.
pub fn managed(
    section: &TargetSection,
    types: &[&str],
    from: &BTreeMap<String, String>,
    prune: bool,
) -> Result<Vec<String>, (String, String)> {
    let fed = |t: &str| from.values().any(|v| v == t);
    let Some(names) = &section.managed_types else {
        return Ok(types.iter().filter(|t| fed(t)).map(|t| t.to_string()).collect());
    };
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let Some(t) = types.iter().find(|t| t.eq_ignore_ascii_case(name.trim())) else {
            return Err(("managed_types".into(), format!("unknown type '{name}': use {}", types.join(", "))));
        };
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    if out.is_empty() {
        return Err(("managed_types".into(), "names no type, so there would be nothing to do".into()));
    }
    if prune && let Some(unfed) = out.iter().find(|t| !fed(t)) {
        return Err((
            "managed_types".into(),
            format!(
                "'{unfed}' is managed but no input type feeds it (see from), so prune would delete every {unfed} phone \
                 of every user in the file; add an input type for it to from, or remove it from managed_types"
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;
    use crate::model::DesiredPhone;
    use std::path::Path;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("/p/config.toml"), &Env::default()).unwrap()
    }

    fn build(config: &Config) -> Result<Vec<Box<dyn Target>>> {
        super::build(config, "US".parse().unwrap())
    }

    fn build_err(text: &str) -> String {
        match build(&config(text)) {
            Ok(_) => panic!("{text} should not build"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn targets_build_in_config_order_and_bad_tables_name_their_key() {
        let names: Vec<&str> = build(&config("targets = [\"profile\", \"auth\"]\n"))
            .unwrap()
            .iter()
            .map(|t| t.name())
            .collect();
        assert_eq!(names, ["profile", "auth"]);
        let e = build_err("targets = [\"auth\", \"fax\"]\n");
        assert!(e.contains("/p/config.toml: targets: unknown target 'fax'"), "{e}");
        let e = build_err("targets = [\"profile\"]\n[target.profile]\nmanaged_types = [\"car\"]\n");
        assert!(e.contains("target.profile.managed_types") && e.contains("'car'"), "{e}");
        let e = build_err("[target.auth]\nfrom = { mobile = \"pager\" }\n");
        assert!(e.contains("target.auth.from") && e.contains("'pager'"), "{e}");
        let e = build_err("[target.auth]\nmanaged_types = []\n");
        assert!(e.contains("target.auth.managed_types") && e.contains("no type"), "{e}");
    }

    #[test]
    fn managed_types_default_to_what_the_input_feeds_and_prune_refuses_an_unfed_one() {
        let only_office = "targets = [\"profile\"]\n[plan]\nprune = true\n[target.profile]\nfrom = { office = \"business\" }\n";
        let targets = build(&config(only_office)).unwrap();
        assert_eq!(
            targets[0].settings().managed,
            ["business"],
            "not all ten: prune would wipe the others"
        );
        let e = build_err(&format!("{only_office}managed_types = [\"business\", \"home\"]\n"));
        assert!(
            e.contains("target.profile.managed_types") && e.contains("'home'") && e.contains("prune"),
            "{e}"
        );
        // Without prune an unfed managed type deletes nothing: it is allowed.
        let no_prune = only_office.replace("prune = true", "prune = false");
        assert!(build(&config(&format!("{no_prune}managed_types = [\"business\", \"home\"]\n"))).is_ok());
    }

    #[test]
    fn the_input_vocabulary_is_every_configured_targets_input_types() {
        let targets = build(&config(
            "targets = [\"auth\", \"profile\"]\n[target.profile]\nfrom = { Office = \"business\" }\n",
        ))
        .unwrap();
        // `Office` is `office`: one entry, in the first target's spelling, feeding both targets.
        assert_eq!(input_vocabulary(&targets), ["alternateMobile", "mobile", "office"]);
        let d = wanting(&[("office", "+1 4255550100", 2)]);
        for target in &targets {
            let plan = plan_user_or_skip(target.as_ref(), &d, &Ok(CurrentUser::default()));
            assert_eq!(plan.ops.len(), 1, "{}: {:?}", target.name(), plan.ops);
        }
        let auth_only = build(&config("")).unwrap();
        assert_eq!(input_vocabulary(&auth_only), ["alternateMobile", "mobile", "office"]);
    }

    fn wanting(rows: &[(&str, &str, u64)]) -> DesiredUser {
        let mut d = DesiredUser {
            user: "u@contoso.com".into(),
            ..Default::default()
        };
        for (t, n, line) in rows {
            let phone = crate::phone::from_graph(n);
            d.want(
                t,
                DesiredPhone {
                    phone,
                    line: *line,
                    display_name: None,
                },
            );
        }
        d
    }

    #[test]
    fn an_empty_wide_cell_lets_prune_run_in_every_target_it_feeds() {
        let seeded = |t: &str| CurrentUser {
            items: vec![Item {
                id: "1".into(),
                phone_type: t.into(),
                phone: crate::phone::from_graph("+1 4255550100"),
                display_name: None,
            }],
            ..CurrentUser::default()
        };
        let config =
            config("targets = [\"auth\", \"profile\"]\n[plan]\nprune = true\n[target.profile]\nfrom = { office = \"business\" }\n");
        for (target, held) in build(&config).unwrap().iter().zip(["office", "business"]) {
            let mut d = wanting(&[]);
            let plan = plan_user_or_skip(target.as_ref(), &d, &Ok(seeded(held)));
            assert!(plan.ops.is_empty(), "{}: a user with no row here keeps its phones", target.name());
            d.state_none("office");
            let plan = plan_user_or_skip(target.as_ref(), &d, &Ok(seeded(held)));
            let kinds: Vec<_> = plan.ops.iter().map(|o| (o.kind, o.phone_type.as_str())).collect();
            assert_eq!(kinds, [(crate::model::OpKind::Delete, held)], "{}", target.name());
        }
    }

    #[test]
    fn conflicting_input_and_failed_reads_skip_the_user_in_every_target() {
        for target in build(&config("targets = [\"auth\", \"profile\"]\n")).unwrap() {
            let mut d = wanting(&[("mobile", "+1 2065550100", 2)]);
            let read: Result<CurrentUser, SkipReason> = Err(SkipReason::NotFound);
            assert_eq!(plan_user_or_skip(target.as_ref(), &d, &read).skip, Some(SkipReason::NotFound));
            d.conflict = Some("lines 2 and 3 give different mobile numbers".into());
            let skip = plan_user_or_skip(target.as_ref(), &d, &Ok(CurrentUser::default())).skip;
            assert!(matches!(skip, Some(SkipReason::Conflict(_))), "{}: {skip:?}", target.name());
        }
    }

    #[test]
    fn two_input_types_feeding_one_auth_type_with_different_numbers_conflict() {
        let targets = build(&config("[target.auth]\nfrom = { mobile = \"mobile\", cell = \"mobile\" }\n")).unwrap();
        let same = wanting(&[("mobile", "+1 2065550100", 2), ("cell", "+1 (206) 555-0100", 3)]);
        let plan = plan_user_or_skip(targets[0].as_ref(), &same, &Ok(CurrentUser::default()));
        assert_eq!(plan.skip, None);
        assert_eq!(plan.ops.len(), 1, "one add of mobile: {:?}", plan.ops);
        let different = wanting(&[("mobile", "+1 2065550100", 2), ("cell", "+1 2065550199", 3)]);
        let plan = plan_user_or_skip(targets[0].as_ref(), &different, &Ok(CurrentUser::default()));
        assert!(
            matches!(plan.skip, Some(SkipReason::Conflict(ref c)) if c.contains("lines 2 and 3")),
            "{:?}",
            plan.skip
        );
    }
}
