//! The report folder and its files on disk. The reports hold personal data, and a report must
//! never land in (or through) something another process prepared, so: a run's folder is always
//! new (created by this run, owner-only, never an existing folder or a symlink), and every file
//! in it is new too (owner-only, never opened through a symlink). The one file written twice,
//! `outcomes.csv`, is replaced whole by [`crate::files::write_private`].

use crate::report::run::Mode;
use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// How many `-2`, `-3`, … suffixes the default folder name tries before giving up.
const MAX_SUFFIX: u32 = 1000;

/// Creates the run's report folder: `explicit` (which must not exist yet), or a new
/// `<stamp>-<mode>` (then `-2`, `-3`, …) under `base`. Missing parents are created; the folder
/// itself is always created by this call, readable by the owner only.
pub fn create_dir(base: &Path, explicit: Option<&Path>, mode: Mode, stamp: &str) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_parents(parent)?;
        }
        return match new_dir(dir) {
            Err(e) if e.kind() == ErrorKind::AlreadyExists => bail!(
                "report folder {} already exists; reports always go to a new folder: pass a new path or leave out --report-dir",
                dir.display()
            ),
            result => result.map(|()| dir.to_path_buf()).with_context(|| cannot_create(dir)),
        };
    }
    create_parents(base)?;
    // Two runs in the same second get distinct folders. Trying is the check: a separate
    // exists() test would race with the other run.
    for n in 1..=MAX_SUFFIX {
        let name = match n {
            1 => format!("{stamp}-{}", mode.as_str()),
            n => format!("{stamp}-{}-{n}", mode.as_str()),
        };
        let dir = base.join(name);
        match new_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| cannot_create(&dir)),
        }
    }
    bail!("cannot create a report folder in {}: too many runs named {stamp}", base.display())
}

/// A report folder this run made, removed again when the run ends before its reports are
/// written and the folder holds nothing but `rejects.csv` (a fatal error or a stop before any
/// work: nothing to audit), so the same `--report-dir` can be given to the run again. Anything
/// more in it (a saved plan, a rollback file, an outcome log) keeps it.
#[derive(Debug)]
pub struct Unfinished {
    dir: PathBuf,
    kept: bool,
}

impl Unfinished {
    /// Watches `dir`, which this run created.
    pub fn new(dir: PathBuf) -> Unfinished {
        Unfinished { dir, kept: false }
    }

    /// The run's reports are written: the folder stays whatever happens next.
    pub fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        let names: Vec<std::ffi::OsString> = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries.flatten().map(|e| e.file_name()).collect(),
            Err(_) => return,
        };
        if names.iter().all(|n| n == "rejects.csv") {
            let _ = std::fs::remove_file(self.dir.join("rejects.csv"));
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

fn create_parents(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| cannot_create(dir))
}

fn cannot_create(dir: &Path) -> String {
    format!("cannot create report folder {}", dir.display())
}

/// Creates exactly `dir` (not its parents), owner-only. Fails with `AlreadyExists` when
/// anything, a dangling symlink included, has that name: mkdir never follows a symlink.
fn new_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(false);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates the new file `path`, owner-only, for writing.
///
/// No `O_NOFOLLOW`: `create_new` opens with `O_CREAT | O_EXCL`, which by POSIX fails with
/// `EEXIST` when the last component is a symlink, dangling or not, and never follows it. The
/// flag would add nothing, and its value differs between architectures (0o400000 on x86 is
/// `O_LARGEFILE` on ARM), which a hard-coded constant without the libc crate would get wrong.
pub(super) fn new_file(path: &Path) -> Result<File> {
    crate::files::create_private(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_explicit_folder_that_exists_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let existing = tmp.path().join("dir");
        std::fs::create_dir(&existing).unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), &link).unwrap();
        for path in [&existing, &file, &link] {
            let err = create_dir(tmp.path(), Some(path), Mode::Apply, "s").unwrap_err().to_string();
            assert!(err.contains("already exists; reports always go to a new folder"), "{err}");
        }
        assert!(!tmp.path().join("nowhere").exists(), "the symlink was not followed");
    }

    #[test]
    fn an_explicit_folder_is_created_with_its_parents_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/run");
        assert_eq!(create_dir(tmp.path(), Some(&dir), Mode::Plan, "s").unwrap(), dir);
        assert_eq!(mode_of(&dir), 0o700);
    }

    #[test]
    fn default_folders_get_a_suffix_when_the_name_is_taken() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("reports");
        let names: Vec<PathBuf> = (0..3)
            .map(|_| create_dir(&base, None, Mode::Apply, "20250101T000000Z").unwrap())
            .collect();
        let expected = ["20250101T000000Z-apply", "20250101T000000Z-apply-2", "20250101T000000Z-apply-3"];
        assert_eq!(names, expected.map(|n| base.join(n)));
        // A symlink squatting on the next name is skipped, not followed.
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), base.join("s-plan")).unwrap();
        assert_eq!(create_dir(&base, None, Mode::Plan, "s").unwrap(), base.join("s-plan-2"));
        assert!(!tmp.path().join("elsewhere").exists());
        assert!(names.iter().all(|d| mode_of(d) == 0o700));
    }

    #[test]
    fn files_are_new_and_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        drop(new_file(&path).unwrap());
        assert_eq!(mode_of(&path), 0o600);
        assert!(new_file(&path).unwrap_err().to_string().contains("already exists"));
    }
}
