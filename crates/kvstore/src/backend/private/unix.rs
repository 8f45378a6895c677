//! New stores are private to their owner: a directory 0700, a file 0600. An existing path is
//! left as it is (its owner chose its permissions). And a directory's entries are made
//! durable with an `fsync` of the directory.

use std::io::ErrorKind;
use std::path::Path;

/// Creates directory `path` with mode 0700 unless it exists (its parents as usual).
#[cfg(all(feature = "sled", not(target_arch = "wasm32")))]
pub(crate) fn create_dir(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// Creates an empty file `path` with mode 0600 unless it exists.
#[cfg(any(feature = "redb", feature = "sled"))]
pub(crate) fn create_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        other => other.map(drop),
    }
}

/// Makes the entries of directory `path` durable (files created or removed in it): an `fsync`
/// of the directory.
#[cfg(all(feature = "sled", not(target_arch = "wasm32")))]
pub(crate) fn sync_dir(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}
