//! Why the vault's `set_secret` on sled misses its target: what one small durable commit costs
//! on raw sled 0.34, as an `insert` (what the vault wrote before versions: one record) and as an
//! atomic `apply_batch` (what every commit is since: record, bucket, manifest, their feed
//! entries and the state), with batches of 1,000 keys in between (as in the vault's writes
//! bench) or 2,000 (the same batches with a feed entry per key), and `SledStore` doing the
//! same. sled's `apply_batch` rolls its I/O buffer before and after it reserves the batch's
//! manifest, so a batch and its flush write the log twice where an insert writes it once.
//! Each variant has its own database; they take turns within every round. Run by
//! `scripts/bench.sh writes`; prints each variant's median and its median ratio to the first.

// Native files only: on wasm32 this bench is empty.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use futures::executor::block_on;
    use kvstore::{Batch, KVStore, SledStore};
    use std::time::Instant;

    const ROUNDS: usize = 60;
    /// A sealed 100-byte secret, about.
    const VALUE: [u8; 200] = [0x5A; 200];

    fn us(t: Instant) -> f64 {
        t.elapsed().as_secs_f64() * 1e6
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// One small durable write on raw sled: one insert, or an atomic batch of three.
    fn raw_small(tree: &sled::Tree, round: usize, batch: bool) -> f64 {
        let t = Instant::now();
        if batch {
            let mut b = sled::Batch::default();
            for j in 0..3 {
                b.insert(format!("r{round}/{j}").as_bytes(), VALUE.as_slice());
            }
            tree.apply_batch(b).unwrap();
        } else {
            tree.insert(format!("r{round}"), VALUE.as_slice()).unwrap();
        }
        tree.flush().unwrap();
        us(t)
    }

    /// A durable batch of `n` keys on raw sled (outside the timing).
    fn raw_big(tree: &sled::Tree, round: usize, n: usize) {
        let mut b = sled::Batch::default();
        for i in 0..n {
            b.insert(format!("b{round}/{i:05}").as_bytes(), VALUE.as_slice());
        }
        tree.apply_batch(b).unwrap();
        tree.flush().unwrap();
    }

    pub fn main() {
        if std::env::args().any(|a| a == "--list") {
            return; // `cargo test --benches` lists benchmarks; this one has no test mode.
        }
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            sled::open(dir.path().join(name))
                .unwrap()
                .open_tree("t")
                .unwrap()
        };
        let (insert, batch, batch2) = (open("insert"), open("batch"), open("batch2"));
        let store = SledStore::open(dir.path().join("store")).unwrap();
        let mut times: [Vec<f64>; 4] = Default::default();
        let mut ratios: [Vec<f64>; 4] = Default::default();
        for round in 0..ROUNDS {
            let base = raw_small(&insert, round, false);
            let round_times = [
                base,
                raw_small(&batch, round, true),
                raw_small(&batch2, round, true),
                {
                    let mut b = Batch::new();
                    for j in 0..3 {
                        b.set(format!("r{round}/{j}").into_bytes(), VALUE.to_vec());
                    }
                    let t = Instant::now();
                    block_on(store.batch(b)).unwrap();
                    us(t)
                },
            ];
            for (i, t) in round_times.into_iter().enumerate() {
                times[i].push(t);
                ratios[i].push(t / base);
            }
            if round % 4 == 0 {
                raw_big(&insert, round, 1_000);
                raw_big(&batch, round, 1_000);
                raw_big(&batch2, round, 2_000);
                let mut b = Batch::new();
                for i in 0..1_000 {
                    b.set(format!("b{round}/{i:05}").into_bytes(), VALUE.to_vec());
                }
                block_on(store.batch(b)).unwrap();
            }
        }
        println!(
            "\nsled 0.34, one small durable write, batches of 1,000 keys every 4th round \
             (median of {ROUNDS} rounds; ratio to the insert per round)"
        );
        let labels = [
            "raw sled, insert + flush (the vault before versions)",
            "raw sled, apply_batch of 3 + flush",
            "raw sled, apply_batch of 3 + flush, batches of 2,000",
            "SledStore batch of 3 (its batches hold 2,000 keys)",
        ];
        for (i, label) in labels.iter().enumerate() {
            println!(
                "{label:56} {:>8.1} us  ratio {:.2}",
                median(times[i].clone()),
                median(ratios[i].clone())
            );
        }
    }
}

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    native::main();
}
