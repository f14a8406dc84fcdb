//! Command-line definitions and help text. Raw arguments become these typed structs once;
//! everything after this works with validated values.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Exit codes, shown at the end of `--help` and repeated in the README.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  every op succeeded, or there was nothing to do
  1  the run finished, but some ops failed, some users were skipped, or some rows were rejected
  2  fatal: bad config or arguments, unreadable input, or Graph unreachable before any work";

/// Makes the phone authentication methods of Microsoft Entra ID users match an HR export.
#[derive(Debug, Parser)]
#[command(name = "phonesync", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the CSV and current state, and write a plan report; change nothing.
    Plan(RunArgs),
    /// Read, plan, and execute the plan; write reports of what happened.
    Apply(RunArgs),
    /// Run the Graph emulator as a standalone server (for trying a CSV before touching a tenant).
    Emulator(Box<EmulatorArgs>),
}

/// Arguments shared by `plan` and `apply`.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// The HR export: CSV with columns user, phoneType, phoneNumber.
    pub input: PathBuf,
    /// The config file; relative paths inside it are relative to its folder.
    #[arg(long, short, default_value = "config.toml")]
    pub config: PathBuf,
    /// Write the reports here instead of a new timestamped folder under the configured one.
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    /// Print only errors and the final summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of the standalone emulator.
#[derive(Debug, Args, Clone)]
#[command(
    after_help = "The emulator serves Graph's phone-method endpoints (v1.0 and beta), $batch, and a token \
    endpoint (POST /{tenant}/oauth2/v2.0/token) on plain HTTP. Point phonesync at it with \
    endpoint = \"http://ADDRESS\" in config.toml. GET /_emulator/state shows the tenant in the seed \
    format; GET /_emulator/journal lists every request and state change."
)]
pub struct EmulatorArgs {
    /// Address to listen on; use port 0 for any free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// JSON file with the tenant's users and phones (format in the README). Empty tenant if absent.
    #[arg(long, help_heading = "Tenant")]
    pub seed: Option<PathBuf>,
    /// Generate a tenant of this many users instead of reading a seed.
    #[arg(long, value_name = "N", help_heading = "Tenant")]
    pub generate_users: Option<usize>,
    /// Seed number of the generated tenant (same number, same tenant).
    #[arg(long, default_value_t = 42, help_heading = "Tenant")]
    pub generate_seed: u64,
    /// Fraction of generated users whose HR rows differ from their current phones.
    #[arg(long, default_value_t = 0.1, help_heading = "Tenant")]
    pub change_fraction: f64,
    /// Write the generated tenant's HR export (long-format CSV) here.
    #[arg(long, value_name = "FILE", help_heading = "Tenant")]
    pub write_csv: Option<PathBuf>,
    /// Write the generated tenant as a seed file here.
    #[arg(long, value_name = "FILE", help_heading = "Tenant")]
    pub write_seed: Option<PathBuf>,
    /// How the emulator behaves.
    #[command(flatten)]
    pub options: crate::emulator::Options,
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
