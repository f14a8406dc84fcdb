//! Scale benchmark (not a test): generates a tenant, starts the emulator with it, and runs
//! `phonesync plan` and `apply` over every user, printing time, memory and throughput.
//!
//! `cargo run --release --example scale -- [USERS] [REQUESTS_PER_SECOND] [CONCURRENCY] [LATENCY_MS]`
//! (defaults: 100000 users, 5000 requests/s, 64 workers, no added latency). With a latency, it
//! also runs the plan with `$batch` off, so the two rates come from one run.

use phonesync_emulator::{Emulator, Options, generate};
use std::time::Instant;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Runs one `phonesync` command and prints its Graph operations per second.
async fn run(
    emulator: &Emulator,
    dir: &std::path::Path,
    csv: &std::path::Path,
    config: &str,
    mode: &str,
    label: &str,
) -> anyhow::Result<()> {
    let before = emulator.requests().len();
    let config_path = dir.join(format!("config-{before}.toml"));
    std::fs::write(&config_path, config)?;
    let reports = dir.join(format!("r-{before}"));
    let args = [
        "phonesync",
        mode,
        csv.to_str().unwrap(),
        "-q",
        "-c",
        config_path.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
    ];
    let t = Instant::now();
    let code = phonesync::run_async(
        <phonesync::cli::Cli as clap::Parser>::parse_from(args),
        phonesync::config::Env::from_pairs([("AZURE_CLIENT_SECRET", "bench")]),
    )
    .await?;
    let secs = t.elapsed().as_secs_f64();
    let all = emulator.requests();
    let ops = all[before..].iter().filter(|r| !r.path.ends_with("$batch")).count();
    // Envelopes and single requests are HTTP calls; batch items are not.
    let calls = all[before..].iter().filter(|r| r.batch_item.is_none()).count();
    println!(
        "{label:<22} {ops} operations in {calls} HTTP calls, {secs:.2} s = {:.0} operations/s; exit {code:?}; RSS {:.0} MiB",
        ops as f64 / secs,
        rss_mib()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (users, rate, concurrency, latency) = (arg(1, 100_000) as usize, arg(2, 5_000), arg(3, 64), arg(4, 0));
    println!("{users} users, ceiling {rate} requests/s, {concurrency} workers, {latency} ms added per request");
    let rss0 = rss_mib();
    let t = Instant::now();
    let generated = generate::generate(users, 42, 0.1);
    println!(
        "generate               {} HR rows, {} users with changes: {:.2} s",
        generated.rows.len(),
        generated.changed_users,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let options = Options {
        client_id: Some("bench".into()),
        client_secret: Some("bench".into()),
        latency_ms: latency,
        ..Options::default()
    };
    let emulator = Emulator::start("127.0.0.1:0".parse()?, &generated.seed, options).await?;
    println!(
        "start emulator         {:.2} s; process RSS {:.0} MiB (was {:.0} MiB)",
        t.elapsed().as_secs_f64(),
        rss_mib(),
        rss0
    );

    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("hr.csv");
    generated.write_csv(std::io::BufWriter::new(std::fs::File::create(&csv)?))?;
    drop(generated);
    let url = emulator.url();
    let config = |batch: bool| {
        format!(
            "endpoint = \"{url}\"\n[auth]\ntenant_id = \"t\"\nclient_id = \"bench\"\nauthority_host = \"{url}\"\n[rate]\nrequests_per_second = {rate}\nconcurrency = {concurrency}\nbatch = {batch}\n"
        )
    };
    if latency > 0 {
        run(&emulator, dir.path(), &csv, &config(false), "plan", "plan, $batch off").await?;
    }
    run(&emulator, dir.path(), &csv, &config(true), "plan", "plan, $batch on").await?;
    run(&emulator, dir.path(), &csv, &config(true), "apply", "apply").await?;
    run(&emulator, dir.path(), &csv, &config(true), "apply", "apply again").await?;
    emulator.stop().await;
    Ok(())
}
