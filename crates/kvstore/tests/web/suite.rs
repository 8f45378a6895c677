// The browser suite, included by each execution-context test file (page, dedicated worker,
// service worker): the conformance suite on memory and on IndexedDB, plus IndexedDB
// persistence across a closed and reopened connection.

use kvstore::testing::Config;
use kvstore::{IndexedDbStore, KVStore, MemoryStore};
use wasm_bindgen_test::wasm_bindgen_test;

const CONFIG: Config = Config::browser();

fn unique_name(label: &str) -> String {
    format!("kvstore-test-{label}-{}", js_sys::Math::random().to_bits())
}

/// Deletes the test database when the test ends (best effort: dropped futures cannot be
/// awaited, so it is spawned).
pub struct DeleteOnDrop(String);

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.0);
        wasm_bindgen_futures::spawn_local(async move {
            let _ = IndexedDbStore::delete_database(&name).await;
        });
    }
}

async fn memory() -> (MemoryStore, ()) {
    (MemoryStore::new(), ())
}

async fn indexeddb() -> (IndexedDbStore, DeleteOnDrop) {
    let name = unique_name("suite");
    let store = IndexedDbStore::open(&name).await.expect("open IndexedDB");
    (store, DeleteOnDrop(name))
}

mod memory_suite {
    kvstore::conformance_tests!(async: #[wasm_bindgen_test::wasm_bindgen_test], open: super::memory, config: super::CONFIG);
}

mod indexeddb_suite {
    kvstore::conformance_tests!(async: #[wasm_bindgen_test::wasm_bindgen_test], open: super::indexeddb, config: super::CONFIG);
}

#[wasm_bindgen_test]
async fn indexeddb_keeps_data_across_reopen() {
    let name = unique_name("reopen");
    kvstore::testing::persistence_across_reopen(|| async {
        IndexedDbStore::open(&name).await.expect("open IndexedDB")
    })
    .await;
    IndexedDbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn indexeddb_databases_are_independent() {
    let (a, _ga) = indexeddb().await;
    let (b, _gb) = indexeddb().await;
    a.set(b"k", b"a").await.unwrap();
    assert_eq!(b.get(b"k").await.unwrap(), None);
}
