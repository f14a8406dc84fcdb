//! What every command starts from, in one place: the config and the targets it configures,
//! the HR file read as the config lays it out, where a tenant's state is kept, and the key that
//! names a tenant.

use crate::config::{self, Config, Env};
use crate::graph::halt::{self, Halt, Reason};
use crate::input::{phone, reader};
use crate::interrupt::Stop;
use crate::lock;
use crate::progress;
use crate::targets::{self, Target};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// A run's targets, in config order.
pub type Targets = Vec<Box<dyn Target>>;

/// The config at `path`, its default region, and the targets it configures: what every command
/// that talks to Graph starts from.
pub fn load(path: &Path, env: &Env) -> Result<(Config, phone::Region, Targets)> {
    let config = Config::load(path, env)?;
    let (region, targets) = prepare(&config)?;
    Ok((config, region, targets))
}

/// `config`'s default region and the targets it configures.
pub fn prepare(config: &Config) -> Result<(phone::Region, Targets)> {
    let region: phone::Region = config
        .default_region
        .parse()
        .map_err(|why: String| config.error("input.default_region", why))?;
    Ok((region, targets::build(config, region)?))
}

/// Reads the HR file at `path` as `config`'s `[input]` lays it out, taking the phone types the
/// run's `targets` take; a wide file's columns must each feed one of them.
pub fn read_input(config: &Config, region: phone::Region, targets: &[Box<dyn Target>], path: &Path, quiet: bool) -> Result<reader::Input> {
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

/// Where a tenant's state is kept between runs (type changes in progress, the last run's size): the embedded emulator's state folder, or the reports folder.
pub fn state_dir(config: &Config) -> &Path {
    match config.endpoint {
        config::Endpoint::Embedded => &config.emulator.state_dir,
        config::Endpoint::Url(_) => &config.report_dir,
    }
}

/// The tenant a config points at, as a key (the endpoint as parsed and the tenant id): what
/// the run lock, the shrink guard's record and a saved plan are tied to.
pub fn tenant_key(config: &Config) -> String {
    let endpoint = match &config.endpoint {
        config::Endpoint::Embedded => "embedded",
        config::Endpoint::Url(url) => url.as_str(),
    };
    format!("{endpoint}|{}", config.auth.tenant_id.as_deref().unwrap_or_default())
}

/// Where the run lock of the tenant `config` points at lives: the embedded emulator's state
/// folder (that folder is its tenant), else the machine's one folder of run locks, whatever the
/// config's folder (`PHONESYNC_LOCK_DIR`, or [`lock::default_dir`]).
pub fn lock_dir(config: &Config, env: &Env) -> PathBuf {
    match config.endpoint {
        config::Endpoint::Embedded => state_dir(config).to_path_buf(),
        config::Endpoint::Url(_) => env.get(lock::LOCK_DIR_VAR).map_or_else(lock::default_dir, PathBuf::from),
    }
}

/// While alive, turns a stop of the run into a stop of the transport. At the stop no new user
/// starts (the stages check the stop); the users in flight get `grace` to finish their chains
/// (so a type change is not left half done when Graph answers), then whatever is still in
/// flight is abandoned and nothing new is sent, so the run writes its reports and ends within
/// the grace whatever Graph does.
pub struct StopGuard(tokio::task::JoinHandle<()>);

impl StopGuard {
    /// Watches `stop` for `halt`.
    pub fn new(stop: &Stop, halt: std::sync::Arc<Halt>, grace: std::time::Duration) -> StopGuard {
        let mut told = stop.watch();
        StopGuard(tokio::spawn(async move {
            if told.wait_for(|code| *code != 0).await.is_err() {
                return;
            }
            let reason = |message: &str| Reason {
                code: halt::STOPPED,
                message: message.into(),
            };
            tokio::time::sleep(grace).await;
            halt.abandon(reason("the run was stopped and its grace (rate.stop_grace_seconds) ran out"));
        }))
    }
}

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `work` (signing in: what runs before the transport's own halt exists), unless `stop` is
/// asked for and `grace` runs out first: then the exit code the stop asks for, said as
/// "stopped while `doing`: `left`".
pub async fn unless_stopped<T>(
    work: impl std::future::Future<Output = Result<T>>,
    stop: &Stop,
    grace: std::time::Duration,
    (doing, left): (&str, &str),
) -> Result<Result<T, std::process::ExitCode>> {
    let mut told = stop.watch();
    let stopped = async {
        let code = match told.wait_for(|code| *code != 0).await {
            Ok(code) => *code,
            Err(_) => return std::future::pending().await,
        };
        tokio::time::sleep(grace).await;
        code
    };
    tokio::select! {
        done = work => done.map(Ok),
        code = stopped => {
            crate::console::warn(&format!("stopped while {doing}: {left}"));
            Ok(Err(std::process::ExitCode::from(code)))
        }
    }
}
