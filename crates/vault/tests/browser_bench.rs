//! Browser benchmark (headless Chromium, release build): unlock at the default KDF parameters
//! on IndexedDB. Ignored in test runs; `scripts/bench.sh vault` prints it.
#![cfg(target_arch = "wasm32")]

use kvstore::testing::stores::now_ms;

use kvstore::IndexedDbStore;
use vault::Vault;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
#[ignore = "benchmark: run by scripts/bench.sh vault"]
async fn unlock_at_default_parameters() {
    let name = format!("vault-bench-{}", js_sys::Math::random().to_bits());
    let v = Vault::new(IndexedDbStore::open(&name).await.unwrap());
    v.create_keyspace("bench", b"benchmark password")
        .await
        .unwrap();
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = now_ms();
        v.unlock("bench", b"benchmark password").await.unwrap();
        times.push(now_ms() - t);
    }
    times.sort_by(f64::total_cmp);
    console_log!(
        "BENCH {:34} {:>9.1} ms (median of 5, headless Chromium, IndexedDB)",
        "browser unlock, default KDF",
        times[2]
    );
    drop(v);
    IndexedDbStore::delete_database(&name).await.unwrap();
}
