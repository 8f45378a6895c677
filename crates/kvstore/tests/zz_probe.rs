#![cfg(not(target_arch = "wasm32"))]
use kvstore::{Blocking, KVStore, RedbStore};
#[test]
fn probe() {
    futures::executor::block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let plain = RedbStore::builder()
            .blocking(Blocking::Inline)
            .open(dir.path().join("a.redb"))
            .unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.path().join("b.redb"))
            .unwrap();
        let l = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.path().join("b.redb.wal"))
            .unwrap();
        let logged = RedbStore::builder()
            .blocking(Blocking::Inline)
            .open_backend_with_log(
                redb::backends::FileBackend::new(f).unwrap(),
                redb::backends::FileBackend::new(l).unwrap(),
            )
            .unwrap();
        for i in 0..2000u32 {
            plain
                .set(format!("w{i}").as_bytes(), &[1u8; 100])
                .await
                .unwrap();
            logged
                .set(format!("w{i}").as_bytes(), &[1u8; 100])
                .await
                .unwrap();
        }
        for round in 0..5 {
            let t = std::time::Instant::now();
            for i in 0..300u32 {
                plain
                    .set(format!("k{}", i % 500).as_bytes(), &[round as u8; 100])
                    .await
                    .unwrap();
            }
            let a = t.elapsed() / 300;
            let t = std::time::Instant::now();
            for i in 0..300u32 {
                logged
                    .set(format!("k{}", i % 500).as_bytes(), &[round as u8; 100])
                    .await
                    .unwrap();
            }
            let b = t.elapsed() / 300;
            println!("plain {a:?} logged {b:?}");
        }
    });
}
