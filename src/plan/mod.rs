//! The plan stage: from desired and current state to the ops that make them match. `fresh`
//! plans an HR file (the target planners do the per-user work), `saved` and `recheck` keep a
//! plan on disk and check it against the tenant before it runs, `fingerprint` digests the
//! state a plan was made against, `guards` refuse plans that look like a broken input, and
//! `planned` is what both paths hand on.

pub mod fingerprint;
pub mod fresh;
pub mod guards;
pub mod planned;
pub mod recheck;
pub mod saved;
