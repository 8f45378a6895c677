//! redb, the second native backend: a pure-Rust, copy-on-write B-tree with ACID transactions.
//!
//! Each namespace is a redb table of one database file (created on its first write; reading a
//! namespace never written reads as empty).
//!
//! **Durability.** Every write is one redb write transaction committed with redb's default
//! `Durability::Immediate`: the commit `fsync`s before the future resolves. A resolved write
//! survives a process crash, and a power loss as far as the disk honours `fsync`; a batch is one
//! transaction, so it is all there or not at all. redb needs no recovery log: after a crash the
//! last committed root is used.
//!
//! **Blocking.** A commit waits on `fsync`, so by default writes run on the `blocking` crate's
//! thread pool (runtime-agnostic) and the future waits for them ([`Blocking::Inline`] runs them
//! in place instead). Reads run inline: they read committed pages
//! through redb's cache.
//!
//! **Locking.** redb locks the file: a second open, from another process or this one, fails with
//! [`Error::Busy`].

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::Blocking;
use crate::keys::{check_key, check_value};
use crate::{Batch, BatchOp, Entry, Error, KVStore, Result, Scan, DEFAULT_NAMESPACE};

const BACKEND: &str = "redb";

/// A [`KVStore`] namespace in a redb database file. Clones share the database.
#[derive(Clone)]
pub struct RedbStore {
    db: Arc<redb::Database>,
    namespace: Arc<str>,
    blocking: Blocking,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

fn map_err(err: impl Into<redb::Error>) -> Error {
    match err.into() {
        redb::Error::DatabaseAlreadyOpen => {
            Error::Busy("the redb database is open in another process or handle".into())
        }
        redb::Error::Corrupted(what) => Error::Corrupted(what),
        redb::Error::Io(io) => Error::Io(io),
        redb::Error::ValueTooLarge(n) => {
            Error::InvalidInput(format!("value of {n} bytes is too large for redb"))
        }
        other => Error::backend(BACKEND, other),
    }
}

fn table(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

/// Options for opening a [`RedbStore`], from [`RedbStore::builder`].
#[derive(Debug, Clone, Default)]
pub struct RedbBuilder {
    blocking: Blocking,
}

impl RedbBuilder {
    /// Where commits run (default [`Blocking::Offload`]).
    pub fn blocking(mut self, blocking: Blocking) -> Self {
        self.blocking = blocking;
        self
    }

    /// Opens (creating if needed) the database file at `path`, as [`RedbStore::open`].
    ///
    /// # Errors
    ///
    /// As [`RedbStore::open`].
    pub fn open(self, path: impl AsRef<Path>) -> Result<RedbStore> {
        RedbStore::open_with(path.as_ref(), self.blocking)
    }
}

impl RedbStore {
    /// Opens (creating if needed) the redb database file at `path` with the default options;
    /// the handle is its [`DEFAULT_NAMESPACE`]. A new file is created private to its owner
    /// (mode 0600 on Unix).
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] if another process or handle has the file open, [`Error::Corrupted`]
    /// if it is not a redb database, [`Error::Io`] if it cannot be read.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::builder().open(path)
    }

    /// Options for opening a store: `RedbStore::builder().blocking(Blocking::Inline).open(path)`.
    pub fn builder() -> RedbBuilder {
        RedbBuilder::default()
    }

    fn open_with(path: &Path, blocking: Blocking) -> Result<Self> {
        super::private::create_file(path)?;
        let db = redb::Database::create(path).map_err(map_err)?;
        Ok(RedbStore {
            db: Arc::new(db),
            namespace: DEFAULT_NAMESPACE.into(),
            blocking,
        })
    }

    /// Runs `f` in one write transaction, where [`Blocking`] says, and commits it.
    async fn write<F>(&self, f: F) -> Result<()>
    where
        F: FnOnce(&mut redb::Table<'_, &'static [u8], &'static [u8]>) -> Result<()>
            + Send
            + 'static,
    {
        let db = self.db.clone();
        let namespace = self.namespace.clone();
        self.blocking
            .run(move || {
                let tx = db.begin_write().map_err(map_err)?;
                {
                    let mut table = tx.open_table(table(&namespace)).map_err(map_err)?;
                    // On error `tx` drops uncommitted: redb aborts it, nothing is applied.
                    f(&mut table)?;
                }
                tx.commit().map_err(map_err)
            })
            .await
    }

    /// Runs `f` on a read snapshot of this namespace's table; `None` if it was never written.
    fn read<T>(
        &self,
        f: impl FnOnce(&redb::ReadOnlyTable<&'static [u8], &'static [u8]>) -> Result<T>,
    ) -> Result<Option<T>> {
        let tx = self.db.begin_read().map_err(map_err)?;
        match tx.open_table(table(&self.namespace)) {
            Ok(t) => f(&t).map(Some),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    fn range_collect<T>(&self, scan: Scan<'_>, f: impl Fn(&[u8], &[u8]) -> T) -> Result<Vec<T>> {
        if scan.is_empty() {
            return Ok(Vec::new());
        }
        let (lower, exclusive) = scan.lower();
        let upper = scan.upper();
        let lower = if exclusive {
            Bound::Excluded(lower)
        } else {
            Bound::Included(lower)
        };
        let upper = upper.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let limit = scan.limit.unwrap_or(usize::MAX);
        Ok(self
            .read(|t| {
                t.range::<&[u8]>((lower, upper))
                    .map_err(map_err)?
                    .take(limit)
                    .map(|r| r.map(|(k, v)| f(k.value(), v.value())).map_err(map_err))
                    .collect()
            })?
            .unwrap_or_default())
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl KVStore for RedbStore {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        Ok(self
            .read(|t| Ok(t.get(key).map_err(map_err)?.map(|v| v.value().to_vec())))?
            .flatten())
    }

    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        let (key, value) = (key.to_vec(), value.to_vec());
        self.write(move |t| {
            t.insert(key.as_slice(), value.as_slice())
                .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn delete(&self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        let key = key.to_vec();
        self.write(move |t| {
            t.remove(key.as_slice()).map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn contains(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        Ok(self
            .read(|t| Ok(t.get(key).map_err(map_err)?.is_some()))?
            .unwrap_or(false))
    }

    async fn scan(&self, scan: Scan<'_>) -> Result<Vec<Entry>> {
        self.range_collect(scan, |k, v| (k.to_vec(), v.to_vec()))
    }

    async fn scan_keys(&self, scan: Scan<'_>) -> Result<Vec<Vec<u8>>> {
        self.range_collect(scan, |k, _| k.to_vec())
    }

    async fn count(&self, prefix: &[u8]) -> Result<u64> {
        if prefix.is_empty() {
            return Ok(self.read(|t| t.len().map_err(map_err))?.unwrap_or(0));
        }
        Ok(self.range_collect(Scan::prefix(prefix), |_, _| ())?.len() as u64)
    }

    async fn batch(&self, batch: Batch) -> Result<()> {
        batch.validate()?;
        self.write(move |t| {
            for op in batch.into_ops() {
                match op {
                    BatchOp::Set { key, value } => {
                        t.insert(key.as_slice(), value.as_slice())
                            .map_err(map_err)?;
                    }
                    BatchOp::Create { key, value } => {
                        if t.get(key.as_slice()).map_err(map_err)?.is_some() {
                            return Err(Error::KeyExists { key });
                        }
                        t.insert(key.as_slice(), value.as_slice())
                            .map_err(map_err)?;
                    }
                    BatchOp::Delete { key } => {
                        t.remove(key.as_slice()).map_err(map_err)?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    async fn clear(&self) -> Result<()> {
        self.write(|t| {
            t.retain(|_, _| false).map_err(map_err)?;
            Ok(())
        })
        .await
    }

    fn namespace_name(&self) -> &str {
        &self.namespace
    }

    fn namespace(&self, name: &str) -> Result<Self> {
        crate::validate_namespace(name)?;
        Ok(RedbStore {
            db: self.db.clone(),
            namespace: name.into(),
            blocking: self.blocking,
        })
    }
}
