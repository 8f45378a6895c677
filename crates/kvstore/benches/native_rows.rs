// Native benchmarks: every row runs our store and the raw crate doing the same work, side by
// side in one run. `scripts/bench.sh` runs this and prints the ratios.
//
// Rows (per backend): one durable set (write + fsync), 100 gets, one batch of 1,000 sets
// (durable), a prefix scan of 10,000 entries.

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion};
use futures::executor::block_on;
use kvstore::{Batch, Blocking, KVStore, RedbStore, Scan, SledStore};
use redb::{ReadableDatabase, TableDefinition};
use std::time::Duration;

const GETS: usize = 100;
const BATCH: usize = 1_000;
const SCAN: usize = 10_000;
const VALUE: [u8; 100] = [0xA5; 100];

fn key(prefix: &str, i: usize) -> Vec<u8> {
    format!("{prefix}/{i:08}").into_bytes()
}

fn fill<S: KVStore>(store: &S) {
    block_on(async {
        for chunk in (0..SCAN).collect::<Vec<_>>().chunks(BATCH) {
            let mut batch = Batch::new();
            for &i in chunk {
                batch.set(key("scan", i), VALUE.to_vec());
            }
            store.batch(batch).await.unwrap();
        }
    });
}

/// Our rows for one backend: `ours` with the default `Blocking::Offload`, `inline` with
/// `Blocking::Inline` (written rows only). `n` keeps written keys unique across rows.
fn ours_rows<S: KVStore>(g: &mut BenchmarkGroup<'_, WallTime>, ours: &S, inline: &S, n: &mut usize) {
    for (id, store) in [("set/ours", ours), ("set/inline", inline)] {
        g.bench_function(id, |b| {
            b.iter(|| {
                *n += 1;
                block_on(store.set(&key("set", *n), &VALUE)).unwrap()
            })
        });
    }
    g.bench_function("get/ours", |b| {
        b.iter(|| {
            block_on(async {
                for i in 0..GETS {
                    assert!(ours.get(&key("scan", i * 97)).await.unwrap().is_some());
                }
            })
        })
    });
    for (id, store) in [("batch/ours", ours), ("batch/inline", inline)] {
        g.bench_function(id, |b| {
            b.iter_batched(
                || {
                    *n += 1;
                    let mut batch = Batch::new();
                    for i in 0..BATCH {
                        batch.set(key(&format!("b{n}"), i), VALUE.to_vec());
                    }
                    batch
                },
                |batch| block_on(store.batch(batch)).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.bench_function("scan/ours", |b| {
        b.iter(|| {
            assert_eq!(
                block_on(ours.scan(Scan::prefix(b"scan/"))).unwrap().len(),
                SCAN
            )
        })
    });
}

fn sled_rows(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let ours = SledStore::open(dir.path().join("ours")).unwrap();
    let inline = SledStore::builder().blocking(Blocking::Inline).open(dir.path().join("inline")).unwrap();
    let raw_db = sled::open(dir.path().join("raw")).unwrap();
    let raw = raw_db.open_tree("default").unwrap();
    fill(&ours);
    for i in 0..SCAN {
        raw.insert(key("scan", i), &VALUE[..]).unwrap();
    }
    raw.flush().unwrap();

    let mut g = c.benchmark_group("sled");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let mut n = 0usize;
    ours_rows(&mut g, &ours, &inline, &mut n);
    g.bench_function("set/raw", |b| {
        b.iter(|| {
            n += 1;
            raw.insert(key("set", n), &VALUE[..]).unwrap();
            raw.flush().unwrap();
        })
    });
    g.bench_function("get/raw", |b| {
        b.iter(|| {
            for i in 0..GETS {
                assert!(raw
                    .get(key("scan", i * 97))
                    .unwrap()
                    .map(|v| v.to_vec())
                    .is_some());
            }
        })
    });
    g.bench_function("batch/raw", |b| {
        b.iter_batched(
            || {
                n += 1;
                let mut batch = sled::Batch::default();
                for i in 0..BATCH {
                    batch.insert(key(&format!("b{n}"), i), VALUE.to_vec());
                }
                batch
            },
            |batch| {
                raw.apply_batch(batch).unwrap();
                raw.flush().unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("scan/raw", |b| {
        b.iter(|| {
            let all: Vec<(Vec<u8>, Vec<u8>)> = raw
                .scan_prefix(b"scan/")
                .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                .collect();
            assert_eq!(all.len(), SCAN)
        })
    });
    g.finish();
}

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("default");

fn redb_rows(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let ours = RedbStore::open(dir.path().join("ours.redb")).unwrap();
    let inline = RedbStore::builder().blocking(Blocking::Inline).open(dir.path().join("inline.redb")).unwrap();
    let raw = redb::Database::create(dir.path().join("raw.redb")).unwrap();
    fill(&ours);
    let raw_insert = |keys: &mut dyn Iterator<Item = Vec<u8>>| {
        let tx = raw.begin_write().unwrap();
        {
            let mut t = tx.open_table(TABLE).unwrap();
            for k in keys {
                t.insert(k.as_slice(), &VALUE[..]).unwrap();
            }
        }
        tx.commit().unwrap();
    };
    raw_insert(&mut (0..SCAN).map(|i| key("scan", i)));

    let mut g = c.benchmark_group("redb");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let mut n = 0usize;
    ours_rows(&mut g, &ours, &inline, &mut n);
    g.bench_function("set/raw", |b| {
        b.iter(|| {
            n += 1;
            raw_insert(&mut std::iter::once(key("set", n)));
        })
    });
    g.bench_function("get/raw", |b| {
        b.iter(|| {
            for i in 0..GETS {
                let tx = raw.begin_read().unwrap();
                let t = tx.open_table(TABLE).unwrap();
                let k = key("scan", i * 97);
                assert!(t
                    .get(k.as_slice())
                    .unwrap()
                    .map(|v| v.value().to_vec())
                    .is_some());
            }
        })
    });
    g.bench_function("batch/raw", |b| {
        b.iter_batched(
            || {
                n += 1;
                (0..BATCH)
                    .map(|i| key(&format!("b{n}"), i))
                    .collect::<Vec<_>>()
            },
            |keys| raw_insert(&mut keys.into_iter()),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("scan/raw", |b| {
        b.iter(|| {
            let tx = raw.begin_read().unwrap();
            let t = tx.open_table(TABLE).unwrap();
            let all: Vec<(Vec<u8>, Vec<u8>)> = t
                .range::<&[u8]>(&b"scan/"[..]..&b"scan0"[..])
                .unwrap()
                .map(|r| {
                    r.map(|(k, v)| (k.value().to_vec(), v.value().to_vec()))
                        .unwrap()
                })
                .collect();
            assert_eq!(all.len(), SCAN)
        })
    });
    g.finish();
}

criterion_group!(benches, sled_rows, redb_rows);
criterion_main!(benches);
