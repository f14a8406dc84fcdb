//! `config.toml` plus the standard `AZURE_*` environment variables → one validated, typed
//! [`Config`]. Every later stage takes values from here and never reads the file or the
//! environment itself; a bad value stops the run with the key and the file named.
//!
//! A leaf: it imports nothing from the rest of the tool. Values whose meaning belongs to another
//! module (a target's phone types, a region code) are checked for shape here and interpreted
//! there, which reports a bad one through [`Config::error`] in the same words.

use anyhow::{Context, Result, anyhow};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The variable a pre-acquired bearer token is read from.
pub const ACCESS_TOKEN_VAR: &str = "PHONESYNC_ACCESS_TOKEN";

/// The environment variables the tool reads, captured once so tests can supply their own.
/// Deletes one run may make unless told otherwise: directory sync's accidental-delete default.
pub const DEFAULT_MAX_DELETES: u64 = 500;

#[derive(Debug, Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The variables of this process that the tool cares about.
    pub fn from_process() -> Env {
        Env(std::env::vars()
            .filter(|(k, _)| k.starts_with("AZURE_") || k == ACCESS_TOKEN_VAR)
            .collect())
    }

    /// An environment with exactly these variables.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Env {
        Env(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).filter(|v| !v.trim().is_empty()).cloned()
    }
}

/// Where Graph is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The emulator inside this binary, started for the run.
    Embedded,
    /// A Graph base URL such as `https://graph.microsoft.com` (no version segment).
    Url(reqwest::Url),
}

/// Sign-in settings. Secrets come only from the environment.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Directory (tenant) id or domain.
    pub tenant_id: Option<String>,
    /// Application (client) id.
    pub client_id: Option<String>,
    /// Base URL of the token service.
    pub authority_host: reqwest::Url,
    /// How to sign in; `None` when nothing is configured.
    pub sign_in: Option<SignIn>,
}

/// Which signature a certificate assertion uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAlgorithm {
    /// PS256 with the SHA-256 thumbprint in `x5t#S256` (current Entra documentation).
    Ps256,
    /// RS256 with the SHA-1 thumbprint in `x5t` (older documentation; a fallback).
    Rs256,
}

/// A sign-in method with what it needs.
#[derive(Debug, Clone)]
pub enum SignIn {
    /// App-only with the secret from `AZURE_CLIENT_SECRET`.
    ClientSecret(SecretString),
    /// App-only with a certificate: a PEM file holding the certificate and its private key.
    Certificate {
        /// The PEM file.
        path: PathBuf,
        /// The assertion's signature.
        algorithm: AssertionAlgorithm,
    },
    /// App-only with workload identity federation: the assertion file, re-read at every sign-in.
    WorkloadIdentity {
        /// The token file (`AZURE_FEDERATED_TOKEN_FILE`).
        token_file: PathBuf,
    },
    /// A bearer token obtained elsewhere, from `PHONESYNC_ACCESS_TOKEN`.
    AccessToken(SecretString),
    /// Delegated sign-in of an admin through the device-code flow.
    DeviceCode,
}

impl SignIn {
    /// The method's name as written in config.
    pub fn name(&self) -> &'static str {
        match self {
            SignIn::ClientSecret(_) => "client_secret",
            SignIn::Certificate { .. } => "certificate",
            SignIn::WorkloadIdentity { .. } => "workload_identity",
            SignIn::AccessToken(_) => "access_token",
            SignIn::DeviceCode => "device_code",
        }
    }
}

/// Graph's documented write budget per app and tenant, whatever the tenant's size
/// (docs/graph.md#throttle-limits).
pub const WRITES_PER_150S: f64 = 3000.0;

/// Graph's documented resource-unit budget per app and tenant for a tenant size (`small`: under
/// 50 users, `medium`: 50 to 500, `large`: over 500; case and spaces ignored), per 10 s.
pub fn resource_units_per_10s(tenant_size: &str) -> Option<f64> {
    match tenant_size.trim().to_ascii_lowercase().as_str() {
        "small" => Some(3500.0),
        "medium" => Some(5000.0),
        "large" => Some(8000.0),
        _ => None,
    }
}

/// How the HR file is laid out: one row per phone or one row per person, which columns hold
/// what, the delimiter and the text encoding (`[input]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSettings {
    /// One row per phone (`long`) or one row per person with a column per phone (`wide`).
    pub format: InputFormat,
    /// The column naming the user (object id or UPN).
    pub user_column: String,
    /// Long format: the column giving the phone type.
    pub type_column: String,
    /// Long format: the column giving the number.
    pub number_column: String,
    /// Wide format: which column feeds which input phone type, in the order given.
    pub columns: Vec<(String, String)>,
    /// The optional column naming the phone (profile phones keep a display name).
    pub display_name_column: String,
    /// `,`, `;` or tab; `None`: detected from the header line.
    pub delimiter: Option<u8>,
    /// The text encoding; `Auto`: a byte-order mark, else UTF-8 if valid, else Windows-1252.
    pub encoding: InputEncoding,
    /// Read letters in a number as keypad digits (`1-800-FLOWERS`) instead of refusing it.
    pub allow_vanity_numbers: bool,
    /// The column giving each row's region (an ISO code or an English country name),
    /// overriding `default_region` for that row's numbers; none unless configured (an HR
    /// "Region" column often holds states or sales regions, not countries).
    pub region_column: Option<String>,
    /// Wide format: a column empty in every row still says "none of this type" for everyone,
    /// so a user whose every cell is blank is pruned. Off by default (such a column says
    /// nothing, and a file blank throughout deletes nothing): that is far more often a broken
    /// export or mapping than a fact. Rollback and export configs turn it on.
    pub empty_column_means_none: bool,
}

impl Default for InputSettings {
    /// The long format with its standard column names, delimiter and encoding detected.
    fn default() -> Self {
        InputSettings {
            format: InputFormat::Long,
            user_column: "user".into(),
            type_column: "phoneType".into(),
            number_column: "phoneNumber".into(),
            columns: Vec::new(),
            display_name_column: "displayName".into(),
            delimiter: None,
            encoding: InputEncoding::Auto,
            allow_vanity_numbers: false,
            region_column: None,
            empty_column_means_none: false,
        }
    }
}

/// The two layouts of an HR file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// One row per user and phone: user, phone type, number.
    Long,
    /// One row per user, one column per phone type.
    Wide,
}

/// The text encodings the reader takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEncoding {
    /// A byte-order mark says; else UTF-8 when the bytes are valid UTF-8; else Windows-1252.
    Auto,
    /// UTF-8 (a row with bytes that are not UTF-8 is refused).
    Utf8,
    /// UTF-16, little-endian (Excel's "Unicode text").
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
    /// Windows-1252 (Excel's "CSV" on Western European Windows).
    Windows1252,
}

/// Pacing and retry settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    /// Graph's resource-unit budget for this app in this tenant, per 10 s (by tenant size, or set).
    pub resource_units_per_10s: f64,
    /// Graph's write budget for this app in this tenant, per 150 s.
    pub writes_per_150s: f64,
    /// An optional flat ceiling on requests per second across the whole run.
    pub requests_per_second: Option<u32>,
    /// HTTP calls to Graph in flight at once (a `$batch` counts once).
    pub concurrency: usize,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Longest wait between attempts when Graph gives no `Retry-After`.
    pub max_backoff: Duration,
    /// Time allowed for one HTTP request.
    pub request_timeout: Duration,
    /// Longest time one call may spend retrying.
    pub retry_budget: Duration,
    /// Time allowed for the whole run; nothing new starts after it.
    pub run_timeout: Option<Duration>,
    /// `x-ms-throttle-priority` to send (`low` for background runs).
    pub throttle_priority: Option<String>,
    /// Requests per `$batch` call; 1 when batching is off.
    pub batch_size: usize,
}

impl Rate {
    /// Users worked on at once: enough to fill every call in flight, `concurrency` ×
    /// `batch_size` (with batching off, one user per call).
    pub fn users_in_flight(&self) -> usize {
        self.concurrency * self.batch_size
    }
}

/// The embedded emulator's files.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorFiles {
    /// Tenant to start from when there is no saved state.
    pub seed: Option<PathBuf>,
    /// Folder where the emulator's state is kept between runs.
    pub state_dir: PathBuf,
}

/// The validated configuration of one run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// Where Graph is.
    pub endpoint: Endpoint,
    /// Sign-in settings.
    pub auth: Auth,
    /// Pacing and retries.
    pub rate: Rate,
    /// What to keep in line, in order: each target's name and its `[target.NAME]` table.
    pub targets: Vec<TargetSection>,
    /// Delete managed phones the input does not name (for users it names).
    pub prune: bool,
    /// Most phones one `apply` may delete outright (type changes aside) before it refuses to
    /// start (`[plan] max_deletes`, default 500); `--allow-deletes N` lifts it for one run.
    pub max_deletes: u64,
    /// Most deletes as a percentage of the users read (`[plan] max_delete_percent`; none by
    /// default), checked like `max_deletes`.
    pub max_delete_percent: Option<f64>,
    /// With prune, `apply` refuses an input naming this many percent fewer users than the last
    /// finished apply read (`[plan] max_shrink_percent`, default 50).
    pub max_shrink_percent: f64,
    /// Region for numbers written without a country code (a two-letter code, checked by the
    /// number parser).
    pub default_region: String,
    /// How the input file is laid out (`[input]`).
    pub input: InputSettings,
    /// Folder under which each run's report folder is created.
    pub report_dir: PathBuf,
    /// Files of the embedded emulator.
    pub emulator: EmulatorFiles,
}

/// One target's settings: its name in `targets` and its `[target.NAME]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetSection {
    /// The target's name (`auth`, `profile`).
    pub name: String,
    /// The target's types phonesync may add, change or delete (default: the target's own).
    pub managed_types: Option<Vec<String>>,
    /// Which input `phoneType` feeds which of the target's types (default: the target's own).
    pub from: Option<BTreeMap<String, String>>,
}

/// The file's shape. `deny_unknown_fields` turns a typo into an error that names the key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_endpoint")]
    endpoint: String,
    #[serde(default = "default_targets")]
    targets: Vec<String>,
    #[serde(default)]
    target: BTreeMap<String, RawTarget>,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    rate: RawRate,
    #[serde(default)]
    plan: RawPlan,
    #[serde(default)]
    input: RawInput,
    #[serde(default)]
    reports: RawReports,
    #[serde(default)]
    emulator: RawEmulator,
}

fn default_endpoint() -> String {
    "embedded".into()
}

fn default_targets() -> Vec<String> {
    vec!["auth".into()]
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    managed_types: Option<Vec<String>>,
    from: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    method: Option<String>,
    tenant_id: Option<String>,
    client_id: Option<String>,
    authority_host: Option<String>,
    certificate_path: Option<PathBuf>,
    assertion_algorithm: Option<String>,
    federated_token_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRate {
    tenant_size: String,
    resource_units_per_10s: Option<f64>,
    writes_per_150s: Option<f64>,
    requests_per_second: Option<u32>,
    concurrency: usize,
    max_attempts: u32,
    max_backoff_seconds: f64,
    request_timeout_seconds: f64,
    retry_budget_seconds: f64,
    run_timeout_seconds: Option<f64>,
    throttle_priority: Option<String>,
    batch: bool,
    batch_size: usize,
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
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPlan {
    prune: bool,
    max_deletes: Option<u64>,
    max_delete_percent: Option<f64>,
    max_shrink_percent: Option<f64>,
    /// Moved to `target.auth.managed_types`; read only to say so.
    managed_types: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawInput {
    default_region: String,
    format: String,
    user_column: String,
    type_column: String,
    number_column: String,
    columns: Option<toml::Table>,
    display_name_column: String,
    delimiter: String,
    encoding: String,
    allow_vanity_numbers: bool,
    region_column: Option<String>,
    empty_column_means_none: bool,
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
        }
    }
}

/// Checks and types `[input]`.
fn input_settings(raw: RawInput, bad: &dyn Fn(&str, String) -> anyhow::Error) -> Result<InputSettings, anyhow::Error> {
    let format = match raw.format.trim().to_ascii_lowercase().as_str() {
        "long" => InputFormat::Long,
        "wide" => InputFormat::Wide,
        other => {
            return Err(bad(
                "input.format",
                format!("'{other}' is not long (one row per phone) or wide (one row per person)"),
            ));
        }
    };
    let mut columns = Vec::new();
    for (column, phone_type) in raw.columns.unwrap_or_default() {
        match phone_type.as_str() {
            Some(t) if !t.trim().is_empty() && !column.trim().is_empty() => columns.push((column.trim().to_string(), t.trim().to_string())),
            _ => {
                return Err(bad(
                    "input.columns",
                    format!("'{column}' must name a column and map it to a phone type, e.g. \"Mobile Phone\" = \"mobile\""),
                ));
            }
        }
    }
    match (format, columns.is_empty()) {
        (InputFormat::Wide, true) => {
            return Err(bad(
                "input.columns",
                "format = \"wide\" needs columns = { \"Mobile Phone\" = \"mobile\", ... }: which column holds which phone type".into(),
            ));
        }
        (InputFormat::Long, false) => {
            return Err(bad(
                "input.columns",
                "is for format = \"wide\"; a long file names the type in type_column".into(),
            ));
        }
        _ => {}
    }
    let delimiter = match raw.delimiter.as_str() {
        "auto" => None,
        "," => Some(b','),
        ";" => Some(b';'),
        "tab" | "\t" => Some(b'\t'),
        other => return Err(bad("input.delimiter", format!("'{other}' is not auto, \",\", \";\" or tab"))),
    };
    let encoding = match raw.encoding.trim().to_ascii_lowercase().replace('_', "-").as_str() {
        "auto" => InputEncoding::Auto,
        "utf-8" | "utf8" => InputEncoding::Utf8,
        "utf-16le" | "utf-16" => InputEncoding::Utf16Le,
        "utf-16be" => InputEncoding::Utf16Be,
        "windows-1252" | "cp1252" | "latin1" | "iso-8859-1" => InputEncoding::Windows1252,
        other => {
            return Err(bad(
                "input.encoding",
                format!("'{other}' is not auto, utf-8, utf-16le, utf-16be or windows-1252"),
            ));
        }
    };
    let column = |key: &str, v: String| {
        let v = v.trim().to_string();
        if v.is_empty() {
            Err(bad(key, "must name a column".into()))
        } else {
            Ok(v)
        }
    };
    Ok(InputSettings {
        format,
        user_column: column("input.user_column", raw.user_column)?,
        type_column: column("input.type_column", raw.type_column)?,
        number_column: column("input.number_column", raw.number_column)?,
        columns,
        display_name_column: column("input.display_name_column", raw.display_name_column)?,
        delimiter,
        encoding,
        allow_vanity_numbers: raw.allow_vanity_numbers,
        region_column: raw.region_column.map(|c| column("input.region_column", c)).transpose()?,
        empty_column_means_none: raw.empty_column_means_none,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawReports {
    dir: PathBuf,
}

impl Default for RawReports {
    fn default() -> Self {
        RawReports { dir: "reports".into() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawEmulator {
    seed: Option<PathBuf>,
    state_dir: PathBuf,
}

impl Default for RawEmulator {
    fn default() -> Self {
        RawEmulator {
            seed: None,
            state_dir: ".phonesync".into(),
        }
    }
}

impl Config {
    /// The error for a bad value of `key` found after loading, in the same words as a load error
    /// (the file, the key, why).
    pub fn error(&self, key: &str, why: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("{}: {key}: {why}", self.path.display())
    }

    /// Reads and validates `path`, taking sign-in values from `env` where the file has none.
    pub fn load(path: &Path, env: &Env) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read config file {}: pass --config FILE, or run from the folder that holds config.toml",
                path.display()
            )
        })?;
        Config::parse(&text, path, env)
    }

    /// Validates config text; `path` names the file in messages and anchors relative paths.
    pub fn parse(text: &str, path: &Path, env: &Env) -> Result<Config> {
        refuse_secrets(text, path)?;
        // Never the error's Display: it quotes the offending line, which may hold a secret.
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            match line {
                Some(n) => anyhow!("{}: line {n}: {}", path.display(), e.message()),
                None => anyhow!("{}: {}", path.display(), e.message()),
            }
        })?;
        let bad = |key: &str, why: String| anyhow!("{}: {key}: {why}", path.display());
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };

        let endpoint = parse_endpoint(&raw.endpoint).map_err(|why| bad("endpoint", why))?;
        let authority = raw
            .auth
            .authority_host
            .clone()
            .or_else(|| env.get("AZURE_AUTHORITY_HOST"))
            .unwrap_or_else(|| "https://login.microsoftonline.com".into());
        let authority_host = parse_url(&authority).map_err(|why| bad("auth.authority_host", why))?;

        let r = raw.rate;
        if r.requests_per_second == Some(0) {
            return Err(bad("rate.requests_per_second", "must be at least 1".into()));
        }
        let tier_units = resource_units_per_10s(&r.tenant_size).ok_or_else(|| {
            bad(
                "rate.tenant_size",
                format!(
                    "'{}' is not small (under 50 users), medium (50 to 500) or large (over 500)",
                    r.tenant_size
                ),
            )
        })?;
        let budget = |key: &str, v: Option<f64>, default: f64| match v {
            None => Ok(default),
            Some(v) if v.is_finite() && v >= 1.0 => Ok(v),
            Some(v) => Err(bad(key, format!("{v} is not a number of requests of at least 1"))),
        };
        if r.concurrency == 0 || r.concurrency > 1024 {
            return Err(bad("rate.concurrency", "must be between 1 and 1024".into()));
        }
        if r.max_attempts == 0 {
            return Err(bad("rate.max_attempts", "must be at least 1".into()));
        }
        let seconds = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v <= 86_400.0 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(bad(key, format!("{v} is not a number of seconds between 0 and 86400")))
            }
        };
        let rate = Rate {
            resource_units_per_10s: budget("rate.resource_units_per_10s", r.resource_units_per_10s, tier_units)?,
            writes_per_150s: budget("rate.writes_per_150s", r.writes_per_150s, WRITES_PER_150S)?,
            requests_per_second: r.requests_per_second,
            concurrency: r.concurrency,
            max_attempts: r.max_attempts,
            max_backoff: seconds("rate.max_backoff_seconds", r.max_backoff_seconds)?,
            request_timeout: seconds("rate.request_timeout_seconds", r.request_timeout_seconds)?,
            retry_budget: seconds("rate.retry_budget_seconds", r.retry_budget_seconds)?,
            run_timeout: r.run_timeout_seconds.map(|v| seconds("rate.run_timeout_seconds", v)).transpose()?,
            batch_size: match (r.batch, r.batch_size) {
                (false, _) => 1,
                (true, n @ 1..=20) => n,
                (true, n) => {
                    return Err(bad(
                        "rate.batch_size",
                        format!("{n} is not between 1 and 20 (Graph's limit per $batch)"),
                    ));
                }
            },
            throttle_priority: match r.throttle_priority.as_deref() {
                None => None,
                Some(p @ ("low" | "normal" | "high")) => Some(p.to_string()),
                Some(other) => return Err(bad("rate.throttle_priority", format!("'{other}' is not low, normal or high"))),
            },
        };

        if raw.plan.managed_types.is_some() {
            return Err(bad(
                "plan.managed_types",
                "has moved: write it as managed_types under [target.auth] (and [target.profile] for profile phones)".into(),
            ));
        }
        let mut targets: Vec<TargetSection> = Vec::new();
        for name in &raw.targets {
            if targets.iter().any(|t| t.name == *name) {
                return Err(bad("targets", format!("'{name}' is named twice")));
            }
            let section = raw.target.get(name);
            targets.push(TargetSection {
                name: name.clone(),
                managed_types: section.and_then(|s| s.managed_types.clone()),
                from: section.and_then(|s| s.from.clone()),
            });
        }
        if targets.is_empty() {
            return Err(bad("targets", "names no target, so there would be nothing to do".into()));
        }
        if let Some(name) = raw.target.keys().find(|k| !raw.targets.contains(k)) {
            return Err(bad(
                &format!("target.{name}"),
                format!("'{name}' is not in targets = [...], so this table would be ignored; add it there or remove the table"),
            ));
        }
        let default_region = raw.input.default_region.trim().to_string();
        let input = input_settings(raw.input, &bad)?;
        if default_region.len() != 2 || !default_region.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(bad(
                "input.default_region",
                format!("'{default_region}' is not a two-letter region code such as US, GB or DE"),
            ));
        }

        let sign_in = sign_in(&raw.auth, env, &resolve).map_err(|(key, why)| bad(key, why))?;
        Ok(Config {
            path: path.to_path_buf(),
            endpoint,
            auth: Auth {
                tenant_id: raw.auth.tenant_id.or_else(|| env.get("AZURE_TENANT_ID")),
                client_id: raw.auth.client_id.or_else(|| env.get("AZURE_CLIENT_ID")),
                authority_host,
                sign_in,
            },
            rate,
            targets,
            prune: raw.plan.prune,
            max_deletes: raw.plan.max_deletes.unwrap_or(DEFAULT_MAX_DELETES),
            max_delete_percent: match raw.plan.max_delete_percent {
                Some(p) if !(p > 0.0 && p <= 100.0) => {
                    return Err(bad(
                        "plan.max_delete_percent",
                        format!("{p} is not a percentage above 0 and at most 100"),
                    ));
                }
                p => p,
            },
            max_shrink_percent: match raw.plan.max_shrink_percent {
                Some(p) if !(0.0..=100.0).contains(&p) => {
                    return Err(bad("plan.max_shrink_percent", format!("{p} is not a percentage from 0 to 100")));
                }
                p => p.unwrap_or(50.0),
            },
            default_region,
            input,
            report_dir: resolve(&raw.reports.dir),
            emulator: EmulatorFiles {
                seed: raw.emulator.seed.as_deref().map(resolve),
                state_dir: resolve(&raw.emulator.state_dir),
            },
        })
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

/// Picks the sign-in method: the one named by `auth.method`, or with `auto` (the default) the
/// first that is configured of: access token, client secret, certificate, federated token file.
fn sign_in(raw: &RawAuth, env: &Env, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<Option<SignIn>, (&'static str, String)> {
    let secret = env.get("AZURE_CLIENT_SECRET").map(SecretString::from);
    let token = env.get(ACCESS_TOKEN_VAR).map(SecretString::from);
    let certificate = raw
        .certificate_path
        .as_deref()
        .map(resolve)
        .or_else(|| env.get("AZURE_CLIENT_CERTIFICATE_PATH").map(PathBuf::from));
    let token_file = raw
        .federated_token_file
        .as_deref()
        .map(resolve)
        .or_else(|| env.get("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from));
    let algorithm = match raw.assertion_algorithm.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("PS256") => AssertionAlgorithm::Ps256,
        Some("RS256") => AssertionAlgorithm::Rs256,
        Some(other) => return Err(("auth.assertion_algorithm", format!("'{other}' is not PS256 or RS256"))),
    };
    let need = |what: &str| ("auth.method", format!("needs {what}"));
    let method = raw.method.as_deref().unwrap_or("auto");
    Ok(match method {
        "auto" => token
            .map(SignIn::AccessToken)
            .or(secret.map(SignIn::ClientSecret))
            .or(certificate.map(|path| SignIn::Certificate { path, algorithm }))
            .or(token_file.map(|token_file| SignIn::WorkloadIdentity { token_file })),
        "client_secret" => Some(SignIn::ClientSecret(
            secret.ok_or_else(|| need("AZURE_CLIENT_SECRET in the environment"))?,
        )),
        "certificate" => Some(SignIn::Certificate {
            path: certificate.ok_or_else(|| need("auth.certificate_path or AZURE_CLIENT_CERTIFICATE_PATH"))?,
            algorithm,
        }),
        "workload_identity" => Some(SignIn::WorkloadIdentity {
            token_file: token_file.ok_or_else(|| need("auth.federated_token_file or AZURE_FEDERATED_TOKEN_FILE"))?,
        }),
        "access_token" => Some(SignIn::AccessToken(
            token.ok_or_else(|| need("PHONESYNC_ACCESS_TOKEN in the environment"))?,
        )),
        "device_code" => Some(SignIn::DeviceCode),
        other => {
            return Err((
                "auth.method",
                format!("'{other}' is not auto, client_secret, certificate, workload_identity, access_token or device_code"),
            ));
        }
    })
}

fn parse_endpoint(value: &str) -> Result<Endpoint, String> {
    if value.trim().eq_ignore_ascii_case("embedded") {
        return Ok(Endpoint::Embedded);
    }
    let mut url = parse_url(value)?;
    // Accept a pasted `https://graph.microsoft.com/v1.0`: the client adds the version itself.
    let path = url
        .path()
        .trim_end_matches('/')
        .trim_end_matches("/v1.0")
        .trim_end_matches("/beta")
        .to_string();
    url.set_path(&path);
    Ok(Endpoint::Url(url))
}

/// HTTPS only, except plain HTTP to this machine (the emulator).
fn parse_url(value: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(value.trim())
        .map_err(|e| format!("'{value}' is not a URL ({e}); use \"embedded\" or a URL like https://graph.microsoft.com"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "'{value}' uses plain HTTP to another machine; only https:// is allowed (plain http only to loopback)"
        )),
        other => Err(format!("'{value}' has scheme '{other}'; use https://")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/etc/ps/config.toml"), &Env::default())
    }

    #[test]
    fn input_layouts_delimiters_and_encodings() {
        let c = parse("").unwrap();
        assert_eq!(c.input, InputSettings::default());
        let c = parse(
            "[input]\nformat = \"Wide\"\nuser_column = \"Work Email\"\ndelimiter = \";\"\nencoding = \"UTF-16LE\"\n[input.columns]\n\"Mobile Phone\" = \"mobile\"\n",
        )
        .unwrap();
        assert_eq!(
            (c.input.format, c.input.user_column.as_str(), c.input.delimiter, c.input.encoding),
            (InputFormat::Wide, "Work Email", Some(b';'), InputEncoding::Utf16Le)
        );
        assert_eq!(c.input.columns, vec![("Mobile Phone".to_string(), "mobile".to_string())]);
        for (text, key) in [
            ("[input]\nformat = \"wide\"\n", "input.columns"),
            ("[input]\ncolumns = { Mobile = \"mobile\" }\n", "input.columns"),
            ("[input]\nformat = \"tall\"\n", "input.format"),
            ("[input]\ndelimiter = \"|\"\n", "input.delimiter"),
            ("[input]\nencoding = \"ebcdic\"\n", "input.encoding"),
            ("[input]\nuser_column = \" \"\n", "input.user_column"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn defaults_fill_an_empty_file() {
        let c = parse("").unwrap();
        assert_eq!(c.endpoint, Endpoint::Embedded);
        assert_eq!(c.rate.requests_per_second, None);
        assert_eq!((c.rate.resource_units_per_10s, c.rate.writes_per_150s), (3500.0, 3000.0));
        let c = parse("[rate]\ntenant_size = \"Large\"\nwrites_per_150s = 100\n").unwrap();
        assert_eq!((c.rate.resource_units_per_10s, c.rate.writes_per_150s), (8000.0, 100.0));
        let e = parse("[rate]\ntenant_size = \"huge\"\n").unwrap_err().to_string();
        assert!(e.contains("rate.tenant_size") && e.contains("huge"), "{e}");
        assert_eq!(
            c.targets,
            vec![TargetSection {
                name: "auth".into(),
                ..Default::default()
            }]
        );
        assert!(!c.prune);
        assert_eq!(c.report_dir, PathBuf::from("/etc/ps/reports"));
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let e = parse("[rate]\nrequests_per_second = 0\n").unwrap_err().to_string();
        assert!(e.contains("/etc/ps/config.toml") && e.contains("rate.requests_per_second"), "{e}");
        let e = parse("[plan]\nmanaged_types = [\"mobile\"]\n").unwrap_err().to_string();
        assert!(e.contains("plan.managed_types") && e.contains("[target.auth]"), "{e}");
        let e = parse("targets = []\n").unwrap_err().to_string();
        assert!(e.contains("targets") && e.contains("no target"), "{e}");
        let e = parse("[target.profile]\nmanaged_types = [\"pager\"]\n").unwrap_err().to_string();
        assert!(e.contains("target.profile") && e.contains("not in targets"), "{e}");
        let e = parse("[rate]\nrequests_per_secnd = 3\n").unwrap_err().to_string();
        assert!(e.contains("requests_per_secnd"), "{e}");
        let e = parse("[input]\ndefault_region = \"USA\"\n").unwrap_err().to_string();
        assert!(e.contains("input.default_region"), "{e}");
        let e = parse("[plan]\nmax_delete_percent = 0\n").unwrap_err().to_string();
        assert!(e.contains("plan.max_delete_percent"), "{e}");
        let c = parse("[plan]\nmax_delete_percent = 12.5\n").unwrap();
        assert_eq!((c.max_deletes, c.max_delete_percent), (DEFAULT_MAX_DELETES, Some(12.5)));
    }

    #[test]
    fn sign_in_method_is_chosen_like_azure_tooling() {
        let env = |pairs: &[(&str, &str)]| Env::from_pairs(pairs.iter().copied());
        let pick = |text: &str, e: Env| Config::parse(text, Path::new("/p/config.toml"), &e).map(|c| c.auth.sign_in.map(|s| s.name()));
        assert_eq!(pick("", env(&[])).unwrap(), None);
        assert_eq!(
            pick("", env(&[("AZURE_CLIENT_CERTIFICATE_PATH", "/c.pem")])).unwrap(),
            Some("certificate")
        );
        assert_eq!(
            pick("", env(&[("AZURE_FEDERATED_TOKEN_FILE", "/t")])).unwrap(),
            Some("workload_identity")
        );
        assert_eq!(
            pick(
                "",
                env(&[("AZURE_CLIENT_SECRET", "s"), ("AZURE_CLIENT_CERTIFICATE_PATH", "/c.pem")])
            )
            .unwrap(),
            Some("client_secret")
        );
        assert_eq!(
            pick("", env(&[("PHONESYNC_ACCESS_TOKEN", "t"), ("AZURE_CLIENT_SECRET", "s")])).unwrap(),
            Some("access_token")
        );
        assert_eq!(
            pick("[auth]\nmethod = \"device_code\"\n", env(&[("AZURE_CLIENT_SECRET", "s")])).unwrap(),
            Some("device_code")
        );
        let e = pick("[auth]\nmethod = \"certificate\"\n", env(&[])).unwrap_err().to_string();
        assert!(e.contains("auth.method") && e.contains("AZURE_CLIENT_CERTIFICATE_PATH"), "{e}");
        let c = Config::parse(
            "[auth]\ncertificate_path = \"app.pem\"\nassertion_algorithm = \"rs256\"\n",
            Path::new("/p/config.toml"),
            &env(&[]),
        )
        .unwrap();
        assert!(
            matches!(c.auth.sign_in, Some(SignIn::Certificate { ref path, algorithm: AssertionAlgorithm::Rs256 }) if path == Path::new("/p/app.pem"))
        );
        assert!(pick("[auth]\nmethod = \"magic\"\n", env(&[])).is_err());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(parse("endpoint = \"http://127.0.0.1:8080\"").is_ok());
        assert!(parse("endpoint = \"http://localhost:8080\"").is_ok());
        let e = parse("endpoint = \"http://graph.example.com\"").unwrap_err().to_string();
        assert!(e.contains("endpoint") && e.contains("plain HTTP"), "{e}");
        let c = parse("endpoint = \"https://graph.microsoft.com/v1.0/\"").unwrap();
        assert_eq!(c.endpoint, Endpoint::Url("https://graph.microsoft.com/".parse().unwrap()));
    }

    #[test]
    fn secrets_come_from_the_environment_only() {
        let env = Env::from_pairs([
            ("AZURE_CLIENT_SECRET", "s3cret"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
        ]);
        let c = Config::parse("", Path::new("config.toml"), &env).unwrap();
        assert_eq!(c.auth.tenant_id.as_deref(), Some("t"));
        assert!(matches!(c.auth.sign_in, Some(SignIn::ClientSecret(_))));
        assert!(!format!("{c:?}").contains("s3cret"), "Debug must not show the secret");
        let e = parse("[auth]\nclient_secret = \"hunter2-s3cret\"\n").unwrap_err().to_string();
        assert!(e.contains("auth.client_secret") && e.contains("never read"), "{e}");
        assert!(!e.contains("hunter2"), "the secret is not echoed: {e}");
        // Any TOML error names the line, not its text.
        let e = parse("[auth]\nmethod = \"x\" hunter2\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && !e.contains("hunter2"), "{e}");
    }
}
