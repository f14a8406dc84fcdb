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
pub mod rules;
pub mod target;

pub use rules::{Context, Projected, Settings, project};
pub use target::{Build, Target};

use crate::config::{Config, Endpoint, SignIn};
use crate::input::phone::Region;
use crate::model::{CurrentUser, DesiredUser, SkipReason, UserPlan};
use anyhow::Result;

/// Every target the tool knows, by its name in config.
pub const REGISTRY: &[(&str, Build)] = &[("auth", auth_phones::build), ("profile", profile_phones::build)];

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;
    use crate::model::{DesiredPhone, Item};
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
            let phone = crate::input::phone::from_graph(n);
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
                phone: crate::input::phone::from_graph("+1 4255550100"),
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
