//! One `apply` per tenant at a time. Two scheduled runs that overlap (a slow night, a manual
//! run during the cron one) would plan from the same state and write over each other; the
//! second one stops instead, naming the first. The lock is a file in the folder that keeps the
//! tenant's state between runs, holding the process id; a lock left by a process that is gone
//! (killed, machine restarted) is taken over with a warning.

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A held run lock; dropping it releases it.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

/// The lock file of `tenant` in `dir`.
fn path(dir: &Path, tenant: &str) -> PathBuf {
    crate::files::tenant_file(dir, tenant, "apply.lock")
}

impl RunLock {
    /// Takes the lock of `tenant` in `dir`, or says which process holds it. Returns a warning
    /// when it took over a lock whose process is gone.
    pub fn take(dir: &Path, tenant: &str) -> Result<(RunLock, Option<String>)> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = path(dir, tenant);
        let mut warning = None;
        // Twice at most: once more after removing a stale lock.
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    writeln!(file, "{}", std::process::id()).with_context(|| format!("cannot write {}", path.display()))?;
                    return Ok((RunLock { path }, warning));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let holder = text.trim().parse::<u32>().ok();
                    match holder {
                        Some(pid) if alive(pid) => bail!(
                            "another phonesync apply (process {pid}) is running against this tenant; wait for it to finish (lock: {})",
                            path.display()
                        ),
                        _ => {
                            warning = Some(format!(
                                "took over the run lock {} left by process {} that is no longer running",
                                path.display(),
                                holder.map_or("(unknown)".to_string(), |p| p.to_string())
                            ));
                            std::fs::remove_file(&path).with_context(|| format!("cannot remove the stale lock {}", path.display()))?;
                        }
                    }
                }
                Err(e) => return Err(e).with_context(|| format!("cannot create the run lock {}", path.display())),
            }
        }
        bail!("cannot take the run lock {}: another run keeps taking it", path.display())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether process `pid` exists (on Linux, by its `/proc` entry; elsewhere assumed, so a lock
/// is never taken from a live run).
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_is_refused_naming_the_first_and_a_stale_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let (held, warning) = RunLock::take(dir.path(), "https://graph.microsoft.com|contoso").unwrap();
        assert_eq!(warning, None);
        let e = RunLock::take(dir.path(), "https://graph.microsoft.com|contoso")
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("process {}", std::process::id())), "{e}");
        // Another tenant has its own lock.
        let other = RunLock::take(dir.path(), "https://graph.microsoft.com|fabrikam").unwrap();
        drop((held, other));
        // Released: taken again without a word.
        let (held, warning) = RunLock::take(dir.path(), "https://graph.microsoft.com|contoso").unwrap();
        assert_eq!(warning, None);
        std::mem::forget(held);
        // Left behind by a process that is gone (pid 0 never names a user process in /proc).
        std::fs::write(path(dir.path(), "https://graph.microsoft.com|contoso"), "0\n").unwrap();
        let (_held, warning) = RunLock::take(dir.path(), "https://graph.microsoft.com|contoso").unwrap();
        assert!(warning.is_some_and(|w| w.contains("process 0")));
    }
}
