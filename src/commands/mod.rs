//! The commands, one module each: `sync` (plan and apply), `export` and `validate`, and the
//! set-up they share (`setup`). Each wires the pipeline's stages for its job; the stages know
//! nothing of commands.

pub mod export;
pub mod setup;
pub mod sync;
pub mod validate;
