//! phonesync: makes the phone authentication methods of Microsoft Entra ID users match an HR
//! export. The pipeline, one module per stage:
//!
//! ```text
//! reader ─▶ fetcher ─▶ planner ─▶ executor ─▶ report
//!              └──── graph (client) ────┘
//! ```
//!
//! plus `emulator`, a Graph emulator used as the embedded endpoint and by the tests. This file
//! wires the stages together; `main.rs` only calls [`run`].

pub mod cli;
pub mod config;
pub mod connect;
pub mod emulator;
pub mod executor;
pub mod fetcher;
pub mod graph;
pub mod model;
pub mod phone;
pub mod planner;
pub mod progress;
pub mod reader;
pub mod report;

use anyhow::{Context, Result};
use cli::{Cli, Command, RunArgs};
use config::{Config, Env};
use report::Mode;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Runs the command line on a new tokio runtime, with this process's environment.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(cli, Env::from_process()))
}

/// Runs the command line inside an existing runtime (tests call this in-process).
pub async fn run_async(cli: Cli, env: Env) -> Result<ExitCode> {
    match cli.command {
        Command::Plan(args) => sync(&args, Mode::Plan, &env).await,
        Command::Apply(args) => sync(&args, Mode::Apply, &env).await,
        Command::Emulator(args) => emulator::serve(&args).await,
    }
}

/// Prints to stderr unless quiet: banners and progress notes, never report data.
macro_rules! say {
    ($quiet:expr, $($arg:tt)*) => { if !$quiet { eprintln!($($arg)*); } };
}

/// `plan` and `apply`: read → fetch → plan → (execute) → report.
async fn sync(args: &RunArgs, mode: Mode, env: &Env) -> Result<ExitCode> {
    let started = Instant::now();
    let now = time::OffsetDateTime::now_utc();
    let started_at = now
        .format(time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
        .unwrap_or_default();
    let stamp = now
        .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap_or_default();
    let quiet = args.quiet;

    let config = Config::load(&args.config, env)?;
    let file = std::fs::File::open(&args.input).with_context(|| format!("cannot open input file {}", args.input.display()))?;
    let input = reader::read(std::io::BufReader::new(file), config.default_region)
        .with_context(|| format!("cannot use input file {}", args.input.display()))?;
    let report_dir = report::create_dir(&config.report_dir, args.report_dir.as_deref(), mode, &stamp)?;
    // Written now, so a run that dies later still leaves the refused rows behind.
    report::write_rejects(&report_dir, &input.rejects)?;

    let connection = connect::open(&config).await?;
    say!(quiet, "phonesync {}: {}", mode.as_str(), connection.label);
    if connection.is_embedded() {
        say!(
            quiet,
            "  This is the built-in emulator, not a Microsoft tenant. To use a real tenant, set endpoint = \"https://graph.microsoft.com\""
        );
        say!(
            quiet,
            "  in {} and AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET in the environment (see README).",
            config.path.display()
        );
    }
    say!(
        quiet,
        "Read {} rows from {}: {} users, {} rows rejected",
        input.rows,
        args.input.display(),
        input.users.len(),
        input.rejects.len()
    );

    let api = connection.client.as_ref();
    let bar = progress::bar(input.users.len() as u64, "read", quiet);
    let read_started = Instant::now();
    let current = fetcher::fetch(api, &input.users, config.rate.concurrency, &bar).await;
    let read_time = read_started.elapsed();
    bar.finish_and_clear();
    let plan = planner::plan(input.users.iter().zip(&current), &config.planner);

    let apply_started = Instant::now();
    let outcomes = if mode == Mode::Apply && plan.op_count() > 0 {
        let bar = progress::bar(plan.op_count() as u64, "apply", quiet);
        let outcomes = executor::execute(api, &plan, config.rate.concurrency, &bar).await;
        bar.finish_and_clear();
        Some(outcomes)
    } else if mode == Mode::Apply {
        Some(Vec::new())
    } else {
        None
    };

    let label = connection.label.clone();
    let report = report::RunReport {
        mode,
        started_at,
        input: &args.input,
        endpoint: &label,
        settings: &config.planner,
        rows: input.rows,
        rejects: &input.rejects,
        plan: &plan,
        outcomes: outcomes.as_deref(),
        duration: started.elapsed(),
        read_time,
        apply_time: apply_started.elapsed(),
        requests: api.stats.requests.load(Ordering::Relaxed),
        http_calls: api.stats.http_calls.load(Ordering::Relaxed),
        throttled: api.stats.throttled.load(Ordering::Relaxed),
        confirmed_by_reread: api.stats.confirmed_by_reread.load(Ordering::Relaxed),
        lowest_rate: api.lowest_rate(),
    };
    // The embedded emulator's state is saved before anything else can fail.
    connection.close(mode == Mode::Apply).await?;
    report::write_all(&report_dir, &report)?;
    print_summary(&report, &report_dir);
    let clean = outcomes
        .as_deref()
        .unwrap_or_default()
        .iter()
        .all(|o| o.status == executor::Status::Succeeded)
        && plan.skipped_users() == 0
        && input.rejects.is_empty();
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The closing lines on stdout: counts only, no personal data.
fn print_summary(r: &report::RunReport, dir: &std::path::Path) {
    let planned = report::planned_counts(r.plan);
    let changed = r.plan.users.iter().filter(|u| !u.ops.is_empty()).count();
    let unchanged = r.plan.users.iter().filter(|u| u.skip.is_none() && u.ops.is_empty()).count();
    let ops: Vec<String> = planned
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    if ops.is_empty() {
        println!("Plan: nothing to change; {unchanged} users already in line");
    } else {
        println!("Plan: {} for {changed} users; {unchanged} users already in line", ops.join(", "));
    }
    let skips = report::skip_counts(r.plan);
    if !skips.is_empty() {
        let parts: Vec<String> = skips.iter().map(|(k, n)| format!("{n} {}", k.replace('_', " "))).collect();
        println!("Skipped users: {} (see plan.md)", parts.join(", "));
    }
    if !r.rejects.is_empty() {
        println!("Rejected rows: {} (see rejects.csv)", r.rejects.len());
    }
    match r.outcomes {
        Some(outcomes) => {
            let s = report::status_counts(outcomes);
            println!(
                "Applied: {} succeeded, {} failed, {} skipped, {} blocked ({} requests, {} throttled) in {:.1} s",
                s["succeeded"],
                s["failed"],
                s["skipped"],
                s["blocked"],
                r.requests,
                r.throttled,
                r.duration.as_secs_f64()
            );
        }
        None if r.plan.op_count() > 0 => {
            println!("Nothing was changed: this was a plan. Run `phonesync apply` with the same input to make these changes.")
        }
        None => {}
    }
    println!("Reports: {}", dir.display());
}
