//! The shared test set-up: a `World` is a temp folder, an emulator on 127.0.0.1:0 and a
//! config.toml pointing at it, built from a typed [`Config`] (never patched as text). Every
//! in-process run goes through [`World::invoke`], the one call into the library; every journal
//! check goes through [`journal_violations`], the one call into the emulator's checker. The
//! binary, run as a user runs it, is [`phonesync`].

use phonesync::cli::Cli;
use phonesync::config::Env;
use phonesync::interrupt::Stop;
use phonesync_emulator::check::{PlannedWrite, Violation};
use phonesync_emulator::{Emulator, JournalEntry, Options, Seed, SeedUser};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};

/// The client id the test emulators pin.
pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
/// The client secret the test emulators pin.
pub const SECRET: &str = "test-secret-value-7f3a9c";

// ---------------------------------------------------------------------------------------------
// The config a world writes
// ---------------------------------------------------------------------------------------------

/// The config.toml a [`World`] writes, as typed fields; `None` leaves a key out (the tool's
/// default applies). Serialized with the `toml` crate.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Graph's base URL: the emulator's, unless a test points it elsewhere.
    pub endpoint: String,
    /// `targets = [...]`: which targets run, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    /// `[auth]`.
    pub auth: Auth,
    /// `[rate]`.
    pub rate: Rate,
    /// `[plan]`.
    pub plan: Plan,
    /// `[target.<name>]` tables.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub target: BTreeMap<String, Target>,
    /// `[input]`.
    pub input: Input,
}

/// `[auth]`: the emulator's token service and the pinned client, and how to sign in.
#[derive(Debug, Clone, Serialize)]
pub struct Auth {
    /// The tenant the run signs in to.
    pub tenant_id: String,
    /// The app registration's client id.
    pub client_id: String,
    /// The token service (the emulator).
    pub authority_host: String,
    /// `method = "..."`: certificate, device_code, ...; `None` is the tool's `auto`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// A PEM with the certificate and its key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_path: Option<PathBuf>,
    /// PS256 or RS256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assertion_algorithm: Option<String>,
}

/// `[rate]`: the test defaults (a high ceiling, four calls in flight, short backoffs) and
/// whatever a test sets.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    /// A flat ceiling on requests per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<u32>,
    /// HTTP calls in flight at once.
    pub concurrency: usize,
    /// Longest wait between attempts without a Retry-After.
    pub max_backoff_seconds: f64,
    /// Whether reads and chains travel in `$batch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<bool>,
    /// Attempts per request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Time allowed for one HTTP request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout_seconds: Option<f64>,
    /// Time allowed for the whole run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_timeout_seconds: Option<f64>,
    /// `x-ms-throttle-priority`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttle_priority: Option<String>,
    /// How long without an answer makes Graph unreachable (the circuit breaker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable_after_seconds: Option<f64>,
    /// How long calls in flight get after a stop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_seconds: Option<f64>,
}

/// `[plan]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// Delete managed phones the input does not name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    /// The delete guard's count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_deletes: Option<u64>,
    /// The delete guard's share of the users read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delete_percent: Option<f64>,
}

/// `[target.<name>]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Target {
    /// The types the target may change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_types: Option<Vec<String>>,
    /// Which input type feeds which of the target's types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<BTreeMap<String, String>>,
}

impl Target {
    /// A table managing `types`, each fed by itself unless `from` (input type, target type) says.
    pub fn managing(types: &[&str], from: &[(&str, &str)]) -> Target {
        Target {
            managed_types: Some(types.iter().map(|t| t.to_string()).collect()),
            from: (!from.is_empty()).then(|| from.iter().map(|(i, t)| (i.to_string(), t.to_string())).collect()),
        }
    }
}

/// `[input]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Input {
    /// `long` or `wide`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The column naming the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_column: Option<String>,
    /// Wide: column → phone type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<BTreeMap<String, String>>,
    /// Wide: a column blank in every row means "none of this type".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_column_means_none: Option<bool>,
}

impl Config {
    /// The test defaults, pointing at nothing yet (the builder fills in the emulator's URL).
    fn defaults() -> Config {
        Config {
            endpoint: String::new(),
            targets: None,
            auth: Auth {
                tenant_id: "contoso".into(),
                client_id: CLIENT_ID.into(),
                authority_host: String::new(),
                method: None,
                certificate_path: None,
                assertion_algorithm: None,
            },
            rate: Rate {
                requests_per_second: Some(1000),
                concurrency: 4,
                max_backoff_seconds: 0.2,
                batch: None,
                max_attempts: None,
                request_timeout_seconds: None,
                run_timeout_seconds: None,
                throttle_priority: None,
                unreachable_after_seconds: None,
                stop_grace_seconds: None,
            },
            plan: Plan::default(),
            target: BTreeMap::new(),
            input: Input::default(),
        }
    }

    /// The TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("the test config serializes")
    }
}

/// Rewrites a TOML file through its parsed tables (for config files a test did not build, such
/// as the repository's config.toml).
pub fn edit_toml(path: &Path, edit: impl FnOnce(&mut toml::Table)) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    edit(&mut table);
    std::fs::write(path, toml::to_string(&table).unwrap()).unwrap();
}

/// The table `key` of `table`, created when missing.
pub fn toml_table<'a>(table: &'a mut toml::Table, key: &str) -> &'a mut toml::Table {
    table
        .entry(key)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap_or_else(|| panic!("'{key}' is not a table"))
}

// ---------------------------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------------------------

/// A test world: a temp folder, an emulator, and the config (at `config`) that points at it.
pub struct World {
    /// The temp folder: config.toml, inputs, `reports/<name>` of each run.
    pub dir: tempfile::TempDir,
    /// The tests' Graph.
    pub emulator: Emulator,
    /// config.toml's path.
    pub config: PathBuf,
    settings: Config,
}

/// How a [`World`] is set up: seed, emulator options and config; [`WorldBuilder::build`] starts it.
pub struct WorldBuilder {
    seed: serde_json::Value,
    options: Options,
    config: Config,
}

impl WorldBuilder {
    /// The emulator's options, used as given (see [`pinned`] for the test credentials).
    pub fn emulator(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// `targets = [...]`.
    pub fn targets(mut self, targets: &[&str]) -> Self {
        self.config.targets = Some(targets.iter().map(|t| t.to_string()).collect());
        self
    }

    /// `[plan] prune`.
    pub fn prune(mut self, on: bool) -> Self {
        self.config.plan.prune = Some(on);
        self
    }

    /// Sets `[plan]` keys.
    pub fn plan(mut self, edit: impl FnOnce(&mut Plan)) -> Self {
        edit(&mut self.config.plan);
        self
    }

    /// Sets `[rate]` keys.
    pub fn rate(mut self, edit: impl FnOnce(&mut Rate)) -> Self {
        edit(&mut self.config.rate);
        self
    }

    /// `[rate] concurrency`.
    pub fn concurrency(self, calls: usize) -> Self {
        self.rate(|r| r.concurrency = calls)
    }

    /// `[rate] batch`.
    pub fn batch(self, on: bool) -> Self {
        self.rate(|r| r.batch = Some(on))
    }

    /// `[rate] requests_per_second`.
    pub fn requests_per_second(self, rps: u32) -> Self {
        self.rate(|r| r.requests_per_second = Some(rps))
    }

    /// Sets `[auth]` keys.
    pub fn auth(mut self, edit: impl FnOnce(&mut Auth)) -> Self {
        edit(&mut self.config.auth);
        self
    }

    /// `[target.<name>]`.
    pub fn target(mut self, name: &str, table: Target) -> Self {
        self.config.target.insert(name.into(), table);
        self
    }

    /// Sets `[input]` keys.
    pub fn input(mut self, edit: impl FnOnce(&mut Input)) -> Self {
        edit(&mut self.config.input);
        self
    }

    /// `[input]` for a wide file: one row per person keyed by `user_column`, and `columns`
    /// (column, phone type).
    pub fn wide(self, user_column: &str, columns: &[(&str, &str)]) -> Self {
        self.input(|i| {
            i.format = Some("wide".into());
            i.user_column = Some(user_column.into());
            i.columns = Some(columns.iter().map(|(c, t)| (c.to_string(), t.to_string())).collect());
        })
    }

    /// Starts the emulator holding the seed and writes the config pointing at it.
    pub async fn build(self) -> World {
        let seed: Seed = serde_json::from_value(self.seed).expect("seed JSON");
        let emulator = Emulator::start("127.0.0.1:0".parse().unwrap(), &seed, self.options)
            .await
            .expect("emulator starts");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        let mut settings = self.config;
        settings.endpoint = emulator.url();
        settings.auth.authority_host = emulator.url();
        std::fs::write(&config, settings.to_toml()).unwrap();
        World {
            dir,
            emulator,
            config,
            settings,
        }
    }
}

/// Emulator options with the pinned test credentials and `o`'s other settings.
pub fn pinned(o: Options) -> Options {
    Options {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(SECRET.into()),
        ..o
    }
}

impl World {
    /// A world holding `seed` (JSON in the seed format), the pinned credentials and the test
    /// config; set it up further before [`WorldBuilder::build`].
    pub fn builder(seed: serde_json::Value) -> WorldBuilder {
        WorldBuilder {
            seed,
            options: pinned(Options::default()),
            config: Config::defaults(),
        }
    }

    /// A world holding `seed` with the test defaults.
    pub async fn new(seed: serde_json::Value) -> World {
        World::builder(seed).build().await
    }

    /// Changes the config between runs and writes it again.
    pub fn configure(&mut self, edit: impl FnOnce(&mut Config)) {
        edit(&mut self.settings);
        std::fs::write(&self.config, self.settings.to_toml()).unwrap();
    }

    /// The environment a run sees: the secret only.
    pub fn env(&self) -> Env {
        Env::from_pairs([
            ("AZURE_CLIENT_SECRET", SECRET.to_string()),
            (phonesync::lock::LOCK_DIR_VAR, self.lock_dir().display().to_string()),
        ])
    }

    /// The folder this world's runs keep their run locks in (the machine's, for them).
    pub fn lock_dir(&self) -> PathBuf {
        self.dir.path().join("locks")
    }

    /// Writes `csv` to a file in the temp folder and returns its path.
    pub fn csv(&self, name: &str, csv: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, csv).unwrap();
        path
    }

    /// The folder `reports/<name>` a run named `name` reports to.
    pub fn reports(&self, name: &str) -> PathBuf {
        self.dir.path().join("reports").join(name)
    }

    /// Runs the command line `args` (without the leading `phonesync`) in-process with `env`,
    /// stoppable through `stop`. The one place tests call the library: it returns the run's
    /// result and what the run wrote as its summary on the writer it is given (stdout for the
    /// binary).
    pub async fn invoke(&self, args: &[String], env: Env, stop: &Stop) -> (anyhow::Result<ExitCode>, Vec<u8>) {
        let cli = <Cli as clap::Parser>::parse_from(std::iter::once("phonesync".to_string()).chain(args.iter().cloned()));
        let mut summary = Vec::new();
        let result = phonesync::run_with(cli, env, stop, &mut summary).await;
        (result, summary)
    }

    /// The arguments of `phonesync <mode> <input> --quiet --config <config> --report-dir
    /// <reports/name> <extra>`, and that report folder.
    fn command(&self, mode: &str, input: &Path, name: &str, config: &Path, extra: &[&str]) -> (Vec<String>, PathBuf) {
        let reports = self.reports(name);
        let mut args: Vec<String> = vec![
            mode.into(),
            path_arg(input),
            "--quiet".into(),
            "--config".into(),
            path_arg(config),
            "--report-dir".into(),
            path_arg(&reports),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        (args, reports)
    }

    /// Runs `phonesync <mode> <input>` in-process with the world's config, reporting to
    /// `reports/<name>`; returns the run's result and that folder.
    pub async fn run(&self, mode: &str, input: &Path, name: &str) -> (anyhow::Result<ExitCode>, PathBuf) {
        self.run_with_args(mode, input, name, &[]).await
    }

    /// Like [`World::run`], also returning what the run wrote for its caller (the binary's
    /// stdout), as text.
    pub async fn run_and_read(&self, mode: &str, input: &Path, name: &str) -> (anyhow::Result<ExitCode>, PathBuf, String) {
        self.run_and_read_with_args(mode, input, name, &[]).await
    }

    /// [`World::run_and_read`] with extra command-line arguments.
    pub async fn run_and_read_with_args(
        &self,
        mode: &str,
        input: &Path,
        name: &str,
        extra: &[&str],
    ) -> (anyhow::Result<ExitCode>, PathBuf, String) {
        let (args, reports) = self.command(mode, input, name, &self.config, extra);
        let (result, said) = self.invoke(&args, self.env(), &Stop::new()).await;
        (result, reports, String::from_utf8(said).expect("the summary is UTF-8"))
    }

    /// Like [`World::run`], with extra command-line arguments (e.g. `--unmask`).
    pub async fn run_with_args(&self, mode: &str, input: &Path, name: &str, extra: &[&str]) -> (anyhow::Result<ExitCode>, PathBuf) {
        let (args, reports) = self.command(mode, input, name, &self.config, extra);
        (self.invoke(&args, self.env(), &Stop::new()).await.0, reports)
    }

    /// Like [`World::run`], with the environment `env`.
    pub async fn run_env(&self, mode: &str, input: &Path, name: &str, env: Env) -> (anyhow::Result<ExitCode>, PathBuf) {
        let (args, reports) = self.command(mode, input, name, &self.config, &[]);
        (self.invoke(&args, env, &Stop::new()).await.0, reports)
    }

    /// Like [`World::run`], with another config file (e.g. the `rollback.toml` a run wrote).
    pub async fn run_config(&self, mode: &str, input: &Path, name: &str, config: &Path) -> (anyhow::Result<ExitCode>, PathBuf) {
        let (args, reports) = self.command(mode, input, name, config, &[]);
        (self.invoke(&args, self.env(), &Stop::new()).await.0, reports)
    }

    /// Like [`World::run`], stopped early when `stop` is requested (as Ctrl-C would).
    pub async fn run_stoppable(&self, mode: &str, input: &Path, name: &str, stop: &Stop) -> (anyhow::Result<ExitCode>, PathBuf) {
        let (args, reports) = self.command(mode, input, name, &self.config, &[]);
        (self.invoke(&args, self.env(), stop).await.0, reports)
    }

    /// Runs `phonesync export --quiet --config <config> <args>` in-process.
    pub async fn export(&self, args: &[&str]) -> anyhow::Result<ExitCode> {
        let mut all: Vec<String> = vec!["export".into(), "--quiet".into(), "--config".into(), path_arg(&self.config)];
        all.extend(args.iter().map(|a| a.to_string()));
        self.invoke(&all, self.env(), &Stop::new()).await.0
    }

    /// The Graph calls the emulator served: single requests and `$batch` items, not the
    /// `$batch` envelopes themselves.
    pub fn calls(&self) -> Vec<phonesync_emulator::RequestRecord> {
        self.emulator
            .requests()
            .into_iter()
            .filter(|r| !r.path.ends_with("/$batch"))
            .collect()
    }

    /// The emulator's user with this UPN.
    pub fn user(&self, upn: &str) -> SeedUser {
        self.emulator
            .state()
            .users
            .into_iter()
            .find(|u| u.user_principal_name == upn)
            .expect("user in tenant")
    }

    /// That user's phones as (type, number), sorted.
    pub fn phones(&self, upn: &str) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .user(upn)
            .phone_methods
            .into_iter()
            .map(|p| (p.phone_type, p.phone_number))
            .collect();
        v.sort();
        v
    }

    /// (id, type, number, display name) of a user's profile phones, in the emulator's order.
    pub fn profile_phones(&self, upn: &str) -> Vec<(String, String, String, String)> {
        self.user(upn)
            .profile_phones
            .into_iter()
            .map(|p| {
                (
                    p.id.unwrap_or_default(),
                    p.phone_type.unwrap_or_default(),
                    p.number,
                    p.display_name.unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The writes the runs named `names` (reporting to `reports/<name>`) planned: see
    /// [`planned_writes`].
    pub fn planned_by(&self, names: &[&str]) -> Vec<PlannedWrite> {
        let dirs: Vec<PathBuf> = names.iter().map(|n| self.reports(n)).collect();
        let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
        planned_writes(self, &dirs)
    }

    /// Where the emulator's journal is now: a check from here leaves earlier runs out.
    pub fn journal_mark(&self) -> JournalMark {
        JournalMark(self.emulator.journal().len())
    }
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_string()
}

// ---------------------------------------------------------------------------------------------
// The journal check
// ---------------------------------------------------------------------------------------------

/// A position in an emulator's journal (see [`World::journal_mark`]).
#[derive(Debug, Clone, Copy)]
pub struct JournalMark(usize);

/// What the emulator's journal checker finds in `journal`, given the writes the runs planned
/// (`plan`, for its "outside the plan" check) or not. The one call into the checker.
pub fn journal_violations(journal: &[JournalEntry], plan: Option<&[PlannedWrite]>) -> Vec<Violation> {
    phonesync_emulator::check::check(journal, plan)
}

/// Panics listing every violation the emulator's checker finds in `journal`.
pub fn assert_entries_safe(journal: &[JournalEntry], plan: Option<&[PlannedWrite]>) {
    phonesync_emulator::check::assert_safe(journal, plan)
}

/// The whole journal of `w`'s emulator is safe: no dependency broken, no write twice, no user
/// below its floor of phone methods or of a number's types, and (given `plan`) no write outside
/// it.
pub fn assert_journal_safe(w: &World, plan: Option<&[PlannedWrite]>) {
    assert_entries_safe(&w.emulator.journal(), plan)
}

/// Like [`assert_journal_safe`], over the journal from `mark` on (one run's writes, when the
/// floors of an earlier run's users would mislead).
pub fn assert_journal_safe_since(w: &World, mark: JournalMark, plan: Option<&[PlannedWrite]>) {
    assert_entries_safe(&w.emulator.journal()[mark.0..], plan)
}

/// The writes the runs whose reports are in `dirs` planned and may have sent, from their
/// `outcomes.csv` (each op's id, target, user, type and kind), for the journal checker's "outside
/// the plan" check. Users are mapped to object ids through the emulator's tenant.
pub fn planned_writes(w: &World, dirs: &[&Path]) -> Vec<PlannedWrite> {
    let users = w.emulator.state().users;
    let id_of = |key: &str| {
        users
            .iter()
            .find(|u| u.id.eq_ignore_ascii_case(key) || u.user_principal_name.eq_ignore_ascii_case(key))
            .map(|u| u.id.clone())
    };
    let mut planned = Vec::new();
    for dir in dirs {
        let path = dir.join("outcomes.csv");
        if !path.exists() {
            continue;
        }
        for o in csv_rows(&path) {
            if o["op"] == "none" || o["clientRequestId"].is_empty() {
                continue;
            }
            if let Some(user_id) = id_of(&o["user"]) {
                planned.push(PlannedWrite {
                    op_id: o["clientRequestId"].clone(),
                    user_id,
                    phone_type: o["phoneType"].clone(),
                    op: o["op"].clone(),
                    // The item an update or delete was planned for (adds name none).
                    item_id: Some(o["itemId"].clone()).filter(|i| !i.is_empty()),
                    resource: match o["target"].as_str() {
                        "profile" => phonesync_emulator::tenant::Resource::ProfilePhones,
                        _ => phonesync_emulator::tenant::Resource::PhoneMethods,
                    },
                });
            }
        }
    }
    planned
}

/// The first write the emulator's journal shows that no op of `outcomes.csv` in `dir` names.
pub fn unaudited_write(w: &World, dir: &Path) -> Option<phonesync_emulator::ChangeRecord> {
    let path = dir.join("outcomes.csv");
    let audited: std::collections::BTreeSet<String> = if path.exists() {
        csv_rows(&path).into_iter().map(|o| o["clientRequestId"].clone()).collect()
    } else {
        Default::default()
    };
    w.emulator
        .change_records()
        .into_iter()
        .filter(|c| c.change.op != "enableSmsSignIn" && c.change.op != "disableSmsSignIn")
        .find(|c| c.by.as_ref().is_none_or(|by| !audited.contains(by)))
}

// ---------------------------------------------------------------------------------------------
// Reports, seeds and inputs
// ---------------------------------------------------------------------------------------------

/// Reads a CSV the tool wrote as header-keyed rows of the values it was written from (its
/// spreadsheet-safety rule undone, as the tool's own reader does).
pub fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .map(str::to_string)
                .zip(rec.unwrap().iter().map(|c| phonesync::sheet::phone_from_cell(c).to_string()))
                .collect()
        })
        .collect()
}

/// Every cell of the CSV at `path` as a spreadsheet would open it, checked: none starts a
/// formula except the text formula `="…"` of a phone number (`+`, digits, spaces, `x`).
/// Returns how many cells were quoted to be safe (so a caller can see the check had work).
pub fn assert_spreadsheet_safe(path: &Path) -> usize {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let trigger = |c: char| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r' | '＝' | '＋' | '－' | '＠');
    let mut quoted = 0;
    let mut cells = 0;
    for record in r.records() {
        for cell in record.unwrap().iter() {
            cells += 1;
            quoted += usize::from(cell.starts_with('\''));
            if !cell.starts_with(trigger) {
                continue;
            }
            let phone = cell
                .strip_prefix("=\"")
                .and_then(|c| c.strip_suffix('"'))
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| matches!(c, '+' | '0'..='9' | ' ' | 'x')));
            assert!(phone, "{}: the cell {cell:?} would run as a formula", path.display());
        }
    }
    assert!(cells > 0, "{} has no cells", path.display());
    quoted
}

/// Reads `summary.json`.
pub fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// Phone pairs for assertions.
pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list.iter().map(|(t, n)| (t.to_string(), n.to_string())).collect();
    v.sort();
    v
}

/// A file of the repository's `samples/` folder.
pub fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples").join(name)
}

/// The sample tenant (`samples/tenant.json`) as seed JSON.
pub fn sample_seed() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(sample("tenant.json")).unwrap()).unwrap()
}

/// A file of `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// A tenant of `n` users `u{i}@contoso.com` (object id `id{i}`), each with an office phone
/// `+1 425555{1000 + i}`, and an HR file moving every one of those numbers to mobile: each
/// user's plan is an add of mobile, then a delete of office that depends on it.
pub fn offices(n: usize) -> (serde_json::Value, String) {
    let users: Vec<_> = (0..n)
        .map(|i| serde_json::json!({"id": format!("id{i}"), "userPrincipalName": format!("u{i}@contoso.com"), "phoneMethods": [{"phoneType": "office", "phoneNumber": format!("+1 425555{:04}", 1000 + i)}]}))
        .collect();
    let mut csv = String::from("user,phoneType,phoneNumber\n");
    for i in 0..n {
        csv.push_str(&format!("u{i}@contoso.com,mobile,425-555-{:04}\n", 1000 + i));
    }
    (serde_json::json!({ "users": users }), csv)
}

// ---------------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------------

/// Runs the built binary in `dir` with `args`, without AZURE_CLIENT_SECRET from this process.
pub fn phonesync(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phonesync"))
        .current_dir(dir)
        .args(args)
        .env_remove("AZURE_CLIENT_SECRET")
        .output()
        .expect("binary runs")
}

/// Everything a process printed: stdout, then stderr.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A folder laid out as the README's quick start: `samples/` and the repository's config.toml
/// (the embedded emulator, seeded with the sample tenant).
pub fn embedded_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("samples")).unwrap();
    for f in ["tenant.json", "hr_phones.csv"] {
        std::fs::copy(sample(f), dir.path().join("samples").join(f)).unwrap();
    }
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml"),
        dir.path().join("config.toml"),
    )
    .unwrap();
    dir
}

/// Every file under `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path))
        } else {
            files.push(path)
        }
    }
    files
}
