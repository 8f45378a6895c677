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

const NATIVE_FIXTURE: &str = include_str!("fixtures/native-keyspace.txt");
const BROWSER_FIXTURE: &str = include_str!("fixtures/browser-keyspace.txt");

#[test]
fn golden_keyspace_written_natively_still_opens() {
    futures::executor::block_on(suite::check_golden(MemoryStore::new(), NATIVE_FIXTURE));
}

#[test]
fn golden_keyspace_written_in_a_browser_opens_natively() {
    futures::executor::block_on(async {
        let (store, _dir) = sled().await;
        suite::check_golden(store, BROWSER_FIXTURE).await
    });
}

/// Regenerates `fixtures/native-keyspace.txt` (run by hand after a deliberate format change:
/// `cargo test -p vault --test native -- --ignored regenerate`).
#[test]
#[ignore = "writes the committed golden fixture"]
fn regenerate_native_golden_fixture() {
    let text = futures::executor::block_on(suite::write_golden(MemoryStore::new()));
    std::fs::write(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/native-keyspace.txt"
        ),
        text,
    )
    .unwrap();
}
