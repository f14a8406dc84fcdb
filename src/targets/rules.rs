//! The planning rules every target shares, in one home: the input seen through a target's
//! `from` map, the settings every target is configured with, the prune rule, and the managed
//! types.

use crate::config::TargetSection;
use crate::input::phone::Region;
use crate::model::{DesiredPhone, DesiredUser};
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

/// The target type `input_type` feeds under `from`, matched without case.
fn feeds<'a>(from: &'a BTreeMap<String, String>, input_type: &str) -> Option<&'a str> {
    from.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(input_type))
        .map(|(_, v)| v.as_str())
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
