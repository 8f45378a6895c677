//! One-shot encryption and decryption of 1 MiB: ours, the raw crate with empty associated data,
//! and the raw crate with the associated data our format authenticates, measured in alternation
//! (one call of each per round, 400 rounds, medians). On the shared virtual machines we run on,
//! criterion's one-group-after-the-other measurement drifts by 10-20 % between groups; in
//! alternation every side sees the same machine. `scripts/bench.sh vault` prints the table.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use futures::executor::block_on;
use std::hint::black_box;
use std::time::{Duration, Instant};
use vault::{KdfParams, Vault};

const ROUNDS: usize = 400;
/// The associated data of a one-shot ciphertext (`docs/FORMAT.md`, version 2): 15 bytes
/// zero-padded to 64.
fn our_aad() -> Vec<u8> {
    let mut aad = b"vault/v2/data\x02\x01".to_vec();
    aad.resize(64, 0);
    aad
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e6
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benchmarks; this one has no test mode.
    }
    let v = Vault::with_kdf(kvstore::MemoryStore::new(), KdfParams::INSECURE_FOR_TESTS).unwrap();
    let ks = block_on(v.create_keyspace("bench", "benchmark password")).unwrap();
    let mib = vec![0x5Au8; 1 << 20];
    let our_aad = our_aad();
    let ours_sealed = block_on(v.encrypt(&ks, &mib)).unwrap();
    let raw = XChaCha20Poly1305::new(&[3u8; 32].into());
    let nonce = XNonce::from([1u8; 24]);
    let raw_sealed = raw.encrypt(&nonce, mib.as_slice()).unwrap();
    let aad_sealed = raw
        .encrypt(
            &nonce,
            Payload {
                msg: &mib,
                aad: &our_aad,
            },
        )
        .unwrap();
    let fresh_nonce = || {
        let mut n = [0u8; 24];
        getrandom::fill(&mut n).unwrap();
        XNonce::from(n)
    };
    let mut t: [Vec<Duration>; 6] = Default::default();
    for _ in 0..ROUNDS {
        t[0].push(timed(|| {
            drop(black_box(block_on(v.encrypt(&ks, &mib)).unwrap()))
        }));
        t[1].push(timed(|| {
            drop(black_box(
                raw.encrypt(&fresh_nonce(), mib.as_slice()).unwrap(),
            ))
        }));
        t[2].push(timed(|| {
            let payload = Payload {
                msg: &mib,
                aad: &our_aad,
            };
            drop(black_box(raw.encrypt(&fresh_nonce(), payload).unwrap()))
        }));
        t[3].push(timed(|| {
            drop(black_box(block_on(v.decrypt(&ks, &ours_sealed)).unwrap()))
        }));
        t[4].push(timed(|| {
            drop(black_box(
                raw.decrypt(&nonce, raw_sealed.as_slice()).unwrap(),
            ))
        }));
        t[5].push(timed(|| {
            let payload = Payload {
                msg: &aad_sealed,
                aad: &our_aad,
            };
            drop(black_box(raw.decrypt(&nonce, payload).unwrap()))
        }));
    }
    let [e_ours, e_raw, e_aad, d_ours, d_raw, d_aad] = t.map(median);
    println!("\none-shot 1 MiB, alternating rounds ({ROUNDS}, medians; target ours / raw <= 1.05)");
    println!(
        "{:10} {:>10} {:>10} {:>16} {:>11} {:>14}",
        "", "ours", "raw", "raw, our AAD", "ours / raw", "ours / our AAD"
    );
    for (label, ours, raw, aad) in [
        ("encrypt", e_ours, e_raw, e_aad),
        ("decrypt", d_ours, d_raw, d_aad),
    ] {
        println!(
            "{label:10} {ours:>7.0} us {raw:>7.0} us {aad:>13.0} us {:>11.2} {:>14.2}",
            ours / raw,
            ours / aad
        );
    }
}
