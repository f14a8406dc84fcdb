//! The command line of `plan` and `apply`, checked once into what the run needs: every
//! combination a run cannot honour is refused here, before the config is read.

use crate::cli::RunArgs;
use crate::config::{EXPECT_DIGEST_VAR, Env};
use crate::plan::saved;
use crate::report::run::Mode;
use anyhow::{Result, bail};
use std::path::PathBuf;

/// Where the run's plan comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    /// An HR file, planned now.
    HrFile,
    /// A plan saved by `plan` (`apply plan.json`), planned before.
    SavedPlan,
}

/// A `plan` or `apply` run, as asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Plan only, or plan and apply.
    pub mode: Mode,
    /// The HR file or saved plan.
    pub input: PathBuf,
    /// What `input` is.
    pub from: From,
    /// The config file.
    pub config: PathBuf,
    /// A report folder chosen on the command line.
    pub report_dir: Option<PathBuf>,
    /// No banners or progress.
    pub quiet: bool,
    /// Phone numbers shown in full in the reports.
    pub unmask: bool,
    /// Deletes allowed past the guards, if any.
    pub allow_deletes: Option<u64>,
    /// Where `plan` also saves its plan.
    pub out: Option<PathBuf>,
    /// `plan`'s exit code says whether there are changes.
    pub detailed_exitcode: bool,
    /// With `detailed_exitcode`, findings (refused rows, skipped users, blocked ops) fail it.
    pub fail_on_findings: bool,
    /// The digest of the one saved plan this apply may run (`--expect-digest` or
    /// `PHONESYNC_EXPECT_DIGEST`), as [`saved::parse_digest`] writes it.
    pub expect_digest: Option<String>,
}

impl Options {
    /// `args` for a run in `mode` (in `env`), or why they cannot go together.
    pub fn check(args: &RunArgs, mode: Mode, env: &Env) -> Result<Options> {
        if args.detailed_exitcode && mode == Mode::Apply {
            bail!("--detailed-exitcode is for `phonesync plan`");
        }
        if let Some(out) = &args.out {
            if mode == Mode::Apply {
                bail!("--out is for `phonesync plan`: apply executes the plan it is given or makes");
            }
            if !saved::is_saved_plan(out) {
                bail!(
                    "--out {}: a saved plan's name ends in .json (apply tells plans from HR files by it)",
                    out.display()
                );
            }
        }
        let from = if saved::is_saved_plan(&args.input) {
            From::SavedPlan
        } else {
            From::HrFile
        };
        if from == From::SavedPlan && mode == Mode::Plan {
            bail!(
                "{} is a saved plan: apply it with `phonesync apply {}` (plan takes an HR file)",
                args.input.display(),
                args.input.display()
            );
        }
        let expect_digest = expected_digest(args, mode, from, env)?;
        Ok(Options {
            mode,
            input: args.input.clone(),
            from,
            config: args.config.clone(),
            report_dir: args.report_dir.clone(),
            quiet: args.quiet,
            unmask: args.unmask,
            allow_deletes: args.allow_deletes,
            out: args.out.clone(),
            detailed_exitcode: args.detailed_exitcode,
            fail_on_findings: args.fail_on_findings,
            expect_digest,
        })
    }
}

/// The approved plan's digest, from `--expect-digest` or else the environment, for an apply of a
/// saved plan; refused where no saved plan is applied (a plan made and applied at once has no
/// approval to match). A `plan` ignores the variable: it only writes a plan.
fn expected_digest(args: &RunArgs, mode: Mode, from: From, env: &Env) -> Result<Option<String>> {
    let (given, how) = match (&args.expect_digest, env.get(EXPECT_DIGEST_VAR)) {
        (Some(flag), _) => (flag.clone(), "--expect-digest"),
        (None, Some(var)) if mode == Mode::Apply => (var, EXPECT_DIGEST_VAR),
        (None, _) => return Ok(None),
    };
    if mode == Mode::Plan {
        bail!("--expect-digest is for `phonesync apply PLAN.json`: it names the approved plan to run");
    }
    if from == From::HrFile {
        bail!(
            "{how} is set, so only the approved plan may run, and {} is an HR file that would be planned and applied unreviewed: \
             apply the approved plan (`phonesync apply PLAN.json`)",
            args.input.display()
        );
    }
    saved::parse_digest(&given).map(Some).map_err(|why| anyhow::anyhow!("{how}: {why}"))
}
