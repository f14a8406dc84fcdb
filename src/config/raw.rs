//! The config file as written: its shape (`deny_unknown_fields` turns a typo into an error that
//! names the key), its defaults, and the refusal of secrets in it. Typed and checked by the
//! other config modules.

use anyhow::{Result, anyhow};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How a bad value is reported: the key and why, with the file named.
pub type Bad<'a> = &'a dyn Fn(&str, String) -> anyhow::Error;

/// Parses config text; the error names the line but never quotes it (it may hold a secret),
/// and a secret in the file is refused.
pub(crate) fn read(text: &str, path: &Path) -> Result<RawConfig> {
    refuse_secrets(text, path)?;
    // Never the error's Display: it quotes the offending line, which may hold a secret.
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|span| text[..span.start.min(text.len())].lines().count().max(1));
        match line {
            Some(n) => anyhow!("{}: line {n}: {}", path.display(), e.message()),
            None => anyhow!("{}: {}", path.display(), e.message()),
        }
    })
}

/// The file's shape. `deny_unknown_fields` turns a typo into an error that names the key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    /// `endpoint` as written.
    #[serde(default = "default_endpoint")]
    pub(crate) endpoint: String,
    /// `targets` as written.
    #[serde(default = "default_targets")]
    pub(crate) targets: Vec<String>,
    /// The `[target.NAME]` tables, by name.
    #[serde(default)]
    pub(crate) target: BTreeMap<String, RawTarget>,
    /// The `[auth]` table.
    #[serde(default)]
    pub(crate) auth: RawAuth,
    /// The `[rate]` table.
    #[serde(default)]
    pub(crate) rate: RawRate,
    /// The `[plan]` table.
    #[serde(default)]
    pub(crate) plan: RawPlan,
    /// The `[input]` table.
    #[serde(default)]
    pub(crate) input: RawInput,
    /// The `[reports]` table.
    #[serde(default)]
    pub(crate) reports: RawReports,
    /// The `[emulator]` table.
    #[serde(default)]
    pub(crate) emulator: RawEmulator,
}

fn default_endpoint() -> String {
    "embedded".into()
}

fn default_targets() -> Vec<String> {
    vec!["auth".into()]
}

/// A `[target.NAME]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTarget {
    /// `target.NAME.managed_types` as written.
    pub(crate) managed_types: Option<Vec<String>>,
    /// `target.NAME.from` as written.
    pub(crate) from: Option<BTreeMap<String, String>>,
}

/// `[auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    /// `auth.method` as written.
    pub(crate) method: Option<String>,
    /// `auth.tenant_id` as written.
    pub(crate) tenant_id: Option<String>,
    /// `auth.client_id` as written.
    pub(crate) client_id: Option<String>,
    /// `auth.authority_host` as written.
    pub(crate) authority_host: Option<String>,
    /// `auth.certificate_path` as written.
    pub(crate) certificate_path: Option<PathBuf>,
    /// `auth.assertion_algorithm` as written.
    pub(crate) assertion_algorithm: Option<String>,
    /// `auth.federated_token_file` as written.
    pub(crate) federated_token_file: Option<PathBuf>,
}

/// `[rate]` as written; defaults are the documented ones.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRate {
    /// `rate.tenant_size` as written.
    pub(crate) tenant_size: String,
    /// `rate.resource_units_per_10s` as written.
    pub(crate) resource_units_per_10s: Option<f64>,
    /// `rate.writes_per_150s` as written.
    pub(crate) writes_per_150s: Option<f64>,
    /// `rate.requests_per_second` as written.
    pub(crate) requests_per_second: Option<u32>,
    /// `rate.concurrency` as written.
    pub(crate) concurrency: usize,
    /// `rate.max_attempts` as written.
    pub(crate) max_attempts: u32,
    /// `rate.max_backoff_seconds` as written.
    pub(crate) max_backoff_seconds: f64,
    /// `rate.request_timeout_seconds` as written.
    pub(crate) request_timeout_seconds: f64,
    /// `rate.retry_budget_seconds` as written.
    pub(crate) retry_budget_seconds: f64,
    /// `rate.run_timeout_seconds` as written.
    pub(crate) run_timeout_seconds: Option<f64>,
    /// `rate.throttle_priority` as written.
    pub(crate) throttle_priority: Option<String>,
    /// `rate.batch` as written.
    pub(crate) batch: bool,
    /// `rate.batch_size` as written.
    pub(crate) batch_size: usize,
    /// `rate.unreachable_after_seconds` as written.
    pub(crate) unreachable_after_seconds: f64,
    /// `rate.stop_grace_seconds` as written.
    pub(crate) stop_grace_seconds: f64,
}

impl Default for RawRate {
    fn default() -> Self {
        RawRate {
            tenant_size: "small".into(),
            resource_units_per_10s: None,
            writes_per_150s: None,
            requests_per_second: None,
            concurrency: 8,
            max_attempts: 6,
            max_backoff_seconds: 60.0,
            request_timeout_seconds: 30.0,
            retry_budget_seconds: 300.0,
            run_timeout_seconds: None,
            throttle_priority: None,
            batch: true,
            batch_size: 20,
            unreachable_after_seconds: 30.0,
            stop_grace_seconds: 10.0,
        }
    }
}

/// `[plan]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawPlan {
    /// `plan.prune` as written.
    pub(crate) prune: bool,
    /// `plan.max_deletes` as written.
    pub(crate) max_deletes: Option<u64>,
    /// `plan.max_delete_percent` as written.
    pub(crate) max_delete_percent: Option<f64>,
    /// `plan.max_shrink_percent` as written.
    pub(crate) max_shrink_percent: Option<f64>,
    /// Moved to `target.auth.managed_types`; read only to say so.
    pub(crate) managed_types: Option<toml::Value>,
}

/// `[input]` as written; defaults are the long format's standard columns.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawInput {
    /// `input.default_region` as written.
    pub(crate) default_region: String,
    /// `input.format` as written.
    pub(crate) format: String,
    /// `input.user_column` as written.
    pub(crate) user_column: String,
    /// `input.type_column` as written.
    pub(crate) type_column: String,
    /// `input.number_column` as written.
    pub(crate) number_column: String,
    /// `input.columns` as written.
    pub(crate) columns: Option<toml::Table>,
    /// `input.display_name_column` as written.
    pub(crate) display_name_column: String,
    /// `input.delimiter` as written.
    pub(crate) delimiter: String,
    /// `input.encoding` as written.
    pub(crate) encoding: String,
    /// `input.allow_vanity_numbers` as written.
    pub(crate) allow_vanity_numbers: bool,
    /// `input.region_column` as written.
    pub(crate) region_column: Option<String>,
    /// `input.empty_column_means_none` as written.
    pub(crate) empty_column_means_none: bool,
    /// `input.name_columns` as written.
    pub(crate) name_columns: Option<toml::Table>,
}

impl Default for RawInput {
    fn default() -> Self {
        RawInput {
            default_region: "US".into(),
            format: "long".into(),
            user_column: "user".into(),
            type_column: "phoneType".into(),
            number_column: "phoneNumber".into(),
            columns: None,
            display_name_column: "displayName".into(),
            delimiter: "auto".into(),
            encoding: "auto".into(),
            allow_vanity_numbers: false,
            region_column: None,
            empty_column_means_none: false,
            name_columns: None,
        }
    }
}

/// `[reports]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawReports {
    /// `reports.dir` as written.
    pub(crate) dir: PathBuf,
}

impl Default for RawReports {
    fn default() -> Self {
        RawReports { dir: "reports".into() }
    }
}

/// `[emulator]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawEmulator {
    /// `emulator.seed` as written.
    pub(crate) seed: Option<PathBuf>,
    /// `emulator.state_dir` as written.
    pub(crate) state_dir: PathBuf,
}

impl Default for RawEmulator {
    fn default() -> Self {
        RawEmulator {
            seed: None,
            state_dir: ".phonesync".into(),
        }
    }
}

/// Refuses a config file that holds a secret, naming the key but never echoing the value:
/// secrets come from the environment or from files only.
fn refuse_secrets(text: &str, path: &Path) -> Result<()> {
    fn find(table: &toml::Table, prefix: &str) -> Option<String> {
        for (key, value) in table {
            let name = format!("{prefix}{key}");
            let lower = key.to_ascii_lowercase();
            if lower.contains("secret") || lower.contains("password") || lower == "token" || lower == "access_token" {
                return Some(name);
            }
            if let Some(inner) = value.as_table()
                && let Some(found) = find(inner, &format!("{name}."))
            {
                return Some(found);
            }
        }
        None
    }
    let Ok(table) = text.parse::<toml::Table>() else { return Ok(()) };
    match find(&table, "") {
        Some(key) => Err(anyhow!(
            "{}: {key}: secrets are never read from the config file; remove it and set AZURE_CLIENT_SECRET \
             (or use a certificate or a federated token file) instead",
            path.display()
        )),
        None => Ok(()),
    }
}
