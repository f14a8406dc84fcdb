//! Command-line definitions and help text. Raw arguments become these typed structs once;
//! everything after this works with validated values.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Exit codes, shown at the end of `--help` and repeated in docs/reports.md#exit-codes.
pub const EXIT_CODES: &str = "\
Exit codes:
  0    every op succeeded, or there was nothing to do
  1    the run finished, but some ops failed or were blocked, some users were skipped, or some
       rows were rejected (plan and apply alike)
  2    fatal: bad config or arguments, unreadable input, a guard or the run lock refused, or
       Graph unreachable before any work
  3    Graph became unreachable during the run: it ended early, saying since when; run again
       when Graph is back (what was done is in the reports; nothing is done twice)
  130  stopped by Ctrl-C; 143 stopped by SIGTERM (within rate.stop_grace_seconds; reports written)
With plan --detailed-exitcode: 0 no changes, 2 changes to apply, 1 the run failed (refused rows,
skipped users and blocked ops too with --fail-on-findings; blocked ops are never changes).";

/// The exit code of a run that ended early because Graph became unreachable.
pub const EXIT_UNREACHABLE: u8 = 3;

/// Makes the phones of Microsoft Entra ID users match an HR export: their sign-in phone methods
/// (target `auth`) and their profile phones (target `profile`), from one file and one plan.
#[derive(Debug, Parser)]
#[command(name = "phonesync", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// How stderr speaks: `text` for people, `json` for schedulers and log shippers (one JSON
    /// object per line: messages, warnings, errors and progress).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: crate::console::LogFormat,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the CSV and current state, and write a plan report; change nothing.
    Plan(RunArgs),
    /// Read, plan, and execute the plan; write reports of what happened.
    Apply(RunArgs),
    /// Check an HR file with no network: counts, refused rows with reasons, and a preview of the
    /// first users as read (exit 0: every row usable; 1: some refused; 2: unusable file).
    Validate(ValidateArgs),
    /// Write the tenant's current phones (every configured target) as an input file, with the
    /// config that applies it: the starting point of a migration, and a backup before one.
    Export(ExportArgs),
    /// Run the Graph emulator as a standalone server (for trying a CSV before touching a tenant).
    #[cfg(feature = "embedded-emulator")]
    Emulator(Box<phonesync_emulator::ServeArgs>),
}

/// Arguments shared by `plan` and `apply`.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// The HR export: CSV with columns user, phoneType, phoneNumber (or one column per phone;
    /// see `[input]`), feeding every configured target. For `apply`, also a plan
    /// saved by `phonesync plan --out FILE.json`, executed as it was planned.
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
    /// Write refused numbers in full in rejects.csv and plan.md instead of masked.
    #[arg(long)]
    pub unmask: bool,
    /// Allow this run up to N deletes, above `[plan] max_deletes` and `max_delete_percent`
    /// (after reviewing them in a plan).
    #[arg(long, value_name = "N")]
    pub allow_deletes: Option<u64>,
    /// `plan` only: also save the plan to FILE (JSON, owner-only), for `phonesync apply FILE`
    /// to execute exactly, without planning again. Every plan's report folder has it as
    /// `plan.json` too.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// `plan` only, as Terraform's: exit 0 when there is nothing to change, 2 when there are
    /// changes, 1 when the run failed. Refused rows, skipped users and blocked ops are findings
    /// in plan.md and summary.json, not failures (see --fail-on-findings).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// With --detailed-exitcode: refused rows, skipped users and blocked ops make the exit
    /// code 1, for a pipeline that wants a person to look at them before it goes on.
    #[arg(long, requires = "detailed_exitcode")]
    pub fail_on_findings: bool,
    /// `apply PLAN.json` only: run the plan only if its digest is this one (the `sha256:…`
    /// plan.md shows for the approved plan); any other plan, even one whose digest was
    /// recomputed after an edit, is refused. Also read from PHONESYNC_EXPECT_DIGEST.
    #[arg(long, value_name = "SHA256")]
    pub expect_digest: Option<String>,
}

impl Cli {
    /// The exit code of an error that stopped the command: 2, or 1 for a plan asked for
    /// detailed exit codes (where 2 means "changes present").
    pub fn error_code(&self) -> u8 {
        match &self.command {
            Command::Plan(args) if args.detailed_exitcode => 1,
            _ => 2,
        }
    }
}

/// Arguments of `export`.
#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    /// The file to write (new, owner-only); the config that applies it is written beside it,
    /// with the extension `.toml`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Export only these users: a text file with one object id or UPN per line (blank lines,
    /// lines starting with `#` and a `user` header line are skipped). Without it, every user
    /// of the tenant.
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// The config: endpoint, sign-in, targets and their managed types.
    #[arg(long, short, default_value = "config.toml")]
    pub config: PathBuf,
    /// Print only errors and the final summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `validate`.
#[derive(Debug, Args, Clone)]
pub struct ValidateArgs {
    /// The HR export.
    pub input: PathBuf,
    /// The config whose `[input]`, targets and default region apply; without the file, the
    /// defaults (long format, sign-in phone types, US).
    #[arg(long, short, default_value = "config.toml")]
    pub config: PathBuf,
    /// Show numbers in full instead of masked.
    #[arg(long)]
    pub unmask: bool,
    /// Users to preview.
    #[arg(long, default_value_t = 10)]
    pub preview: usize,
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
