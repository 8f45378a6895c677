//! redb, the second native backend: a pure-Rust, copy-on-write B-tree with ACID transactions.
//!
//! Each namespace is four redb tables of one database file (created on its first write; reading
//! a namespace never written reads as empty): its data, named after it (key → version ‖ value),
//! and `~meta/` (tombstones), `~log/` (the feed and the state) and `~tombs/` followed by its
//! name (`crate::versions`). Namespaces in an earlier layout (the first versioned one, with a
//! version entry per key in `~meta/`; or written before versions, the data table alone) are
//! moved into this one, each in one durable transaction, when the database is opened, after the
//! write-ahead log's records are applied.
//!
//! **Durability.** Every write is one redb write transaction, resolved once it is durable. A
//! store opened on a file (`RedbStore::open`) or over OPFS keeps a write-ahead log beside the
//! database: a write whose record is up to 2 MiB (a batch of thousands of small values too)
//! is committed in redb without `fsync` and made durable by a record appended to the log and
//! `fsync`ed; every 256 records or 4 MiB of log, for a larger write, and when the last handle
//! is dropped, a durable redb commit (redb's `Durability::Immediate`) makes the log's records
//! part of the database file (a checkpoint). Without a log
//! (`RedbBuilder::write_ahead_log(false)`, [`RedbBuilder::open_backend`]) every write is a
//! durable redb commit. Either way a resolved write survives a process crash, and a power loss
//! as far as the disk honours `fsync`; a batch is one transaction, so it is all there or not at
//! all: after a crash redb uses its last durable root, and the log's whole records after it
//! (each checksummed) are applied again on open. A small write whose future is dropped before
//! it resolves is rolled back (its record, if flushed, may still be applied after a crash
//! until the next write takes its place in the log, never after a checkpoint); a large one
//! finishes on the thread pool.
//!
//! **Blocking.** A commit waits on `fsync`, so by default writes run on the `blocking` crate's
//! thread pool (runtime-agnostic) and the future waits for them ([`Blocking::Inline`] runs them
//! in place instead). With the write-ahead log, a small write (up to 64 operations) runs on the
//! pool only the log's `fsync` (or a checkpoint): its B-tree work and its commit without
//! durability stay on the calling thread, whose next read then finds the pages warm; writers
//! take turns through an async lock first, so none waits for redb's write lock on a thread
//! (`log` module). Reads run inline: they read committed pages through redb's cache.
//!
//! **Locking.** redb locks the file: a second open, from another process or this one, fails with
//! [`Error::Busy`].

use std::ops::Bound;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
use std::path::Path;
use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle};

mod log;

use super::feed::Fed;
use super::wal::{self, LogFile};
use super::Blocking;
use crate::keys::check_key;
use crate::versions::{self, Part, Parts, State, Write};
use crate::{Batch, BatchFill, Change, Entry, Error, KVStore, Result, Scan, DEFAULT_NAMESPACE};

const BACKEND: &str = "redb";

/// A batch of at most this many operations is a small commit: with a write-ahead log, its
/// B-tree work runs on the calling thread and only the log's flush where [`Blocking`] says
/// (`RedbStore::write`). The streamed batch's chunk, so a streamed batch handed back whole
/// is small.
const SMALL_COMMIT: usize = super::feed::CHUNK;

/// A [`KVStore`] namespace in a redb database file. Clones share the database.
#[derive(Clone)]
pub struct RedbStore {
    db: Arc<redb::Database>,
    namespace: Arc<str>,
    blocking: Blocking,
    retention: u64,
    /// The write-ahead log, when opened with one.
    log: Option<Arc<log::Log>>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

pub(super) fn map_err(err: impl Into<redb::Error>) -> Error {
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

pub(super) fn table(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

/// Options for opening a [`RedbStore`], from [`RedbStore::builder`].
#[derive(Debug, Clone)]
pub struct RedbBuilder {
    blocking: Blocking,
    retention: u64,
    /// Used by `open` (files), which browsers do not have.
    #[cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), allow(dead_code))]
    write_ahead_log: bool,
    /// Used by `open` too.
    #[cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), allow(dead_code))]
    busy_timeout: std::time::Duration,
}

impl Default for RedbBuilder {
    fn default() -> Self {
        RedbBuilder {
            blocking: Blocking::default(),
            retention: versions::DEFAULT_TOMBSTONE_RETENTION,
            write_ahead_log: true,
            busy_timeout: std::time::Duration::ZERO,
        }
    }
}

impl RedbBuilder {
    /// Keeps tombstones for the last `versions` versions (default
    /// [`DEFAULT_TOMBSTONE_RETENTION`](crate::DEFAULT_TOMBSTONE_RETENTION); see
    /// [`KVStore::changes`]).
    pub fn tombstone_retention(mut self, versions: u64) -> Self {
        self.retention = versions;
        self
    }

    /// Where commits run (default [`Blocking::Offload`]).
    pub fn blocking(mut self, blocking: Blocking) -> Self {
        self.blocking = blocking;
        self
    }

    /// Whether [`open`](Self::open) keeps a write-ahead log beside the database file (default
    /// `true`; see [`RedbStore::open`]). With `false` every write is a durable redb commit and
    /// the store is the one file; a log left by an earlier open is applied, then removed.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn write_ahead_log(mut self, enabled: bool) -> Self {
        self.write_ahead_log = enabled;
        self
    }

    /// How long [`open`](Self::open) waits for a file another handle or process holds
    /// (default zero: [`Error::Busy`] at once). It tries again every 20 ms, blocking the
    /// calling thread, and fails with [`Error::Busy`] once `timeout` has passed: for short
    /// programs (a CLI) that may run while another one has the store open.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn busy_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Opens (creating if needed) the database file at `path`, as [`RedbStore::open`].
    ///
    /// # Errors
    ///
    /// As [`RedbStore::open`] ([`Error::Busy`] after the [`busy_timeout`](Self::busy_timeout)).
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn open(self, path: impl AsRef<Path>) -> Result<RedbStore> {
        let path = path.as_ref();
        super::open_waiting(self.busy_timeout, || {
            RedbStore::open_with(path, self.clone())
        })
    }

    /// Opens (creating if needed) a database on any redb storage `backend` (redb's public
    /// [`StorageBackend`](redb::StorageBackend) trait: a file, memory, or the Origin Private
    /// File System's `OpfsBackend` in a browser, feature `opfs`).
    ///
    /// # Errors
    ///
    /// [`Error::Corrupted`] if the backend holds something that is not a redb database,
    /// [`Error::Io`] when it fails.
    pub fn open_backend(self, backend: impl redb::StorageBackend) -> Result<RedbStore> {
        let db = redb::Database::builder()
            .create_with_backend(backend)
            .map_err(map_err)?;
        RedbStore::from_db(db, self.blocking, self.retention, None)
    }

    /// Opens (creating if needed) a database on `backend` with a write-ahead log on `log`
    /// (a second storage, empty at first): a write whose record is up to 2 MiB appends its
    /// changes to the log and flushes the log, instead of a durable redb commit flushing every
    /// page it touched; a durable redb commit (a checkpoint) follows every 256 records or 4 MiB
    /// of log, and takes a larger write. Worth it where a flush costs by the byte: redb over
    /// OPFS uses it (a single durable set about twice as fast there). Durability and atomicity
    /// are the same as without it: a write resolves after the log's flush, and on open the
    /// records after the last checkpoint are applied again. The log belongs to this database:
    /// open them together every time.
    ///
    /// # Errors
    ///
    /// As [`RedbBuilder::open_backend`]; [`Error::Corrupted`] if a whole log record (its
    /// checksum right) does not decode.
    pub fn open_backend_with_log(
        self,
        backend: impl redb::StorageBackend,
        log: impl redb::StorageBackend,
    ) -> Result<RedbStore> {
        let db = redb::Database::builder()
            .create_with_backend(backend)
            .map_err(map_err)?;
        RedbStore::from_db(db, self.blocking, self.retention, Some(Box::new(log)))
    }
}

impl RedbStore {
    /// Opens (creating if needed) the redb database file at `path` with the default options;
    /// the handle is its [`DEFAULT_NAMESPACE`]. A new file is created private to its owner
    /// (mode 0600 on Unix).
    ///
    /// Beside it, `PATH.wal` ([`RedbStore::log_path`]) is its write-ahead log: a small write
    /// appends a record there and `fsync`s it instead of committing redb durably (about half
    /// the time of a durable single set: `scripts/bench.sh writes`); a durable redb commit
    /// follows every 256 records and when the last handle is dropped, so after a clean close
    /// the database file alone holds everything. After a crash the log holds writes the
    /// database file does not: keep, copy and delete the two files together.
    /// [`RedbBuilder::write_ahead_log`]`(false)` keeps the store in one file.
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] if another process or handle has the file open
    /// ([`RedbBuilder::busy_timeout`] waits for it), [`Error::Corrupted`] if it is not a redb
    /// database, [`Error::Io`] if it cannot be read.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::builder().open(path)
    }

    /// Options for opening a store: `RedbStore::builder().blocking(Blocking::Inline).open(path)`.
    pub fn builder() -> RedbBuilder {
        RedbBuilder::default()
    }

    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    fn open_with(path: &Path, builder: RedbBuilder) -> Result<Self> {
        super::private::create_file(path)?;
        // The database first: its lock keeps a second opener away from the log too.
        let db = redb::Database::create(path).map_err(map_err)?;
        let log_path = Self::log_path(path);
        let open_log = || -> Result<LogFile> {
            super::private::create_file(&log_path)?;
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&log_path)?;
            Ok(Box::new(
                redb::backends::FileBackend::new(file).map_err(map_err)?,
            ))
        };
        if builder.write_ahead_log {
            return Self::from_db(db, builder.blocking, builder.retention, Some(open_log()?));
        }
        let db = Arc::new(db);
        if log_path.exists() {
            // Apply what an earlier open logged (a durable commit), then drop the log.
            drop(log::Log::open(db.clone(), open_log()?)?);
            std::fs::remove_file(&log_path)?;
        }
        let db = Arc::into_inner(db).expect("the log is dropped");
        Self::from_db(db, builder.blocking, builder.retention, None)
    }

    /// The write-ahead log of the database file at `path`: `path` with `.wal` appended.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn log_path(path: &Path) -> std::path::PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(".wal");
        name.into()
    }

    fn from_db(
        db: redb::Database,
        blocking: Blocking,
        retention: u64,
        log: Option<LogFile>,
    ) -> Result<Self> {
        let db = Arc::new(db);
        let log = match log {
            Some(file) => Some(Arc::new(log::Log::open(db.clone(), file)?)),
            None => None,
        };
        let store = RedbStore {
            db,
            namespace: DEFAULT_NAMESPACE.into(),
            blocking,
            retention,
            log,
        };
        store.upgrade_all()?;
        Ok(store)
    }

    /// Moves every namespace in an earlier layout (module docs) into this one, when the
    /// database is opened: then no write of this process is under way, which a synchronous
    /// `begin_write` needs (a small commit holds redb's write lock across an `.await`, `log`
    /// module docs), and [`KVStore::namespace`] stays free of writes.
    fn upgrade_all(&self) -> Result<()> {
        let names: Vec<String> = {
            let tx = self.db.begin_read().map_err(map_err)?;
            let tables = tx.list_tables().map_err(map_err)?;
            tables
                .map(|table| table.name().to_owned())
                .filter(|name| crate::validate_namespace(name).is_ok())
                .collect()
        };
        for name in names {
            RedbStore {
                namespace: name.into(),
                ..self.clone()
            }
            .upgrade()?;
        }
        Ok(())
    }

    /// Moves this namespace from an earlier layout (module docs) into this one, in one durable
    /// transaction.
    fn upgrade(&self) -> Result<()> {
        let needed = self
            .read_parts(|p| {
                Ok(p.state()?.is_none() && (p.v1_state()? || p.data.len().map_err(map_err)? > 0))
            })?
            .unwrap_or(false);
        if !needed {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(map_err)?;
        {
            let mut parts = RedbParts::open(&tx, &self.namespace)?;
            let entries = |data: &Table<'_>| -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
                data.iter()
                    .map_err(map_err)?
                    .map(|r| {
                        r.map(|(k, v)| (k.value().to_vec(), v.value().to_vec()))
                            .map_err(map_err)
                    })
                    .collect()
            };
            if parts.get(Part::Log, versions::STATE_KEY)?.is_some() {
                // Another handle moved it meanwhile.
            } else if parts.get(Part::Log, versions::V1_STATE_KEY)?.is_some() {
                let entries = entries(&parts.data)?;
                versions::upgrade_from_v1(&mut parts, entries)?;
            } else {
                let entries = entries(&parts.data)?;
                versions::upgrade_from_unversioned(&mut parts, entries)?;
            }
        }
        match &self.log {
            Some(log) => log.commit_durable(tx),
            None => tx.commit().map_err(map_err),
        }
    }

    /// Runs `f` in one write transaction and commits it. Without a log, all of it where
    /// [`Blocking`] says. With one, once admitted (`log` module docs): a `small` commit does
    /// its B-tree work, record and redb commit here and only the log's flush (or a
    /// checkpoint) where [`Blocking`] says; a large one runs there whole, as without a log.
    async fn write<T: Send + 'static>(
        &self,
        small: bool,
        f: impl FnOnce(&mut RedbParts<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let job = self.write_job();
        let Some(log) = self.log.clone() else {
            return self.blocking.run(move || job.run(f)).await;
        };
        let admission = log.admit().await;
        if !small {
            return self
                .blocking
                .run(move || {
                    let _admission = admission;
                    job.run(f)
                })
                .await;
        }
        // Admitted: no other writer holds redb's write lock, so this does not wait.
        let tx = self.db.begin_write().map_err(map_err)?;
        let (out, recorder) = job.apply(&tx, f)?;
        let recorder = recorder.unwrap_or_else(wal::Recorder::checkpoint);
        match log.stage(tx, &recorder)? {
            log::Staged::Logged(tx, next) => {
                let flushed = log.clone();
                self.blocking.run(move || flushed.sync()).await?;
                log.publish(tx, next)?;
            }
            checkpoint => {
                let ended = log.clone();
                self.blocking
                    .run(move || {
                        let _admission = admission;
                        ended.finish(checkpoint)
                    })
                    .await?;
            }
        }
        Ok(out)
    }

    /// What a write transaction needs, to run where [`Blocking`] says.
    fn write_job(&self) -> WriteJob {
        WriteJob {
            db: self.db.clone(),
            namespace: self.namespace.clone(),
            log: self.log.clone(),
        }
    }

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

    /// Reads the namespace's data and log tables in one snapshot (reads of values and versions
    /// need the data table only: [`RedbStore::read`]); `None` if it was never written.
    fn read_parts<T>(&self, f: impl FnOnce(&ReadParts) -> Result<T>) -> Result<Option<T>> {
        let tx = self.db.begin_read().map_err(map_err)?;
        let open = |prefix: &str| match tx.open_table(table(&format!("{prefix}{}", self.namespace)))
        {
            Ok(t) => Ok(Some(t)),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(map_err(e)),
        };
        let Some(data) = open("")? else {
            return Ok(None);
        };
        // A namespace written before versions has only its data table.
        let parts = ReadParts {
            data,
            log: open("~log/")?,
        };
        f(&parts).map(Some)
    }

    fn range_collect<T>(
        &self,
        scan: Scan<'_>,
        f: impl Fn(&[u8], &[u8]) -> Result<T>,
    ) -> Result<Vec<T>> {
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
                    .map(|r| {
                        let (k, v) = r.map_err(map_err)?;
                        f(k.value(), v.value())
                    })
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
            .read(|t| get_with(t, key, versions::value_of))?
            .flatten())
    }

    async fn get_versioned(&self, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        check_key(key)?;
        Ok(self
            .read(|t| get_with(t, key, versions::versioned_of))?
            .flatten())
    }

    async fn get_many_versioned(&self, keys: &[&[u8]]) -> Result<Vec<Option<(Vec<u8>, u64)>>> {
        for key in keys {
            check_key(key)?;
        }
        Ok(self
            .read(|t| {
                keys.iter()
                    .map(|key| get_with(t, key, versions::versioned_of))
                    .collect::<Result<Vec<_>>>()
            })?
            .unwrap_or_else(|| vec![None; keys.len()]))
    }

    async fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        for key in keys {
            check_key(key)?;
        }
        Ok(self
            .read(|t| {
                keys.iter()
                    .map(|key| get_with(t, key, versions::value_of))
                    .collect::<Result<Vec<_>>>()
            })?
            .unwrap_or_else(|| vec![None; keys.len()]))
    }

    async fn changes(&self, since: u64, limit: usize) -> Result<Vec<Change>> {
        Ok(self
            .read_parts(|p| {
                versions::check_since(since, p.state()?.unwrap_or_default())?;
                let (Some(log), Some(from)) = (&p.log, since.checked_add(1)) else {
                    return Ok(Vec::new());
                };
                let from = versions::version_key(from);
                let mut out = Vec::new();
                for entry in log
                    .range::<&[u8]>(from.as_slice()..)
                    .map_err(map_err)?
                    .take(limit)
                {
                    let (v, key) = entry.map_err(map_err)?;
                    let key = key.value().to_vec();
                    out.push(Change {
                        version: versions::decode_version_key(v.value())?,
                        // A live key has a data entry; a tombstone has none.
                        value: get_with(&p.data, &key, versions::value_of)?,
                        key,
                    });
                }
                Ok(out)
            })?
            .unwrap_or_default())
    }

    async fn last_version(&self) -> Result<u64> {
        Ok(self
            .read_parts(|p| p.state())?
            .flatten()
            .unwrap_or_default()
            .last)
    }

    async fn contains(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        Ok(self
            .read(|t| Ok(t.get(key).map_err(map_err)?.is_some()))?
            .unwrap_or(false))
    }

    async fn scan(&self, scan: Scan<'_>) -> Result<Vec<Entry>> {
        self.range_collect(scan, |k, v| Ok((k.to_vec(), versions::value_of(v)?)))
    }

    async fn scan_keys(&self, scan: Scan<'_>) -> Result<Vec<Vec<u8>>> {
        self.range_collect(scan, |k, _| Ok(k.to_vec()))
    }

    async fn count(&self, prefix: &[u8]) -> Result<u64> {
        if prefix.is_empty() {
            return Ok(self.read(|t| t.len().map_err(map_err))?.unwrap_or(0));
        }
        Ok(self
            .range_collect(Scan::prefix(prefix), |_, _| Ok(()))?
            .len() as u64)
    }

    async fn batch(&self, batch: Batch) -> Result<()> {
        self.batch_versioned(batch).await.map(drop)
    }

    async fn batch_versioned(&self, batch: Batch) -> Result<Option<u64>> {
        batch.validate()?;
        let retention = self.retention;
        let small = batch.len() <= SMALL_COMMIT;
        self.write(small, move |parts| {
            versions::commit(parts, batch.into_ops(), retention)
        })
        .await
        .map(Some)
    }

    async fn batch_with(&self, fill: &mut BatchFill<'_>) -> Result<()> {
        self.batch_with_versioned(fill).await.map(drop)
    }

    async fn batch_with_versioned(&self, fill: &mut BatchFill<'_>) -> Result<Option<u64>> {
        let retention = self.retention;
        let job = self.write_job();
        // Admitted before the first operation, for the whole commit (`log` module docs); a
        // batch handed back whole has let go of it when it is applied below.
        let admission = match &self.log {
            Some(log) => Some(log.admit().await),
            None => None,
        };
        let fed = self
            .blocking
            .stream(fill, move |feed| {
                let _admission = admission;
                job.run(|parts| feed.commit(parts, retention))
            })
            .await?;
        match fed {
            Fed::Committed(last) => Ok(Some(last)),
            Fed::Whole(batch) => self.batch_versioned(batch).await,
        }
    }

    async fn clear(&self) -> Result<()> {
        self.write(false, |parts| {
            if let Some(recorder) = &mut parts.recorder {
                recorder.unloggable();
            }
            let mut state = versions::read_state(parts)?;
            for part in [Part::Data, Part::Meta, Part::Log, Part::Tombs] {
                parts.table(part).retain(|_, _| false).map_err(map_err)?;
            }
            // Versions go on; every feed from before the clear must resync.
            state.horizon = state.last;
            parts.apply(Write::Put(
                Part::Log,
                versions::STATE_KEY.to_vec(),
                state.encode().to_vec(),
            ))
        })
        .await
    }

    fn namespace_name(&self) -> &str {
        &self.namespace
    }

    fn namespace(&self, name: &str) -> Result<Self> {
        crate::validate_namespace(name)?;
        let store = RedbStore {
            db: self.db.clone(),
            namespace: name.into(),
            blocking: self.blocking,
            retention: self.retention,
            log: self.log.clone(),
        };
        // Every namespace in an earlier layout was moved when the database was opened.
        Ok(store)
    }
}

/// Reads `key`'s data entry in `table` and decodes it with `decode`.
fn get_with<T>(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
    decode: impl FnOnce(&[u8]) -> Result<T>,
) -> Result<Option<T>> {
    table
        .get(key)
        .map_err(map_err)?
        .map(|entry| decode(entry.value()))
        .transpose()
}

type Table<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;
type ReadTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// One write transaction of a namespace, runnable on any thread.
struct WriteJob {
    db: Arc<redb::Database>,
    namespace: Arc<str>,
    log: Option<Arc<log::Log>>,
}

impl WriteJob {
    /// Runs `f` in one write transaction and commits it (through the write-ahead log when
    /// there is one); on error the transaction is dropped uncommitted and redb aborts it.
    fn run<T>(self, f: impl FnOnce(&mut RedbParts<'_>) -> Result<T>) -> Result<T> {
        let tx = self.db.begin_write().map_err(map_err)?;
        let (out, recorder) = self.apply(&tx, f)?;
        match (&self.log, recorder) {
            (Some(log), Some(recorder)) => log.commit(tx, recorder)?,
            _ => tx.commit().map_err(map_err)?,
        }
        Ok(out)
    }

    /// Runs `f` on the namespace's tables in `tx`; returns its result and, with a log, the
    /// record of its writes.
    fn apply<T>(
        &self,
        tx: &redb::WriteTransaction,
        f: impl FnOnce(&mut RedbParts<'_>) -> Result<T>,
    ) -> Result<(T, Option<wal::Recorder>)> {
        let mut parts = RedbParts::open(tx, &self.namespace)?;
        if self.log.is_some() {
            parts.recorder = Some(log::recorder(&self.namespace));
        }
        let out = f(&mut parts)?;
        Ok((out, parts.recorder.take()))
    }
}

/// The four tables of a namespace (`crate::versions`) in one write transaction: the data table
/// named after the namespace, and `~meta/`, `~log/` and `~tombs/` followed by its name.
struct RedbParts<'t> {
    data: Table<'t>,
    meta: Table<'t>,
    log: Table<'t>,
    tombs: Table<'t>,
    /// What the commit writes, for the write-ahead log (when the store has one).
    recorder: Option<crate::backend::wal::Recorder>,
}

impl<'t> RedbParts<'t> {
    fn open(tx: &'t redb::WriteTransaction, namespace: &str) -> Result<Self> {
        let open = |prefix: &str| {
            tx.open_table(table(&format!("{prefix}{namespace}")))
                .map_err(map_err)
        };
        Ok(RedbParts {
            data: open("")?,
            meta: open("~meta/")?,
            log: open("~log/")?,
            tombs: open("~tombs/")?,
            recorder: None,
        })
    }

    fn table(&mut self, part: Part) -> &mut Table<'t> {
        match part {
            Part::Data => &mut self.data,
            Part::Meta => &mut self.meta,
            Part::Log => &mut self.log,
            Part::Tombs => &mut self.tombs,
        }
    }
}

impl Parts for RedbParts<'_> {
    fn get(&mut self, part: Part, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .table(part)
            .get(key)
            .map_err(map_err)?
            .map(|v| v.value().to_vec()))
    }

    fn data_version(&mut self, key: &[u8]) -> Result<Option<u64>> {
        get_with(&self.data, key, |entry| {
            versions::split_value(entry).map(|(version, _)| version)
        })
    }

    fn apply(&mut self, write: Write) -> Result<()> {
        match write {
            Write::Put(part, key, value) => self.put(part, &key, &value),
            Write::Delete(part, key) => {
                if let Some(recorder) = &mut self.recorder {
                    recorder.record_delete(part, &key);
                }
                self.table(part).remove(key.as_slice()).map_err(map_err)?;
                Ok(())
            }
        }
    }

    /// A failed commit's transaction is dropped uncommitted: redb aborts it.
    fn checks_at_write(&self) -> bool {
        true
    }

    fn put_data(&mut self, key: &[u8], entry: &[u8]) -> Result<Option<u64>> {
        // redb's insert returns the entry it replaced: no lookup before it.
        let old = self
            .data
            .insert(key, entry)
            .map_err(map_err)?
            .map(|old| versions::split_value(old.value()).map(|(version, _)| version))
            .transpose()?;
        if let Some(recorder) = &mut self.recorder {
            recorder.record_put(Part::Data, key, entry);
        }
        Ok(old)
    }

    fn put(&mut self, part: Part, key: &[u8], value: &[u8]) -> Result<()> {
        if let Some(recorder) = &mut self.recorder {
            recorder.record_put(part, key, value);
        }
        self.table(part).insert(key, value).map_err(map_err)?;
        Ok(())
    }

    fn has_tombstones(&mut self) -> Result<bool> {
        Ok(!self.tombs.is_empty().map_err(map_err)?)
    }

    fn tombs_upto(&mut self, cutoff: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let cutoff = versions::version_key(cutoff);
        self.tombs
            .range::<&[u8]>(..=cutoff.as_slice())
            .map_err(map_err)?
            .take(limit)
            .map(|r| {
                let (v, k) = r.map_err(map_err)?;
                Ok((versions::decode_version_key(v.value())?, k.value().to_vec()))
            })
            .collect()
    }
}

/// A namespace's data and log tables in one read snapshot (the log is absent in a namespace
/// written before versions, until it is upgraded).
struct ReadParts {
    data: ReadTable,
    log: Option<ReadTable>,
}

impl ReadParts {
    /// The state record, if the namespace is in this layout.
    fn state(&self) -> Result<Option<State>> {
        let Some(log) = &self.log else {
            return Ok(None);
        };
        log.get(versions::STATE_KEY)
            .map_err(map_err)?
            .map(|v| State::decode(v.value()))
            .transpose()
    }

    /// Whether the namespace is in the first versioned layout.
    fn v1_state(&self) -> Result<bool> {
        let Some(log) = &self.log else {
            return Ok(false);
        };
        Ok(log.get(versions::V1_STATE_KEY).map_err(map_err)?.is_some())
    }
}
