//! Entry point: parse the command line, run, map the result to an exit code.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("PHONESYNC_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    let cli = match phonesync::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // A usage error is an error: 1 where `plan --detailed-exitcode` makes 2 "changes".
            let detailed = std::env::args().any(|a| a == "--detailed-exitcode");
            return match (e.use_stderr(), detailed) {
                (false, _) => ExitCode::SUCCESS,
                (true, true) => ExitCode::from(1),
                (true, false) => ExitCode::from(2),
            };
        }
    };
    let error_code = cli.error_code();
    match phonesync::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed or full stderr must not turn a clean error into a panic.
            let _ = writeln!(std::io::stderr(), "Error: {e:#}");
            ExitCode::from(error_code)
        }
    }
}
