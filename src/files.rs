//! Files the tool keeps between runs (the embedded emulator's tenant, unfinished moves): hold
//! personal data, so they are written owner-only, whole, and atomically (a new temporary file
//! renamed over the old one), never through a symlink planted at the temporary name.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Creates `path` as a new file readable by the owner only. `create_new` (O_CREAT|O_EXCL)
/// refuses anything already there, a planted symlink included, so nothing is written through one.
pub fn create_private(path: &Path) -> Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).with_context(|| match path.symlink_metadata() {
        Ok(_) => format!("cannot write {}: it already exists", path.display()),
        Err(_) => format!("cannot write {}", path.display()),
    })
}

/// Replaces `path` with `bytes`, readable by the owner only: written to a new temporary file
/// beside it, then renamed over it (a rename replaces a symlink rather than writing through it).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut file = create_private(&tmp)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))
        .and_then(|()| std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display())));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The file `name` (e.g. `apply.lock`) of `tenant` (its endpoint and tenant id) in `dir`: one per
/// tenant, named by a hash so any endpoint spelling makes a file name.
pub fn tenant_file(dir: &Path, tenant: &str, name: &str) -> std::path::PathBuf {
    // FNV-1a: stable across runs and builds, unlike the standard hasher.
    let hash = tenant
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    dir.join(format!("phonesync-{hash:016x}-{name}"))
}
