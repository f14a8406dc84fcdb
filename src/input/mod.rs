//! The input stage: what the HR file says. `reader` turns CSV bytes into desired users and the
//! rows it had to refuse, `phone` is the one place that parses and masks phone numbers, and
//! `identity` resolves users keyed in more than one way to one object.

pub mod identity;
pub mod phone;
pub mod reader;
