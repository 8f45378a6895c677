//! Crash test: a child process writes and prints an acknowledgement after each write's future
//! resolves; the parent SIGKILLs it at a random moment, reopens the store, and checks that
//! every acknowledged write is there, that no batch is partly visible, that versions never go
//! back and that the change feed has no hole. 20 kills per backend. Batches are of two kinds:
//! small ones (`batch`) and larger ones streamed to their commit (`batch_with`, which on sled
//! and redb commits while the producer still sends).
//!
//! The child is this same test binary, re-run with the ignored `crash_child` test selected and
//! its instructions in environment variables.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use kvstore::{Batch, KVStore, RedbStore, Scan, SledStore};

const KILLS: usize = 20;
const BATCH_SIZE: usize = 5;
/// Operations in a streamed batch: more than one chunk of the stream (64), so it is committed
/// while it is sent.
const STREAM_SIZE: usize = 200;

fn open(backend: &str, path: &str) -> Box<dyn KVStore> {
    // A killed predecessor's lock is released by the kernel with its process, but allow for
    // a short delay before it is.
    for _ in 0..100 {
        let opened: kvstore::Result<Box<dyn KVStore>> = match backend {
            "sled" => SledStore::open(path).map(|s| Box::new(s) as Box<dyn KVStore>),
            "redb" => RedbStore::open(path).map(|s| Box::new(s) as Box<dyn KVStore>),
            // The same file without its write-ahead log: the log a killed writer left is
            // applied, then removed.
            "redb-without-log" => RedbStore::builder()
                .write_ahead_log(false)
                .open(path)
                .map(|s| Box::new(s) as Box<dyn KVStore>),
            "sled-without-log" => SledStore::builder()
                .write_ahead_log(false)
                .open(path)
                .map(|s| Box::new(s) as Box<dyn KVStore>),
            other => panic!("unknown backend {other}"),
        };
        match opened {
            Ok(store) => return store,
            Err(kvstore::Error::Busy(_)) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("reopening {backend} after a kill failed: {e}"),
        }
    }
    panic!("{backend} stayed locked after its writer was killed");
}

#[test]
#[ignore = "run by the crash tests as their child process"]
fn crash_child() {
    let backend = std::env::var("KVSTORE_CRASH_BACKEND").expect("child needs its backend");
    let path = std::env::var("KVSTORE_CRASH_PATH").expect("child needs its path");
    let round: usize = std::env::var("KVSTORE_CRASH_ROUND")
        .unwrap()
        .parse()
        .unwrap();
    let store = open(&backend, &path);
    futures::executor::block_on(async {
        for i in 0.. {
            match i % 6 {
                0..=3 => {
                    let key = format!("single/{round:02}/{i:06}");
                    store.set(key.as_bytes(), key.as_bytes()).await.unwrap();
                    println!("ACK single {key}");
                }
                4 if (i / 6) % 2 == 1 => {
                    store
                        .batch_with(&mut |sink| {
                            for part in 0..STREAM_SIZE {
                                let key = format!("stream/{round:02}/{i:06}/{part:03}");
                                sink.set(key.as_bytes(), key.as_bytes())?;
                            }
                            Ok(())
                        })
                        .await
                        .unwrap();
                    println!("ACK stream stream/{round:02}/{i:06}/");
                }
                4 => {
                    let mut batch = Batch::new();
                    for part in 0..BATCH_SIZE {
                        let key = format!("batch/{round:02}/{i:06}/{part}");
                        batch.set(key.clone().into_bytes(), key.into_bytes());
                    }
                    store.batch(batch).await.unwrap();
                    println!("ACK batch batch/{round:02}/{i:06}/");
                }
                _ => {
                    store
                        .set(b"counter", format!("{round:02}/{i:06}").as_bytes())
                        .await
                        .unwrap();
                    println!("ACK counter {round:02}/{i:06}");
                }
            }
        }
    });
}

fn crash_and_check(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("store.{backend}"));
    let path = path.to_str().unwrap().to_owned();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut singles = Vec::new();
    let mut batches = Vec::new();
    let mut streams = Vec::new();
    let mut counter = String::new();
    let mut last_version = 0;
    for round in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("KVSTORE_CRASH_BACKEND", backend)
            .env("KVSTORE_CRASH_PATH", &path)
            .env("KVSTORE_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let target = rng.usize(1..150);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acked = 0;
        while acked < target {
            let Some(line) = lines.next() else { break };
            let line = line.unwrap();
            // The first line follows the test harness's "test crash_child ... " on one line.
            let line = line.trim_start_matches("test crash_child ... ");
            let mut words = line.split(' ');
            if words.next() != Some("ACK") {
                continue;
            }
            match (words.next(), words.next()) {
                (Some("single"), Some(key)) => singles.push(key.to_owned()),
                (Some("batch"), Some(prefix)) => batches.push(prefix.to_owned()),
                (Some("stream"), Some(prefix)) => streams.push(prefix.to_owned()),
                (Some("counter"), Some(value)) => counter = value.to_owned(),
                _ => panic!("unexpected child output {line:?}"),
            }
            acked += 1;
        }
        assert!(
            acked > 0,
            "the {backend} child wrote nothing before exiting (seed {seed})"
        );
        // Kill at a random moment, usually while the next write is in flight.
        if rng.bool() {
            std::thread::sleep(Duration::from_micros(rng.u64(0..3000)));
        }
        child.kill().unwrap();
        child.wait().unwrap();

        // Every third check opens the store without its write-ahead log (the next writer makes
        // one again).
        let reader = match (backend, round % 3) {
            ("redb", 2) => "redb-without-log",
            ("sled", 2) => "sled-without-log",
            _ => backend,
        };
        let store = open(reader, &path);
        futures::executor::block_on(async {
            for key in &singles {
                assert_eq!(
                    store.get(key.as_bytes()).await.unwrap().as_deref(),
                    Some(key.as_bytes()),
                    "acknowledged {key} lost by {backend} (round {round}, seed {seed})"
                );
            }
            for prefix in &batches {
                assert_eq!(
                    store.count(prefix.as_bytes()).await.unwrap(),
                    BATCH_SIZE as u64,
                    "acknowledged batch {prefix} incomplete in {backend} (seed {seed})"
                );
            }
            for prefix in &streams {
                assert_eq!(
                    store.count(prefix.as_bytes()).await.unwrap(),
                    STREAM_SIZE as u64,
                    "acknowledged streamed batch {prefix} incomplete in {backend} (seed {seed})"
                );
            }
            // Every batch, acknowledged or not, is whole or absent (keys end with the part's
            // number: one digit in a batch, three in a streamed one).
            for (kind, digits, size) in [("batch/", 1, BATCH_SIZE), ("stream/", 3, STREAM_SIZE)] {
                let mut parts: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
                for key in store
                    .scan_keys(Scan::prefix(kind.as_bytes()))
                    .await
                    .unwrap()
                {
                    let prefix = key[..key.len() - digits].to_vec();
                    *parts.entry(prefix).or_default() += 1;
                }
                for (prefix, n) in parts {
                    assert_eq!(
                        n,
                        size,
                        "batch {} partly visible in {backend} (seed {seed})",
                        String::from_utf8_lossy(&prefix)
                    );
                }
            }
            // Versions never go back, and the feed has no hole: every stored key appears in it
            // once, at the version `get_versioned` gives, in increasing order, none past the
            // last version.
            let now = store.last_version().await.unwrap();
            assert!(
                now >= last_version,
                "{backend}: last version went back from {last_version} to {now} (seed {seed})"
            );
            last_version = now;
            let feed = store.changes(0, usize::MAX).await.unwrap();
            assert!(
                feed.windows(2).all(|w| w[0].version < w[1].version),
                "{backend}: feed out of order (seed {seed})"
            );
            assert!(feed.last().is_none_or(|c| c.version <= now));
            let stored = store.scan(Scan::all()).await.unwrap();
            assert_eq!(
                feed.len(),
                stored.len(),
                "{backend}: feed and store disagree (seed {seed})"
            );
            for change in &feed {
                let (value, version) = store
                    .get_versioned(&change.key)
                    .await
                    .unwrap()
                    .expect("fed key stored");
                assert_eq!(
                    (Some(&value), version),
                    (change.value.as_ref(), change.version),
                    "{backend} (seed {seed})"
                );
            }
            if !counter.is_empty() {
                let stored = store.get(b"counter").await.unwrap().expect("counter lost");
                let stored = String::from_utf8(stored).unwrap();
                assert!(
                    stored >= counter,
                    "counter went back from {counter} to {stored} in {backend}"
                );
            }
        });
    }
    assert!(
        !streams.is_empty(),
        "no streamed batch was acknowledged in {KILLS} runs (seed {seed})"
    );
}

#[test]
fn sled_acknowledged_writes_survive_sigkill() {
    crash_and_check("sled");
}

#[test]
fn redb_acknowledged_writes_survive_sigkill() {
    crash_and_check("redb");
}

#[test]
#[ignore = "run by the two-process tests as the process holding the store"]
fn holder_child() {
    let backend = std::env::var("KVSTORE_HOLD_BACKEND").expect("child needs its backend");
    let path = std::env::var("KVSTORE_HOLD_PATH").expect("child needs its path");
    let store = open(&backend, &path);
    futures::executor::block_on(store.set(b"held", b"by the child")).unwrap();
    println!("HOLDING");
    // Hold the store until killed.
    std::thread::sleep(Duration::from_secs(600));
}

/// A second process opening a store another process has open gets `Busy` at once, and nothing
/// is corrupted: once the holder is gone, the store opens with what both wrote.
fn second_process_gets_busy(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("store.{backend}"));
    let path = path.to_str().unwrap().to_owned();
    {
        let store = open(backend, &path);
        futures::executor::block_on(store.set(b"before", b"parent")).unwrap();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "holder_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KVSTORE_HOLD_BACKEND", backend)
        .env("KVSTORE_HOLD_PATH", &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.map(|l| l.ends_with("HOLDING")).unwrap_or(false)),
        "the holder never opened the {backend} store"
    );
    let second = match backend {
        "sled" => SledStore::open(&path).map(drop),
        _ => RedbStore::open(&path).map(drop),
    };
    assert!(
        matches!(second, Err(kvstore::Error::Busy(_))),
        "{backend}: a second process got {second:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let store = open(backend, &path);
    futures::executor::block_on(async {
        assert_eq!(
            store.get(b"before").await.unwrap().as_deref(),
            Some(&b"parent"[..])
        );
        assert_eq!(
            store.get(b"held").await.unwrap().as_deref(),
            Some(&b"by the child"[..])
        );
        assert_eq!(store.last_version().await.unwrap(), 2);
    });
}

#[test]
fn sled_second_process_gets_busy() {
    second_process_gets_busy("sled");
}

#[test]
fn redb_second_process_gets_busy() {
    second_process_gets_busy("redb");
}
