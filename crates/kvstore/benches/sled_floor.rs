//! Why the vault's `set_secret` on sled misses its target: what one small durable commit costs
//! on raw sled 0.34, in the vault bench's pattern (a batch of 1,000 secrets every 4th round,
//! record keys random like the vault's HMAC ids), as the code before versions wrote it (one
//! `insert` of the record and a flush) and as every versioned commit writes it (one atomic
//! `apply_batch` of the record, its bucket, the manifest, a feed entry for each and the state,
//! then a flush), against `SledStore` doing the same commit. Then three ways around sled's
//! batch (docs/PERF.md, sessions 17 and 18): the commit written first as one insert holding all
//! its writes (flushed, then applied as a batch that removes it, without a flush of its own);
//! the commit written first to a log file beside the database (synced, then applied as a batch
//! without a flush); and the same log with the writes applied one by one, what `SledStore`
//! does since session 18 (sled's batch rolls its log buffer twice, and each roll is a
//! synchronous write: a batch costs that even without a flush). The log variants' databases
//! have sled's periodic flusher off, as `SledStore` with its log has. Each variant has its own
//! database; they take turns within every round. Run by `scripts/bench.sh writes`; prints each
//! variant's median and its median ratio to the first.
//!
//! Then why the code before versions writes a batch faster between single writes than back to
//! back (docs/PERF.md, session 23): raw sled, a batch of 1,000 records applied and flushed
//! (as that code's `set_secrets` wrote it) back to back, after four single insert + flush, or
//! after 2,000 pins of sled's epoch and nothing written (which lets the previous batch's
//! replaced pages be freed before the timed batch, not during it).

// Native files only: on wasm32 this bench is empty.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use futures::executor::block_on;
    use kvstore::{Batch, KVStore, SledStore};
    use std::fs::File;
    use std::io::{Seek, SeekFrom, Write};
    use std::time::Instant;

    const ROUNDS: usize = 60;
    const BATCH: u64 = 1_000;
    /// A sealed 100-byte secret, about.
    const RECORD: usize = 200;
    /// The manifest: a header and 64 bucket digests.
    const MANIFEST: usize = 2_089;
    /// Bytes per record in the buckets, spread over 64 of them.
    const PER_RECORD: usize = 40;

    fn us(t: Instant) -> f64 {
        t.elapsed().as_secs_f64() * 1e6
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// Record `i`'s key: 32 pseudo-random bytes, like the vault's record ids.
    fn record_key(i: u64) -> Vec<u8> {
        let mut h = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut key = b"r/".to_vec();
        for _ in 0..4 {
            key.extend_from_slice(&h.to_be_bytes());
            h = h.rotate_left(23).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        }
        key
    }

    fn bucket_key(j: u64) -> Vec<u8> {
        format!("b/{:02}", j % 64).into_bytes()
    }

    /// The writes of a vault commit: records, the buckets they fall in, the manifest.
    fn vault_writes(records: &[u64], buckets: &[u64], total: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let bucket = vec![0x11; total as usize * PER_RECORD / 64];
        let mut out: Vec<(Vec<u8>, Vec<u8>)> = records
            .iter()
            .map(|&i| (record_key(i), vec![0x5A; RECORD]))
            .collect();
        out.extend(buckets.iter().map(|&j| (bucket_key(j), bucket.clone())));
        out.push((b"m".to_vec(), vec![0x22; MANIFEST]));
        out
    }

    /// `writes` in `SledStore`'s layout, as one raw batch: each data entry tagged 0 and
    /// prefixed with its version, a feed entry (tag 2, version → key) for each, the state.
    fn versioned(writes: &[(Vec<u8>, Vec<u8>)], next: &mut u64) -> sled::Batch {
        let mut batch = sled::Batch::default();
        for (key, value) in writes {
            *next += 1;
            let version = next.to_be_bytes();
            batch.insert([&[0][..], key].concat(), [&version[..], value].concat());
            batch.insert([&[2][..], &version[..]].concat(), key.as_slice());
        }
        batch.insert(&[2, 0][..], [0x44; 16].as_slice());
        batch
    }

    /// A commit's writes in one record (what a commit record or a log record would hold).
    fn record_of(writes: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        writes
            .iter()
            .flat_map(|(k, v)| [k, v])
            .flatten()
            .copied()
            .collect()
    }

    /// `writes` in `SledStore`'s layout, one insert each (`versioned` without the batch).
    fn versioned_each(tree: &sled::Tree, writes: &[(Vec<u8>, Vec<u8>)], next: &mut u64) {
        for (key, value) in writes {
            *next += 1;
            let version = next.to_be_bytes();
            tree.insert([&[0][..], key].concat(), [&version[..], value].concat())
                .unwrap();
            tree.insert([&[2][..], &version[..]].concat(), key.as_slice())
                .unwrap();
        }
        tree.insert(&[2, 0][..], [0x44; 16].as_slice()).unwrap();
    }

    /// Appends `bytes` to a log file at `at` (from 0 again past 4 MiB) and syncs it.
    fn append(log: &mut (File, u64), bytes: &[u8]) {
        let (file, at) = log;
        if *at + bytes.len() as u64 > 4 << 20 {
            *at = 0;
        }
        file.seek(SeekFrom::Start(*at)).unwrap();
        file.write_all(bytes).unwrap();
        file.sync_data().unwrap();
        *at += bytes.len() as u64;
    }

    /// The databases, one per variant.
    struct Dbs {
        insert: sled::Tree,
        batch: sled::Tree,
        store: SledStore,
        record: sled::Tree,
        logged: sled::Tree,
        each: sled::Tree,
        /// The log files beside `logged` and `each`, and where their next records go.
        logs: [(File, u64); 2],
        /// The next version in each raw versioned database (`batch`, `record`, `logged`,
        /// `each`).
        versions: [u64; 4],
    }

    impl Dbs {
        /// One small commit in each variant (the vault's `set_secret` of record `i`, the
        /// keyspace holding `total` records); their times in µs.
        fn small(&mut self, i: u64, total: u64) -> [f64; 6] {
            let writes = vault_writes(&[i], &[i], total);
            let t = Instant::now();
            self.insert
                .insert(record_key(i), vec![0x5A; RECORD])
                .unwrap();
            self.insert.flush().unwrap();
            let insert = us(t);

            let batch = versioned(&writes, &mut self.versions[0]);
            let t = Instant::now();
            self.batch.apply_batch(batch).unwrap();
            self.batch.flush().unwrap();
            let raw_batch = us(t);

            let mut batch = Batch::new();
            for (key, value) in &writes {
                batch.set(key.clone(), value.clone());
            }
            let t = Instant::now();
            block_on(self.store.batch(batch)).unwrap();
            let store = us(t);

            let mut batch = versioned(&writes, &mut self.versions[1]);
            batch.remove(&b"\0commit"[..]);
            let t = Instant::now();
            self.record.insert(b"\0commit", record_of(&writes)).unwrap();
            self.record.flush().unwrap();
            self.record.apply_batch(batch).unwrap();
            let record = us(t);

            let batch = versioned(&writes, &mut self.versions[2]);
            let t = Instant::now();
            append(&mut self.logs[0], &record_of(&writes));
            self.logged.apply_batch(batch).unwrap();
            let logged = us(t);

            let t = Instant::now();
            append(&mut self.logs[1], &record_of(&writes));
            versioned_each(&self.each, &writes, &mut self.versions[3]);
            let each = us(t);

            [insert, raw_batch, store, record, logged, each]
        }

        /// A durable batch of `BATCH` new records from `first` in each (outside the timing):
        /// the old code's records alone, the others' with every bucket and the manifest.
        fn big(&mut self, first: u64) {
            let records: Vec<u64> = (first..first + BATCH).collect();
            let writes = vault_writes(&records, &(0..64).collect::<Vec<_>>(), first + BATCH);
            let mut batch = sled::Batch::default();
            for &i in &records {
                batch.insert(record_key(i), vec![0x5A; RECORD]);
            }
            self.insert.apply_batch(batch).unwrap();
            self.insert.flush().unwrap();
            for (n, tree) in [&self.batch, &self.record, &self.logged, &self.each]
                .into_iter()
                .enumerate()
            {
                tree.apply_batch(versioned(&writes, &mut self.versions[n]))
                    .unwrap();
                tree.flush().unwrap();
            }
            let mut batch = Batch::new();
            for (key, value) in writes {
                batch.set(key, value);
            }
            block_on(self.store.batch(batch)).unwrap();
        }
    }

    /// The code before versions' `set_secrets` on raw sled (`apply_batch` of 1,000 records and a
    /// flush) in three ways: back to back, after four single insert + flush (the vault bench's
    /// pattern), after 2,000 epoch pins and no write. sled's epoch (crossbeam's) is one per
    /// process, so the three do not take turns batch by batch (one's pins would free another's
    /// pages): each runs 16 batches in its own database in a row, the first not counted, and
    /// the three take turns three times.
    fn batch_after(dir: &std::path::Path) {
        let labels = [
            "back to back",
            "after 4 single insert + flush",
            "after 2,000 epoch pins, nothing written",
        ];
        let mut times: [Vec<f64>; 3] = Default::default();
        let mut next = 1u64 << 50;
        for turn in 0..3 {
            for (n, times) in times.iter_mut().enumerate() {
                let tree = sled::open(dir.join(format!("after{turn}-{n}")))
                    .unwrap()
                    .open_tree("t")
                    .unwrap();
                for round in 0..16 {
                    match n {
                        1 => {
                            for _ in 0..4 {
                                next += 1;
                                tree.insert(record_key(next), vec![0x5A; RECORD]).unwrap();
                                tree.flush().unwrap();
                            }
                        }
                        2 => {
                            for _ in 0..2_000 {
                                drop(sled::pin());
                            }
                        }
                        _ => {}
                    }
                    let mut batch = sled::Batch::default();
                    for i in 0..BATCH {
                        batch.insert(record_key(round * BATCH + i), vec![0x5A; RECORD]);
                    }
                    let t = Instant::now();
                    tree.apply_batch(batch).unwrap();
                    tree.flush().unwrap();
                    if round > 0 {
                        times.push(us(t));
                    }
                }
            }
        }
        println!(
            "\nraw sled 0.34, apply_batch of 1,000 records + flush (the vault's set_secrets \
             before versions), 45 batches each (median; ratio to back to back)"
        );
        let first = median(times[0].clone());
        for (label, t) in labels.iter().zip(times) {
            let t = median(t);
            println!("{label:56} {:>8.1} us  ratio {:.2}", t, t / first);
        }
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
        let unflushed = |name: &str| {
            sled::Config::new()
                .path(dir.path().join(name))
                .flush_every_ms(None)
                .open()
                .unwrap()
                .open_tree("t")
                .unwrap()
        };
        // Written out in full once, as `SledStore`'s log is: a write into a hole would make
        // every sync also write the file system's metadata.
        let log = |name: &str| {
            let mut file = File::create(dir.path().join(name)).unwrap();
            file.write_all(&vec![0; 4 << 20]).unwrap();
            file.sync_all().unwrap();
            (file, 0)
        };
        let mut dbs = Dbs {
            insert: open("insert"),
            batch: open("batch"),
            store: SledStore::open(dir.path().join("store")).unwrap(),
            record: open("record"),
            logged: unflushed("logged"),
            each: unflushed("each"),
            logs: [log("log.bin"), log("log2.bin")],
            versions: [0; 4],
        };
        let mut times: [Vec<f64>; 6] = Default::default();
        let mut ratios: [Vec<f64>; 6] = Default::default();
        // Small records are numbered apart from the batches' (which count up from 0).
        let mut total = 0;
        for round in 0..ROUNDS {
            let round_times = dbs.small(1 << 40 | round as u64, total + 1);
            total += 1;
            for (i, t) in round_times.into_iter().enumerate() {
                times[i].push(t);
                ratios[i].push(t / round_times[0]);
            }
            if round % 4 == 0 {
                dbs.big(total);
                total += BATCH;
            }
        }
        println!(
            "\nsled 0.34, the vault's set_secret as one commit, a batch of 1,000 secrets every \
             4th round (median of {ROUNDS} rounds; ratio to the insert per round)"
        );
        let labels = [
            "raw sled, insert + flush (the vault before versions)",
            "raw sled, the commit as SledStore lays it out + flush",
            "SledStore, the same commit",
            "commit record: insert + flush, then apply_batch",
            "log file: write + sync_data, then apply_batch",
            "log file: write + sync_data, then one insert each",
        ];
        for (i, label) in labels.iter().enumerate() {
            println!(
                "{label:56} {:>8.1} us  ratio {:.2}",
                median(times[i].clone()),
                median(ratios[i].clone())
            );
        }
        batch_after(dir.path());
    }
}

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    native::main();
}
