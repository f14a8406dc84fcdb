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
//! meaning "none of this type"; a type some user holds several phones of (profile phones) gets
//! as many columns (`profile mobile`, `profile mobile 2`), oldest first, and a target that keeps
//! display names gives each phone column its own name column (`profile mobile name`). A cell
//! the run cannot vouch for (a target the user was not read in) holds `?`, which the reader
//! refuses, so the rollback leaves that type as it is.

use crate::config::Config;
use crate::model::{CurrentUser, Plan, SkipReason};
use crate::sheet::{Cell, CsvFile};
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
/// What a phone column's display-name column adds to its name: `profile mobile name`.
const NAME: &str = "name";

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
        "# Written by phonesync apply before its first write. To put the {} it changes back as\n\
         # they were: phonesync apply {} --config {}\n\
         # (review it first with `phonesync plan`). Prune is on for those users and types only.\n",
        crate::console::count(touched.len() as u64, "user"),
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

/// A phone column of a snapshot: one slot of one (target, type). A user holds at most one
/// phone per slot; a type some user holds several of gets as many slots.
struct Slot {
    /// The target's index.
    target: usize,
    /// The target's type.
    phone_type: String,
    /// Which of the user's phones of that type (0: the oldest).
    nth: usize,
    /// The column, also its input type: `auth mobile`, `profile mobile 2`.
    column: String,
    /// Its display-name column, for a target that keeps names.
    name: Option<String>,
}

/// The slots of a snapshot of `users`: per target and managed type, as many as any user holds
/// phones of that type (at least one).
fn slots<'a>(targets: &[Box<dyn Target>], users: &[&str], state: &dyn Fn(usize, &str) -> Option<&'a CurrentUser>) -> Vec<Slot> {
    let mut slots = Vec::new();
    for (t, target) in targets.iter().enumerate() {
        for m in &target.settings().managed {
            let most = users
                .iter()
                .filter_map(|u| state(t, u))
                .map(|c| c.items.iter().filter(|i| i.phone_type == *m).count())
                .max()
                .unwrap_or(0)
                .max(1);
            for nth in 0..most {
                let column = match nth {
                    0 => column(target.name(), m),
                    n => format!("{} {}", column(target.name(), m), n + 1),
                };
                let name = target.keeps_names().then(|| format!("{column} {NAME}"));
                slots.push(Slot {
                    target: t,
                    phone_type: m.clone(),
                    nth,
                    column,
                    name,
                });
            }
        }
    }
    slots
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
    let slots = slots(targets, users, state);
    let mut header = vec!["user".to_string()];
    for slot in &slots {
        header.push(slot.column.clone());
        header.extend(slot.name.clone());
    }
    let mut csv = CsvFile::new(Vec::new(), &header)?;
    for user in users {
        let mut row = vec![Cell::Text(user)];
        for slot in &slots {
            let (number, name) = match state(slot.target, user) {
                Some(c) => match c.items.iter().filter(|i| i.phone_type == slot.phone_type).nth(slot.nth) {
                    Some(item) => (item.phone.display.as_str(), item.display_name.as_deref().unwrap_or_default()),
                    None => ("", ""),
                },
                None => (UNKNOWN, ""),
            };
            row.push(Cell::Phone(number));
            if slot.name.is_some() {
                row.push(Cell::Text(name));
            }
        }
        csv.row(&row)?;
    }
    let bytes = csv.into_inner().with_context(|| format!("cannot write {}", csv_path.display()))?;
    crate::files::create_private(csv_path)?
        .write_all(&bytes)
        .with_context(|| format!("cannot write {}", csv_path.display()))?;
    let toml = snapshot_config(config, targets, &slots, users.len(), guards)?;
    crate::files::create_private(toml_path)?
        .write_all(format!("{comment}\n{toml}").as_bytes())
        .with_context(|| format!("cannot write {}", toml_path.display()))
}

/// The run's config file with what makes it apply the snapshot: the run's targets, each fed
/// by its own columns and managing the types it managed; prune on; the guards as `guards`
/// says; relative paths made absolute (the file may live anywhere).
fn snapshot_config(config: &Config, targets: &[Box<dyn Target>], slots: &[Slot], users: usize, guards: Guards) -> Result<String> {
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
        plan.insert("max_deletes".into(), ((users * slots.len()).max(1) as i64).into());
        plan.insert("max_shrink_percent".into(), 100.0.into());
    }
    table.insert("plan".into(), plan.into());
    let mut input = toml::Table::new();
    input.insert("format".into(), "wide".into());
    input.insert("user_column".into(), "user".into());
    input.insert("default_region".into(), config.default_region.clone().into());
    input.insert("delimiter".into(), ",".into());
    input.insert("encoding".into(), "utf-8".into());
    // A column may rightly be empty for every user here (nobody had an office phone).
    input.insert("empty_column_means_none".into(), true.into());
    input.insert("allow_vanity_numbers".into(), config.input.allow_vanity_numbers.into());
    let mut wide = toml::Table::new();
    let mut names = toml::Table::new();
    for slot in slots {
        wide.insert(slot.column.clone(), slot.column.clone().into());
        if let Some(name) = &slot.name {
            names.insert(slot.column.clone(), name.clone().into());
        }
    }
    input.insert("columns".into(), wide.into());
    if !names.is_empty() {
        input.insert("name_columns".into(), names.into());
    }
    table.insert("input".into(), input.into());
    let mut sections = toml::Table::new();
    for (i, target) in targets.iter().enumerate() {
        let mut from = toml::Table::new();
        for slot in slots.iter().filter(|s| s.target == i) {
            from.insert(slot.column.clone(), slot.phone_type.clone().into());
        }
        let managed: Vec<toml::Value> = target.settings().managed.iter().map(|m| toml::Value::String(m.clone())).collect();
        let mut section = toml::Table::new();
        section.insert("from".into(), from.into());
        section.insert("managed_types".into(), managed.into());
        sections.insert(target.name().into(), section.into());
    }
    table.insert("target".into(), sections.into());
    toml::to_string(&table).context("cannot write rollback.toml")
}
