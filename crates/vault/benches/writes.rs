//! Writes and reads of secrets on the durable native stores (sled, redb), and kvstore batches of
//! 1,000 sets with and without a precondition on every key: the rows of the versions issue.
//! Plain timing loops, medians, each row's sides in alternation where there are two. The same
//! file builds against the code before versions once `conditional_batch` returns a plain batch
//! (it uses only APIs that existed then otherwise; `--no-conditional` skips that row):
//! `scripts/bench.sh writes` (scripts/bench_writes.py) builds it on that commit too, runs the
//! two builds alternately and prints the ratios.

// Native stores only: on wasm32 this bench is empty.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use futures::executor::block_on;
    use kvstore::{Batch, KVStore, RedbStore, SledStore};
    use std::time::{Duration, Instant};
    use vault::{KdfParams, Vault};

    const ROUNDS: usize = 60;
    const BATCH: usize = 1_000;

    fn timed(f: impl FnOnce()) -> Duration {
        let t = Instant::now();
        f();
        t.elapsed()
    }

    fn median(mut times: Vec<Duration>) -> Duration {
        times.sort();
        times[times.len() / 2]
    }

    fn fmt(d: Duration) -> String {
        let us = d.as_secs_f64() * 1e6;
        if us >= 1000.0 {
            format!("{:.2} ms", us / 1000.0)
        } else {
            format!("{us:.1} us")
        }
    }

    /// Prints one row: backend, label, time.
    fn row(backend: &str, label: &str, time: Duration) {
        println!("{backend:6} {label:34} {:>10}", fmt(time));
    }

    /// The secrets of `set_secrets` batch `round`: 1,000 new names, 100-byte values.
    fn batch(round: usize) -> Vec<(String, [u8; 100])> {
        (0..BATCH)
            .map(|i| (format!("b{round}/{i:04}"), [0xA5u8; 100]))
            .collect()
    }

    /// The batches' median and mean, under those two labels: a commit that makes a checkpoint
    /// costs more than the others, and the median alone would not show it.
    fn batch_rows_of(backend: &str, [median_label, mean_label]: [&str; 2], many: Vec<Duration>) {
        let mean = many.iter().sum::<Duration>() / many.len() as u32;
        row(backend, median_label, median(many));
        row(backend, mean_label, mean);
    }

    fn vault_rows<S: KVStore>(backend: &str, store: S) {
        let v = Vault::with_kdf(store, KdfParams::INSECURE_FOR_TESTS).unwrap();
        let ks = block_on(v.create_keyspace("bench", "benchmark password")).unwrap();
        let value = [0xA5u8; 100];
        let (mut set, mut get, mut many) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let name = format!("s{round}");
            set.push(timed(|| {
                block_on(v.set_secret(&ks, &name, &value)).unwrap()
            }));
            get.push(timed(|| {
                block_on(v.get_secret(&ks, &name)).unwrap();
            }));
            if round % 4 == 0 {
                let items = batch(round);
                many.push(timed(|| block_on(v.set_secrets(&ks, &items)).unwrap()));
            }
        }
        row(backend, "vault set_secret (100 B)", median(set));
        row(backend, "vault get_secret (100 B)", median(get));
        let labels = [
            "vault set_secrets, 1,000 x 100 B",
            "vault set_secrets, mean",
        ];
        batch_rows_of(backend, labels, many);
    }

    /// `set_secrets` of 1,000 back to back, 15 times, on a keyspace of its own: the same batches
    /// as in [`vault_rows`] without the single writes and reads between them. On sled the code
    /// before versions writes a batch 5–13% faster after single writes than right after another
    /// batch: its previous batch's replaced pages are freed at the single writes' pins of sled's
    /// epoch, outside the timed batch (docs/PERF.md, session 23). This row shows the batch
    /// without that help.
    fn vault_batches<S: KVStore>(backend: &str, store: S) {
        let v = Vault::with_kdf(store, KdfParams::INSECURE_FOR_TESTS).unwrap();
        let ks = block_on(v.create_keyspace("bench", "benchmark password")).unwrap();
        let many = (0..ROUNDS / 4)
            .map(|round| {
                let items = batch(round);
                timed(|| block_on(v.set_secrets(&ks, &items)).unwrap())
            })
            .collect();
        let labels = [
            "vault set_secrets in a row",
            "vault set_secrets in a row, mean",
        ];
        batch_rows_of(backend, labels, many);
    }

    fn batch_rows<S: KVStore>(backend: &str, store: S, conditional: bool) {
        let (mut plain, mut cond) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS / 2 {
            let mut batch = Batch::new();
            for i in 0..BATCH {
                batch.set(format!("p{round}/{i:04}").into_bytes(), vec![0xA5; 100]);
            }
            plain.push(timed(|| block_on(store.batch(batch)).unwrap()));
            if conditional {
                // Built before the clock starts, like the plain batch above.
                let batch = conditional_batch(round);
                cond.push(timed(|| block_on(store.batch(batch)).unwrap()));
            }
        }
        let plain = median(plain);
        print!(
            "{backend:6} {:34} {:>10}",
            "kvstore batch of 1,000 sets",
            fmt(plain)
        );
        if conditional {
            let cond = median(cond);
            print!(
                "   conditional {:>10}  ratio {:.2} (target <= 1.10)",
                fmt(cond),
                cond.as_secs_f64() / plain.as_secs_f64()
            );
        }
        println!();
    }

    fn conditional_batch(round: usize) -> Batch {
        let mut batch = Batch::new();
        for i in 0..BATCH {
            let key = format!("c{round}/{i:04}").into_bytes();
            batch.require_absent(key.clone()).set(key, vec![0xA5; 100]);
        }
        batch
    }

    pub fn main() {
        if std::env::args().any(|a| a == "--list") {
            return; // `cargo test --benches` lists benchmarks; this one has no test mode.
        }
        let conditional = !std::env::args().any(|a| a == "--no-conditional");
        let dir = tempfile::tempdir().unwrap();
        println!("\nwrites and reads on durable stores (median of {ROUNDS} rounds)");
        vault_rows("sled", SledStore::open(dir.path().join("v-sled")).unwrap());
        vault_rows("redb", RedbStore::open(dir.path().join("v.redb")).unwrap());
        vault_batches("sled", SledStore::open(dir.path().join("r-sled")).unwrap());
        vault_batches("redb", RedbStore::open(dir.path().join("r.redb")).unwrap());
        batch_rows(
            "sled",
            SledStore::open(dir.path().join("k-sled")).unwrap(),
            conditional,
        );
        batch_rows(
            "redb",
            RedbStore::open(dir.path().join("k.redb")).unwrap(),
            conditional,
        );
    }
}

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    native::main();
}
