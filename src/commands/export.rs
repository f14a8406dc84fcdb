//! `phonesync export`: the tenant's current phones, every configured target, written as an input
//! file with the config that applies it (`snapshot`). The starting point of a migration (edit the
//! file, plan it, apply it) and a backup before one. Reads go through the same paced, retried,
//! batched client as any run; users come from `--users` or from listing the tenant's users.

use crate::cli::ExportArgs;
use crate::commands::setup;
use crate::config::{Config, Env};
use crate::console::{self, Out};
use crate::graph::connect;
use crate::graph::request::next_link_path;
use crate::graph::{GraphClient, Version};
use crate::input::identity;
use crate::interrupt::Stop;
use crate::model::{DesiredUser, SkipReason};
use crate::pipeline::fetcher;
use crate::progress;
use crate::report::snapshot;
use crate::sheet::{Cell, CsvFile};
use crate::targets::Target;
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The files an export writes, all new.
struct Paths {
    /// The input file.
    out: PathBuf,
    /// The config that applies it.
    toml: PathBuf,
    /// Who could not be read.
    unread: PathBuf,
}

impl Paths {
    /// The files beside `--out`, or why they cannot be written: nothing is overwritten, and
    /// nothing is half-written on a refusal.
    fn new(out: &Path) -> Result<Paths> {
        let paths = Paths {
            out: out.to_path_buf(),
            toml: out.with_extension("toml"),
            unread: out.with_extension("unread.csv"),
        };
        if paths.toml == paths.out {
            bail!(
                "--out {} must not end in .toml: its config is written beside it as .toml",
                out.display()
            );
        }
        for path in [&paths.out, &paths.toml, &paths.unread] {
            if path.symlink_metadata().is_ok() {
                bail!("{} already exists: export writes new files only", path.display());
            }
        }
        Ok(paths)
    }
}

/// Per target, per user named: what was read.
type Reads = Vec<Vec<fetcher::Read>>;

/// Runs `export`: exit 0 when every user was read, 1 when some could not be (their cells say
/// `?`, so applying the file leaves them as they are), 2 on a fatal error, 130/143 when stopped.
pub async fn export(args: &ExportArgs, env: &Env, stop: &Stop, out: Out<'_>) -> Result<ExitCode> {
    let (config, _, targets) = setup::load(&args.config, env)?;
    let paths = Paths::new(&args.out)?;
    let listed = match &args.users {
        Some(path) => Some(users_file(path)?),
        None => None,
    };
    let scopes: Vec<&str> = targets.iter().flat_map(|t| t.delegated_scopes().iter().copied()).collect();
    let signing_in = ("signing in", "nothing was exported");
    let connection = match setup::unless_stopped(connect::open(&config, &scopes), stop, config.rate.stop_grace, signing_in).await? {
        Ok(connection) => connection,
        Err(code) => return Ok(code),
    };
    // A stop ends the export within its grace, whatever Graph does.
    let _stop = setup::StopGuard::new(stop, connection.client.halt().clone(), config.rate.stop_grace);
    if !args.quiet {
        console::info(&format!("phonesync export: {}", connection.label));
    }
    let read = read(connection.client.as_ref(), &config, &targets, listed, args.quiet, stop).await;
    let label = connection.label.clone();
    connection.close(false).await?;
    let (names, reads) = read?;
    let unread: Vec<(String, String)> = targets
        .iter()
        .zip(&reads)
        .flat_map(|(target, reads)| {
            names.iter().zip(reads).filter_map(move |(user, read)| {
                read.as_ref()
                    .err()
                    .map(|(reason, _)| (format!("{user} ({})", target.name()), reason.to_string()))
            })
        })
        .collect();
    let found = write(&paths, &config, &targets, &names, &reads, &label)?;
    write_unread(&paths.unread, &unread)?;
    let _ = writeln!(
        out,
        "Exported {} to {} ({} failed; the cells they leave unknown hold '?', left as they are when applied)\nConfig to apply it with: {}",
        console::count(found as u64, "user"),
        paths.out.display(),
        console::count(unread.len() as u64, "read"),
        paths.toml.display()
    );
    if let Some(code) = stop.exit_code() {
        return Ok(ExitCode::from(code));
    }
    Ok(if unread.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The users to export (`listed`, or every user of the tenant) and their phones in every target.
async fn read(
    api: &GraphClient,
    config: &Config,
    targets: &[Box<dyn Target>],
    listed: Option<Vec<String>>,
    quiet: bool,
    stop: &Stop,
) -> Result<(Vec<String>, Reads)> {
    let names = match listed {
        Some(names) => once_each(api, names, config.rate.users_in_flight(), stop).await,
        None => list_users(api).await?,
    };
    let users = as_users(&names);
    let bar = progress::bar(
        (users.len() * targets.len()) as u64,
        "read",
        quiet,
        Some(api.stats.throttled.clone()),
    );
    let reads = fetcher::fetch_all(api, targets, &users, config.rate.users_in_flight(), &bar, stop)
        .await
        .map_err(|e| anyhow::anyhow!("Graph answered none of the reads, so nothing was exported: {e}"))?;
    Ok((names, reads))
}

/// `names` as users with nothing wanted (what the fetcher reads).
fn as_users(names: &[String]) -> Vec<DesiredUser> {
    names
        .iter()
        .map(|u| DesiredUser {
            user: u.clone(),
            ..DesiredUser::default()
        })
        .collect()
}

/// The users `names` lists, each person once: a list naming people both by UPN and by object id
/// is resolved (as a run resolves its HR file's keys) and a later name of a person already
/// listed is dropped, so the export has one row per person. A name that cannot be resolved stays
/// (its read then says why).
async fn once_each(api: &GraphClient, names: Vec<String>, concurrency: usize, stop: &Stop) -> Vec<String> {
    let users = as_users(&names);
    if !identity::mixed(&users) {
        return names;
    }
    let resolved = identity::resolve(api, &users, concurrency, stop).await;
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .zip(resolved)
        .filter(|(_, id)| id.as_ref().map_or(true, |id| seen.insert(id.clone())))
        .map(|(name, _)| name)
        .collect()
}

/// Writes the export and its config; returns how many users it holds. Users not found at all
/// are left out; the others are written, unknown cells as `?`.
fn write(paths: &Paths, config: &Config, targets: &[Box<dyn Target>], names: &[String], reads: &Reads, label: &str) -> Result<usize> {
    let index: std::collections::HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let state = |t: usize, user: &str| reads[t][*index.get(user)?].as_ref().ok();
    let found: Vec<&str> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| !reads.iter().all(|r| matches!(r[*i], Err((SkipReason::NotFound, _)))))
        .map(|(_, n)| n.as_str())
        .collect();
    let comment = format!(
        "# Written by phonesync export: {} of {}. Edit {} (an empty cell: no phone of that\n\
         # type), review with `phonesync plan {} --config {}`, then apply it the same way.\n\
         # Prune is on: a phone whose cell you empty is deleted.\n",
        console::count(found.len() as u64, "user"),
        label,
        paths.out.display(),
        paths.out.display(),
        paths.toml.display()
    );
    snapshot::write(
        &paths.out,
        &paths.toml,
        &comment,
        config,
        targets,
        &found,
        &state,
        snapshot::Guards::Kept,
    )?;
    Ok(found.len())
}

/// Who could not be read goes to a file beside the export, not to the logs.
fn write_unread(path: &Path, unread: &[(String, String)]) -> Result<()> {
    if unread.is_empty() {
        return Ok(());
    }
    let mut csv = CsvFile::new(Vec::new(), &["user", "why"])?;
    for (user, why) in unread {
        csv.row(&[Cell::Text(user), Cell::Text(why)])?;
    }
    let bytes = csv.into_inner().context("cannot write the list of users not read")?;
    crate::files::create_private(path)?
        .write_all(&bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    console::warn(&format!(
        "{} failed (a user not found, or their phones unreadable in a target): see {}",
        console::count(unread.len() as u64, "read"),
        path.display()
    ));
    Ok(())
}

/// The users a `--users` file names, in order, once each.
fn users_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the users file {}", path.display()))?;
    let mut seen = std::collections::HashSet::new();
    let users: Vec<String> = text
        .lines()
        .map(|l| l.trim_start_matches('\u{feff}').trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .enumerate()
        .filter(|(i, l)| !(*i == 0 && (l.eq_ignore_ascii_case("user") || l.eq_ignore_ascii_case("userPrincipalName"))))
        .map(|(_, l)| l.to_string())
        .filter(|l| seen.insert(l.to_lowercase()))
        .collect();
    if users.is_empty() {
        bail!(
            "the users file {} names no user: write one object id or UPN per line",
            path.display()
        );
    }
    Ok(users)
}

/// Every user of the tenant (their UPNs), page by page (`GET /users`, following
/// `@odata.nextLink` on the configured endpoint, never on the host the link names).
async fn list_users(api: &GraphClient) -> Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Page {
        value: Vec<User>,
        #[serde(rename = "@odata.nextLink")]
        next: Option<String>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct User {
        id: String,
        user_principal_name: Option<String>,
    }
    let mut users = Vec::new();
    let mut path = "/users?$select=id,userPrincipalName&$top=999".to_string();
    let mut seen = std::collections::HashSet::new();
    loop {
        // A link that comes round again would page for ever.
        if !seen.insert(path.clone()) {
            bail!("Graph sent the same next page link twice while listing users: pass --users FILE to name them");
        }
        let (page, _) = api
            .get_as::<Page>(Version::V1, path, "the list of users")
            .await
            .map_err(|e| anyhow::anyhow!("cannot list the tenant's users (pass --users FILE to name them): {e}"))?;
        users.extend(page.value.into_iter().map(|u| u.user_principal_name.unwrap_or(u.id)));
        match page.next {
            None => return Ok(users),
            Some(link) => path = next_link_path(&link).map_err(anyhow::Error::msg)?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_next_link_is_followed_on_the_configured_endpoint() {
        assert_eq!(
            next_link_path("https://graph.microsoft.com/v1.0/users?$top=999&$skiptoken=X%2BY").unwrap(),
            "/users?$top=999&$skiptoken=X%2BY"
        );
        assert!(next_link_path("/relative").is_err());
        assert!(next_link_path("https://evil.example/users").is_err());
    }

    #[test]
    fn a_users_file_is_one_user_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.txt");
        std::fs::write(&path, "\u{feff}user\r\n# comment\r\na@contoso.com\r\n\r\nA@CONTOSO.COM\r\nid-2\r\n").unwrap();
        assert_eq!(users_file(&path).unwrap(), ["a@contoso.com", "id-2"]);
        std::fs::write(&path, "# nobody\n").unwrap();
        assert!(format!("{:#}", users_file(&path).unwrap_err()).contains("names no user"));
    }
}
