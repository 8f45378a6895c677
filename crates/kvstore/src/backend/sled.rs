//! sled 0.34, the native default.
//!
//! **Layout.** Each namespace is one sled tree, named `~v/` followed by the namespace name,
//! holding its data and its version indexes (`crate::versions`, and the crate README) under a
//! one-byte tag: `0x00` ‖ key → version ‖ value, `0x01` ‖ key → tombstone, `0x02 0x00` → the
//! state record, `0x03` ‖ version → key (tombstones), and `0x04` ‖ chunk (u64, big-endian) →
//! the feed entries (version → key) of versions chunk × 32 to chunk × 32 + 31, each as its
//! offset in the chunk (1 byte), the key's length (u16, big-endian) and the key, ascending. A
//! commit writes the chunks its feed entries fall in, not one entry per version: sled 0.34
//! copies a leaf for every insert, and a feed entry per key doubled the entries of a large
//! batch. One tree makes a commit one `sled::Batch`, which sled applies atomically, with no
//! multi-tree transaction. The default tree holds the write-ahead log's checkpoint number
//! (`~wal/checkpoint`).
//!
//! **Earlier layouts**, moved into this one in one batch the first time a namespace is opened:
//! one feed entry per version (`0x02` ‖ version → key; kvstore before 2026-11-29), the first
//! versioned layout (the same tree, a version entry under `0x01` for every key, bare values,
//! the state under `0x02` alone, and a feed entry per version), and stores written before
//! versions (one tree named after the namespace, holding the data only; every key gets a
//! version, and the old tree is dropped afterwards). The write-ahead log's records hold feed
//! entries one by one in every layout; replayed into a tree not moved yet, they also remove
//! the entries they replace in their unchunked form.
//!
//! **Commits.** A commit reads the state and the version entries it needs and plans one batch,
//! under a mutex per namespace shared by every handle of the database (sled's lock keeps other
//! processes out), so a precondition and its writes are atomic.
//!
//! **Durability, with the write-ahead log (the default).** A commit's writes are appended to
//! `kvstore.wal` in the database's directory as one record, and applied to sled in memory once
//! the log's `fdatasync` has ended; the future resolves then. A batch streamed to its commit
//! (`batch_with`) is logged the same way once its producer has sent it all. sled itself is
//! flushed at checkpoints (every 256 records, a full log, a commit whose record would pass
//! 2 MiB, a `clear`, the last handle's drop), and on open the records after the last
//! checkpoint are applied (`log` module). Every writer of the
//! database takes the log's async gate, so commits are logged and applied in one order.
//! [`SledBuilder::write_ahead_log`]`(false)` flushes sled after every write instead.
//! Either way:
//! - after a *process crash* (panic, `SIGKILL`), every write whose future resolved is present
//!   on reopen, and a batch is visible entirely or not at all (the crash test in
//!   `tests/crash.rs` checks exactly this, with and without the log);
//! - after a *power loss*, the same holds as far as the disk honours `fsync`; writes whose
//!   future had not resolved may or may not be present, never partly for a batch. Without
//!   the log this rests on sled's own flush, which on Linux is `sync_file_range` of its data
//!   file (neither the disk's cache nor the file's size) and leaves its blob files (pages
//!   past 128 KiB) unsynced; the log's checkpoints `fsync` all of them.
//!
//! **Blocking.** Reads and the in-memory part of writes run inline (sled serves them from its
//! cache in microseconds); the log's `fsync`, a checkpoint, or (without the log) sled's flush
//! runs on the `blocking` crate's thread pool and is awaited, so no executor thread waits on
//! the disk and no particular runtime is required ([`Blocking::Inline`] runs it in place
//! instead). A logged write is applied in memory on the calling thread once its record's
//! `fsync` has ended, never before (`log` module docs); one whose future is dropped meanwhile
//! is still flushed and applied, on the pool, before any later write.
//!
//! **Locking.** sled takes an exclusive file lock: opening a directory another process (or
//! another handle in this process) has open fails with [`Error::Busy`]. So can reopening one
//! right after its last handle was dropped: sled's own threads let go of the file a moment
//! later. [`SledBuilder::busy_timeout`] makes `open` wait for the lock instead.

mod log;

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

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

/// The tag of the feed's chunks ([`FEED_CHUNK`] versions → keys in one entry each).
const CHUNK_TAG: u8 = 0x04;

/// How many consecutive versions one feed chunk covers: chunk `c` holds the feed entries of
/// versions `c × 32` to `c × 32 + 31`. A commit of n keys writes about n / 32 + 2 entries for
/// its feed (the chunks of its new versions and of the versions it replaces) instead of up to
/// 2n: sled 0.34 copies a leaf for every insert, about 5 µs an entry here (docs/PERF.md,
/// session 19).
const FEED_CHUNK: u64 = 32;

/// The tree key of feed chunk `chunk`.
fn chunk_key(chunk: u64) -> [u8; 9] {
    let mut out = [CHUNK_TAG; 9];
    out[1..].copy_from_slice(&chunk.to_be_bytes());
    out
}

/// Encodes the feed entries of one chunk (versions ascending, all in the chunk): for each, its
/// offset in the chunk (1 byte), the key's length (u16, big-endian) and the key.
fn encode_chunk(entries: &BTreeMap<u64, Vec<u8>>) -> Vec<u8> {
    let len = entries.values().map(|key| 3 + key.len()).sum();
    let mut out = Vec::with_capacity(len);
    for (version, key) in entries {
        // Keys are at most `MAX_KEY_LEN` (1,024) bytes, offsets below `FEED_CHUNK`.
        out.push((version % FEED_CHUNK) as u8);
        out.extend_from_slice(&(key.len() as u16).to_be_bytes());
        out.extend_from_slice(key);
    }
    out
}

/// Decodes feed chunk `chunk` ([`encode_chunk`]) into its `(version, key)` entries, ascending.
///
/// # Errors
///
/// [`Error::Corrupted`] for a truncated entry, an offset out of the chunk or out of order.
fn decode_chunk(chunk: u64, mut bytes: &[u8]) -> Result<Vec<(u64, Vec<u8>)>> {
    let corrupted = || Error::Corrupted("a change feed chunk does not decode".into());
    let base = chunk.checked_mul(FEED_CHUNK).ok_or_else(corrupted)?;
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    while let [offset, hi, lo, rest @ ..] = bytes {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        let version = base + u64::from(*offset);
        if u64::from(*offset) >= FEED_CHUNK
            || rest.len() < len
            || out.last().is_some_and(|(last, _)| *last >= version)
        {
            return Err(corrupted());
        }
        out.push((version, rest[..len].to_vec()));
        bytes = &rest[len..];
    }
    if !bytes.is_empty() {
        return Err(corrupted());
    }
    Ok(out)
}

/// The chunk number of a chunk's tree key.
fn decode_chunk_key(key: &[u8]) -> Result<u64> {
    match key {
        [CHUNK_TAG, rest @ ..] => versions::decode_version_key(rest),
        _ => Err(Error::Corrupted(
            "a change feed chunk key is malformed".into(),
        )),
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
    busy_timeout: Duration,
}

impl Default for SledBuilder {
    fn default() -> Self {
        SledBuilder {
            blocking: Blocking::default(),
            retention: versions::DEFAULT_TOMBSTONE_RETENTION,
            write_ahead_log: true,
            busy_timeout: Duration::ZERO,
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

    /// How long [`open`](Self::open) waits for a database another handle or process holds
    /// (default zero: [`Error::Busy`] at once). It tries again every 20 ms, blocking the
    /// calling thread, and fails with [`Error::Busy`] once `timeout` has passed. Useful right
    /// after the last handle was dropped, which sled lets go of a moment later, and for short
    /// programs (a CLI) that may run while another one has the store open.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Opens (creating if needed) the database in directory `path`, as [`SledStore::open`].
    ///
    /// # Errors
    ///
    /// As [`SledStore::open`] ([`Error::Busy`] after the [`busy_timeout`](Self::busy_timeout)).
    pub fn open(self, path: impl AsRef<Path>) -> Result<SledStore> {
        let path = path.as_ref();
        super::open_waiting(self.busy_timeout, || {
            SledStore::open_with(path, self.clone())
        })
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
    /// [`Error::Busy`] if another process or handle has the database open (or had it, a
    /// moment ago: module docs, Locking; [`SledBuilder::busy_timeout`] waits for it),
    /// [`Error::Io`] or [`Error::Corrupted`] if it cannot be read.
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
            }
            if !parts.writes.is_empty() || !parts.feed.is_empty() {
                self.tree
                    .apply_batch(parts.into_batch()?)
                    .map_err(map_err)?;
                self.tree.flush().map_err(map_err)?;
            }
        }
        self.chunk_feed()?;
        if before_versions {
            self.db
                .drop_tree(self.namespace.as_bytes())
                .map_err(map_err)?;
            self.db.flush().map_err(map_err)?;
        }
        Ok(())
    }

    /// Moves feed entries kept one per version (`0x02` ‖ version, every layout before the
    /// chunks; the first versioned layout's come through [`upgrade`](Self::upgrade) as they
    /// were) into chunks, in one batch. Chunks beside them mean a build from before the chunks
    /// wrote a store this one had moved, and its writes removed no chunked entry: every entry,
    /// chunked or not, is kept only if it is its key's current version (one lookup an entry,
    /// once). The caller holds the namespace's mutex.
    fn chunk_feed(&self) -> Result<()> {
        // The state's key (one byte) and the first layout's (none) sort before these.
        let first = tagged(Part::Log, &versions::version_key(0));
        let end = [tag(Part::Log) + 1];
        let mut parts = SledParts::new(&self.tree, Recorder::checkpoint());
        let mut unchunked = Vec::new();
        for entry in self.tree.range(first.as_slice()..end.as_slice()) {
            let (k, key) = entry.map_err(map_err)?;
            unchunked.push((versions::decode_version_key(&k[1..])?, key.to_vec()));
            parts.push(k.to_vec(), None);
        }
        if unchunked.is_empty() {
            return Ok(());
        }
        let chunked = self
            .tree
            .scan_prefix([CHUNK_TAG])
            .map(|r| {
                let (k, v) = r.map_err(map_err)?;
                decode_chunk(decode_chunk_key(&k)?, &v)
            })
            .collect::<Result<Vec<_>>>()?;
        for (version, key) in chunked.into_iter().flatten() {
            if !is_current(&mut parts, version, &key)? {
                parts.feed.insert(version, None);
            }
        }
        for (version, key) in unchunked {
            if is_current(&mut parts, version, &key)? {
                parts.feed.insert(version, Some(key));
            }
        }
        self.tree
            .apply_batch(parts.into_batch()?)
            .map_err(map_err)?;
        self.tree.flush().map_err(map_err)?;
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
    /// and flushed where [`Blocking`] says, then its writes are applied here; or, when it must
    /// be a checkpoint, its batch is applied and the checkpoint made where [`Blocking`] says.
    async fn write<T>(
        &self,
        plan: impl FnOnce(&mut SledParts<'_>) -> Result<T> + Send,
    ) -> Result<T> {
        let Some(log) = self.log.clone() else {
            let out = {
                let _commit = self.lock()?;
                let mut parts = SledParts::new(&self.tree, Recorder::checkpoint());
                let out = plan(&mut parts)?;
                self.tree
                    .apply_batch(parts.into_batch()?)
                    .map_err(map_err)?;
                out
            };
            self.flush().await?;
            return Ok(out);
        };
        let admission = log.admit().await;
        // Admitted: no other writer plans or applies until this commit is over.
        let (out, mut parts) = plan_logged(&self.tree, &self.commits, &self.namespace, plan)?;
        if log.append(&parts.recorder)? {
            // The record is written: from here the commit is applied, once the log's flush
            // has ended (where `Blocking` says), and on the next open if a crash comes first
            // (an error applying leaves sled's memory short of it until then). Not before:
            // sled writes its buffers to its file whenever one fills, so writes applied during
            // the flush could reach the disk before their record, and a power cut then would
            // leave part of the commit. A record whose flush fails is applied all the same,
            // and made durable by the next flush (the position has moved past it). Applied
            // here, on the thread that planned them (their pages in its core's cache), not on
            // the pool after the flush: a vault `set_secret` measured 1.13–1.20× the code
            // before versions this way, 1.23–1.39× that way (docs/PERF.md, session 20).
            let mut logged = Logged {
                tree: self.tree.clone(),
                commits: self.commits.clone(),
                log: log.clone(),
                writes: Some(std::mem::take(&mut parts.writes)),
                admission: Some(admission),
            };
            let flushed = self.blocking.run(move || log.sync()).await;
            logged.apply()?;
            flushed?;
        } else {
            apply_whole(&self.tree, &self.commits, parts.into_batch()?)?;
            self.blocking
                .run(move || {
                    let _admission = admission;
                    log.checkpoint()
                })
                .await?;
        }
        Ok(out)
    }
}

/// Plans a logged commit with `plan` under the namespace's mutex (`commits`), the feed's chunks
/// too, before anything is logged: a failure here logs nothing. The caller holds the log's
/// gate.
fn plan_logged<'t, T>(
    tree: &'t sled::Tree,
    commits: &Mutex<()>,
    namespace: &str,
    plan: impl FnOnce(&mut SledParts<'_>) -> Result<T>,
) -> Result<(T, SledParts<'t>)> {
    let _commit = commits.lock().map_err(|_| poisoned())?;
    let mut parts = SledParts::new(tree, log::recorder(namespace));
    let out = plan(&mut parts)?;
    parts.settle_feed()?;
    Ok((out, parts))
}

/// Applies a planned batch (with a log, admitted) under the namespace's mutex (`commits`), so
/// that a reader under it sees all of the batch or none.
fn apply_whole(tree: &sled::Tree, commits: &Mutex<()>, batch: sled::Batch) -> Result<()> {
    let _commit = commits.lock().map_err(|_| poisoned())?;
    tree.apply_batch(batch).map_err(map_err)
}

/// A logged commit whose record is written, until its writes are applied
/// ([`SledStore::write`]). Dropped before that (its future dropped during the flush), it
/// flushes the log again and applies them on the pool, holding the admission until then: no
/// later commit is planned without them, and none of them is applied before its record is
/// durable.
struct Logged {
    tree: sled::Tree,
    commits: Arc<Mutex<()>>,
    log: Arc<log::Log>,
    writes: Option<Writes>,
    admission: Option<log::Admission>,
}

impl Logged {
    /// Applies the writes (the log's flush has ended), under the namespace's mutex.
    fn apply(&mut self) -> Result<()> {
        let writes = self.writes.take().unwrap_or_default();
        let _commit = self.commits.lock().map_err(|_| poisoned())?;
        apply_each(&self.tree, writes)
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let Some(writes) = self.writes.take() else {
            return;
        };
        let (tree, commits, log) = (self.tree.clone(), self.commits.clone(), self.log.clone());
        let admission = self.admission.take();
        blocking::unblock(move || {
            let _admission = admission;
            // Durable first: an `fsync` after the record's write, whatever became of the one
            // the dropped future awaited. If it fails, the writes are applied all the same.
            let _ = log.sync();
            if let Ok(_commit) = commits.lock() {
                let _ = apply_each(&tree, writes);
            }
        })
        .detach();
    }
}

/// A commit planned and made on the calling thread, which may block (a streamed batch's
/// commit, on the pool), with the log's gate held by the caller: planned with `plan` under the
/// namespace's mutex; then, if its record fits in the log, the record is written and flushed
/// and the writes applied one by one (as [`SledStore::write`] does, without handing the flush
/// to another thread), else applied as one `sled::Batch` and made durable by a checkpoint.
///
/// Logged, a large batch costs one sequential write of its record and one `fdatasync`, where a
/// checkpoint costs sled's flush and an `fsync` of its files: a vault `set_secrets` of 1,000
/// measured 1.37–1.45× the code before versions with a checkpoint each, 1.21–1.25× logged
/// (medians; docs/PERF.md, session 22).
fn commit_logged<T>(
    tree: &sled::Tree,
    commits: &Mutex<()>,
    log: &log::Log,
    namespace: &str,
    plan: impl FnOnce(&mut SledParts<'_>) -> Result<T>,
) -> Result<T> {
    let (out, mut parts) = plan_logged(tree, commits, namespace, plan)?;
    if log.append(&parts.recorder)? {
        // Applied once the flush has ended, never before (`log` module docs); applied even if
        // it failed, like any logged write (the next flush makes it durable).
        let flushed = log.sync();
        let writes = std::mem::take(&mut parts.writes);
        let _commit = commits.lock().map_err(|_| poisoned())?;
        apply_each(tree, writes)?;
        flushed?;
    } else {
        apply_whole(tree, commits, parts.into_batch()?)?;
        log.checkpoint()?;
    }
    Ok(out)
}

/// A commit's writes: tagged keys and values (`None`: a delete), values in sled's form.
type Writes = Vec<(Vec<u8>, Option<sled::IVec>)>;

/// Applies `writes` to `tree` one by one, for a commit whose log record is durable (the
/// record, not sled, makes it atomic across a crash; the caller holds the namespace's mutex,
/// which every multi-key read takes, so none sees part of it).
fn apply_each(tree: &sled::Tree, writes: Writes) -> Result<()> {
    for (key, value) in writes {
        match value {
            Some(value) => tree.insert(key, value).map(drop),
            None => tree.remove(key).map(drop),
        }
        .map_err(map_err)?;
    }
    Ok(())
}

/// Whether `version` is `key`'s current version (its data entry's, or its tombstone's).
fn is_current(parts: &mut SledParts<'_>, version: u64, key: &[u8]) -> Result<bool> {
    Ok(versions::read_meta(parts, key)?.is_some_and(|meta| meta.version == version))
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
    /// The commit's writes, tagged keys and values (`None`: a delete), the values already in
    /// sled's form (copied once, when written here); in `batch` instead when there is one.
    writes: Writes,
    /// The commit's writes as a `sled::Batch` made as they come, for a commit applied as one
    /// ([`SledParts::batched`]: a streamed commit on a store without a log, whose batch is
    /// then made while its producer works, not after).
    batch: Option<sled::Batch>,
    /// The commit's feed entries, version → key (`None`: removed), written into their chunks
    /// when the commit is applied ([`SledParts::settle_feed`]).
    feed: BTreeMap<u64, Option<Vec<u8>>>,
    /// The commit's log record ([`Recorder::checkpoint`], which records nothing, without a
    /// log). It holds the feed entries one by one, as every backend's log does; replaying it
    /// goes through the chunks again.
    recorder: Recorder,
    /// Whether each feed entry's unchunked form (`0x02` ‖ version, the layouts before chunks)
    /// is removed too: for the log's replay, which may meet a tree not moved to chunks yet
    /// (its namespace is moved when first opened, after the replay).
    unchunked: bool,
}

impl<'t> SledParts<'t> {
    fn new(tree: &'t sled::Tree, recorder: Recorder) -> Self {
        SledParts {
            tree,
            writes: Vec::new(),
            batch: None,
            feed: BTreeMap::new(),
            recorder,
            unchunked: false,
        }
    }

    /// For a commit applied as one `sled::Batch` ([`SledParts::batch`]) without a log record.
    fn batched(tree: &'t sled::Tree) -> Self {
        SledParts {
            batch: Some(sled::Batch::default()),
            ..Self::new(tree, Recorder::checkpoint())
        }
    }

    /// Adds a write of the tagged `key` (`None`: a delete).
    fn push(&mut self, key: Vec<u8>, value: Option<sled::IVec>) {
        match (&mut self.batch, value) {
            (Some(batch), Some(value)) => batch.insert(key, value),
            (Some(batch), None) => batch.remove(key),
            (None, value) => self.writes.push((key, value)),
        }
    }

    /// For the log's replay: as [`SledParts::new`], with [`SledParts::unchunked`] set.
    fn replaying(tree: &'t sled::Tree) -> Self {
        SledParts {
            unchunked: true,
            ..Self::new(tree, Recorder::checkpoint())
        }
    }

    /// The feed entries of chunk `chunk` in the tree, as of before this commit.
    fn stored_chunk(&self, chunk: u64) -> Result<BTreeMap<u64, Vec<u8>>> {
        Ok(match self.tree.get(chunk_key(chunk)).map_err(map_err)? {
            Some(bytes) => decode_chunk(chunk, &bytes)?.into_iter().collect(),
            None => BTreeMap::new(),
        })
    }

    /// Turns the commit's feed entries into writes of the chunks they fall in: each chunk
    /// touched is read, changed and written whole (deleted when left empty).
    fn settle_feed(&mut self) -> Result<()> {
        let mut edits = std::mem::take(&mut self.feed).into_iter().peekable();
        while let Some(&(first, _)) = edits.peek() {
            let chunk = first / FEED_CHUNK;
            let mut entries = self.stored_chunk(chunk)?;
            let existed = !entries.is_empty();
            while let Some((version, key)) = edits.next_if(|(v, _)| v / FEED_CHUNK == chunk) {
                if self.unchunked {
                    let unchunked = tagged(Part::Log, &versions::version_key(version));
                    self.push(unchunked, None);
                }
                match key {
                    Some(key) => entries.insert(version, key),
                    None => entries.remove(&version),
                };
            }
            let key = chunk_key(chunk).to_vec();
            if !entries.is_empty() {
                self.push(key, Some(encode_chunk(&entries).into()));
            } else if existed {
                self.push(key, None);
            }
        }
        Ok(())
    }

    /// The writes as one `sled::Batch`, which sled applies atomically (and for which it
    /// writes its own log twice, `log` module docs).
    fn into_batch(mut self) -> Result<sled::Batch> {
        self.settle_feed()?;
        if let Some(batch) = self.batch.take() {
            return Ok(batch);
        }
        let mut batch = sled::Batch::default();
        for (key, value) in self.writes {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        Ok(batch)
    }
}

impl Parts for SledParts<'_> {
    fn get(&mut self, part: Part, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let (Part::Log, Ok(version)) = (part, versions::decode_version_key(key)) {
            // A feed entry (no commit reads one back today): this commit's, else its chunk's.
            if let Some(entry) = self.feed.get(&version) {
                return Ok(entry.clone());
            }
            return Ok(self.stored_chunk(version / FEED_CHUNK)?.remove(&version));
        }
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
            // Feed entries (8-byte keys in the log part; the state's key is 1 byte) go into
            // chunks when the commit is applied.
            Write::Put(Part::Log, key, value) if key.len() == 8 => {
                self.recorder.record_put(Part::Log, &key, &value);
                self.feed
                    .insert(versions::decode_version_key(&key)?, Some(value));
            }
            Write::Delete(Part::Log, key) if key.len() == 8 => {
                self.recorder.record_delete(Part::Log, &key);
                self.feed.insert(versions::decode_version_key(&key)?, None);
            }
            Write::Put(part, key, value) => self.put(part, &key, &value)?,
            Write::Delete(part, key) => {
                self.recorder.record_delete(part, &key);
                self.push(tagged(part, &key), None);
            }
        }
        Ok(())
    }

    fn put(&mut self, part: Part, key: &[u8], value: &[u8]) -> Result<()> {
        if part == Part::Log && key.len() == 8 {
            // A feed entry: as `apply` does.
            return self.apply(Write::Put(part, key.to_vec(), value.to_vec()));
        }
        self.recorder.record_put(part, key, value);
        self.push(tagged(part, key), Some(value.into()));
        Ok(())
    }

    fn put_data(&mut self, key: &[u8], entry: &[u8]) -> Result<Option<u64>> {
        let old = self.data_version(key)?;
        self.put(Part::Data, key, entry)?;
        Ok(old)
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
        let start = chunk_key(from / FEED_CHUNK);
        let end = [CHUNK_TAG + 1];
        let mut out = Vec::new();
        for entry in self.tree.range(start.as_slice()..end.as_slice()) {
            let (k, chunk) = entry.map_err(map_err)?;
            for (version, key) in decode_chunk(decode_chunk_key(&k)?, &chunk)? {
                if version < from {
                    continue;
                }
                if out.len() == limit {
                    return Ok(out);
                }
                // A live key has a data entry; a tombstone has none.
                out.push(Change {
                    value: self.get_value(&key)?,
                    key,
                    version,
                });
            }
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
        let (tree, commits) = (self.tree.clone(), self.commits.clone());
        let (retention, namespace) = (self.retention, self.namespace.clone());
        let log = self.log.clone();
        // With a log, admitted before the first operation, for the whole commit (`log` module
        // docs); a batch handed back whole has let go of it when it is applied below.
        let admission = match &log {
            Some(log) => Some(log.admit().await),
            None => None,
        };
        let fed = self
            .blocking
            .stream(fill, move |feed| {
                let _admission = admission;
                let Some(log) = log else {
                    let last = {
                        let _commit = commits.lock().map_err(|_| poisoned())?;
                        let mut parts = SledParts::batched(&tree);
                        let last = feed.commit(&mut parts, retention)?;
                        tree.apply_batch(parts.into_batch()?).map_err(map_err)?;
                        last
                    };
                    tree.flush().map_err(map_err)?;
                    return Ok(last);
                };
                commit_logged(&tree, &commits, &log, &namespace, |parts| {
                    feed.commit(parts, retention)
                })
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
                parts.push(key.map_err(map_err)?.to_vec(), None);
            }
            // Versions go on; every feed from before the clear must resync.
            state.horizon = state.last;
            parts.push(
                tagged(Part::Log, versions::STATE_KEY),
                Some(state.encode().as_slice().into()),
            );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_chunks_round_trip_and_reject_garbage() {
        let entries: BTreeMap<u64, Vec<u8>> = [
            (64, b"first".to_vec()),
            (65, Vec::new()),
            (95, vec![0xff; 1024]),
        ]
        .into();
        let bytes = encode_chunk(&entries);
        let decoded = decode_chunk(2, &bytes).unwrap();
        assert_eq!(decoded, entries.clone().into_iter().collect::<Vec<_>>());
        assert_eq!(decode_chunk(2, &[]).unwrap(), Vec::new());
        assert_eq!(decode_chunk_key(&chunk_key(7)).unwrap(), 7);
        // Truncated entries, an offset past the chunk, offsets out of order or repeated, a
        // chunk number whose first version overflows, a key under another tag.
        let corrupted = |chunk: u64, bytes: &[u8]| {
            assert!(
                matches!(decode_chunk(chunk, bytes), Err(Error::Corrupted(_))),
                "{bytes:?}"
            );
        };
        corrupted(2, &bytes[..bytes.len() - 1]);
        corrupted(2, &bytes[..2]);
        corrupted(2, &[32, 0, 0]);
        corrupted(2, &[5, 0, 0, 4, 0, 0]);
        corrupted(2, &[5, 0, 0, 5, 0, 0]);
        corrupted(u64::MAX, &[0, 0, 0]);
        assert!(matches!(
            decode_chunk_key(&tagged(Part::Log, &[0; 8])),
            Err(Error::Corrupted(_))
        ));
    }

    /// Runs raw sled's `open` until it no longer fails with sled's lock still held (sled's own
    /// threads let go of its file a moment after the last handle is dropped), for up to 5 s:
    /// what [`SledBuilder::busy_timeout`] does for a store.
    fn raw_sled_when_unlocked(path: &Path) -> sled::Db {
        let started = std::time::Instant::now();
        loop {
            match sled::open(path) {
                Ok(db) => return db,
                Err(e)
                    if e.to_string().contains("could not acquire lock")
                        && started.elapsed() < std::time::Duration::from_secs(5) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    /// A build from before the chunks writing a store this one had moved (a downgrade, then
    /// an upgrade again): its feed entries, one per version, are moved into the chunks, and
    /// the chunked entries its writes replaced are dropped.
    #[test]
    fn feed_entries_written_by_an_earlier_build_are_chunked_without_stale_ones() {
        use versions::{encode_value, version_key, Meta, STATE_KEY};
        let dir = tempfile::tempdir().unwrap();
        futures::executor::block_on(async {
            let store = SledStore::open(dir.path()).unwrap();
            store.set(b"a", b"one").await.unwrap();
            store.set(b"b", b"bee").await.unwrap();
        });
        {
            // What that build does to overwrite `a` (version 3) and delete `b` (version 4).
            let db = raw_sled_when_unlocked(dir.path());
            let tree = db.open_tree("~v/default").unwrap();
            let put = |key: Vec<u8>, value: Vec<u8>| tree.insert(key, value).map(drop).unwrap();
            put(tagged(Part::Data, b"a"), encode_value(3, b"new"));
            tree.remove(tagged(Part::Log, &version_key(1))).unwrap();
            put(tagged(Part::Log, &version_key(3)), b"a".to_vec());
            tree.remove(tagged(Part::Data, b"b")).unwrap();
            let tomb = Meta {
                version: 4,
                live: false,
            };
            put(tagged(Part::Meta, b"b"), tomb.encode().to_vec());
            put(tagged(Part::Tombs, &version_key(4)), b"b".to_vec());
            tree.remove(tagged(Part::Log, &version_key(2))).unwrap();
            put(tagged(Part::Log, &version_key(4)), b"b".to_vec());
            let state = State {
                last: 4,
                horizon: 0,
            };
            put(tagged(Part::Log, STATE_KEY), state.encode().to_vec());
            db.flush().unwrap();
        }
        futures::executor::block_on(async {
            let store = SledStore::builder()
                .busy_timeout(std::time::Duration::from_secs(5))
                .open(dir.path())
                .unwrap();
            let feed: Vec<_> = store
                .changes(0, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|c| (c.key, c.version, c.value))
                .collect();
            assert_eq!(
                feed,
                [
                    (b"a".to_vec(), 3, Some(b"new".to_vec())),
                    (b"b".to_vec(), 4, None)
                ]
            );
            let unchunked = tagged(Part::Log, &version_key(0));
            let tree = &store.tree;
            assert_eq!(
                tree.range(unchunked.as_slice()..[0x03].as_slice()).count(),
                0
            );
            store.set(b"c", b"see").await.unwrap();
            assert_eq!(store.changes(3, 10).await.unwrap().len(), 2);
        });
    }
}
