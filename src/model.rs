//! The vocabulary every pipeline stage speaks, whatever the target: phones, desired state (by
//! input phone type), current state (items with their server ids), and the plan (ops per user per
//! target). Kept free of I/O and of Graph's wire format so planners stay pure and the same plan
//! can be printed, saved, or executed. Each target (`targets`) has its own types and rules and
//! speaks this vocabulary at its edges.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A phone number in the two forms the tool needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// The form sent to Graph (or, for current state, the form Graph returned).
    pub display: String,
    /// The comparison key: `+{cc}{national}[x{ext}]` with no spaces. Two phones are the same
    /// number exactly when their keys are equal.
    pub key: String,
}

/// A small map kept as a sorted vector, in key order like a `BTreeMap`. A user has one to three
/// phone types, and a `BTreeMap` allocates room for eleven entries with the first: about 1 KB a
/// user, a hundred megabytes over 100,000 users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for TypeMap<K, V> {
    fn default() -> Self {
        TypeMap(Vec::new())
    }
}

impl<K: Ord, V> TypeMap<K, V> {
    fn position<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// The value of `key`, to change.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.position(key).ok().map(|i| &mut self.0[i].1)
    }

    /// Whether `key` has a value.
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
    {
        self.position(key).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                // Grown one entry at a time: a vector's first growth makes room for four, and
                // most users have one to three phones (at a million rows, tens of megabytes).
                self.0.reserve_exact(1);
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.iter().map(|(k, _)| k)
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for TypeMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut map = TypeMap::default();
        for (k, v) in entries {
            map.insert(k, v);
        }
        map
    }
}

impl<K, V> IntoIterator for TypeMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<K: Ord + std::borrow::Borrow<Q>, Q: Ord + ?Sized, V> std::ops::Index<&Q> for TypeMap<K, V> {
    type Output = V;
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry for the key")
    }
}

impl<'a, K: Ord, V> IntoIterator for &'a TypeMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// One wanted phone from the input, with the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredPhone {
    /// The number in Graph's form.
    pub phone: Phone,
    /// 1-based line number in the input file.
    pub line: u64,
    /// The name the input gives the phone (the `displayName` column), for targets that keep one.
    pub display_name: Option<String>,
}

/// What the input says one user should have. Types are the input's phone types (`phoneType`
/// column, in the spelling the configured targets take); each target maps them to its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredUser {
    /// The user as written in the input: an object id or a UPN.
    pub user: String,
    /// Wanted phones by type.
    pub phones: TypeMap<String, DesiredPhone>,
    /// Set when the input contradicts itself for this user; the user is then skipped.
    pub conflict: Option<String>,
    /// Types whose input row was rejected, with that row's line. A rejected row means "we do
    /// not know what HR wants": such a type is never updated and never deleted.
    pub rejected: BTreeMap<String, u64>,
    /// Lines of this user's rejected rows whose type could not be read: they could be about
    /// any type, so they block every prune delete of the user.
    pub rejected_untyped: Vec<u64>,
    /// Types an empty cell of a wide file gives, in the input's spelling: "no phone of this
    /// type". Like a row, such a cell tells the planners the input is about these phones, so
    /// prune may run for the user even when every cell is empty.
    pub stated_none: Vec<String>,
}

/// Contradictions a user's conflict note names; later ones are counted.
const NAMED_CONFLICTS: usize = 3;

impl DesiredUser {
    /// Adds a wanted phone of `phone_type`. The same number (by key) as one already wanted is the
    /// same row twice: the one from the earlier line is kept. A different number is a
    /// contradiction: a note naming both lines is added to [`DesiredUser::conflict`].
    pub fn want(&mut self, phone_type: &str, wanted: DesiredPhone) {
        let Some(have) = self.phones.get_mut(phone_type) else {
            self.phones.insert(phone_type.to_string(), wanted);
            return;
        };
        if have.phone.key == wanted.phone.key {
            if wanted.line < have.line {
                *have = wanted;
            }
            return;
        }
        let (first, second) = (have.line.min(wanted.line), have.line.max(wanted.line));
        let note = format!("lines {first} and {second} give different {phone_type} numbers");
        self.add_conflict(note);
    }

    /// Records a rejected input row of this user at `line`: under its type when the type could
    /// be read (the earliest line per type is kept), else among the untyped ones.
    pub fn reject(&mut self, phone_type: Option<&str>, line: u64) {
        match phone_type {
            Some(t) => {
                let kept = self.rejected.entry(t.to_string()).or_insert(line);
                *kept = (*kept).min(line);
            }
            None => {
                if let Err(at) = self.rejected_untyped.binary_search(&line) {
                    self.rejected_untyped.insert(at, line);
                }
            }
        }
    }

    /// Records an empty wide cell of `phone_type`: the input says the user has none.
    pub fn state_none(&mut self, phone_type: &str) {
        if !self.stated_none.iter().any(|t| t == phone_type) {
            self.stated_none.push(phone_type.to_string());
        }
    }

    /// Merges `other` (the same person, named another way) into `self`: its wanted phones go
    /// through [`DesiredUser::want`], its conflicts and rejected rows are kept. `self.user`
    /// stays as it is.
    pub fn absorb(&mut self, other: DesiredUser) {
        for (phone_type, wanted) in other.phones {
            self.want(&phone_type, wanted);
        }
        if let Some(note) = other.conflict {
            self.add_conflict(note);
        }
        for (phone_type, line) in other.rejected {
            self.reject(Some(&phone_type), line);
        }
        for line in other.rejected_untyped {
            self.reject(None, line);
        }
        for phone_type in other.stated_none {
            self.state_none(&phone_type);
        }
    }

    /// Adds `note` to the conflict, after any earlier note.
    fn add_conflict(&mut self, note: String) {
        let Some(text) = self.conflict.as_mut() else {
            self.conflict = Some(note);
            return;
        };
        // The first few contradictions are named, the rest counted: a user with thousands of
        // contradicting rows costs neither memory nor time per row.
        const COUNTED: &str = " (and ";
        match text.rfind(COUNTED).filter(|_| text.ends_with(" more)")) {
            Some(at) => {
                let more: usize = text[at + COUNTED.len()..text.len() - " more)".len()].parse().unwrap_or(0);
                text.truncate(at);
                text.push_str(&format!("{COUNTED}{} more)", more + 1));
            }
            None if text.matches("; ").count() + 1 >= NAMED_CONFLICTS => text.push_str(" (and 1 more)"),
            None => {
                text.push_str("; ");
                text.push_str(&note);
            }
        }
    }
}

/// One item Graph holds in a target's collection for a user (a phone method, a profile phone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Graph's id of the item (a fixed id per type for phone methods, a server id for profile phones).
    pub id: String,
    /// The item's type in the target's spelling; empty when Graph gives none.
    pub phone_type: String,
    /// The number.
    pub phone: Phone,
    /// The item's display name, for targets that keep one.
    pub display_name: Option<String>,
}

/// A type change an earlier run started and did not finish: the number (by comparison key) was
/// written to `to` while `from` still holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfinishedMove {
    /// The type the number moves away from.
    pub from: String,
    /// The type the number moves to.
    pub to: String,
    /// The number's comparison key.
    pub key: String,
}

/// What Graph says one user has now, in one target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentUser {
    /// The items, as Graph listed them.
    pub items: Vec<Item>,
    /// The type of the user's default sign-in method, where the target knows one; a delete of
    /// it is blocked.
    pub default_method: Option<String>,
    /// Type changes an earlier run started but did not finish. Only these license deleting a
    /// type whose number another type already holds.
    pub unfinished_moves: Vec<UnfinishedMove>,
}

/// The kind of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// POST a new item (a method of a type the user does not have; a profile phone).
    Add,
    /// PATCH an existing item (a method's number; a profile phone's type or display name).
    Update,
    /// DELETE an item.
    Delete,
}

impl OpKind {
    /// Lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Update => "update",
            OpKind::Delete => "delete",
        }
    }
}

/// One planned change to one item of one user in one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// What to do.
    pub kind: OpKind,
    /// The item's type in the target's spelling (after the change, for an update).
    pub phone_type: String,
    /// Graph's id of the item changed (update, delete), where the target has server ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// The number before the change (update, delete).
    pub before: Option<String>,
    /// The number after the change (add, update).
    pub after: Option<String>,
    /// The display name after the change (add, update), for targets that keep one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Indexes (within the same user's ops) that must succeed before this op may run.
    pub depends_on: Vec<usize>,
    /// Set when the plan knows Graph would refuse this op; it is reported, not sent.
    pub blocked: Option<String>,
    /// Why the planner chose this op, for the human report.
    pub reason: String,
    /// For the delete of a type change: the type the number moves to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moves_to: Option<String>,
}

/// Why a user named in the input gets no ops at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum SkipReason {
    /// Graph answered 404 for the user.
    NotFound,
    /// The user's current phones (in this target) could not be read.
    ReadFailed(String),
    /// The desired state breaks one of Graph's rules.
    Infeasible(String),
    /// The input has contradicting rows for this user.
    Conflict(String),
    /// A saved plan's user whose current state changed after the plan was made.
    Stale(String),
}

impl SkipReason {
    /// Short machine-readable name used in reports and counts.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::NotFound => "not_found",
            SkipReason::ReadFailed(_) => "read_failed",
            SkipReason::Infeasible(_) => "infeasible",
            SkipReason::Conflict(_) => "conflict",
            SkipReason::Stale(_) => "stale",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotFound => f.write_str("user not found in the directory"),
            SkipReason::ReadFailed(m) => write!(f, "could not read current phones: {m}"),
            SkipReason::Infeasible(m) => write!(f, "infeasible: {m}"),
            SkipReason::Conflict(m) => write!(f, "conflicting input: {m}"),
            SkipReason::Stale(m) => write!(f, "stale: {m}"),
        }
    }
}

/// The plan for one user: either a (possibly empty) ordered list of ops, or a reason to skip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPlan {
    /// The user as written in the input.
    pub user: String,
    /// Ops in execution order.
    pub ops: Vec<Op>,
    /// Set when the user gets no ops because of a problem.
    pub skip: Option<SkipReason>,
    /// Remarks for the human report (e.g. input rows ignored because their type is not managed).
    pub notes: Vec<String>,
    /// Set when rejected input rows hold some of the user's phones back from being changed.
    #[serde(default)]
    pub held_back: bool,
}

impl UserPlan {
    /// Whether the plan sends anything for the user (some op is not blocked).
    pub fn sends(&self) -> bool {
        self.ops.iter().any(|o| o.blocked.is_none())
    }

    /// A plan that skips the user for `reason`.
    pub fn skipped(user: &str, reason: SkipReason) -> UserPlan {
        UserPlan {
            user: user.to_string(),
            ops: Vec::new(),
            skip: Some(reason),
            notes: Vec::new(),
            held_back: false,
        }
    }
}

/// The plan for a whole run: one [`TargetPlan`] per configured target, in config order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The plan of each target.
    pub targets: Vec<TargetPlan>,
}

impl Plan {
    /// Every op of every user in every target.
    pub fn ops(&self) -> impl Iterator<Item = &Op> {
        self.targets.iter().flat_map(|t| &t.users).flat_map(|u| &u.ops)
    }

    /// Number of ops across all targets.
    pub fn op_count(&self) -> usize {
        self.targets.iter().map(TargetPlan::op_count).sum()
    }

    /// Number of ops of `kind` across all targets.
    pub fn count(&self, kind: OpKind) -> usize {
        self.targets.iter().map(|t| t.count(kind)).sum()
    }

    /// Users skipped in some target.
    pub fn skipped_users(&self) -> usize {
        self.targets.iter().map(TargetPlan::skipped_users).sum()
    }

    /// (target, user) pairs skipped for the reason whose code is `code` (`stale`, …).
    pub fn skipped_as(&self, code: &str) -> usize {
        self.user_plans()
            .filter(|(_, u)| u.skip.as_ref().is_some_and(|s| s.code() == code))
            .count()
    }

    /// Every user plan of every target, with its target's name.
    pub fn user_plans(&self) -> impl Iterator<Item = (&str, &UserPlan)> {
        self.targets
            .iter()
            .flat_map(|t| t.users.iter().map(move |u| (t.target.as_str(), u)))
    }
}

/// The plan for one target, users in input order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetPlan {
    /// The target's name in config (`auth`, `profile`).
    pub target: String,
    /// One entry per user named in the input.
    pub users: Vec<UserPlan>,
}

impl TargetPlan {
    /// Number of ops across all users.
    pub fn op_count(&self) -> usize {
        self.users.iter().map(|u| u.ops.len()).sum()
    }

    /// Number of ops of `kind`.
    pub fn count(&self, kind: OpKind) -> usize {
        self.users.iter().flat_map(|u| &u.ops).filter(|o| o.kind == kind).count()
    }

    /// Users with nothing to change and nothing held back: in line with the input.
    pub fn in_line(&self) -> usize {
        self.users
            .iter()
            .filter(|u| u.skip.is_none() && u.ops.is_empty() && !u.held_back)
            .count()
    }

    /// Users with nothing to change because rejected rows hold their phones back.
    pub fn held_back(&self) -> usize {
        self.users
            .iter()
            .filter(|u| u.skip.is_none() && u.ops.is_empty() && u.held_back)
            .count()
    }

    /// Number of skipped (target, user) pairs: a user skipped in two targets counts twice.
    pub fn skipped_users(&self) -> usize {
        self.users.iter().filter(|u| u.skip.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_map_keeps_key_order_and_replaces_by_key() {
        let mut m: TypeMap<String, u32> = TypeMap::default();
        assert!(m.is_empty() && m.get("a").is_none());
        for (k, v) in [("office", 1), ("mobile", 2), ("alternateMobile", 3)] {
            assert_eq!(m.insert(k.to_string(), v), None);
        }
        assert_eq!(m.insert("mobile".into(), 20), Some(2));
        *m.get_mut("office").unwrap() += 10;
        assert_eq!(
            m.keys().map(String::as_str).collect::<Vec<_>>(),
            ["alternateMobile", "mobile", "office"]
        );
        assert_eq!(m.iter().map(|(_, v)| *v).collect::<Vec<_>>(), [3, 20, 11]);
        assert_eq!((m.len(), m["mobile"], m.contains_key("pager")), (3, 20, false));
        let collected: TypeMap<String, u32> = [("b".to_string(), 1), ("a".to_string(), 2)].into_iter().collect();
        assert_eq!(
            collected.into_iter().collect::<Vec<_>>(),
            [("a".to_string(), 2), ("b".to_string(), 1)]
        );
    }
}
