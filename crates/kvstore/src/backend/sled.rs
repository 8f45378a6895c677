//! sled 0.34, the native default.
//!
//! Each namespace is a sled tree of one database directory.
//!
//! **Durability.** Every write (`set`, `delete`, `batch`, `clear`) is followed by
//! `flush_async`, which writes sled's log and `fsync`s it before the future resolves. So:
//! - after a *process crash* (panic, `SIGKILL`), every write whose future resolved is present
//!   on reopen, and a batch is visible entirely or not at all (the crash test in
//!   `tests/crash.rs` checks exactly this);
//! - after a *power loss*, the same holds as far as the disk honours `fsync`; writes whose
//!   future had not resolved may or may not be present, never partly for a batch.
//!
//! **Blocking.** Reads and the in-memory part of writes run inline (sled serves them from its
//! cache in microseconds); the flush runs on the `blocking` crate's thread pool and is awaited,
//! so no executor thread waits on the disk and no particular runtime is required
//! ([`Blocking::Inline`] runs it in place instead).
//!
//! **Locking.** sled takes an exclusive file lock: opening a directory another process (or
//! another handle in this process) has open fails with [`Error::Busy`].

use std::path::Path;

use super::Blocking;
use crate::keys::{check_key, check_value};
use crate::{Batch, BatchOp, Entry, Error, KVStore, Result, Scan, DEFAULT_NAMESPACE};

const BACKEND: &str = "sled";

/// A [`KVStore`] namespace in a sled database. Clones share the database.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    namespace: String,
    blocking: Blocking,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

fn map_err(err: sled::Error) -> Error {
    match err {
        sled::Error::Io(io) => Error::Io(io),
        sled::Error::Corruption { at, .. } => {
            Error::Corrupted(format!("sled reports corruption at {at:?}"))
        }
        other => Error::backend(BACKEND, other),
    }
}

/// Options for opening a [`SledStore`], from [`SledStore::builder`].
#[derive(Debug, Clone, Default)]
pub struct SledBuilder {
    blocking: Blocking,
}

impl SledBuilder {
    /// Where flushes run (default [`Blocking::Offload`]).
    pub fn blocking(mut self, blocking: Blocking) -> Self {
        self.blocking = blocking;
        self
    }

    /// Opens (creating if needed) the database in directory `path`, as [`SledStore::open`].
    ///
    /// # Errors
    ///
    /// As [`SledStore::open`].
    pub fn open(self, path: impl AsRef<Path>) -> Result<SledStore> {
        SledStore::open_with(path.as_ref(), self.blocking)
    }
}

/// Whether another handle holds the exclusive lock sled takes on its `db` file, probed without
/// waiting (a held lock is `TryLockError::WouldBlock`). The probe's own lock, if it gets one,
/// is released at once.
fn lock_is_held(path: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path.join("db"))
    else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

impl SledStore {
    /// Opens (creating if needed) the sled database in directory `path` with the default
    /// options; the handle is its [`DEFAULT_NAMESPACE`]. A new directory is created private to
    /// its owner (mode 0700 on Unix).
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] if another process or handle has the database open, [`Error::Io`] or
    /// [`Error::Corrupted`] if it cannot be read.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::builder().open(path)
    }

    /// Options for opening a store: `SledStore::builder().blocking(Blocking::Inline).open(path)`.
    pub fn builder() -> SledBuilder {
        SledBuilder::default()
    }

    fn open_with(path: &Path, blocking: Blocking) -> Result<Self> {
        super::private::create_dir(path)?;
        let db = sled::Config::new().path(path).open().map_err(|err| {
            // sled reports its lock failing only as the text of an I/O error; the lock itself,
            // probed, says so by type.
            if matches!(err, sled::Error::Io(_)) && lock_is_held(path) {
                return Error::Busy(format!(
                    "the sled database {} is open in another process or handle",
                    path.display()
                ));
            }
            map_err(err)
        })?;
        Self::with_db(db, DEFAULT_NAMESPACE, blocking)
    }

    fn with_db(db: sled::Db, namespace: &str, blocking: Blocking) -> Result<Self> {
        crate::validate_namespace(namespace)?;
        let tree = db.open_tree(namespace).map_err(map_err)?;
        Ok(SledStore {
            db,
            tree,
            namespace: namespace.to_owned(),
            blocking,
        })
    }

    /// The underlying sled database, for what this crate does not cover.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Makes every write so far durable: sled's `flush` (log write and `fsync`), where
    /// [`Blocking`] says. (sled's own `flush_async` was seen to hang forever with several
    /// flushes in flight, so it is not used.)
    async fn flush(&self) -> Result<()> {
        let tree = self.tree.clone();
        self.blocking
            .run(move || tree.flush())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    fn range(&self, scan: &Scan<'_>) -> sled::Iter {
        self.tree.range::<Vec<u8>, _>(scan.bounds())
    }

    fn apply_with_creates(&self, ops: &[BatchOp]) -> Result<()> {
        use sled::transaction::ConflictableTransactionError as Abort;
        self.tree
            .transaction(|tx| {
                for op in ops {
                    match op {
                        BatchOp::Set { key, value } => {
                            tx.insert(key.as_slice(), value.as_slice())?;
                        }
                        BatchOp::Create { key, value } => {
                            if tx.get(key.as_slice())?.is_some() {
                                return Err(Abort::Abort(Error::KeyExists { key: key.clone() }));
                            }
                            tx.insert(key.as_slice(), value.as_slice())?;
                        }
                        BatchOp::Delete { key } => {
                            tx.remove(key.as_slice())?;
                        }
                    }
                }
                Ok(())
            })
            .map_err(|err| match err {
                sled::transaction::TransactionError::Abort(err) => err,
                sled::transaction::TransactionError::Storage(err) => map_err(err),
            })
    }
}

#[async_trait::async_trait]
impl KVStore for SledStore {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        Ok(self.tree.get(key).map_err(map_err)?.map(|v| v.to_vec()))
    }

    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.tree.insert(key, value).map_err(map_err)?;
        self.flush().await
    }

    async fn delete(&self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.tree.remove(key).map_err(map_err)?;
        self.flush().await
    }

    async fn contains(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        self.tree.contains_key(key).map_err(map_err)
    }

    async fn scan(&self, scan: Scan<'_>) -> Result<Vec<Entry>> {
        if scan.is_empty() {
            return Ok(Vec::new());
        }
        self.range(&scan)
            .take(scan.limit.unwrap_or(usize::MAX))
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(map_err))
            .collect()
    }

    async fn scan_keys(&self, scan: Scan<'_>) -> Result<Vec<Vec<u8>>> {
        if scan.is_empty() {
            return Ok(Vec::new());
        }
        self.range(&scan)
            .keys()
            .take(scan.limit.unwrap_or(usize::MAX))
            .map(|r| r.map(|k| k.to_vec()).map_err(map_err))
            .collect()
    }

    async fn count(&self, prefix: &[u8]) -> Result<u64> {
        let mut n = 0;
        for key in self.tree.scan_prefix(prefix).keys() {
            key.map_err(map_err)?;
            n += 1;
        }
        Ok(n)
    }

    async fn batch(&self, batch: Batch) -> Result<()> {
        batch.validate()?;
        if batch.has_create() {
            // A create must read inside the write: that needs a transaction.
            self.apply_with_creates(batch.ops())?;
        } else {
            let mut sled_batch = sled::Batch::default();
            for op in batch.into_ops() {
                match op {
                    BatchOp::Set { key, value } | BatchOp::Create { key, value } => {
                        sled_batch.insert(key, value)
                    }
                    BatchOp::Delete { key } => sled_batch.remove(key),
                }
            }
            self.tree.apply_batch(sled_batch).map_err(map_err)?;
        }
        self.flush().await
    }

    async fn clear(&self) -> Result<()> {
        self.tree.clear().map_err(map_err)?;
        self.flush().await
    }

    fn namespace_name(&self) -> &str {
        &self.namespace
    }

    fn namespace(&self, name: &str) -> Result<Self> {
        Self::with_db(self.db.clone(), name, self.blocking)
    }
}
