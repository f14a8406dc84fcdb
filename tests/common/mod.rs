//! Shared test harness: an emulator on 127.0.0.1:0, a config pointing at it, and helpers to run
//! phonesync in-process and read the reports it wrote.

#![allow(dead_code)]

use phonesync::cli::Cli;
use phonesync::config::Env;
use phonesync_emulator::{Emulator, Options, Seed, SeedUser};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The client id the test emulators pin.
pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
/// The client secret the test emulators pin.
pub const SECRET: &str = "test-secret-value-7f3a9c";

/// A test world: a temp folder, an emulator, and the config that points at it.
pub struct World {
    pub dir: tempfile::TempDir,
    pub emulator: Emulator,
    pub config: PathBuf,
}

impl World {
    /// Starts an emulator holding `seed` (JSON in the seed format) and writes a config for it.
    pub async fn new(seed: serde_json::Value) -> World {
        World::with_config(seed, "").await
    }

    /// Like [`World::new`], with extra config lines appended (e.g. a `[plan]` table).
    pub async fn with_config(seed: serde_json::Value, extra: &str) -> World {
        let options = Options {
            client_id: Some(CLIENT_ID.into()),
            client_secret: Some(SECRET.into()),
            ..Options::default()
        };
        World::build(seed, options, extra, "").await
    }

    /// The general form: emulator `options`, extra config lines, and extra `[auth]` lines.
    pub async fn build(seed: serde_json::Value, options: Options, extra: &str, auth_extra: &str) -> World {
        let seed: Seed = serde_json::from_value(seed).expect("seed JSON");
        let emulator = Emulator::start("127.0.0.1:0".parse().unwrap(), &seed, options)
            .await
            .expect("emulator starts");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        let url = emulator.url();
        let text = format!(
            "endpoint = \"{url}\"\n\n[auth]\ntenant_id = \"contoso\"\nclient_id = \"{CLIENT_ID}\"\nauthority_host = \"{url}\"\n{auth_extra}\n\
             [rate]\nrequests_per_second = 1000\nconcurrency = 4\nmax_backoff_seconds = 0.2\n{extra}"
        );
        std::fs::write(&config, text).unwrap();
        World { dir, emulator, config }
    }

    /// Replaces a line of the config, e.g. `("concurrency = 4", "concurrency = 1")`.
    pub fn edit_config(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        assert!(text.contains(from), "config has no '{from}'");
        std::fs::write(&self.config, text.replace(from, to)).unwrap();
    }

    /// Sets the run's ceiling on requests per second.
    pub fn set_rate(&self, rps: u32) {
        self.edit_config("requests_per_second = 1000", &format!("requests_per_second = {rps}"));
    }

    /// The environment a run sees: the secret only.
    pub fn env(&self) -> Env {
        Env::from_pairs([("AZURE_CLIENT_SECRET", SECRET)])
    }

    /// Writes `csv` to a file in the temp folder and returns its path.
    pub fn csv(&self, name: &str, csv: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, csv).unwrap();
        path
    }

    /// Runs `phonesync <mode> <input> --config … --report-dir <reports/name>` in-process.
    pub async fn run(&self, mode: &str, input: &Path, name: &str) -> (anyhow::Result<ExitCode>, PathBuf) {
        self.run_env(mode, input, name, self.env()).await
    }

    /// Like [`World::run`], stopped early when `stop` is requested (as Ctrl-C would).
    pub async fn run_stoppable(
        &self,
        mode: &str,
        input: &Path,
        name: &str,
        stop: &phonesync::interrupt::Stop,
    ) -> (anyhow::Result<ExitCode>, PathBuf) {
        let (cli, reports) = self.cli(mode, input, name);
        (phonesync::run_with(cli, self.env(), stop, &mut std::io::sink()).await, reports)
    }

    fn cli(&self, mode: &str, input: &Path, name: &str) -> (Cli, PathBuf) {
        self.cli_with(mode, input, name, &[])
    }

    fn cli_with(&self, mode: &str, input: &Path, name: &str, extra: &[&str]) -> (Cli, PathBuf) {
        let reports = self.dir.path().join("reports").join(name);
        let mut args = vec![
            "phonesync",
            mode,
            input.to_str().unwrap(),
            "--quiet",
            "--config",
            self.config.to_str().unwrap(),
            "--report-dir",
            reports.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        (<Cli as clap::Parser>::parse_from(args), reports)
    }

    /// Like [`World::run`], with extra command-line arguments (e.g. `--unmask`).
    pub async fn run_with_args(&self, mode: &str, input: &Path, name: &str, extra: &[&str]) -> (anyhow::Result<ExitCode>, PathBuf) {
        let (cli, reports) = self.cli_with(mode, input, name, extra);
        (phonesync::run_async(cli, self.env(), &mut std::io::sink()).await, reports)
    }

    /// Like [`World::run`], with the environment `env`.
    pub async fn run_env(&self, mode: &str, input: &Path, name: &str, env: Env) -> (anyhow::Result<ExitCode>, PathBuf) {
        let (cli, reports) = self.cli(mode, input, name);
        (phonesync::run_async(cli, env, &mut std::io::sink()).await, reports)
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
}

/// Reads a report CSV as header-keyed rows.
pub fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .map(str::to_string)
                .zip(rec.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
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

/// Checks the journal invariants every run must keep, and panics with the first violation:
/// - per user, no delete of a phone ran before the add it depends on: a user's method count
///   never drops below both its count before the run and its count after it;
/// - no type was added twice in a row without a delete between (no duplicate add).
pub fn assert_journal_invariants(changes: &[phonesync_emulator::Change]) {
    use std::collections::HashMap;
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut last: HashMap<&str, usize> = HashMap::new();
    let mut lowest: HashMap<&str, usize> = HashMap::new();
    let mut present: HashMap<(&str, &str), bool> = HashMap::new();
    // Profile phones may hold several of one type and are no sign-in phones: only phone methods.
    let methods = changes
        .iter()
        .filter(|c| c.resource == phonesync_emulator::tenant::Resource::PhoneMethods);
    for c in methods {
        first.entry(&c.user_id).or_insert(c.methods_before);
        last.insert(&c.user_id, c.methods_after);
        let low = lowest.entry(&c.user_id).or_insert(c.methods_before);
        *low = (*low).min(c.methods_after);
        let slot = present.entry((&c.user_id, c.phone_type)).or_insert(c.before.is_some());
        match c.op {
            "add" => {
                assert!(!*slot, "duplicate add of {} for {}", c.phone_type, c.user_id);
                *slot = true;
            }
            "delete" => *slot = false,
            _ => {}
        }
    }
    for (user, low) in lowest {
        let floor = first[user].min(last[user]);
        assert!(
            low >= floor,
            "{user} went down to {low} methods, below both {} before and {} after",
            first[user],
            last[user]
        );
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

/// The writes the runs whose reports are in `dirs` planned and may have sent, from their
/// `outcomes.csv` (each op's id, target, user, type and kind), for the journal checker's "outside the
/// plan" check. Users are mapped to object ids through the emulator's tenant.
pub fn planned_writes(w: &World, dirs: &[&Path]) -> Vec<phonesync_emulator::check::PlannedWrite> {
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
                planned.push(phonesync_emulator::check::PlannedWrite {
                    op_id: o["clientRequestId"].clone(),
                    user_id,
                    phone_type: o["phoneType"].clone(),
                    op: o["op"].clone(),
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

/// Every write the emulator's journal shows was made by an op `outcomes.csv` in `dir` names;
/// returns the first that is not.
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
