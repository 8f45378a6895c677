//! [`BlindNames`]: a remote store as a sync server should see it, with keyspace names replaced
//! by keyed hashes.
//!
//! Locally, a keyspace's header is stored under `h/` ‖ its name and its id claim holds the name
//! (so keyspaces can be listed without a password). A server must not learn names: through
//! `BlindNames`, the header key becomes `h/` ‖ HMAC-SHA256(names key, `vault/v2/remote-name` ‖
//! name) and a claim's value the same HMAC of the name. The names key comes from the sync
//! account's password ([`sync_keys`](crate::sync_keys)), so every device of the account maps a
//! name the same way and the server cannot (it never sees that key, and a dictionary of names
//! is useless without it). Everything else passes through unchanged: records, buckets and
//! manifests are keyed by ids and tags already.

use kvstore::{Batch, BatchOp, Change, Entry, KVStore, Scan};
use zeroize::Zeroizing;

use crate::crypto;
use crate::format::{CLAIM_PREFIX, HEADER_PREFIX};

const LABEL: &[u8] = b"vault/v2/remote-name";

/// A [`KVStore`] over `inner` that blinds keyspace names (see the module docs). Use it for the
/// remote of [`Vault::sync_keyspace`](crate::Vault::sync_keyspace),
/// [`Vault::clone_keyspace`](crate::Vault::clone_keyspace) and
/// [`Vault::adopt_rekeyed`](crate::Vault::adopt_rekeyed), with the same names key on every
/// device.
#[derive(Clone)]
pub struct BlindNames<R> {
    inner: R,
    key: Zeroizing<[u8; 32]>,
}

impl<R> std::fmt::Debug for BlindNames<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlindNames").finish_non_exhaustive()
    }
}

impl<R: KVStore> BlindNames<R> {
    /// `inner` seen through names key `names_key` (32 bytes, from
    /// [`SyncKeys::names_key`](crate::SyncKeys::names_key)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a key that is not 32 bytes.
    pub fn new(inner: R, names_key: &[u8]) -> crate::Result<Self> {
        let key: [u8; 32] = names_key
            .try_into()
            .map_err(|_| crate::Error::InvalidInput("a names key is 32 bytes".into()))?;
        Ok(BlindNames {
            inner,
            key: Zeroizing::new(key),
        })
    }

    /// The store underneath.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    fn blind(&self, name: &[u8]) -> [u8; 32] {
        crypto::hmac(&self.key, &[LABEL, name])
    }

    fn key_of(&self, key: &[u8]) -> Vec<u8> {
        match key.strip_prefix(HEADER_PREFIX) {
            Some(name) => [HEADER_PREFIX, &self.blind(name)].concat(),
            None => key.to_vec(),
        }
    }

    fn value_of(&self, key: &[u8], value: Vec<u8>) -> Vec<u8> {
        if key.starts_with(CLAIM_PREFIX) {
            self.blind(&value).to_vec()
        } else {
            value
        }
    }

    fn refuse_names(scan_prefix: &[u8]) -> kvstore::Result<()> {
        if scan_prefix.starts_with(HEADER_PREFIX)
            || (!scan_prefix.is_empty() && HEADER_PREFIX.starts_with(scan_prefix))
        {
            return Err(kvstore::Error::InvalidInput(
                "keyspace names are blinded on this store: they cannot be listed".into(),
            ));
        }
        Ok(())
    }
}

#[cfg_attr(not(target_arch = "wasm32"), kvstore::async_trait)]
#[cfg_attr(target_arch = "wasm32", kvstore::async_trait(?Send))]
impl<R: KVStore> KVStore for BlindNames<R> {
    async fn get(&self, key: &[u8]) -> kvstore::Result<Option<Vec<u8>>> {
        self.inner.get(&self.key_of(key)).await
    }

    async fn get_versioned(&self, key: &[u8]) -> kvstore::Result<Option<(Vec<u8>, u64)>> {
        self.inner.get_versioned(&self.key_of(key)).await
    }

    async fn get_many_versioned(
        &self,
        keys: &[&[u8]],
    ) -> kvstore::Result<Vec<Option<(Vec<u8>, u64)>>> {
        let keys: Vec<Vec<u8>> = keys.iter().map(|k| self.key_of(k)).collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        self.inner.get_many_versioned(&refs).await
    }

    async fn get_many(&self, keys: &[&[u8]]) -> kvstore::Result<Vec<Option<Vec<u8>>>> {
        let keys: Vec<Vec<u8>> = keys.iter().map(|k| self.key_of(k)).collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        self.inner.get_many(&refs).await
    }

    async fn changes(&self, since: u64, limit: usize) -> kvstore::Result<Vec<Change>> {
        self.inner.changes(since, limit).await
    }

    async fn last_version(&self) -> kvstore::Result<u64> {
        self.inner.last_version().await
    }

    async fn contains(&self, key: &[u8]) -> kvstore::Result<bool> {
        self.inner.contains(&self.key_of(key)).await
    }

    async fn scan(&self, scan: Scan<'_>) -> kvstore::Result<Vec<Entry>> {
        Self::refuse_names(scan.key_prefix())?;
        self.inner.scan(scan).await
    }

    async fn scan_keys(&self, scan: Scan<'_>) -> kvstore::Result<Vec<Vec<u8>>> {
        Self::refuse_names(scan.key_prefix())?;
        self.inner.scan_keys(scan).await
    }

    async fn count(&self, prefix: &[u8]) -> kvstore::Result<u64> {
        Self::refuse_names(prefix)?;
        self.inner.count(prefix).await
    }

    async fn batch(&self, batch: Batch) -> kvstore::Result<()> {
        self.batch_versioned(batch).await.map(drop)
    }

    async fn batch_versioned(&self, batch: Batch) -> kvstore::Result<Option<u64>> {
        let mut out = Batch::new();
        for op in batch.into_ops() {
            match op {
                BatchOp::Set { key, value } => {
                    let value = self.value_of(&key, value);
                    out.set(self.key_of(&key), value)
                }
                BatchOp::Create { key, value } => {
                    let value = self.value_of(&key, value);
                    out.create(self.key_of(&key), value)
                }
                BatchOp::Delete { key } => out.delete(self.key_of(&key)),
                BatchOp::Require { key, expect } => out.require(self.key_of(&key), expect),
                _ => {
                    return Err(kvstore::Error::InvalidInput(
                        "an unknown batch operation".into(),
                    ))
                }
            };
        }
        self.inner.batch_versioned(out).await
    }

    async fn clear(&self) -> kvstore::Result<()> {
        self.inner.clear().await
    }

    fn namespace_name(&self) -> &str {
        self.inner.namespace_name()
    }

    fn namespace(&self, name: &str) -> kvstore::Result<Self> {
        Ok(BlindNames {
            inner: self.inner.namespace(name)?,
            key: self.key.clone(),
        })
    }
}
