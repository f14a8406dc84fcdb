//! The pipeline's Graph stages: `fetcher` reads each user's current phones in every target,
//! `executor` runs a plan through the rate-limited worker pool, and `moves` keeps type changes
//! in progress across runs.

pub mod executor;
pub mod fetcher;
pub mod moves;
