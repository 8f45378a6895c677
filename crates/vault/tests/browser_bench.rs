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

/// Median of `rounds` timings of `f` in milliseconds, after `warm` untimed calls.
fn time_ms(warm: usize, rounds: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warm {
        f();
    }
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = now_ms();
            f();
            now_ms() - t
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[rounds / 2]
}

/// One-shot encryption of 1 MiB in Rust compiled to wasm: ours beside the raw crate, so the
/// JavaScript package's figure (`scripts/bench.sh npm`) splits into the cipher, our format and
/// the copies across the JS boundary.
#[wasm_bindgen_test]
#[ignore = "benchmark: run by scripts/bench.sh vault"]
async fn encrypt_one_mib() {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{XChaCha20Poly1305, XNonce};
    let v = Vault::with_kdf(
        kvstore::MemoryStore::new(),
        vault::KdfParams::INSECURE_FOR_TESTS,
    )
    .unwrap();
    let ks = v.create_keyspace("bench", b"pw").await.unwrap();
    let mib = vec![3u8; 1 << 20];
    let raw = XChaCha20Poly1305::new(&[3u8; 32].into());
    let nonce = XNonce::from([1u8; 24]);
    let sealed = v.encrypt(&ks, &mib).await.unwrap();
    // The associated data of a one-shot ciphertext (docs/FORMAT.md, version 2).
    let mut our_aad = b"vault/v2/data\x02\x01".to_vec();
    our_aad.resize(64, 0);
    let raw_sealed = raw.encrypt(&nonce, mib.as_slice()).unwrap();
    use futures::executor::block_on;
    let rows = [
        (
            "encrypt 1 MiB, raw crate (wasm)",
            time_ms(5, 21, || {
                std::hint::black_box(raw.encrypt(&nonce, mib.as_slice()).unwrap());
            }),
        ),
        (
            "encrypt 1 MiB, raw, our assoc. data",
            time_ms(5, 21, || {
                let payload = Payload {
                    msg: &mib,
                    aad: &our_aad,
                };
                std::hint::black_box(raw.encrypt(&nonce, payload).unwrap());
            }),
        ),
        (
            "encrypt 1 MiB, ours (wasm)",
            time_ms(5, 21, || {
                std::hint::black_box(block_on(v.encrypt(&ks, &mib)).unwrap());
            }),
        ),
        (
            "decrypt 1 MiB, raw crate (wasm)",
            time_ms(5, 21, || {
                std::hint::black_box(raw.decrypt(&nonce, raw_sealed.as_slice()).unwrap());
            }),
        ),
        (
            "decrypt 1 MiB, ours (wasm)",
            time_ms(5, 21, || {
                std::hint::black_box(block_on(v.decrypt(&ks, &sealed)).unwrap());
            }),
        ),
    ];
    for (label, ms) in rows {
        console_log!(
            "BENCH {label:34} {ms:>9.2} ms {:>6.3} GB/s (median of 21)",
            (1 << 20) as f64 / ms / 1e6
        );
    }
}
