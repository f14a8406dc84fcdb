//! Snapshots of users' phones in the tool's own input format, with the config that applies them:
//! the way back from an apply, and the starting point of a migration.
//!
//! - Before its first write, `apply` writes `rollback.csv`, the prior state of every user the
//!   plan touches, and `rollback.toml`, the config that makes `phonesync apply rollback.csv
//!   --config rollback.toml` restore exactly that state (prune on, for those users and the types
//!   the run managed).
//! - `phonesync export` writes the current state of a tenant's users the same way (`export`).
//!
//! The file is wide: one row per user, one column per (target, managed type), an empty cell
//! meaning "none of this type". A cell the run cannot vouch for holds `?`, which the reader
//! refuses, so the rollback leaves that type as it is: a target the user was not read in, or a
//! type the user held more than one profile phone of (the input format names one per type).
//! The row's one display name is given back when all the user's named phones share it.

use crate::config::Config;
use crate::model::{CurrentUser, Plan, SkipReason};
use crate::targets::Target;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The snapshot's file name.
pub const CSV: &str = "rollback.csv";
/// Its config's file name.
pub const TOML: &str = "rollback.toml";
/// The cell of a type the snapshot does not know.
pub const UNKNOWN: &str = "?";
/// The column of the display name of a user's phones, for targets that keep one.
const DISPLAY_NAME: &str = "displayName";

/// A column of the snapshot, also its input type: `auth mobile`.
fn column(target: &str, phone_type: &str) -> String {
    format!("{target} {phone_type}")
}

/// Writes `rollback.csv` and `rollback.toml` into `dir` for the users `plan` sends ops for,
/// from `current` (per target, per user of the plan, as read before any write). Returns the
/// number of users in the snapshot; none, and no files, when the plan sends nothing.
pub fn rollback(
    dir: &Path,
    config: &Config,
    targets: &[Box<dyn Target>],
    plan: &Plan,
    current: &[Vec<Result<CurrentUser, SkipReason>>],
) -> Result<usize> {
    // Users the plan writes to, in plan order, once each whatever the target.
    let mut touched: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (_, u) in plan.user_plans() {
        if u.sends() && seen.insert(u.user.to_lowercase()) {
            touched.push(&u.user);
        }
    }
    if touched.is_empty() {
        return Ok(0);
    }
    // Where each user is in each target's plan.
    let index: Vec<HashMap<String, usize>> = plan
        .targets
        .iter()
        .map(|t| t.users.iter().enumerate().map(|(i, u)| (u.user.to_lowercase(), i)).collect())
        .collect();
    let state = |t: usize, user: &str| {
        index[t]
            .get(&user.to_lowercase())
            .and_then(|i| current[t].get(*i))
            .and_then(|c| c.as_ref().ok())
    };
    let (csv, toml) = (dir.join(CSV), dir.join(TOML));
    let comment = format!(
        "# Written by phonesync apply before its first write. To put the {} users it changes back as\n\
         # they were: phonesync apply {} --config {}\n\
         # (review it first with `phonesync plan`). Prune is on for those users and types only.\n",
        touched.len(),
        csv.display(),
        toml.display()
    );
    write(&csv, &toml, &comment, config, targets, &touched, &state, Guards::Off)?;
    Ok(touched.len())
}

/// What a snapshot's config does with the delete and shrink guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guards {
    /// As the run's config has them (an export, edited before it is applied).
    Kept,
    /// Opened to what the snapshot may delete, the shrink guard off (a rollback names few
    /// users on purpose, and deletes what the run added).
    Off,
}

/// Writes the snapshot of `users` (their state in target `t` by `state(t, user)`; `None` when
/// not known) to `csv_path`, and the config that applies it to `toml_path` (headed by
/// `comment`), both new and owner-only.
#[allow(clippy::too_many_arguments)]
pub fn write<'a>(
    csv_path: &Path,
    toml_path: &Path,
    comment: &str,
    config: &Config,
    targets: &[Box<dyn Target>],
    users: &[&str],
    state: &dyn Fn(usize, &str) -> Option<&'a CurrentUser>,
    guards: Guards,
) -> Result<()> {
    let columns: Vec<(usize, String, String)> = targets
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.settings().managed.iter().map(move |m| (i, t.name().to_string(), m.clone())))
        .collect();
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["user".to_string()];
    header.extend(columns.iter().map(|(_, t, m)| column(t, m)));
    header.push(DISPLAY_NAME.into());
    csv.write_record(&header)?;
    for user in users {
        let mut row = vec![user.to_string()];
        let mut names: Vec<Option<&str>> = Vec::new();
        for (t, _, phone_type) in &columns {
            let state = state(*t, user);
            if let Some(c) = state
                && targets[*t].keeps_names()
            {
                names.extend(
                    c.items
                        .iter()
                        .filter(|i| i.phone_type == *phone_type)
                        .map(|i| i.display_name.as_deref()),
                );
            }
            let cell = match state {
                Some(c) => {
                    let mut held = c.items.iter().filter(|i| i.phone_type == *phone_type);
                    match (held.next(), held.next()) {
                        (None, _) => String::new(),
                        (Some(item), None) => item.phone.display.clone(),
                        (Some(_), Some(_)) => UNKNOWN.into(),
                    }
                }
                None => UNKNOWN.into(),
            };
            row.push(cell);
        }
        // One name per row: given back only when all the user's named phones share it.
        let name = match names.split_first() {
            Some((Some(first), rest)) if rest.iter().all(|n| *n == Some(*first)) => first.to_string(),
            _ => String::new(),
        };
        row.push(name);
        csv.write_record(&row)?;
    }
    let bytes = csv.into_inner().with_context(|| format!("cannot write {}", csv_path.display()))?;
    crate::files::create_private(csv_path)?
        .write_all(&bytes)
        .with_context(|| format!("cannot write {}", csv_path.display()))?;
    let toml = snapshot_config(config, targets, &columns, users.len(), guards)?;
    crate::files::create_private(toml_path)?
        .write_all(format!("{comment}\n{toml}").as_bytes())
        .with_context(|| format!("cannot write {}", toml_path.display()))
}

/// The run's config file with what makes it apply the snapshot: the run's targets, each fed
/// by its own columns and managing the types it managed; prune on; the guards as `guards`
/// says; relative paths made absolute (the file may live anywhere).
fn snapshot_config(
    config: &Config,
    targets: &[Box<dyn Target>],
    columns: &[(usize, String, String)],
    users: usize,
    guards: Guards,
) -> Result<String> {
    let text =
        std::fs::read_to_string(&config.path).with_context(|| format!("cannot read {} to write rollback.toml", config.path.display()))?;
    let mut table: toml::Table = text
        .parse()
        .with_context(|| format!("cannot read {} to write rollback.toml", config.path.display()))?;
    let base: PathBuf = std::path::absolute(&config.path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    for (section, key) in [
        ("reports", "dir"),
        ("emulator", "seed"),
        ("emulator", "state_dir"),
        ("auth", "certificate_path"),
        ("auth", "federated_token_file"),
    ] {
        if let Some(toml::Value::String(path)) = table.get_mut(section).and_then(|s| s.get_mut(key))
            && Path::new(path.as_str()).is_relative()
        {
            *path = base.join(path.as_str()).display().to_string();
        }
    }
    table.insert(
        "targets".into(),
        toml::Value::Array(targets.iter().map(|t| toml::Value::String(t.name().into())).collect()),
    );
    let mut plan = match (guards, table.remove("plan")) {
        (Guards::Kept, Some(toml::Value::Table(plan))) => plan,
        _ => toml::Table::new(),
    };
    plan.insert("prune".into(), true.into());
    if guards == Guards::Off {
        plan.insert("max_deletes".into(), ((users * columns.len()).max(1) as i64).into());
        plan.insert("max_shrink_percent".into(), 100.0.into());
    }
    table.insert("plan".into(), plan.into());
    let mut input = toml::Table::new();
    input.insert("format".into(), "wide".into());
    input.insert("user_column".into(), "user".into());
    input.insert("display_name_column".into(), DISPLAY_NAME.into());
    input.insert("default_region".into(), config.default_region.clone().into());
    input.insert("delimiter".into(), ",".into());
    input.insert("encoding".into(), "utf-8".into());
    // A column may rightly be empty for every user here (nobody had an office phone).
    input.insert("empty_column_means_none".into(), true.into());
    input.insert("allow_vanity_numbers".into(), config.input.allow_vanity_numbers.into());
    let mut wide = toml::Table::new();
    for (_, t, m) in columns {
        wide.insert(column(t, m), column(t, m).into());
    }
    input.insert("columns".into(), wide.into());
    table.insert("input".into(), input.into());
    let mut sections = toml::Table::new();
    for (i, target) in targets.iter().enumerate() {
        let mut from = toml::Table::new();
        let mut managed = Vec::new();
        for (_, t, m) in columns.iter().filter(|(at, _, _)| *at == i) {
            from.insert(column(t, m), m.clone().into());
            managed.push(toml::Value::String(m.clone()));
        }
        let mut section = toml::Table::new();
        section.insert("from".into(), from.into());
        section.insert("managed_types".into(), managed.into());
        sections.insert(target.name().into(), section.into());
    }
    table.insert("target".into(), sections.into());
    toml::to_string(&table).context("cannot write rollback.toml")
}
