//! The vocabulary every pipeline stage speaks: phone types, phones, desired and current state,
//! and the plan. Kept free of I/O and of Graph's wire format so the planner stays pure and the
//! same plan can be printed, saved, or executed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A type of phone authentication method. At most one of each per user.
///
/// The declaration order is the order the planner writes in (`mobile` first, because
/// `alternateMobile` needs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PhoneType {
    /// The primary phone: SMS and voice.
    Mobile,
    /// A backup phone: voice only; requires a `mobile`.
    AlternateMobile,
    /// A landline: voice only.
    Office,
}

impl PhoneType {
    /// All types, in write order.
    pub const ALL: [PhoneType; 3] = [PhoneType::Mobile, PhoneType::AlternateMobile, PhoneType::Office];

    /// Graph's spelling of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneType::Mobile => "mobile",
            PhoneType::AlternateMobile => "alternateMobile",
            PhoneType::Office => "office",
        }
    }

    /// Parses a type name case-insensitively (`MOBILE`, `alternatemobile`, ...).
    pub fn parse(s: &str) -> Option<PhoneType> {
        let s = s.trim();
        PhoneType::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for PhoneType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A phone number in the two forms the tool needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// The form sent to Graph (or, for current state, the form Graph returned).
    pub display: String,
    /// The comparison key: `+{cc}{national}[x{ext}]` with no spaces. Two phones are the same
    /// number exactly when their keys are equal.
    pub key: String,
}

/// One wanted phone from the input, with the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredPhone {
    /// The number in Graph's form.
    pub phone: Phone,
    /// 1-based line number in the input file.
    pub line: u64,
}

/// What the input says one user should have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredUser {
    /// The user as written in the input: an object id or a UPN.
    pub user: String,
    /// Wanted phones by type.
    pub phones: BTreeMap<PhoneType, DesiredPhone>,
    /// Set when the input contradicts itself for this user; the user is then skipped.
    pub conflict: Option<String>,
    /// Types whose input row was rejected, with that row's line. A rejected row means "we do
    /// not know what HR wants": such a type is never updated and never deleted.
    pub rejected: BTreeMap<PhoneType, u64>,
    /// Lines of this user's rejected rows whose type could not be read: they could be about
    /// any type, so they block every prune delete of the user.
    pub rejected_untyped: Vec<u64>,
}

impl DesiredUser {
    /// Adds a wanted phone of `phone_type`. The same number (by key) as one already wanted is the
    /// same row twice: the one from the earlier line is kept. A different number is a
    /// contradiction: a note naming both lines is added to [`DesiredUser::conflict`].
    pub fn want(&mut self, phone_type: PhoneType, wanted: DesiredPhone) {
        let Some(have) = self.phones.get_mut(&phone_type) else {
            self.phones.insert(phone_type, wanted);
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
    pub fn reject(&mut self, phone_type: Option<PhoneType>, line: u64) {
        match phone_type {
            Some(t) => {
                let kept = self.rejected.entry(t).or_insert(line);
                *kept = (*kept).min(line);
            }
            None => {
                if let Err(at) = self.rejected_untyped.binary_search(&line) {
                    self.rejected_untyped.insert(at, line);
                }
            }
        }
    }

    /// Merges `other` (the same person, named another way) into `self`: its wanted phones go
    /// through [`DesiredUser::want`], its conflicts and rejected rows are kept. `self.user`
    /// stays as it is.
    pub fn absorb(&mut self, other: DesiredUser) {
        for (phone_type, wanted) in other.phones {
            self.want(phone_type, wanted);
        }
        if let Some(note) = other.conflict {
            self.add_conflict(note);
        }
        for (phone_type, line) in other.rejected {
            self.reject(Some(phone_type), line);
        }
        for line in other.rejected_untyped {
            self.reject(None, line);
        }
    }

    /// Adds `note` to the conflict, after any earlier note.
    fn add_conflict(&mut self, note: String) {
        self.conflict = Some(match self.conflict.take() {
            Some(prev) => format!("{prev}; {note}"),
            None => note,
        });
    }
}

/// What Graph says one user has now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentUser {
    /// Registered phones by type.
    pub phones: BTreeMap<PhoneType, Phone>,
    /// The user's default sign-in method, where known; deleting it is blocked.
    pub default_method: Option<PhoneType>,
    /// Type changes an earlier run started but did not finish: the number was written to the
    /// new type (`.1`) and the old type (`.0`) still holds it. Keyed by the number's comparison
    /// key (`.2`). Only these license deleting a type whose number another type already holds.
    pub unfinished_moves: Vec<(PhoneType, PhoneType, String)>,
}

/// The kind of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// POST a new method of a type the user does not have.
    Add,
    /// PATCH the number of an existing method.
    Update,
    /// DELETE a method.
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

/// One planned change to one user's phone methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// What to do.
    pub kind: OpKind,
    /// Which method.
    pub phone_type: PhoneType,
    /// The number before the change (update, delete).
    pub before: Option<String>,
    /// The number after the change (add, update).
    pub after: Option<String>,
    /// Indexes (within the same user's ops) that must succeed before this op may run.
    pub depends_on: Vec<usize>,
    /// Set when the plan knows Graph would refuse this op; it is reported, not sent.
    pub blocked: Option<String>,
    /// Why the planner chose this op, for the human report.
    pub reason: String,
    /// For the delete of a type change: the type the number moves to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moves_to: Option<PhoneType>,
}

/// Why a user named in the input gets no ops at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum SkipReason {
    /// Graph answered 404 for the user.
    NotFound,
    /// The user's current phones could not be read.
    ReadFailed(String),
    /// The desired state breaks one of Graph's rules.
    Infeasible(String),
    /// The input has contradicting rows for this user.
    Conflict(String),
}

impl SkipReason {
    /// Short machine-readable name used in reports and counts.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::NotFound => "not_found",
            SkipReason::ReadFailed(_) => "read_failed",
            SkipReason::Infeasible(_) => "infeasible",
            SkipReason::Conflict(_) => "conflict",
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

/// The plan for a whole run, users in input order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// One entry per user named in the input.
    pub users: Vec<UserPlan>,
}

impl Plan {
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

    /// Number of skipped users.
    pub fn skipped_users(&self) -> usize {
        self.users.iter().filter(|u| u.skip.is_some()).count()
    }
}
