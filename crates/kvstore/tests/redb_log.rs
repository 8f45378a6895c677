//! redb with a write-ahead log (what redb over OPFS uses in browsers), natively on storage
//! that loses what was not flushed: the conformance suite, and crashes at random points with
//! the log's flush failing or tearing, checked against a model.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kvstore::testing::Config;
use kvstore::{Batch, Blocking, Error, KVStore, RedbStore};

const CONFIG: Config = Config::native();

/// What a flush does next.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// The flush fails and makes nothing durable.
    Fail,
    /// The flush makes durable only the bytes before this offset, then fails.
    Tear(u64),
    /// The flush waits this long first, then succeeds.
    Slow(std::time::Duration),
}

/// A shared image of a storage's flushed bytes.
type Image = Arc<Mutex<Vec<u8>>>;

/// Storage that keeps two images: what was written, and what was flushed (`durable`). A crash
/// is reopening on a copy of `durable`.
#[derive(Debug)]
struct Volatile {
    image: Mutex<Vec<u8>>,
    durable: Arc<Mutex<Vec<u8>>>,
    fault: Arc<Mutex<Fault>>,
}

impl Volatile {
    fn new(start: Vec<u8>) -> (Volatile, Image, Arc<Mutex<Fault>>) {
        let durable = Arc::new(Mutex::new(start.clone()));
        let fault = Arc::new(Mutex::new(Fault::None));
        (
            Volatile {
                image: Mutex::new(start),
                durable: durable.clone(),
                fault: fault.clone(),
            },
            durable,
            fault,
        )
    }
}

impl redb::StorageBackend for Volatile {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.image.lock().unwrap().len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        let image = self.image.lock().unwrap();
        let start = offset as usize;
        let src = image.get(start..start + out.len()).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "past the end")
        })?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.image.lock().unwrap().resize(len as usize, 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        let fault = std::mem::replace(&mut *self.fault.lock().unwrap(), Fault::None);
        if let Fault::Slow(wait) = fault {
            std::thread::sleep(wait);
        }
        let image = self.image.lock().unwrap();
        let mut durable = self.durable.lock().unwrap();
        match fault {
            Fault::None | Fault::Slow(_) => {
                durable.clone_from(&image);
                Ok(())
            }
            Fault::Fail => Err(std::io::Error::other("injected flush failure")),
            Fault::Tear(cut) => {
                let cut = (cut as usize).min(image.len());
                if durable.len() < cut {
                    durable.resize(cut, 0);
                }
                durable[..cut].copy_from_slice(&image[..cut]);
                Err(std::io::Error::other("injected torn flush"))
            }
        }
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        let mut image = self.image.lock().unwrap();
        let end = offset as usize + data.len();
        if image.len() < end {
            image.resize(end, 0);
        }
        image[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
}

/// A logged store on two `Volatile` storages started from the given images.
struct Disk {
    store: RedbStore,
    db: Arc<Mutex<Vec<u8>>>,
    log: Arc<Mutex<Vec<u8>>>,
    log_fault: Arc<Mutex<Fault>>,
}

fn open(db: Vec<u8>, log: Vec<u8>) -> Disk {
    open_with(db, log, Blocking::Inline)
}

fn open_with(db: Vec<u8>, log: Vec<u8>, blocking: Blocking) -> Disk {
    let (db, db_durable, _) = Volatile::new(db);
    let (log, log_durable, log_fault) = Volatile::new(log);
    let store = RedbStore::builder()
        .blocking(blocking)
        .open_backend_with_log(db, log)
        .expect("open a logged redb store");
    Disk {
        store,
        db: db_durable,
        log: log_durable,
        log_fault,
    }
}

async fn logged() -> (RedbStore, ()) {
    (open(Vec::new(), Vec::new()).store, ())
}

mod conformance {
    kvstore::conformance_tests!(blocking: #[test] futures::executor::block_on, open: super::logged, config: super::CONFIG);
}

fn key(i: u64) -> Vec<u8> {
    format!("k{:03}", i % 40).into_bytes()
}

/// Everything the store holds equals `model`, its feed has one entry per live key in version
/// order, and its last version is `last`.
async fn check(store: &RedbStore, model: &BTreeMap<Vec<u8>, Vec<u8>>, last: u64, when: &str) {
    let all: BTreeMap<_, _> = store
        .scan(kvstore::Scan::all())
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(&all, model, "{when}: contents");
    assert_eq!(
        store.last_version().await.unwrap(),
        last,
        "{when}: last version"
    );
    // After a clear the feed starts at its horizon.
    let feed = match store.changes(0, usize::MAX).await {
        Err(Error::ChangesExpired { horizon, .. }) => {
            store.changes(horizon, usize::MAX).await.unwrap()
        }
        other => other.unwrap(),
    };
    assert!(
        feed.windows(2).all(|w| w[0].version < w[1].version),
        "{when}: feed in version order"
    );
    for change in feed.iter().filter(|c| c.value.is_some()) {
        let (value, version) = store.get_versioned(&change.key).await.unwrap().unwrap();
        assert_eq!(
            version, change.version,
            "{when}: feed version of a live key"
        );
        assert_eq!(Some(&value), model.get(&change.key), "{when}: feed value");
    }
    let live = feed.iter().filter(|c| c.value.is_some()).count();
    assert_eq!(live, model.len(), "{when}: one feed entry per live key");
}

#[test]
fn crashes_lose_no_acknowledged_write_and_apply_no_failed_one() {
    futures::executor::block_on(async {
        let mut rng = fastrand::Rng::with_seed(0x05EE_D106);
        let mut disk = open(Vec::new(), Vec::new());
        let mut model = BTreeMap::new();
        let (mut crashes, mut failed, mut torn) = (0, 0, 0);
        for step in 0..3_000u64 {
            // Sometimes the log's next flush fails, or tears inside the record being written.
            let fault = match rng.u8(..20) {
                0 => Fault::Fail,
                1 => Fault::Tear(rng.u64(..256 * 1024)),
                _ => Fault::None,
            };
            *disk.log_fault.lock().unwrap() = fault;
            let mut batch = Batch::new();
            let mut next = model.clone();
            for _ in 0..rng.usize(1..4) {
                let k = key(rng.u64(..));
                if rng.u8(..4) == 0 {
                    batch.delete(k.clone());
                    next.remove(&k);
                } else {
                    let v = format!("{step}-{}", rng.u32(..)).into_bytes();
                    batch.set(k.clone(), v.clone());
                    next.insert(k, v);
                }
            }
            // Now and then a clear, which the log cannot describe: a checkpoint.
            let result = if rng.u8(..150) == 0 {
                next.clear();
                disk.store.clear().await
            } else {
                disk.store.batch(batch).await
            };
            // A flush that was not reached (a checkpoint instead of a record) leaves the fault.
            let unused = std::mem::replace(&mut *disk.log_fault.lock().unwrap(), Fault::None);
            match result {
                Ok(()) => model = next,
                Err(Error::Io(_)) => {
                    assert_ne!(unused, fault, "an error without a fault");
                    if matches!(fault, Fault::Fail) {
                        failed += 1;
                    } else {
                        torn += 1;
                    }
                }
                Err(other) => panic!("step {step}: {other}"),
            }
            let last = disk.store.last_version().await.unwrap();
            check(&disk.store, &model, last, "before the crash").await;
            // A failed record may still be on disk (a torn flush can keep all of it): crash
            // only after an acknowledged write, whose record follows it in the log.
            if result.is_ok() && rng.u8(..25) == 0 {
                let (db, log) = (
                    disk.db.lock().unwrap().clone(),
                    disk.log.lock().unwrap().clone(),
                );
                drop(disk);
                disk = open(db, log);
                crashes += 1;
                check(
                    &disk.store,
                    &model,
                    last,
                    &format!("after crash {crashes} (step {step})"),
                )
                .await;
            }
        }
        assert!(
            crashes > 50 && failed > 50 && torn > 50,
            "{crashes} crashes, {failed} failed flushes, {torn} torn ones"
        );
    });
}

#[test]
fn a_clean_reopen_replays_nothing_twice_and_keeps_every_version() {
    futures::executor::block_on(async {
        let disk = open(Vec::new(), Vec::new());
        for i in 0..600u64 {
            disk.store.set(&key(i), &i.to_be_bytes()).await.unwrap();
        }
        disk.store.delete(&key(3)).await.unwrap();
        let last = disk.store.last_version().await.unwrap();
        let model: BTreeMap<_, _> = disk
            .store
            .scan(kvstore::Scan::all())
            .await
            .unwrap()
            .into_iter()
            .collect();
        let (db, log) = (disk.db.clone(), disk.log.clone());
        drop(disk);
        let again = open(db.lock().unwrap().clone(), log.lock().unwrap().clone());
        check(&again.store, &model, last, "after a clean close").await;
        again.store.set(b"after", b"x").await.unwrap();
        assert_eq!(again.store.last_version().await.unwrap(), last + 1);
    });
}

/// What survives a crash of `disk` now: a store reopened on its flushed bytes.
fn crash(disk: Disk) -> Disk {
    crash_with(disk, Blocking::Inline)
}

/// [`crash`], the store reopened with `blocking`.
fn crash_with(disk: Disk, blocking: Blocking) -> Disk {
    let (db, log) = (
        disk.db.lock().unwrap().clone(),
        disk.log.lock().unwrap().clone(),
    );
    drop(disk);
    open_with(db, log, blocking)
}

/// A value too large for a log record (over 2 MiB): its write is a checkpoint.
fn large() -> Vec<u8> {
    vec![7; (2 << 20) + 1024]
}

/// Whether `image` holds `bytes` (a log record and redb's pages hold keys as they are).
fn holds(image: &Mutex<Vec<u8>>, bytes: &[u8]) -> bool {
    image
        .lock()
        .unwrap()
        .windows(bytes.len())
        .any(|w| w == bytes)
}

/// Sends `n` sets of `len`-byte values under `prefix` to `batch_with`, noting them in `model`.
async fn stream(
    store: &RedbStore,
    model: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    prefix: &str,
    n: usize,
    len: usize,
) {
    let entry = |i: usize| (format!("{prefix}/{i:05}").into_bytes(), vec![i as u8; len]);
    store
        .batch_with(&mut |sink| {
            for i in 0..n {
                let (key, value) = entry(i);
                sink.set(&key, &value)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    model.extend((0..n).map(entry));
}

#[test]
fn a_streamed_batch_is_logged_unless_its_record_is_over_the_limit() {
    futures::executor::block_on(async {
        // Offloaded, a batch sent to `batch_with` streams to its commit on the pool.
        let mut disk = open_with(Vec::new(), Vec::new(), Blocking::Offload);
        let mut model = BTreeMap::new();
        disk.store.set(b"before", b"1").await.unwrap();
        model.insert(b"before".to_vec(), b"1".to_vec());
        // 1,000 values of 100 bytes: one log record, flushed; redb's commit is not durable.
        stream(&disk.store, &mut model, "small", 1_000, 100).await;
        assert!(
            holds(&disk.log, b"small/00999"),
            "the batch is a log record"
        );
        assert!(
            !holds(&disk.db, b"small/00999"),
            "not a durable redb commit"
        );
        let last = disk.store.last_version().await.unwrap();
        disk = crash_with(disk, Blocking::Offload);
        check(&disk.store, &model, last, "replayed from the log").await;

        // 600 values of 4,000 bytes: a record over 2 MiB, so a checkpoint (a durable redb
        // commit), never written to the log; the next write is logged again.
        stream(&disk.store, &mut model, "large", 600, 4_000).await;
        assert!(!holds(&disk.log, b"large/00599"), "not a log record");
        assert!(holds(&disk.db, b"large/00599"), "a durable redb commit");
        disk.store.set(b"after-the-large", b"2").await.unwrap();
        model.insert(b"after-the-large".to_vec(), b"2".to_vec());
        assert!(
            holds(&disk.log, b"after-the-large"),
            "the next write is logged"
        );
        assert!(!holds(&disk.db, b"after-the-large"));
        let last = disk.store.last_version().await.unwrap();
        disk = crash(disk);
        check(
            &disk.store,
            &model,
            last,
            "after the checkpoint and a crash",
        )
        .await;
    });
}

#[test]
fn a_failed_record_is_not_applied_after_a_later_checkpoint() {
    futures::executor::block_on(async {
        let disk = open(Vec::new(), Vec::new());
        disk.store.set(b"before", b"1").await.unwrap();
        // A checkpoint: the next record is written at the start of the log.
        disk.store.clear().await.unwrap();
        // Its flush keeps all of it, then fails: the write is not acknowledged.
        *disk.log_fault.lock().unwrap() = Fault::Tear(u64::MAX);
        assert!(matches!(
            disk.store.set(b"failed", b"2").await,
            Err(Error::Io(_))
        ));
        disk.store.set(b"large", &large()).await.unwrap();
        let model = BTreeMap::from([(b"large".to_vec(), large())]);
        let last = disk.store.last_version().await.unwrap();
        check(&disk.store, &model, last, "before the crash").await;
        let disk = crash(disk);
        check(&disk.store, &model, last, "after the crash").await;
    });
}

#[test]
fn a_write_dropped_during_its_flush_is_not_applied_and_holds_up_no_other() {
    use futures::FutureExt;
    use std::time::Duration;
    futures::executor::block_on(async {
        // Offloaded, a small write flushes the log on the thread pool and waits for it there.
        let disk = open_with(Vec::new(), Vec::new(), Blocking::Offload);
        disk.store.clear().await.unwrap();
        *disk.log_fault.lock().unwrap() = Fault::Slow(Duration::from_millis(300));
        let dropped = disk.store.set(b"dropped", b"1").now_or_never();
        assert!(dropped.is_none(), "the write waits for its flush");
        // The next write, on this same thread, does not wait for the dropped one.
        disk.store.set(b"next", b"2").await.unwrap();
        assert_eq!(disk.store.get(b"dropped").await.unwrap(), None);
        // Once the slow flush has ended, the dropped write's record is durable, at the start
        // of the log; the next record replaced it there.
        std::thread::sleep(Duration::from_millis(400));
        let model = BTreeMap::from([(b"next".to_vec(), b"2".to_vec())]);
        let last = disk.store.last_version().await.unwrap();
        let disk = crash(disk);
        check(&disk.store, &model, last, "after a crash").await;

        // Dropped again at the start of the log, and a checkpoint after it this time.
        let disk = open_with(Vec::new(), Vec::new(), Blocking::Offload);
        disk.store.clear().await.unwrap();
        *disk.log_fault.lock().unwrap() = Fault::Slow(Duration::from_millis(300));
        assert!(disk.store.set(b"dropped", b"1").now_or_never().is_none());
        std::thread::sleep(Duration::from_millis(400));
        disk.store.set(b"large", &large()).await.unwrap();
        let model = BTreeMap::from([(b"large".to_vec(), large())]);
        let last = disk.store.last_version().await.unwrap();
        let disk = crash(disk);
        check(&disk.store, &model, last, "after a checkpoint and a crash").await;
    });
}

#[test]
fn a_log_record_that_is_whole_but_malformed_is_corruption() {
    futures::executor::block_on(async {
        let disk = open(Vec::new(), Vec::new());
        disk.store.set(b"a", b"1").await.unwrap();
        let db = disk.db.lock().unwrap().clone();
        let mut log = disk.log.lock().unwrap().clone();
        drop(disk);
        // The first record: length, then sequence number, then the payload; a namespace length
        // running past the payload, with a valid checksum over it.
        let len = u32::from_le_bytes(log[..4].try_into().unwrap()) as usize;
        log[12..14].copy_from_slice(&u16::MAX.to_le_bytes());
        let crc = crc32(&log[..12 + len]);
        log[12 + len..16 + len].copy_from_slice(&crc.to_le_bytes());
        let (db, _, _) = Volatile::new(db);
        let (log, _, _) = Volatile::new(log);
        match RedbStore::builder().open_backend_with_log(db, log) {
            Err(Error::Corrupted(what)) => assert!(what.contains("write-ahead log"), "{what}"),
            other => panic!("expected Corrupted, got {other:?}"),
        }
    });
}

/// CRC-32 (IEEE), bit by bit: the test's own reference for the log's checksum.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
