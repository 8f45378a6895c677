//! sled with its write-ahead log: what a copy of the store's directory taken while it is open
//! (the files as a crash would leave them, sled flushed only at checkpoints) holds, with and
//! without the log, torn, and after writes that were dropped or checkpointed.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

use futures::executor::block_on;
use kvstore::testing::copy_dir;
use kvstore::{Batch, Blocking, Change, KVStore, SledStore};

/// Everything a store holds: its entries with their versions, its feed and its last version.
async fn contents(store: &SledStore) -> (Vec<(Vec<u8>, Vec<u8>, u64)>, Vec<Change>, u64) {
    let mut entries = Vec::new();
    for (key, _) in store.scan(kvstore::Scan::all()).await.unwrap() {
        let (value, version) = store.get_versioned(&key).await.unwrap().unwrap();
        entries.push((key, value, version));
    }
    // After a clear the feed starts at its horizon.
    let feed = match store.changes(0, usize::MAX).await {
        Err(kvstore::Error::ChangesExpired { horizon, .. }) => {
            store.changes(horizon, usize::MAX).await.unwrap()
        }
        other => other.unwrap(),
    };
    (entries, feed, store.last_version().await.unwrap())
}

/// Writes `n` single keys, a delete, a batch and a conditional batch.
async fn write_some(store: &SledStore, from: usize, n: usize) {
    for i in from..from + n {
        store
            .set(format!("k{i:05}").as_bytes(), &[i as u8; 40])
            .await
            .unwrap();
    }
    store
        .delete(format!("k{from:05}").as_bytes())
        .await
        .unwrap();
    let mut batch = Batch::new();
    for i in 0..20 {
        batch.set(format!("b{from:05}/{i:02}").into_bytes(), vec![7; 100]);
    }
    store.batch(batch).await.unwrap();
    let (_, version) = store
        .get_versioned(format!("k{:05}", from + 1).as_bytes())
        .await
        .unwrap()
        .unwrap();
    let mut batch = Batch::new();
    batch.require_version(format!("k{:05}", from + 1).into_bytes(), version);
    batch.set(
        format!("k{:05}", from + 1).into_bytes(),
        b"swapped".to_vec(),
    );
    store.batch(batch).await.unwrap();
}

/// The log file's frames are whole records from offset 0; how many bytes they take, read
/// from the frame headers (length ‖ sequence number ‖ payload ‖ CRC) up to the first zero
/// length.
fn logged_bytes(log: &[u8]) -> usize {
    let mut at = 0;
    while let Some(head) = log.get(at..at + 4) {
        let len = u32::from_le_bytes(head.try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        at += 4 + 8 + len + 4;
    }
    at
}

/// Copies the open store in `dir`'s `db` to `dir`'s `name` (the files as a crash would leave
/// them) and opens the copy.
fn open_crash_image(dir: &Path, name: &str) -> SledStore {
    copy_dir(&dir.join("db"), &dir.join(name));
    SledStore::open(dir.join(name)).unwrap()
}

#[test]
fn a_copy_taken_while_open_holds_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("db")).unwrap();
    block_on(async {
        // Past the 256 records between checkpoints, so the log has started again.
        write_some(&store, 0, 300).await;
        let expected = contents(&store).await;
        copy_dir(&dir.path().join("db"), &dir.path().join("copy"));
        copy_dir(&dir.path().join("db"), &dir.path().join("copy2"));
        let log = std::fs::read(dir.path().join("copy/kvstore.wal")).unwrap();
        assert!(logged_bytes(&log) > 0, "the last writes are in the log");

        let copy = SledStore::open(dir.path().join("copy")).unwrap();
        assert_eq!(contents(&copy).await, expected, "reopened with the log");
        // Writes go on from there, and a reopen after a clean close holds them too.
        write_some(&copy, 1000, 10).await;
        let expected_later = contents(&copy).await;
        drop(copy);
        let copy = reopen(&dir.path().join("copy"), true);
        assert_eq!(contents(&copy).await, expected_later);

        // Opened without the log, the log is applied once and removed.
        let without = reopen(&dir.path().join("copy2"), false);
        assert!(!dir.path().join("copy2/kvstore.wal").exists());
        assert_eq!(
            contents(&without).await,
            expected,
            "reopened without the log"
        );
    });
}

#[test]
fn a_torn_last_record_loses_that_write_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("db")).unwrap();
    block_on(async {
        write_some(&store, 0, 10).await;
        let before_last = contents(&store).await;
        store.set(b"last", b"torn").await.unwrap();
        copy_dir(&dir.path().join("db"), &dir.path().join("copy"));
        let path = dir.path().join("copy/kvstore.wal");
        let mut log = std::fs::read(&path).unwrap();
        let end = logged_bytes(&log);
        log[end - 1] ^= 0xFF; // the last record's CRC
        std::fs::write(&path, &log).unwrap();

        let copy = SledStore::open(dir.path().join("copy")).unwrap();
        assert_eq!(copy.get(b"last").await.unwrap(), None);
        assert_eq!(contents(&copy).await, before_last);
        // The next write takes the torn record's version.
        copy.set(b"next", b"v").await.unwrap();
        let (_, version) = copy.get_versioned(b"next").await.unwrap().unwrap();
        assert_eq!(version, before_last.2 + 1);
    });
}

#[test]
fn a_clean_close_leaves_everything_in_sled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = SledStore::open(&path).unwrap();
    let expected = block_on(async {
        write_some(&store, 0, 30).await;
        contents(&store).await
    });
    drop(store);
    // The last handle's drop made a checkpoint: the log is not needed any more.
    let log = std::fs::read(path.join("kvstore.wal")).unwrap();
    assert!(logged_bytes(&log) > 0, "records were logged");
    std::fs::remove_file(path.join("kvstore.wal")).unwrap();
    let store = reopen(&path, true);
    assert_eq!(block_on(contents(&store)), expected);
}

#[test]
fn a_large_batch_and_a_clear_are_checkpoints_and_later_writes_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("db")).unwrap();
    block_on(async {
        write_some(&store, 0, 5).await;
        // Over the log's 2 MiB limit for one record.
        let mut batch = Batch::new();
        for i in 0..600 {
            batch.set(format!("big/{i:05}").into_bytes(), vec![1; 4_000]);
        }
        store.batch(batch).await.unwrap();
        let other = kvstore::KVStore::namespace(&store, "other").unwrap();
        other.set(b"o", b"1").await.unwrap();
        other.clear().await.unwrap();
        other.set(b"p", b"2").await.unwrap();
        write_some(&store, 100, 5).await;
        let expected = contents(&store).await;
        let expected_other = contents(&other).await;
        let copy = open_crash_image(dir.path(), "copy");
        assert!(!log_holds(&dir.path().join("copy"), b"big/00599"));
        assert_eq!(contents(&copy).await, expected);
        let copy_other = kvstore::KVStore::namespace(&copy, "other").unwrap();
        assert_eq!(contents(&copy_other).await, expected_other);
        assert_eq!(copy_other.get(b"o").await.unwrap(), None);
    });
}

/// Streams `n` values of `len` bytes under `prefix` in one `batch_with`.
async fn stream(store: &SledStore, prefix: &str, n: usize, len: usize) {
    store
        .batch_with(&mut |sink| {
            for i in 0..n {
                sink.set(format!("{prefix}/{i:05}").as_bytes(), &vec![i as u8; len])?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

/// Whether the log file in `dir` holds `key`'s bytes (a record holds its keys as they are).
fn log_holds(dir: &Path, key: &[u8]) -> bool {
    let log = std::fs::read(dir.join("kvstore.wal")).unwrap();
    log.windows(key.len()).any(|w| w == key)
}

#[test]
fn a_streamed_batch_is_logged_unless_its_record_is_over_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::builder()
        .blocking(Blocking::Offload)
        .open(dir.path().join("db"))
        .unwrap();
    block_on(async {
        write_some(&store, 0, 5).await;
        // 1,000 values of 100 bytes, streamed to the commit: one record in the log.
        stream(&store, "small", 1_000, 100).await;
        let expected = contents(&store).await;
        assert_eq!(store.count(b"small/").await.unwrap(), 1_000);
        let copy = open_crash_image(dir.path(), "copy");
        assert!(
            log_holds(&dir.path().join("copy"), b"small/00999"),
            "the streamed batch is a log record"
        );
        assert_eq!(contents(&copy).await, expected, "replayed from the log");
        drop(copy);

        // 600 values of 4,000 bytes: a record over 2 MiB, so a checkpoint (sled flushed and
        // `fsync`ed), never written to the log; later writes are logged again.
        stream(&store, "large", 600, 4_000).await;
        store.set(b"after", b"logged").await.unwrap();
        let expected = contents(&store).await;
        let copy = open_crash_image(dir.path(), "copy2");
        let copied = dir.path().join("copy2");
        assert!(!log_holds(&copied, b"large/00599"), "not a log record");
        assert!(log_holds(&copied, b"after"), "the next write is logged");
        assert_eq!(contents(&copy).await, expected);
        assert_eq!(copy.count(b"large/").await.unwrap(), 600);
    });
}

#[test]
fn a_write_dropped_during_its_flush_is_still_flushed_and_applied_before_the_next() {
    use std::future::Future;
    use std::task::Context;

    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::builder()
        .blocking(Blocking::Offload)
        .open(dir.path().join("db"))
        .unwrap();
    block_on(store.set(b"before", b"1")).unwrap();
    // Poll a write until it waits on the log's flush on the pool, then drop it. (The pool
    // may finish first; then the write is whole and another one is tried.)
    let mut dropped = None;
    for i in 0..100 {
        let key = format!("dropped{i}");
        let mut write = Box::pin(store.set(key.as_bytes(), b"x"));
        let waker = futures::task::noop_waker();
        if write
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
        {
            drop(write);
            dropped = Some(key);
            break;
        }
    }
    let dropped = dropped.expect("a write was still flushing when dropped");
    block_on(async {
        // Flushed and applied all the same, before the next write is admitted.
        store.set(b"after", b"2").await.unwrap();
        assert_eq!(
            store.get(dropped.as_bytes()).await.unwrap().as_deref(),
            Some(&b"x"[..])
        );
        let expected = contents(&store).await;
        let copy = open_crash_image(dir.path(), "copy");
        assert_eq!(contents(&copy).await, expected);
        assert_eq!(
            copy.get(dropped.as_bytes()).await.unwrap().as_deref(),
            Some(&b"x"[..])
        );
    });
}

/// Opens the store at `path`, waiting for sled's lock of a dropped handle to be released.
fn reopen(path: &Path, log: bool) -> SledStore {
    SledStore::builder()
        .write_ahead_log(log)
        .busy_timeout(std::time::Duration::from_secs(5))
        .open(path)
        .unwrap()
}
