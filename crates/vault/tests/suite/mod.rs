//! The vault suite, shared by the native tests (memory, sled, redb) and the browser tests
//! (IndexedDB). Each case takes a fresh, empty store.
#![allow(dead_code)]

use std::time::Duration;

use kvstore::{KVStore, Scan};
use vault::{Access, Error, KdfParams, KeyInfo, KeyType, Tampering, UnlockedKeyspace, Vault};

pub mod craft;
mod security;
pub use security::*;
mod sync;
pub use sync::*;
mod wallet;
pub use wallet::*;

pub const PASSWORD: &[u8] = b"correct horse battery staple";

pub fn vault<S: KVStore>(store: S) -> Vault<S> {
    Vault::with_kdf(store, KdfParams::INSECURE_FOR_TESTS).unwrap()
}

/// The names of the keyspace's key pairs, as `list_keys` gives them.
pub async fn key_names<S: KVStore>(v: &Vault<S>, ks: &UnlockedKeyspace) -> Vec<String> {
    v.list_keys(ks)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect()
}

pub async fn dump<S: KVStore>(store: &S) -> Vec<(Vec<u8>, Vec<u8>)> {
    store.scan(Scan::all()).await.unwrap()
}

pub const SECP_PRIVATE: &str = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
pub const ED_PRIVATE: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/// Imports the known private key of `key_type` ([`SECP_PRIVATE`] or [`ED_PRIVATE`]) as `name`.
pub async fn import_known<S: KVStore>(
    v: &Vault<S>,
    ks: &UnlockedKeyspace,
    name: &str,
    key_type: KeyType,
) -> KeyInfo {
    let private = match key_type {
        KeyType::Secp256k1 => SECP_PRIVATE,
        KeyType::Ed25519 => ED_PRIVATE,
        other => panic!("no known key of type {other}"),
    };
    v.import_key(ks, name, key_type, &hex::decode(private).unwrap())
        .await
        .unwrap()
}

/// The whole stateless API, end to end.
pub async fn stateless_api_end_to_end<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    assert!(v.list_keyspaces().await.unwrap().is_empty());
    let ks = v.create_keyspace("personal", PASSWORD).await.unwrap();
    v.create_keyspace("work", b"other password").await.unwrap();
    assert!(matches!(
        v.create_keyspace("work", PASSWORD).await,
        Err(Error::AlreadyExists {
            item: vault::Item::Keyspace,
            ..
        })
    ));
    assert_eq!(v.list_keyspaces().await.unwrap(), vec!["personal", "work"]);

    // Key pairs.
    let secp = v
        .generate_key(&ks, "eth", KeyType::Secp256k1)
        .await
        .unwrap();
    assert_eq!(secp.public_key.len(), 33);
    let ed = v.generate_key(&ks, "ssh", KeyType::Ed25519).await.unwrap();
    assert_eq!(ed.public_key.len(), 32);
    let imported = import_known(&v, &ks, "imported", KeyType::Secp256k1).await;
    assert_eq!(
        vault::eth_checksum_address(&imported.eth_address().unwrap()),
        "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
    );
    assert!(matches!(
        v.generate_key(&ks, "eth", KeyType::Ed25519).await,
        Err(Error::AlreadyExists {
            item: vault::Item::KeyPair,
            ..
        })
    ));
    assert!(matches!(
        v.import_key(&ks, "bad", KeyType::Secp256k1, &[0u8; 32])
            .await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        v.import_key(&ks, "short", KeyType::Ed25519, &[1u8; 31])
            .await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(key_names(&v, &ks).await, ["eth", "imported", "ssh"]);
    assert_eq!(v.key_info(&ks, "ssh").await.unwrap(), ed);

    // Sign and verify, with only public keys.
    let message = b"transfer 1 coin";
    for key in [&secp, &ed] {
        let signature = v.sign(&ks, &key.name, message).await.unwrap();
        assert_eq!(signature.len(), 64);
        assert!(vault::verify(key.key_type, &key.public_key, message, &signature).unwrap());
        assert!(!vault::verify(key.key_type, &key.public_key, b"other", &signature).unwrap());
    }
    let eth_sig = v.sign_eth_personal(&ks, "eth", message).await.unwrap();
    let address = secp.eth_address().unwrap();
    assert!(vault::verify_eth_personal(&address, message, &eth_sig).unwrap());
    assert!(matches!(
        v.sign_eth_personal(&ks, "ssh", message).await,
        Err(Error::InvalidInput(_))
    ));

    // Rename, export, delete.
    v.rename_key(&ks, "ssh", "ssh-2025").await.unwrap();
    assert!(matches!(
        v.key_info(&ks, "ssh").await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        v.key_info(&ks, "ssh-2025").await.unwrap().public_key,
        ed.public_key
    );
    assert!(matches!(
        v.rename_key(&ks, "ssh-2025", "eth").await,
        Err(Error::AlreadyExists { .. })
    ));
    let exported = v.export_private_key(&ks, "imported").await.unwrap();
    assert_eq!(hex::encode(&*exported), SECP_PRIVATE);
    v.delete_key(&ks, "ssh-2025").await.unwrap();
    assert!(matches!(
        v.delete_key(&ks, "ssh-2025").await,
        Err(Error::NotFound { .. })
    ));

    // Secrets.
    v.set_secret(&ks, "github token", b"ghp_abc").await.unwrap();
    v.set_secret(&ks, "empty", b"").await.unwrap();
    v.set_secret(&ks, "github token", b"ghp_new").await.unwrap();
    assert_eq!(
        &*v.get_secret(&ks, "github token").await.unwrap(),
        b"ghp_new"
    );
    assert_eq!(&*v.get_secret(&ks, "empty").await.unwrap(), b"");
    assert_eq!(
        v.list_secrets(&ks).await.unwrap(),
        vec!["empty", "github token"]
    );
    v.set_secrets(&ks, &[("bulk 1", b"one".as_slice()), ("bulk 2", b"two")])
        .await
        .unwrap();
    assert_eq!(&*v.get_secret(&ks, "bulk 2").await.unwrap(), b"two");
    assert!(matches!(
        v.set_secrets(&ks, &[("bulk 3", b"x".as_slice()), ("", b"bad name")])
            .await,
        Err(Error::InvalidInput(_))
    ));
    assert!(
        matches!(
            v.get_secret(&ks, "bulk 3").await,
            Err(Error::NotFound { .. })
        ),
        "nothing of a failed bulk write"
    );
    v.delete_secret(&ks, "bulk 1").await.unwrap();
    v.delete_secret(&ks, "bulk 2").await.unwrap();
    v.delete_secret(&ks, "empty").await.unwrap();
    assert!(matches!(
        v.get_secret(&ks, "empty").await,
        Err(Error::NotFound {
            item: vault::Item::Secret,
            ..
        })
    ));
    assert!(matches!(
        v.get_secret(&ks, "").await,
        Err(Error::InvalidInput(_))
    ));

    // The password form of access does the same, unlocking for the one call.
    let by_password = Access::Password {
        keyspace: "personal",
        password: PASSWORD,
    };
    assert_eq!(
        &*v.get_secret(by_password, "github token").await.unwrap(),
        b"ghp_new"
    );
    let wrong = Access::Password {
        keyspace: "personal",
        password: b"nope",
    };
    assert!(matches!(
        v.get_secret(wrong, "github token").await,
        Err(Error::WrongPassword { .. })
    ));

    // Keyspaces are separate.
    let work = v.unlock("work", b"other password").await.unwrap();
    assert!(v.list_keys(&work).await.unwrap().is_empty());
    assert!(matches!(
        v.get_secret(&work, "github token").await,
        Err(Error::NotFound { .. })
    ));

    // Encryption.
    let ciphertext = v.encrypt(&ks, b"attack at dawn").await.unwrap();
    assert_eq!(ciphertext.len(), 14 + vault::CIPHERTEXT_OVERHEAD);
    assert_eq!(
        vault::CIPHERTEXT_OVERHEAD,
        42,
        "docs/FORMAT.md: 2 + 24 + 16"
    );
    assert_eq!(
        &ciphertext[..2],
        &[2, 1],
        "version and algorithm lead the ciphertext"
    );
    assert_eq!(
        &*v.decrypt(&ks, &ciphertext).await.unwrap(),
        b"attack at dawn"
    );
    assert!(matches!(
        v.decrypt(&work, &ciphertext).await,
        Err(Error::DecryptionFailed(_))
    ));
    let mut tampered = ciphertext.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(matches!(
        v.decrypt(&ks, &tampered).await,
        Err(Error::DecryptionFailed(_))
    ));
    assert!(v.decrypt(&ks, &[]).await.is_err());

    // Backup round trip into another vault.
    let backup = v.export_backup(&ks).await.unwrap();
    let other = vault(kvstore::MemoryStore::new());
    assert!(matches!(
        other.import_backup(&backup, b"wrong").await,
        Err(Error::WrongPassword { .. })
    ));
    assert_eq!(
        other.import_backup(&backup, PASSWORD).await.unwrap(),
        "personal"
    );
    let restored = other.unlock("personal", PASSWORD).await.unwrap();
    assert_eq!(
        other.list_keys(&restored).await.unwrap(),
        v.list_keys(&ks).await.unwrap()
    );
    assert_eq!(
        &*other.get_secret(&restored, "github token").await.unwrap(),
        b"ghp_new"
    );
    assert!(matches!(
        other.import_backup(&backup, PASSWORD).await,
        Err(Error::AlreadyExists { .. })
    ));
    let mut altered = backup.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 0x40;
    let third = vault(kvstore::MemoryStore::new());
    assert!(third.import_backup(&altered, PASSWORD).await.is_err());
    assert!(
        third.list_keyspaces().await.unwrap().is_empty(),
        "a bad backup wrote something"
    );

    // Delete needs the password and removes everything of that keyspace only.
    assert!(matches!(
        v.delete_keyspace("personal", b"nope").await,
        Err(Error::WrongPassword { .. })
    ));
    v.delete_keyspace("personal", PASSWORD).await.unwrap();
    assert_eq!(v.list_keyspaces().await.unwrap(), vec!["work"]);
    assert!(matches!(
        v.unlock("personal", PASSWORD).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        dump(v.store())
            .await
            .iter()
            .map(|(k, _)| k[..2].to_vec())
            .collect::<Vec<_>>(),
        [b"h/", b"i/", b"m/"],
        "only work's header, id claim and (empty keyspace's) manifest remain"
    );
}

/// Streams of every interesting size round-trip; truncation, reordering, extension and
/// splicing are rejected.
pub async fn streams_round_trip_and_detect_tampering<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let ks = v.create_keyspace("files", PASSWORD).await.unwrap();
    let chunk = vault::CHUNK_SIZE;
    let encrypt = |data: &[u8], piece: usize| {
        let v = &v;
        let ks = &ks;
        let data = data.to_vec();
        async move {
            let mut enc = v.encrypt_stream(ks).await.unwrap();
            let mut out = Vec::new();
            for part in data.chunks(piece.max(1)) {
                out.extend(enc.update(part));
            }
            out.extend(enc.finish());
            out
        }
    };
    let decrypt = |data: Vec<u8>, piece: usize| {
        let v = &v;
        let ks = &ks;
        async move {
            let mut dec = v.decrypt_stream(ks).await.unwrap();
            let mut out = Vec::new();
            for part in data.chunks(piece.max(1)) {
                out.extend_from_slice(&dec.update(part)?);
            }
            out.extend_from_slice(&dec.finish()?);
            Ok::<_, Error>(out)
        }
    };
    for size in [
        0,
        1,
        1000,
        chunk - 1,
        chunk,
        chunk + 1,
        2 * chunk,
        3 * chunk + 17,
    ] {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        for piece in [7, 4096, chunk + 5] {
            let sealed = encrypt(&data, piece).await;
            assert_eq!(
                decrypt(sealed.clone(), piece).await.unwrap(),
                data,
                "size {size}, piece {piece}"
            );
        }
    }
    let data: Vec<u8> = (0..3 * chunk + 100).map(|i| i as u8).collect();
    let sealed = encrypt(&data, 10_000).await;
    let header = 42;
    let sealed_chunk = chunk + 16;
    // Truncated at a chunk boundary (drop the last chunk), mid-chunk, or to the header.
    for cut in [
        header + 3 * sealed_chunk,
        sealed.len() - 1,
        header + 5,
        header,
        10,
    ] {
        assert!(
            decrypt(sealed[..cut].to_vec(), 4096).await.is_err(),
            "truncated at {cut}"
        );
    }
    // Two chunks swapped.
    let mut swapped = sealed[..header].to_vec();
    swapped.extend_from_slice(&sealed[header + sealed_chunk..header + 2 * sealed_chunk]);
    swapped.extend_from_slice(&sealed[header..header + sealed_chunk]);
    swapped.extend_from_slice(&sealed[header + 2 * sealed_chunk..]);
    assert!(decrypt(swapped, 4096).await.is_err());
    // Data appended after the end.
    let mut extended = sealed.clone();
    extended.extend_from_slice(&[0u8; 16]);
    assert!(decrypt(extended, 4096).await.is_err());
    // A chunk spliced in from another stream of the same keyspace.
    let other = encrypt(&data, 10_000).await;
    let mut spliced = sealed.clone();
    spliced[header..header + sealed_chunk].copy_from_slice(&other[header..header + sealed_chunk]);
    assert!(decrypt(spliced, 4096).await.is_err());
    // A flipped byte anywhere.
    for at in [0, 5, 20, header + 1, sealed.len() / 2, sealed.len() - 1] {
        let mut flipped = sealed.clone();
        flipped[at] ^= 0x01;
        assert!(decrypt(flipped, 4096).await.is_err(), "flip at {at}");
    }
}

/// The session API, end to end: select, sign, secrets, lock, expiry, and a password change
/// made elsewhere.
pub async fn session_api_end_to_end<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    v.create_keyspace("wallet", PASSWORD).await.unwrap();
    let mut session = v
        .open_session("wallet", PASSWORD, Default::default())
        .await
        .unwrap();
    assert!(!session.is_locked());
    let info = session
        .generate_key("main", KeyType::Secp256k1)
        .await
        .unwrap();
    assert!(
        matches!(session.sign(b"x").await, Err(Error::InvalidInput(_))),
        "no key selected"
    );
    session.select_key("main").await.unwrap();
    let signature = session.sign(b"hello").await.unwrap();
    assert!(vault::verify(KeyType::Secp256k1, &info.public_key, b"hello", &signature).unwrap());
    let eth = session.sign_eth_personal(b"hello").await.unwrap();
    assert_eq!(
        vault::recover_eth_personal(b"hello", &eth).unwrap(),
        info.eth_address()
    );
    session.set_secret("seed", b"words").await.unwrap();
    assert_eq!(&*session.get_secret("seed").await.unwrap(), b"words");
    let ciphertext = session.encrypt(b"data").await.unwrap();
    // Both APIs share one core: what the session wrote, the stateless API reads.
    let ks = v.unlock("wallet", PASSWORD).await.unwrap();
    assert_eq!(&*v.decrypt(&ks, &ciphertext).await.unwrap(), b"data");
    assert_eq!(&*v.get_secret(&ks, "seed").await.unwrap(), b"words");

    // A password change elsewhere leaves this session working.
    v.change_password("wallet", PASSWORD, b"new password")
        .await
        .unwrap();
    assert_eq!(&*session.get_secret("seed").await.unwrap(), b"words");
    assert!(matches!(
        v.unlock("wallet", PASSWORD).await,
        Err(Error::WrongPassword { .. })
    ));

    session.rename_key("main", "primary").await.unwrap();
    assert_eq!(session.current_key(), Some("primary"));

    session.lock();
    assert!(session.is_locked());
    assert!(matches!(
        session.get_secret("seed").await,
        Err(Error::Locked)
    ));
    assert!(matches!(
        session.sign(b"x").await,
        Err(Error::InvalidInput(_)) | Err(Error::Locked)
    ));
    assert!(matches!(
        session.unlock(PASSWORD).await,
        Err(Error::WrongPassword { .. })
    ));
    session.unlock(b"new password").await.unwrap();
    assert_eq!(session.list_secrets().await.unwrap(), vec!["seed"]);

    // Idle expiry, checked on the next call.
    session.set_idle_timeout(Some(Duration::ZERO));
    assert!(session.is_locked());
    assert!(matches!(session.list_keys().await, Err(Error::Locked)));
    session.set_idle_timeout(Some(Duration::from_secs(3600)));
    assert!(
        matches!(session.list_keys().await, Err(Error::Locked)),
        "expiry locked it for good"
    );
    session.unlock(b"new password").await.unwrap();
    assert_eq!(session.list_keys().await.unwrap().len(), 1);
}

/// A wrong password changes nothing in the store, for unlock, password change and delete.
pub async fn wrong_password_leaves_store_unchanged<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let ks = v.create_keyspace("k", PASSWORD).await.unwrap();
    v.set_secret(&ks, "s", b"v").await.unwrap();
    let before = dump(v.store()).await;
    assert!(matches!(
        v.unlock("k", b"wrong").await,
        Err(Error::WrongPassword { .. })
    ));
    assert!(matches!(
        v.change_password("k", b"wrong", b"new").await,
        Err(Error::WrongPassword { .. })
    ));
    assert!(matches!(
        v.delete_keyspace("k", b"wrong").await,
        Err(Error::WrongPassword { .. })
    ));
    assert!(matches!(
        v.open_session("k", b"wrong", Default::default()).await,
        Err(Error::WrongPassword { .. })
    ));
    // A stronger-KDF vault would upgrade on unlock, but not with a wrong password.
    let stronger = Vault::with_kdf(v.store().clone(), KdfParams::MIN).unwrap();
    assert!(matches!(
        stronger.unlock("k", b"wrong").await,
        Err(Error::WrongPassword { .. })
    ));
    assert_eq!(dump(v.store()).await, before);
}

/// Unlock with a vault configured for stronger parameters re-wraps the key with them.
pub async fn weaker_kdf_parameters_are_upgraded_on_unlock<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    v.create_keyspace("k", PASSWORD).await.unwrap();
    let strong = KdfParams::MIN;
    let stronger = Vault::with_kdf(v.store().clone(), strong).unwrap();
    stronger.unlock("k", PASSWORD).await.unwrap();
    assert_eq!(v.keyspace_kdf("k").await.unwrap(), strong);
    v.unlock("k", PASSWORD)
        .await
        .expect("still opens after the upgrade");
    assert_eq!(
        v.keyspace_kdf("k").await.unwrap(),
        strong,
        "never downgraded"
    );
}

/// Every single-byte change of every stored record gives an error, never other plaintext.
pub async fn every_byte_flip_of_every_record_is_detected<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let ks = v.create_keyspace("k", PASSWORD).await.unwrap();
    import_known(&v, &ks, "key", KeyType::Ed25519).await;
    v.set_secret(&ks, "secret", b"value").await.unwrap();
    // Header, manifest, buckets and two records; the id claim guards ids against hostile
    // backups only and is not authenticated (see docs/SECURITY.md).
    let records: Vec<_> = dump(v.store())
        .await
        .into_iter()
        .filter(|(key, _)| !key.starts_with(b"i/"))
        .collect();
    assert_eq!(
        records.iter().filter(|(k, _)| k.starts_with(b"r/")).count(),
        2
    );
    assert_eq!(
        records.iter().filter(|(k, _)| k.starts_with(b"m/")).count(),
        1
    );
    assert!(records.iter().any(|(k, _)| k.starts_with(b"b/")));
    for (key, value) in &records {
        for at in 0..value.len() {
            let mut flipped = value.clone();
            flipped[at] ^= 0xFF;
            v.store().set(key, &flipped).await.unwrap();
            if key.starts_with(b"h/") || key.starts_with(b"m/") {
                assert!(
                    v.unlock("k", PASSWORD).await.is_err(),
                    "header or manifest flip at {at} unnoticed"
                );
            }
            if !key.starts_with(b"h/") {
                // A point read takes a bucket this keyspace value already checked from memory
                // (the manifest's digest binds it), so a flipped bucket is for a reader that
                // has not seen it yet: a fresh unlock.
                let fresh;
                let reader = if key.starts_with(b"b/") {
                    assert_eq!(&*v.get_secret(&ks, "secret").await.unwrap(), b"value");
                    fresh = v.unlock("k", PASSWORD).await.unwrap();
                    &fresh
                } else {
                    &ks
                };
                let key_info = v.key_info(reader, "key").await;
                let secret = v.get_secret(reader, "secret").await;
                assert!(
                    key_info.is_err() || secret.is_err(),
                    "record flip at {at} unnoticed"
                );
                if let Ok(secret) = secret {
                    assert_eq!(&*secret, b"value");
                }
                assert!(v.list_keys(&ks).await.is_err() || v.list_secrets(&ks).await.is_err());
            }
            v.store().set(key, value).await.unwrap();
        }
    }
    assert_eq!(&*v.get_secret(&ks, "secret").await.unwrap(), b"value");
}

/// A record copied or swapped to another name or keyspace fails to decrypt.
pub async fn moved_or_swapped_records_are_detected<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let a = v.create_keyspace("a", PASSWORD).await.unwrap();
    let b = v.create_keyspace("b", PASSWORD).await.unwrap();
    v.set_secret(&a, "one", b"1").await.unwrap();
    v.set_secret(&a, "two", b"2").await.unwrap();
    v.set_secret(&b, "one", b"b1").await.unwrap();
    let entries = dump(v.store()).await;
    let records: Vec<_> = entries
        .iter()
        .filter(|(k, _)| k.starts_with(b"r/"))
        .cloned()
        .collect();
    assert_eq!(records.len(), 3);
    let before = dump(v.store()).await;
    // Every ordered pair: put record i's value under record j's key.
    for (ki, vi) in &records {
        for (kj, vj) in &records {
            if ki == kj {
                continue;
            }
            v.store().set(kj, vi).await.unwrap();
            for (ks, name) in [(&a, "one"), (&a, "two"), (&b, "one")] {
                if let Ok(value) = v.get_secret(ks, name).await {
                    let expected: &[u8] = match (ks.name(), name) {
                        ("a", "one") => b"1",
                        ("a", "two") => b"2",
                        _ => b"b1",
                    };
                    assert_eq!(
                        &*value,
                        expected,
                        "a moved record decrypted as {name} in {}",
                        ks.name()
                    );
                }
            }
            v.store().set(kj, vj).await.unwrap();
        }
    }
    assert_eq!(dump(v.store()).await, before);
    // Swapping keyspace headers between names is detected too.
    let (ha, hb) = (
        v.store().get(b"h/a").await.unwrap().unwrap(),
        v.store().get(b"h/b").await.unwrap().unwrap(),
    );
    v.store().set(b"h/a", &hb).await.unwrap();
    v.store().set(b"h/b", &ha).await.unwrap();
    assert!(v.unlock("a", PASSWORD).await.is_err());
    assert!(v.unlock("b", PASSWORD).await.is_err());
}

/// No key-pair or secret name appears anywhere in the stored bytes.
pub async fn names_never_appear_in_storage<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let ks = v.create_keyspace("k", PASSWORD).await.unwrap();
    v.generate_key(&ks, "treasury-cold-wallet", KeyType::Secp256k1)
        .await
        .unwrap();
    v.set_secret(&ks, "bank-login-password", b"hunter2-secret-value")
        .await
        .unwrap();
    v.rename_key(&ks, "treasury-cold-wallet", "renamed-hot-wallet")
        .await
        .unwrap();
    let mut raw = Vec::new();
    for (key, value) in dump(v.store()).await {
        raw.extend(key);
        raw.extend(value);
    }
    for needle in [
        &b"treasury-cold-wallet"[..],
        b"renamed-hot-wallet",
        b"bank-login-password",
        b"hunter2-secret-value",
        b"wallet",
        b"bank",
    ] {
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle),
            "{:?} found in storage",
            String::from_utf8_lossy(needle)
        );
    }
}

/// A batch of equal values (one call to the random source for all its nonces) stores records
/// that all differ, each with its own nonce, and each reads back; more than one IndexedDB chunk.
pub async fn batch_records_get_distinct_nonces<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let ks = v.create_keyspace("k", PASSWORD).await.unwrap();
    let before = dump(v.store())
        .await
        .iter()
        .filter(|(k, _)| k.starts_with(b"r/"))
        .count();
    let names: Vec<String> = (0..300).map(|i| format!("secret {i}")).collect();
    let secrets: Vec<(&str, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), &b"same value"[..]))
        .collect();
    v.set_secrets(&ks, &secrets).await.unwrap();
    let records = dump(v.store()).await;
    assert_eq!(
        records.iter().filter(|(k, _)| k.starts_with(b"r/")).count(),
        before + 300
    );
    // Record layout (docs/FORMAT.md): version byte, revision (8 bytes), then the 24-byte nonce.
    let mut nonces: Vec<&[u8]> = records
        .iter()
        .filter(|(key, _)| key.starts_with(b"r/"))
        .map(|(_, value)| &value[9..33])
        .collect();
    assert_eq!(nonces.len(), 300);
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 300, "a nonce was repeated within one batch");
    for name in [&names[0], &names[150], &names[299]] {
        assert_eq!(&*v.get_secret(&ks, name).await.unwrap(), b"same value");
    }
}

/// A header with absurd KDF parameters is rejected before any KDF work.
pub async fn hostile_kdf_parameters_are_rejected<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    v.create_keyspace("k", PASSWORD).await.unwrap();
    let header = v.store().get(b"h/k").await.unwrap().unwrap();
    // Offsets: version, kdf id, memory (u32 LE at 2), iterations (at 6), parallelism (at 10).
    for (offset, value) in [
        (2, u32::MAX),
        (2, 4 << 20),
        (6, u32::MAX),
        (6, 1000),
        (10, 64),
        (10, 0),
        (6, 0),
    ] {
        let mut hostile = header.clone();
        hostile[offset..offset + 4].copy_from_slice(&u32::to_le_bytes(value));
        v.store().set(b"h/k", &hostile).await.unwrap();
        assert!(
            matches!(v.unlock("k", PASSWORD).await, Err(Error::Corrupted(_))),
            "offset {offset} value {value}"
        );
    }
    assert!(Vault::with_kdf(
        kvstore::MemoryStore::new(),
        KdfParams {
            memory_kib: 1 << 30,
            iterations: 1,
            parallelism: 1
        }
    )
    .is_err());
}

/// Known-answer tests: RFC 8032 Ed25519 test 1 and an Ethereum personal-sign signature.
pub async fn standard_vectors_match<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let ks = v.create_keyspace("vectors", PASSWORD).await.unwrap();
    let ed = import_known(&v, &ks, "rfc8032", KeyType::Ed25519).await;
    assert_eq!(
        hex::encode(&ed.public_key),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    assert_eq!(
        hex::encode(v.sign(&ks, "rfc8032", b"").await.unwrap()),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
    import_known(&v, &ks, "eth", KeyType::Secp256k1).await;
    assert_eq!(
        hex::encode(vault::eth_personal_hash(b"Some data")),
        "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"
    );
    let signature = v.sign_eth_personal(&ks, "eth", b"Some data").await.unwrap();
    assert_eq!(
        hex::encode(signature),
        "b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c"
    );
    let address = vault::parse_eth_address("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23").unwrap();
    assert!(vault::verify_eth_personal(&address, b"Some data", &signature).unwrap());
    assert!(!vault::verify_eth_personal(&address, b"Other data", &signature).unwrap());
}

/// Expands every case for one store constructor. `$attr` is the test attribute; `$run` turns
/// the case future into the test body (`block_on` natively, `.await` in the browser).
#[macro_export]
macro_rules! vault_suite {
    ($mode:tt, $open:expr) => {
        $crate::vault_suite!(@each $mode, $open, stateless_api_end_to_end, streams_round_trip_and_detect_tampering,
            session_api_end_to_end, wrong_password_leaves_store_unchanged,
            weaker_kdf_parameters_are_upgraded_on_unlock, every_byte_flip_of_every_record_is_detected,
            moved_or_swapped_records_are_detected, names_never_appear_in_storage,
            hostile_kdf_parameters_are_rejected, standard_vectors_match, wycheproof_signature_vectors,
            batch_records_get_distinct_nonces, hostile_backup_cannot_alias_another_keyspace,
            deleting_a_keyspace_removes_only_what_it_owns, import_checks_every_record_before_writing,
            export_refuses_what_would_not_import, rekey_revokes_the_old_key_and_password,
            ed25519_verification_is_strict, kdf_upgrade_never_lowers_a_parameter,
            names_from_storage_are_checked_and_new_names_refuse_invisible_characters,
            streams_reject_an_empty_final_chunk_and_stay_failed,
            ciphertexts_and_streams_of_both_versions_decrypt,
            ethereum_addresses_and_signatures_are_parsed_strictly,
            versions_below_any_written_are_corrupted,
            session_idle_deadline_wipes_keys_without_a_call, session_rekey_keeps_the_session_working,
            streams_as_io_writers_and_readers, keyspace_revisions_count_changes,
            replayed_resurrected_and_removed_records_are_caught,
            a_rolled_back_keyspace_is_caught_against_what_was_seen,
            two_devices_converge_through_a_remote, a_sync_conflict_keeps_the_losing_value_as_history,
            a_password_change_reaches_the_other_device, a_rekey_reaches_the_other_devices,
            hd_seeds_derive_keys_into_the_keyspace, ethereum_signing_and_keystores_through_the_vault,
            a_lying_remote_is_caught);
    };
    (@each blocking, $open:expr, $($case:ident),*) => {
        $(
            #[test]
            fn $case() {
                futures::executor::block_on(async {
                    let (store, _guard) = ($open)().await;
                    $crate::suite::$case(store).await;
                })
            }
        )*
    };
    (@each wasm, $open:expr, $($case:ident),*) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn $case() {
                let (store, _guard) = ($open)().await;
                $crate::suite::$case(store).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------- manifest

/// The entries of keyspace `name` (its header, manifest, buckets and records) as stored now.
async fn keyspace_entries<S: KVStore>(store: &S, name: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let header = store
        .get(&[b"h/".as_slice(), name.as_bytes()].concat())
        .await
        .unwrap()
        .unwrap();
    let id = &header[30..46];
    let mut out = vec![([b"h/".as_slice(), name.as_bytes()].concat(), header.clone())];
    for prefix in [b"m/", b"b/", b"r/"] {
        out.extend(
            store
                .scan_all(&[prefix.as_slice(), id].concat())
                .await
                .unwrap(),
        );
    }
    out
}

/// The storage key of the only record written since `before`.
fn new_record_key(before: &[(Vec<u8>, Vec<u8>)], after: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let new: Vec<&Vec<u8>> = after
        .iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with(b"r/") && !before.iter().any(|(b, _)| b == *k))
        .collect();
    assert_eq!(new.len(), 1);
    new[0].clone()
}

fn tampering<T: std::fmt::Debug>(result: Result<T, Error>) -> Tampering {
    match result {
        Err(err @ Error::Tampered { .. }) => {
            assert_eq!(err.code(), vault::ErrorCode::Tampered);
            assert_eq!(err.code().as_str(), "TAMPERED");
            let Error::Tampered { tampering, .. } = err else {
                unreachable!()
            };
            tampering
        }
        other => panic!("expected Tampered, got {other:?}"),
    }
}

/// The revision goes up by one with every change: a set, a create, a rename, a delete, a whole
/// batch of secrets; reads and failed writes leave it alone.
pub async fn keyspace_revisions_count_changes<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let ks = v.create_keyspace("k", PASSWORD).await.unwrap();
    assert_eq!(v.keyspace_revision(&ks).await.unwrap(), 1);
    v.set_secret(&ks, "a", b"1").await.unwrap();
    v.set_secret(&ks, "a", b"2").await.unwrap();
    assert_eq!(v.keyspace_revision(&ks).await.unwrap(), 3);
    v.set_secrets(&ks, &[("b", b"x".as_slice()), ("c", b"y"), ("d", b"z")])
        .await
        .unwrap();
    assert_eq!(v.keyspace_revision(&ks).await.unwrap(), 4);
    v.generate_key(&ks, "key", KeyType::Ed25519).await.unwrap();
    v.rename_key(&ks, "key", "renamed").await.unwrap();
    v.delete_secret(&ks, "b").await.unwrap();
    assert_eq!(v.keyspace_revision(&ks).await.unwrap(), 7);
    // Reads and refused writes change nothing.
    v.get_secret(&ks, "a").await.unwrap();
    v.list_secrets(&ks).await.unwrap();
    assert!(v.delete_secret(&ks, "b").await.is_err());
    assert!(v
        .generate_key(&ks, "renamed", KeyType::Ed25519)
        .await
        .is_err());
    assert_eq!(v.keyspace_revision(&ks).await.unwrap(), 7);
    assert_eq!(ks.revision_seen(), 7);
    // Password access too, and the session API.
    let access = Access::Password {
        keyspace: "k",
        password: PASSWORD,
    };
    assert_eq!(v.keyspace_revision(access).await.unwrap(), 7);
    let mut session = v
        .open_session("k", PASSWORD, Default::default())
        .await
        .unwrap();
    session.set_secret("e", b"1").await.unwrap();
    assert_eq!(session.keyspace_revision().await.unwrap(), 8);
    // A rekey continues the count under the new id.
    let new = v.rekey("k", PASSWORD, PASSWORD).await.unwrap();
    assert_eq!(v.keyspace_revision(&new).await.unwrap(), 9);
}

/// An older value of a record put back, a deleted record put back, and a record removed: each
/// is reported as tampering by the read of that record, by listings and by export, and never
/// returns the stale value.
pub async fn replayed_resurrected_and_removed_records_are_caught<S: KVStore + Clone>(store: S) {
    let v = vault(store.clone());
    let ks = v.create_keyspace("k", PASSWORD).await.unwrap();

    // Replay: the first value of "a" put back after a second one.
    let before = keyspace_entries(&store, "k").await;
    v.set_secret(&ks, "a", b"first").await.unwrap();
    let a_key = new_record_key(&before, &keyspace_entries(&store, "k").await);
    let first = store.get(&a_key).await.unwrap().unwrap();
    v.set_secret(&ks, "a", b"second").await.unwrap();
    let second = store.get(&a_key).await.unwrap().unwrap();
    store.set(&a_key, &first).await.unwrap();
    let replayed = Tampering::Replayed {
        item: vault::Item::Secret,
        name: "a".into(),
    };
    assert_eq!(tampering(v.get_secret(&ks, "a").await), replayed);
    assert_eq!(tampering(v.list_secrets(&ks).await), replayed);
    assert_eq!(tampering(v.export_backup(&ks).await), replayed);
    let err = v.get_secret(&ks, "a").await.unwrap_err().to_string();
    assert!(
        err.contains("older value") && !err.contains("first"),
        "{err}"
    );
    store.set(&a_key, &second).await.unwrap();
    assert_eq!(&*v.get_secret(&ks, "a").await.unwrap(), b"second");

    // A key pair's older value (renamed away and back: same key, older revision).
    let before = keyspace_entries(&store, "k").await;
    import_known(&v, &ks, "key", KeyType::Ed25519).await;
    let key_key = new_record_key(&before, &keyspace_entries(&store, "k").await);
    let old_key = store.get(&key_key).await.unwrap().unwrap();
    v.rename_key(&ks, "key", "tmp").await.unwrap();
    v.rename_key(&ks, "tmp", "key").await.unwrap();
    store.set(&key_key, &old_key).await.unwrap();
    assert!(matches!(
        tampering(v.sign(&ks, "key", b"m").await),
        Tampering::Replayed {
            item: vault::Item::KeyPair,
            ..
        }
    ));
    assert!(matches!(
        tampering(v.list_keys(&ks).await),
        Tampering::Replayed { .. }
    ));
    v.delete_key(&ks, "key").await.unwrap();

    // Resurrection: "b" deleted, then its record put back.
    let before = keyspace_entries(&store, "k").await;
    v.set_secret(&ks, "b", b"gone").await.unwrap();
    let b_key = new_record_key(&before, &keyspace_entries(&store, "k").await);
    let b_value = store.get(&b_key).await.unwrap().unwrap();
    v.delete_secret(&ks, "b").await.unwrap();
    assert!(matches!(
        v.get_secret(&ks, "b").await,
        Err(Error::NotFound { .. })
    ));
    store.set(&b_key, &b_value).await.unwrap();
    let resurrected = Tampering::Resurrected {
        item: vault::Item::Secret,
        name: "b".into(),
    };
    assert_eq!(tampering(v.get_secret(&ks, "b").await), resurrected);
    assert_eq!(tampering(v.list_secrets(&ks).await), resurrected);
    store.delete(&b_key).await.unwrap();

    // Deletion: "c"'s record removed behind the vault's back.
    let before = keyspace_entries(&store, "k").await;
    v.set_secret(&ks, "c", b"kept").await.unwrap();
    let c_key = new_record_key(&before, &keyspace_entries(&store, "k").await);
    let c_value = store.get(&c_key).await.unwrap().unwrap();
    store.delete(&c_key).await.unwrap();
    assert_eq!(
        tampering(v.get_secret(&ks, "c").await),
        Tampering::Missing {
            item: vault::Item::Secret,
            name: Some("c".into())
        }
    );
    assert_eq!(
        tampering(v.list_secrets(&ks).await),
        Tampering::Missing {
            item: vault::Item::Secret,
            name: None
        }
    );
    store.set(&c_key, &c_value).await.unwrap();
    assert_eq!(v.list_secrets(&ks).await.unwrap(), ["a", "c"]);

    // A record moved between the keyspace's own buckets or names still fails as before.
    store.set(&c_key, &second).await.unwrap();
    assert!(matches!(
        v.get_secret(&ks, "c").await,
        Err(Error::Corrupted(_))
    ));
    store.set(&c_key, &c_value).await.unwrap();

    // A manifest or bucket removed or altered.
    let id = &store.get(b"h/k").await.unwrap().unwrap()[30..46];
    let manifest_key = [b"m/".as_slice(), id].concat();
    let manifest = store.get(&manifest_key).await.unwrap().unwrap();
    store.delete(&manifest_key).await.unwrap();
    assert!(matches!(
        tampering(v.unlock("k", PASSWORD).await),
        Tampering::ManifestInvalid { .. }
    ));
    assert!(matches!(
        tampering(v.get_secret(&ks, "a").await),
        Tampering::ManifestInvalid { .. }
    ));
    store.set(&manifest_key, &manifest).await.unwrap();
    let buckets = store
        .scan_all(&[b"b/".as_slice(), id].concat())
        .await
        .unwrap();
    store.delete(&buckets[0].0).await.unwrap();
    assert!(matches!(
        tampering(v.list_secrets(&ks).await),
        Tampering::ManifestInvalid { .. }
    ));
    store.set(&buckets[0].0, &buckets[0].1).await.unwrap();
    assert_eq!(v.list_secrets(&ks).await.unwrap(), ["a", "c"]);
}

/// A whole keyspace put back to an older consistent state (manifest, buckets and records
/// together) is caught by every keyspace value that saw a later revision, by a session after
/// lock and unlock, and by a fresh unlock anchored at the later revision; a fresh unlock without
/// an anchor reads the old state (docs/SECURITY.md: only an anchor catches it).
pub async fn a_rolled_back_keyspace_is_caught_against_what_was_seen<S: KVStore + Clone>(store: S) {
    let v = vault(store.clone());
    let ks = v.create_keyspace("k", PASSWORD).await.unwrap();
    v.set_secret(&ks, "a", b"old").await.unwrap();
    let old_state = keyspace_entries(&store, "k").await;
    let mut session = v
        .open_session("k", PASSWORD, Default::default())
        .await
        .unwrap();
    v.set_secret(&ks, "a", b"new").await.unwrap();
    v.set_secret(&ks, "b", b"new too").await.unwrap();
    let latest = v.keyspace_revision(&ks).await.unwrap();
    assert_eq!(latest, 4);
    assert_eq!(&*session.get_secret("a").await.unwrap(), b"new");
    let new_state = keyspace_entries(&store, "k").await;

    // Put the old state back: every entry of the keyspace as it was, nothing newer.
    for (key, _) in &new_state {
        store.delete(key).await.unwrap();
    }
    for (key, value) in &old_state {
        store.set(key, value).await.unwrap();
    }
    let rolled_back = Tampering::RolledBack {
        seen: latest,
        found: 2,
    };
    assert_eq!(tampering(v.get_secret(&ks, "a").await), rolled_back);
    assert_eq!(tampering(v.set_secret(&ks, "c", b"x").await), rolled_back);
    assert_eq!(tampering(session.get_secret("a").await), rolled_back);
    session.lock();
    assert_eq!(tampering(session.unlock(PASSWORD).await), rolled_back);
    // Consistent as a whole: without an anchor, a fresh unlock cannot tell.
    let fresh = v.unlock("k", PASSWORD).await.unwrap();
    assert_eq!(&*v.get_secret(&fresh, "a").await.unwrap(), b"old");
    assert_eq!(v.keyspace_revision(&fresh).await.unwrap(), 2);
    fresh.anchor_revision(latest);
    assert_eq!(tampering(v.get_secret(&fresh, "a").await), rolled_back);
    assert_eq!(fresh.revision_seen(), latest);
}

// ---------------------------------------------------------------------- golden fixtures

pub const GOLDEN_PASSWORD: &[u8] = b"golden password";
pub const GOLDEN_MESSAGE: &[u8] = b"portable message";

/// Writes the golden keyspace into `store` and returns the fixture text: every stored entry as
/// `entry <hex key> <hex value>`, then the expected signatures and a ciphertext.
pub async fn write_golden<S: KVStore + Clone>(store: S) -> String {
    let v = vault(store);
    let ks = v.create_keyspace("golden", GOLDEN_PASSWORD).await.unwrap();
    import_known(&v, &ks, "eth", KeyType::Secp256k1).await;
    import_known(&v, &ks, "ed", KeyType::Ed25519).await;
    v.set_secret(&ks, "note", b"portable secret").await.unwrap();
    let mut text = String::new();
    for (key, value) in dump(v.store()).await {
        text += &format!("entry {} {}\n", hex::encode(key), hex::encode(value));
    }
    text += &format!(
        "ciphertext {}\n",
        hex::encode(v.encrypt(&ks, b"portable plaintext").await.unwrap())
    );
    text += &format!(
        "sig-eth {}\n",
        hex::encode(v.sign(&ks, "eth", GOLDEN_MESSAGE).await.unwrap())
    );
    text += &format!(
        "sig-ed {}\n",
        hex::encode(v.sign(&ks, "ed", GOLDEN_MESSAGE).await.unwrap())
    );
    text += &format!(
        "sig-eth-personal {}\n",
        hex::encode(
            v.sign_eth_personal(&ks, "eth", GOLDEN_MESSAGE)
                .await
                .unwrap()
        )
    );
    text
}

/// Loads a golden fixture's entries into `store`; returns its other lines (label → bytes).
async fn load_golden<S: KVStore>(
    store: &S,
    fixture: &str,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut expected = std::collections::BTreeMap::new();
    for line in fixture.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some("entry"), Some(key), Some(value)) => store
                .set(&hex::decode(key).unwrap(), &hex::decode(value).unwrap())
                .await
                .unwrap(),
            (Some(label), Some(value), None) => {
                expected.insert(label.to_owned(), hex::decode(value).unwrap());
            }
            _ => panic!("bad fixture line {line:?}"),
        }
    }
    expected
}

/// Loads a golden fixture into `store` and checks that it opens with the same keys, secrets,
/// signatures and plaintext, whichever platform wrote it, and that opening and reading it
/// writes nothing.
pub async fn check_golden<S: KVStore + Clone>(store: S, fixture: &str) {
    let expected = load_golden(&store, fixture).await;
    let header = store.get(b"h/golden").await.unwrap().unwrap();
    assert_eq!(header[0], 2, "a version-2 fixture");
    let before = dump(&store).await;
    check_golden_opens(store.clone(), &expected).await;
    assert_eq!(dump(&store).await, before, "reading changed nothing");
}

/// A golden keyspace written before manifests (header and records version 1): it opens, the
/// first unlock upgrades it in one write (version-2 header, records, buckets and manifest at
/// revision 1), everything reads the same afterwards, and a version-1 record put back after the
/// upgrade is caught as a replay.
pub async fn check_golden_v1<S: KVStore + Clone>(store: S, fixture: &str) {
    let expected = load_golden(&store, fixture).await;
    let old = dump(&store).await;
    assert!(old
        .iter()
        .all(|(k, v)| !k.starts_with(b"m/") && v[0] == 1 || k.starts_with(b"i/")));
    let v = vault(store.clone());
    let ks = v.unlock("golden", GOLDEN_PASSWORD).await.unwrap();
    let upgraded = dump(&store).await;
    assert_eq!(v.keyspace_revision(&ks).await.unwrap(), 1);
    for (key, value) in &upgraded {
        if key.starts_with(b"h/") || key.starts_with(b"r/") {
            assert_eq!(value[0], 2, "upgraded {}", hex::encode(key));
        }
    }
    assert_eq!(
        upgraded
            .iter()
            .filter(|(k, _)| k.starts_with(b"m/"))
            .count(),
        1,
        "one manifest"
    );
    check_golden_opens(store.clone(), &expected).await;
    assert_eq!(
        dump(&store).await,
        upgraded,
        "a second unlock changes nothing"
    );
    // The old copy of the secret's record, put back, is a replay now.
    let (note_key, note_v1) = old
        .iter()
        .filter(|(k, _)| k.starts_with(b"r/") && k[18] == b's')
        .map(|(k, v)| (k.clone(), v.clone()))
        .next()
        .unwrap();
    store.set(&note_key, &note_v1).await.unwrap();
    assert!(
        matches!(
            v.get_secret(&ks, "note").await,
            Err(Error::Tampered {
                tampering: Tampering::Replayed { .. },
                ..
            })
        ),
        "a version-1 record after the upgrade"
    );
}

async fn check_golden_opens<S: KVStore + Clone>(
    store: S,
    expected: &std::collections::BTreeMap<String, Vec<u8>>,
) {
    let v = vault(store);
    assert_eq!(v.list_keyspaces().await.unwrap(), vec!["golden"]);
    let ks = v.unlock("golden", GOLDEN_PASSWORD).await.unwrap();
    let keys = v.list_keys(&ks).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        vec!["ed", "eth"]
    );
    assert_eq!(
        hex::encode(&keys[0].public_key),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    assert_eq!(
        vault::eth_checksum_address(&keys[1].eth_address().unwrap()),
        "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
    );
    assert_eq!(
        &*v.get_secret(&ks, "note").await.unwrap(),
        b"portable secret"
    );
    assert_eq!(
        &*v.decrypt(&ks, &expected["ciphertext"]).await.unwrap(),
        b"portable plaintext"
    );
    // Both signature schemes are deterministic: the same signatures on every platform.
    assert_eq!(
        v.sign(&ks, "eth", GOLDEN_MESSAGE).await.unwrap(),
        expected["sig-eth"]
    );
    assert_eq!(
        v.sign(&ks, "ed", GOLDEN_MESSAGE).await.unwrap(),
        expected["sig-ed"]
    );
    assert_eq!(
        v.sign_eth_personal(&ks, "eth", GOLDEN_MESSAGE)
            .await
            .unwrap()
            .to_vec(),
        expected["sig-eth-personal"]
    );
}

/// Project Wycheproof: secp256k1 ECDSA (SHA-256, IEEE P1363 r ‖ s) and Ed25519 verification.
/// Policy on top of Wycheproof's verdicts: a high-S ECDSA signature is rejected (malleability),
/// even where Wycheproof calls it valid.
pub async fn wycheproof_signature_vectors<S: KVStore + Clone>(_store: S) {
    use wycheproof::TestResult;
    let order_half =
        hex::decode("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0").unwrap();
    let set =
        wycheproof::ecdsa::TestSet::load(wycheproof::ecdsa::TestName::EcdsaSecp256k1Sha256P1363)
            .unwrap();
    let mut checked = 0;
    for group in &set.test_groups {
        for test in &group.tests {
            let verdict = vault::verify(KeyType::Secp256k1, &group.key.key, &test.msg, &test.sig)
                .unwrap_or(false);
            let high_s = test.sig.len() == 64 && test.sig[32..] > order_half[..];
            match test.result {
                TestResult::Valid if !high_s => assert!(
                    verdict,
                    "secp256k1 tc {} ({}) rejected",
                    test.tc_id, test.comment
                ),
                TestResult::Valid | TestResult::Invalid => {
                    assert!(
                        !verdict,
                        "secp256k1 tc {} ({}) accepted",
                        test.tc_id, test.comment
                    )
                }
                TestResult::Acceptable => {}
            }
            checked += 1;
        }
    }
    assert!(checked > 100);
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    for group in &set.test_groups {
        for test in &group.tests {
            let verdict = vault::verify(KeyType::Ed25519, &group.key.pk, &test.msg, &test.sig)
                .unwrap_or(false);
            match test.result {
                TestResult::Valid => assert!(
                    verdict,
                    "ed25519 tc {} ({}) rejected",
                    test.tc_id, test.comment
                ),
                TestResult::Invalid => assert!(
                    !verdict,
                    "ed25519 tc {} ({}) accepted",
                    test.tc_id, test.comment
                ),
                TestResult::Acceptable => {}
            }
        }
    }
}

// ---------------------------------------------------------------------- password normalization

/// "pässwörd" typed as decomposed characters (NFD: "a" + U+0308), as some macOS input does.
pub const NFD_PASSWORD: &str = "pa\u{308}sswo\u{308}rd";
/// The same password as precomposed characters (NFC), as most other systems type it.
pub const NFC_PASSWORD: &str = "p\u{e4}ssw\u{f6}rd";

fn load_entries(fixture: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    fixture
        .lines()
        .filter_map(|line| {
            let mut words = line.split(' ');
            match (words.next(), words.next(), words.next()) {
                (Some("entry"), Some(key), Some(value)) => {
                    Some((hex::decode(key).unwrap(), hex::decode(value).unwrap()))
                }
                _ => None,
            }
        })
        .collect()
}

async fn load_fixture<S: KVStore>(store: &S, fixture: &str) {
    for (key, value) in load_entries(fixture) {
        store.set(&key, &value).await.unwrap();
    }
}

/// Writes the NFC fixture: keyspace `nfc` created with the NFD form of its password.
pub async fn write_nfc_golden<S: KVStore + Clone>(store: S) -> String {
    let v = vault(store);
    let ks = v.create_keyspace("nfc", NFD_PASSWORD).await.unwrap();
    v.set_secret(&ks, "note", b"typed either way")
        .await
        .unwrap();
    let mut text = String::new();
    for (key, value) in dump(v.store()).await {
        text += &format!("entry {} {}\n", hex::encode(key), hex::encode(value));
    }
    text
}

/// The NFC fixture opens with the password typed either way (the CLI's bytes and a browser's
/// string alike), and opening it changes nothing.
pub async fn check_nfc_golden<S: KVStore + Clone>(store: S, fixture: &str) {
    load_fixture(&store, fixture).await;
    let v = vault(store);
    let before = dump(v.store()).await;
    for password in [NFC_PASSWORD, NFD_PASSWORD] {
        let ks = v.unlock("nfc", password).await.unwrap();
        assert_eq!(
            &*v.get_secret(&ks, "note").await.unwrap(),
            b"typed either way"
        );
    }
    assert!(matches!(
        v.unlock("nfc", "passwort").await,
        Err(Error::WrongPassword { .. })
    ));
    assert_eq!(dump(v.store()).await, before);
}

/// A keyspace written before passwords were normalized, under the NFD bytes as typed: the NFD
/// password still opens it and re-wraps it under the NFC form, after which both forms open.
pub async fn check_legacy_nfd_keyspace<S: KVStore + Clone>(store: S, fixture: &str) {
    load_fixture(&store, fixture).await;
    let v = vault(store);
    let header = v.store().get(b"h/legacy").await.unwrap().unwrap();
    assert!(matches!(
        v.unlock("legacy", NFC_PASSWORD).await,
        Err(Error::WrongPassword { .. })
    ));
    let ks = v.unlock("legacy", NFD_PASSWORD).await.unwrap();
    assert_ne!(
        v.store().get(b"h/legacy").await.unwrap().unwrap(),
        header,
        "re-wrapped under the NFC form"
    );
    assert_eq!(
        &*v.get_secret(&ks, "note").await.unwrap(),
        b"written before NFC"
    );
    for password in [NFC_PASSWORD, NFD_PASSWORD] {
        v.unlock("legacy", password).await.unwrap();
    }
}

/// Streams as `std::io` and `futures-io` writers and readers: round trips of several chunks,
/// truncation and tampering reported as `InvalidData` carrying the vault error, and an
/// unfinished writer reads as truncated.
pub async fn streams_as_io_writers_and_readers<S: KVStore + Clone>(store: S) {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    let v = vault(store);
    let ks = v.create_keyspace("io", PASSWORD).await.unwrap();
    let data: Vec<u8> = (0..3 * vault::CHUNK_SIZE + 123)
        .map(|i| (i % 251) as u8)
        .collect();

    let mut writer = v.encrypt_stream(&ks).await.unwrap().writer(Vec::new());
    vault::io::copy(&mut &data[..], &mut writer).unwrap();
    let sealed = writer.finish().unwrap();
    let mut reader = v.decrypt_stream(&ks).await.unwrap().reader(&sealed[..]);
    let mut plain = Vec::new();
    assert_eq!(
        vault::io::copy(&mut reader, &mut plain).unwrap(),
        data.len() as u64
    );
    assert_eq!(plain, data);

    // Through the reader's own buffer (BufRead), as the CLI decrypts.
    let mut reader = v.decrypt_stream(&ks).await.unwrap().reader(&sealed[..]);
    let mut plain = Vec::new();
    vault::io::copy_buf(&mut reader, &mut plain).unwrap();
    assert_eq!(plain, data);
    let mut reader = v
        .decrypt_stream(&ks)
        .await
        .unwrap()
        .reader(&sealed[..sealed.len() - 1]);
    assert!(vault::io::copy_buf(&mut reader, &mut Vec::new()).is_err());
    assert!(std::io::BufRead::fill_buf(&mut reader).is_err());

    for bad in [
        sealed[..sealed.len() - 1].to_vec(),
        // One bit flipped (replacing the byte with a constant is a no-op one time in 256).
        [&sealed[..60], &[sealed[60] ^ 0x01][..], &sealed[61..]].concat(),
    ] {
        let mut reader = v.decrypt_stream(&ks).await.unwrap().reader(&bad[..]);
        let err = vault::io::copy(&mut reader, &mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(matches!(
            vault::io::vault_error(&err),
            Some(Error::DecryptionFailed(_))
        ));
        let mut again = [0u8; 16];
        assert!(
            std::io::Read::read(&mut reader, &mut again).is_err(),
            "a failed reader stays failed"
        );
    }

    let mut unfinished = v.encrypt_stream(&ks).await.unwrap().writer(Vec::new());
    std::io::Write::write_all(&mut unfinished, b"never finished").unwrap();
    std::io::Write::flush(&mut unfinished).unwrap();
    let mut reader = v
        .decrypt_stream(&ks)
        .await
        .unwrap()
        .reader(&b"not even a header"[..]);
    assert!(vault::io::copy(&mut reader, &mut Vec::new()).is_err());
    drop(unfinished);

    // The same through futures-io.
    let mut writer = v
        .encrypt_stream(&ks)
        .await
        .unwrap()
        .async_writer(futures::io::Cursor::new(Vec::new()));
    for part in data.chunks(10_000) {
        writer.write_all(part).await.unwrap();
    }
    writer.close().await.unwrap();
    let sealed_async = writer.into_inner().into_inner();
    let mut reader = v
        .decrypt_stream(&ks)
        .await
        .unwrap()
        .async_reader(futures::io::Cursor::new(sealed_async.clone()));
    let mut plain = Vec::new();
    reader.read_to_end(&mut plain).await.unwrap();
    assert_eq!(plain, data);
    let mut reader = v
        .decrypt_stream(&ks)
        .await
        .unwrap()
        .async_reader(futures::io::Cursor::new(
            sealed_async[..sealed_async.len() - 5].to_vec(),
        ));
    let err = reader.read_to_end(&mut Vec::new()).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}
