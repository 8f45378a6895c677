//! What a batch of 1,000 writes under random keys (the vault's record keys are HMAC tags) costs
//! on redb as the table grows, by layout: raw redb with one table (what the store wrote before
//! versions), raw redb with the first versioned layout of this crate (data, a meta index keyed
//! by the caller's key, a log keyed by version), raw redb with the version kept inline in the
//! value (data and log only: the layout `RedbStore` uses now), and `RedbStore` itself. Each layout has its own file; the layouts take
//! turns within every round, so each round compares them at the same size. Run by
//! `scripts/bench.sh writes`; it prints each layout's median and its median ratio to raw redb.

// Native files only: on wasm32 this bench is empty.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use futures::executor::block_on;
    use kvstore::{Batch, KVStore, RedbStore};
    use redb::{Database, TableDefinition};
    use std::time::Instant;

    const DATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("data");
    const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");
    const LOG: TableDefinition<&[u8], &[u8]> = TableDefinition::new("log");
    const ROUNDS: u64 = 15;
    const BATCH: u64 = 1_000;
    /// About a sealed 100-byte secret.
    const VALUE: [u8; 190] = [0x5A; 190];

    /// The `n`th key: `r/`, a fixed 16-byte id, then 32 bytes that look random (as name tags
    /// do), so consecutive writes land all over the table.
    fn key(n: u64) -> Vec<u8> {
        let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!("r/0123456789abcdef{h:016x}{h:016x}").into_bytes()
    }

    fn ms(t: Instant) -> f64 {
        t.elapsed().as_secs_f64() * 1e3
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// One durable commit of keys `from..from + BATCH` in the given layout.
    fn raw_round(db: &Database, from: u64, meta: bool, log: bool, inline: bool) -> f64 {
        let t = Instant::now();
        let tx = db.begin_write().unwrap();
        {
            let mut data = tx.open_table(DATA).unwrap();
            let mut meta_table = meta.then(|| tx.open_table(META).unwrap());
            let mut log_table = log.then(|| tx.open_table(LOG).unwrap());
            for n in from..from + BATCH {
                let k = key(n);
                let version = (n + 1).to_be_bytes();
                let mut entry = version.to_vec();
                entry.push(1);
                if inline {
                    entry.extend_from_slice(&VALUE);
                    data.insert(k.as_slice(), entry.as_slice()).unwrap();
                } else {
                    data.insert(k.as_slice(), VALUE.as_slice()).unwrap();
                }
                if let Some(m) = meta_table.as_mut() {
                    m.insert(k.as_slice(), entry.as_slice()).unwrap();
                }
                if let Some(l) = log_table.as_mut() {
                    l.insert(version.as_slice(), k.as_slice()).unwrap();
                }
            }
        }
        tx.commit().unwrap();
        ms(t)
    }

    pub fn main() {
        if std::env::args().any(|a| a == "--list") {
            return; // `cargo test --benches` lists benchmarks; this one has no test mode.
        }
        let dir = tempfile::tempdir().unwrap();
        let plain = Database::create(dir.path().join("plain.redb")).unwrap();
        let layout = Database::create(dir.path().join("layout.redb")).unwrap();
        let inline = Database::create(dir.path().join("inline.redb")).unwrap();
        let store = RedbStore::open(dir.path().join("store.redb")).unwrap();
        let mut times: [Vec<f64>; 4] = Default::default();
        let mut ratios: [Vec<f64>; 4] = Default::default();
        for round in 0..ROUNDS {
            let from = round * BATCH;
            let base = raw_round(&plain, from, false, false, false);
            let round_times = [
                base,
                raw_round(&layout, from, true, true, false),
                raw_round(&inline, from, false, true, true),
                {
                    let mut batch = Batch::new();
                    for n in from..from + BATCH {
                        batch.set(key(n), VALUE.to_vec());
                    }
                    let t = Instant::now();
                    block_on(store.batch(batch)).unwrap();
                    ms(t)
                },
            ];
            for (i, t) in round_times.into_iter().enumerate() {
                times[i].push(t);
                ratios[i].push(t / base);
            }
        }
        println!(
            "\nredb, a batch of {BATCH} sets under random keys, the table growing to {} keys \
             (median of {ROUNDS} rounds; ratio to raw redb per round)",
            ROUNDS * BATCH
        );
        let labels = [
            "raw redb, one table (before versions)",
            "raw redb, first versioned layout (data+meta+log)",
            "raw redb, version inline (data+log)",
            "RedbStore batch (version inline)",
        ];
        for (i, label) in labels.iter().enumerate() {
            println!(
                "{label:50} {:>8.2} ms  ratio {:.2}",
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
