//! Throughput benchmark (a program, not a test). For each scenario it generates a tenant and an
//! HR file with the emulator's generator, starts the emulator over loopback with the scenario's
//! latency and throttle, runs the real `phonesync apply` against it as a child process, and
//! prints wall time, the floor, utilisation (floor ÷ wall), Graph requests, HTTP calls,
//! throttled requests, retries, p50/p95 HTTP call time, peak RSS and CPU seconds of the child,
//! with each scenario's goal beside its figure.
//!
//! `cargo run --release --example throughput [-- SCENARIO…]` with scenarios `faults`, `nightly`,
//! `migration`, `latency`, `memory`, `reading` (default: all five, about eight minutes on two
//! cores). `reading` runs `phonesync validate` on a generated 1,000,000-row file instead, and
//! bare `phonenumber` parsing of the same numbers beside it, then files whose header is 10,000 and
//! 100,000 columns wide.
//! With `THROUGHPUT_WRAP="perf record -g --"` (or `"heaptrack"`), each child runs under it.
//!
//! The floor is the shortest wall the setup allows: with a throttle, the time Graph's buckets
//! need to admit the run's requests (what the initial burst does not cover, at the refill rate),
//! plus one round trip per phase; without one, the round trips the calls in flight need.

use phonesync_emulator::generate::{self, Generated};
use phonesync_emulator::{Emulator, Options};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Graph's documented budgets for the smallest tenant tier, (capacity, window in seconds), as
/// the tool's default config has them (docs/graph.md#throttle-limits).
fn small_tenant() -> ((f64, f64), (f64, f64)) {
    let units = phonesync::config::resource_units_per_10s("small").expect("a documented tier");
    ((units, 10.0), (phonesync::config::WRITES_PER_150S, 150.0))
}
/// Round trips a run needs at least: reading users, then writing.
const PHASES: f64 = 2.0;

/// The environment variable naming the file where the child writes its own peak RSS.
const RSS_FILE: &str = "THROUGHPUT_RSS_FILE";

/// What the child `phonesync apply` reported and used.
struct Run {
    wall: f64,
    exit: i32,
    summary: Value,
    peak_rss_mib: f64,
    cpu_seconds: f64,
}

/// What a child process used.
struct Child {
    wall: f64,
    exit: i32,
    peak_rss_mib: f64,
    cpu_seconds: f64,
}

/// Runs `phonesync ARGS` in a child process (this program, re-entered with `--phonesync`) and
/// waits for it with `wait4`, which reports the child's CPU time; the child reports its own
/// peak RSS. Its standard output (the console summary) is dropped.
fn child(dir: &Path, label: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<Child> {
    let rss_file = dir.join(format!("{label}.rss"));
    let started = Instant::now();
    // `THROUGHPUT_WRAP="perf record -g --"` (or `heaptrack`) runs each child under a profiler;
    // the figures are then the profiler's process, not phonesync's alone.
    let wrap = std::env::var("THROUGHPUT_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut command = match words.next() {
        Some(profiler) => {
            let mut c = Command::new(profiler);
            c.args(words).arg(std::env::current_exe()?);
            c
        }
        None => Command::new(std::env::current_exe()?),
    };
    let child = command
        .arg("--phonesync")
        .args(args)
        .env("AZURE_CLIENT_SECRET", "bench")
        .env(RSS_FILE, &rss_file)
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value, and `wait4` is given pointers to live
    // locals and the pid of a child this process spawned and has not waited for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    anyhow::ensure!(pid > 0, "wait4 failed: {}", std::io::Error::last_os_error());
    let wall = started.elapsed().as_secs_f64();
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Child {
        wall,
        exit: libc::WEXITSTATUS(status),
        peak_rss_mib: std::fs::read_to_string(&rss_file)?
            .split_whitespace()
            .nth(1)
            .and_then(|kib| kib.parse::<f64>().ok())
            .ok_or_else(|| anyhow::anyhow!("{label}: the child did not report its peak RSS"))?
            / 1024.0,
        cpu_seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
    })
}

/// Runs `phonesync apply` in a child process (see [`child`]) with `config`.
fn apply(dir: &Path, csv: &Path, config: &str, label: &str) -> anyhow::Result<Run> {
    let config_path = dir.join(format!("{label}.toml"));
    std::fs::write(&config_path, config)?;
    let reports = dir.join(format!("reports-{label}"));
    let args = [
        "apply".as_ref(),
        csv.as_os_str(),
        "-q".as_ref(),
        "-c".as_ref(),
        config_path.as_os_str(),
        "--report-dir".as_ref(),
        reports.as_os_str(),
    ];
    let c = child(dir, label, &args)?;
    Ok(Run {
        wall: c.wall,
        exit: c.exit,
        summary: serde_json::from_str(&std::fs::read_to_string(reports.join("summary.json"))?)?,
        peak_rss_mib: c.peak_rss_mib,
        cpu_seconds: c.cpu_seconds,
    })
}

/// A scenario's tenant, files and emulator.
struct Bed {
    emulator: Emulator,
    dir: tempfile::TempDir,
    csv: PathBuf,
}

impl Bed {
    async fn start(generated: Generated, options: Options) -> anyhow::Result<Bed> {
        let emulator = Emulator::start("127.0.0.1:0".parse()?, &generated.seed, bench(options)).await?;
        let dir = tempfile::tempdir()?;
        let csv = dir.path().join("hr.csv");
        generated.write_csv(std::io::BufWriter::new(std::fs::File::create(&csv)?))?;
        Ok(Bed { emulator, dir, csv })
    }

    /// Starts the scenario again from `seed` on a new emulator with `options` (the same files).
    async fn restart(&mut self, seed: &phonesync_emulator::Seed, options: Options) -> anyhow::Result<()> {
        let fresh = Emulator::start("127.0.0.1:0".parse()?, seed, bench(options)).await?;
        std::mem::replace(&mut self.emulator, fresh).stop().await;
        Ok(())
    }

    /// A config for this emulator: auth only, the default `[rate]` plus `rate` lines.
    fn config(&self, rate: &str) -> String {
        let url = self.emulator.url();
        format!(
            "endpoint = \"{url}\"\ntargets = [\"auth\"]\n[auth]\ntenant_id = \"t\"\nclient_id = \"bench\"\nauthority_host = \"{url}\"\n[rate]\n{rate}\n"
        )
    }

    async fn apply(&self, rate: &str, label: &str) -> anyhow::Result<Run> {
        let (dir, csv, config) = (self.dir.path().to_path_buf(), self.csv.clone(), self.config(rate));
        let label = label.to_string();
        tokio::task::spawn_blocking(move || apply(&dir, &csv, &config, &label)).await?
    }
}

/// `options` with the benchmark's app credentials.
fn bench(options: Options) -> Options {
    Options {
        client_id: Some("bench".into()),
        client_secret: Some("bench".into()),
        ..options
    }
}

fn throttled_options(latency_ms: u64) -> Options {
    let (units, writes) = small_tenant();
    Options {
        latency_ms,
        throttle_ru: Some(units.0 as u32),
        throttle_window: units.1,
        throttle_writes: Some(writes.0 as u32),
        throttle_write_window: writes.1,
        ..Options::default()
    }
}

/// The time Graph's bucket `(capacity, window)` needs to admit `spent`, starting full.
fn bucket_floor(spent: f64, (capacity, window): (f64, f64)) -> f64 {
    (spent - capacity).max(0.0) / (capacity / window)
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// Prints one run's figures; `floor` in seconds.
fn print_run(label: &str, run: &Run, floor: f64) {
    let s = &run.summary;
    let requests = number(&s["requests"]);
    let throttled = number(&s["throttledRequests"]);
    let ms = |p: &str| s["httpCallMs"][p].as_u64().map_or("-".into(), |v| v.to_string());
    println!(
        "  {label:<13} wall {:7.2} s  floor {:7.2} s  utilisation {:.2}  requests {:>6}  HTTP calls {:>6}  throttled {:>4} ({:.2} %)  retries {:>4}  p50/p95 {}/{} ms  peak RSS {:5.1} MiB  CPU {:6.2} s  (read {:.2} s, apply {:.2} s)  exit {}",
        run.wall,
        floor,
        floor / run.wall,
        requests,
        number(&s["httpCalls"]),
        throttled,
        100.0 * throttled / requests.max(1.0),
        number(&s["retries"]),
        ms("p50"),
        ms("p95"),
        run.peak_rss_mib,
        run.cpu_seconds,
        number(&s["readMs"]) / 1000.0,
        number(&s["applyMs"]) / 1000.0,
        run.exit,
    );
}

/// Requests Graph's buckets charged, and writes among them (from the emulator's own record:
/// single requests and `$batch` items, throttled ones included, as the emulator counts usage
/// while throttled; not those refused before the charge: 401, and 424 for a failed dependency).
fn admitted(emulator: &Emulator) -> (f64, f64) {
    let records = emulator.requests();
    let items = records
        .iter()
        .filter(|r| !r.path.ends_with("$batch") && r.status != 401 && r.status != 424);
    let (mut all, mut writes) = (0.0, 0.0);
    for r in items {
        all += 1.0;
        if r.method != "GET" {
            writes += 1.0;
        }
    }
    (all, writes)
}

/// Says what a scenario runs.
fn announce(scenario: &str, generated: &Generated, setup: &str) {
    println!(
        "{scenario}: {} users, {} with changes, {setup}",
        generated.seed.users.len(),
        generated.changed_users
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

async fn nightly() -> anyhow::Result<()> {
    let latency = 80;
    let generated = generate::generate(20_000, 42, 0.02);
    announce("nightly sync, default config", &generated, "80 ms per call, small-tenant budgets");
    let bed = Bed::start(generated, throttled_options(latency)).await?;
    let run = bed.apply("", "nightly").await?;
    let (all, writes) = admitted(&bed.emulator);
    let (unit_budget, write_budget) = small_tenant();
    let floor = bucket_floor(all, unit_budget).max(bucket_floor(writes, write_budget)) + PHASES * latency as f64 / 1000.0;
    print_run("apply", &run, floor);
    let throttled = number(&run.summary["throttledRequests"]) / number(&run.summary["requests"]).max(1.0);
    println!(
        "  goal: utilisation ≥ 0.85 ({}: {:.2}), < 1 % throttled ({}: {:.2} %)",
        verdict(floor / run.wall >= 0.85),
        floor / run.wall,
        verdict(throttled < 0.01),
        100.0 * throttled
    );
    bed.emulator.stop().await;
    Ok(())
}

async fn migration() -> anyhow::Result<()> {
    let latency = 80;
    let generated = generate::generate_type_changes(4_000, 43);
    announce(
        "migration",
        &generated,
        "each a type change (add, then delete), 80 ms per call, small-tenant budgets",
    );
    let bed = Bed::start(generated, throttled_options(latency)).await?;
    let run = bed.apply("", "migration").await?;
    let (_, writes) = admitted(&bed.emulator);
    let floor = bucket_floor(writes, small_tenant().1) + PHASES * latency as f64 / 1000.0;
    print_run("apply", &run, floor);
    let violations = phonesync_emulator::check::check(&bed.emulator.journal(), None);
    let state = bed.emulator.state();
    let moved = state
        .users
        .iter()
        .filter(|u| u.phone_methods.len() == 1 && u.phone_methods[0].phone_type == "mobile")
        .count();
    println!(
        "  goal: utilisation of the write budget ≥ 0.85 ({}: {:.2}); journal checker passes ({}: {} violations); {moved} of {} users moved",
        verdict(floor / run.wall >= 0.85),
        floor / run.wall,
        verdict(violations.is_empty()),
        violations.len(),
        state.users.len()
    );
    for v in violations.iter().take(5) {
        println!("    {v:?}");
    }
    bed.emulator.stop().await;
    Ok(())
}

async fn latency_bound() -> anyhow::Result<()> {
    let latency = 50;
    let calls = 10.0;
    let generated = generate::generate(2_000, 44, 0.10);
    announce("latency-bound", &generated, "50 ms per call, no throttle, 10 calls in flight");
    let seed = generated.seed.clone();
    let mut bed = Bed::start(
        generated,
        Options {
            latency_ms: latency,
            ..Options::default()
        },
    )
    .await?;
    let unpaced = "resource_units_per_10s = 10000000\nwrites_per_150s = 10000000\nconcurrency = 10";
    let off = bed.apply(&format!("{unpaced}\nbatch = false"), "batch-off").await?;
    let requests = number(&off.summary["requests"]);
    let rounds = |per_round: f64| (requests / per_round).ceil().max(PHASES);
    print_run("$batch off", &off, rounds(calls) * latency as f64 / 1000.0);
    // The same changes again, from the same starting tenant.
    bed.restart(
        &seed,
        Options {
            latency_ms: latency,
            ..Options::default()
        },
    )
    .await?;
    let on = bed.apply(unpaced, "batch-on").await?;
    print_run("$batch on", &on, rounds(calls * 20.0) * latency as f64 / 1000.0);
    println!(
        "  goal: $batch on ≥ 8× faster than off ({}: {:.1}×)",
        verdict(off.wall / on.wall >= 8.0),
        off.wall / on.wall
    );
    bed.emulator.stop().await;
    Ok(())
}

/// The committed config's `[rate]` (only the endpoint differs), as an admin's nightly meets it.
const COMMITTED_RATE: &str = "tenant_size = \"small\"\nconcurrency = 8\nmax_attempts = 6\nmax_backoff_seconds = 60\nrequest_timeout_seconds = 30\nretry_budget_seconds = 300\nbatch = true\nbatch_size = 20";

/// 200 users, half of them changing, under the committed config: once against a clean Graph,
/// once against one failing 10% of calls in every way (500, 502, 503 with and without
/// Retry-After, 504, 507, dropped connections, answers held past the timeout, writes applied
/// then failed or throttled).
async fn faults() -> anyhow::Result<()> {
    let generated = generate::generate(200, 46, 0.5);
    announce("faults", &generated, "the committed config; clean, then 10% faults of every kind");
    let seed = generated.seed.clone();
    let mut bed = Bed::start(generated, Options::default()).await?;
    let clean = bed.apply(COMMITTED_RATE, "clean").await?;
    print_run("clean", &clean, 0.0);
    bed.restart(
        &seed,
        Options {
            fault_rate: 0.1,
            random_seed: 7,
            ..Options::default()
        },
    )
    .await?;
    let faulty = bed.apply(COMMITTED_RATE, "10% faults").await?;
    print_run("10% faults", &faulty, 0.0);
    println!(
        "  lowest pacing {} requests/s, {} writes confirmed by re-reading, ops {}, skipped users {}",
        faulty.summary["lowestRequestsPerSecond"],
        faulty.summary["writesConfirmedByReread"],
        faulty.summary["ops"]["byStatus"],
        faulty.summary["targets"]["auth"]["users"]["skipped"]
    );
    let converged = number(&faulty.summary["ops"]["byStatus"]["succeeded"]) == number(&clean.summary["ops"]["byStatus"]["succeeded"]);
    println!(
        "  goal: the faulty run within 60 s and converged ({}: {:.1} s, {:.1}× the clean run's {:.2} s; {} ops succeeded of {})",
        verdict(faulty.wall <= 60.0 && converged),
        faulty.wall,
        faulty.wall / clean.wall.max(0.001),
        clean.wall,
        number(&faulty.summary["ops"]["byStatus"]["succeeded"]),
        number(&clean.summary["ops"]["byStatus"]["succeeded"]),
    );
    bed.emulator.stop().await;
    Ok(())
}

async fn memory() -> anyhow::Result<()> {
    let generated = generate::generate(100_000, 45, 0.05);
    announce("memory: apply", &generated, "no latency, no throttle");
    let bed = Bed::start(generated, Options::default()).await?;
    let run = bed
        .apply("resource_units_per_10s = 10000000\nwrites_per_150s = 10000000", "memory")
        .await?;
    print_run("apply", &run, 0.0);
    println!(
        "  goal: peak RSS ≤ 250 MB ({}: {:.0} MB)",
        verdict(run.peak_rss_mib * 1.048_576 <= 250.0),
        run.peak_rss_mib * 1.048_576
    );
    bed.emulator.stop().await;
    Ok(())
}

/// Rows of the reading scenario's file.
const READ_ROWS: usize = 1_000_000;

/// Row `i`'s number as HR files write them, in forms `phonenumber` parses as they are (so the
/// bare baseline parses exactly what the reader parses), US default region: the NANP in several
/// punctuations and with extensions, and other countries' numbers in international form. Mobile
/// types get mobile numbers, except one row in a hundred, which gets a fixed line and a note.
fn hr_number(i: usize) -> String {
    let n = i % 10_000;
    let mobile = i % 3 != 2 && !i.is_multiple_of(100);
    match (i / 3 % 4, mobile) {
        (0, _) => format!("(206) 555-{n:04}"),
        (1, _) => format!("+1 425 555 {n:04} x{}", i % 100),
        (2, true) => format!("+44 7400 {:06}", n * 7),
        (2, false) => format!("+44 20 7946 {:04}", n % 1000),
        (3, true) => format!("+49 151 2345{n:04}"),
        (3, false) => format!("+49 30 1234{n:04}"),
        _ => unreachable!("i / 3 % 4 < 4"),
    }
}

/// Reading a 1,000,000-row HR file with `phonesync validate` (the reader alone: decode, quote
/// scan, CSV, number parsing on every core), against bare `phonenumber` parse + validate of the
/// same numbers on as many threads, in the same run.
async fn reading() -> anyhow::Result<()> {
    tokio::task::spawn_blocking(|| {
        let dir = tempfile::tempdir()?;
        let types = ["mobile", "alternateMobile", "office"];
        let numbers: Vec<String> = (0..READ_ROWS).map(hr_number).collect();
        // The same rows for `users` distinct users (three rows each while there are enough).
        let write = |name: &str, users: usize| -> anyhow::Result<PathBuf> {
            use std::io::Write;
            let csv = dir.path().join(name);
            let mut out = std::io::BufWriter::new(std::fs::File::create(&csv)?);
            writeln!(out, "user,phoneType,phoneNumber")?;
            for (i, number) in numbers.iter().enumerate() {
                writeln!(out, "user{}@contoso.com,{},{number}", i / 3 % users, types[i % 3])?;
            }
            Ok(csv)
        };
        let csv = write("hr.csv", READ_ROWS.div_ceil(3))?;
        let bytes = std::fs::metadata(&csv)?.len();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "reading: {READ_ROWS} rows, {} users, {:.0} MB, long format; {threads} cores",
            READ_ROWS.div_ceil(3),
            bytes as f64 / 1e6
        );
        // The baseline: the numbers alone, split evenly over the cores, parsed and validated;
        // as `phonenumber` is normally used (one database, whose pattern cache is behind one
        // lock), and with a database per thread (phonesync's workers do that).
        let us = phonenumber::country::Id::US;
        let bare = |own: bool| -> f64 {
            let started = Instant::now();
            let valid: usize = std::thread::scope(|scope| {
                let handles: Vec<_> = numbers
                    .chunks(READ_ROWS.div_ceil(threads))
                    .map(|part| {
                        scope.spawn(move || {
                            let db = if own {
                                phonenumber::metadata::Database::parse(include_str!("../src/input/phone/PhoneNumberMetadata.xml")).ok()
                            } else {
                                None
                            };
                            let db = db.as_ref().unwrap_or(&phonenumber::metadata::DATABASE);
                            // As phonesync does: a number in international form with no default
                            // region (with one, phonenumber 0.3 drops a digit of some).
                            let region = |n: &str| if n.starts_with('+') { None } else { Some(us) };
                            part.iter()
                                .filter(|n| phonenumber::parse_with(db, region(n), n).is_ok_and(|p| p.is_valid_with(db)))
                                .count()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
            });
            let rate = READ_ROWS as f64 / started.elapsed().as_secs_f64();
            let how = if own { "a database per thread" } else { "one shared database  " };
            println!("  bare phonenumber parse + is_valid, {threads} threads, {how}: {rate:>9.0} rows/s ({valid} valid)");
            rate
        };
        let shared = bare(false);
        let own = bare(true);
        let config = dir.path().join("validate.toml");
        std::fs::write(&config, "")?;
        let validate = |label: &str, csv: &Path| -> anyhow::Result<(f64, Child)> {
            let c = child(dir.path(), label, &["validate".as_ref(), csv.as_os_str(), "-c".as_ref(), config.as_os_str()])?;
            let rate = READ_ROWS as f64 / c.wall;
            println!(
                "  phonesync validate, {label:<12}                                {rate:>9.0} rows/s  wall {:.2} s  CPU {:.2} s  peak RSS {:.1} MiB  exit {}",
                c.wall, c.cpu_seconds, c.peak_rss_mib, c.exit
            );
            Ok((rate, c))
        };
        let (rate, c) = validate("(as above)", &csv)?;
        // The goal's bare figure is `phonenumber` as it is used (`parse` + `is_valid`, one
        // shared database); a database per thread is the stricter comparison, printed beside it.
        println!(
            "  goal: ≥ 0.85 of bare ({}: {:.2}; {:.2} of bare with a database per thread); peak RSS ≤ 400 MB ({}: {:.0} MB)",
            verdict(rate / shared >= 0.85),
            rate / shared,
            rate / own,
            verdict(c.peak_rss_mib * 1.048_576 <= 400.0),
            c.peak_rss_mib * 1.048_576
        );
        // Memory follows users, not bytes: the same rows, but for 1,000 users (each then has
        // contradicting rows, so this one exits 1).
        let few = write("few-users.csv", 1000)?;
        validate("1,000 users", &few)?;
        wide_headers(dir.path(), &config)
    })
    .await?
}

/// `validate` of a one-row file whose header has 10,000 and then 100,000 filler columns: reading
/// the header must be linear in its width (it was quadratic: 100,000 columns took minutes).
fn wide_headers(dir: &Path, config: &Path) -> anyhow::Result<()> {
    let mut walls = Vec::new();
    for width in [10_000usize, 100_000] {
        let csv = dir.join(format!("wide-{width}.csv"));
        let fillers: String = (0..width).map(|i| format!(",filler {i}")).collect();
        let blanks = ",".repeat(width);
        std::fs::write(
            &csv,
            format!("user,phoneType,phoneNumber{fillers}\nkim@contoso.com,mobile,+1 2065550100{blanks}\n"),
        )?;
        let c = child(
            dir,
            "wide",
            &["validate".as_ref(), csv.as_os_str(), "-c".as_ref(), config.as_os_str()],
        )?;
        println!(
            "  phonesync validate, header of {width:>7} columns: wall {:.2} s  peak RSS {:.1} MiB  exit {}",
            c.wall, c.peak_rss_mib, c.exit
        );
        walls.push(c.wall);
    }
    let ratio = walls[1] / walls[0];
    println!(
        "  goal: linear in the header's width: 100,000 columns ≤ 15 × 10,000 columns' wall, process start included ({}: {ratio:.1} ×)",
        verdict(ratio <= 15.0)
    );
    Ok(())
}

fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--phonesync") {
        // The child: exactly what the `phonesync` binary does with these arguments.
        let cli =
            <phonesync::cli::Cli as clap::Parser>::parse_from(std::iter::once("phonesync".to_string()).chain(args[2..].iter().cloned()));
        let code = phonesync::run(cli, &mut std::io::sink()).unwrap_or_else(|e| {
            eprintln!("Error: {e:#}");
            ExitCode::from(2)
        });
        // The peak RSS of this process image alone: `wait4`'s figure is the larger of it and the
        // parent's RSS at the fork, which holds the emulator's whole tenant.
        if let Some(path) = std::env::var_os(RSS_FILE) {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let peak = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or_default();
            std::fs::write(path, peak)?;
        }
        return Ok(code);
    }
    let chosen: Vec<&str> = if args.len() > 1 {
        args[1..].iter().map(String::as_str).collect()
    } else {
        vec!["nightly", "migration", "latency", "faults", "memory", "reading"]
    };
    let runtime = tokio::runtime::Runtime::new()?;
    for name in chosen {
        let started = Instant::now();
        runtime.block_on(async {
            match name {
                "nightly" => nightly().await,
                "migration" => migration().await,
                "latency" => latency_bound().await,
                "memory" => memory().await,
                "reading" => reading().await,
                "faults" => faults().await,
                other => anyhow::bail!("unknown scenario '{other}': nightly, migration, latency, faults, memory or reading"),
            }
        })?;
        println!("  ({:.0} s with setup)\n", started.elapsed().as_secs_f64());
    }
    Ok(ExitCode::SUCCESS)
}
