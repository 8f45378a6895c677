//! The conformance suite every backend runs (feature `testing`).
//!
//! Each case is an async function taking a fresh, empty store. [`conformance_tests!`](crate::conformance_tests) expands
//! all of them into test functions for one backend and one way of running futures (a blocking
//! executor, `#[tokio::test]`, `#[wasm_bindgen_test]`), so every backend is held to the same
//! behaviour. A store implemented outside this crate can run the suite too:
//!
//! ```ignore
//! kvstore::conformance_tests!(
//!     blocking: #[test] futures::executor::block_on,
//!     open: || async { (MyStore::new(), ()) },
//!     config: kvstore::testing::Config::native()
//! );
//! ```
//!
//! Cases panic (through `assert!`) on the first divergence, with the seed of random cases in
//! the message so a failure can be replayed.

use std::collections::BTreeMap;

use crate::{
    Batch, BatchOp, Change, Entry, Error, Expect, KVStore, Scan, MAX_KEY_LEN, MAX_VALUE_LEN,
};

/// Fresh, empty stores for tests, each with the guard that must outlive it (a temporary
/// directory, or a browser database deleted on drop). The `open` argument of
/// [`conformance_tests!`](crate::conformance_tests) takes these directly.
pub mod stores {
    /// A memory store (its guard is `()`).
    pub async fn memory() -> (crate::MemoryStore, ()) {
        (crate::MemoryStore::new(), ())
    }

    /// A sled store in a new temporary directory.
    #[cfg(all(feature = "sled", not(target_arch = "wasm32")))]
    pub async fn sled() -> (crate::SledStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        (
            crate::SledStore::open(dir.path().join("db")).expect("open sled"),
            dir,
        )
    }

    /// A redb store in a new temporary directory.
    #[cfg(all(feature = "redb", not(target_arch = "wasm32")))]
    pub async fn redb() -> (crate::RedbStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        (
            crate::RedbStore::open(dir.path().join("db.redb")).expect("open redb"),
            dir,
        )
    }

    /// Deletes a test's IndexedDB database when dropped (spawned: drop cannot await).
    #[cfg(all(feature = "indexeddb", target_arch = "wasm32", target_os = "unknown"))]
    pub struct DeleteOnDrop(pub String);

    #[cfg(all(feature = "indexeddb", target_arch = "wasm32", target_os = "unknown"))]
    impl Drop for DeleteOnDrop {
        fn drop(&mut self) {
            let name = std::mem::take(&mut self.0);
            wasm_bindgen_futures::spawn_local(async move {
                let _ = crate::IndexedDbStore::delete_database(&name).await;
            });
        }
    }

    /// A redb store over a new OPFS file (in a dedicated worker), deleted when the guard drops.
    #[cfg(all(feature = "opfs", target_arch = "wasm32", target_os = "unknown"))]
    pub async fn opfs() -> (crate::RedbStore, DeleteOpfsOnDrop) {
        let name = unique_name("opfs");
        let store = crate::RedbStore::open_opfs(&name)
            .await
            .expect("open redb over OPFS (in a dedicated worker)");
        (store, DeleteOpfsOnDrop(name))
    }

    /// Deletes a test's OPFS file when dropped (spawned: drop cannot await; by then the store,
    /// dropped in the same scope, has closed it).
    #[cfg(all(feature = "opfs", target_arch = "wasm32", target_os = "unknown"))]
    pub struct DeleteOpfsOnDrop(pub String);

    #[cfg(all(feature = "opfs", target_arch = "wasm32", target_os = "unknown"))]
    impl Drop for DeleteOpfsOnDrop {
        fn drop(&mut self) {
            let name = std::mem::take(&mut self.0);
            wasm_bindgen_futures::spawn_local(async move {
                let _ = crate::RedbStore::delete_opfs(&name).await;
            });
        }
    }

    /// A unique database name for a test.
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    pub fn unique_name(label: &str) -> String {
        format!("kvstore-test-{label}-{}", js_sys::Math::random().to_bits())
    }

    /// `performance.now()` in milliseconds, in a page or a worker: the browser benchmarks' clock.
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    pub fn now_ms() -> f64 {
        use wasm_bindgen::JsCast;
        let global = js_sys::global();
        let performance =
            js_sys::Reflect::get(&global, &"performance".into()).expect("performance");
        let now: js_sys::Function = js_sys::Reflect::get(&performance, &"now".into())
            .expect("performance.now")
            .unchecked_into();
        now.call0(&performance)
            .ok()
            .and_then(|t| t.as_f64())
            .unwrap_or(0.0)
    }

    /// An IndexedDB store in a new, uniquely named database, deleted when the guard drops.
    #[cfg(all(feature = "indexeddb", target_arch = "wasm32", target_os = "unknown"))]
    pub async fn indexeddb() -> (crate::IndexedDbStore, DeleteOnDrop) {
        let name = unique_name("store");
        let store = crate::IndexedDbStore::open(&name)
            .await
            .expect("open IndexedDB");
        (store, DeleteOnDrop(name))
    }
}

/// How hard the suite works: sized for native runs or for browsers.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Seeds of the model-based runs.
    pub seeds: &'static [u64],
    /// Random operations per seed.
    pub model_ops: usize,
    /// Concurrent writers.
    pub writers: usize,
    /// Keys each concurrent writer writes.
    pub writes_per_writer: usize,
}

impl Config {
    /// Thousands of operations: for native backends.
    pub const fn native() -> Self {
        Config {
            seeds: &[1, 2, 3],
            model_ops: 2_000,
            writers: 8,
            writes_per_writer: 50,
        }
    }

    /// Hundreds of operations: for browsers, where every write is a transaction.
    pub const fn browser() -> Self {
        Config {
            seeds: &[1, 2],
            model_ops: 300,
            writers: 16,
            writes_per_writer: 10,
        }
    }
}

async fn everything<S: KVStore>(store: &S) -> Vec<Entry> {
    store.scan(Scan::all()).await.expect("full scan")
}

/// Missing keys, empty values, overwrite, delete, contains, count, clear.
pub async fn basic_operations<S: KVStore>(store: S, _: &Config) {
    assert_eq!(store.get(b"missing").await.unwrap(), None);
    assert!(!store.contains(b"missing").await.unwrap());
    store
        .delete(b"missing")
        .await
        .expect("deleting an absent key succeeds");

    store.set(b"empty", b"").await.unwrap();
    assert_eq!(store.get(b"empty").await.unwrap(), Some(Vec::new()));
    assert!(store.contains(b"empty").await.unwrap());

    store.set(b"", b"empty key").await.unwrap();
    assert_eq!(store.get(b"").await.unwrap(), Some(b"empty key".to_vec()));

    store.set(b"k", b"one").await.unwrap();
    store.set(b"k", b"two").await.unwrap();
    assert_eq!(store.get(b"k").await.unwrap(), Some(b"two".to_vec()));
    assert_eq!(store.count(b"").await.unwrap(), 3);

    store.delete(b"k").await.unwrap();
    assert_eq!(store.get(b"k").await.unwrap(), None);
    assert_eq!(store.count(b"").await.unwrap(), 2);

    store.clear().await.unwrap();
    assert_eq!(store.count(b"").await.unwrap(), 0);
    assert!(everything(&store).await.is_empty());
}

/// Values of 1 MiB round-trip byte for byte.
pub async fn large_values<S: KVStore>(store: S, _: &Config) {
    let big: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    store.set(b"big", &big).await.unwrap();
    assert_eq!(
        store.get(b"big").await.unwrap().as_deref(),
        Some(big.as_slice())
    );
    let mut batch = Batch::new();
    batch.set(b"big2".to_vec(), big.clone());
    store.batch(batch).await.unwrap();
    assert_eq!(
        store.scan(Scan::prefix(b"big2")).await.unwrap(),
        vec![(b"big2".to_vec(), big)]
    );
}

/// Keys with 0x00 and 0xFF bytes come back in unsigned-byte order, shorter prefix first.
pub async fn binary_keys_are_ordered_as_unsigned_bytes<S: KVStore>(store: S, _: &Config) {
    let keys: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x00],
        vec![0x00, 0x00],
        vec![0x00, 0xFF],
        vec![0x01],
        vec![0x7F],
        vec![0x80],
        vec![0x80, 0x00],
        vec![0xFE, 0xFF, 0xFF],
        vec![0xFF],
        vec![0xFF, 0x00],
        vec![0xFF, 0xFF],
        vec![0xFF, 0xFF, 0xFF],
    ];
    // Insert in a scrambled order.
    for i in [7, 3, 12, 0, 9, 5, 1, 11, 2, 8, 10, 4, 6] {
        store.set(&keys[i], &[i as u8]).await.unwrap();
    }
    let scanned = store.scan_keys(Scan::all()).await.unwrap();
    assert_eq!(scanned, keys);
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(store.get(key).await.unwrap(), Some(vec![i as u8]));
    }
}

/// Empty prefix, `[0xFF]`, `[0xFF, 0xFF]`, a prefix that is itself a key, cursors and limits.
pub async fn prefix_scans_handle_edge_cases<S: KVStore>(store: S, _: &Config) {
    for key in [
        &b"a"[..],
        b"ab",
        b"abc",
        b"abd",
        b"b",
        &[0xFF],
        &[0xFF, 0x00],
        &[0xFF, 0xFF],
        &[0xFF, 0xFF, 0x01],
    ] {
        store.set(key, key).await.unwrap();
    }
    let keys = |v: Vec<Entry>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(store.scan(Scan::all()).await.unwrap().len(), 9);
    assert_eq!(
        keys(store.scan(Scan::prefix(b"ab")).await.unwrap()),
        vec![b"ab".to_vec(), b"abc".to_vec(), b"abd".to_vec()]
    );
    assert_eq!(
        store.scan_keys(Scan::prefix(&[0xFF])).await.unwrap(),
        vec![
            vec![0xFF],
            vec![0xFF, 0x00],
            vec![0xFF, 0xFF],
            vec![0xFF, 0xFF, 0x01]
        ]
    );
    assert_eq!(
        store.scan_keys(Scan::prefix(&[0xFF, 0xFF])).await.unwrap(),
        vec![vec![0xFF, 0xFF], vec![0xFF, 0xFF, 0x01]]
    );
    assert!(store.scan(Scan::prefix(b"zz")).await.unwrap().is_empty());
    assert_eq!(store.count(b"ab").await.unwrap(), 3);
    assert_eq!(store.count(&[0xFF, 0xFF]).await.unwrap(), 2);

    // Paging with a cursor visits every key once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        let mut scan = Scan::all().limit(2);
        if let Some(after) = &cursor {
            scan = scan.after(after);
        }
        let page = store.scan_keys(scan).await.unwrap();
        assert!(page.len() <= 2);
        match page.last() {
            Some(last) => cursor = Some(last.clone()),
            None => break,
        }
        seen.extend(page);
    }
    assert_eq!(seen, store.scan_keys(Scan::all()).await.unwrap());

    assert!(store.scan(Scan::all().limit(0)).await.unwrap().is_empty());
    // A cursor before the prefix starts at the prefix; one after it returns nothing.
    assert_eq!(
        store
            .scan_keys(Scan::prefix(b"ab").after(b"a"))
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(store
        .scan_keys(Scan::prefix(b"ab").after(b"b"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.scan(Scan::prefix(b"ab").after(b"abc")).await.unwrap(),
        vec![(b"abd".to_vec(), b"abd".to_vec())]
    );
}

/// `scan_all` and `scan_all_keys` page through a prefix of several pages and return exactly
/// its entries, in order.
pub async fn scan_all_pages_through_a_prefix<S: KVStore>(store: S, _: &Config) {
    let n = 2 * crate::SCAN_PAGE + 7;
    let mut batch = Batch::new();
    for i in 0..n {
        batch.set(format!("p/{i:05}"), format!("v{i}"));
    }
    batch
        .set(b"p".as_slice(), b"outside")
        .set(b"q/0".as_slice(), b"outside");
    store.batch(batch).await.unwrap();
    let all = store.scan_all(b"p/").await.unwrap();
    assert_eq!(all.len(), n);
    for (i, (key, value)) in all.iter().enumerate() {
        assert_eq!(key, format!("p/{i:05}").as_bytes());
        assert_eq!(value, format!("v{i}").as_bytes());
    }
    let keys = store.scan_all_keys(b"p/").await.unwrap();
    assert_eq!(keys, all.into_iter().map(|(k, _)| k).collect::<Vec<_>>());
    assert!(store.scan_all(b"none/").await.unwrap().is_empty());
}

/// A batch applies every set, create and delete, in order.
pub async fn batch_applies_every_operation<S: KVStore>(store: S, _: &Config) {
    store.set(b"gone", b"x").await.unwrap();
    store.set(b"kept", b"x").await.unwrap();
    let mut batch = Batch::new();
    batch
        .set(b"a", b"1")
        .set(b"a", b"2")
        .delete(b"gone")
        .create(b"new", b"3")
        .delete(b"new")
        .create(b"new", b"4");
    store.batch(batch).await.unwrap();
    assert_eq!(
        everything(&store).await,
        vec![
            (b"a".to_vec(), b"2".to_vec()),
            (b"kept".to_vec(), b"x".to_vec()),
            (b"new".to_vec(), b"4".to_vec()),
        ]
    );
    store
        .batch(Batch::new())
        .await
        .expect("an empty batch succeeds");
}

/// A batch that fails inside the backend's transaction (a `create` meeting an existing key,
/// placed first, in the middle and last) applies nothing; so does one with an invalid key.
pub async fn failed_batch_applies_nothing<S: KVStore>(store: S, _: &Config) {
    store.set(b"existing", b"old").await.unwrap();
    store.set(b"victim", b"keep me").await.unwrap();
    let before = everything(&store).await;
    for position in 0..4 {
        let mut ops = vec![
            BatchOp::Set {
                key: b"fresh".to_vec(),
                value: b"v".to_vec(),
            },
            BatchOp::Delete {
                key: b"victim".to_vec(),
            },
            BatchOp::Set {
                key: b"existing".to_vec(),
                value: b"overwritten".to_vec(),
            },
        ];
        ops.insert(
            position,
            BatchOp::Create {
                key: b"victim".to_vec(),
                value: b"dup".to_vec(),
            },
        );
        // At position 0 the create meets "victim" before the delete; later it meets nothing
        // (deleted earlier in the batch), so use the always-present key there.
        if position > 1 {
            ops[position] = BatchOp::Create {
                key: b"existing".to_vec(),
                value: b"dup".to_vec(),
            };
        }
        let mut batch = Batch::new();
        for op in ops {
            match op {
                BatchOp::Set { key, value } => batch.set(key, value),
                BatchOp::Create { key, value } => batch.create(key, value),
                BatchOp::Delete { key } => batch.delete(key),
                BatchOp::Require { key, expect } => batch.require(key, expect),
            };
        }
        match store.batch(batch).await {
            Err(Error::KeyExists { key }) => {
                assert!(
                    key == b"victim" || key == b"existing",
                    "unexpected key {key:?}"
                )
            }
            other => panic!("batch with a conflicting create at {position} gave {other:?}"),
        }
        assert_eq!(
            everything(&store).await,
            before,
            "conflict at {position} applied something"
        );
    }

    let mut batch = Batch::new();
    batch
        .set(b"fresh", b"v")
        .set(vec![7u8; MAX_KEY_LEN + 1], b"v");
    assert!(matches!(
        store.batch(batch).await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(everything(&store).await, before);
}

/// `batch_with` applies what its producer sends, in order; a producer error, an invalid key
/// sent half-way or a conflicting create applies nothing and returns that error; a producer
/// that sends nothing changes nothing.
pub async fn batch_with_streams_operations<S: KVStore>(store: S, _: &Config) {
    store.set(b"gone", b"x").await.unwrap();
    store.set(b"existing", b"old").await.unwrap();
    store
        .batch_with(&mut |sink| {
            for i in 0u8..100 {
                sink.set(&[b'n', i], &[i; 3])?;
            }
            sink.delete(b"gone")?;
            sink.create(b"made", b"new")?;
            sink.set(b"n\x05", b"last wins")
        })
        .await
        .unwrap();
    let after = everything(&store).await;
    assert_eq!(after.len(), 102, "100 sets + made + existing");
    assert_eq!(
        store.get(b"n\x05").await.unwrap(),
        Some(b"last wins".to_vec())
    );
    assert_eq!(store.get(b"n\x63").await.unwrap(), Some(vec![99; 3]));
    assert_eq!(store.get(b"gone").await.unwrap(), None);
    assert_eq!(store.get(b"made").await.unwrap(), Some(b"new".to_vec()));

    let mut calls = 0;
    let stopped = store
        .batch_with(&mut |sink| {
            calls += 1;
            sink.set(b"n\x01", b"changed")?;
            sink.delete(b"existing")?;
            Err(Error::Aborted("the producer gave up".into()))
        })
        .await;
    assert!(
        matches!(&stopped, Err(Error::Aborted(m)) if m == "the producer gave up"),
        "{stopped:?}"
    );
    assert_eq!(calls, 1, "the producer runs once");
    assert_eq!(
        everything(&store).await,
        after,
        "an aborted batch applied something"
    );

    let invalid = store
        .batch_with(&mut |sink| {
            sink.set(b"n\x02", b"changed")?;
            sink.set(&vec![7u8; MAX_KEY_LEN + 1], b"v")
        })
        .await;
    assert!(
        matches!(invalid, Err(Error::InvalidInput(_))),
        "{invalid:?}"
    );
    assert_eq!(
        everything(&store).await,
        after,
        "an invalid batch applied something"
    );

    let conflict = store
        .batch_with(&mut |sink| {
            sink.set(b"n\x03", b"changed")?;
            sink.create(b"existing", b"dup")?;
            sink.set(b"n\x04", b"changed")
        })
        .await;
    assert!(
        matches!(&conflict, Err(Error::KeyExists { key }) if key == b"existing"),
        "{conflict:?}"
    );
    assert_eq!(
        everything(&store).await,
        after,
        "a conflicting batch applied something"
    );

    store.batch_with(&mut |_| Ok(())).await.unwrap();
    assert_eq!(everything(&store).await, after);

    // A precondition that fails first: on sled and redb the commit stops while the producer
    // still sends, whose sink then fails; the store's conflict is what the caller gets.
    let (_, current) = store.get_versioned(b"existing").await.unwrap().unwrap();
    let mut sent = 0;
    let stale = store
        .batch_with_versioned(&mut |sink| {
            sink.require(b"existing", Expect::Version(current + 1000))?;
            for i in 0u8..=255 {
                sink.set(&[b's', i], &[i; 200])?;
                sent += 1;
            }
            Ok(())
        })
        .await;
    assert!(
        matches!(&stale, Err(Error::Conflict { key, current: Some(c), .. })
            if key == b"existing" && *c == current),
        "{stale:?}"
    );
    assert!(sent > 0, "the producer ran");
    assert_eq!(
        everything(&store).await,
        after,
        "a batch with a failed precondition applied something"
    );

    // A producer failing after sending more than a chunk (on sled and redb the commit has
    // started): its error, nothing applied.
    let late = store
        .batch_with_versioned(&mut |sink| {
            for i in 0u8..200 {
                sink.set(&[b'l', i], &[i])?;
            }
            Err(Error::Aborted("the producer gave up late".into()))
        })
        .await;
    assert!(
        matches!(&late, Err(Error::Aborted(m)) if m == "the producer gave up late"),
        "{late:?}"
    );
    assert_eq!(everything(&store).await, after);

    // A create meeting a live key sent first, a failed precondition after it: preconditions
    // are checked before creates, so the conflict is reported.
    let both = store
        .batch_with_versioned(&mut |sink| {
            sink.create(b"existing", b"dup")?;
            sink.set(b"n\x07", b"changed")?;
            sink.require(b"made", Expect::Absent)
        })
        .await;
    assert!(
        matches!(&both, Err(Error::Conflict { key, .. }) if key == b"made"),
        "{both:?}"
    );
    assert_eq!(everything(&store).await, after);

    // Applied while sent: the version answered is the last write's.
    let before = store.last_version().await.unwrap();
    let version = store
        .batch_with_versioned(&mut |sink| {
            sink.require(b"existing", Expect::Version(current))?;
            sink.delete(b"made")?;
            for i in 0u8..200 {
                sink.set(&[b'm', i], &[i])?;
            }
            sink.set(b"existing", b"newer")
        })
        .await
        .unwrap();
    if let Some(version) = version {
        assert_eq!(
            store.get_versioned(b"existing").await.unwrap(),
            Some((b"newer".to_vec(), version))
        );
        assert_eq!(store.last_version().await.unwrap(), version);
    }
    assert_eq!(store.get(b"made").await.unwrap(), None);
    assert_eq!(store.count(b"m").await.unwrap(), 200);
    let feed = store.changes(before, usize::MAX).await.unwrap();
    assert_eq!(
        feed.len(),
        202,
        "the delete, 200 sets and the set, once each"
    );
}

/// Oversized keys and values and bad namespace names get `InvalidInput`, never a panic.
pub async fn invalid_input_is_rejected<S: KVStore>(store: S, _: &Config) {
    let long_key = vec![1u8; MAX_KEY_LEN + 1];
    assert!(matches!(
        store.set(&long_key, b"v").await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        store.get(&long_key).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        store.delete(&long_key).await,
        Err(Error::InvalidInput(_))
    ));
    let max_key = vec![0xABu8; MAX_KEY_LEN];
    store
        .set(&max_key, b"fits")
        .await
        .expect("a key of exactly MAX_KEY_LEN fits");
    assert_eq!(store.get(&max_key).await.unwrap(), Some(b"fits".to_vec()));
    let huge = vec![0u8; MAX_VALUE_LEN + 1];
    assert!(matches!(
        store.set(b"huge", &huge).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(!store.contains(b"huge").await.unwrap());
    for bad in ["", "has space", "a/b", "ünï"] {
        assert!(
            matches!(store.namespace(bad), Err(Error::InvalidInput(_))),
            "{bad:?}"
        );
    }
}

/// Namespaces of one database do not see each other's keys, scans, counts or clears.
pub async fn namespaces_are_isolated<S: KVStore>(store: S, _: &Config) {
    let other = store.namespace("other").unwrap();
    let prefix_like = store.namespace("other.more").unwrap();
    assert_eq!(other.namespace_name(), "other");
    store.set(b"k", b"default").await.unwrap();
    other.set(b"k", b"other").await.unwrap();
    prefix_like.set(b"k", b"more").await.unwrap();
    prefix_like.set(&[0xFF, 0xFF], b"edge").await.unwrap();
    assert_eq!(store.get(b"k").await.unwrap(), Some(b"default".to_vec()));
    assert_eq!(other.get(b"k").await.unwrap(), Some(b"other".to_vec()));
    assert_eq!(
        other.scan(Scan::all()).await.unwrap(),
        vec![(b"k".to_vec(), b"other".to_vec())]
    );
    assert_eq!(other.count(b"").await.unwrap(), 1);
    assert_eq!(prefix_like.count(b"").await.unwrap(), 2);
    other.clear().await.unwrap();
    assert_eq!(other.count(b"").await.unwrap(), 0);
    assert_eq!(store.get(b"k").await.unwrap(), Some(b"default".to_vec()));
    assert_eq!(prefix_like.count(b"").await.unwrap(), 2);
    // A second handle on a namespace sees the same data.
    let again = store.namespace("other.more").unwrap();
    assert_eq!(
        again.get(&[0xFF, 0xFF]).await.unwrap(),
        Some(b"edge".to_vec())
    );
}

/// Random operations, checked one by one against a `BTreeMap` model, for each seed.
pub async fn matches_model_under_random_operations<S: KVStore>(store: S, config: &Config) {
    for &seed in config.seeds {
        store.clear().await.unwrap();
        run_model(&store, seed, config.model_ops).await;
    }
}

fn random_key(rng: &mut fastrand::Rng) -> Vec<u8> {
    const ALPHABET: [u8; 6] = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF];
    let len = rng.usize(0..4);
    (0..len)
        .map(|_| ALPHABET[rng.usize(..ALPHABET.len())])
        .collect()
}

fn model_scan(model: &BTreeMap<Vec<u8>, Vec<u8>>, scan: Scan<'_>) -> Vec<Entry> {
    model
        .iter()
        .filter(|(k, _)| k.starts_with(scan.prefix) && scan.after.is_none_or(|a| k.as_slice() > a))
        .take(scan.limit.unwrap_or(usize::MAX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What the store should hold: live values with their versions, tombstones, the last version
/// and the horizon, changed by the same rules as `crate::versions` (a model written apart
/// from it).
#[derive(Clone, Default)]
struct Model {
    live: BTreeMap<Vec<u8>, (Vec<u8>, u64)>,
    tombs: BTreeMap<Vec<u8>, u64>,
    last: u64,
    horizon: u64,
}

impl Model {
    fn set(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.last += 1;
        self.tombs.remove(&key);
        self.live.insert(key, (value, self.last));
    }

    fn delete(&mut self, key: &[u8]) {
        if self.live.remove(key).is_some() {
            self.last += 1;
            self.tombs.insert(key.to_vec(), self.last);
        }
    }

    fn clear(&mut self) {
        self.live.clear();
        self.tombs.clear();
        self.horizon = self.last;
    }

    fn values(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.live
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    }

    fn version(&self, key: &[u8]) -> Option<u64> {
        self.live.get(key).map(|(_, v)| *v)
    }

    fn feed(&self, since: u64, limit: usize) -> Vec<Change> {
        let mut all: Vec<Change> = self
            .live
            .iter()
            .map(|(k, (v, ver))| Change {
                key: k.clone(),
                version: *ver,
                value: Some(v.clone()),
            })
            .chain(self.tombs.iter().map(|(k, ver)| Change {
                key: k.clone(),
                version: *ver,
                value: None,
            }))
            .filter(|c| c.version > since)
            .collect();
        all.sort_by_key(|c| c.version);
        all.truncate(limit);
        all
    }
}

async fn run_model<S: KVStore>(store: &S, seed: u64, ops: usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut model = Model {
        last: store.last_version().await.unwrap(),
        ..Model::default()
    };
    model.horizon = model.last;
    for step in 0..ops {
        let at = format!("seed {seed}, step {step}");
        match rng.u8(0..100) {
            0..=24 => {
                let (key, value) = (random_key(&mut rng), vec![rng.u8(..); rng.usize(0..40)]);
                store.set(&key, &value).await.unwrap();
                model.set(key, value);
            }
            25..=32 => {
                let key = random_key(&mut rng);
                store.delete(&key).await.unwrap();
                model.delete(&key);
            }
            33..=44 => {
                let key = random_key(&mut rng);
                assert_eq!(
                    store.get(&key).await.unwrap(),
                    model.live.get(&key).map(|(v, _)| v.clone()),
                    "get at {at}"
                );
                assert_eq!(
                    store.get_versioned(&key).await.unwrap(),
                    model.live.get(&key).cloned(),
                    "get_versioned at {at}"
                );
                assert_eq!(
                    store.contains(&key).await.unwrap(),
                    model.live.contains_key(&key),
                    "contains at {at}"
                );
                let others = [random_key(&mut rng), key.clone(), random_key(&mut rng)];
                let keys: Vec<&[u8]> = others.iter().map(Vec::as_slice).collect();
                let expected: Vec<_> = others.iter().map(|k| model.live.get(k).cloned()).collect();
                assert_eq!(
                    store.get_many_versioned(&keys).await.unwrap(),
                    expected,
                    "get_many_versioned at {at}"
                );
                assert_eq!(
                    store.get_many(&keys).await.unwrap(),
                    expected
                        .iter()
                        .map(|found| found.as_ref().map(|(v, _)| v.clone()))
                        .collect::<Vec<_>>(),
                    "get_many at {at}"
                );
            }
            45..=54 => {
                let since = match rng.u8(0..3) {
                    0 => model.horizon,
                    1 => rng.u64(model.horizon..=model.last + 1),
                    _ => rng.u64(0..=model.last + 1),
                };
                let limit = rng.usize(0..12);
                let got = store.changes(since, limit).await;
                if since < model.horizon {
                    assert!(
                        matches!(got, Err(Error::ChangesExpired { horizon, .. }) if horizon == model.horizon),
                        "changes({since}) below horizon {} gave {got:?} at {at}",
                        model.horizon
                    );
                } else {
                    assert_eq!(
                        got.unwrap(),
                        model.feed(since, limit),
                        "changes({since}, {limit}) at {at}"
                    );
                }
                assert_eq!(
                    store.last_version().await.unwrap(),
                    model.last,
                    "last_version at {at}"
                );
            }
            55..=69 => {
                let values = model.values();
                let prefix = random_key(&mut rng);
                let after = rng.bool().then(|| random_key(&mut rng));
                let mut scan = Scan::prefix(&prefix[..prefix.len().min(2)]);
                if let Some(after) = &after {
                    scan = scan.after(after);
                }
                if rng.bool() {
                    scan = scan.limit(rng.usize(0..6));
                }
                let expected = model_scan(&values, scan);
                assert_eq!(
                    store.scan(scan).await.unwrap(),
                    expected,
                    "scan {scan:?} at {at}"
                );
                let keys: Vec<_> = expected.into_iter().map(|(k, _)| k).collect();
                assert_eq!(
                    store.scan_keys(scan).await.unwrap(),
                    keys,
                    "scan_keys at {at}"
                );
                assert_eq!(
                    store.count(scan.prefix).await.unwrap(),
                    model_scan(&values, Scan::prefix(scan.prefix)).len() as u64,
                    "count at {at}"
                );
            }
            70..=98 => {
                let mut batch = Batch::new();
                let mut next = model.clone();
                let mut exists = None;
                let mut conflict = None;
                for _ in 0..rng.usize(0..8) {
                    let key = random_key(&mut rng);
                    match rng.u8(0..13) {
                        0..=4 => {
                            let value = vec![rng.u8(..); rng.usize(0..20)];
                            batch.set(key.clone(), value.clone());
                            next.set(key, value);
                        }
                        5..=7 => {
                            batch.delete(key.clone());
                            next.delete(&key);
                        }
                        8 => {
                            let value = vec![rng.u8(..); 3];
                            batch.create(key.clone(), value.clone());
                            if next.live.contains_key(&key) {
                                exists.get_or_insert(key);
                            } else {
                                next.set(key, value);
                            }
                        }
                        _ => {
                            // A precondition, right or wrong, against the state before the batch.
                            let current = model.version(&key);
                            let expect = match rng.u8(0..4) {
                                0 => Expect::Absent,
                                1 => Expect::Present,
                                2 => Expect::Version(current.unwrap_or(1)),
                                _ => Expect::Version(rng.u64(1..=model.last + 1)),
                            };
                            let holds = match expect {
                                Expect::Absent => current.is_none(),
                                Expect::Present => current.is_some(),
                                Expect::Version(v) => current == Some(v),
                            };
                            if !holds {
                                conflict.get_or_insert((key.clone(), current));
                            }
                            batch.require(key, expect);
                        }
                    }
                }
                // A third of the batches through `batch_versioned`, a third through
                // `batch_with_versioned`, whose answer, when they give one (the default gives
                // `None`), is the model's last version after the batch. The latter after 64
                // preconditions that hold (on a key outside the model's), so that on sled and
                // redb the batch's own operations are applied while sent.
                let applied = match rng.u8(0..3) {
                    0 => store.batch(batch).await.map(|()| None),
                    1 => store.batch_versioned(batch).await,
                    _ => {
                        let ops = batch.into_ops();
                        store
                            .batch_with_versioned(&mut |sink| {
                                for _ in 0..64 {
                                    sink.require(b"never written", Expect::Absent)?;
                                }
                                send_ops(sink, &ops)
                            })
                            .await
                    }
                };
                match (applied, conflict, exists) {
                    (Ok(committed), None, None) => {
                        if let Some(version) = committed {
                            assert_eq!(version, next.last, "batch_versioned at {at}");
                        }
                        model = next;
                    }
                    (Err(Error::Conflict { key, current, .. }), Some(expected), _) => {
                        assert_eq!((key, current), expected, "conflict at {at}")
                    }
                    (Err(Error::KeyExists { key }), None, Some(expected)) => {
                        assert_eq!(key, expected, "existing key at {at}")
                    }
                    (result, conflict, exists) => panic!(
                        "batch gave {result:?}, model expected conflict {conflict:?} / existing {exists:?} at {at}"
                    ),
                }
            }
            _ => {
                store.clear().await.unwrap();
                model.clear();
            }
        }
    }
    assert_eq!(
        everything(store).await,
        model_scan(&model.values(), Scan::all()),
        "final state, seed {seed}"
    );
    assert_eq!(
        store.changes(model.horizon, usize::MAX).await.unwrap(),
        model.feed(model.horizon, usize::MAX),
        "final feed, seed {seed}"
    );
}

/// Sends `ops` to `sink`, in order.
fn send_ops(sink: &mut dyn crate::BatchSink, ops: &[BatchOp]) -> crate::Result<()> {
    for op in ops {
        match op {
            BatchOp::Set { key, value } => sink.set(key, value)?,
            BatchOp::Create { key, value } => sink.create(key, value)?,
            BatchOp::Delete { key } => sink.delete(key)?,
            BatchOp::Require { key, expect } => sink.require(key, *expect)?,
        }
    }
    Ok(())
}

/// Many writers in flight at once on one executor (interleaved futures), then every write
/// present.
pub async fn concurrent_futures_lose_nothing<S: KVStore>(store: S, config: &Config) {
    let writers = (0..config.writers).map(|w| {
        let store = &store;
        async move {
            for i in 0..config.writes_per_writer {
                let key = format!("w{w:03}/{i:05}");
                if i % 3 == 0 {
                    let mut batch = Batch::new();
                    batch.set(key.clone().into_bytes(), key.clone().into_bytes());
                    store.batch(batch).await.unwrap();
                } else {
                    store.set(key.as_bytes(), key.as_bytes()).await.unwrap();
                }
                // Read someone's data while others write.
                store
                    .scan_keys(Scan::prefix(b"w000/").limit(5))
                    .await
                    .unwrap();
            }
        }
    });
    futures::future::join_all(writers).await;
    let total = (config.writers * config.writes_per_writer) as u64;
    assert_eq!(store.count(b"w").await.unwrap(), total);
    for (k, v) in everything(&store).await {
        assert_eq!(k, v);
    }
}

/// Many OS threads, each with its own executor, writing and reading one store at once.
#[cfg(not(target_arch = "wasm32"))]
pub async fn concurrent_threads_lose_nothing<S: KVStore + Clone + 'static>(
    store: S,
    config: &Config,
) {
    let threads: Vec<_> = (0..config.writers)
        .map(|t| {
            let store = store.clone();
            let n = config.writes_per_writer;
            std::thread::spawn(move || {
                futures::executor::block_on(async {
                    for i in 0..n {
                        let key = format!("t{t:03}/{i:05}");
                        store.set(key.as_bytes(), key.as_bytes()).await.unwrap();
                        assert_eq!(
                            store.get(key.as_bytes()).await.unwrap(),
                            Some(key.into_bytes())
                        );
                    }
                })
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("writer thread panicked");
    }
    assert_eq!(
        store.count(b"t").await.unwrap(),
        (config.writers * config.writes_per_writer) as u64
    );
}

/// Versions: assigned per written key, increasing, returned with values; preconditions
/// (absent, present, exact version) checked atomically, a failed one applying nothing and
/// naming the key and its current version.
pub async fn versions_and_preconditions<S: KVStore>(store: S, _: &Config) {
    assert_eq!(store.last_version().await.unwrap(), 0);
    assert_eq!(store.get_versioned(b"k").await.unwrap(), None);
    assert_eq!(store.get_many_versioned(&[]).await.unwrap(), vec![]);
    assert_eq!(
        store.get_many_versioned(&[b"k", b"k"]).await.unwrap(),
        vec![None, None]
    );
    let too_long = vec![b'k'; crate::MAX_KEY_LEN + 1];
    assert!(matches!(
        store.get_many_versioned(&[b"k", &too_long]).await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(
        store.get_many(&[]).await.unwrap(),
        Vec::<Option<Vec<u8>>>::new()
    );
    assert!(matches!(
        store.get_many(&[b"k", &too_long]).await,
        Err(Error::InvalidInput(_))
    ));
    store.set(b"k", b"1").await.unwrap();
    let (value, v1) = store.get_versioned(b"k").await.unwrap().unwrap();
    assert_eq!((value.as_slice(), v1), (&b"1"[..], 1));
    store.set(b"k", b"2").await.unwrap();
    let v2 = store.get_versioned(b"k").await.unwrap().unwrap().1;
    assert!(v2 > v1);
    assert_eq!(store.last_version().await.unwrap(), v2);
    assert_eq!(
        store.get_many(&[b"k", b"absent", b"k"]).await.unwrap(),
        vec![Some(b"2".to_vec()), None, Some(b"2".to_vec())]
    );
    // Compare-and-swap: succeeds at the current version, fails at an old one.
    let mut cas = Batch::new();
    cas.require_version(b"k", v2)
        .set(b"k", b"3")
        .set(b"side", b"x");
    store.batch(cas).await.unwrap();
    let v3 = store.get_versioned(b"k").await.unwrap().unwrap().1;
    assert!(v3 > v2);
    let mut stale = Batch::new();
    stale
        .set(b"other", b"never")
        .require_version(b"k", v2)
        .set(b"k", b"lost");
    match store.batch(stale).await {
        Err(Error::Conflict {
            key,
            expected: Expect::Version(v),
            current,
        }) => {
            assert_eq!((key.as_slice(), v, current), (&b"k"[..], v2, Some(v3)));
        }
        other => panic!("stale compare-and-swap gave {other:?}"),
    }
    assert_eq!(store.get(b"k").await.unwrap(), Some(b"3".to_vec()));
    assert_eq!(
        store.get(b"other").await.unwrap(),
        None,
        "nothing of a failed batch"
    );
    let last = store.last_version().await.unwrap();

    for (expect, key, current) in [
        (Expect::Absent, &b"k"[..], Some(v3)),
        (Expect::Present, &b"missing"[..], None),
        (Expect::Version(v3), &b"missing"[..], None),
    ] {
        let mut batch = Batch::new();
        batch.require(key, expect).set(b"x", b"y");
        match store.batch(batch).await {
            Err(Error::Conflict {
                key: k,
                current: c,
                expected,
            }) => assert_eq!((k.as_slice(), c, expected), (key, current, expect)),
            other => panic!("{expect:?} on {key:?} gave {other:?}"),
        }
    }
    assert_eq!(
        store.last_version().await.unwrap(),
        last,
        "failed batches take no version"
    );

    // Preconditions that hold; a precondition alone writes nothing.
    let mut ok = Batch::new();
    ok.require_absent(b"missing").require_present(b"k");
    store.batch(ok).await.unwrap();
    assert_eq!(store.last_version().await.unwrap(), last);

    // A deleted key is absent, and its version moves on.
    store.delete(b"k").await.unwrap();
    assert_eq!(store.get_versioned(b"k").await.unwrap(), None);
    let mut back = Batch::new();
    back.require_absent(b"k").set(b"k", b"again");
    store.batch(back).await.unwrap();
    let v4 = store.get_versioned(b"k").await.unwrap().unwrap().1;
    assert_eq!(v4, store.last_version().await.unwrap());
    assert!(v4 > last + 1, "the delete took a version too");

    // Versions are per namespace.
    let other = store.namespace("versions-other").unwrap();
    assert_eq!(other.last_version().await.unwrap(), 0);
    other.set(b"k", b"o").await.unwrap();
    assert_eq!(other.get_versioned(b"k").await.unwrap().unwrap().1, 1);
    assert_eq!(store.last_version().await.unwrap(), v4);
}

/// The feed returns every key changed after a version, once, at its latest version, with its
/// value or a tombstone, in commit order, in pages that chain without gaps; after `clear` older
/// feeds must resync.
pub async fn change_feed_pages_without_gaps<S: KVStore>(store: S, _: &Config) {
    assert_eq!(store.changes(0, 10).await.unwrap(), Vec::new());
    for i in 0u8..10 {
        store.set(&[b'a', i], &[i]).await.unwrap();
    }
    let mut batch = Batch::new();
    batch
        .set(b"a\x03", b"new")
        .delete(b"a\x05")
        .delete(b"never-there");
    store.batch(batch).await.unwrap();
    store.set(b"a\x00", b"last").await.unwrap();
    let mid = 4; // a reader that had seen versions 1..=4

    let mut pages = Vec::new();
    let mut since = mid;
    loop {
        let page = store.changes(since, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        since = page.last().unwrap().version;
        pages.extend(page);
    }
    let versions: Vec<u64> = pages.iter().map(|c| c.version).collect();
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "commit order: {versions:?}"
    );
    let seen: BTreeMap<Vec<u8>, Option<Vec<u8>>> = pages
        .iter()
        .map(|c| (c.key.clone(), c.value.clone()))
        .collect();
    assert_eq!(seen.len(), pages.len(), "each key once: {pages:?}");
    // Keys written after version 4: a4..a9 and a0 and a3 (rewritten); a5 deleted.
    let mut expected: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for i in [4u8, 6, 7, 8, 9] {
        expected.insert(vec![b'a', i], Some(vec![i]));
    }
    expected.insert(b"a\x03".to_vec(), Some(b"new".to_vec()));
    expected.insert(b"a\x05".to_vec(), None);
    expected.insert(b"a\x00".to_vec(), Some(b"last".to_vec()));
    assert_eq!(seen, expected);
    assert_eq!(since, store.last_version().await.unwrap());
    assert_eq!(store.changes(since, 10).await.unwrap(), Vec::new());

    // What a reader gets from 0 equals the store, tombstones aside.
    let full = store.changes(0, usize::MAX).await.unwrap();
    let live: Vec<Entry> = {
        let mut v: Vec<Entry> = full
            .iter()
            .filter_map(|c| c.value.clone().map(|v| (c.key.clone(), v)))
            .collect();
        v.sort();
        v
    };
    assert_eq!(live, everything(&store).await);

    store.clear().await.unwrap();
    let last = store.last_version().await.unwrap();
    match store.changes(since - 1, 10).await {
        Err(Error::ChangesExpired { horizon, .. }) => assert_eq!(horizon, last),
        other => panic!("a feed from before clear gave {other:?}"),
    }
    assert_eq!(store.changes(last, 10).await.unwrap(), Vec::new());
    store.set(b"after", b"clear").await.unwrap();
    let after = store.changes(last, 10).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].version, last + 1, "versions go on after clear");
}

/// Many tasks incrementing one counter by compare-and-swap, retrying on `Conflict` with the
/// version the conflict names, end at the exact count.
pub async fn compare_and_swap_loses_no_update<S: KVStore>(store: S, config: &Config) {
    let tasks = config.writers.min(8);
    let per_task = config.writes_per_writer.min(10);
    let increments = (0..tasks).map(|_| {
        let store = &store;
        async move {
            for _ in 0..per_task {
                cas_increment(store).await;
            }
        }
    });
    futures::future::join_all(increments).await;
    let (value, _) = store.get_versioned(b"counter").await.unwrap().unwrap();
    assert_eq!(decode_counter(&value), (tasks * per_task) as u64);
}

fn decode_counter(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().expect("8-byte counter"))
}

/// One compare-and-swap increment of `counter`, retried until it applies.
async fn cas_increment<S: KVStore>(store: &S) {
    let mut seen = store.get_versioned(b"counter").await.unwrap();
    loop {
        let mut batch = Batch::new();
        let next = match &seen {
            Some((value, version)) => {
                batch.require_version(b"counter", *version);
                decode_counter(value) + 1
            }
            None => {
                batch.require_absent(b"counter");
                1
            }
        };
        batch.set(b"counter", next.to_be_bytes());
        match store.batch(batch).await {
            Ok(()) => return,
            Err(Error::Conflict { .. }) => seen = store.get_versioned(b"counter").await.unwrap(),
            Err(other) => panic!("increment failed: {other:?}"),
        }
    }
}

/// The same, from OS threads each with its own executor.
#[cfg(not(target_arch = "wasm32"))]
pub async fn compare_and_swap_across_threads<S: KVStore + Clone + 'static>(
    store: S,
    config: &Config,
) {
    let (threads, per_thread) = (config.writers.min(4), 25);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                futures::executor::block_on(async {
                    for _ in 0..per_thread {
                        cas_increment(&store).await;
                    }
                })
            })
        })
        .collect();
    for h in handles {
        h.join().expect("incrementing thread panicked");
    }
    let (value, _) = store.get_versioned(b"counter").await.unwrap().unwrap();
    assert_eq!(decode_counter(&value), (threads * per_thread) as u64);
}

/// [`KVStore::batch_versioned`] answers `Some`: the namespace's last version after the commit
/// (its last write's version), the last version as it was for a batch that writes nothing, and
/// nothing for a failed one. Not part of [`conformance_tests!`](crate::conformance_tests): a
/// store keeping the default implementation answers `None`, which the contract allows (the
/// random model case checks the answer whenever it is `Some`). Every backend of this crate
/// runs it.
pub async fn commits_report_their_version<S: KVStore>(store: S) {
    store.set(b"k", b"1").await.unwrap();
    let mut batch = Batch::new();
    batch
        .set(b"v1".to_vec(), b"a".to_vec())
        .set(b"v2".to_vec(), b"b".to_vec());
    let committed = store.batch_versioned(batch).await.unwrap().unwrap();
    assert_eq!(committed, store.last_version().await.unwrap());
    assert_eq!(
        store.get_versioned(b"v2").await.unwrap().unwrap().1,
        committed
    );
    assert!(store.get_versioned(b"v1").await.unwrap().unwrap().1 < committed);
    // One that writes nothing reports the last version as it was.
    let mut batch = Batch::new();
    batch
        .require_present(b"v1".to_vec())
        .delete(b"absent".to_vec());
    assert_eq!(store.batch_versioned(batch).await.unwrap(), Some(committed));
    // A failed one reports the conflict and changes nothing.
    let mut batch = Batch::new();
    batch.require_absent(b"v1".to_vec()).delete(b"v1".to_vec());
    assert!(matches!(
        store.batch_versioned(batch).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(store.last_version().await.unwrap(), committed);
    assert_eq!(store.get(b"v1").await.unwrap(), Some(b"a".to_vec()));
}

/// A store keeping tombstones for the last `retention` versions prunes older ones as commits
/// go on: the horizon moves up, older feeds get `ChangesExpired`, newer ones stay complete.
pub async fn tombstones_are_pruned_past_the_retention<S: KVStore>(store: S, retention: u64) {
    for i in 0u8..20 {
        store.set(&[b't', i], b"x").await.unwrap();
    }
    for i in 0u8..10 {
        store.delete(&[b't', i]).await.unwrap();
    }
    for i in 0u8..(retention as u8 + 5) {
        store.set(b"tick", &[i]).await.unwrap();
    }
    let last = store.last_version().await.unwrap();
    let err = store.changes(0, 100).await.unwrap_err();
    let Error::ChangesExpired { horizon, .. } = err else {
        panic!("expected ChangesExpired, got {err:?}");
    };
    assert!(
        horizon > 20 && horizon <= last.saturating_sub(retention),
        "horizon {horizon}, last {last}"
    );
    let feed = store.changes(horizon, usize::MAX).await.unwrap();
    assert!(feed.iter().all(|c| c.version > horizon));
    assert_eq!(feed.last().map(|c| c.version), Some(last));
    for i in 0u8..10 {
        assert_eq!(store.get(&[b't', i]).await.unwrap(), None);
    }
    assert_eq!(
        store.count(b"t").await.unwrap() - 1,
        10,
        "t10..t19 and tick"
    );

    // A batch that writes and deletes again a key whose old tombstone is due for pruning,
    // sent while made (more than a chunk: on sled and redb the commit applies it as it
    // comes): the pruning must leave the new tombstone alone, so that a later set of the key
    // replaces it and the feed lists the key once.
    store.set(b"t10", b"first").await.unwrap();
    store.delete(b"t10").await.unwrap();
    // Exactly `retention` commits after it: the tombstone is the next commit's to prune.
    for i in 0u8..retention as u8 {
        store.set(b"tick", &[i]).await.unwrap();
    }
    store
        .batch_with_versioned(&mut |sink| {
            for i in 0u8..70 {
                sink.set(&[b'u', i], b"x")?;
            }
            sink.set(b"t10", b"back")?;
            sink.delete(b"t10")
        })
        .await
        .unwrap();
    store.set(b"t10", b"again").await.unwrap();
    let horizon = match store.changes(0, 1).await {
        Err(Error::ChangesExpired { horizon, .. }) => horizon,
        other => panic!("expected ChangesExpired, got {other:?}"),
    };
    let feed = store.changes(horizon, usize::MAX).await.unwrap();
    let t10: Vec<_> = feed.iter().filter(|c| c.key == b"t10").collect();
    assert_eq!(t10.len(), 1, "t10 in the feed: {t10:?}");
    assert_eq!(t10[0].value.as_deref(), Some(&b"again"[..]));
    assert_eq!(store.get(b"t10").await.unwrap(), Some(b"again".to_vec()));
}

/// Copies directory `from` into `to`, with its subdirectories: a store directory (sled's, and
/// its write-ahead log) as a crash would leave it when taken while the store is open, or a
/// snapshot to put back later.
///
/// # Panics
///
/// On any I/O error (a test helper).
#[cfg(not(target_arch = "wasm32"))]
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for entry in std::fs::read_dir(from).expect("read the directory") {
        let entry = entry.expect("read a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("an entry's type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy a file");
        }
    }
}

/// Writes data through a store, drops it, reopens with `reopen`, and checks everything —
/// including a failed batch's absence — is there. `reopen` must open the same location.
pub async fn persistence_across_reopen<S, F, Fut>(reopen: F)
where
    S: KVStore,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    let expected = {
        let store = reopen().await;
        let other = store.namespace("second").unwrap();
        store.set(b"single", b"1").await.unwrap();
        store.set(b"deleted", b"x").await.unwrap();
        store.delete(b"deleted").await.unwrap();
        let mut batch = Batch::new();
        batch
            .set(b"batch/a", b"a")
            .set(b"batch/b", vec![0xFF; 1000]);
        store.batch(batch).await.unwrap();
        let mut failing = Batch::new();
        failing.set(b"never", b"x").create(b"single", b"dup");
        assert!(store.batch(failing).await.is_err());
        other.set(b"single", b"other").await.unwrap();
        everything(&store).await
    };
    let store = reopen().await;
    assert_eq!(everything(&store).await, expected);
    assert_eq!(
        store
            .namespace("second")
            .unwrap()
            .get(b"single")
            .await
            .unwrap(),
        Some(b"other".to_vec())
    );
}

/// Expands the conformance suite into test functions for one backend.
///
/// - `blocking: #[test] EXECUTOR,` runs each case with `EXECUTOR(future)` (for example
///   `futures::executor::block_on`) in a plain `#[test]`;
/// - `async: #[ATTR],` writes `#[ATTR] async fn` cases (for `#[tokio::test]` or
///   `#[wasm_bindgen_test]`).
///
/// `open` is a closure returning a future of `(store, guard)`: a fresh, empty store and
/// whatever must live as long as it (a temporary directory). `config` is a
/// [`testing::Config`](crate::testing::Config). Native runs also get the threaded case.
#[macro_export]
macro_rules! conformance_tests {
    (blocking: #[$attr:meta] $run:path, open: $open:expr, config: $config:expr $(,)?) => {
        $crate::conformance_tests!(@cases [blocking $attr $run] $open, $config);
        #[cfg(not(target_arch = "wasm32"))]
        $crate::conformance_tests!(@one [blocking $attr $run] $open, $config, concurrent_threads_lose_nothing);
        #[cfg(not(target_arch = "wasm32"))]
        $crate::conformance_tests!(@one [blocking $attr $run] $open, $config, compare_and_swap_across_threads);
    };
    (async: #[$attr:meta], open: $open:expr, config: $config:expr $(,)?) => {
        $crate::conformance_tests!(@cases [async $attr] $open, $config);
        #[cfg(not(target_arch = "wasm32"))]
        $crate::conformance_tests!(@one [async $attr] $open, $config, concurrent_threads_lose_nothing);
        #[cfg(not(target_arch = "wasm32"))]
        $crate::conformance_tests!(@one [async $attr] $open, $config, compare_and_swap_across_threads);
    };
    (@cases $mode:tt $open:expr, $config:expr) => {
        $crate::conformance_tests!(@one $mode $open, $config, basic_operations);
        $crate::conformance_tests!(@one $mode $open, $config, large_values);
        $crate::conformance_tests!(@one $mode $open, $config, binary_keys_are_ordered_as_unsigned_bytes);
        $crate::conformance_tests!(@one $mode $open, $config, prefix_scans_handle_edge_cases);
        $crate::conformance_tests!(@one $mode $open, $config, scan_all_pages_through_a_prefix);
        $crate::conformance_tests!(@one $mode $open, $config, batch_applies_every_operation);
        $crate::conformance_tests!(@one $mode $open, $config, failed_batch_applies_nothing);
        $crate::conformance_tests!(@one $mode $open, $config, batch_with_streams_operations);
        $crate::conformance_tests!(@one $mode $open, $config, invalid_input_is_rejected);
        $crate::conformance_tests!(@one $mode $open, $config, namespaces_are_isolated);
        $crate::conformance_tests!(@one $mode $open, $config, matches_model_under_random_operations);
        $crate::conformance_tests!(@one $mode $open, $config, concurrent_futures_lose_nothing);
        $crate::conformance_tests!(@one $mode $open, $config, versions_and_preconditions);
        $crate::conformance_tests!(@one $mode $open, $config, change_feed_pages_without_gaps);
        $crate::conformance_tests!(@one $mode $open, $config, compare_and_swap_loses_no_update);
    };
    (@one [blocking $attr:meta $run:path] $open:expr, $config:expr, $case:ident) => {
        #[$attr]
        fn $case() {
            $run(async {
                let (store, _guard) = ($open)().await;
                $crate::testing::$case(store, &$config).await;
            })
        }
    };
    (@one [async $attr:meta] $open:expr, $config:expr, $case:ident) => {
        #[$attr]
        async fn $case() {
            let (store, _guard) = ($open)().await;
            $crate::testing::$case(store, &$config).await;
        }
    };
}
