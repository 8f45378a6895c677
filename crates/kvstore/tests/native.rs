//! The conformance suite on every native backend, under a non-tokio executor
//! (`futures::executor::block_on`) and under tokio, plus what only files can do: persistence
//! across reopen and the lock against a second opener.
#![cfg(not(target_arch = "wasm32"))]

use kvstore::testing::Config;
use kvstore::{Error, KVStore, RedbStore, SledStore};
use std::time::{Duration, Instant};

const CONFIG: Config = Config::native();

use kvstore::testing::stores::{memory, redb, sled};

mod memory_blocking {
    kvstore::conformance_tests!(blocking: #[test] futures::executor::block_on, open: super::memory, config: super::CONFIG);
}
mod memory_tokio {
    kvstore::conformance_tests!(async: #[tokio::test(flavor = "multi_thread")], open: super::memory, config: super::CONFIG);
}
mod sled_blocking {
    kvstore::conformance_tests!(blocking: #[test] futures::executor::block_on, open: super::sled, config: super::CONFIG);
}
mod sled_tokio {
    kvstore::conformance_tests!(async: #[tokio::test(flavor = "multi_thread")], open: super::sled, config: super::CONFIG);
}
/// A sled store that flushes sled on every write (no write-ahead log).
async fn sled_without_log() -> (SledStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::builder()
        .write_ahead_log(false)
        .open(dir.path().join("db"))
        .unwrap();
    (store, dir)
}
mod sled_without_log_blocking {
    kvstore::conformance_tests!(blocking: #[test] futures::executor::block_on, open: super::sled_without_log, config: super::CONFIG);
}
mod redb_blocking {
    kvstore::conformance_tests!(blocking: #[test] futures::executor::block_on, open: super::redb, config: super::CONFIG);
}
mod redb_tokio {
    kvstore::conformance_tests!(async: #[tokio::test(flavor = "multi_thread")], open: super::redb, config: super::CONFIG);
}

#[test]
fn sled_keeps_data_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    futures::executor::block_on(kvstore::testing::persistence_across_reopen(|| async {
        reopen_sled(&path)
    }));
}

/// Opens the sled store at `path`, waiting up to 5 s for it to be free: sled releases its file
/// lock from its own threads shortly after the last handle is dropped, so a reopen at once can
/// still find it held (Busy).
fn reopen_sled(path: &std::path::Path) -> SledStore {
    SledStore::builder()
        .busy_timeout(Duration::from_secs(5))
        .open(path)
        .unwrap()
}

#[test]
fn redb_keeps_data_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    futures::executor::block_on(kvstore::testing::persistence_across_reopen(|| async {
        RedbStore::open(&path).unwrap()
    }));
}

#[test]
fn sled_second_opener_gets_busy() {
    let dir = tempfile::tempdir().unwrap();
    let first = SledStore::open(dir.path().join("db")).unwrap();
    futures::executor::block_on(first.set(b"k", b"v")).unwrap();
    let err = SledStore::open(dir.path().join("db")).unwrap_err();
    assert!(matches!(err, Error::Busy(_)), "got {err:?}");
    assert_eq!(
        futures::executor::block_on(first.get(b"k")).unwrap(),
        Some(b"v".to_vec())
    );
}

#[test]
fn redb_second_opener_gets_busy() {
    let dir = tempfile::tempdir().unwrap();
    let first = RedbStore::open(dir.path().join("db.redb")).unwrap();
    futures::executor::block_on(first.set(b"k", b"v")).unwrap();
    let err = RedbStore::open(dir.path().join("db.redb")).unwrap_err();
    assert!(matches!(err, Error::Busy(_)), "got {err:?}");
    assert_eq!(
        futures::executor::block_on(first.get(b"k")).unwrap(),
        Some(b"v".to_vec())
    );
}

/// With a busy timeout, an open of a store another handle holds fails with Busy once the
/// timeout has passed, and one that is waiting when the holder lets go gets the store.
/// `open(timeout)` opens the one store under test with that busy timeout.
fn busy_timeout_waits_for_the_holder<S: KVStore + Send + 'static>(
    open: impl Fn(Duration) -> kvstore::Result<S>,
) {
    let first = open(Duration::ZERO).unwrap();
    futures::executor::block_on(first.set(b"k", b"v")).unwrap();
    let started = Instant::now();
    let err = open(Duration::from_millis(200)).err();
    assert!(matches!(err, Some(Error::Busy(_))), "got {err:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "did not wait"
    );
    let holder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
    });
    let second = open(Duration::from_secs(30)).unwrap();
    holder.join().unwrap();
    assert_eq!(
        futures::executor::block_on(second.get(b"k")).unwrap(),
        Some(b"v".to_vec())
    );
}

#[test]
fn sled_busy_timeout_waits_for_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    busy_timeout_waits_for_the_holder(|timeout| {
        SledStore::builder().busy_timeout(timeout).open(&path)
    });
}

#[test]
fn redb_busy_timeout_waits_for_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    busy_timeout_waits_for_the_holder(|timeout| {
        RedbStore::builder().busy_timeout(timeout).open(&path)
    });
}

#[test]
fn redb_rejects_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.redb");
    std::fs::write(&path, vec![0x5Au8; 8192]).unwrap();
    let err = RedbStore::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Corrupted(_) | Error::Backend { .. } | Error::Io(_)
        ),
        "got {err:?}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        vec![0x5Au8; 8192],
        "the file was modified"
    );
}

#[cfg(unix)]
#[test]
fn new_file_stores_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let sled_path = dir.path().join("nested").join("store.sled");
    drop(kvstore::SledStore::open(&sled_path).unwrap());
    assert_eq!(mode(&sled_path), 0o700, "sled directory");
    let redb_path = dir.path().join("store.redb");
    let store = kvstore::RedbStore::open(&redb_path).unwrap();
    futures::executor::block_on(kvstore::KVStore::set(&store, b"k", b"v")).unwrap();
    assert_eq!(mode(&redb_path), 0o600, "redb file");
    assert_eq!(mode(&RedbStore::log_path(&redb_path)), 0o600, "redb's log");
}

/// A file store's write-ahead log: the writes since the last checkpoint are in it and the
/// database file has them after a clean close; opened without the log, the store applies a
/// log left behind and removes it.
#[test]
fn redb_write_ahead_log_on_files() {
    futures::executor::block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        let log = RedbStore::log_path(&path);
        assert_eq!(log, dir.path().join("db.redb.wal"));
        {
            let store = RedbStore::open(&path).unwrap();
            for i in 0..300u32 {
                store.set(&i.to_be_bytes(), b"v").await.unwrap();
            }
        }
        assert!(log.exists(), "the log stays beside the database");
        // A clean close checkpointed: the database file alone has every write (the log's
        // records are then stale and must not be applied again).
        let bare = RedbStore::builder()
            .write_ahead_log(false)
            .open(&path)
            .unwrap();
        assert_eq!(bare.count(b"").await.unwrap(), 300);
        assert_eq!(bare.last_version().await.unwrap(), 300);
        assert!(!log.exists(), "opened without a log, the store removes it");
        bare.set(b"one file", b"v").await.unwrap();
        drop(bare);
        let again = RedbStore::open(&path).unwrap();
        assert_eq!(again.count(b"").await.unwrap(), 301);
        assert_eq!(again.last_version().await.unwrap(), 301);
    });
}

#[test]
fn commits_report_their_version_on_every_native_backend() {
    use kvstore::testing::commits_report_their_version as case;
    futures::executor::block_on(async {
        case(kvstore::MemoryStore::new()).await;
        let (sled, _dir) = sled().await;
        case(sled).await;
        let (redb, _dir) = redb().await;
        case(redb).await;
    });
}

#[test]
fn tombstones_are_pruned_past_the_retention_on_every_native_backend() {
    use kvstore::testing::tombstones_are_pruned_past_the_retention as case;
    futures::executor::block_on(async {
        case(kvstore::MemoryStore::new().with_tombstone_retention(8), 8).await;
        let dir = tempfile::tempdir().unwrap();
        let sled = SledStore::builder()
            .tombstone_retention(8)
            .open(dir.path().join("sled"))
            .unwrap();
        case(sled, 8).await;
        let redb = RedbStore::builder()
            .tombstone_retention(8)
            .open(dir.path().join("db.redb"))
            .unwrap();
        case(redb, 8).await;
    });
}

/// What a store written before versions holds after the upgrade: every key at a version, in
/// key order, in the feed; later writes go on from there; the upgrade is kept on reopen.
async fn check_upgraded<S: KVStore>(store: &S, keys: &[&[u8]]) {
    let mut sorted = keys.to_vec();
    sorted.sort();
    for (i, key) in sorted.iter().enumerate() {
        let (value, version) = store.get_versioned(key).await.unwrap().unwrap();
        assert_eq!(value, key.to_vec());
        assert_eq!(version, i as u64 + 1, "{key:?}");
    }
    assert_eq!(store.last_version().await.unwrap(), keys.len() as u64);
    let feed = store.changes(0, 100).await.unwrap();
    let fed: Vec<&[u8]> = feed.iter().map(|c| c.key.as_slice()).collect();
    assert_eq!(fed, sorted);
}

/// The keys each old-layout store holds, in namespaces `default` and `second`.
const OLD_KEYS: [&[u8]; 4] = [b"b", b"a", b"\xff\x00", b"c/1"];

/// Opens an old-layout store, checks both namespaces were upgraded, writes on, and reopens:
/// the upgrade and the later write are kept. Returns the reopened store.
async fn upgraded_in_place<S: KVStore>(open: impl Fn() -> S) -> S {
    let next = OLD_KEYS.len() as u64 + 1;
    let store = open();
    check_upgraded(&store, &OLD_KEYS).await;
    check_upgraded(&store.namespace("second").unwrap(), &OLD_KEYS).await;
    store.set(b"new", b"v").await.unwrap();
    assert_eq!(store.get_versioned(b"new").await.unwrap().unwrap().1, next);
    drop(store);
    let store = open();
    assert_eq!(store.last_version().await.unwrap(), next);
    assert_eq!(store.changes(next - 1, 10).await.unwrap().len(), 1);
    store
}

#[test]
fn a_sled_store_written_before_versions_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        // The layout of kvstore before versions: one sled tree per namespace, nothing else.
        let db = sled::open(&path).unwrap();
        for ns in ["default", "second"] {
            let tree = db.open_tree(ns).unwrap();
            for key in OLD_KEYS {
                tree.insert(key, key).unwrap();
            }
        }
        db.flush().unwrap();
    }
    let store = futures::executor::block_on(upgraded_in_place(|| reopen_sled(&path)));
    let trees = store.db().tree_names();
    assert!(
        !trees
            .iter()
            .any(|n| n.as_ref() == b"default" || n.as_ref() == b"second"),
        "the old trees are dropped once moved"
    );
}

#[test]
fn a_redb_store_written_before_versions_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    {
        // The layout of kvstore before versions: one redb table per namespace, nothing else.
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        for ns in ["default", "second"] {
            let def: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new(ns);
            let mut table = tx.open_table(def).unwrap();
            for key in OLD_KEYS {
                table.insert(key, key).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    futures::executor::block_on(upgraded_in_place(|| RedbStore::open(&path).unwrap()));
}

#[path = "layout_v1/mod.rs"]
mod layout_v1;

/// Copies the fixture `name` (a file or a directory) of `tests/fixtures/layout-v1` into `dir`.
fn copy_fixture(name: &str, dir: &std::path::Path) -> std::path::PathBuf {
    copy_fixture_of("layout-v1", name, dir)
}

/// Copies the fixture `name` (a file or a directory) of `tests/fixtures/{set}` into `dir`.
fn copy_fixture_of(set: &str, name: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(set)
        .join(name);
    let to = dir.join(name);
    if from.is_dir() {
        kvstore::testing::copy_dir(&from, &to);
    } else {
        std::fs::copy(&from, &to).unwrap();
    }
    to
}

#[test]
fn a_sled_store_in_the_first_versioned_layout_is_upgraded_in_place() {
    use layout_v1::{check_first_layout, check_first_layout_reopened};
    let dir = tempfile::tempdir().unwrap();
    let path = copy_fixture("sled-v1", dir.path());
    futures::executor::block_on(async {
        let store = reopen_sled(&path);
        check_first_layout(&store).await;
        // Version entries are left for tombstones only (here `b`, deleted above).
        let tree = store.db().open_tree("~v/default").unwrap();
        assert_eq!(tree.scan_prefix([0x01]).count(), 1);
        drop((tree, store));
        check_first_layout_reopened(&reopen_sled(&path)).await;
    });
}

#[test]
fn a_redb_store_in_the_first_versioned_layout_is_upgraded_in_place() {
    use layout_v1::{check_first_layout, check_first_layout_reopened};
    for name in ["redb-v1.redb", "redb-v1-logged.redb"] {
        let dir = tempfile::tempdir().unwrap();
        let path = copy_fixture(name, dir.path());
        if name.contains("logged") {
            copy_fixture("redb-v1-logged.redb.wal", dir.path());
        }
        futures::executor::block_on(async {
            let store = RedbStore::open(&path).unwrap();
            check_first_layout(&store).await;
            drop(store);
            {
                // Version entries are left for tombstones only (here `b`, deleted above).
                use redb::{ReadableDatabase, ReadableTableMetadata};
                let db = redb::Database::open(&path).unwrap();
                let tx = db.begin_read().unwrap();
                let meta: redb::TableDefinition<&[u8], &[u8]> =
                    redb::TableDefinition::new("~meta/default");
                assert_eq!(tx.open_table(meta).unwrap().len().unwrap(), 1, "{name}");
            }
            check_first_layout_reopened(&RedbStore::open(&path).unwrap()).await;
        });
    }
}

#[test]
fn a_sled_store_with_a_feed_entry_per_version_is_moved_to_feed_chunks() {
    use layout_v1::{check_first_layout, check_first_layout_reopened};
    // Closed cleanly; with every write in the log only; and with the first writes in sled
    // (one feed entry per version) and the rest in the log, which replaces and removes some
    // of them (`tests/fixtures/layout-v2/README.md`).
    for name in ["sled-v2", "sled-v2-logged", "sled-v2-crashed"] {
        let dir = tempfile::tempdir().unwrap();
        let path = copy_fixture_of("layout-v2", name, dir.path());
        futures::executor::block_on(async {
            let store = reopen_sled(&path);
            // The feed of both namespaces, in commit order, with nothing left of a replaced
            // or removed entry.
            check_first_layout(&store).await;
            for tree in ["~v/default", "~v/second"] {
                let tree = store.db().open_tree(tree).unwrap();
                let unchunked = [0x02, 0, 0, 0, 0, 0, 0, 0, 0];
                assert_eq!(
                    tree.range(unchunked..[0x03, 0, 0, 0, 0, 0, 0, 0, 0])
                        .count(),
                    0,
                    "{name}"
                );
                assert_eq!(tree.scan_prefix([0x04]).count(), 1, "{name}");
            }
            drop(store);
            check_first_layout_reopened(&reopen_sled(&path)).await;
        });
    }
}
