//! Browser benchmark harness in a dedicated worker (headless Chromium), not a test: redb over
//! the Origin Private File System beside our IndexedDB store and direct `idb` calls (what
//! idb-keyval does), in the same worker and run. Ignored in normal test runs;
//! `scripts/bench.sh browser` runs it and prints the table.
#![cfg(target_arch = "wasm32")]

use kvstore::testing::stores::now_ms;
use kvstore::{Batch, IndexedDbStore, KVStore, RedbStore, Scan};
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{FileSystemReadWriteOptions, FileSystemSyncAccessHandle};

#[path = "web/opfs_file.rs"]
mod opfs_file;

#[path = "bench/raw_idb.rs"]
mod raw_idb;
use raw_idb::{median, Raw};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

const WARM_UP: usize = 300;
const ROUNDS: usize = 20;
const SETS: usize = 400;
const GETS: usize = 2_000;
const BATCHES: usize = 10;
const SCANS: usize = 8;
const BATCH: usize = 1_000;
const SCAN: usize = 10_000;

fn key(prefix: &str, i: usize) -> Vec<u8> {
    format!("{prefix}/{i:08}").into_bytes()
}

/// Writes `pages` pages of 4 KiB (scattered over the first 64 pages of the file, as a commit's
/// are) and flushes: what one durable commit costs the file layer with no engine work at all.
fn raw_commit(handle: &FileSystemSyncAccessHandle, page: &mut [u8], round: usize, pages: usize) {
    for p in 0..pages {
        let options = FileSystemReadWriteOptions::new();
        options.set_at((((round * 7 + p * 13) % 64) * 4096) as f64);
        page[0] = round as u8;
        handle
            .write_with_u8_array_and_options(page, &options)
            .unwrap();
    }
    handle.flush().unwrap();
}

/// One row: each side's median round scaled to all rounds, items/s, and OPFS's speed-up over
/// the raw IndexedDB calls (items/s ratio).
fn row(label: &str, items: usize, opfs: &[f64], idb: &[f64], raw: &[f64], target: &str) {
    let total = |t: &[f64]| median(t) * t.len() as f64;
    let (o, i, r) = (total(opfs), total(idb), total(raw));
    let per_s = |ms: f64| items as f64 / (ms / 1000.0);
    console_log!(
        "BENCH {label:24} {:>12.0} {:>12.0} {:>12.0} {:>9.2}x {:>9.2}x  {target}",
        per_s(o),
        per_s(i),
        per_s(r),
        r / o,
        i / o,
    );
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run by scripts/bench.sh browser"]
async fn redb_over_opfs_beside_indexeddb() {
    let suffix = js_sys::Math::random().to_bits();
    let names = (
        format!("bench-opfs-{suffix}"),
        format!("bench-idb-{suffix}"),
        format!("bench-raw-{suffix}"),
        format!("bench-floor-{suffix}"),
    );
    let opfs = RedbStore::open_opfs(&names.0).await.unwrap();
    let idb = IndexedDbStore::open(&names.1).await.unwrap();
    let raw = Raw::open(&names.2).await;
    let value = vec![0xA5u8; 100];
    console_log!("BENCH kvstore in a dedicated worker (headless Chromium): redb over OPFS beside IndexedDbStore and raw IndexedDB calls (strict durability, what idb-keyval setMany/set/get do); after warm-up, alternating rounds, medians; items/s");
    console_log!(
        "BENCH {:24} {:>12} {:>12} {:>12} {:>10} {:>10}  target (OPFS vs raw)",
        "operation",
        "opfs",
        "indexeddb",
        "raw idb",
        "vs raw",
        "vs idb"
    );
    for i in 0..WARM_UP {
        let k = key("warm", i % 50);
        opfs.set(&k, &value).await.unwrap();
        idb.set(&k, &value).await.unwrap();
        raw.put_all(&[(k.clone(), value.clone())]).await;
        assert!(opfs.get(&k).await.unwrap().is_some());
        assert!(idb.get(&k).await.unwrap().is_some());
        assert!(raw.get(&k).await.is_some());
    }

    let (mut o, mut i, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for b in 0..BATCHES {
        let items: Vec<_> = (0..BATCH)
            .map(|n| (key(&format!("scan{b:02}"), n), value.clone()))
            .collect();
        let batch = || {
            let mut batch = Batch::new();
            for (k, v) in &items {
                batch.set(k.clone(), v.clone());
            }
            batch
        };
        let t = now_ms();
        opfs.batch(batch()).await.unwrap();
        o.push(now_ms() - t);
        let t = now_ms();
        idb.batch(batch()).await.unwrap();
        i.push(now_ms() - t);
        let t = now_ms();
        raw.put_all(&items).await;
        r.push(now_ms() - t);
    }
    row("batch of 1,000 sets", BATCHES * BATCH, &o, &i, &r, ">= 5x");

    let (mut o, mut i, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let keys: Vec<_> = (0..SETS / ROUNDS)
            .map(|n| key(&format!("set{round:02}"), n))
            .collect();
        let t = now_ms();
        for k in &keys {
            opfs.set(k, &value).await.unwrap();
        }
        o.push(now_ms() - t);
        let t = now_ms();
        for k in &keys {
            idb.set(k, &value).await.unwrap();
        }
        i.push(now_ms() - t);
        let t = now_ms();
        for k in &keys {
            raw.put_all(&[(k.clone(), value.clone())]).await;
        }
        r.push(now_ms() - t);
    }
    row("single durable set", SETS, &o, &i, &r, ">= 3x");

    // The floor under the row above, in the same kind of alternating rounds: a raw sync access
    // handle flushing with no write, with one 4 KiB page written, and with the 12 pages and a
    // header a versioned single set commits (redb 4.6, measured natively through a counting
    // StorageBackend), beside the same raw IndexedDB puts.
    // The floor of a durable write on OPFS: the file with no engine above it.
    let handle = opfs_file::sync_handle(&names.3).await;
    let mut page = vec![0x5Au8; 4096];
    let (mut f0, mut f1, mut f12, mut r) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let n = SETS / ROUNDS;
        let t = now_ms();
        for _ in 0..n {
            handle.flush().unwrap();
        }
        f0.push(now_ms() - t);
        let t = now_ms();
        for k in 0..n {
            raw_commit(&handle, &mut page, round * n + k, 1);
        }
        f1.push(now_ms() - t);
        let t = now_ms();
        for k in 0..n {
            raw_commit(&handle, &mut page, round * n + k, 13);
        }
        f12.push(now_ms() - t);
        let t = now_ms();
        for k in 0..n {
            let k = key(&format!("floor{round:02}"), k);
            raw.put_all(&[(k, value.clone())]).await;
        }
        r.push(now_ms() - t);
    }
    handle.close();
    row("floor: flush only", SETS, &f0, &r, &r, "report");
    row("floor: 1 page + flush", SETS, &f1, &r, &r, "report");
    row("floor: 13 pages + flush", SETS, &f12, &r, &r, "report");

    let (mut o, mut i, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let keys: Vec<_> = (0..GETS / ROUNDS)
            .map(|n| key(&format!("scan{:02}", (n + round) % BATCHES), n % BATCH))
            .collect();
        let t = now_ms();
        for k in &keys {
            assert!(opfs.get(k).await.unwrap().is_some());
        }
        o.push(now_ms() - t);
        let t = now_ms();
        for k in &keys {
            assert!(idb.get(k).await.unwrap().is_some());
        }
        i.push(now_ms() - t);
        let t = now_ms();
        for k in &keys {
            assert!(raw.get(k).await.is_some());
        }
        r.push(now_ms() - t);
    }
    row("get", GETS, &o, &i, &r, ">= 2x");

    let (mut o, mut i, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..SCANS {
        let t = now_ms();
        assert_eq!(opfs.scan(Scan::prefix(b"scan")).await.unwrap().len(), SCAN);
        o.push(now_ms() - t);
        let t = now_ms();
        assert_eq!(idb.scan(Scan::prefix(b"scan")).await.unwrap().len(), SCAN);
        i.push(now_ms() - t);
        let t = now_ms();
        assert_eq!(raw.scan(b"scan", b"scao").await.len(), SCAN);
        r.push(now_ms() - t);
    }
    row("prefix scan of 10,000", SCANS * SCAN, &o, &i, &r, "report");

    drop(opfs);
    drop(idb);
    raw.db.close();
    RedbStore::delete_opfs(&names.0).await.unwrap();
    RedbStore::delete_opfs(&names.3).await.unwrap();
    IndexedDbStore::delete_database(&names.1).await.unwrap();
    IndexedDbStore::delete_database(&names.2).await.unwrap();
}
