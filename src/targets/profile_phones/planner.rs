//! The `profile` target's planner. A user may hold several profile phones of one type, with
//! server ids, so the planner pairs the items the user has with the rows HR gives:
//!
//! 1. by number: a row and an item with the same canonical number are one phone (an item of the
//!    row's type and display name preferred, then the oldest);
//! 2. per managed type, the items left over, oldest first, with the rows of that type left over,
//!    by line: a pair is one phone whose number changed;
//! 3. a row left without an item is added; with prune, an item left without a row is deleted,
//!    after every write (an extra copy of a number HR gives is such an item).
//!
//! A paired item whose number, type or display name differs is one PATCH: it keeps its id and
//! what this tool does not manage. So a new HR number for the common one-item, one-row case is
//! exactly one update. Items of a type whose row was rejected, or of a type not managed, are
//! never paired by type, changed or deleted.

use crate::model::{CurrentUser, DesiredPhone, DesiredUser, Item, Op, OpKind, SkipReason, UserPlan};
use crate::targets::profile_phones::types::parse_type;
use crate::targets::rules::{Projected, Settings, project};
use std::collections::{BTreeMap, BTreeSet};

/// One wanted profile phone.
struct Wanted {
    phone_type: &'static str,
    key: String,
    display: String,
    display_name: Option<String>,
    line: u64,
}

/// Plans one user (see the module doc for the rules).
pub fn plan_user(settings: &Settings, desired: &DesiredUser, current: &CurrentUser) -> UserPlan {
    let Projected { phones, rejected, none } = project(desired, &settings.from, parse_type);
    let rows_here: usize = phones.values().map(Vec::len).sum::<usize>() + none;
    let managed = |t: &str| settings.managed.iter().any(|m| m == t);
    let mut notes = Vec::new();
    let wanted = wanted(phones, &managed, &mut notes);
    for (t, line) in rejected.iter().filter(|(t, _)| managed(t)) {
        notes.push(format!(
            "line {line}: a {t} row was rejected, so the user's {t} profile phones are left as they are"
        ));
    }
    let prune = crate::targets::rules::prune(settings.prune, &desired.rejected_untyped, rows_here, rejected.len(), &mut notes);
    // Items this plan may change: of a managed type whose rows were all readable.
    let changeable = |i: &Item| managed(&i.phone_type) && !rejected.contains_key(i.phone_type.as_str());
    let pairs = pair(&wanted, &current.items, &changeable, &mut notes);
    let mut ops: Vec<Op> = Vec::new();
    for (r, (w, item)) in wanted.iter().zip(&pairs.of_row).enumerate() {
        match item {
            Some(i) => ops.extend(update(w, &current.items[*i])),
            None if pairs.shown.contains(&r) => {}
            None => ops.push(add(w)),
        }
    }
    let writes = ops.len();
    let wanted_keys: BTreeMap<&str, u64> = wanted.iter().map(|w| (w.key.as_str(), w.line)).collect();
    for (i, item) in current.items.iter().enumerate() {
        if pairs.paired.contains(&i) || !changeable(item) {
            continue;
        }
        let copy_of = wanted_keys.get(item.phone.key.as_str());
        if prune.runs {
            let reason = match copy_of {
                Some(line) => format!("another profile phone holds the number of line {line}; this extra copy goes, the oldest stays"),
                None => "not in the input, and prune is on".into(),
            };
            ops.push(delete(item, reason, writes));
        } else if let Some(line) = copy_of {
            notes.push(format!(
                "several profile phones hold the number of line {line}; one is kept in line and the extra copies are left (run with prune to delete them, the oldest is kept)"
            ));
        }
    }
    let mut said = BTreeSet::new();
    notes.retain(|n| said.insert(n.clone()));
    UserPlan {
        user: desired.user.clone(),
        ops,
        skip: None::<SkipReason>,
        notes,
        held_back: rejected.keys().any(|t| managed(t)) || prune.held_by_rejected_rows,
    }
}

/// The wanted phones, one per number (the earliest line wins), of managed types, by line; the
/// rows left out are noted.
fn wanted(
    phones: BTreeMap<&'static str, Vec<(String, DesiredPhone)>>,
    managed: &dyn Fn(&str) -> bool,
    notes: &mut Vec<String>,
) -> Vec<Wanted> {
    let mut wanted: Vec<(Wanted, (String, u64))> = phones
        .into_iter()
        .flat_map(|(t, rows)| rows.into_iter().map(move |(input, d)| (t, input, d)))
        .map(|(t, input, d)| {
            let w = Wanted {
                phone_type: t,
                key: d.phone.key.clone(),
                display: d.phone.display.clone(),
                display_name: d.display_name.clone(),
                line: d.line,
            };
            (w, natural(&input))
        })
        .collect();
    // By line, and within a line (a wide file's row) by column in natural order: `profile
    // mobile 2` before `profile mobile 10`.
    wanted.sort_by(|(a, an), (b, bn)| (a.line, an).cmp(&(b.line, bn)));
    let mut wanted: Vec<Wanted> = wanted.into_iter().map(|(w, _)| w).collect();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    wanted.retain(|w| {
        if !managed(w.phone_type) {
            notes.push(format!("line {}: {} is not in managed_types; row ignored", w.line, w.phone_type));
            return false;
        }
        if let Some(first) = seen.get(&w.key) {
            notes.push(format!(
                "line {}: the same number as line {first}; profile phones are matched by number, so line {first} is the one kept",
                w.line
            ));
            return false;
        }
        seen.insert(w.key.clone(), w.line);
        true
    });
    wanted
}

/// How the rows and items were paired.
struct Pairs {
    /// Per wanted row (in order), the item it is paired with.
    of_row: Vec<Option<usize>>,
    /// Items paired with a row.
    paired: BTreeSet<usize>,
    /// Rows (by index) whose number an item this run leaves as it is already shows: nothing to
    /// add. (Not by line: the phones of a wide file's row share one.)
    shown: BTreeSet<usize>,
}

/// Pairs rows with items: by number first, then per type the leftovers in order (items as Graph
/// lists them by age, rows by line).
fn pair(wanted: &[Wanted], items: &[Item], changeable: &dyn Fn(&Item) -> bool, notes: &mut Vec<String>) -> Pairs {
    let mut pairs = Pairs {
        of_row: vec![None; wanted.len()],
        paired: BTreeSet::new(),
        shown: BTreeSet::new(),
    };
    for (r, w) in wanted.iter().enumerate() {
        let candidates: Vec<usize> = (0..items.len())
            .filter(|i| !pairs.paired.contains(i) && items[*i].phone.key == w.key)
            .collect();
        // The item of the row's type and name if there is one, else the oldest (first listed).
        let best = candidates.iter().copied().filter(|i| changeable(&items[*i])).min_by_key(|i| {
            let item = &items[*i];
            (
                item.phone_type != w.phone_type,
                w.display_name.is_some() && item.display_name != w.display_name,
                *i,
            )
        });
        match best {
            Some(i) => {
                pairs.of_row[r] = Some(i);
                pairs.paired.insert(i);
            }
            // An item left as it is (unmanaged type, or a rejected row's type) that holds the
            // number already shows it: nothing to add.
            None => {
                if let Some(held) = candidates.first().map(|i| &items[*i]) {
                    let what = match held.phone_type.as_str() {
                        "" => "an untyped".to_string(),
                        t => format!("a {t}"),
                    };
                    notes.push(format!(
                        "line {}: the number is already on {what} profile phone, which this run leaves as it is",
                        w.line
                    ));
                    pairs.shown.insert(r);
                }
            }
        }
    }
    // A number HR gives that some item holds is that item's phone, not a leftover: its extra
    // copies are not paired by type (they go with prune).
    let keys: BTreeSet<&str> = wanted.iter().map(|w| w.key.as_str()).collect();
    for (r, w) in wanted.iter().enumerate() {
        if pairs.of_row[r].is_some() || pairs.shown.contains(&r) {
            continue;
        }
        let leftover = (0..items.len()).find(|i| {
            let item = &items[*i];
            !pairs.paired.contains(i) && changeable(item) && item.phone_type == w.phone_type && !keys.contains(item.phone.key.as_str())
        });
        if let Some(i) = leftover {
            pairs.of_row[r] = Some(i);
            pairs.paired.insert(i);
        }
    }
    pairs
}

/// The add of a wanted phone no item holds.
fn add(w: &Wanted) -> Op {
    Op {
        kind: OpKind::Add,
        phone_type: w.phone_type.to_string(),
        item_id: None,
        before: None,
        after: Some(w.display.clone()),
        display_name: w.display_name.clone(),
        depends_on: Vec::new(),
        blocked: None,
        reason: format!("no profile phone has this number; wanted by line {}", w.line),
        moves_to: None,
    }
}

/// The update that gives `item` the wanted phone's number, type and display name, if it needs
/// one.
fn update(w: &Wanted, item: &Item) -> Option<Op> {
    let mut changes = Vec::new();
    let renumbered = item.phone.key != w.key;
    if renumbered {
        changes.push(format!("number {} → {}", item.phone.display, w.display));
    }
    if item.phone_type != w.phone_type {
        changes.push(format!("type {} → {}", item.phone_type, w.phone_type));
    }
    if let Some(name) = w.display_name.as_ref().filter(|n| item.display_name.as_ref() != Some(*n)) {
        let was = item.display_name.as_deref().unwrap_or("none");
        changes.push(format!("display name '{was}' → '{name}'"));
    }
    (!changes.is_empty()).then(|| Op {
        kind: OpKind::Update,
        phone_type: w.phone_type.to_string(),
        item_id: Some(item.id.clone()),
        before: Some(item.phone.display.clone()),
        after: Some(if renumbered {
            w.display.clone()
        } else {
            item.phone.display.clone()
        }),
        display_name: w.display_name.clone(),
        depends_on: Vec::new(),
        blocked: None,
        reason: format!("{} (line {})", changes.join(", "), w.line),
        moves_to: None,
    })
}

/// The delete of `item`, after every one of the user's `writes` (add before delete, as
/// everywhere).
fn delete(item: &Item, reason: String, writes: usize) -> Op {
    Op {
        kind: OpKind::Delete,
        phone_type: item.phone_type.clone(),
        item_id: Some(item.id.clone()),
        before: Some(item.phone.display.clone()),
        after: None,
        display_name: None,
        depends_on: (0..writes).collect(),
        blocked: None,
        reason,
        moves_to: None,
    }
}

/// An input type as a sort key in natural order: its text before a trailing number, and that
/// number (`profile mobile 10` after `profile mobile 2`).
fn natural(input_type: &str) -> (String, u64) {
    let stem = input_type.trim_end_matches(|c: char| c.is_ascii_digit());
    let number = input_type[stem.len()..].parse().unwrap_or(0);
    (stem.to_lowercase(), number)
}
