//! One `apply` per tenant per machine. Two scheduled runs that overlap (a slow night, a manual
//! run during the cron one, two configs in two folders pointing at one tenant) would plan from
//! the same state and write over each other; the second one stops instead, naming the first.
//!
//! The lock is an operating-system lock on a file named by the tenant, in one folder per
//! machine whatever the config's folder (`PHONESYNC_LOCK_DIR`, default `phonesync-locks` in the
//! system's temporary folder; the embedded emulator's tenant is its state folder, so its lock
//! lives there). It ends with its process however that process ends (a kill, a reboot). The
//! file names the holder (process id, start time, config) for the message, and is emptied on a
//! normal release, so a holder found in a free lock names a run that died holding it, which is
//! said as a warning. It cannot see another machine: run one scheduler per tenant.

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The variable naming the per-machine folder of run locks.
pub const LOCK_DIR_VAR: &str = "PHONESYNC_LOCK_DIR";

/// The per-machine folder of run locks when `PHONESYNC_LOCK_DIR` is not set: `/tmp` on Unix
/// (not `$TMPDIR`, which is per user on some systems), the temporary folder elsewhere.
pub fn default_dir() -> PathBuf {
    #[cfg(unix)]
    let base = PathBuf::from("/tmp");
    #[cfg(not(unix))]
    let base = std::env::temp_dir();
    base.join("phonesync-locks")
}

/// The longest holder description read back from a lock file (anyone may write it).
const MAX_HOLDER: usize = 300;

/// A held run lock; dropping it releases it.
#[derive(Debug)]
pub struct RunLock {
    file: File,
}

impl RunLock {
    /// Takes the lock of `tenant` in `dir` for the run described by `holder` (e.g. its config's
    /// path), or says which run holds it. Returns a warning when the previous holder ended
    /// without releasing it.
    pub fn take(dir: &Path, tenant: &str, holder: &str) -> Result<(RunLock, Option<String>)> {
        shared_dir(dir)?;
        let path = crate::files::tenant_file(dir, tenant, "apply.lock");
        let mut file = open(&path)?;
        let mut previous = String::new();
        match try_lock_for(&file, HELD_FOR_AN_INSTANT) {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let _ = file.read_to_string(&mut previous);
                let who = match describe(&previous) {
                    None => "another phonesync apply".to_string(),
                    Some(who) => format!("another phonesync apply ({who})"),
                };
                bail!(
                    "{who} is running against this tenant on this machine; wait for it to finish (lock: {})",
                    path.display()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        let _ = file.read_to_string(&mut previous);
        let warning = describe(&previous).map(|who| {
            format!(
                "the previous apply against this tenant ({who}) ended without finishing; its lock {} is taken over",
                path.display()
            )
        });
        let started = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}\n{started}\n{holder}\n", std::process::id()))
            .and_then(|()| file.flush())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok((RunLock { file }, warning))
    }
}

/// The holder a lock file names ("process 4242, started …, config …"), if it names one; shown
/// visibly and clipped, since any user of the machine may have written it.
fn describe(content: &str) -> Option<String> {
    let content: String = content.chars().take(MAX_HOLDER).collect();
    let mut lines = content.lines().map(|l| crate::console::visible(l.trim()).into_owned());
    let pid = lines.next().filter(|p| !p.is_empty())?;
    let mut who = format!("process {pid}");
    if let Some(started) = lines.next().filter(|s| !s.is_empty()) {
        who.push_str(&format!(", started {started}"));
    }
    if let Some(config) = lines.next().filter(|s| !s.is_empty()) {
        who.push_str(&format!(", config {config}"));
    }
    Some(who)
}

/// Makes `dir` ready to hold the locks of every user of the machine: created open to all with
/// the sticky bit (as `/tmp`: nobody removes another's file), and never a symlink someone
/// planted in its place.
fn shared_dir(dir: &Path) -> Result<()> {
    match dir.symlink_metadata() {
        Ok(m) if m.file_type().is_symlink() => bail!(
            "the run lock folder {} is a symlink: set {LOCK_DIR_VAR} to a real folder",
            dir.display()
        ),
        Ok(m) => trusted(dir, &m),
        Err(_) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create the run lock folder {}", dir.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777));
            }
            Ok(())
        }
    }
}

/// Whether an existing lock folder can be trusted: owned by this user or by root, and, if
/// others may write in it, sticky (so nobody deletes the lock file a run holds, letting a second
/// run lock a new one).
fn trusted(dir: &Path, meta: &std::fs::Metadata) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        let mode = meta.mode();
        if meta.uid() != me && meta.uid() != 0 {
            bail!(
                "the run lock folder {} belongs to another user: set {LOCK_DIR_VAR} to a folder of yours or root's",
                dir.display()
            );
        }
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            bail!(
                "the run lock folder {} may be written by others but is not sticky (chmod +t it, or set {LOCK_DIR_VAR})",
                dir.display()
            );
        }
    }
    let _ = (dir, meta);
    Ok(())
}

/// Opens (or creates) the lock file at `path`, never through a symlink; one this process
/// creates may be locked by the machine's other users too.
fn open(path: &Path) -> Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW).mode(0o666);
    }
    let file = options
        .open(path)
        .with_context(|| format!("cannot open the run lock {}", path.display()))?;
    #[cfg(unix)]
    {
        // The mode above is narrowed by the umask; another user's apply must open it too.
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o666));
    }
    Ok(file)
}

/// How long a lock found held is tried again before the run stops: a process starting another
/// program holds a copy of every open file, locks included, from its fork until the program
/// starts, so a lock just released can look held for an instant.
const HELD_FOR_AN_INSTANT: std::time::Duration = std::time::Duration::from_millis(250);

/// Takes the lock of `file`, trying again for up to `patience` while it is held.
fn try_lock_for(file: &File, patience: std::time::Duration) -> Result<(), std::fs::TryLockError> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        match file.try_lock() {
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Emptied, not removed: removing a locked file lets a later run lock a new one while
        // an earlier waiter holds the old. The operating system releases the lock on close.
        let _ = self.file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_is_refused_naming_the_first_and_a_dead_holder_is_said() {
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join("locks");
        let tenant = "https://graph.microsoft.com|contoso";
        let (held, warning) = RunLock::take(&locks, tenant, "/etc/phonesync/a.toml").unwrap();
        assert_eq!(warning, None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(locks.metadata().unwrap().permissions().mode() & 0o7777, 0o1777, "shared, sticky");
        }
        let e = RunLock::take(&locks, tenant, "/etc/phonesync/b.toml").unwrap_err().to_string();
        assert!(e.contains(&format!("process {}, started 20", std::process::id())), "{e}");
        assert!(e.contains("config /etc/phonesync/a.toml"), "{e}");
        // Another tenant has its own lock.
        let other = RunLock::take(&locks, "https://graph.microsoft.com|fabrikam", "x").unwrap();
        drop((held, other));
        // Released normally: taken again without a word.
        let (held, warning) = RunLock::take(&locks, tenant, "x").unwrap();
        assert_eq!(warning, None);
        drop(held);
        // A run that died holding it leaves its holder in a free lock.
        let path = crate::files::tenant_file(&locks, tenant, "apply.lock");
        std::fs::write(&path, "4242\n2026-12-04T01:00:00Z\n/x/config.toml\n").unwrap();
        let (_held, warning) = RunLock::take(&locks, tenant, "x").unwrap();
        let warning = warning.unwrap();
        assert!(
            warning.contains("process 4242, started 2026-12-04T01:00:00Z, config /x/config.toml"),
            "{warning}"
        );
        // Anyone may write the file: what it says is shown visibly and clipped.
        drop(_held);
        std::fs::write(&path, format!("42\u{202E}\x1b[2J\n{}\n", "x".repeat(5000))).unwrap();
        let (_held, warning) = RunLock::take(&locks, tenant, "x").unwrap();
        let warning = warning.unwrap();
        assert!(
            warning.contains("process 42\\u{202E}\\u{001B}[2J") && warning.len() < 700,
            "{warning}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_folder_others_may_empty_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join("locks");
        std::fs::create_dir(&locks).unwrap();
        std::fs::set_permissions(&locks, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = RunLock::take(&locks, "t", "x").unwrap_err().to_string();
        assert!(e.contains("not sticky"), "{e}");
        std::fs::set_permissions(&locks, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(RunLock::take(&locks, "t", "x").is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        let locks = dir.path().join("locks");
        std::fs::create_dir(&locks).unwrap();
        let tenant = "https://graph.microsoft.com|contoso";
        std::os::unix::fs::symlink(&victim, crate::files::tenant_file(&locks, tenant, "apply.lock")).unwrap();
        assert!(RunLock::take(&locks, tenant, "x").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        let linked = dir.path().join("linked");
        std::os::unix::fs::symlink(dir.path(), &linked).unwrap();
        let e = RunLock::take(&linked, tenant, "x").unwrap_err().to_string();
        assert!(e.contains("is a symlink"), "{e}");
    }
}
