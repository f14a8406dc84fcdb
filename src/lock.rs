//! One `apply` per tenant at a time. Two scheduled runs that overlap (a slow night, a manual
//! run during the cron one) would plan from the same state and write over each other; the
//! second one stops instead, naming the first. The lock is an operating-system lock on a file
//! in the folder that keeps the tenant's state between runs, so it ends with its process however
//! that process ends (a kill, a reboot); the file holds the holder's process id for the message,
//! and is emptied on a normal release, so a process id found in a free lock names a run that
//! died holding it, which is said as a warning.

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

/// A held run lock; dropping it releases it.
#[derive(Debug)]
pub struct RunLock {
    file: File,
}

impl RunLock {
    /// Takes the lock of `tenant` in `dir`, or says which process holds it. Returns a warning
    /// when the previous holder ended without releasing it.
    pub fn take(dir: &Path, tenant: &str) -> Result<(RunLock, Option<String>)> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = crate::files::tenant_file(dir, tenant, "apply.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the run lock {}", path.display()))?;
        let mut holder = String::new();
        match try_lock_for(&file, HELD_FOR_AN_INSTANT) {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let _ = file.read_to_string(&mut holder);
                let who = match holder.trim() {
                    "" => "another phonesync apply".to_string(),
                    pid => format!("another phonesync apply (process {pid})"),
                };
                bail!(
                    "{who} is running against this tenant; wait for it to finish (lock: {})",
                    path.display()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        let _ = file.read_to_string(&mut holder);
        let warning = match holder.trim() {
            "" => None,
            pid => Some(format!(
                "the previous apply against this tenant (process {pid}) ended without finishing; its lock {} is taken over",
                path.display()
            )),
        };
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok((RunLock { file }, warning))
    }
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
        let tenant = "https://graph.microsoft.com/|contoso";
        let (held, warning) = RunLock::take(dir.path(), tenant).unwrap();
        assert_eq!(warning, None);
        let e = RunLock::take(dir.path(), tenant).unwrap_err().to_string();
        assert!(e.contains(&format!("process {}", std::process::id())), "{e}");
        // Another tenant has its own lock.
        let other = RunLock::take(dir.path(), "https://graph.microsoft.com/|fabrikam").unwrap();
        drop((held, other));
        // Released normally: taken again without a word.
        let (held, warning) = RunLock::take(dir.path(), tenant).unwrap();
        assert_eq!(warning, None);
        drop(held);
        // A run that died holding it leaves its process id in a free lock.
        std::fs::write(crate::files::tenant_file(dir.path(), tenant, "apply.lock"), "4242\n").unwrap();
        let (_held, warning) = RunLock::take(dir.path(), tenant).unwrap();
        assert!(warning.is_some_and(|w| w.contains("process 4242")));
    }
}
