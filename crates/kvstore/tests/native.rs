//! The conformance suite on every native backend, under a non-tokio executor
//! (`futures::executor::block_on`) and under tokio, plus what only files can do: persistence
//! across reopen and the lock against a second opener.
#![cfg(not(target_arch = "wasm32"))]

use kvstore::testing::Config;
use kvstore::{Error, KVStore, RedbStore, SledStore};

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
        SledStore::open(&path).unwrap()
    }));
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
}
