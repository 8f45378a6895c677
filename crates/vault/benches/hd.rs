//! HD wallet derivation beside the raw crates: 1,000 Ethereum addresses from one seed with
//! `hd::eth_addresses`, on Ledger Live's path (each from the root: the index is hardened) and on
//! BIP44's (parent derived once), against bip32 + k256 + Keccak used directly the same way. Plain timing loops,
//! medians, the two sides in alternation (`scripts/bench.sh hd`).

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use sha3::{Digest, Keccak256};
    use std::time::{Duration, Instant};
    use vault::hd;

    const ROUNDS: usize = 15;
    const ADDRESSES: u32 = 1_000;

    fn median(mut times: Vec<Duration>) -> Duration {
        times.sort();
        times[times.len() / 2]
    }

    fn raw_address(key: &bip32::XPrv) -> [u8; 20] {
        let point = key.private_key().verifying_key().to_encoded_point(false);
        let hash = Keccak256::digest(&point.as_bytes()[1..]);
        hash[12..].try_into().unwrap()
    }

    pub fn main() {
        let words = format!("{}about", "abandon ".repeat(11));
        let seed = hd::mnemonic_to_seed(&words, "").unwrap();
        let eth = hd::preset("ethereum").unwrap();
        let raw_seed = seed.as_bytes().to_vec();

        // Ledger Live's path varies a hardened level: every address from the root, on both sides.
        let live = hd::preset("ethereum-ledger-live").unwrap();
        let ours_each = || hd::eth_addresses(&seed, live, 0..ADDRESSES).unwrap();
        let raw_each = || {
            (0..ADDRESSES)
                .map(|i| {
                    let path: bip32::DerivationPath =
                        format!("m/44'/60'/{i}'/0/0").parse().unwrap();
                    raw_address(&bip32::XPrv::derive_from_path(&raw_seed, &path).unwrap())
                })
                .collect::<Vec<_>>()
        };
        let ours_batch = || hd::eth_addresses(&seed, eth, 0..ADDRESSES).unwrap();
        let raw_batch = || {
            let path: bip32::DerivationPath = "m/44'/60'/0'/0".parse().unwrap();
            let parent = bip32::XPrv::derive_from_path(&raw_seed, &path).unwrap();
            (0..ADDRESSES)
                .map(|i| {
                    raw_address(
                        &parent
                            .derive_child(bip32::ChildNumber::new(i, false).unwrap())
                            .unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(ours_each(), raw_each(), "the same addresses");
        assert_eq!(ours_batch(), raw_batch(), "the same addresses");
        println!("\nHD derivation, 1,000 Ethereum addresses from one seed (median of {ROUNDS}; target <= 1.10)");
        println!(
            "{:52} {:>10} {:>10} {:>7}",
            "operation", "ours", "raw", "ratio"
        );
        type Addresses<'a> = &'a dyn Fn() -> Vec<[u8; 20]>;
        let rows: [(&str, Addresses, Addresses); 2] = [
            (
                "Ledger Live, each from the root (m/44'/60'/i'/0/0)",
                &ours_each,
                &raw_each,
            ),
            (
                "BIP44 (m/44'/60'/0'/0/i): parent once",
                &ours_batch,
                &raw_batch,
            ),
        ];
        for (label, ours, raw) in rows {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                let t = Instant::now();
                std::hint::black_box(ours());
                a.push(t.elapsed());
                let t = Instant::now();
                std::hint::black_box(raw());
                b.push(t.elapsed());
            }
            let (a, b) = (median(a), median(b));
            println!(
                "{label:52} {:>7.1} ms {:>7.1} ms {:>7.2}",
                a.as_secs_f64() * 1e3,
                b.as_secs_f64() * 1e3,
                a.as_secs_f64() / b.as_secs_f64()
            );
        }
    }
}

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    native::main();
}
