//! phonesync: makes the phones of Microsoft Entra ID users (sign-in phone methods, profile
//! phones) match an HR export. The pipeline, one module per stage:
//!
//! ```text
//! reader ─▶ identity ─▶ fetcher ─▶ plan (per target) ─▶ executor ─▶ report
//!                          └────── graph (transport) ──────┘
//! ```
//!
//! Each target (`targets`: `auth_phones`, `profile_phones`) owns its wire format, rules and
//! planner; the stages are generic over targets and the transport knows none of them. `config`
//! is a leaf every stage reads. The Graph emulator (the embedded endpoint and the tests' Graph)
//! is its own crate, `phonesync-emulator`. This file wires the stages together; `main.rs` only
//! calls [`run`].

pub mod cli;
pub mod config;
pub mod connect;
pub mod console;
pub mod executor;
pub mod export;
pub mod fetcher;
pub mod files;
pub mod graph;
pub mod guards;
pub mod identity;
pub mod interrupt;
pub mod lock;
pub mod model;
pub mod moves;
pub mod phone;
pub mod progress;
pub mod reader;
pub mod report;
pub mod saved;
pub mod snapshot;
pub mod targets;
pub mod validate;

use anyhow::{Context, Result};
use cli::{Cli, Command, RunArgs};
use config::{Config, Env};
use interrupt::Stop;
use model::{CurrentUser, DesiredUser, Plan, SkipReason, TargetPlan};
use report::Mode;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Runs the command line on a new tokio runtime, with this process's environment; Ctrl-C and
/// SIGTERM stop the run gracefully (see [`interrupt`]).
pub fn run(cli: Cli) -> Result<ExitCode> {
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
        run_with(cli, Env::from_process(), &stop).await
    })
}

/// Runs the command line inside an existing runtime (tests call this in-process).
pub async fn run_async(cli: Cli, env: Env) -> Result<ExitCode> {
    run_with(cli, env, &Stop::new()).await
}

/// Runs the command line; `stop` is how the caller asks the run to stop early.
pub async fn run_with(cli: Cli, env: Env, stop: &Stop) -> Result<ExitCode> {
    match cli.command {
        Command::Plan(args) => sync(&args, Mode::Plan, &env, stop).await,
        Command::Apply(args) => sync(&args, Mode::Apply, &env, stop).await,
        Command::Validate(args) => validate::validate(&args, &env),
        Command::Export(args) => export::export(&args, &env, stop).await,
        #[cfg(feature = "embedded-emulator")]
        Command::Emulator(args) => phonesync_emulator::serve(&args).await,
    }
}

/// Says a line on stderr unless quiet (see `console`): banners and progress notes, never report
/// data.
macro_rules! say {
    ($quiet:expr, $($arg:tt)*) => {{ if !$quiet { console::info(&format!($($arg)*)); } }};
}

/// Prints a line to stdout, ignoring a closed or full stdout (`| head`, `> /dev/full`): the
/// reports are written and the exit code tells what happened either way.
macro_rules! out {
    ($($arg:tt)*) => {{ let _ = writeln!(std::io::stdout(), $($arg)*); }};
}

/// Reads the HR file at `path` as `config`'s `[input]` lays it out, taking the phone types the
/// run's `targets` take; a wide file's columns must each feed one of them.
pub(crate) fn read_input(
    config: &Config,
    region: phone::Region,
    targets: &[Box<dyn targets::Target>],
    path: &std::path::Path,
    quiet: bool,
) -> Result<reader::Input> {
    let vocabulary = targets::input_vocabulary(targets);
    if let Some((column, t)) = config
        .input
        .columns
        .iter()
        .find(|(_, t)| !vocabulary.iter().any(|v| v.eq_ignore_ascii_case(t)))
    {
        return Err(config.error(
            "input.columns",
            format!(
                "column '{column}' feeds '{t}', which no target takes: use {}",
                vocabulary.join(", ")
            ),
        ));
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot open input file {}", path.display()))?;
    let size = file.metadata().map_or(0, |m| m.len());
    let texted = targets::texted_input_types(targets);
    let spec = reader::Spec {
        region,
        types: &vocabulary,
        texted: &texted,
        settings: &config.input,
    };
    // Large files only: a bar that flashes by is noise.
    let bar = progress::bytes_bar(size, "reading", quiet || size < 16 * 1024 * 1024);
    let input = reader::read(std::io::BufReader::new(file), &spec, &|done| bar.set_position(done));
    bar.finish_and_clear();
    input.with_context(|| format!("cannot use input file {}", path.display()))
}

/// A run's targets, in config order.
pub(crate) type Targets = Vec<Box<dyn targets::Target>>;

/// The config at `path`, its default region, and the targets it configures: what every command
/// that talks to Graph starts from.
pub(crate) fn load(path: &std::path::Path, env: &Env) -> Result<(Config, phone::Region, Targets)> {
    let config = Config::load(path, env)?;
    let (region, targets) = prepare(&config)?;
    Ok((config, region, targets))
}

/// `config`'s default region and the targets it configures.
pub(crate) fn prepare(config: &Config) -> Result<(phone::Region, Targets)> {
    let region: phone::Region = config
        .default_region
        .parse()
        .map_err(|why: String| config.error("input.default_region", why))?;
    Ok((region, targets::build(config, region)?))
}

/// Where a tenant's state is kept between runs (type changes in progress, the run lock): the
/// embedded emulator's state folder, or the reports folder.
fn state_dir(config: &Config) -> &std::path::Path {
    match config.endpoint {
        config::Endpoint::Embedded => &config.emulator.state_dir,
        config::Endpoint::Url(_) => &config.report_dir,
    }
}

/// What planning produced, from an HR file or a saved plan.
struct Planned {
    /// The plan, its targets in the order of `targets`.
    plan: Plan,
    /// Users the input named (the guards' measure).
    users_read: usize,
    /// Whether prune was on for the plan.
    prune: bool,
    /// (target, lowercased user) whose current items this run read successfully.
    read_ok: std::collections::HashSet<(String, String)>,
    /// Per target, per user of the plan: what was read.
    current: Vec<Vec<Result<CurrentUser, SkipReason>>>,
    /// The targets, in the plan's order.
    targets: Vec<Box<dyn targets::Target>>,
}

/// Plans the users of an HR file: resolves mixed user keys, reads each user's current state
/// in every target, and plans. A run that could not read some users prunes nothing. Fails only
/// when Graph answered none of the reads.
#[allow(clippy::too_many_arguments)]
async fn plan_input(
    api: &graph::GraphClient,
    config: &Config,
    region: phone::Region,
    targets: Vec<Box<dyn targets::Target>>,
    desired: Vec<DesiredUser>,
    unfinished: &mut std::collections::HashMap<(String, String), Vec<model::UnfinishedMove>>,
    concurrency: usize,
    quiet: bool,
    stop: &Stop,
) -> Result<Planned> {
    // One person is one object id: keys written in more than one way are resolved and merged.
    // The input's users are moved on, not copied: at 100,000 users a copy is tens of megabytes.
    let (users, unresolved): (Vec<DesiredUser>, Vec<Option<graph::GraphError>>) = if identity::mixed(&desired) {
        let resolved = identity::resolve(api, &desired, concurrency, stop).await;
        identity::merge(desired, resolved).into_iter().unzip()
    } else {
        let n = desired.len();
        (desired, vec![None; n])
    };
    let bar = progress::bar(
        (users.len() * targets.len()) as u64,
        "read",
        quiet,
        Some(api.stats.throttled.clone()),
    );
    // Graph unreachable, or refusing this app: nothing to plan from.
    let reads = fetcher::fetch_all(api, &targets, &users, concurrency, &bar, stop)
        .await
        .map_err(|e| anyhow::anyhow!("Graph answered none of the reads, so nothing was planned or changed: {e}"))?;
    let mut current: Vec<Vec<Result<CurrentUser, SkipReason>>> = targets
        .iter()
        .zip(reads)
        .map(|(target, reads)| {
            reads
                .into_iter()
                .zip(&unresolved)
                .zip(&users)
                .map(|((read, unresolved), user)| match unresolved {
                    Some(e) if e.status == Some(404) => Err(SkipReason::NotFound),
                    Some(e) if e.code == graph::NOT_STARTED => Err(SkipReason::ReadFailed(e.message.clone())),
                    Some(e) => Err(SkipReason::ReadFailed(format!("could not resolve the user: {e}"))),
                    None => read.map_err(|(reason, _)| reason).map(|mut c| {
                        let key = (target.name().to_string(), user.user.to_lowercase());
                        c.unfinished_moves = unfinished.remove(&key).unwrap_or_default();
                        c
                    }),
                })
                .collect()
        })
        .collect();
    // A run that could not read some users deletes nothing by prune, for anyone: a partial read
    // is a sign of trouble (throttling, permissions) better looked at before anything is pruned.
    let read_errors = current
        .iter()
        .flatten()
        .filter(|c| matches!(c, Err(SkipReason::ReadFailed(_))))
        .count();
    let prune = config.prune && read_errors == 0;
    let targets = if config.prune && read_errors > 0 {
        console::warn(&format!(
            "prune is off for this run: {read_errors} user reads failed (see plan.md); run again once Graph answers them"
        ));
        let no_prune = Config {
            prune: false,
            ..config.clone()
        };
        targets::build(&no_prune, region)?
    } else {
        targets
    };
    let mut plan = Plan {
        targets: targets
            .iter()
            .zip(&current)
            .map(|(target, current)| TargetPlan {
                target: target.name().to_string(),
                users: users
                    .iter()
                    .zip(current)
                    .map(|(u, c)| targets::plan_user_or_skip(target.as_ref(), u, c))
                    .collect(),
            })
            .collect(),
    };
    if !stop.requested() {
        for ((target, current), plan) in targets.iter().zip(&mut current).zip(&mut plan.targets) {
            if let Some(e) = fetcher::refine(api, target.as_ref(), &users, current, plan, concurrency).await {
                say!(quiet, "Note: {}", target.refine_refused(&e));
            }
        }
    }
    // (target, user) whose items this run actually read (a conflicting user is not read).
    let read_ok = targets
        .iter()
        .zip(&current)
        .flat_map(|(t, current)| {
            users
                .iter()
                .zip(current)
                .filter(|(u, c)| c.is_ok() && u.conflict.is_none())
                .map(|(u, _)| (t.name().to_string(), u.user.to_lowercase()))
        })
        .collect();
    Ok(Planned {
        plan,
        users_read: users.len(),
        prune,
        read_ok,
        current,
        targets,
    })
}

/// `plan` and `apply`: read → resolve → fetch → plan → (execute) → report.
async fn sync(args: &RunArgs, mode: Mode, env: &Env, stop: &Stop) -> Result<ExitCode> {
    let started = Instant::now();
    let now = time::OffsetDateTime::now_utc();
    let started_at = now
        .format(time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
        .unwrap_or_default();
    let stamp = now
        .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap_or_default();
    let quiet = args.quiet;

    if args.detailed_exitcode && mode == Mode::Apply {
        anyhow::bail!("--detailed-exitcode is for `phonesync plan`");
    }
    if let Some(out) = &args.out {
        if mode == Mode::Apply {
            anyhow::bail!("--out is for `phonesync plan`: apply executes the plan it is given or makes");
        }
        if !saved::is_saved_plan(out) {
            anyhow::bail!(
                "--out {}: a saved plan's name ends in .json (apply tells plans from HR files by it)",
                out.display()
            );
        }
    }
    let (config, region, targets) = load(&args.config, env)?;
    // One apply per tenant at a time: a second one stops here, before reading anything.
    let endpoint = match &config.endpoint {
        config::Endpoint::Embedded => "embedded",
        config::Endpoint::Url(url) => url.as_str(),
    };
    let tenant = format!("{endpoint}|{}", config.auth.tenant_id.as_deref().unwrap_or_default());
    let _lock = if mode == Mode::Apply {
        let (lock, warning) = lock::RunLock::take(state_dir(&config), &tenant)?;
        if let Some(warning) = warning {
            console::warn(&warning);
        }
        Some(lock)
    } else {
        None
    };
    // An HR file is planned now; a saved plan (`apply plan.json`) was planned before.
    let saved = if saved::is_saved_plan(&args.input) {
        if mode == Mode::Plan {
            anyhow::bail!(
                "{} is a saved plan: apply it with `phonesync apply {}` (plan takes an HR file)",
                args.input.display(),
                args.input.display()
            );
        }
        Some(saved::SavedPlan::load(&args.input)?)
    } else {
        None
    };
    let targets = match &saved {
        Some(saved) => saved.targets_for(&tenant, config.prune, targets)?,
        None => targets,
    };
    let mut input = match &saved {
        Some(saved) => reader::Input {
            rows: saved.input.rows,
            ..reader::Input::default()
        },
        None => read_input(&config, region, &targets, &args.input, quiet)?,
    };
    if !input.blank_columns.is_empty() {
        console::warn(&format!(
            "the column of {} is empty in every row: taken as saying nothing, so a user with no other value in the file \
             keeps their phones (if the file means nobody has one, set [input] empty_column_means_none = true)",
            input.blank_columns.join(", ")
        ));
    }
    if !args.unmask {
        input.rejects = input.rejects.iter().map(reader::Reject::masked).collect();
        input.notes = input.notes.iter().map(reader::Reject::masked).collect();
    }
    let (encoding, delimiter) = match &saved {
        Some(saved) => (saved.input.encoding.clone(), saved.input.delimiter.clone()),
        None => (input.encoding.to_string(), input.delimiter.to_string()),
    };
    let report_dir = report::create_dir(&config.report_dir, args.report_dir.as_deref(), mode, &stamp)?;
    // Written now, so a run that dies later still leaves the refused rows behind.
    report::write_rejects(&report_dir, &input.rejects)?;

    let scopes: Vec<&str> = targets.iter().flat_map(|t| t.delegated_scopes().iter().copied()).collect();
    let connection = connect::open(&config, &scopes).await?;
    say!(quiet, "phonesync {}: {}", mode.as_str(), connection.label);
    if connection.is_embedded() {
        // Never hidden, not even by --quiet: nobody should mistake the emulator for a tenant.
        console::info(&format!(
            "  This is the built-in emulator, not a Microsoft tenant. To use a real tenant, set endpoint = \"https://graph.microsoft.com\"\n  in {} and AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET in the environment (see README).",
            config.path.display()
        ));
    }
    match &saved {
        Some(saved) => say!(
            quiet,
            "Applying {}: planned {} from {}, changes for {} users",
            args.input.display(),
            saved.created_at,
            saved.input.path,
            saved.targets.iter().map(|t| t.users.len()).sum::<usize>()
        ),
        None => say!(
            quiet,
            "Read {} rows from {}: {} users, {} rows rejected",
            input.rows,
            args.input.display(),
            input.users.len(),
            input.rejects.len()
        ),
    }

    let api = connection.client.as_ref();
    // Users in flight: enough to fill every HTTP call the transport may have open.
    let concurrency = config.rate.users_in_flight();
    let read_started = Instant::now();
    let mut moves = moves::Moves::load(state_dir(&config), &connection.label)?;
    let mut unfinished = moves.by_user();
    let Planned {
        plan,
        users_read,
        prune,
        read_ok,
        current,
        targets,
    } = match saved {
        Some(saved) => {
            let users_read = saved.users_read as usize;
            let prune = saved.prune;
            let sends = saved.targets.iter().flat_map(|t| &t.users).filter(|u| u.plan.sends()).count();
            let bar = progress::bar(sends as u64, "re-read", quiet, Some(api.stats.throttled.clone()));
            let saved::Rechecked {
                plan,
                current,
                read_ok,
                notes,
            } = saved.recheck(api, &targets, &mut unfinished, concurrency, &bar, stop).await;
            bar.finish_and_clear();
            for note in notes {
                say!(quiet, "Note: {note}");
            }
            let stale = plan.skipped_as("stale");
            if stale > 0 {
                console::warn(&format!(
                    "{stale} users changed in Graph after the plan was made and are skipped as stale (see plan.md); plan again to include them"
                ));
            }
            Planned {
                plan,
                users_read,
                prune,
                read_ok,
                current,
                targets,
            }
        }
        None => {
            let desired = std::mem::take(&mut input.users);
            match plan_input(api, &config, region, targets, desired, &mut unfinished, concurrency, quiet, stop).await {
                Ok(planned) => planned,
                Err(e) => {
                    connection.close(false).await?;
                    return Err(e);
                }
            }
        }
    };
    let read_time = read_started.elapsed();
    // A plan that deletes more than the limits allow is most likely a broken input file: apply
    // refuses before its first write; a plan says so.
    let deletes = guards::check_deletes(
        guards::removing_deletes(&plan),
        users_read,
        config.max_deletes,
        config.max_delete_percent,
        args.allow_deletes,
    );
    // With prune, an input naming far fewer users than the last apply read is most likely
    // truncated: apply refuses unless deletes were explicitly allowed.
    let shrink = if prune && args.allow_deletes.is_none() {
        let last = guards::last_run_users(state_dir(&config), &tenant);
        guards::check_shrink(users_read as u64, last, config.max_shrink_percent)
    } else {
        Ok(())
    };
    for (refusal, why) in [("refusing to apply", deletes), ("refusing to apply with prune", shrink)] {
        match why {
            Err(why) if mode == Mode::Apply => anyhow::bail!("{refusal}: {why}"),
            Err(why) => {
                console::warn(&format!("apply would refuse this plan: {why}"));
            }
            Ok(()) => {}
        }
    }
    if mode == Mode::Plan {
        let record = saved::SavedPlan::new(
            &plan,
            &current,
            saved::InputRecord {
                path: args.input.display().to_string(),
                sha256: saved::file_sha256(&args.input)?,
                rows: input.rows,
                rejected: input.rejects.len() as u64,
                encoding: encoding.clone(),
                delimiter: delimiter.clone(),
            },
            saved::ConfigRecord {
                path: args.config.display().to_string(),
                sha256: saved::file_sha256(&args.config).unwrap_or_default(),
                targets: targets
                    .iter()
                    .map(|t| saved::TargetRecord {
                        name: t.name().to_string(),
                        from: t.settings().from.clone(),
                        managed_types: t.settings().managed.clone(),
                    })
                    .collect(),
            },
            (&started_at, &tenant, &connection.label),
            users_read as u64,
            prune,
        );
        record.write(&report_dir.join("plan.json"))?;
        if let Some(out) = &args.out {
            record.write(out)?;
        }
    }

    let apply_started = Instant::now();
    let mut log = None;
    // An error after writes were made is returned only once every report is written.
    let mut late_error: Option<anyhow::Error> = None;
    let mut refused = Vec::new();
    let outcomes = if mode == Mode::Apply {
        // The way back, before the first write.
        let snapshot = snapshot::rollback(&report_dir, &config, &targets, &plan, &current)?;
        if snapshot > 0 {
            say!(
                quiet,
                "Prior state of the {snapshot} users this run changes: {} (see {})",
                report_dir.join(snapshot::CSV).display(),
                report_dir.join(snapshot::TOML).display()
            );
        }
        moves.begin(&plan, |t, u| read_ok.contains(&(t.to_string(), u.to_string())))?;
        let audit = report::OutcomeLog::create(&report_dir)?;
        let bar = progress::bar(plan.op_count() as u64, "apply", quiet, Some(api.stats.throttled.clone()));
        let execution = executor::execute(api, &targets, &plan, concurrency, &bar, &audit, stop).await;
        bar.finish_and_clear();
        log = Some(audit);
        for (target, why) in &execution.refused {
            // Said once, whatever the number of ops it cost; never hidden by --quiet.
            console::error(&format!("({target}) {why}"));
        }
        refused = execution.refused;
        let outcomes = execution.outcomes;
        // From here on writes were made: a failure to record the moves must not cost the reports.
        let recorded = moves.finish(|target, user, from| {
            outcomes.iter().any(|o| {
                o.target == target
                    && o.user.to_lowercase() == user
                    && o.op.kind == model::OpKind::Delete
                    && o.op.phone_type == from
                    && o.status == executor::Status::Succeeded
            })
        });
        if let Err(e) = recorded {
            late_error.get_or_insert(e);
        }
        Some(outcomes)
    } else {
        None
    };

    let label = connection.label.clone();
    let timeline = api.stats.timeline();
    let target_info: Vec<report::TargetInfo> = targets
        .iter()
        .map(|t| report::TargetInfo {
            name: t.name().to_string(),
            title: t.title().to_string(),
            managed_types: t.settings().managed.clone(),
        })
        .collect();
    let report = report::RunReport {
        mode,
        started_at,
        input: &args.input,
        endpoint: &label,
        targets: &target_info,
        prune,
        unmask: args.unmask,
        refused: &refused,
        rows: input.rows,
        encoding: &encoding,
        delimiter: &delimiter,
        rejects: &input.rejects,
        notes: &input.notes,
        noted: input.noted,
        plan: &plan,
        outcomes: outcomes.as_deref(),
        duration: started.elapsed(),
        read_time,
        apply_time: apply_started.elapsed(),
        requests: api.stats.requests.load(Ordering::Relaxed),
        http_calls: api.stats.http_calls.load(Ordering::Relaxed),
        throttled: api.stats.throttled.load(Ordering::Relaxed),
        timeline: &timeline,
        retries: api.stats.retries.load(Ordering::Relaxed),
        latency: api.stats.latency(),
        confirmed_by_reread: api.stats.confirmed_by_reread.load(Ordering::Relaxed),
        lowest_rate: api.lowest_rate(),
    };
    // The embedded emulator's state is saved, then the reports written, whatever failed before.
    if let Err(e) = connection.close(mode == Mode::Apply).await {
        late_error.get_or_insert(e);
    }
    report::write_all(&report_dir, &report, log)?;
    print_summary(&report, &report_dir);
    if let Some(e) = late_error {
        return Err(e);
    }
    if let Some(code) = stop.exit_code() {
        return Ok(ExitCode::from(code));
    }
    // The size of a finished apply's input, for the next run's shrink guard; writes were made,
    // so failing to record it is a warning, not the run's failure.
    if mode == Mode::Apply
        && let Err(e) = guards::record_run(state_dir(&config), &tenant, users_read as u64)
    {
        console::warn(&format!("{e:#}"));
    }
    let clean = outcomes
        .as_deref()
        .unwrap_or_default()
        .iter()
        .all(|o| o.status == executor::Status::Succeeded)
        && plan.skipped_users() == 0
        && input.rejects.is_empty();
    Ok(match (clean, args.detailed_exitcode) {
        (false, _) => ExitCode::from(1),
        (true, true) if plan.ops().any(|o| o.blocked.is_none()) => ExitCode::from(2),
        (true, _) => ExitCode::SUCCESS,
    })
}

/// The closing lines on stdout: counts only, no personal data. One plan line per target, named
/// when the run has more than one.
fn print_summary(r: &report::RunReport, dir: &std::path::Path) {
    let named = r.plan.targets.len() > 1;
    for (plan, info) in r.plan.targets.iter().zip(r.targets) {
        let label = if named {
            format!("Plan ({})", info.title)
        } else {
            "Plan".to_string()
        };
        let planned = report::planned_counts(plan);
        let changed = plan.users.iter().filter(|u| !u.ops.is_empty()).count();
        let unchanged = plan.in_line();
        let held = match plan.held_back() {
            0 => String::new(),
            n => format!("; {n} left as they are because of rejected rows (see plan.md)"),
        };
        let ops: Vec<String> = planned
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        if ops.is_empty() {
            out!("{label}: nothing to change; {unchanged} users already in line{held}");
        } else {
            out!(
                "{label}: {} for {changed} users; {unchanged} users already in line{held}",
                ops.join(", ")
            );
        }
        let skips = report::skip_counts(plan);
        if !skips.is_empty() {
            let parts: Vec<String> = skips.iter().map(|(k, n)| format!("{n} {}", k.replace('_', " "))).collect();
            let label = if named {
                format!("Skipped users ({})", info.title)
            } else {
                "Skipped users".to_string()
            };
            out!("{label}: {} (see plan.md)", parts.join(", "));
        }
    }
    if !r.rejects.is_empty() {
        out!("Rejected rows: {} (see rejects.csv)", r.rejects.len());
    }
    if r.noted > 0 {
        out!("Rows accepted with a note: {} (see plan.md)", r.noted);
    }
    match r.outcomes {
        Some(outcomes) => {
            let s = report::status_counts(outcomes.iter());
            out!(
                "Applied: {} succeeded, {} failed, {} skipped, {} blocked, {} not started ({} requests, {} throttled) in {:.1} s",
                s["succeeded"],
                s["failed"],
                s["skipped"],
                s["blocked"],
                s["not_started"],
                r.requests,
                r.throttled,
                r.duration.as_secs_f64()
            );
        }
        None if r.plan.op_count() > 0 => {
            out!(
                "Nothing was changed: this was a plan. To make exactly these changes: phonesync apply {}",
                dir.join("plan.json").display()
            )
        }
        None => {}
    }
    out!("Reports: {}", dir.display());
}
