//! The vault suite on every native backend, plus what needs native control over the store
//! (failure injection) or the file system (golden fixtures).
#![cfg(not(target_arch = "wasm32"))]

mod suite;

use kvstore::{MemoryStore, RedbStore, SledStore};
use tempfile::TempDir;

async fn memory() -> (MemoryStore, ()) {
    (MemoryStore::new(), ())
}

async fn sled() -> (SledStore, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (SledStore::open(dir.path().join("db")).unwrap(), dir)
}

async fn redb() -> (RedbStore, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (RedbStore::open(dir.path().join("db.redb")).unwrap(), dir)
}

mod on_memory {
    crate::vault_suite!(blocking, crate::memory);
}
mod on_sled {
    crate::vault_suite!(blocking, crate::sled);
}
mod on_redb {
    crate::vault_suite!(blocking, crate::redb);
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_under_tokio_too() {
    suite::stateless_api_end_to_end(MemoryStore::new()).await;
    suite::session_api_end_to_end(sled().await.0).await;
}
