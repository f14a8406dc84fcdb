//! The `profile` target's planner: profile phones are matched to the input's rows by number;
//! a matched phone whose type or display name differs is updated, a wanted number no phone
//! holds is added, and with prune an unmatched phone of a managed type is deleted.

use crate::model::{CurrentUser, DesiredUser, Item, Op, OpKind, SkipReason, UserPlan};
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
    let (writes, matched) = writes(&wanted, current, &changeable, &mut notes);
    let seen: BTreeMap<&str, u64> = wanted.iter().map(|w| (w.key.as_str(), w.line)).collect();
    let mut ops = writes;
    for (i, item) in current.items.iter().enumerate() {
        if matched.contains(&i) || !changeable(item) {
            continue;
        }
        if let Some(line) = seen.get(item.phone.key.as_str()) {
            notes.push(format!(
                "several profile phones hold the number of line {line}; one is kept in line and the others are left as they are"
            ));
            continue;
        }
        if prune.runs {
            ops.push(Op {
                kind: OpKind::Delete,
                phone_type: item.phone_type.clone(),
                item_id: Some(item.id.clone()),
                before: Some(item.phone.display.clone()),
                after: None,
                display_name: None,
                // Add before delete, as everywhere: every delete waits for every write.
                depends_on: (0..ops.iter().filter(|o| o.kind != OpKind::Delete).count()).collect(),
                blocked: None,
                reason: "not in the input, and prune is on".into(),
                moves_to: None,
            });
        }
    }
    notes.dedup();
    UserPlan {
        user: desired.user.clone(),
        ops,
        skip: None::<SkipReason>,
        notes,
        held_back: rejected.keys().any(|t| managed(t)) || prune.held_by_rejected_rows,
    }
}

/// The wanted phones, one per number (the earliest line wins), of managed types; the rows left
/// out are noted.
fn wanted(
    phones: BTreeMap<&'static str, Vec<(String, crate::model::DesiredPhone)>>,
    managed: &dyn Fn(&str) -> bool,
    notes: &mut Vec<String>,
) -> Vec<Wanted> {
    let mut wanted: Vec<Wanted> = phones
        .into_iter()
        .flat_map(|(t, rows)| rows.into_iter().map(move |(_, d)| (t, d)))
        .map(|(t, d)| Wanted {
            phone_type: t,
            key: d.phone.key.clone(),
            display: d.phone.display.clone(),
            display_name: d.display_name.clone(),
            line: d.line,
        })
        .collect();
    wanted.sort_by_key(|w| w.line);
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

/// The adds and updates that give each wanted phone an item, and the items matched to one.
fn writes(
    wanted: &[Wanted],
    current: &CurrentUser,
    changeable: &dyn Fn(&Item) -> bool,
    notes: &mut Vec<String>,
) -> (Vec<Op>, BTreeSet<usize>) {
    let mut matched: BTreeSet<usize> = BTreeSet::new();
    let mut writes = Vec::new();
    for w in wanted {
        // An item left as it is (unmanaged type, or a rejected row's type) that holds the number
        // already shows it: nothing to add.
        let candidates: Vec<usize> = (0..current.items.len())
            .filter(|i| !matched.contains(i) && current.items[*i].phone.key == w.key)
            .collect();
        let best = candidates
            .iter()
            .copied()
            .filter(|i| changeable(&current.items[*i]))
            .max_by_key(|i| {
                let item = &current.items[*i];
                (
                    item.phone_type == w.phone_type,
                    w.display_name.is_none() || item.display_name == w.display_name,
                )
            });
        let Some(i) = best else {
            match candidates.first().map(|i| &current.items[*i]) {
                Some(held) => {
                    let what = match held.phone_type.as_str() {
                        "" => "an untyped".to_string(),
                        t => format!("a {t}"),
                    };
                    notes.push(format!(
                        "line {}: the number is already on {what} profile phone, which this run leaves as it is",
                        w.line
                    ));
                }
                None => writes.push(Op {
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
                }),
            }
            continue;
        };
        matched.insert(i);
        writes.extend(update(w, &current.items[i]));
    }
    (writes, matched)
}

/// The update that gives `item` the wanted phone's type and display name, if it needs one.
fn update(w: &Wanted, item: &Item) -> Option<Op> {
    let mut changes = Vec::new();
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
        after: Some(item.phone.display.clone()),
        display_name: w.display_name.clone(),
        depends_on: Vec::new(),
        blocked: None,
        reason: format!("{} (line {})", changes.join(", "), w.line),
        moves_to: None,
    })
}
