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

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function putForeign(name, key, value) {
    return new Promise((resolve, reject) => {
        const open = indexedDB.open(name);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
            const db = open.result;
            const tx = db.transaction("kv", "readwrite");
            tx.objectStore("kv").put(value, key);
            tx.oncomplete = () => { db.close(); resolve(); };
            tx.onabort = () => { db.close(); reject(tx.error); };
        };
    });
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = putForeign)]
    fn put_foreign(
        name: &str,
        key: &wasm_bindgen::JsValue,
        value: &wasm_bindgen::JsValue,
    ) -> js_sys::Promise;
}

/// A value this crate did not write (another library's string in our object store) is
/// reported as corrupted by every read that meets it, and the reads that do not meet it work.
#[wasm_bindgen_test]
async fn foreign_values_are_reported_as_corrupted() {
    let (store, guard) = indexeddb().await;
    store.set(b"a", b"mine").await.unwrap();
    store.set(b"c", b"mine too").await.unwrap();
    // The IndexedDB key of "b" in the default namespace: length byte, name, key.
    let mut key = vec![b"default".len() as u8];
    key.extend_from_slice(b"default");
    key.extend_from_slice(b"b");
    let key = js_sys::Uint8Array::from(key.as_slice());
    wasm_bindgen_futures::JsFuture::from(put_foreign(
        &guard.0,
        &key,
        &"a string, not bytes".into(),
    ))
    .await
    .unwrap();

    assert!(matches!(
        store.get(b"b").await,
        Err(kvstore::Error::Corrupted(_))
    ));
    assert!(matches!(
        store.scan(kvstore::Scan::all()).await,
        Err(kvstore::Error::Corrupted(_))
    ));
    assert_eq!(
        store.scan_keys(kvstore::Scan::all()).await.unwrap(),
        vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()],
        "the keys are fine"
    );
    assert_eq!(
        store.scan(kvstore::Scan::prefix(b"c")).await.unwrap(),
        vec![(b"c".to_vec(), b"mine too".to_vec())]
    );
    assert_eq!(store.get(b"a").await.unwrap(), Some(b"mine".to_vec()));
}
