//! The profile phone vocabulary: Graph's `itemPhone` types, in their canonical spelling.

/// Graph's `phoneType` values for an `itemPhone`.
pub const TYPES: [&str; 10] = [
    "home",
    "business",
    "mobile",
    "other",
    "assistant",
    "homeFax",
    "businessFax",
    "otherFax",
    "pager",
    "radio",
];

/// The canonical spelling of a profile type.
pub fn parse_type(s: &str) -> Option<&'static str> {
    TYPES.into_iter().find(|t| t.eq_ignore_ascii_case(s.trim()))
}
