//! Browser benchmark harness (headless Chromium), not a test: every row measures our
//! IndexedDB store and the same work done with direct `idb` calls, in the same page and run.
//! Ignored in normal test runs; `scripts/bench.sh browser` runs it and prints the table.
#![cfg(target_arch = "wasm32")]

use kvstore::testing::stores::now_ms;

use kvstore::{Batch, IndexedDbStore, KVStore, Scan};
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const WARM_UP: usize = 500;
const ROUNDS: usize = 20;
const SETS: usize = 400;
const GETS: usize = 1_000;
const BATCHES: usize = 10;
const SCANS: usize = 16;
const BATCH: usize = 1_000;
const SCAN: usize = 10_000;

fn key(prefix: &str, i: usize) -> Vec<u8> {
    format!("{prefix}/{i:08}").into_bytes()
}

#[path = "bench/raw_idb.rs"]
mod raw_idb;
use raw_idb::{median, Raw};

/// One table row: the median round of each side, scaled to `items` (all rounds' items).
fn row(label: &str, items: usize, ours: &[f64], raw: &[f64]) {
    let ours_ms = median(ours) * ours.len() as f64;
    let raw_ms = median(raw) * raw.len() as f64;
    console_log!(
        "BENCH {label:28} {ours_ms:10.1} ms {raw_ms:10.1} ms {:7.2} {:12.0} {:12.0}",
        ours_ms / raw_ms,
        items as f64 / (ours_ms / 1000.0),
        items as f64 / (raw_ms / 1000.0)
    );
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run by scripts/bench.sh browser"]
async fn indexeddb_store_beside_direct_idb() {
    let suffix = js_sys::Math::random().to_bits();
    let (ours_name, raw_name) = (
        format!("bench-ours-{suffix}"),
        format!("bench-raw-{suffix}"),
    );
    let ours = IndexedDbStore::open(&ours_name).await.unwrap();
    let raw = Raw::open(&raw_name).await;
    let value = vec![0xA5u8; 100];
    console_log!("BENCH kvstore browser benchmarks (headless Chromium; after warm-up, alternating rounds, medians; ratio = ours / raw time, target <= 1.10; batched target >= 10,000 items/s)");
    console_log!(
        "BENCH {:28} {:>13} {:>13} {:>7} {:>12} {:>12}",
        "operation",
        "ours",
        "raw idb",
        "ratio",
        "ours items/s",
        "raw items/s"
    );

    // Method: a warm-up first (V8 runs new WebAssembly in its baseline tier until a function is
    // hot), then ours and raw alternate in rounds, so drift on this noisy machine hits both;
    // each row is the median round, scaled to the row's item count.
    for i in 0..WARM_UP {
        let k = key("warm", i % 50);
        ours.set(&k, &value).await.unwrap();
        raw.put_all(&[(k.clone(), value.clone())]).await;
        assert!(ours.get(&k).await.unwrap().is_some());
        assert!(raw.get(&k).await.is_some());
    }

    let (mut ours_ms, mut raw_ms) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let keys: Vec<_> = (0..SETS / ROUNDS)
            .map(|i| key(&format!("set{round:02}"), i))
            .collect();
        let t = now_ms();
        for k in &keys {
            ours.set(k, &value).await.unwrap();
        }
        ours_ms.push(now_ms() - t);
        let t = now_ms();
        for k in &keys {
            raw.put_all(&[(k.clone(), value.clone())]).await;
        }
        raw_ms.push(now_ms() - t);
    }
    row("single durable set", SETS, &ours_ms, &raw_ms);

    let (mut ours_ms, mut raw_ms) = (Vec::new(), Vec::new());
    for b in 0..BATCHES {
        let items: Vec<_> = (0..BATCH)
            .map(|i| (key(&format!("scan{b:02}"), i), value.clone()))
            .collect();
        let mut batch = Batch::new();
        for (k, v) in &items {
            batch.set(k.clone(), v.clone());
        }
        let t = now_ms();
        ours.batch(batch).await.unwrap();
        ours_ms.push(now_ms() - t);
        let t = now_ms();
        raw.put_all(&items).await;
        raw_ms.push(now_ms() - t);
    }
    row(
        "batched set (1,000/batch)",
        BATCHES * BATCH,
        &ours_ms,
        &raw_ms,
    );

    let (mut ours_ms, mut raw_ms) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let keys: Vec<_> = (0..GETS / ROUNDS)
            .map(|i| key(&format!("scan{:02}", (i + round) % BATCHES), i))
            .collect();
        let t = now_ms();
        for k in &keys {
            assert!(ours.get(k).await.unwrap().is_some());
        }
        ours_ms.push(now_ms() - t);
        let t = now_ms();
        for k in &keys {
            assert!(raw.get(k).await.is_some());
        }
        raw_ms.push(now_ms() - t);
    }
    row("get", GETS, &ours_ms, &raw_ms);

    let (mut ours_ms, mut raw_ms) = (Vec::new(), Vec::new());
    for round in 0..SCANS {
        // Each side goes first in half of the rounds (the second of a pair runs while the
        // garbage of the first is still being collected).
        for side in [round % 2, 1 - round % 2] {
            let t = now_ms();
            if side == 0 {
                assert_eq!(ours.scan(Scan::prefix(b"scan")).await.unwrap().len(), SCAN);
                ours_ms.push(now_ms() - t);
            } else {
                assert_eq!(raw.scan(b"scan", b"scao").await.len(), SCAN);
                raw_ms.push(now_ms() - t);
            }
        }
    }
    row("prefix scan of 10,000", SCANS * SCAN, &ours_ms, &raw_ms);

    drop(ours);
    raw.db.close();
    IndexedDbStore::delete_database(&ours_name).await.unwrap();
    IndexedDbStore::delete_database(&raw_name).await.unwrap();
}
