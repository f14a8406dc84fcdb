//! phonesync: makes the phones of Microsoft Entra ID users (sign-in phone methods, profile
//! phones) match an HR export. The pipeline, one folder per stage:
//!
//! ```text
//! input ─▶ plan ─────────▶ pipeline (fetch, execute, moves) ─▶ report
//! (reader,  (generic,        │
//!  phone,    saved plans,    └── targets (one module per kind of phone)
//!  identity) guards)              └── graph (request vocabulary, client, pacer, $batch)
//! ```
//!
//! `commands` holds one module per command (`sync` for plan and apply, `export`, `validate`)
//! and wires the stages; `config`, `model` and the small infrastructure modules (`console`,
//! `progress`, `interrupt`, `lock`, `files`, `fanout`, `sheet` for every CSV written) are leaves every stage may use. The
//! Graph emulator (the embedded endpoint and the tests' Graph) is its own crate,
//! `phonesync-emulator`. This file only dispatches a command line to its command; `main.rs`
//! gives it the process's stdout.

pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod fanout;
pub mod files;
pub mod graph;
pub mod input;
pub mod interrupt;
pub mod lock;
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod report;
pub mod sheet;
pub mod targets;

use anyhow::{Context, Result};
use cli::{Cli, Command};
use commands::{export, sync, validate};
use config::Env;
pub use console::Out;
use interrupt::Stop;
use report::run::Mode;
use std::process::ExitCode;

/// Runs the command line on a new tokio runtime, with this process's environment; Ctrl-C and
/// SIGTERM stop the run gracefully (see [`interrupt`]).
pub fn run(cli: Cli, out: Out) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let stop = Stop::new();
        #[cfg(feature = "embedded-emulator")]
        let listen = !matches!(cli.command, Command::Emulator(_));
        #[cfg(not(feature = "embedded-emulator"))]
        let listen = true;
        if listen {
            interrupt::listen(stop.clone());
        }
        run_with(cli, Env::from_process(), &stop, out).await
    })
}

/// Runs the command line inside an existing runtime (tests call this in-process).
pub async fn run_async(cli: Cli, env: Env, out: Out<'_>) -> Result<ExitCode> {
    run_with(cli, env, &Stop::new(), out).await
}

/// Runs the command line; `stop` is how the caller asks the run to stop early.
pub async fn run_with(cli: Cli, env: Env, stop: &Stop, out: Out<'_>) -> Result<ExitCode> {
    match cli.command {
        Command::Plan(args) => sync::sync(&args, Mode::Plan, &env, stop, out).await,
        Command::Apply(args) => sync::sync(&args, Mode::Apply, &env, stop, out).await,
        Command::Validate(args) => validate::validate(&args, &env, out),
        Command::Export(args) => export::export(&args, &env, stop, out).await,
        #[cfg(feature = "embedded-emulator")]
        Command::Emulator(args) => phonesync_emulator::serve(&args).await,
    }
}
