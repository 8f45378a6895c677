//! Where the store is and how it is opened: the platform's data directory by default, private
//! (0700/0600), waiting a little for another `vault` process that holds it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};

use crate::cli::Backend;

pub(crate) fn default_store(backend: Backend) -> Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "vault")
        .ok_or_else(|| anyhow!("no home directory found; pass --store PATH"))?;
    Ok(dirs.data_dir().join(match backend {
        Backend::Sled => "store.sled",
        Backend::Redb => "store.redb",
    }))
}

/// How long opening the store waits for another `vault` process to release it.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(3);

/// Opens the store with `open` (which waits up to [`BUSY_TIMEOUT`] for another `vault`
/// process to release it). Its directory is created 0700, and a store an older release left
/// readable by others is made private.
pub(crate) fn open_store<S>(path: &Path, open: impl Fn(&Path) -> kvstore::Result<S>) -> Result<S> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    make_private(path).with_context(|| format!("cannot restrict {}", path.display()))?;
    match open(path) {
        Err(kvstore::Error::Busy(_)) => Err(anyhow::Error::new(kvstore::Error::Busy(format!(
            "the store {} is in use by another process",
            path.display()
        )))),
        other => other.with_context(|| format!("cannot open the store {}", path.display())),
    }
}

/// Removes group and other permissions from the store and everything in it (stores written
/// by releases before 0600/0700 were the rule).
fn make_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(()); // not created yet: the umask covers it
    };
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            make_private(&entry?.path())?;
        }
    }
    Ok(())
}
