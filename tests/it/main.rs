//! The integration tests, in one binary (as ripgrep's are): one module per feature of the tool,
//! all on the shared set-up in `world`. Most run phonesync in-process against the Graph emulator
//! over real HTTP; the ones about the process itself (exit codes, console, signals, locks) run
//! the built binary. `cargo test --test it` runs them all; `cargo test --test it <module>::`
//! runs one feature.

mod world;

mod batching;
mod checker;
mod console;
mod convergence;
mod exit_codes;
mod export;
mod guards;
mod html_report;
mod input_corpus;
mod input_formats;
mod input_properties;
mod kill;
mod model;
mod outage;
mod profile_phones;
mod prune;
mod resilience;
mod rollback;
mod safety;
mod saved_plans;
mod scale;
mod signin;
mod soak;
mod targets;
