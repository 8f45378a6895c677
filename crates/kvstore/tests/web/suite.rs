// The browser suite, included by each execution-context test file (page, dedicated worker,
// service worker): the conformance suite on memory and on IndexedDB, plus IndexedDB
// persistence across a closed and reopened connection.

use kvstore::testing::Config;
use kvstore::{IndexedDbStore, KVStore};
use wasm_bindgen_test::wasm_bindgen_test;

const CONFIG: Config = Config::browser();

use kvstore::testing::stores::{indexeddb, memory, unique_name};

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
