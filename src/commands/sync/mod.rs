//! `plan` and `apply`, read as their stages: the options checked once; the config, the tenant
//! and (for apply) the run lock; the source (an HR file or a saved plan) opened; the plan made
//! (one [`Planned`] whichever the source); the guards; the plan saved (plan) or applied
//! (apply); the reports, the closing lines and the exit code.

pub mod apply;
pub mod finish;
pub mod options;
pub mod source;

use crate::commands::setup;
use crate::config::{Config, Env};
use crate::console::{self, Out};
use crate::graph::connect::{self, Connection};
use crate::interrupt::Stop;
use crate::lock::RunLock;
use crate::pipeline::moves::Moves;
use crate::plan::guards;
use crate::plan::planned::{Planned, Reads};
use crate::plan::saved;
use crate::report;
use crate::report::run::{Mode, TargetInfo};
use anyhow::Result;
use apply::Apply;
use finish::{Clock, Finished};
use options::Options;
use source::Source;
use std::process::ExitCode;
use std::time::Instant;

/// Runs `plan` or `apply` (`mode`) as `args` ask, writing the closing lines to `out`.
pub async fn sync(args: &crate::cli::RunArgs, mode: Mode, env: &Env, stop: &Stop, out: Out<'_>) -> Result<ExitCode> {
    let mut clock = Clock::start();
    let options = Options::check(args, mode, env)?;
    let (config, region, targets) = setup::load(&options.config, env)?;
    let tenant = setup::tenant_key(&config);
    // One apply per tenant at a time: a second one stops here, before reading anything.
    let _lock = if mode == Mode::Apply {
        Some(take_lock(&config, env, &tenant)?)
    } else {
        None
    };
    let mut source = Source::open(&options, &config, region, targets, &tenant)?;
    let report_dir = report::create_dir(&config.report_dir, options.report_dir.as_deref(), mode, &clock.stamp)?;
    // Removed again if the run ends before its reports with nothing but the refused rows in it.
    let mut unfinished = report::Unfinished::new(report_dir.clone());
    // Written now, so a run killed later still leaves the refused rows behind (a run that ends
    // on a fatal error before its reports removes the folder again: see `Unfinished`).
    report::write_rejects(&report_dir, &source.input.rejects)?;

    // Signing in ends within the grace of a stop too.
    let signing_in = ("signing in", "nothing was read or changed");
    let connection = match setup::unless_stopped(connect(&options, &config, &source), stop, config.rate.stop_grace, signing_in).await? {
        Ok(connection) => connection,
        Err(code) => return Ok(code),
    };
    // The client outlives the connection's close, which comes before the reports are written.
    let client = connection.client.clone();
    let api = client.as_ref();
    // A stop ends the run within its grace, whatever Graph does.
    let _stop = setup::StopGuard::new(stop, api.halt().clone(), config.rate.stop_grace);
    let read_started = Instant::now();
    let mut moves = Moves::load(setup::state_dir(&config), &connection.label)?;
    let mut reads = Reads {
        api,
        // Users in flight: enough to fill every HTTP call the transport may have open.
        concurrency: config.rate.users_in_flight(),
        quiet: options.quiet,
        stop,
        unfinished: moves.by_user(),
    };
    let planned = match source.plan(&mut reads, &config, region).await {
        Ok(planned) => planned,
        Err(e) => {
            connection.close(false).await?;
            return Err(e);
        }
    };
    say(&options, planned.notes.iter().map(|n| format!("Note: {n}")));
    source.warn_stale(&planned);
    clock.read_time = read_started.elapsed();
    check_guards(&options, &config, &tenant, &planned)?;
    let digest = match mode {
        Mode::Plan => Some(save_plan(
            &options,
            &source,
            &planned,
            &clock,
            &tenant,
            &connection.label,
            &report_dir,
        )?),
        Mode::Apply => source.digest.clone(),
    };

    clock.apply_started = Instant::now();
    let mut applied = match mode {
        Mode::Apply => {
            let apply = Apply {
                api,
                concurrency: reads.concurrency,
                quiet: options.quiet,
                stop,
            };
            Some(apply.run(&planned, &config, &report_dir, &mut moves).await?)
        }
        Mode::Plan => None,
    };
    let audit = applied.as_mut().and_then(|a| a.audit.take());
    let mut late_error = applied.as_mut().and_then(|a| a.late_error.take());
    let label = connection.label.clone();
    let finished = Finished {
        options: &options,
        source: &source,
        planned: &planned,
        applied: applied.as_ref(),
        endpoint: &label,
        api,
        clock: &clock,
        digest: digest.as_deref(),
    };
    // The run's figures are taken when its work is done, before the connection closes.
    let targets: Vec<TargetInfo> = planned.targets.iter().map(|t| TargetInfo::of(t.as_ref())).collect();
    let timeline = api.stats.timeline();
    let run_report = finished.report(&targets, &timeline);
    // The embedded emulator's state is saved, then the reports written, whatever failed before.
    if let Err(e) = connection.close(mode == Mode::Apply).await {
        late_error.get_or_insert(e);
    }
    report::write_all(&report_dir, &run_report, audit)?;
    unfinished.keep();
    finish::print_summary(out, &run_report, &report_dir);
    if let Some(e) = late_error {
        return Err(e);
    }
    if let Some(code) = stop.exit_code() {
        return Ok(ExitCode::from(code));
    }
    if let Some(code) = unreachable(&finished, &run_report) {
        return Ok(code);
    }
    // The size of a finished apply's input, for the next run's shrink guard; writes were made,
    // so failing to record it is a warning, not the run's failure.
    if mode == Mode::Apply
        && let Err(e) = guards::record_run(setup::state_dir(&config), &tenant, planned.users_read as u64)
    {
        console::warn(&format!("{e:#}"));
    }
    Ok(finished.exit_code())
}

/// When Graph became unreachable during the run: says so once, with what was left undone, and
/// gives the exit code for it.
fn unreachable(finished: &Finished, report: &crate::report::run::RunReport) -> Option<ExitCode> {
    let reason = finished.api.halt().reason().filter(|r| r.code == crate::graph::halt::UNREACHABLE)?;
    let not_started = report.outcomes.map_or(0, |o| {
        o.iter()
            .filter(|o| o.status == crate::pipeline::executor::Status::NotStarted)
            .count()
    });
    let unread = report.plan.skipped_as("read_failed");
    let mut left = vec![console::count(not_started as u64, "op") + " not started"];
    if unread > 0 {
        left.push(console::count(unread as u64, "user") + " not read");
    }
    console::error(&format!("{}: {}; run again when it is back", reason.message, left.join(", ")));
    Some(ExitCode::from(if finished.options.detailed_exitcode {
        1
    } else {
        crate::cli::EXIT_UNREACHABLE
    }))
}

/// Says each line on stderr unless `--quiet`: banners and notes, never report data.
fn say(options: &Options, lines: impl IntoIterator<Item = String>) {
    if !options.quiet {
        for line in lines {
            console::info(&line);
        }
    }
}

/// The run lock of `tenant` on this machine, or why another run holds it.
fn take_lock(config: &Config, env: &Env, tenant: &str) -> Result<RunLock> {
    let holder = std::path::absolute(&config.path).unwrap_or_else(|_| config.path.clone());
    // Tenant ids are names without case (a domain, or a GUID in either case): one lock for all.
    let (lock, warning) = RunLock::take(&setup::lock_dir(config, env), &tenant.to_lowercase(), &holder.display().to_string())?;
    if let Some(warning) = warning {
        console::warn(&warning);
    }
    Ok(lock)
}

/// Signs in to the configured endpoint with the scopes every target needs, and says what the
/// run talks to and starts from.
async fn connect(options: &Options, config: &Config, source: &Source) -> Result<Connection> {
    let scopes: Vec<&str> = source.targets.iter().flat_map(|t| t.delegated_scopes().iter().copied()).collect();
    let connection = connect::open(config, &scopes).await?;
    say(options, [format!("phonesync {}: {}", options.mode.as_str(), connection.label)]);
    if connection.is_embedded() {
        // Never hidden, not even by --quiet: nobody should mistake the emulator for a tenant.
        console::info(&format!(
            "  This is the built-in emulator, not a Microsoft tenant. To use a real tenant, set endpoint = \"https://graph.microsoft.com\"\n  in {} and AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET in the environment (see docs/configuration.md).",
            config.path.display()
        ));
    }
    say(options, [source.describe(options)]);
    Ok(connection)
}

/// The whole-plan guards: a plan that deletes more than the limits allow, or (with prune) an
/// input naming far fewer users than the last apply read, is most likely a broken input file.
/// Apply refuses before its first write; a plan warns.
fn check_guards(options: &Options, config: &Config, tenant: &str, planned: &Planned) -> Result<()> {
    let deletes = guards::check_deletes(
        guards::removing_deletes(&planned.plan),
        planned.users_read,
        config.max_deletes,
        config.max_delete_percent,
        options.allow_deletes,
    );
    let shrink = if planned.prune && options.allow_deletes.is_none() {
        let last = guards::last_run_users(setup::state_dir(config), tenant);
        guards::check_shrink(planned.users_read as u64, last, config.max_shrink_percent)
    } else {
        Ok(())
    };
    for (refusal, why) in [("refusing to apply", deletes), ("refusing to apply with prune", shrink)] {
        match why {
            Err(why) if options.mode == Mode::Apply => anyhow::bail!("{refusal}: {why}"),
            Err(why) => console::warn(&format!("apply would refuse this plan: {why}")),
            Ok(()) => {}
        }
    }
    Ok(())
}

/// Writes the plan as `plan.json` in the report folder, and to `--out` when given; returns its
/// digest.
fn save_plan(
    options: &Options,
    source: &Source,
    planned: &Planned,
    clock: &Clock,
    tenant: &str,
    endpoint: &str,
    report_dir: &std::path::Path,
) -> Result<String> {
    let record = saved::SavedPlan::new(
        &planned.plan,
        &planned.current,
        saved::InputRecord {
            path: options.input.display().to_string(),
            sha256: crate::plan::fingerprint::file_sha256(&options.input)?,
            rows: source.input.rows,
            rejected: source.input.rejects.len() as u64,
            encoding: source.encoding.clone(),
            delimiter: source.delimiter.clone(),
        },
        saved::ConfigRecord {
            path: options.config.display().to_string(),
            sha256: crate::plan::fingerprint::file_sha256(&options.config).unwrap_or_default(),
            targets: planned
                .targets
                .iter()
                .map(|t| saved::TargetRecord {
                    name: t.name().to_string(),
                    from: t.settings().from.clone(),
                    managed_types: t.settings().managed.clone(),
                })
                .collect(),
        },
        (&clock.started_at, tenant, endpoint),
        planned.users_read as u64,
        planned.prune,
    );
    record.write(&report_dir.join("plan.json"))?;
    if let Some(out) = &options.out {
        record.write(out)?;
    }
    Ok(record.digest)
}
