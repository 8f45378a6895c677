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

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function writeOldLayout(name, records) {
    return new Promise((resolve, reject) => {
        const open = indexedDB.open(name, 1);
        open.onupgradeneeded = () => open.result.createObjectStore("kv");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
            const db = open.result;
            const tx = db.transaction("kv", "readwrite");
            for (const [key, value] of records) tx.objectStore("kv").put(value, key);
            tx.oncomplete = () => { db.close(); resolve(); };
            tx.onabort = () => { db.close(); reject(tx.error); };
        };
    });
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = writeOldLayout)]
    fn write_old_layout(name: &str, records: &js_sys::Array) -> js_sys::Promise;
}

/// An IndexedDB database as kvstore wrote it before versions (one object store `kv`, keys
/// prefixed by the namespace, nothing else) is upgraded on first use: every key gets a version
/// in key order, the feed lists them, and writes go on from there.
#[wasm_bindgen_test]
async fn an_indexeddb_database_written_before_versions_is_upgraded() {
    let name = unique_name("old-layout");
    let keys: [&[u8]; 4] = [b"b", b"a", b"\xff\x00", b"c/1"];
    let records = js_sys::Array::new();
    for ns in ["default", "second"] {
        for key in keys {
            let mut full = vec![ns.len() as u8];
            full.extend_from_slice(ns.as_bytes());
            full.extend_from_slice(key);
            let pair = js_sys::Array::new();
            pair.push(&js_sys::Uint8Array::from(full.as_slice()).into());
            pair.push(&js_sys::Uint8Array::from(key).into());
            records.push(&pair.into());
        }
    }
    wasm_bindgen_futures::JsFuture::from(write_old_layout(&name, &records))
        .await
        .unwrap();
    let store = IndexedDbStore::open(&name).await.unwrap();
    let mut sorted = keys.to_vec();
    sorted.sort();
    // The first versioned read upgrades; so does the first write (the second namespace).
    for (i, key) in sorted.iter().enumerate() {
        let (value, version) = store.get_versioned(key).await.unwrap().unwrap();
        assert_eq!((value.as_slice(), version), (*key, i as u64 + 1));
    }
    let feed = store.changes(0, 100).await.unwrap();
    let fed: Vec<&[u8]> = feed.iter().map(|c| c.key.as_slice()).collect();
    assert_eq!(fed, sorted);
    let second = store.namespace("second").unwrap();
    let mut cas = kvstore::Batch::new();
    cas.require_version(b"c/1", 3).set(b"c/1", b"changed");
    second.batch(cas).await.unwrap();
    assert_eq!(second.last_version().await.unwrap(), 5);
    assert_eq!(second.changes(4, 10).await.unwrap().len(), 1);
    assert_eq!(store.last_version().await.unwrap(), 4);
    drop((store, second));
    IndexedDbStore::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn indexeddb_commits_report_their_version() {
    let (store, _guard) = kvstore::testing::stores::indexeddb().await;
    kvstore::testing::commits_report_their_version(store).await;
}

#[wasm_bindgen_test]
async fn indexeddb_prunes_tombstones_past_the_retention() {
    let name = unique_name("retention");
    let store = IndexedDbStore::builder(&name)
        .tombstone_retention(8)
        .open()
        .await
        .unwrap();
    kvstore::testing::tombstones_are_pruned_past_the_retention(store, 8).await;
    IndexedDbStore::delete_database(&name).await.unwrap();
}

/// Two connections to one database (what two tabs or workers hold) incrementing one counter by
/// compare-and-swap, interleaved: no update is lost.
#[wasm_bindgen_test]
async fn two_connections_to_one_database_lose_no_update() {
    let name = unique_name("two-connections");
    let a = IndexedDbStore::open(&name).await.unwrap();
    let b = IndexedDbStore::open(&name).await.unwrap();
    let per = 15;
    let run = |store: IndexedDbStore| async move {
        for _ in 0..per {
            loop {
                let seen = store.get_versioned(b"counter").await.unwrap();
                let mut batch = kvstore::Batch::new();
                let next = match &seen {
                    Some((v, version)) => {
                        batch.require_version(b"counter", *version);
                        u64::from_be_bytes(v.as_slice().try_into().unwrap()) + 1
                    }
                    None => {
                        batch.require_absent(b"counter");
                        1
                    }
                };
                batch.set(b"counter", next.to_be_bytes());
                match store.batch(batch).await {
                    Ok(()) => break,
                    Err(kvstore::Error::Conflict { .. }) => continue,
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
    };
    futures::future::join(run(a.clone()), run(b.clone())).await;
    let (value, version) = a.get_versioned(b"counter").await.unwrap().unwrap();
    assert_eq!(
        u64::from_be_bytes(value.as_slice().try_into().unwrap()),
        2 * per
    );
    assert_eq!(version, 2 * per, "one version per applied increment");
    drop((a, b));
    IndexedDbStore::delete_database(&name).await.unwrap();
}

/// A commit starts, in one round trip, from the state its connection saw last. When another
/// connection committed meanwhile that start is stale: the commit must still take the next
/// version, check its preconditions and creates against the store, and leave the feed without a
/// gap or a repeated version.
#[wasm_bindgen_test]
async fn a_commit_from_a_stale_start_is_checked_against_the_store() {
    use kvstore::{Batch, Error};
    let name = unique_name("stale-start");
    let a = IndexedDbStore::open(&name).await.unwrap();
    let b = IndexedDbStore::open(&name).await.unwrap();
    a.set(b"x", b"1").await.unwrap(); // 1
    a.set(b"x", b"2").await.unwrap(); // 2, from what a saw after 1
    b.set(b"y", b"1").await.unwrap(); // 3: a's start is stale now
    a.set(b"z", b"1").await.unwrap(); // must be 4, not a second 3
    assert_eq!(a.get_versioned(b"z").await.unwrap().unwrap().1, 4);

    b.set(b"x", b"3").await.unwrap(); // 5
    let mut batch = Batch::new();
    batch.require_version(b"x", 2).set(b"w", b"1");
    match a.batch(batch).await {
        Err(Error::Conflict {
            key,
            current: Some(5),
            ..
        }) => assert_eq!(key, b"x"),
        other => panic!("{other:?}"),
    }
    assert_eq!(a.get(b"w").await.unwrap(), None, "nothing of it applied");

    let mut batch = Batch::new();
    batch.require_version(b"x", 5).set(b"w", b"1");
    assert_eq!(a.batch_versioned(batch).await.unwrap(), Some(6));
    b.delete(b"y").await.unwrap(); // 7
    let mut batch = Batch::new();
    batch.require_present(b"y").set(b"v", b"1");
    assert!(matches!(
        a.batch(batch).await,
        Err(Error::Conflict { current: None, .. })
    ));
    let mut batch = Batch::new();
    batch.create(b"w", b"again");
    assert!(matches!(a.batch(batch).await, Err(Error::KeyExists { .. })));
    b.set(b"y", b"back").await.unwrap(); // 8
    let mut batch = Batch::new();
    batch.require_present(b"y").create(b"v", b"1");
    assert_eq!(a.batch_versioned(batch).await.unwrap(), Some(9));

    let versions: Vec<u64> = a
        .changes(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| c.version)
        .collect();
    assert_eq!(
        versions,
        [4, 5, 6, 8, 9],
        "the last change of each key, in order"
    );
    assert_eq!(b.last_version().await.unwrap(), 9);
    drop((a, b));
    IndexedDbStore::delete_database(&name).await.unwrap();
}

/// A handle that read its namespace's tombstones and found none writes sets without deleting a
/// possible tombstone. After another connection deleted a key it must stop assuming so: a set
/// of that key replaces its tombstone, and the feed shows the key once.
#[wasm_bindgen_test]
async fn a_tombstone_made_by_another_connection_is_not_missed() {
    let name = unique_name("tombless");
    let a = IndexedDbStore::open(&name).await.unwrap();
    let b = IndexedDbStore::open(&name).await.unwrap();
    // Versions 1 to 20; a's first commit reads the tombstones (none), so a knows there are none.
    for i in 0..20u8 {
        a.set(&[b'k', i], &[i]).await.unwrap();
    }
    b.delete(&[b'k', 3]).await.unwrap(); // 21: a tombstone
    a.set(&[b'k', 3], b"back").await.unwrap(); // 22
    let changes = a.changes(0, 100).await.unwrap();
    assert_eq!(changes.len(), 20, "{changes:?}");
    let k3: Vec<_> = changes.iter().filter(|c| c.key == [b'k', 3]).collect();
    assert_eq!(k3.len(), 1, "{k3:?}");
    assert_eq!(
        (k3[0].version, k3[0].value.as_deref()),
        (22, Some(&b"back"[..]))
    );

    // a's own delete, then a set of the same key: one change, the set.
    a.delete(&[b'k', 4]).await.unwrap(); // 23
    a.set(&[b'k', 4], b"again").await.unwrap(); // 24
    let changes = a.changes(22, 100).await.unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].version, 24);
    assert_eq!(b.changes(0, 100).await.unwrap().len(), 20);
    drop((a, b));
    IndexedDbStore::delete_database(&name).await.unwrap();
}
