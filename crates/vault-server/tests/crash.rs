//! `kill -9` of the server, and of PostgreSQL, in the middle of batches: every acknowledged
//! batch is there after a restart, no batch is half-applied, and the change feed lists exactly
//! what is stored, in order. Runs the real binary over HTTP, through `vault_sync::RemoteStore`.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kvstore::KVStore;
use vault_sync::RemoteStore;

mod common;

/// Keys per batch: batch `n` writes `n` (4 bytes) ‖ `j` for every `j` below this.
const PER_BATCH: u8 = 40;
const ROUNDS: usize = 3;

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(database: &str) -> Server {
    let (child, addr) = common::spawn_server(database, "error");
    Server {
        child,
        url: format!("http://{addr}"),
    }
}

async fn account(server: &str) -> String {
    let name = format!("crash-{:016x}", fastrand::u64(..));
    let key = [9u8; 32];
    RemoteStore::register(server, &name, &key).await.unwrap();
    RemoteStore::login(server, &name, &key)
        .await
        .unwrap()
        .token()
        .to_owned()
}

fn remote(server: &str, token: &str) -> RemoteStore {
    RemoteStore::with_token(server, token)
        .namespace("crash")
        .unwrap()
}

/// Writes batches numbered from `first` until one fails (or `stop`); returns the numbers of
/// those acknowledged.
async fn write_until_failure(remote: RemoteStore, first: u32, stop: Arc<AtomicBool>) -> Vec<u32> {
    let mut acknowledged = Vec::new();
    for n in first.. {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let mut batch = kvstore::Batch::new();
        for j in 0..PER_BATCH {
            let mut key = n.to_be_bytes().to_vec();
            key.push(j);
            batch.set(key, vec![j; 64]);
        }
        match remote.batch(batch).await {
            Ok(()) => acknowledged.push(n),
            Err(_) => break,
        }
    }
    acknowledged
}

/// Every acknowledged batch whole, every batch whole or absent, and the feed exactly the stored
/// keys in version order up to `last_version`. Returns the next batch number to use.
async fn check(remote: &RemoteStore, acknowledged: &[u32]) -> u32 {
    let entries = remote.scan_all(b"").await.unwrap();
    let mut batches = std::collections::BTreeMap::<u32, usize>::new();
    for (key, value) in &entries {
        assert_eq!(key.len(), 5);
        assert_eq!(value, &vec![key[4]; 64], "a value is whole");
        let n = u32::from_be_bytes(key[..4].try_into().unwrap());
        *batches.entry(n).or_default() += 1;
    }
    for (n, count) in &batches {
        assert_eq!(*count, PER_BATCH as usize, "batch {n} is half-applied");
    }
    for n in acknowledged {
        assert!(batches.contains_key(n), "acknowledged batch {n} was lost");
    }
    let mut feed = Vec::new();
    let mut since = 0;
    loop {
        let page = remote.changes(since, 1_000).await.unwrap();
        let Some(last) = page.last() else { break };
        since = last.version;
        feed.extend(page);
    }
    assert!(
        feed.windows(2).all(|w| w[0].version <= w[1].version),
        "the feed is in version order"
    );
    assert_eq!(
        feed.len(),
        entries.len(),
        "the feed lists every stored key once"
    );
    assert!(feed.iter().all(|c| c.value.is_some()));
    assert_eq!(
        feed.last().map_or(0, |c| c.version),
        remote.last_version().await.unwrap(),
        "no version beyond what the feed shows"
    );
    batches.keys().next_back().map_or(0, |n| n + 1)
}

/// Runs the writer, lets it write for a random while, then calls `crash`; returns what was
/// acknowledged.
async fn write_then(remote: RemoteStore, first: u32, crash: impl FnOnce()) -> Vec<u32> {
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_until_failure(remote, first, stop.clone()));
    tokio::time::sleep(Duration::from_millis(fastrand::u64(200..700))).await;
    crash();
    // A writer stuck behind the dead peer is told to stop after its request fails.
    stop.store(true, Ordering::SeqCst);
    let acknowledged = writer.await.unwrap();
    assert!(
        !acknowledged.is_empty(),
        "some batches landed before the crash"
    );
    acknowledged
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_the_server_mid_batch_loses_nothing_acknowledged() {
    let database = std::env::var("KVSTORE_POSTGRES_URL").expect(
        "KVSTORE_POSTGRES_URL is not set: run scripts/test.sh (it starts a private PostgreSQL)",
    );
    let mut server = start_server(&database);
    let token = account(&server.url).await;
    let mut first = 0;
    let mut all = Vec::new();
    for _ in 0..ROUNDS {
        let child = &mut server.child;
        let acknowledged = write_then(remote(&server.url, &token), first, || {
            child.kill().unwrap(); // SIGKILL
        })
        .await;
        server.child.wait().unwrap();
        all.extend(acknowledged);
        server = start_server(&database);
        first = check(&remote(&server.url, &token), &all).await;
    }
}

/// A private PostgreSQL of this test's own (it is killed), removed on drop.
struct Postgres {
    dir: String,
    url: String,
}

fn postgres_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh")
}

impl Postgres {
    fn start() -> Postgres {
        let out = Command::new(postgres_script())
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let var = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap()
                .to_owned()
        };
        Postgres {
            dir: var("PG_TEST_DIR"),
            url: var("KVSTORE_POSTGRES_URL"),
        }
    }

    fn run(&self, command: &str) {
        let out = Command::new(postgres_script())
            .args([command, &self.dir])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "postgres.sh {command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new(postgres_script())
            .args(["stop", &self.dir])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_postgresql_mid_batch_loses_nothing_acknowledged() {
    assert!(
        std::env::var("KVSTORE_POSTGRES_URL").is_ok(),
        "run scripts/test.sh (it installs PostgreSQL; this test starts a server of its own)"
    );
    let postgres = Postgres::start();
    let server = start_server(&postgres.url);
    let token = account(&server.url).await;
    let mut first = 0;
    let mut all = Vec::new();
    for _ in 0..ROUNDS {
        let acknowledged =
            write_then(remote(&server.url, &token), first, || postgres.run("kill")).await;
        all.extend(acknowledged);
        postgres.run("restart");
        // The server's pool reconnects by itself.
        let remote = remote(&server.url, &token);
        let deadline = Instant::now() + Duration::from_secs(60);
        while remote.last_version().await.is_err() {
            assert!(Instant::now() < deadline, "the server never recovered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        first = check(&remote, &all).await;
    }
}
