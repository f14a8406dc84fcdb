//! `config.toml` plus the standard `AZURE_*` environment variables → one validated, typed
//! [`Config`]. Every later stage takes values from here and never reads the file or the
//! environment itself; a bad value stops the run with the key and the file named.
//!
//! Split by concern: `raw` (the file as written), `endpoint` (where Graph is, `[rate]`),
//! `signin` (`[auth]` and `AZURE_*`), `input` (`[input]`), `env` (the environment). A leaf: it
//! imports nothing from the rest of the tool. Values whose meaning belongs to another
//! module (a target's phone types, a region code) are checked for shape here and interpreted
//! there, which reports a bad one through [`Config::error`] in the same words.

pub mod endpoint;
pub mod env;
pub mod input;
pub mod raw;
pub mod signin;

pub use endpoint::{Endpoint, Rate, WRITES_PER_150S, resource_units_per_10s};
pub use env::{ACCESS_TOKEN_VAR, EXPECT_DIGEST_VAR, Env};
pub use input::{InputEncoding, InputFormat, InputSettings};
pub use signin::{AssertionAlgorithm, Auth, SignIn};

use anyhow::{Context, Result, anyhow};
use raw::{Bad, RawPlan, RawTarget};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Deletes one run may make unless told otherwise: directory sync's accidental-delete default.
pub const DEFAULT_MAX_DELETES: u64 = 500;

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
        let raw = raw::read(text, path)?;
        let bad = |key: &str, why: String| anyhow!("{}: {key}: {why}", path.display());
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        // Checked in the file's reading order, so the first of several errors is the same one
        // whichever module checks it.
        let endpoint = endpoint::parse_endpoint(&raw.endpoint).map_err(|why| bad("endpoint", why))?;
        let authority_host = signin::authority_host(&raw.auth, env, &bad)?;
        let rate = endpoint::rate(raw.rate, &bad)?;
        Guards::refuse_moved(&raw.plan, &bad)?;
        let targets = target_sections(&raw.targets, &raw.target, &bad)?;
        let default_region = raw.input.default_region.trim().to_string();
        let input = input::input_settings(raw.input, &bad)?;
        if default_region.len() != 2 || !default_region.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(bad(
                "input.default_region",
                format!("'{default_region}' is not a two-letter region code such as US, GB or DE"),
            ));
        }
        let auth = signin::auth(raw.auth, env, &resolve, authority_host, &bad)?;
        let guards = Guards::read(&raw.plan, &bad)?;
        Ok(Config {
            path: path.to_path_buf(),
            endpoint,
            auth,
            rate,
            targets,
            prune: raw.plan.prune,
            max_deletes: guards.max_deletes,
            max_delete_percent: guards.max_delete_percent,
            max_shrink_percent: guards.max_shrink_percent,
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

/// The delete and shrink limits of `[plan]`, checked.
struct Guards {
    max_deletes: u64,
    max_delete_percent: Option<f64>,
    max_shrink_percent: f64,
}

impl Guards {
    /// Refuses a key of `[plan]` that has moved elsewhere.
    fn refuse_moved(plan: &RawPlan, bad: Bad) -> Result<()> {
        if plan.managed_types.is_some() {
            return Err(bad(
                "plan.managed_types",
                "has moved: write it as managed_types under [target.auth] (and [target.profile] for profile phones)".into(),
            ));
        }
        Ok(())
    }

    /// The limits of `plan`, checked.
    fn read(plan: &RawPlan, bad: Bad) -> Result<Guards> {
        Ok(Guards {
            max_deletes: plan.max_deletes.unwrap_or(DEFAULT_MAX_DELETES),
            max_delete_percent: match plan.max_delete_percent {
                Some(p) if !(p > 0.0 && p <= 100.0) => {
                    return Err(bad(
                        "plan.max_delete_percent",
                        format!("{p} is not a percentage above 0 and at most 100"),
                    ));
                }
                p => p,
            },
            max_shrink_percent: match plan.max_shrink_percent {
                Some(p) if !(0.0..=100.0).contains(&p) => {
                    return Err(bad("plan.max_shrink_percent", format!("{p} is not a percentage from 0 to 100")));
                }
                p => p.unwrap_or(50.0),
            },
        })
    }
}

/// The targets named in `targets = [...]`, each with its `[target.NAME]` table; a name given
/// twice, none at all, or a table of a target not named is refused.
fn target_sections(names: &[String], tables: &BTreeMap<String, RawTarget>, bad: Bad) -> Result<Vec<TargetSection>> {
    let mut targets: Vec<TargetSection> = Vec::new();
    for name in names {
        if targets.iter().any(|t| t.name == *name) {
            return Err(bad("targets", format!("'{name}' is named twice")));
        }
        let section = tables.get(name);
        targets.push(TargetSection {
            name: name.clone(),
            managed_types: section.and_then(|s| s.managed_types.clone()),
            from: section.and_then(|s| s.from.clone()),
        });
    }
    if targets.is_empty() {
        return Err(bad("targets", "names no target, so there would be nothing to do".into()));
    }
    if let Some(name) = tables.keys().find(|k| !names.contains(k)) {
        return Err(bad(
            &format!("target.{name}"),
            format!("'{name}' is not in targets = [...], so this table would be ignored; add it there or remove the table"),
        ));
    }
    Ok(targets)
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

    /// A time of 0 (or below, or beyond a day, or not a number) says what it is and what to give.
    #[test]
    fn a_time_that_cannot_be_waited_says_what_to_give() {
        for v in ["0", "-1", "86401", "nan"] {
            let e = parse(&format!("[rate]\nrequest_timeout_seconds = {v}\n")).unwrap_err().to_string();
            assert!(e.contains("rate.request_timeout_seconds"), "{v}: {e}");
            assert!(e.contains("give seconds above 0 and at most 86400"), "{v}: {e}");
            assert!(!e.contains("between 0 and"), "{v}: {e}");
        }
        assert!(parse("[rate]\nrequest_timeout_seconds = 0.5\n").is_ok());
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
