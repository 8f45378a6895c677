//! sled 0.34, the native default.
//!
//! **Layout.** Each namespace is one sled tree, named `~v/` followed by the namespace name,
//! holding its data and its version indexes (`crate::versions`, and the crate README) under a
//! one-byte tag: `0x00` ‖ key → version ‖ value, `0x01` ‖ key → tombstone, `0x02` ‖ version →
//! key (the feed, and the state record under `0x02 0x00`), `0x03` ‖ version → key
//! (tombstones). One tree makes a commit one `sled::Batch`, which sled applies atomically, with
//! no multi-tree transaction. The default tree holds the write-ahead log's checkpoint number
//! (`~wal/checkpoint`).
//!
//! **Earlier layouts**, moved into this one in one batch the first time a namespace is opened:
//! the first versioned layout (the same tree, a version entry under `0x01` for every key, bare
//! values, the state under `0x02` alone), and stores written before versions (one tree named
//! after the namespace, holding the data only; every key gets a version, and the old tree is
//! dropped afterwards).
//!
//! **Commits.** A commit reads the state and the version entries it needs and plans one batch,
//! under a mutex per namespace shared by every handle of the database (sled's lock keeps other
//! processes out), so a precondition and its writes are atomic.
//!
//! **Durability, with the write-ahead log (the default).** A small commit's writes are
//! appended to `kvstore.wal` in the database's directory and applied to sled in memory while
//! the log is `fsync`ed; the future resolves when the `fsync` ends. sled itself is flushed at
//! checkpoints (every 256 records, a large commit, a `clear`, the last handle's drop), and on
//! open the records after the last checkpoint are applied (`log` module). Every writer of the
//! database takes the log's async gate, so commits are logged and applied in one order.
//! [`SledBuilder::write_ahead_log`]`(false)` flushes sled after every write instead.
//! Either way:
//! - after a *process crash* (panic, `SIGKILL`), every write whose future resolved is present
//!   on reopen, and a batch is visible entirely or not at all (the crash test in
//!   `tests/crash.rs` checks exactly this, with and without the log);
//! - after a *power loss*, the same holds as far as the disk honours `fsync`; writes whose
//!   future had not resolved may or may not be present, never partly for a batch.
//!
//! **Blocking.** Reads and the in-memory part of writes run inline (sled serves them from its
//! cache in microseconds); the log's `fsync`, a checkpoint, or (without the log) sled's flush
//! runs on the `blocking` crate's thread pool and is awaited, so no executor thread waits on
//! the disk and no particular runtime is required ([`Blocking::Inline`] runs it in place
//! instead). A logged write is applied on the calling thread while its record's `fsync`
//! runs; one whose future is dropped during the `fsync` stays applied, durable with the next
//! flush.
//!
//! **Locking.** sled takes an exclusive file lock: opening a directory another process (or
//! another handle in this process) has open fails with [`Error::Busy`].

mod log;

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use super::feed::Fed;
use super::wal::Recorder;
use super::Blocking;
use crate::keys::check_key;
use crate::versions::{self, Part, Parts, State, Write};
use crate::{Batch, BatchFill, Change, Entry, Error, KVStore, Result, Scan, DEFAULT_NAMESPACE};

const BACKEND: &str = "sled";

/// A [`KVStore`] namespace in a sled database. Clones share the database.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    /// The namespace's tree: data and version indexes under one-byte tags (module docs).
    tree: sled::Tree,
    /// Serialises this namespace's commits across every handle of the database.
    commits: Arc<Mutex<()>>,
    /// One commit mutex per namespace, shared by every handle of the database.
    registry: Registry,
    namespace: String,
    blocking: Blocking,
    retention: u64,
    /// The write-ahead log, when opened with one (`log` module).
    log: Option<Arc<log::Log>>,
}

type Registry = Arc<Mutex<HashMap<String, Arc<Mutex<()>>>>>;

/// The tag of each part of a namespace in its tree.
fn tag(part: Part) -> u8 {
    match part {
        Part::Data => 0x00,
        Part::Meta => 0x01,
        Part::Log => 0x02,
        Part::Tombs => 0x03,
    }
}

fn tagged(part: Part, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.push(tag(part));
    out.extend_from_slice(key);
    out
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
#[derive(Debug, Clone)]
pub struct SledBuilder {
    blocking: Blocking,
    retention: u64,
    write_ahead_log: bool,
}

impl Default for SledBuilder {
    fn default() -> Self {
        SledBuilder {
            blocking: Blocking::default(),
            retention: versions::DEFAULT_TOMBSTONE_RETENTION,
            write_ahead_log: true,
        }
    }
}

impl SledBuilder {
    /// Keeps tombstones for the last `versions` versions (default
    /// [`DEFAULT_TOMBSTONE_RETENTION`](crate::DEFAULT_TOMBSTONE_RETENTION); see
    /// [`KVStore::changes`]).
    pub fn tombstone_retention(mut self, versions: u64) -> Self {
        self.retention = versions;
        self
    }

    /// Where flushes run (default [`Blocking::Offload`]).
    pub fn blocking(mut self, blocking: Blocking) -> Self {
        self.blocking = blocking;
        self
    }

    /// Whether the store keeps a write-ahead log, `kvstore.wal` in its directory (default
    /// `true`). With it, a small write appends its changes to the log and flushes the log
    /// (one `fsync` of a file sized once) instead of flushing sled, whose flush writes every
    /// page the write touched; sled is flushed every 256 records, for a large write, and when
    /// the last handle is dropped, so after a clean close sled alone holds everything. After a
    /// crash the records are applied on the next open. Without it every write flushes sled; a
    /// log left by an earlier open is applied, then removed.
    ///
    /// Builds of this crate from before the log (main before 2026-11-29) do not read it: open
    /// a store with them only after a clean close, or after opening it once with
    /// `write_ahead_log(false)` (otherwise they miss the writes still in the log, and a later
    /// open with the log applies those over what they wrote).
    pub fn write_ahead_log(mut self, enabled: bool) -> Self {
        self.write_ahead_log = enabled;
        self
    }

    /// Opens (creating if needed) the database in directory `path`, as [`SledStore::open`].
    ///
    /// # Errors
    ///
    /// As [`SledStore::open`].
    pub fn open(self, path: impl AsRef<Path>) -> Result<SledStore> {
        SledStore::open_with(path.as_ref(), self)
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

    fn open_with(path: &Path, builder: SledBuilder) -> Result<Self> {
        super::private::create_dir(path)?;
        let mut config = sled::Config::new().path(path);
        if builder.write_ahead_log {
            // The log makes writes durable; sled is flushed at checkpoints only.
            config = config.flush_every_ms(None);
        }
        let db = config.open().map_err(|err| {
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
        // sled's lock is held: the log is this handle's alone.
        let log = if builder.write_ahead_log {
            Some(Arc::new(log::Log::open(db.clone(), path)?))
        } else {
            let file = path.join(log::FILE);
            if file.exists() {
                log::drain(&db, path)?;
                std::fs::remove_file(&file)?;
            }
            None
        };
        Self::with_db(
            db,
            Registry::default(),
            DEFAULT_NAMESPACE,
            builder.blocking,
            builder.retention,
            log,
        )
    }

    fn with_db(
        db: sled::Db,
        registry: Registry,
        namespace: &str,
        blocking: Blocking,
        retention: u64,
        log: Option<Arc<log::Log>>,
    ) -> Result<Self> {
        crate::validate_namespace(namespace)?;
        let tree = db.open_tree(log::tree_name(namespace)).map_err(map_err)?;
        let commits = registry
            .lock()
            .map_err(|_| poisoned())?
            .entry(namespace.to_owned())
            .or_default()
            .clone();
        let store = SledStore {
            db,
            tree,
            commits,
            registry,
            namespace: namespace.to_owned(),
            blocking,
            retention,
            log,
        };
        store.upgrade()?;
        Ok(store)
    }

    /// Moves a namespace from an earlier layout (module docs) into this one: one batch; then
    /// the tree of a namespace written before versions is dropped (a crash before that leaves
    /// it to be dropped next time).
    fn upgrade(&self) -> Result<()> {
        let _commit = self.lock()?;
        let before_versions = self
            .db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == self.namespace.as_bytes());
        if self.state()?.is_none() {
            let mut parts = SledParts::new(&self.tree, Recorder::checkpoint());
            if self
                .tree
                .contains_key(tagged(Part::Log, versions::V1_STATE_KEY))
                .map_err(map_err)?
            {
                let entries = self
                    .tree
                    .scan_prefix([tag(Part::Data)])
                    .map(|r| {
                        r.map(|(k, v)| (k[1..].to_vec(), v.to_vec()))
                            .map_err(map_err)
                    })
                    .collect::<Result<Vec<_>>>()?;
                versions::upgrade_from_v1(&mut parts, entries)?;
            } else if before_versions {
                let old = self.db.open_tree(&self.namespace).map_err(map_err)?;
                let entries = old
                    .iter()
                    .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(map_err))
                    .collect::<Result<Vec<_>>>()?;
                versions::upgrade_from_unversioned(&mut parts, entries)?;
            } else {
                return Ok(());
            }
            self.tree.apply_batch(parts.into_batch()).map_err(map_err)?;
            self.tree.flush().map_err(map_err)?;
        }
        if before_versions {
            self.db
                .drop_tree(self.namespace.as_bytes())
                .map_err(map_err)?;
            self.db.flush().map_err(map_err)?;
        }
        Ok(())
    }

    fn lock(&self) -> Result<MutexGuard<'_, ()>> {
        self.commits.lock().map_err(|_| poisoned())
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

    /// The data range of `scan`, in tagged keys.
    fn range(&self, scan: &Scan<'_>) -> sled::Iter {
        let (lower, exclusive) = scan.lower();
        let lower = tagged(Part::Data, lower);
        let lower = if exclusive {
            Bound::Excluded(lower)
        } else {
            Bound::Included(lower)
        };
        let upper = match scan.upper() {
            Some(upper) => Bound::Excluded(tagged(Part::Data, &upper)),
            None => Bound::Excluded(vec![tag(Part::Data) + 1]),
        };
        self.tree.range::<Vec<u8>, _>((lower, upper))
    }

    fn state(&self) -> Result<Option<State>> {
        self.tree
            .get(tagged(Part::Log, versions::STATE_KEY))
            .map_err(map_err)?
            .map(|bytes| State::decode(&bytes))
            .transpose()
    }

    /// The value of `key` (its data entry without the version).
    fn get_value(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.tree
            .get(tagged(Part::Data, key))
            .map_err(map_err)?
            .map(|entry| versions::value_of(&entry))
            .transpose()
    }

    /// The value and version of `key`.
    fn get_versioned_value(&self, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        self.tree
            .get(tagged(Part::Data, key))
            .map_err(map_err)?
            .map(|entry| versions::versioned_of(&entry))
            .transpose()
    }

    /// Plans one commit with `plan` under the namespace's mutex, applies it and makes it
    /// durable. Without a log: applied under the same lock, then sled is flushed where
    /// [`Blocking`] says. With one, once admitted (`log` module docs): its record is written
    /// and its flush started where [`Blocking`] says, and its writes are applied here
    /// meanwhile; or, when it must be a checkpoint, its batch is applied and the checkpoint
    /// made where [`Blocking`] says.
    async fn write<T>(
        &self,
        plan: impl FnOnce(&mut SledParts<'_>) -> Result<T> + Send,
    ) -> Result<T> {
        let Some(log) = self.log.clone() else {
            let out = {
                let _commit = self.lock()?;
                let mut parts = SledParts::new(&self.tree, Recorder::checkpoint());
                let out = plan(&mut parts)?;
                self.tree.apply_batch(parts.into_batch()).map_err(map_err)?;
                out
            };
            self.flush().await?;
            return Ok(out);
        };
        let admission = log.admit().await;
        // Admitted: no other writer plans or applies until this commit is over.
        let (out, mut parts) = {
            let _commit = self.lock()?;
            let mut parts = SledParts::new(&self.tree, log::recorder(&self.namespace));
            let out = plan(&mut parts)?;
            (out, parts)
        };
        if log.append(&parts.recorder)? {
            // The record is written: from here the commit is applied, here and now, while
            // the log's flush runs (where `Blocking` says), and on the next open if a
            // crash comes first (an error applying leaves sled's memory short of it until
            // then). A record whose flush fails or never runs (the future dropped) is
            // made durable by the next flush: the position has moved past it.
            let flushed = log.clone();
            let flush = self.blocking.start(move || flushed.sync());
            {
                let _commit = self.lock()?;
                parts.apply_each()?;
            }
            flush.await?;
        } else {
            let batch = parts.into_batch();
            self.apply(batch)?;
            self.blocking
                .run(move || {
                    let _admission = admission;
                    log.checkpoint()
                })
                .await?;
        }
        Ok(out)
    }

    /// Applies a planned batch (with a log, admitted), under the namespace's mutex so that a
    /// reader under it sees all of the batch or none.
    fn apply(&self, batch: sled::Batch) -> Result<()> {
        let _commit = self.lock()?;
        self.tree.apply_batch(batch).map_err(map_err)
    }
}

fn poisoned() -> Error {
    Error::backend(
        BACKEND,
        "a commit panicked while holding the namespace's lock",
    )
}

/// A commit in progress: reads go to the tree (under the namespace's mutex, so nothing else
/// writes it meanwhile), writes gather here and in the log's record.
struct SledParts<'t> {
    tree: &'t sled::Tree,
    /// The commit's writes, tagged keys and values (`None`: a delete).
    writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// The commit's log record ([`Recorder::checkpoint`], which records nothing, without a
    /// log).
    recorder: Recorder,
}

impl<'t> SledParts<'t> {
    fn new(tree: &'t sled::Tree, recorder: Recorder) -> Self {
        SledParts {
            tree,
            writes: Vec::new(),
            recorder,
        }
    }

    /// The writes as one `sled::Batch`, which sled applies atomically (and for which it
    /// writes its own log twice, `log` module docs).
    fn into_batch(self) -> sled::Batch {
        let mut batch = sled::Batch::default();
        for (key, value) in self.writes {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        batch
    }

    /// Applies the writes one by one, for a commit whose log record is written (the record,
    /// not sled, makes it atomic across a crash; the caller holds the namespace's mutex, which
    /// every multi-key read takes, so none sees part of it).
    fn apply_each(&mut self) -> Result<()> {
        for (key, value) in self.writes.drain(..) {
            match value {
                Some(value) => self.tree.insert(key, value).map(drop),
                None => self.tree.remove(key).map(drop),
            }
            .map_err(map_err)?;
        }
        Ok(())
    }
}

impl Parts for SledParts<'_> {
    fn get(&mut self, part: Part, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .tree
            .get(tagged(part, key))
            .map_err(map_err)?
            .map(|v| v.to_vec()))
    }

    /// A failed commit's batch is never applied.
    fn checks_at_write(&self) -> bool {
        true
    }

    fn data_version(&mut self, key: &[u8]) -> Result<Option<u64>> {
        self.tree
            .get(tagged(Part::Data, key))
            .map_err(map_err)?
            .map(|entry| versions::split_value(&entry).map(|(version, _)| version))
            .transpose()
    }

    fn apply(&mut self, write: Write) -> Result<()> {
        match write {
            Write::Put(part, key, value) => {
                self.recorder.record_put(part, &key, &value);
                self.writes.push((tagged(part, &key), Some(value)));
            }
            Write::Delete(part, key) => {
                self.recorder.record_delete(part, &key);
                self.writes.push((tagged(part, &key), None));
            }
        }
        Ok(())
    }

    fn has_tombstones(&mut self) -> Result<bool> {
        Ok(self
            .tree
            .scan_prefix([tag(Part::Tombs)])
            .next()
            .transpose()
            .map_err(map_err)?
            .is_some())
    }

    fn tombs_upto(&mut self, cutoff: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let from = tagged(Part::Tombs, &[]);
        let to = tagged(Part::Tombs, &versions::version_key(cutoff));
        self.tree
            .range(from..=to)
            .take(limit)
            .map(|r| {
                let (k, v) = r.map_err(map_err)?;
                Ok((versions::decode_version_key(&k[1..])?, v.to_vec()))
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl KVStore for SledStore {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        self.get_value(key)
    }

    async fn get_versioned(&self, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        check_key(key)?;
        // One entry holds both: no lock needed.
        self.get_versioned_value(key)
    }

    async fn get_many_versioned(&self, keys: &[&[u8]]) -> Result<Vec<Option<(Vec<u8>, u64)>>> {
        for key in keys {
            check_key(key)?;
        }
        // Under the commit mutex: no commit of this namespace between two reads.
        let _commit = self.lock()?;
        keys.iter()
            .map(|key| self.get_versioned_value(key))
            .collect()
    }

    async fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        for key in keys {
            check_key(key)?;
        }
        // Under the commit mutex, as get_many_versioned.
        let _commit = self.lock()?;
        keys.iter().map(|key| self.get_value(key)).collect()
    }

    async fn changes(&self, since: u64, limit: usize) -> Result<Vec<Change>> {
        let _commit = self.lock()?;
        versions::check_since(since, self.state()?.unwrap_or_default())?;
        let Some(from) = since.checked_add(1) else {
            return Ok(Vec::new());
        };
        let start = tagged(Part::Log, &versions::version_key(from));
        let end = vec![tag(Part::Log) + 1];
        let mut out = Vec::new();
        for entry in self.tree.range(start..end).take(limit) {
            let (k, key) = entry.map_err(map_err)?;
            let version = versions::decode_version_key(&k[1..])?;
            // A live key has a data entry; a tombstone has none.
            out.push(Change {
                value: self.get_value(&key)?,
                key: key.to_vec(),
                version,
            });
        }
        Ok(out)
    }

    async fn last_version(&self) -> Result<u64> {
        Ok(self.state()?.unwrap_or_default().last)
    }

    async fn contains(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        self.tree
            .contains_key(tagged(Part::Data, key))
            .map_err(map_err)
    }

    async fn scan(&self, scan: Scan<'_>) -> Result<Vec<Entry>> {
        if scan.is_empty() {
            return Ok(Vec::new());
        }
        // Under the commit mutex: a logged commit applies its writes one by one under it.
        let _commit = self.lock()?;
        self.range(&scan)
            .take(scan.limit.unwrap_or(usize::MAX))
            .map(|r| {
                let (k, v) = r.map_err(map_err)?;
                Ok((k[1..].to_vec(), versions::value_of(&v)?))
            })
            .collect()
    }

    async fn scan_keys(&self, scan: Scan<'_>) -> Result<Vec<Vec<u8>>> {
        if scan.is_empty() {
            return Ok(Vec::new());
        }
        // Under the commit mutex, as `scan`.
        let _commit = self.lock()?;
        self.range(&scan)
            .keys()
            .take(scan.limit.unwrap_or(usize::MAX))
            .map(|r| r.map(|k| k[1..].to_vec()).map_err(map_err))
            .collect()
    }

    async fn count(&self, prefix: &[u8]) -> Result<u64> {
        // Under the commit mutex, as `scan`.
        let _commit = self.lock()?;
        let mut n = 0;
        for key in self.tree.scan_prefix(tagged(Part::Data, prefix)).keys() {
            key.map_err(map_err)?;
            n += 1;
        }
        Ok(n)
    }

    async fn batch(&self, batch: Batch) -> Result<()> {
        self.batch_versioned(batch).await.map(drop)
    }

    async fn batch_versioned(&self, batch: Batch) -> Result<Option<u64>> {
        batch.validate()?;
        let retention = self.retention;
        let ops = batch.into_ops();
        self.write(move |parts| versions::commit(parts, ops, retention))
            .await
            .map(Some)
    }

    async fn batch_with(&self, fill: &mut BatchFill<'_>) -> Result<()> {
        self.batch_with_versioned(fill).await.map(drop)
    }

    async fn batch_with_versioned(&self, fill: &mut BatchFill<'_>) -> Result<Option<u64>> {
        let tree = self.tree.clone();
        let commits = self.commits.clone();
        let retention = self.retention;
        let log = self.log.clone();
        // With a log, admitted before the first operation, for the whole commit, which is a
        // checkpoint (`log` module docs); a batch handed back whole has let go of it when it is
        // applied below.
        let admission = match &log {
            Some(log) => Some(log.admit().await),
            None => None,
        };
        let fed = self
            .blocking
            .stream(fill, move |feed| {
                let _admission = admission;
                let last = {
                    let _commit = commits.lock().map_err(|_| poisoned())?;
                    let mut parts = SledParts::new(&tree, Recorder::checkpoint());
                    let last = feed.commit(&mut parts, retention)?;
                    tree.apply_batch(parts.into_batch()).map_err(map_err)?;
                    last
                };
                match log {
                    Some(log) => log.checkpoint()?,
                    None => {
                        tree.flush().map_err(map_err)?;
                    }
                }
                Ok(last)
            })
            .await?;
        match fed {
            Fed::Committed(last) => Ok(Some(last)),
            Fed::Whole(batch) => self.batch_versioned(batch).await,
        }
    }

    async fn clear(&self) -> Result<()> {
        self.write(|parts| {
            // The log cannot describe a clear: a checkpoint.
            parts.recorder.unloggable();
            let mut state = versions::read_state(parts)?;
            for key in parts.tree.iter().keys() {
                parts.writes.push((key.map_err(map_err)?.to_vec(), None));
            }
            // Versions go on; every feed from before the clear must resync.
            state.horizon = state.last;
            parts.writes.push((
                tagged(Part::Log, versions::STATE_KEY),
                Some(state.encode().to_vec()),
            ));
            Ok(())
        })
        .await
    }

    fn namespace_name(&self) -> &str {
        &self.namespace
    }

    fn namespace(&self, name: &str) -> Result<Self> {
        Self::with_db(
            self.db.clone(),
            self.registry.clone(),
            name,
            self.blocking,
            self.retention,
            self.log.clone(),
        )
    }
}
