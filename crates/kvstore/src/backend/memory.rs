//! An in-memory store, on every target: for tests, caches and ephemeral vaults.
//!
//! Nothing survives the process. A batch is applied to a copy of the affected keys' old values
//! under one lock, so it is atomic for every reader.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::keys::{check_key, check_value};
use crate::{Batch, BatchOp, Entry, Error, KVStore, Result, Scan, DEFAULT_NAMESPACE};

type Namespaces = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// An in-memory [`KVStore`]. Clones share the same data.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    data: Arc<RwLock<Namespaces>>,
    namespace: String,
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
        }
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

    fn collect<T>(&self, scan: Scan<'_>, f: impl Fn(&Vec<u8>, &Vec<u8>) -> T) -> Result<Vec<T>> {
        if scan.is_empty() {
            return Ok(Vec::new());
        }
        let data = self.read()?;
        let Some(map) = data.get(&self.namespace) else {
            return Ok(Vec::new());
        };
        Ok(map
            .range(scan.bounds())
            .take(scan.limit.unwrap_or(usize::MAX))
            .map(|(k, v)| f(k, v))
            .collect())
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl KVStore for MemoryStore {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        Ok(self
            .read()?
            .get(&self.namespace)
            .and_then(|map| map.get(key).cloned()))
    }

    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.write()?
            .entry(self.namespace.clone())
            .or_default()
            .insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    async fn delete(&self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        if let Some(map) = self.write()?.get_mut(&self.namespace) {
            map.remove(key);
        }
        Ok(())
    }

    async fn contains(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        Ok(self
            .read()?
            .get(&self.namespace)
            .is_some_and(|map| map.contains_key(key)))
    }

    async fn scan(&self, scan: Scan<'_>) -> Result<Vec<Entry>> {
        self.collect(scan, |k, v| (k.clone(), v.clone()))
    }

    async fn scan_keys(&self, scan: Scan<'_>) -> Result<Vec<Vec<u8>>> {
        self.collect(scan, |k, _| k.clone())
    }

    async fn count(&self, prefix: &[u8]) -> Result<u64> {
        Ok(self.collect(Scan::prefix(prefix), |_, _| ())?.len() as u64)
    }

    async fn batch(&self, batch: Batch) -> Result<()> {
        batch.validate()?;
        let mut data = self.write()?;
        let map = data.entry(self.namespace.clone()).or_default();
        // Check every `create` against the state it will meet before touching anything.
        let mut staged: BTreeMap<&[u8], bool> = BTreeMap::new();
        for op in batch.ops() {
            let present = staged
                .get(op.key())
                .copied()
                .unwrap_or_else(|| map.contains_key(op.key()));
            if matches!(op, BatchOp::Create { .. }) && present {
                return Err(Error::KeyExists {
                    key: op.key().to_vec(),
                });
            }
            staged.insert(op.key(), !matches!(op, BatchOp::Delete { .. }));
        }
        for op in batch.into_ops() {
            match op {
                BatchOp::Set { key, value } | BatchOp::Create { key, value } => {
                    map.insert(key, value);
                }
                BatchOp::Delete { key } => {
                    map.remove(&key);
                }
            }
        }
        Ok(())
    }

    async fn clear(&self) -> Result<()> {
        self.write()?.remove(&self.namespace);
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
        })
    }
}
