//! Entry point: parse the command line, run, map the result to an exit code.

use clap::Parser;
use phonesync::console::LogFormat;
use std::process::ExitCode;

fn main() -> ExitCode {
    let parsed = phonesync::cli::Cli::try_parse();
    // JSON when asked, also for a usage error (the flag is looked for by hand then).
    let json = match &parsed {
        Ok(cli) => cli.log_format == LogFormat::Json,
        Err(_) => {
            std::env::args()
                .collect::<Vec<_>>()
                .windows(2)
                .any(|w| w[0] == "--log-format" && w[1] == "json")
                || std::env::args().any(|a| a == "--log-format=json")
        }
    };
    // Messages are info events in JSON (what `console` says); plain text shows warnings of
    // the libraries only. PHONESYNC_LOG overrides either.
    let filter = |default: &str| tracing_subscriber::EnvFilter::try_from_env("PHONESYNC_LOG").unwrap_or_else(|_| default.into());
    if json {
        phonesync::console::set_format(LogFormat::Json);
        tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::stderr)
            .with_env_filter(filter("warn,phonesync=info"))
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(filter("warn"))
            .init();
    }
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; a usage error is: 1 where
            // `plan --detailed-exitcode` makes 2 "changes", else 2.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if json {
                phonesync::console::error(&e.to_string());
            } else {
                let _ = e.print();
            }
            let detailed = std::env::args().any(|a| a == "--detailed-exitcode");
            return ExitCode::from(if detailed { 1 } else { 2 });
        }
    };
    let error_code = cli.error_code();
    match phonesync::run(cli, &mut std::io::stdout()) {
        Ok(code) => code,
        Err(e) => {
            phonesync::console::error(&format!("{e:#}"));
            ExitCode::from(error_code)
        }
    }
}
