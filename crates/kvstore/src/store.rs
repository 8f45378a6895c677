use crate::batch::Collect;
use crate::{Batch, BatchFill, MaybeSend, MaybeSync, Result};

/// How many entries [`KVStore::scan_all`] and [`KVStore::scan_all_keys`] read per page.
pub const SCAN_PAGE: usize = 256;

/// The namespace a backend's `open` returns.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A key and its value, as returned by [`KVStore::scan`].
pub type Entry = (Vec<u8>, Vec<u8>);

/// One entry of the change feed ([`KVStore::changes`]): a key, the version of its latest change,
/// and its value now, or `None` for a deletion (a tombstone).
#[derive(Clone, PartialEq, Eq)]
pub struct Change {
    /// The key.
    pub key: Vec<u8>,
    /// The version its latest change got.
    pub version: u64,
    /// The value, or `None` when the key was deleted.
    pub value: Option<Vec<u8>>,
}

impl std::fmt::Debug for Change {
    // Values may be ciphertexts or anything else the caller wants kept out of logs: show sizes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Some(v) => write!(
                f,
                "Change({:02x?} @ {}, {} bytes)",
                self.key,
                self.version,
                v.len()
            ),
            None => write!(f, "Change({:02x?} @ {}, deleted)", self.key, self.version),
        }
    }
}

/// Which keys a scan visits: those starting with `prefix`, strictly after `after` (the cursor of
/// the previous page), at most `limit` of them, in ascending key order.
///
/// ```
/// use kvstore::Scan;
/// let first_page = Scan::prefix(b"user/").limit(100);
/// let next_page = Scan::prefix(b"user/").after(b"user/0042").limit(100);
/// # let _ = (first_page, next_page);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scan<'a> {
    pub(crate) prefix: &'a [u8],
    pub(crate) after: Option<&'a [u8]>,
    pub(crate) limit: Option<usize>,
}

impl<'a> Scan<'a> {
    /// Every key of the namespace.
    pub fn all() -> Self {
        Self::default()
    }

    /// Every key starting with `prefix`.
    pub fn prefix(prefix: &'a [u8]) -> Self {
        Scan {
            prefix,
            ..Self::default()
        }
    }

    /// Continues after `key` (exclusive): pass the last key of the previous page.
    pub fn after(mut self, key: &'a [u8]) -> Self {
        self.after = Some(key);
        self
    }

    /// Returns at most `limit` results.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Only keys that start with these bytes (empty: every key).
    pub fn key_prefix(&self) -> &'a [u8] {
        self.prefix
    }

    /// Only keys strictly greater than this one (the cursor), if set.
    pub fn start_after(&self) -> Option<&'a [u8]> {
        self.after
    }

    /// At most this many results, if limited.
    pub fn max_entries(&self) -> Option<usize> {
        self.limit
    }

    /// The inclusive-or-exclusive lower bound: `(key, exclusive)`.
    pub(crate) fn lower(&self) -> (&'a [u8], bool) {
        match self.after {
            Some(after) if after >= self.prefix => (after, true),
            _ => (self.prefix, false),
        }
    }

    /// Owned range bounds of this scan, for `BTreeMap::range`-style APIs.
    pub(crate) fn bounds(&self) -> (std::ops::Bound<Vec<u8>>, std::ops::Bound<Vec<u8>>) {
        use std::ops::Bound;
        let (lower, exclusive) = self.lower();
        let lower = if exclusive {
            Bound::Excluded(lower.to_vec())
        } else {
            Bound::Included(lower.to_vec())
        };
        (
            lower,
            self.upper().map_or(Bound::Unbounded, Bound::Excluded),
        )
    }

    /// The exclusive upper bound, `None` when unbounded.
    pub(crate) fn upper(&self) -> Option<Vec<u8>> {
        crate::keys::prefix_end(self.prefix)
    }

    /// True when the scan cannot return anything (limit 0, or a cursor past the prefix).
    pub(crate) fn is_empty(&self) -> bool {
        if self.limit == Some(0) {
            return true;
        }
        match (self.after, self.upper()) {
            (Some(after), Some(upper)) => after >= upper.as_slice(),
            _ => false,
        }
    }
}

/// An async, ordered key-value store: one namespace of one database.
///
/// Keys and values are bytes. Keys are ordered as unsigned bytes, a shorter key before every
/// longer key it is a prefix of, identically on every backend. A write is durable when its
/// future resolves (see each backend for exactly what survives a crash). Futures are `Send`
/// natively and `?Send` on wasm32 ([`MaybeSend`]).
///
/// Implement it with the re-exported `async_trait` attribute as
/// `#[cfg_attr(not(target_arch = "wasm32"), async_trait)]` /
/// `#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]`, as the backends here do.
///
/// ```
/// use kvstore::{Batch, KVStore, MemoryStore, Scan};
/// # futures::executor::block_on(async {
/// let store = MemoryStore::new();
/// store.set(b"fruit/apple", b"red").await?;
/// let mut batch = Batch::new();
/// batch.set(b"fruit/kiwi", b"green").delete(b"fruit/apple");
/// store.batch(batch).await?;
/// let fruit = store.scan(Scan::prefix(b"fruit/")).await?;
/// assert_eq!(fruit, vec![(b"fruit/kiwi".to_vec(), b"green".to_vec())]);
/// # Ok::<(), kvstore::Error>(())
/// # }).unwrap();
/// ```
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait KVStore: MaybeSend + MaybeSync {
    /// The value under `key`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a key over
    /// [`MAX_KEY_LEN`](crate::MAX_KEY_LEN); [`Error::Corrupted`](crate::Error::Corrupted) for a
    /// stored value this crate did not write; any failure of the backend.
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// The value under `key` and its version, if any.
    ///
    /// Every write of a key (set, create, delete) gives it the namespace's next version: a
    /// sequence number assigned at commit, strictly increasing in commit order, never reused.
    /// Pass it to [`Batch::require_version`](crate::Batch::require_version) to write only if
    /// nobody wrote the key since.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    async fn get_versioned(&self, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>>;

    /// [`get_versioned`](Self::get_versioned) of every key of `keys`, in their order, from
    /// **one consistent snapshot** where the backend has one: one read transaction on redb and
    /// IndexedDB (one round trip in a browser instead of one per key), under the namespace's
    /// commit lock on sled and memory. So no commit lands between two of the reads. The
    /// default implementation (for stores outside this crate) reads them one by one, without
    /// that guarantee.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get), for any of the keys.
    async fn get_many_versioned(&self, keys: &[&[u8]]) -> Result<Vec<Option<(Vec<u8>, u64)>>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get_versioned(key).await?);
        }
        Ok(out)
    }

    /// The values of every key of `keys`, in their order, read together as
    /// [`get_many_versioned`](Self::get_many_versioned) reads them (one consistent snapshot
    /// where the backend has one), without their versions: use it where no version is needed
    /// (on the backends of this crate a version is stored with its value, so the two cost the
    /// same; a store keeping versions apart can skip them here).
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get), for any of the keys.
    async fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        Ok(self
            .get_many_versioned(keys)
            .await?
            .into_iter()
            .map(|found| found.map(|(value, _)| value))
            .collect())
    }

    /// The change feed: every key changed after version `since`, at most `limit` of them, in
    /// commit order, each with the version of its latest change and its value now or a
    /// tombstone. A key changed several times appears once, at its latest version; nothing
    /// changed after `since` is missing. Pass the last entry's version as the next `since`
    /// (start from 0).
    ///
    /// Tombstones are kept for the namespace's retention (the last
    /// [`DEFAULT_TOMBSTONE_RETENTION`](crate::DEFAULT_TOMBSTONE_RETENTION) versions unless the
    /// backend's builder sets another); then they are pruned and the horizon moves up.
    ///
    /// # Errors
    ///
    /// [`Error::ChangesExpired`](crate::Error::ChangesExpired) when `since` is below the
    /// horizon (resync from a full scan); any failure of the backend.
    async fn changes(&self, since: u64, limit: usize) -> Result<Vec<Change>>;

    /// The last version committed in this namespace (0 before the first write).
    ///
    /// # Errors
    ///
    /// Any failure of the backend.
    async fn last_version(&self) -> Result<u64>;

    /// Stores `value` under `key`, durably once the future resolves.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a key or value over the limits;
    /// [`Error::QuotaExceeded`](crate::Error::QuotaExceeded) (nothing written); any failure of
    /// the backend, after which the key holds its old or its new value.
    ///
    /// The provided implementation is a one-operation [`batch`](Self::batch), which every
    /// backend of this crate uses (a write is a commit like any other: versioned, in the feed).
    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut batch = Batch::new();
        batch.set(key, value);
        self.batch(batch).await
    }

    /// Removes `key`; removing an absent key succeeds.
    ///
    /// As [`set`](Self::set), a one-operation [`batch`](Self::batch) unless overridden.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    async fn delete(&self, key: &[u8]) -> Result<()> {
        let mut batch = Batch::new();
        batch.delete(key);
        self.batch(batch).await
    }

    /// Whether `key` is present.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    async fn contains(&self, key: &[u8]) -> Result<bool>;

    /// The entries `scan` selects, in ascending key order.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get), for every entry read.
    async fn scan(&self, scan: Scan<'_>) -> Result<Vec<Entry>>;

    /// The keys `scan` selects, in ascending key order, without reading values.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    async fn scan_keys(&self, scan: Scan<'_>) -> Result<Vec<Vec<u8>>>;

    /// Every entry whose key starts with `prefix`, in ascending key order, read a page of
    /// [`SCAN_PAGE`] entries at a time (so a backend never holds one huge read open).
    ///
    /// # Errors
    ///
    /// As [`scan`](Self::scan).
    async fn scan_all(&self, prefix: &[u8]) -> Result<Vec<Entry>> {
        let mut out: Vec<Entry> = Vec::new();
        loop {
            let mut scan = Scan::prefix(prefix).limit(SCAN_PAGE);
            if let Some((after, _)) = out.last() {
                scan = scan.after(after);
            }
            let page = self.scan(scan).await?;
            let done = page.len() < SCAN_PAGE;
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    /// Every key starting with `prefix`, in ascending order, a page of [`SCAN_PAGE`] keys at a
    /// time, without reading values.
    ///
    /// # Errors
    ///
    /// As [`scan_keys`](Self::scan_keys).
    async fn scan_all_keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut scan = Scan::prefix(prefix).limit(SCAN_PAGE);
            if let Some(after) = out.last() {
                scan = scan.after(after);
            }
            let page = self.scan_keys(scan).await?;
            let done = page.len() < SCAN_PAGE;
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    /// How many keys start with `prefix`.
    ///
    /// # Errors
    ///
    /// Any failure of the backend.
    async fn count(&self, prefix: &[u8]) -> Result<u64>;

    /// Applies every operation of `batch` atomically and durably: all of them or, on any error,
    /// none.
    ///
    /// # Errors
    ///
    /// [`Error::KeyExists`](crate::Error::KeyExists) when a `create` finds its key;
    /// [`Error::Conflict`](crate::Error::Conflict) when a precondition does not hold;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for any key or value over the
    /// limits (checked before anything is written); [`Error::QuotaExceeded`](crate::Error::QuotaExceeded);
    /// any failure of the backend. In every case nothing of the batch was applied.
    async fn batch(&self, batch: Batch) -> Result<()>;

    /// [`batch`](Self::batch), returning the namespace's last version right after the commit:
    /// the version of the batch's last write that received one (every write of the batch has
    /// a version at or below it), or the last version before it when the batch wrote nothing.
    /// Read it here rather than from [`last_version`](Self::last_version) afterwards, which
    /// may already include another writer's commit.
    ///
    /// Every backend of this crate returns `Some`; the default implementation (for stores
    /// outside this crate) applies the batch and returns `None`.
    ///
    /// # Errors
    ///
    /// As [`batch`](Self::batch); nothing of the batch is applied.
    ///
    /// ```
    /// use kvstore::{Batch, KVStore, MemoryStore};
    /// # futures::executor::block_on(async {
    /// let store = MemoryStore::new();
    /// let mut batch = Batch::new();
    /// batch.set(b"a".to_vec(), b"1".to_vec()).set(b"b".to_vec(), b"2".to_vec());
    /// let version = store.batch_versioned(batch).await?.unwrap();
    /// assert_eq!(store.get_versioned(b"b").await?.unwrap().1, version);
    /// # Ok::<(), kvstore::Error>(())
    /// # }).unwrap();
    /// ```
    async fn batch_versioned(&self, batch: Batch) -> Result<Option<u64>> {
        self.batch(batch).await.map(|()| None)
    }

    /// Applies, like [`batch`](Self::batch), the operations `fill` sends to its sink: all of
    /// them or, if `fill` or the write fails, none (`fill`'s error is returned as is; a
    /// producer with its own error type returns [`Error::Aborted`](crate::Error::Aborted) and
    /// keeps its error aside).
    ///
    /// `fill` runs synchronously, once. On sled and redb with
    /// `Blocking::Offload` the commit starts on the thread pool
    /// with the first 64 operations and applies them while `fill` makes the next ones (see
    /// [`batch_with_versioned`](Self::batch_with_versioned)); every other backend collects
    /// what it sends into a [`Batch`] and applies it.
    ///
    /// # Errors
    ///
    /// Whatever `fill` returns, and as [`batch`](Self::batch); nothing of the batch is applied.
    ///
    /// ```
    /// use kvstore::{KVStore, MemoryStore};
    /// # futures::executor::block_on(async {
    /// let store = MemoryStore::new();
    /// store
    ///     .batch_with(&mut |sink| {
    ///         for i in 0u8..3 {
    ///             sink.set(&[b'k', i], &[i])?;
    ///         }
    ///         Ok(())
    ///     })
    ///     .await?;
    /// assert_eq!(store.get(b"k\x02").await?, Some(vec![2]));
    /// # Ok::<(), kvstore::Error>(())
    /// # }).unwrap();
    /// ```
    async fn batch_with(&self, fill: &mut BatchFill<'_>) -> Result<()> {
        let mut sink = Collect(Batch::new());
        fill(&mut sink)?;
        self.batch(sink.0).await
    }

    /// [`batch_with`](Self::batch_with), returning the namespace's last version right after
    /// the commit, as [`batch_versioned`](Self::batch_versioned) does.
    ///
    /// On sled and redb with `Blocking::Offload` (the default) the
    /// commit starts on the thread pool with the first 64 operations and applies them in
    /// chunks while `fill` is still making the next: a producer that spends time on each one
    /// (the vault sealing records) overlaps the store's work instead of preceding it. A smaller
    /// batch is applied whole after `fill`, as [`batch_versioned`](Self::batch_versioned) would. Every other backend, and
    /// this default implementation, collects what `fill` sends and applies it as one batch.
    /// `fill` must not wait on a write to the same database (the open commit holds its write
    /// lock).
    ///
    /// # Errors
    ///
    /// Whatever `fill` returns, and as [`batch`](Self::batch); nothing of the batch is applied.
    /// If the commit fails while `fill` still runs (a precondition that does not hold), the
    /// sink's next call fails with [`Error::Aborted`](crate::Error::Aborted) and the commit's
    /// error is the one returned.
    ///
    /// ```
    /// use kvstore::{Expect, KVStore, MemoryStore};
    /// # futures::executor::block_on(async {
    /// let store = MemoryStore::new();
    /// let version = store
    ///     .batch_with_versioned(&mut |sink| {
    ///         sink.require(b"k", Expect::Absent)?;
    ///         sink.set(b"k", b"v")
    ///     })
    ///     .await?
    ///     .unwrap();
    /// assert_eq!(store.get_versioned(b"k").await?, Some((b"v".to_vec(), version)));
    /// # Ok::<(), kvstore::Error>(())
    /// # }).unwrap();
    /// ```
    async fn batch_with_versioned(&self, fill: &mut BatchFill<'_>) -> Result<Option<u64>> {
        let mut sink = Collect(Batch::new());
        fill(&mut sink)?;
        self.batch_versioned(sink.0).await
    }

    /// Removes every key of this namespace (other namespaces are untouched).
    ///
    /// # Errors
    ///
    /// Any failure of the backend, after which the namespace may be partly cleared except
    /// where the backend clears in one transaction (all of them here).
    async fn clear(&self) -> Result<()>;

    /// This namespace's name.
    fn namespace_name(&self) -> &str;

    /// Another namespace of the same database: its keys are independent of this one's. Names
    /// follow [`validate_namespace`](crate::validate_namespace).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a bad name; a backend failing
    /// to open the namespace's table or tree.
    fn namespace(&self, name: &str) -> Result<Self>
    where
        Self: Sized;
}
