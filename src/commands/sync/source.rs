//! Where a run's plan comes from: an HR file, read now and planned against the tenant, or a
//! saved plan, checked against the tenant again. Both end as one [`Planned`].

use crate::commands::setup::{self, Targets};
use crate::commands::sync::options::{From, Options};
use crate::config::Config;
use crate::console;
use crate::input::{phone, reader};
use crate::plan::fresh;
use crate::plan::planned::{Planned, Reads};
use crate::plan::saved::SavedPlan;
use anyhow::Result;

/// The run's input, opened: the HR file read (its users still to plan), or the saved plan.
pub struct Source {
    /// The HR file as read; for a saved plan, its row count only.
    pub input: reader::Input,
    /// The encoding the HR file was read in.
    pub encoding: String,
    /// The HR file's delimiter.
    pub delimiter: String,
    /// The targets to plan or apply, in the plan's order.
    pub targets: Targets,
    /// What the input is.
    pub from: From,
    /// The saved plan's digest (what this apply runs).
    pub digest: Option<String>,
    saved: Option<SavedPlan>,
}

impl Source {
    /// Reads the HR file, or loads the saved plan and checks it may run under `config` against
    /// `tenant`. Refused and noted rows are masked unless `--unmask`.
    pub fn open(options: &Options, config: &Config, region: phone::Region, targets: Targets, tenant: &str) -> Result<Source> {
        let mut source = match options.from {
            From::SavedPlan => {
                let saved = SavedPlan::load(&options.input, options.expect_digest.as_deref())?;
                let targets = saved.targets_for(tenant, config.prune, targets)?;
                Source {
                    input: reader::Input {
                        rows: saved.input.rows,
                        ..reader::Input::default()
                    },
                    encoding: saved.input.encoding.clone(),
                    delimiter: saved.input.delimiter.clone(),
                    targets,
                    from: From::SavedPlan,
                    digest: Some(saved.digest.clone()),
                    saved: Some(saved),
                }
            }
            From::HrFile => {
                let input = setup::read_input(config, region, &targets, &options.input, options.quiet)?;
                Source {
                    encoding: input.encoding.to_string(),
                    delimiter: input.delimiter.to_string(),
                    input,
                    targets,
                    from: From::HrFile,
                    digest: None,
                    saved: None,
                }
            }
        };
        let input = &mut source.input;
        if !input.blank_columns.is_empty() {
            console::warn(&format!(
                "the column of {} is empty in every row: taken as saying nothing, so a user with no other value in the file \
                 keeps their phones (if the file means nobody has one, set [input] empty_column_means_none = true)",
                input.blank_columns.join(", ")
            ));
        }
        if !options.unmask {
            input.rejects = input.rejects.iter().map(reader::Reject::masked).collect();
            input.notes = input.notes.iter().map(reader::Reject::masked).collect();
        }
        Ok(source)
    }

    /// One line saying what the run starts from.
    pub fn describe(&self, options: &Options) -> String {
        match &self.saved {
            Some(saved) => format!(
                "Applying {}: planned {} from {}, changes for {}",
                options.input.display(),
                saved.created_at,
                saved.input.path,
                console::count(saved.targets.iter().map(|t| t.users.len()).sum::<usize>() as u64, "user")
            ),
            None => format!(
                "Read {} from {}: {}, {} rejected",
                console::count(self.input.rows, "row"),
                options.input.display(),
                console::count(self.input.users.len() as u64, "user"),
                console::count(self.input.rejects.len() as u64, "row")
            ),
        }
    }

    /// Warns, for a saved plan, of the users skipped as stale (changed in Graph since planning).
    pub fn warn_stale(&self, planned: &Planned) {
        let stale = planned.plan.skipped_as("stale");
        if self.from == From::SavedPlan && stale > 0 {
            console::warn(&format!(
                "{} changed in Graph after the plan was made and skipped as stale (see plan.md); plan again to include them",
                console::count(stale as u64, "user")
            ));
        }
    }

    /// The plan: the HR file's users planned against the tenant, or the saved plan with the
    /// users changed since planning skipped as stale.
    pub async fn plan(&mut self, reads: &mut Reads<'_>, config: &Config, region: phone::Region) -> Result<Planned> {
        let targets = std::mem::take(&mut self.targets);
        match self.saved.take() {
            Some(saved) => Ok(saved.recheck(reads, targets).await),
            None => {
                let desired = std::mem::take(&mut self.input.users);
                fresh::plan(reads, config, region, targets, desired).await
            }
        }
    }
}
