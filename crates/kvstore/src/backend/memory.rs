//! An in-memory store, on every target: for tests, caches and ephemeral vaults.
//!
//! Nothing survives the process. A batch is planned (every check) and then applied under one
//! write lock, so it is atomic for every reader.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::keys::check_key;
use crate::versions::{self, Part, Parts, State, Write};
use crate::{Batch, Change, Entry, Error, KVStore, Result, Scan, DEFAULT_NAMESPACE};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// One namespace: its data (values behind their versions) and the indexes of [`versions`].
#[derive(Debug, Default)]
struct Namespace {
    data: Map,
    meta: Map,
    log: Map,
    tombs: Map,
}

impl Namespace {
    fn part(&mut self, part: Part) -> &mut Map {
        match part {
            Part::Data => &mut self.data,
            Part::Meta => &mut self.meta,
            Part::Log => &mut self.log,
            Part::Tombs => &mut self.tombs,
        }
    }
}

impl Parts for Namespace {
    fn get(&mut self, part: Part, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.part(part).get(key).cloned())
    }

    fn data_version(&mut self, key: &[u8]) -> Result<Option<u64>> {
        self.data
            .get(key)
            .map(|entry| versions::split_value(entry).map(|(version, _)| version))
            .transpose()
    }

    fn apply(&mut self, write: Write) -> Result<()> {
        match write {
            Write::Put(part, key, value) => {
                self.part(part).insert(key, value);
            }
            Write::Delete(part, key) => {
                self.part(part).remove(&key);
            }
        }
        Ok(())
    }

    fn put_data(&mut self, key: &[u8], entry: &[u8]) -> Result<Option<u64>> {
        self.data
            .insert(key.to_vec(), entry.to_vec())
            .map(|old| versions::split_value(&old).map(|(version, _)| version))
            .transpose()
    }

    fn has_tombstones(&mut self) -> Result<bool> {
        Ok(!self.tombs.is_empty())
    }

    fn tombs_upto(&mut self, cutoff: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        self.tombs
            .range(..=versions::version_key(cutoff).to_vec())
            .take(limit)
            .map(|(v, k)| Ok((versions::decode_version_key(v)?, k.clone())))
            .collect()
    }
}

type Namespaces = BTreeMap<String, Namespace>;

/// An in-memory [`KVStore`]. Clones share the same data.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    data: Arc<RwLock<Namespaces>>,
    namespace: String,
    retention: u64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A new, empty store; this handle is its [`DEFAULT_NAMESPACE`].
    pub fn new() -> Self {
        MemoryStore {
            data: Arc::default(),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            retention: versions::DEFAULT_TOMBSTONE_RETENTION,
        }
    }

    /// This handle, keeping tombstones for the last `versions` versions instead of
    /// [`DEFAULT_TOMBSTONE_RETENTION`](crate::DEFAULT_TOMBSTONE_RETENTION) (see
    /// [`KVStore::changes`]).
    pub fn with_tombstone_retention(mut self, versions: u64) -> Self {
        self.retention = versions;
        self
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, Namespaces>> {
        self.data
            .read()
            .map_err(|_| Error::backend("memory", "lock poisoned by a panicking thread"))
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, Namespaces>> {
        self.data
            .write()
            .map_err(|_| Error::backend("memory", "lock poisoned by a panicking thread"))
    }

    /// `keys`' data entries in one snapshot, each decoded with `decode`.
    fn get_many_with<T: Clone>(
        &self,
        keys: &[&[u8]],
        decode: impl Fn(&[u8]) -> Result<T>,
    ) -> Result<Vec<Option<T>>> {
        for key in keys {
            check_key(key)?;
        }
        let data = self.read()?;
        let Some(ns) = data.get(&self.namespace) else {
            return Ok(vec![None; keys.len()]);
        };
        keys.iter()
            .map(|key| ns.data.get(*key).map(|entry| decode(entry)).transpose())
            .collect()
    }

    fn collect<T>(
        &self,
        scan: Scan<'_>,
        f: impl Fn(&Vec<u8>, &Vec<u8>) -> Result<T>,
    ) -> Result<Vec<T>> {
        if scan.is_empty() {
            return Ok(Vec::new());
        }
        let data = self.read()?;
        let Some(ns) = data.get(&self.namespace) else {
            return Ok(Vec::new());
        };
        ns.data
            .range(scan.bounds())
            .take(scan.limit.unwrap_or(usize::MAX))
            .map(|(k, v)| f(k, v))
            .collect()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl KVStore for MemoryStore {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        self.read()?
            .get(&self.namespace)
            .and_then(|ns| ns.data.get(key))
            .map(|entry| versions::value_of(entry))
            .transpose()
    }

    async fn get_versioned(&self, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        check_key(key)?;
        self.read()?
            .get(&self.namespace)
            .and_then(|ns| ns.data.get(key))
            .map(|entry| versions::versioned_of(entry))
            .transpose()
    }

    async fn get_many_versioned(&self, keys: &[&[u8]]) -> Result<Vec<Option<(Vec<u8>, u64)>>> {
        self.get_many_with(keys, versions::versioned_of)
    }

    async fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        self.get_many_with(keys, versions::value_of)
    }

    async fn changes(&self, since: u64, limit: usize) -> Result<Vec<Change>> {
        let data = self.read()?;
        let Some(ns) = data.get(&self.namespace) else {
            return Ok(Vec::new());
        };
        let state = ns
            .log
            .get(versions::STATE_KEY)
            .map_or(Ok(State::default()), |s| State::decode(s))?;
        versions::check_since(since, state)?;
        let Some(from) = since.checked_add(1) else {
            return Ok(Vec::new());
        };
        ns.log
            .range(versions::version_key(from).to_vec()..)
            .take(limit)
            .map(|(v, key)| {
                Ok(Change {
                    key: key.clone(),
                    version: versions::decode_version_key(v)?,
                    value: ns
                        .data
                        .get(key)
                        .map(|entry| versions::value_of(entry))
                        .transpose()?,
                })
            })
            .collect()
    }

    async fn last_version(&self) -> Result<u64> {
        let data = self.read()?;
        let Some(ns) = data.get(&self.namespace) else {
            return Ok(0);
        };
        Ok(ns
            .log
            .get(versions::STATE_KEY)
            .map_or(Ok(State::default()), |s| State::decode(s))?
            .last)
    }

    async fn contains(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        Ok(self
            .read()?
            .get(&self.namespace)
            .is_some_and(|ns| ns.data.contains_key(key)))
    }

    async fn scan(&self, scan: Scan<'_>) -> Result<Vec<Entry>> {
        self.collect(scan, |k, v| Ok((k.clone(), versions::value_of(v)?)))
    }

    async fn scan_keys(&self, scan: Scan<'_>) -> Result<Vec<Vec<u8>>> {
        self.collect(scan, |k, _| Ok(k.clone()))
    }

    async fn count(&self, prefix: &[u8]) -> Result<u64> {
        Ok(self.collect(Scan::prefix(prefix), |_, _| Ok(()))?.len() as u64)
    }

    async fn batch(&self, batch: Batch) -> Result<()> {
        self.batch_versioned(batch).await.map(drop)
    }

    async fn batch_versioned(&self, batch: Batch) -> Result<Option<u64>> {
        batch.validate()?;
        let mut data = self.write()?;
        let ns = data.entry(self.namespace.clone()).or_default();
        // Plan first (every check against the state it will meet; this backend defers none to
        // the writes), then write: a failed plan writes nothing. The writes are map inserts
        // and removals; what could still fail among them is decoding an entry this store
        // encoded itself (a version prefix, a meta entry), which no caller can make invalid.
        versions::commit(ns, batch.into_ops(), self.retention).map(Some)
    }

    async fn clear(&self) -> Result<()> {
        let mut data = self.write()?;
        let ns = data.entry(self.namespace.clone()).or_default();
        let mut state = versions::read_state(ns)?;
        // Versions go on; every feed from before the clear must resync.
        state.horizon = state.last;
        *ns = Namespace::default();
        ns.log
            .insert(versions::STATE_KEY.to_vec(), state.encode().to_vec());
        Ok(())
    }

    fn namespace_name(&self) -> &str {
        &self.namespace
    }

    fn namespace(&self, name: &str) -> Result<Self> {
        crate::validate_namespace(name)?;
        Ok(MemoryStore {
            data: self.data.clone(),
            namespace: name.to_owned(),
            retention: self.retention,
        })
    }
}
