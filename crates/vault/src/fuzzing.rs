//! Entry points for fuzzing every decoder that reads stored or imported bytes (feature
//! `fuzzing`; not part of the stable API). The `cargo fuzz` targets in `crates/vault/fuzz` call
//! [`run`], and so does the replay test (`tests/fuzz_corpus.rs`) for every committed corpus
//! file on stable, so an input that once crashed a decoder stays fixed.
//!
//! The keyed decoders run under the golden keyspace of `tests/fixtures/native-keyspace.txt`
//! (unlocked once, with its cheap test KDF parameters), so the seeds made from the fixtures
//! ([`seeds`]) are valid inputs and the fuzzer starts deep inside each decoder. Every entry
//! point only asks that decoding returns, whatever the bytes: an `Err` is fine, a panic, a hang
//! or an allocation beyond what the input justifies is a bug.

use std::sync::OnceLock;

use kvstore::{KVStore, MemoryStore};
use zeroize::Zeroizing;

use crate::backup::ParsedBackup;
use crate::format::{check_record, record_prefix, Header};
use crate::keyspace::{self, UnlockedKeyspace};
use crate::stream::StreamDecryptor;
use crate::{KeyType, Vault};

const GOLDEN: &str = include_str!("../tests/fixtures/native-keyspace.txt");
const GOLDEN_NAME: &str = "golden";
const GOLDEN_PASSWORD: &[u8] = b"golden password";

/// The fuzz targets, each a decoder of untrusted bytes.
pub const TARGETS: [&str; 6] = ["header", "record", "backup", "decrypt", "stream", "keys"];

fn fixture(label: &str) -> impl Iterator<Item = Vec<u8>> + '_ {
    GOLDEN.lines().filter_map(move |line| {
        let mut words = line.split(' ');
        (words.next() == Some(label)).then(|| {
            words
                .map(|w| hex(w).unwrap_or_default())
                .collect::<Vec<_>>()
                .concat()
        })
    })
}

fn fixture_entries() -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> {
    GOLDEN.lines().filter_map(|line| {
        let mut words = line.split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some("entry"), Some(key), Some(value)) => Some((hex(key)?, hex(value)?)),
            _ => None,
        }
    })
}

fn hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The golden keyspace, unlocked once from its fixture.
fn golden() -> &'static UnlockedKeyspace {
    static KEYSPACE: OnceLock<UnlockedKeyspace> = OnceLock::new();
    KEYSPACE.get_or_init(|| {
        let header = fixture_entries()
            .find(|(key, _)| key.starts_with(b"h/"))
            .and_then(|(_, value)| Header::decode(&value).ok())
            .expect("the golden fixture holds a header");
        keyspace::unwrap(GOLDEN_NAME, &header, GOLDEN_PASSWORD)
            .expect("the golden fixture opens with its password")
            .keyspace
    })
}

/// Runs the decoder of `target` on `data`. Unknown targets do nothing.
pub fn run(target: &str, data: &[u8]) {
    decode(target, data);
}

/// Whether the decoder of `target` accepts `data` as valid (every seed must be).
pub fn accepts(target: &str, data: &[u8]) -> bool {
    decode(target, data)
}

fn decode(target: &str, data: &[u8]) -> bool {
    match target {
        "header" => Header::decode(data).is_ok(),
        "record" => record(data),
        "backup" => backup(data),
        "decrypt" => crate::cipher::decrypt(&golden().data_key, data).is_ok(),
        "stream" => stream(data),
        "keys" => keys(data),
        _ => false,
    }
}

/// `suffix length (1 byte) ‖ suffix ‖ value`: a record stored under `r/` ‖ golden id ‖ suffix.
fn record(data: &[u8]) -> bool {
    let Some((&len, rest)) = data.split_first() else {
        return false;
    };
    let len = usize::from(len).min(rest.len());
    let (suffix, value) = rest.split_at(len);
    let key = [record_prefix(&golden().id).as_slice(), suffix].concat();
    check_record(golden(), &key, value).is_ok()
}

/// A whole backup: parsed, then checked under the golden keyspace (records are checked even
/// when the MAC fails, to reach the record checks).
fn backup(data: &[u8]) -> bool {
    let Ok(parsed) = ParsedBackup::parse(data) else {
        return false;
    };
    let mac = parsed.verify_mac(golden()).is_ok();
    let records = parsed.verify_records(golden()).is_ok();
    mac && records
}

/// `piece size (1 byte) ‖ stream`: the stream fed to a decryptor in pieces of that size, then
/// finished; after an error, more calls must keep failing.
fn stream(data: &[u8]) -> bool {
    let Some((&piece, stream)) = data.split_first() else {
        return false;
    };
    let piece = usize::from(piece) * 67 + 1;
    let mut decryptor = StreamDecryptor::new(&golden().data_key);
    let mut failed = false;
    for part in stream.chunks(piece) {
        let result = decryptor.update(part);
        assert!(!(failed && result.is_ok()), "a failed stream released more");
        failed |= result.is_err();
    }
    let finished = decryptor.finish();
    assert!(!(failed && finished.is_ok()), "a failed stream finished");
    finished.is_ok()
}

/// `kind (1 byte) ‖ key length (1 byte) ‖ key ‖ signature length (1 byte) ‖ signature ‖
/// message`: signature verification, Ethereum recovery and address parsing.
fn keys(data: &[u8]) -> bool {
    let mut rest = data;
    let mut take = |n: usize| {
        let n = n.min(rest.len());
        let (head, tail) = rest.split_at(n);
        rest = tail;
        head
    };
    let kind = take(1).first().copied().unwrap_or(0);
    let key_len = usize::from(take(1).first().copied().unwrap_or(0));
    let key = take(key_len);
    let sig_len = usize::from(take(1).first().copied().unwrap_or(0));
    let signature = take(sig_len);
    let message = take(usize::MAX);
    let key_type = if kind & 1 == 0 {
        KeyType::Secp256k1
    } else {
        KeyType::Ed25519
    };
    let verified = matches!(crate::verify(key_type, key, message, signature), Ok(true));
    let _ = crate::eth_address(key);
    let recovered = matches!(crate::recover_eth_personal(message, signature), Ok(Some(_)));
    if let Ok(text) = std::str::from_utf8(message) {
        if let Ok(address) = crate::parse_eth_address(text) {
            let _ = crate::verify_eth_personal(&address, key, signature);
        }
    }
    verified || recovered
}

/// Seed inputs for every target, made from the golden fixture: its header, records, one-shot
/// ciphertext and signatures, a backup of the golden keyspace and streams under its data key.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let prefix = record_prefix(&golden().id);
    for (index, (key, value)) in fixture_entries().enumerate() {
        if key.starts_with(b"h/") {
            seeds.push(("header", "golden".to_owned(), value));
        } else if let Some(suffix) = key.strip_prefix(prefix.as_slice()) {
            let name = format!("golden-{index}");
            let data = [&[suffix.len() as u8][..], suffix, &value].concat();
            seeds.push(("record", name, data));
        }
    }
    for ciphertext in fixture("ciphertext") {
        seeds.push(("decrypt", "golden".to_owned(), ciphertext));
    }
    let backup = futures::executor::block_on(async {
        let store = MemoryStore::new();
        for (key, value) in fixture_entries() {
            store
                .set(&key, &value)
                .await
                .expect("a memory store takes it");
        }
        Vault::new(store).export_backup(golden()).await
    })
    .expect("the golden keyspace exports");
    seeds.push(("backup", "golden".to_owned(), backup));
    for (name, len) in [
        ("empty", 0usize),
        ("short", 100),
        ("exact", 2048),
        ("three", 2500),
    ] {
        let plaintext = Zeroizing::new(vec![0x5a; len]);
        let encryptor = crate::stream::StreamEncryptor::with_chunk_size(&golden().data_key, 1024);
        if let Ok(mut encryptor) = encryptor {
            let mut sealed = encryptor.update(&plaintext);
            sealed.extend(encryptor.finish());
            seeds.push(("stream", name.to_owned(), [&[15u8][..], &sealed].concat()));
        }
    }
    let public = |key_type| {
        fixture_entries()
            .filter(|(key, _)| key.starts_with(prefix.as_slice()) && key.get(18) == Some(&b'k'))
            .filter_map(|(key, value)| {
                let record = check_record(golden(), &key, &value).ok()?;
                let private = crate::format::decode_key_pair(&record.payload).ok()?;
                (private.key_type() == key_type).then(|| private.public_key())
            })
            .next()
            .unwrap_or_default()
    };
    let message = b"portable message";
    for (label, kind, key_type) in [
        ("sig-eth", 0u8, KeyType::Secp256k1),
        ("sig-ed", 1, KeyType::Ed25519),
    ] {
        let key = public(key_type);
        for signature in fixture(label) {
            let data = [
                &[kind, key.len() as u8][..],
                &key,
                &[signature.len() as u8],
                &signature,
                message,
            ]
            .concat();
            seeds.push(("keys", label.to_owned(), data));
        }
    }
    for signature in fixture("sig-eth-personal") {
        let data = [&[0u8, 0, signature.len() as u8][..], &signature, message].concat();
        seeds.push(("keys", "sig-eth-personal".to_owned(), data));
    }
    seeds
}
