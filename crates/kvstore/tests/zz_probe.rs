#![cfg(not(target_arch = "wasm32"))]
use std::io::{Seek, SeekFrom, Write};
#[test]
fn probe() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path().join("s")).unwrap();
    let t = db.open_tree("t").unwrap();
    let mut log = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.path().join("log"))
        .unwrap();
    log.set_len(256 * 1024).unwrap();
    log.sync_data().unwrap();
    for i in 0..3000u32 {
        for j in 0..4u32 {
            t.insert(format!("k{i}/{j}"), vec![1u8; 100]).unwrap();
        }
    }
    db.flush().unwrap();
    for round in 0..5 {
        let n = 300u32;
        let s = std::time::Instant::now();
        for i in 0..n {
            let mut b = sled::Batch::default();
            for j in 0..12u32 {
                b.insert(
                    format!("k{}/{}", i * 7 % 3000, j % 4).as_bytes(),
                    vec![round as u8; 100],
                );
            }
            t.apply_batch(b).unwrap();
            db.flush().unwrap();
        }
        let a = s.elapsed() / n;
        let s = std::time::Instant::now();
        let mut off = 0u64;
        for i in 0..n {
            let mut b = sled::Batch::default();
            for j in 0..12u32 {
                b.insert(
                    format!("k{}/{}", i * 7 % 3000, j % 4).as_bytes(),
                    vec![round as u8; 100],
                );
            }
            t.apply_batch(b).unwrap();
            log.seek(SeekFrom::Start(off)).unwrap();
            log.write_all(&[7u8; 900]).unwrap();
            log.sync_data().unwrap();
            off = (off + 900) % (200 * 1024);
        }
        let b = s.elapsed() / n;
        println!("flush {a:?} wal {b:?}");
    }
}
