// Rows: unlock at default parameters; sign and verify through the session API beside raw k256 /
// ed25519-dalek; encrypt and decrypt of 1 MiB beside raw chacha20poly1305; unlock of a keyspace
// of 10 vs 10,000 records; get of one secret among 10,000. (`crypt_alternating.rs` measures the
// 1 MiB rows again in alternation, which is what `scripts/bench.sh vault` prints for them.)

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::Signer as _;
use futures::executor::block_on;
use kvstore::SledStore;
use std::time::Duration;
use vault::{KeyType, Vault};

const PASSWORD: &[u8] = b"benchmark password";
const MESSAGE: &[u8] = b"a message of typical length to sign, like a transaction hash...";
const SECP: [u8; 32] = [7u8; 32];
const ED: [u8; 32] = [9u8; 32];

fn crypto_rows(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let v = Vault::new(SledStore::open(dir.path().join("db")).unwrap());
    let ks = block_on(v.create_keyspace("bench", PASSWORD)).unwrap();
    block_on(v.import_key(&ks, "secp", KeyType::Secp256k1, &SECP)).unwrap();
    block_on(v.import_key(&ks, "ed", KeyType::Ed25519, &ED)).unwrap();
    let mut session = block_on(v.open_session("bench", PASSWORD, Default::default())).unwrap();

    let mut g = c.benchmark_group("vault");
    g.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    g.bench_function("unlock_default/ours", |b| b.iter(|| block_on(v.unlock("bench", PASSWORD)).unwrap()));

    let raw_secp = k256::ecdsa::SigningKey::from_slice(&SECP).unwrap();
    let raw_ed = ed25519_dalek::SigningKey::from_bytes(&ED);
    let secp_pk = raw_secp.verifying_key().to_encoded_point(true).as_bytes().to_vec();
    let ed_pk = raw_ed.verifying_key().to_bytes();
    let secp_sig = {
        let s: k256::ecdsa::Signature = k256::ecdsa::signature::Signer::sign(&raw_secp, MESSAGE);
        s.to_bytes().to_vec()
    };
    let ed_sig = raw_ed.sign(MESSAGE).to_bytes();
    g.sample_size(30);
    block_on(session.select_key("secp")).unwrap();
    g.bench_function("sign_secp256k1/ours", |b| b.iter(|| block_on(session.sign(MESSAGE)).unwrap()));
    g.bench_function("sign_secp256k1/raw", |b| {
        b.iter(|| {
            let s: k256::ecdsa::Signature = k256::ecdsa::signature::Signer::sign(&raw_secp, MESSAGE);
            s.to_bytes()
        })
    });
    block_on(session.select_key("ed")).unwrap();
    g.bench_function("sign_ed25519/ours", |b| b.iter(|| block_on(session.sign(MESSAGE)).unwrap()));
    g.bench_function("sign_ed25519/raw", |b| b.iter(|| raw_ed.sign(MESSAGE).to_bytes()));
    g.bench_function("verify_secp256k1/ours", |b| {
        b.iter(|| assert!(vault::verify(KeyType::Secp256k1, &secp_pk, MESSAGE, &secp_sig).unwrap()))
    });
    g.bench_function("verify_secp256k1/raw", |b| {
        b.iter(|| {
            let key = k256::ecdsa::VerifyingKey::from_sec1_bytes(&secp_pk).unwrap();
            let sig = k256::ecdsa::Signature::from_slice(&secp_sig).unwrap();
            assert!(k256::ecdsa::signature::Verifier::verify(&key, MESSAGE, &sig).is_ok())
        })
    });
    g.bench_function("verify_ed25519/ours", |b| {
        b.iter(|| assert!(vault::verify(KeyType::Ed25519, &ed_pk, MESSAGE, &ed_sig).unwrap()))
    });
    g.bench_function("verify_ed25519/raw", |b| {
        b.iter(|| {
            let key = ed25519_dalek::VerifyingKey::from_bytes(&ed_pk).unwrap();
            let sig = ed25519_dalek::Signature::from_bytes(&ed_sig);
            assert!(key.verify_strict(MESSAGE, &sig).is_ok())
        })
    });

    let mib = vec![0x5Au8; 1 << 20];
    let ciphertext = block_on(session.encrypt(&mib)).unwrap();
    let raw = XChaCha20Poly1305::new(&[3u8; 32].into());
    let nonce = [1u8; 24];
    let raw_ciphertext = raw.encrypt(XNonce::from_slice(&nonce), mib.as_slice()).unwrap();
    g.bench_function("encrypt_1mib/ours", |b| b.iter(|| block_on(session.encrypt(&mib)).unwrap()));
    g.bench_function("encrypt_1mib/raw", |b| {
        b.iter(|| {
            let mut nonce = [0u8; 24];
            getrandom::fill(&mut nonce).unwrap();
            raw.encrypt(XNonce::from_slice(&nonce), mib.as_slice()).unwrap()
        })
    });
    g.bench_function("decrypt_1mib/ours", |b| b.iter(|| block_on(session.decrypt(&ciphertext)).unwrap()));
    g.bench_function("decrypt_1mib/raw", |b| {
        b.iter(|| raw.decrypt(XNonce::from_slice(&nonce), raw_ciphertext.as_slice()).unwrap())
    });
    g.finish();
}

fn size_rows(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let v = Vault::new(SledStore::open(dir.path().join("db")).unwrap());
    for (name, records) in [("small", 10), ("large", 10_000)] {
        let ks = block_on(v.create_keyspace(name, PASSWORD)).unwrap();
        for i in 0..records {
            block_on(v.set_secret(&ks, &format!("secret-{i:05}"), b"a secret value")).unwrap();
        }
    }
    let mut g = c.benchmark_group("vault");
    g.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    g.bench_function("unlock_records/10", |b| b.iter(|| block_on(v.unlock("small", PASSWORD)).unwrap()));
    g.bench_function("unlock_records/10000", |b| b.iter(|| block_on(v.unlock("large", PASSWORD)).unwrap()));
    let ks = block_on(v.unlock("large", PASSWORD)).unwrap();
    g.sample_size(50);
    g.bench_function("get_secret_of_10000/ours", |b| {
        b.iter(|| block_on(v.get_secret(&ks, "secret-04321")).unwrap())
    });
    g.finish();
}

criterion_group!(benches, crypto_rows, size_rows);
criterion_main!(benches);
