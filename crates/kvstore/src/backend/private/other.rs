//! Where permissions are not Unix modes, a store is created with the platform's defaults (its
//! access control lists inherited from the parent directory). Directories are not `fsync`ed
//! there (Windows cannot open one as a file through `std`; NTFS journals its entries).

use std::path::Path;

/// Nothing to do here: the engine creates the directory.
#[cfg(all(feature = "sled", not(target_arch = "wasm32")))]
pub(crate) fn create_dir(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Nothing to do here: the engine creates the file.
#[cfg(any(feature = "redb", feature = "sled"))]
pub(crate) fn create_file(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Nothing to do here (module docs).
#[cfg(all(feature = "sled", not(target_arch = "wasm32")))]
pub(crate) fn sync_dir(_path: &Path) -> std::io::Result<()> {
    Ok(())
}
