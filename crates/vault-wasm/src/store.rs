//! The store under a browser vault: redb over the Origin Private File System where a dedicated
//! worker can hold it, IndexedDB elsewhere (or as asked), and the one-time move of a vault from
//! IndexedDB to OPFS.

use kvstore::{
    Batch, BatchFill, Change, Durability, Entry, IndexedDbStore, KVStore, RedbStore, Result, Scan,
};

/// Which engine a vault runs on.
#[derive(Clone, Debug)]
pub(crate) enum BrowserStore {
    IndexedDb(IndexedDbStore),
    Opfs(RedbStore),
}

/// What `Vault.open` was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Choice {
    /// OPFS where this context can hold it (a dedicated worker), else IndexedDB.
    Auto,
    Opfs,
    IndexedDb,
}

/// The OPFS file of vault `name`.
fn opfs_file(name: &str) -> String {
    format!("{name}.vault.redb")
}

/// The namespace of the OPFS store that records a finished move from IndexedDB.
const MIGRATION_NS: &str = "vault-migration";
const MIGRATED: &[u8] = b"from-indexeddb";
/// Set once the IndexedDB database is deleted after the move: later opens touch IndexedDB no
/// more (and never delete a database opened there since, with `backend: "indexeddb"`).
const CLEANED: &[u8] = b"indexeddb-deleted";
/// Entries per batch while moving.
const MOVE_BATCH: usize = 1_000;

impl BrowserStore {
    /// Opens vault `name` on the engine `choice` says. With OPFS, a vault still in IndexedDB
    /// under the same name is moved first ([`migrate`]).
    pub(crate) async fn open(
        name: &str,
        choice: Choice,
        durability: Durability,
    ) -> Result<BrowserStore> {
        if choice != Choice::IndexedDb {
            match RedbStore::open_opfs(&opfs_file(name)).await {
                Ok(store) => {
                    migrate(name, &store).await?;
                    return Ok(BrowserStore::Opfs(store));
                }
                // Only "this context has no sync access handles" falls back: a busy file (another
                // tab owns it) must not make this tab write a second copy elsewhere.
                Err(kvstore::Error::Unavailable { .. }) if choice == Choice::Auto => {}
                Err(err) => return Err(err),
            }
        }
        let store = IndexedDbStore::builder(name)
            .durability(durability)
            .open()
            .await?;
        Ok(BrowserStore::IndexedDb(store))
    }

    /// `"opfs"` or `"indexeddb"`.
    pub(crate) fn backend(&self) -> &'static str {
        match self {
            BrowserStore::IndexedDb(_) => "indexeddb",
            BrowserStore::Opfs(_) => "opfs",
        }
    }
}

/// Moves vault `name` from IndexedDB into `opfs` once: copy (in batches), verify (every entry
/// read back equal, none extra), then record the move in the OPFS store (one commit: the
/// switch), then delete the IndexedDB database. Interrupted anywhere (the worker terminated),
/// nothing is lost: before the switch IndexedDB is untouched and the next open starts the copy
/// again from an emptied OPFS store; after it, the next open only deletes what is left of
/// IndexedDB, until that deletion is recorded.
async fn migrate(name: &str, opfs: &RedbStore) -> Result<()> {
    let marker = opfs.namespace(MIGRATION_NS)?;
    if marker.get(CLEANED).await?.is_some() {
        return Ok(());
    }
    if marker.get(MIGRATED).await?.is_some() {
        // Done earlier; a delete interrupted after the switch is finished now.
        return delete_moved(name, &marker).await;
    }
    let idb = IndexedDbStore::open(name).await?;
    let entries = idb.scan_all(b"").await?;
    drop(idb);
    if !entries.is_empty() {
        opfs.clear().await?;
        for chunk in entries.chunks(MOVE_BATCH) {
            let mut batch = Batch::new();
            for (key, value) in chunk {
                batch.set(key.clone(), value.clone());
            }
            opfs.batch(batch).await?;
        }
        let copied = opfs.scan_all(b"").await?;
        if copied != entries {
            return Err(kvstore::Error::Corrupted(
                "moving the vault from IndexedDB to OPFS: the copy does not read back equal; \
                 IndexedDB is kept"
                    .into(),
            ));
        }
    }
    marker.set(MIGRATED, name.as_bytes()).await?;
    delete_moved(name, &marker).await
}

/// Deletes the moved IndexedDB database and records that it is gone.
async fn delete_moved(name: &str, marker: &RedbStore) -> Result<()> {
    IndexedDbStore::delete_database(name).await?;
    marker.set(CLEANED, name.as_bytes()).await
}

macro_rules! each {
    ($self:ident, $s:ident => $body:expr) => {
        match $self {
            BrowserStore::IndexedDb($s) => $body,
            BrowserStore::Opfs($s) => $body,
        }
    };
}

#[kvstore::async_trait(?Send)]
impl KVStore for BrowserStore {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        each!(self, s => s.get(key).await)
    }
    async fn get_versioned(&self, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        each!(self, s => s.get_versioned(key).await)
    }
    async fn get_many_versioned(&self, keys: &[&[u8]]) -> Result<Vec<Option<(Vec<u8>, u64)>>> {
        each!(self, s => s.get_many_versioned(keys).await)
    }

    async fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        each!(self, s => s.get_many(keys).await)
    }
    async fn changes(&self, since: u64, limit: usize) -> Result<Vec<Change>> {
        each!(self, s => s.changes(since, limit).await)
    }
    async fn last_version(&self) -> Result<u64> {
        each!(self, s => s.last_version().await)
    }
    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        each!(self, s => s.set(key, value).await)
    }
    async fn delete(&self, key: &[u8]) -> Result<()> {
        each!(self, s => s.delete(key).await)
    }
    async fn contains(&self, key: &[u8]) -> Result<bool> {
        each!(self, s => s.contains(key).await)
    }
    async fn scan(&self, scan: Scan<'_>) -> Result<Vec<Entry>> {
        each!(self, s => s.scan(scan).await)
    }
    async fn scan_keys(&self, scan: Scan<'_>) -> Result<Vec<Vec<u8>>> {
        each!(self, s => s.scan_keys(scan).await)
    }
    async fn scan_all(&self, prefix: &[u8]) -> Result<Vec<Entry>> {
        each!(self, s => s.scan_all(prefix).await)
    }
    async fn scan_all_keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        each!(self, s => s.scan_all_keys(prefix).await)
    }
    async fn count(&self, prefix: &[u8]) -> Result<u64> {
        each!(self, s => s.count(prefix).await)
    }
    async fn batch(&self, batch: Batch) -> Result<()> {
        each!(self, s => s.batch(batch).await)
    }
    async fn batch_versioned(&self, batch: Batch) -> Result<Option<u64>> {
        each!(self, s => s.batch_versioned(batch).await)
    }
    async fn batch_with(&self, fill: &mut BatchFill<'_>) -> Result<()> {
        each!(self, s => s.batch_with(fill).await)
    }
    async fn batch_with_versioned(&self, fill: &mut BatchFill<'_>) -> Result<Option<u64>> {
        each!(self, s => s.batch_with_versioned(fill).await)
    }
    async fn clear(&self) -> Result<()> {
        each!(self, s => s.clear().await)
    }
    fn namespace_name(&self) -> &str {
        each!(self, s => s.namespace_name())
    }
    fn namespace(&self, name: &str) -> Result<Self> {
        Ok(match self {
            BrowserStore::IndexedDb(s) => BrowserStore::IndexedDb(s.namespace(name)?),
            BrowserStore::Opfs(s) => BrowserStore::Opfs(s.namespace(name)?),
        })
    }
}
