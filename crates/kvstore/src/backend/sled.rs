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

use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::Transactional;

use super::Blocking;
use crate::keys::check_key;
use crate::versions::{self, decode_meta, Part, Parts, State, Write};
use crate::{Batch, Change, Entry, Error, KVStore, Result, Scan, DEFAULT_NAMESPACE};

const BACKEND: &str = "sled";

/// A [`KVStore`] namespace in a sled database. Clones share the database.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    /// The version indexes of the namespace (`crate::versions`): trees named `~meta/`, `~log/`
    /// and `~tombs/` followed by the namespace name (which cannot contain `~` or `/`).
    meta: sled::Tree,
    log: sled::Tree,
    tombs: sled::Tree,
    namespace: String,
    blocking: Blocking,
    retention: u64,
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
}

impl Default for SledBuilder {
    fn default() -> Self {
        SledBuilder {
            blocking: Blocking::default(),
            retention: versions::DEFAULT_TOMBSTONE_RETENTION,
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

    /// Opens (creating if needed) the database in directory `path`, as [`SledStore::open`].
    ///
    /// # Errors
    ///
    /// As [`SledStore::open`].
    pub fn open(self, path: impl AsRef<Path>) -> Result<SledStore> {
        SledStore::open_with(path.as_ref(), self.blocking, self.retention)
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

    fn open_with(path: &Path, blocking: Blocking, retention: u64) -> Result<Self> {
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
        Self::with_db(db, DEFAULT_NAMESPACE, blocking, retention)
    }

    fn with_db(db: sled::Db, namespace: &str, blocking: Blocking, retention: u64) -> Result<Self> {
        crate::validate_namespace(namespace)?;
        let open = |prefix: &str| {
            db.open_tree(format!("{prefix}{namespace}"))
                .map_err(map_err)
        };
        let store = SledStore {
            tree: open("")?,
            meta: open("~meta/")?,
            log: open("~log/")?,
            tombs: open("~tombs/")?,
            db,
            namespace: namespace.to_owned(),
            blocking,
            retention,
        };
        store.upgrade()?;
        Ok(store)
    }

    /// Gives every key of a namespace written before versions existed a version (1, 2, ... in
    /// key order), in one transaction, the first time it is opened.
    fn upgrade(&self) -> Result<()> {
        if self
            .log
            .get(versions::STATE_KEY)
            .map_err(map_err)?
            .is_some()
            || self.tree.is_empty()
        {
            return Ok(());
        }
        let keys = self
            .tree
            .iter()
            .keys()
            .map(|k| k.map(|k| k.to_vec()).map_err(map_err))
            .collect::<Result<Vec<_>>>()?;
        let plan = versions::upgrade_plan(keys);
        self.transaction(|parts| {
            if versions::read_state(parts)? != State::default() {
                return Ok(()); // another handle upgraded it meanwhile
            }
            versions::apply_plan(parts, plan_clone(&plan), State::default())
        })?;
        self.db.flush().map_err(map_err)?;
        Ok(())
    }

    /// Runs `f` in one sled transaction over the namespace's four trees; sled retries it on
    /// conflicts with concurrent transactions.
    fn transaction<T>(&self, f: impl Fn(&mut SledParts<'_>) -> Result<T>) -> Result<T> {
        self.transaction_with(Vec::new(), f)
    }

    fn transaction_with<T>(
        &self,
        candidates: Vec<(u64, Vec<u8>)>,
        f: impl Fn(&mut SledParts<'_>) -> Result<T>,
    ) -> Result<T> {
        (&self.tree, &self.meta, &self.log, &self.tombs)
            .transaction(|(data, meta, log, tombs)| {
                let mut parts = SledParts {
                    trees: [data, meta, log, tombs],
                    candidates: &candidates,
                    interrupted: None,
                };
                let result = f(&mut parts);
                if let Some(err) = parts.interrupted.take() {
                    // sled's own signal (a conflict to retry, or a storage error): pass it on.
                    return Err(err.into());
                }
                result.map_err(ConflictableTransactionError::Abort)
            })
            .map_err(|err| match err {
                TransactionError::Abort(err) => err,
                TransactionError::Storage(err) => map_err(err),
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

    /// Tombstones at or below the prune cutoff, read before the transaction (sled cannot range
    /// inside one); the plan checks each against the meta it reads inside.
    fn prune_candidates(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        let state = match self.log.get(versions::STATE_KEY).map_err(map_err)? {
            Some(bytes) => State::decode(&bytes)?,
            None => return Ok(Vec::new()),
        };
        let cutoff = versions::version_key(state.prune_cutoff(self.retention));
        self.tombs
            .range(..=cutoff)
            .take(versions::PRUNE_PER_COMMIT)
            .map(|r| {
                let (v, k) = r.map_err(map_err)?;
                Ok((versions::decode_version_key(&v)?, k.to_vec()))
            })
            .collect()
    }

    fn state(&self) -> Result<State> {
        self.log
            .get(versions::STATE_KEY)
            .map_err(map_err)?
            .map_or(Ok(State::default()), |bytes| State::decode(&bytes))
    }
}

fn plan_clone(plan: &versions::Plan) -> versions::Plan {
    versions::Plan {
        writes: plan
            .writes
            .iter()
            .map(|w| match w {
                Write::Put(p, k, v) => Write::Put(*p, k.clone(), v.clone()),
                Write::Delete(p, k) => Write::Delete(*p, k.clone()),
            })
            .collect(),
        state: plan.state,
    }
}

/// The four trees of a namespace inside one sled transaction.
struct SledParts<'t> {
    trees: [&'t TransactionalTree; 4],
    candidates: &'t [(u64, Vec<u8>)],
    /// sled's error that stopped the transaction, kept to hand back to sled as is.
    interrupted: Option<UnabortableTransactionError>,
}

impl SledParts<'_> {
    fn tree(&self, part: Part) -> &TransactionalTree {
        self.trees[match part {
            Part::Data => 0,
            Part::Meta => 1,
            Part::Log => 2,
            Part::Tombs => 3,
        }]
    }

    fn check<T>(&mut self, r: std::result::Result<T, UnabortableTransactionError>) -> Result<T> {
        r.map_err(|err| {
            self.interrupted = Some(err);
            Error::backend(BACKEND, "transaction interrupted")
        })
    }
}

impl Parts for SledParts<'_> {
    fn get(&mut self, part: Part, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let r = self.tree(part).get(key);
        Ok(self.check(r)?.map(|v| v.to_vec()))
    }

    fn apply(&mut self, write: Write) -> Result<()> {
        let r = match write {
            Write::Put(part, key, value) => self.tree(part).insert(key, value).map(drop),
            Write::Delete(part, key) => self.tree(part).remove(key).map(drop),
        };
        self.check(r)
    }

    fn tombs_upto(&mut self, cutoff: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        Ok(self
            .candidates
            .iter()
            .filter(|(v, _)| *v <= cutoff)
            .take(limit)
            .cloned()
            .collect())
    }
}

#[async_trait::async_trait]
impl KVStore for SledStore {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        Ok(self.tree.get(key).map_err(map_err)?.map(|v| v.to_vec()))
    }

    async fn get_versioned(&self, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        check_key(key)?;
        // One transaction: the value and its version from the same commit.
        self.transaction(
            |parts| match (parts.get(Part::Data, key)?, parts.get(Part::Meta, key)?) {
                (Some(value), Some(meta)) => Ok(Some((value, decode_meta(&meta)?.version))),
                _ => Ok(None),
            },
        )
    }

    async fn changes(&self, since: u64, limit: usize) -> Result<Vec<Change>> {
        versions::check_since(since, self.state()?)?;
        let Some(from) = since.checked_add(1) else {
            return Ok(Vec::new());
        };
        let entries = self
            .log
            .range(versions::version_key(from)..)
            .take(limit)
            .map(|r| {
                let (v, k) = r.map_err(map_err)?;
                Ok((versions::decode_version_key(&v)?, k.to_vec()))
            })
            .collect::<Result<Vec<_>>>()?;
        // Each key's value read with its meta in one transaction; an entry whose key was
        // written again since the range was read is skipped (it comes later in the feed).
        self.transaction(|parts| {
            versions::check_since(since, versions::read_state(parts)?)?;
            let mut out = Vec::with_capacity(entries.len());
            for (version, key) in &entries {
                let Some(meta) = parts.get(Part::Meta, key)? else {
                    continue;
                };
                let meta = decode_meta(&meta)?;
                if meta.version != *version {
                    continue;
                }
                let value = if meta.live {
                    parts.get(Part::Data, key)?
                } else {
                    None
                };
                out.push(Change {
                    key: key.clone(),
                    version: *version,
                    value,
                });
            }
            Ok(out)
        })
    }

    async fn last_version(&self) -> Result<u64> {
        Ok(self.state()?.last)
    }

    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut batch = Batch::new();
        batch.set(key, value);
        self.batch(batch).await
    }

    async fn delete(&self, key: &[u8]) -> Result<()> {
        let mut batch = Batch::new();
        batch.delete(key);
        self.batch(batch).await
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
        let ops = batch.into_ops();
        let candidates = self.prune_candidates()?;
        let retention = self.retention;
        self.transaction_with(candidates, |parts| {
            versions::commit(parts, ops.clone(), retention)
        })?;
        self.flush().await
    }

    async fn clear(&self) -> Result<()> {
        let keys = |tree: &sled::Tree| {
            tree.iter()
                .keys()
                .map(|k| k.map(|k| k.to_vec()).map_err(map_err))
                .collect::<Result<Vec<_>>>()
        };
        let all = [
            (Part::Data, keys(&self.tree)?),
            (Part::Meta, keys(&self.meta)?),
            (Part::Log, keys(&self.log)?),
            (Part::Tombs, keys(&self.tombs)?),
        ];
        self.transaction(|parts| {
            let mut state = versions::read_state(parts)?;
            for (part, keys) in &all {
                for key in keys {
                    parts.apply(Write::Delete(*part, key.clone()))?;
                }
            }
            // Versions go on; every feed from before the clear must resync.
            state.horizon = state.last;
            parts.apply(Write::Put(
                Part::Log,
                versions::STATE_KEY.to_vec(),
                state.encode().to_vec(),
            ))
        })?;
        self.flush().await
    }

    fn namespace_name(&self) -> &str {
        &self.namespace
    }

    fn namespace(&self, name: &str) -> Result<Self> {
        Self::with_db(self.db.clone(), name, self.blocking, self.retention)
    }
}
