//! A checker for emulator journals, so integration tests (and a test that kills the client
//! mid-run and reads `GET /_emulator/journal`) can say a run wrote safely. It relies on the
//! client's op tags: each write carries `client-request-id: <op id>` and
//! `x-phonesync-after: <op ids it depends on>`, which the journal records on the request and, as
//! `by`, on every change the request made. Profile-phone writes (`resource` `profilePhones`)
//! are checked for op tags and the plan like phone-method writes, and against the item the plan
//! paired an update or delete with; the per-user floor holds for each collection on its own (a
//! user's profile phones never dip below both their count before and after), while the
//! per-number floor is about phone methods only, the numbers people sign in with.

use crate::journal::{Event, JournalEntry};
use crate::number;
use crate::tenant::{Change, Resource};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// One write the client planned, as the checker compares changes with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedWrite {
    /// The op id the client sends as `client-request-id`.
    pub op_id: String,
    /// The user's object id.
    pub user_id: String,
    /// `mobile`, `alternateMobile` or `office`; for a profile phone, its `type` (`""` for none).
    pub phone_type: String,
    /// `add`, `update` or `delete`.
    pub op: String,
    /// The collection written (`phoneMethods` when absent from the JSON).
    #[serde(default)]
    pub resource: Resource,
    /// For a profile phone's update or delete: the id of the item the plan paired it with
    /// ([`Change::item_id`]); a change of another item by this op is outside the plan. `None`
    /// (and absent from the JSON) checks no item: an add's item is new, so no plan knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
}

/// The journaled change a violation is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    /// The change's journal sequence number.
    pub seq: u64,
    /// The user's object id.
    pub user_id: String,
    /// The change's op (`add`, `update`, `delete`, …).
    pub op: String,
    /// The phone type changed (for a profile phone, its `type`, `""` for none).
    pub phone_type: String,
    /// The collection changed.
    pub resource: Resource,
    /// For a profile phone: the id of the item changed.
    pub item_id: Option<String>,
    /// The op id of the request that made it, if it had one.
    pub op_id: Option<String>,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phone = self.resource.phone_label(&self.phone_type);
        write!(f, "seq {}: {} {phone} of user {} by ", self.seq, self.op, self.user_id)?;
        match &self.op_id {
            Some(id) => write!(f, "op {id}"),
            None => f.write_str("a request without a client-request-id"),
        }
    }
}

/// A way a journal shows an unsafe run; see [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A change was made by a request whose `x-phonesync-after` named op `missing`, and no
    /// change made by `missing` appears earlier in the journal.
    DependencyNotMet {
        /// The change.
        at: At,
        /// The op id it depends on.
        missing: String,
    },
    /// One op id made a second write (`earlier` is the seq of its first), or an `add` met a
    /// phone-method type the user already held (`earlier` is `None`).
    DuplicateWrite {
        /// The change.
        at: At,
        /// The seq of the same op's earlier write, if that is the duplicate.
        earlier: Option<u64>,
    },
    /// A write that the plan does not have: its op id is not in the plan (or it has none), or
    /// the planned write with its op id has another user, type, op or collection, or names
    /// another item (`planned`).
    OutsidePlan {
        /// The change.
        at: At,
        /// The planned write with the change's op id, when there is one.
        planned: Option<PlannedWrite>,
    },
    /// A user's phone-method count, or profile-phone count (`at.resource` says which), went down
    /// to `lowest`, below both `before` (the count before the user's first change of that
    /// collection) and `after` (the count after the user's last one).
    BelowFloor {
        /// The first change that brought the count to `lowest`.
        at: At,
        /// The lowest count.
        lowest: usize,
        /// The count before the user's first change.
        before: usize,
        /// The count after the user's last change.
        after: usize,
    },
    /// A delete took a number of the user down to `lowest` phone types holding it, below both
    /// `before` and `after`: a type change whose delete ran before the number was on its new
    /// type, even when an unrelated write kept the user's total count up.
    NumberBelowFloor {
        /// The first delete that brought the number's count to `lowest`.
        at: At,
        /// The number (its digits, without extension).
        number: String,
        /// The lowest count of types holding it.
        lowest: usize,
        /// Types holding it before the run touched them.
        before: usize,
        /// Types holding it at the end.
        after: usize,
    },
}

impl Violation {
    /// The change the violation is about.
    pub fn at(&self) -> &At {
        match self {
            Violation::DependencyNotMet { at, .. }
            | Violation::DuplicateWrite { at, .. }
            | Violation::OutsidePlan { at, .. }
            | Violation::BelowFloor { at, .. }
            | Violation::NumberBelowFloor { at, .. } => at,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::DependencyNotMet { at, missing } => {
                write!(
                    f,
                    "dependency not met: {at} ran, but op {missing} it depends on made no change before it"
                )
            }
            Violation::DuplicateWrite { at, earlier: Some(e) } => {
                write!(f, "duplicate write: {at} is that op's second write (its first was seq {e})")
            }
            Violation::DuplicateWrite { at, earlier: None } => {
                write!(f, "duplicate write: {at} adds a {} phone the user already had", at.phone_type)
            }
            Violation::OutsidePlan { at, planned: None } => write!(f, "outside the plan: {at}, which the plan does not have"),
            Violation::OutsidePlan { at, planned: Some(p) } => {
                let planned = format!("{} {} of user {}", p.op, p.resource.phone_label(&p.phone_type), p.user_id);
                match &p.item_id {
                    // The plan paired an item: name both.
                    Some(item) => write!(
                        f,
                        "outside the plan: {at} on item {}, planned as {planned} on item {item}",
                        at.item_id.as_deref().unwrap_or("(none)")
                    ),
                    None => write!(f, "outside the plan: {at}, planned as {planned}"),
                }
            }
            Violation::BelowFloor { at, lowest, before, after } => write!(
                f,
                "below floor: user {} went down to {lowest} {} at {at}, below both {before} before and {after} after",
                at.user_id,
                match at.resource {
                    Resource::PhoneMethods => "phone methods",
                    Resource::ProfilePhones => "profile phones",
                }
            ),
            Violation::NumberBelowFloor {
                at,
                number,
                lowest,
                before,
                after,
            } => write!(
                f,
                "number below floor: user {}'s number ending {} was on {lowest} of the types the journal touches at {at}, below both {before} before and {after} after",
                at.user_id,
                &number[number.len().saturating_sub(2)..]
            ),
        }
    }
}

/// A user's count of one collection over the journal.
struct Counts {
    before: usize,
    after: usize,
    lowest: usize,
    lowest_at: Option<At>,
}

/// How many of a user's phone types hold one number, over the journal. Types the journal
/// never touches hold the same number throughout, so leaving them out changes no comparison.
#[derive(Default)]
struct NumberCounts {
    before: usize,
    now: usize,
    lowest: usize,
    lowest_at: Option<At>,
}

/// Checks a journal, in journal order, and returns every violation found, ordered by seq:
///
/// - [`Violation::DependencyNotMet`]: a change by op Y, when a journaled request with
///   `client-request-id` Y named op X in `x-phonesync-after` and no change by X appears earlier
///   in the journal (one violation per such X).
/// - [`Violation::DuplicateWrite`] (at most one per change): a write (`add`, `update`, `delete`)
///   by an op id that already made a write; or an `add` of a phone-method type the user held, as
///   the last earlier change of that user and type, or else the add's own `before`, shows
///   (profile phones may hold many items of a type, so their adds never meet a held type).
/// - [`Violation::OutsidePlan`], only when `plan` is given: a write with no `by`, with a `by` not
///   in the plan, or whose user (compared without case), type, op or resource differ from the
///   planned write with its op id, or whose item differs (compared without case) from the
///   item that planned write names, when it names one.
/// - [`Violation::BelowFloor`] (at most one per user and collection): a user whose count of a
///   collection (phone methods, or profile phones) after some change of it is below both the
///   count before the user's first change of that collection and the count after the last one.
///
/// - [`Violation::NumberBelowFloor`] (at most one per user and number): a delete after which a
///   number of a user (compared by its digits, extension left out) is held by fewer of the types
///   the journal touches than both before the journal touched them and at the end — the delete
///   half of a type change ran before its add. (An update that replaces a number lowers no
///   floor.) Types the journal never touches hold the same number throughout and are left out
///   of every count alike.
///
/// `enableSmsSignIn` and `disableSmsSignIn` changes are not writes: they are never duplicate
/// writes by op id, nor outside the plan. The per-number floor looks at phone-method changes
/// only (`resource` `phoneMethods`); the per-user floor, dependencies, duplicate op ids (a
/// retried POST that created a second profile phone included) and the plan cover profile-phone
/// writes too. Requests are read only for their `client-request-id` and `after`.
pub fn check(journal: &[JournalEntry], plan: Option<&[PlannedWrite]>) -> Vec<Violation> {
    let mut checker = Checker::new(journal, plan);
    for entry in journal {
        if let Event::Change(record) = &entry.event {
            checker.change(Seen {
                seq: entry.seq,
                change: &record.change,
                by: record.by.as_deref(),
            });
        }
    }
    checker.finish()
}

/// Checks a journal as [`check`] does, and panics when it finds a violation, listing every one,
/// a line each: the one journal check a test needs to call.
#[track_caller]
pub fn assert_safe(journal: &[JournalEntry], plan: Option<&[PlannedWrite]>) {
    let violations = check(journal, plan);
    if !violations.is_empty() {
        let lines: Vec<String> = violations.iter().map(Violation::to_string).collect();
        panic!("the journal shows {} unsafe write(s):\n{}", violations.len(), lines.join("\n"));
    }
}

/// A journaled change as the checker meets it.
#[derive(Clone, Copy)]
struct Seen<'j> {
    seq: u64,
    change: &'j Change,
    /// The op id of the request that made it.
    by: Option<&'j str>,
}

impl Seen<'_> {
    /// Where a violation about this change is.
    fn at(&self) -> At {
        let c = self.change;
        At {
            seq: self.seq,
            user_id: c.user_id.clone(),
            op: c.op.to_string(),
            phone_type: c.phone_type.to_string(),
            resource: c.resource,
            item_id: c.item_id.clone(),
            op_id: self.by.map(str::to_string),
        }
    }

    /// Whether it is a write (not an SMS sign-in action).
    fn is_write(&self) -> bool {
        matches!(self.change.op, "add" | "update" | "delete")
    }
}

/// What the checker has seen of a journal so far, and the violations found.
#[derive(Default)]
struct Checker<'j> {
    /// The op ids each op's requests named in `x-phonesync-after`, by op id.
    depends_on: HashMap<&'j str, Vec<&'j str>>,
    /// The planned writes by op id, when there is a plan.
    plan: Option<HashMap<&'j str, &'j PlannedWrite>>,
    /// The ops that made a change so far.
    made: HashSet<&'j str>,
    /// The seq of each op's first write.
    first_write: HashMap<&'j str, u64>,
    /// Whether a user holds a phone-method type now.
    held: HashMap<(&'j str, &'j str), bool>,
    /// Each user's count of each collection.
    counts: BTreeMap<(&'j str, Resource), Counts>,
    /// The user's phone-method types changed so far.
    touched: HashSet<(&'j str, &'j str)>,
    /// How many of a user's types hold each number.
    numbers: BTreeMap<(&'j str, String), NumberCounts>,
    violations: Vec<Violation>,
}

impl<'j> Checker<'j> {
    /// A checker for `journal`, knowing what each op depends on from its requests.
    fn new(journal: &'j [JournalEntry], plan: Option<&'j [PlannedWrite]>) -> Checker<'j> {
        let mut depends_on: HashMap<&str, Vec<&str>> = HashMap::new();
        for entry in journal {
            if let Event::Request(r) = &entry.event
                && let Some(op) = &r.client_request_id
            {
                let deps = depends_on.entry(op).or_default();
                for dep in &r.after {
                    if !deps.contains(&dep.as_str()) {
                        deps.push(dep);
                    }
                }
            }
        }
        Checker {
            depends_on,
            plan: plan.map(|p| p.iter().map(|w| (w.op_id.as_str(), w)).collect()),
            ..Checker::default()
        }
    }

    /// Checks the next change of the journal.
    fn change(&mut self, seen: Seen<'j>) {
        self.dependencies(seen);
        self.duplicates(seen);
        self.outside_plan(seen);
        self.count_collection(seen);
        // The per-number floor is about the numbers people sign in with; profile phones may
        // hold a number many times, and none signs anyone in.
        if seen.change.resource == Resource::PhoneMethods {
            self.count_numbers(seen);
        }
        if let Some(op) = seen.by {
            self.made.insert(op);
        }
    }

    /// [`Violation::DependencyNotMet`]: an op this change's op depends on made no change yet.
    fn dependencies(&mut self, seen: Seen<'j>) {
        for missing in seen.by.and_then(|op| self.depends_on.get(op)).into_iter().flatten() {
            if !self.made.contains(missing) {
                self.violations.push(Violation::DependencyNotMet {
                    at: seen.at(),
                    missing: missing.to_string(),
                });
            }
        }
    }

    /// [`Violation::DuplicateWrite`]: an op's second write, or an add of a held phone-method type.
    fn duplicates(&mut self, seen: Seen<'j>) {
        let c = seen.change;
        let earlier = match seen.by {
            Some(op) if seen.is_write() => match self.first_write.get(op) {
                Some(e) => Some(*e),
                None => {
                    self.first_write.insert(op, seen.seq);
                    None
                }
            },
            _ => None,
        };
        let held_type = c.resource == Resource::PhoneMethods && {
            let slot = self.held.entry((&c.user_id, c.phone_type)).or_insert(c.before.is_some());
            let held_before = *slot || c.before.is_some();
            *slot = c.after.is_some();
            held_before
        };
        if earlier.is_some() || (c.op == "add" && held_type) {
            self.violations.push(Violation::DuplicateWrite { at: seen.at(), earlier });
        }
    }

    /// [`Violation::OutsidePlan`]: a write the plan, when there is one, does not have as made.
    fn outside_plan(&mut self, seen: Seen<'j>) {
        let Some(plan) = &self.plan else { return };
        if !seen.is_write() {
            return;
        }
        let c = seen.change;
        match seen.by.and_then(|op| plan.get(op)) {
            None => self.violations.push(Violation::OutsidePlan {
                at: seen.at(),
                planned: None,
            }),
            Some(p)
                if !(p.user_id.eq_ignore_ascii_case(&c.user_id)
                    && p.phone_type == c.phone_type
                    && p.op == c.op
                    && p.resource == c.resource
                    && p.item_id
                        .as_deref()
                        .is_none_or(|planned| c.item_id.as_deref().is_some_and(|changed| changed.eq_ignore_ascii_case(planned)))) =>
            {
                self.violations.push(Violation::OutsidePlan {
                    at: seen.at(),
                    planned: Some((*p).clone()),
                })
            }
            Some(_) => {}
        }
    }

    /// Follows the user's count of the collection changed, for [`Violation::BelowFloor`].
    fn count_collection(&mut self, seen: Seen<'j>) {
        let c = seen.change;
        let n = self.counts.entry((&c.user_id, c.resource)).or_insert(Counts {
            before: c.methods_before,
            after: c.methods_before,
            lowest: c.methods_before,
            lowest_at: None,
        });
        n.after = c.methods_after;
        if c.methods_after < n.lowest {
            n.lowest = c.methods_after;
            n.lowest_at = Some(seen.at());
        }
    }

    /// Follows how many of the user's types hold each number, for [`Violation::NumberBelowFloor`].
    fn count_numbers(&mut self, seen: Seen<'j>) {
        let c = seen.change;
        // A type's value before its first change is part of the starting state.
        if self.touched.insert((&c.user_id, c.phone_type))
            && let Some(b) = &c.before
        {
            // That type held the number through everything before, so every count so far,
            // the lowest included, was one higher.
            let n = self.numbers.entry((&c.user_id, number::identity(b))).or_default();
            n.before += 1;
            n.now += 1;
            n.lowest += 1;
        }
        if let Some(b) = &c.before {
            let n = self.numbers.entry((&c.user_id, number::identity(b))).or_default();
            n.now = n.now.saturating_sub(1);
            // Only a delete breaks a type-change pair; an update replaces a number the input
            // asked to replace.
            if n.now < n.lowest && c.op == "delete" {
                n.lowest = n.now;
                n.lowest_at = Some(seen.at());
            }
        }
        if let Some(a) = &c.after {
            self.numbers.entry((&c.user_id, number::identity(a))).or_default().now += 1;
        }
    }

    /// Every violation found, the floors' included, ordered by seq.
    fn finish(mut self) -> Vec<Violation> {
        for ((_, number), n) in self.numbers {
            if let Some(at) = n.lowest_at
                && n.lowest < n.before.min(n.now)
            {
                self.violations.push(Violation::NumberBelowFloor {
                    at,
                    number,
                    lowest: n.lowest,
                    before: n.before,
                    after: n.now,
                });
            }
        }
        for n in self.counts.into_values() {
            if let Some(at) = n.lowest_at
                && n.lowest < n.before.min(n.after)
            {
                self.violations.push(Violation::BelowFloor {
                    at,
                    lowest: n.lowest,
                    before: n.before,
                    after: n.after,
                });
            }
        }
        self.violations.sort_by_key(|v| v.at().seq);
        self.violations
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{ChangeRecord, RequestRecord};

    const PM: &str = "/v1.0/users/u1/authentication/phoneMethods";

    /// A request answered with `status`, made as op `op` after `after`.
    fn request(method: &str, status: u16, op: &str, after: &[&str]) -> Event {
        Event::Request(RequestRecord {
            method: method.into(),
            path: PM.into(),
            status,
            request_id: format!("r-{op}"),
            client_request_id: Some(op.into()),
            after: after.iter().map(|a| a.to_string()).collect(),
            batch_item: None,
            envelope: None,
            fault: None,
            throttle_priority: None,
        })
    }

    /// A change of `user`'s phone `ty` by op `by`; the counts go from `counts.0` to `counts.1`.
    fn change(
        user: &str,
        op: &'static str,
        ty: &'static str,
        numbers: (Option<&str>, Option<&str>),
        counts: (usize, usize),
        by: Option<&str>,
    ) -> Event {
        Event::Change(ChangeRecord {
            change: Change {
                user_id: user.into(),
                op,
                phone_type: ty,
                before: numbers.0.map(str::to_string),
                after: numbers.1.map(str::to_string),
                methods_before: counts.0,
                methods_after: counts.1,
                ..Change::default()
            },
            by: by.map(str::to_string),
        })
    }

    /// A change and the request that made it, as the emulator journals them.
    fn write(
        user: &str,
        op: &'static str,
        ty: &'static str,
        numbers: (Option<&str>, Option<&str>),
        counts: (usize, usize),
        id: &str,
        after: &[&str],
    ) -> [Event; 2] {
        let method = match op {
            "add" => "POST",
            "update" => "PATCH",
            _ => "DELETE",
        };
        let status = if op == "add" { 201 } else { 204 };
        [change(user, op, ty, numbers, counts, Some(id)), request(method, status, id, after)]
    }

    fn journal(events: impl IntoIterator<Item = Event>) -> Vec<JournalEntry> {
        events
            .into_iter()
            .enumerate()
            .map(|(n, event)| JournalEntry {
                seq: n as u64 + 1,
                at_ms: 0,
                event,
            })
            .collect()
    }

    fn planned(op_id: &str, user_id: &str, phone_type: &str, op: &str) -> PlannedWrite {
        PlannedWrite {
            op_id: op_id.into(),
            user_id: user_id.into(),
            phone_type: phone_type.into(),
            op: op.into(),
            resource: Resource::PhoneMethods,
            item_id: None,
        }
    }

    /// A profile-phone change (and its request) by op `id`: type `ty`, the user's profile
    /// phone count going from `counts.0` to `counts.1`.
    fn profile_write(user: &str, op: &'static str, ty: &'static str, counts: (usize, usize), id: &str) -> [Event; 2] {
        let [mut c, r] = write(user, op, ty, (None, None), counts, id, &[]);
        if let Event::Change(record) = &mut c {
            record.change.resource = Resource::ProfilePhones;
            record.change.item_id = Some(format!("item-{id}"));
            record.change.before = (op != "add").then(|| "+1 9".to_string());
            record.change.after = (op != "delete").then(|| "+1 9".to_string());
        }
        [c, r]
    }

    /// office → mobile for u1 (add, then the delete that depends on it), an update for u2.
    fn clean() -> (Vec<JournalEntry>, Vec<PlannedWrite>) {
        let mut events = Vec::new();
        events.extend(write("u1", "add", "mobile", (None, Some("+1 1")), (1, 2), "a1", &[]));
        events.push(request("GET", 200, "g1", &[]));
        events.extend(write("u1", "delete", "office", (Some("+1 2"), None), (2, 1), "d1", &["a1"]));
        events.extend(write("u2", "update", "mobile", (Some("+1 3"), Some("+1 4")), (1, 1), "p1", &[]));
        events.push(change(
            "u1",
            "enableSmsSignIn",
            "mobile",
            (Some("+1 1"), Some("+1 1")),
            (1, 1),
            Some("s1"),
        ));
        let plan = vec![
            planned("a1", "u1", "mobile", "add"),
            planned("d1", "U1", "office", "delete"),
            planned("p1", "u2", "mobile", "update"),
        ];
        (journal(events), plan)
    }

    fn kinds(v: &[Violation]) -> Vec<&'static str> {
        v.iter()
            .map(|v| match v {
                Violation::DependencyNotMet { .. } => "DependencyNotMet",
                Violation::DuplicateWrite { .. } => "DuplicateWrite",
                Violation::OutsidePlan { .. } => "OutsidePlan",
                Violation::BelowFloor { .. } => "BelowFloor",
                Violation::NumberBelowFloor { .. } => "NumberBelowFloor",
            })
            .collect()
    }

    #[test]
    fn a_clean_journal_with_dependent_writes_passes() {
        let (j, plan) = clean();
        let dependent: Vec<&str> = j
            .iter()
            .filter_map(|e| match &e.event {
                Event::Request(r) if !r.after.is_empty() => r.client_request_id.as_deref(),
                _ => None,
            })
            .collect();
        assert_eq!(dependent, ["d1"], "the journal holds a dependent write");
        assert!(
            j.iter()
                .any(|e| matches!(&e.event, Event::Change(c) if c.by.as_deref() == Some("d1") && c.change.op == "delete")),
            "and the dependent write's change"
        );
        assert_eq!(check(&j, Some(&plan)), vec![]);
        assert_eq!(check(&j, None), vec![]);
    }

    #[test]
    fn add_failed_then_delete_ran_is_a_dependency_not_met() {
        // The add is refused (no change); the delete is retried once (503), then applied.
        let mut events = vec![request("POST", 403, "a1", &[]), request("DELETE", 503, "d1", &["a1"])];
        events.extend(write("u1", "delete", "office", (Some("+1 2"), None), (1, 0), "d1", &["a1"]));
        let v = check(&journal(events), None);
        assert_eq!(kinds(&v), ["DependencyNotMet"], "one violation, though two requests named a1");
        assert!(
            matches!(&v[0], Violation::DependencyNotMet { at, missing } if missing == "a1" && at.op_id.as_deref() == Some("d1") && at.user_id == "u1" && at.seq == 3)
        );
        assert!(v[0].to_string().contains("op a1 it depends on made no change"), "{}", v[0]);
    }

    #[test]
    fn a_delete_before_its_add_is_a_dependency_not_met_and_below_floor() {
        let mut events = Vec::new();
        events.extend(write("u1", "delete", "office", (Some("+1 2"), None), (1, 0), "d1", &["a1"]));
        events.extend(write("u1", "add", "mobile", (None, Some("+1 1")), (0, 1), "a1", &[]));
        let v = check(&journal(events), None);
        assert_eq!(kinds(&v), ["DependencyNotMet", "BelowFloor"]);
        assert!(matches!(&v[1], Violation::BelowFloor { lowest: 0, before: 1, after: 1, at } if at.op == "delete"));
    }

    #[test]
    fn below_floor_without_op_tags() {
        let events = [
            change("u1", "delete", "office", (Some("+1 2"), None), (2, 1), None),
            change("u1", "delete", "mobile", (Some("+1 1"), None), (1, 0), None),
            change("u1", "add", "mobile", (None, Some("+1 3")), (0, 1), None),
            change("u1", "add", "office", (None, Some("+1 4")), (1, 2), None),
        ];
        let v = check(&journal(events), None);
        assert_eq!(kinds(&v), ["BelowFloor"]);
        assert!(
            v[0].to_string().contains("user u1 went down to 0 phone methods at seq 2"),
            "{}",
            v[0]
        );
    }

    #[test]
    fn a_type_change_that_drops_its_number_is_caught_even_when_the_count_holds() {
        // Office 5 moves to alternateMobile while a new mobile 6 is added; the delete of office
        // ran before the alternate held the number. The user's count goes 1, 2, 1, 2: never
        // below its floor, but number 5 was on no type at seq 2.
        let events = [
            change("u1", "add", "mobile", (None, Some("+1 6")), (1, 2), None),
            change("u1", "delete", "office", (Some("+1 5"), None), (2, 1), None),
            change("u1", "add", "alternateMobile", (None, Some("+1 5")), (1, 2), None),
        ];
        let v = check(&journal(events), None);
        assert_eq!(kinds(&v), ["NumberBelowFloor"]);
        assert!(
            v[0].to_string().contains("was on 0 of the types the journal touches at seq 2"),
            "{}",
            v[0]
        );
        // A dip before a type is first touched counts: office and alternate hold 5; office is
        // deleted (5 on one type) before mobile gets it, then the alternate moves on and office
        // gets 5 back. Two before, two after, one in between.
        let events = [
            change("u1", "delete", "office", (Some("+1 5"), None), (2, 1), None),
            change("u1", "add", "mobile", (None, Some("+1 5")), (1, 2), None),
            change("u1", "update", "alternateMobile", (Some("+1 5"), Some("+1 7")), (2, 2), None),
            change("u1", "add", "office", (None, Some("+1 5")), (2, 3), None),
        ];
        assert!(kinds(&check(&journal(events), None)).contains(&"NumberBelowFloor"));
        // In the safe order the same writes pass.
        let events = [
            change("u1", "add", "mobile", (None, Some("+1 6")), (1, 2), None),
            change("u1", "add", "alternateMobile", (None, Some("+1 5")), (2, 3), None),
            change("u1", "delete", "office", (Some("+1 5"), None), (3, 2), None),
        ];
        assert!(check(&journal(events), None).is_empty());
    }

    #[test]
    fn a_write_applied_twice_and_an_add_of_a_held_type_are_duplicate_writes() {
        let mut events = Vec::new();
        // An update applied, answered 500, retried and applied again under the same op id.
        events.extend(write("u1", "update", "mobile", (Some("+1 1"), Some("+1 2")), (1, 1), "p1", &[]));
        events.extend(write("u1", "update", "mobile", (Some("+1 2"), Some("+1 2")), (1, 1), "p1", &[]));
        // Two adds of the same type by different ops, with nothing deleting it between.
        events.extend(write("u2", "add", "office", (None, Some("+1 3")), (0, 1), "a1", &[]));
        events.extend(write("u2", "add", "office", (None, Some("+1 3")), (1, 2), "a2", &[]));
        let v = check(&journal(events), None);
        assert_eq!(kinds(&v), ["DuplicateWrite", "DuplicateWrite"]);
        assert!(matches!(&v[0], Violation::DuplicateWrite { at, earlier: Some(1) } if at.seq == 3 && at.op_id.as_deref() == Some("p1")));
        assert!(
            matches!(&v[1], Violation::DuplicateWrite { at, earlier: None } if at.user_id == "u2" && at.op_id.as_deref() == Some("a2"))
        );
    }

    #[test]
    fn writes_the_plan_does_not_have_are_outside_the_plan() {
        let (mut j, plan) = clean();
        let more = journal(
            [
                write("u2", "delete", "office", (Some("+1 5"), None), (2, 1), "x1", &[]).to_vec(),
                write("u2", "delete", "office", (Some("+1 5"), None), (1, 0), "p1", &[]).to_vec(),
                vec![change("u3", "add", "mobile", (None, Some("+1 6")), (0, 1), None)],
            ]
            .concat(),
        );
        let offset = j.len() as u64;
        j.extend(more.into_iter().map(|e| JournalEntry { seq: e.seq + offset, ..e }));
        let v = check(&j, Some(&plan));
        let outside: Vec<&Violation> = v.iter().filter(|v| matches!(v, Violation::OutsidePlan { .. })).collect();
        assert_eq!(outside.len(), 3, "{v:?}");
        assert!(matches!(outside[0], Violation::OutsidePlan { at, planned: None } if at.op_id.as_deref() == Some("x1")));
        assert!(matches!(outside[1], Violation::OutsidePlan { planned: Some(p), .. } if p.op == "update"));
        assert!(
            outside[1].to_string().contains("planned as update mobile of user u2"),
            "{}",
            outside[1]
        );
        assert!(matches!(outside[2], Violation::OutsidePlan { at, planned: None } if at.op_id.is_none() && at.user_id == "u3"));
        assert!(
            check(&j, None).iter().all(|v| !matches!(v, Violation::OutsidePlan { .. })),
            "no plan, no plan check"
        );
    }

    #[test]
    fn profile_writes_are_checked_for_op_tags_and_plan() {
        let mut events = Vec::new();
        // Two business profile phones, then both deleted: a count of 0, the count before, is no
        // floor breach, and two adds of one type are no duplicate.
        events.extend(profile_write("u1", "add", "business", (0, 1), "f1"));
        events.extend(profile_write("u1", "add", "business", (1, 2), "f2"));
        events.extend(profile_write("u1", "delete", "business", (2, 1), "f3"));
        events.extend(profile_write("u1", "delete", "business", (1, 0), "f4"));
        events.extend(profile_write("u1", "add", "", (0, 1), "f5"));
        let j = journal(events);
        assert_eq!(check(&j, None), vec![]);
        let profile = |op_id: &str, op: &str, ty: &str| PlannedWrite {
            resource: Resource::ProfilePhones,
            ..planned(op_id, "u1", ty, op)
        };
        let mut plan = vec![
            profile("f1", "add", "business"),
            profile("f2", "add", "business"),
            profile("f3", "delete", "business"),
            profile("f4", "delete", "business"),
            profile("f5", "add", ""),
        ];
        assert_eq!(check(&j, Some(&plan)), vec![]);
        // Planned as a phone-method write, it is outside the plan.
        plan[0].resource = Resource::PhoneMethods;
        let v = check(&j, Some(&plan));
        assert_eq!(kinds(&v), ["OutsidePlan"]);
        assert!(
            v[0].to_string()
                .contains("seq 1: add profile phone business of user u1 by op f1, planned as add business of user u1"),
            "{}",
            v[0]
        );
        // Without type: named so.
        let mut events = profile_write("u1", "add", "", (0, 1), "g1").to_vec();
        events.extend(profile_write("u1", "update", "", (1, 1), "g1"));
        let v = check(&journal(events), None);
        assert_eq!(kinds(&v), ["DuplicateWrite"]);
        assert!(
            v[0].to_string().contains("update profile phone (no type) of user u1 by op g1"),
            "{}",
            v[0]
        );
    }

    #[test]
    fn a_profile_write_before_what_it_depends_on_is_a_dependency_not_met() {
        let mut events = Vec::new();
        let [c, _] = profile_write("u1", "delete", "mobile", (1, 0), "d1");
        events.push(c);
        events.push(request("DELETE", 204, "d1", &["a1"]));
        events.extend(profile_write("u1", "add", "mobile", (0, 1), "a1"));
        let v = check(&journal(events), None);
        assert_eq!(
            kinds(&v),
            ["DependencyNotMet", "BelowFloor"],
            "the delete also took the user's profile phones below their floor"
        );
        assert!(
            v.iter().all(|v| v.at().resource == Resource::ProfilePhones && v.at().seq == 1),
            "{v:?}"
        );
    }

    #[test]
    fn profile_phones_have_their_own_per_user_floor_but_no_number_floor() {
        // The user keeps two phone methods throughout; a profile phone's number moves from one
        // item to another, delete first: the profile count dips from 1 to 0 and back.
        let events = [
            change("u1", "update", "mobile", (Some("+1 1"), Some("+1 2")), (2, 2), None),
            profile_write("u1", "delete", "business", (1, 0), "p1")[0].clone(),
            profile_write("u1", "add", "mobile", (0, 1), "p2")[0].clone(),
        ];
        let v = check(&journal(events), None);
        assert!(
            matches!(&v[..], [Violation::BelowFloor { at, lowest: 0, before: 1, after: 1 }]
                if at.seq == 2 && at.resource == Resource::ProfilePhones && at.item_id.as_deref() == Some("item-p1")),
            "{v:?}"
        );
        assert!(
            v[0].to_string()
                .contains("below floor: user u1 went down to 0 profile phones at seq 2: delete profile phone business"),
            "{}",
            v[0]
        );
        // Counted apart from phone methods: a profile count of 3 that dips to 2 is a breach
        // even while the user holds two phone methods, and a phone-method dip is its own.
        let events = [
            change("u1", "update", "mobile", (Some("+1 1"), Some("+1 2")), (2, 2), None),
            profile_write("u1", "delete", "business", (3, 2), "p1")[0].clone(),
            profile_write("u1", "add", "business", (2, 3), "p2")[0].clone(),
            change("u1", "delete", "office", (Some("+1 5"), None), (2, 1), None),
            change("u1", "add", "office", (None, Some("+1 6")), (1, 2), None),
        ];
        let v = check(&journal(events), None);
        let floors: Vec<(Resource, u64, usize)> = v
            .iter()
            .filter_map(|v| match v {
                Violation::BelowFloor { at, lowest, .. } => Some((at.resource, at.seq, *lowest)),
                _ => None,
            })
            .collect();
        assert_eq!(
            floors,
            [(Resource::ProfilePhones, 2, 2), (Resource::PhoneMethods, 4, 1)],
            "one per user and collection: {v:?}"
        );
        // Add first, then delete: no breach. A number on no item for a while is no breach
        // either: profile phones have no per-number floor (the same order on phone methods is).
        let events = [
            profile_write("u1", "add", "mobile", (1, 2), "p2")[0].clone(),
            profile_write("u1", "delete", "business", (2, 1), "p1")[0].clone(),
            profile_write("u1", "add", "other", (1, 2), "p3")[0].clone(),
        ];
        assert_eq!(check(&journal(events), None), vec![]);
        let events = [
            change("u1", "update", "mobile", (Some("+1 1"), Some("+1 2")), (2, 2), None),
            change("u1", "delete", "office", (Some("+1 9"), None), (2, 1), None),
            change("u1", "add", "alternateMobile", (None, Some("+1 9")), (1, 2), None),
        ];
        assert_eq!(kinds(&check(&journal(events), None)), ["NumberBelowFloor", "BelowFloor"]);
    }

    #[test]
    fn a_profile_update_or_delete_of_another_item_than_the_planned_one_is_outside_the_plan() {
        // profile_write changes item `item-{op id}`.
        let mut events = profile_write("u1", "update", "business", (2, 2), "u1").to_vec();
        events.extend(profile_write("u1", "delete", "business", (2, 1), "d1"));
        let j = journal(events);
        let profile = |op_id: &str, op: &str, item: Option<&str>| PlannedWrite {
            resource: Resource::ProfilePhones,
            item_id: item.map(str::to_string),
            ..planned(op_id, "u1", "business", op)
        };
        // The items the plan paired, ids compared without case; or no item named.
        let plan = [profile("u1", "update", Some("ITEM-U1")), profile("d1", "delete", None)];
        assert_eq!(check(&j, Some(&plan)), vec![]);
        // Another item of the same user and type.
        let plan = [profile("u1", "update", Some("item-u1")), profile("d1", "delete", Some("item-kept"))];
        let v = check(&j, Some(&plan));
        assert!(
            matches!(&v[..], [Violation::OutsidePlan { at, planned: Some(p) }]
                if at.op_id.as_deref() == Some("d1") && p.item_id.as_deref() == Some("item-kept")),
            "{v:?}"
        );
        assert!(
            v[0].to_string().contains(
                "seq 3: delete profile phone business of user u1 by op d1 on item item-d1, planned as delete profile phone business of user u1 on item item-kept"
            ),
            "{}",
            v[0]
        );
        // A change that names no item never matches a plan that names one.
        let j = journal(write("u1", "delete", "office", (Some("+1 2"), None), (2, 1), "d1", &[]));
        let plan = [PlannedWrite {
            item_id: Some("item-d1".into()),
            ..planned("d1", "u1", "office", "delete")
        }];
        assert_eq!(kinds(&check(&j, Some(&plan))), ["OutsidePlan"]);
        // The plan's JSON may leave the item out.
        let read: PlannedWrite =
            serde_json::from_str(r#"{"opId":"d1","userId":"u1","phoneType":"business","op":"delete","resource":"profilePhones"}"#).unwrap();
        assert_eq!(read, profile("d1", "delete", None));
        let written = serde_json::to_string(&profile("d1", "delete", Some("x"))).unwrap();
        assert!(written.contains(r#""itemId":"x""#), "{written}");
    }

    #[test]
    fn a_retried_profile_post_that_created_a_second_item_is_a_duplicate_write() {
        // The POST was applied and answered 500 (or its answer was lost); the retry, under the
        // same op id, created another item. Two items of a type are allowed: only the op id
        // tells the second is a duplicate.
        let mut events = profile_write("u1", "add", "business", (0, 1), "a1").to_vec();
        events.extend(profile_write("u1", "add", "business", (1, 2), "a1"));
        let j = journal(events);
        let plan = [PlannedWrite {
            resource: Resource::ProfilePhones,
            ..planned("a1", "u1", "business", "add")
        }];
        for plan in [None, Some(&plan[..])] {
            let v = check(&j, plan);
            assert!(
                matches!(&v[..], [Violation::DuplicateWrite { at, earlier: Some(1) }]
                    if at.seq == 3 && at.resource == Resource::ProfilePhones && at.op_id.as_deref() == Some("a1")),
                "{v:?}"
            );
        }
    }

    #[test]
    fn assert_safe_passes_a_clean_journal_and_lists_every_violation_a_line_each() {
        let (j, plan) = clean();
        assert_safe(&j, Some(&plan));
        let events = [
            change("u1", "add", "mobile", (None, Some("+1 6")), (1, 2), Some("a1")),
            change("u1", "add", "mobile", (None, Some("+1 6")), (2, 3), Some("a1")),
            change("u1", "delete", "office", (Some("+1 5"), None), (3, 0), None),
            change("u1", "add", "office", (None, Some("+1 5")), (0, 1), None),
        ];
        let bad = journal(events);
        let expected: Vec<String> = check(&bad, None).iter().map(Violation::to_string).collect();
        assert!(expected.len() >= 3, "{expected:?}");
        let panic = std::panic::catch_unwind(|| assert_safe(&bad, None)).unwrap_err();
        let message = panic.downcast_ref::<String>().expect("a formatted message");
        let mut lines = message.lines();
        assert_eq!(
            lines.next(),
            Some(format!("the journal shows {} unsafe write(s):", expected.len()).as_str())
        );
        assert_eq!(lines.collect::<Vec<_>>(), expected);
    }
}
