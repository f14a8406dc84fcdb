//! Scale benchmark (not a test): generates a tenant, starts the emulator with it, and runs
//! `phonesync plan` and `apply` over every user, printing time, memory and throughput.
//!
//! `cargo run --release --example scale -- [USERS] [REQUESTS_PER_SECOND] [CONCURRENCY]`
//! (defaults: 100000 users, 5000 requests/s, 64 workers).

use phonesync::emulator::{Emulator, Options, generate};
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (users, rate, concurrency) = (arg(1, 100_000) as usize, arg(2, 5_000), arg(3, 64));
    let rss0 = rss_mib();

    let t = Instant::now();
    let generated = generate::generate(users, 42, 0.1);
    println!(
        "generate  {users} users, {} HR rows, {} with changes: {:.2} s",
        generated.rows.len(),
        generated.changed_users,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let options = Options {
        client_id: Some("bench".into()),
        client_secret: Some("bench".into()),
        ..Options::default()
    };
    let emulator = Emulator::start("127.0.0.1:0".parse()?, &generated.seed, options).await?;
    println!(
        "start     emulator with {users} users: {:.2} s; process RSS {:.0} MiB (was {:.0} MiB)",
        t.elapsed().as_secs_f64(),
        rss_mib(),
        rss0
    );

    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("hr.csv");
    generated.write_csv(std::io::BufWriter::new(std::fs::File::create(&csv)?))?;
    drop(generated);
    let url = emulator.url();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "endpoint = \"{url}\"\n[auth]\ntenant_id = \"t\"\nclient_id = \"bench\"\nauthority_host = \"{url}\"\n[rate]\nrequests_per_second = {rate}\nconcurrency = {concurrency}\n"
        ),
    )?;
    let env = phonesync::config::Env::from_pairs([("AZURE_CLIENT_SECRET", "bench")]);
    for mode in ["plan", "apply", "apply"] {
        let before = emulator.requests().len();
        let t = Instant::now();
        let cli = <phonesync::cli::Cli as clap::Parser>::parse_from([
            "phonesync",
            mode,
            csv.to_str().unwrap(),
            "-q",
            "-c",
            config.to_str().unwrap(),
            "--report-dir",
            dir.path().join(format!("r-{}", before)).to_str().unwrap(),
        ]);
        let code = phonesync::run_async(cli, env.clone()).await?;
        let secs = t.elapsed().as_secs_f64();
        let requests = emulator.requests().len() - before;
        println!(
            "{mode:<9} {requests} requests in {secs:.2} s = {:.0} requests/s (ceiling {rate}/s, {concurrency} workers); exit {code:?}; RSS {:.0} MiB",
            requests as f64 / secs,
            rss_mib()
        );
    }
    emulator.stop().await;
    Ok(())
}
