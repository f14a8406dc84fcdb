//! The sign-in phone vocabulary: the three method types with their fixed ids, and the
//! planner's view of a user (what the input wants, what Graph has) under those types.

use crate::model::{DesiredPhone, Phone};
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

    /// The fixed id of the type's method (docs/graph.md#fixed-method-ids).
    pub fn method_id(self) -> &'static str {
        match self {
            PhoneType::Mobile => "3179e48a-750b-4051-897c-87b9720928f7",
            PhoneType::AlternateMobile => "b6332ec1-7057-4abe-9331-3d72feddfe41",
            PhoneType::Office => "e37fc753-ff3b-4958-9484-eaa9425c82bc",
        }
    }
}

impl fmt::Display for PhoneType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the input wants of one user, under this target's types (the planner's view).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    /// The user as written in the input.
    pub user: String,
    /// Wanted phones by type.
    pub phones: BTreeMap<PhoneType, DesiredPhone>,
    /// Set when the input contradicts itself for this user; the user is then skipped.
    pub conflict: Option<String>,
    /// Types whose input row was rejected, with that row's line: never updated or deleted.
    pub rejected: BTreeMap<PhoneType, u64>,
    /// Lines of rejected rows whose type could not be read: they block every prune delete.
    pub rejected_untyped: Vec<u64>,
    /// Types an empty wide cell says the user has none of (and no row gives a phone).
    pub stated_none: usize,
}

/// What Graph says one user has, under this target's types (the planner's view).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Current {
    /// Registered phones by type.
    pub phones: BTreeMap<PhoneType, Phone>,
    /// The user's default sign-in method, where known; deleting it is blocked.
    pub default_method: Option<PhoneType>,
    /// Type changes an earlier run started but did not finish: (from, to, number key).
    pub unfinished_moves: Vec<(PhoneType, PhoneType, String)>,
}
