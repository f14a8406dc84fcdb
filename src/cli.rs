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
    Emulator(EmulatorArgs),
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
#[command(after_help = "The emulator serves Graph's v1.0 phone-method endpoints and a token endpoint \
    (POST /{tenant}/oauth2/v2.0/token) on plain HTTP. Point phonesync at it with \
    endpoint = \"http://ADDRESS\" in config.toml. GET /_emulator/state shows the tenant in the seed format.")]
pub struct EmulatorArgs {
    /// Address to listen on; use port 0 for any free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// JSON file with the tenant's users and phones (format in the README). Empty tenant if absent.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Accept only this client id at the token endpoint (default: any).
    #[arg(long)]
    pub client_id: Option<String>,
    /// Accept only this client secret at the token endpoint (default: any).
    #[arg(long, env = "PHONESYNC_EMULATOR_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, default_value_t = 3599)]
    pub token_lifetime: u64,
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
