//! Attacks from the security review, each written as an attacker would try it (hostile
//! backups, stores, signatures, streams, races with the idle timer) and pinned here. Part of
//! the shared suite: every case runs on every backend, natively and in browsers.

use kvstore::{KVStore, MemoryStore};
use vault::{Error, KdfParams, KeyType, Vault};

use super::craft;
use super::{dump, import_known, vault, PASSWORD};

fn id_of(header: &[u8]) -> [u8; 16] {
    header[30..46].try_into().unwrap()
}

async fn keyspace_id<S: KVStore>(v: &Vault<S>, name: &str) -> [u8; 16] {
    let key = [b"h/".as_slice(), name.as_bytes()].concat();
    id_of(&v.store().get(&key).await.unwrap().unwrap())
}

/// Puts a crafted keyspace (header, id claim and an empty keyspace's manifest at revision 1)
/// into the store, as if created there.
async fn plant<S: KVStore>(v: &Vault<S>, keyspace: &craft::Keyspace, password: &[u8]) {
    for (key, value) in keyspace.manifest(1, &[]) {
        v.store().set(&key, &value).await.unwrap();
    }
    let header_key = [b"h/".as_slice(), keyspace.name.as_bytes()].concat();
    let claim_key = [b"i/".as_slice(), &keyspace.id].concat();
    v.store()
        .set(&header_key, &keyspace.header(password))
        .await
        .unwrap();
    v.store()
        .set(&claim_key, keyspace.name.as_bytes())
        .await
        .unwrap();
}

/// A backup for a new name that carries an existing keyspace's id (ids are plaintext in the
/// store and in every backup) is refused, and the victim's bytes stay exactly as they were.
pub async fn hostile_backup_cannot_alias_another_keyspace<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let victim = v.create_keyspace("victim", PASSWORD).await.unwrap();
    v.set_secret(&victim, "seed", b"victim's seed")
        .await
        .unwrap();
    import_known(&v, &victim, "key", KeyType::Ed25519).await;
    let before = dump(v.store()).await;
    let victim_id = keyspace_id(&v, "victim").await;
    let victim_suffixes: Vec<Vec<u8>> = before
        .iter()
        .filter(|(key, _)| key.starts_with(b"r/"))
        .map(|(key, _)| key[18..].to_vec())
        .collect();
    assert_eq!(victim_suffixes.len(), 2);

    // The attacker's own keyspace key and password, the victim's id, and records under the
    // victim's storage keys: the MAC is valid, every record opens under the attacker's key.
    let evil = craft::Keyspace::new("evil", victim_id, [0xee; 32]);
    let overwrite: Vec<_> = victim_suffixes
        .iter()
        .map(|suffix| {
            let value = evil.record(&evil.storage_key(suffix), b"seed", b"attacker's", 2);
            (suffix.clone(), value)
        })
        .collect();
    for records in [overwrite, Vec::new()] {
        let backup = evil.backup(&evil.header(b"attacker"), &records, 2);
        let err = v.import_backup(&backup, b"attacker").await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::AlreadyExists {
                    item: vault::Item::KeyspaceId,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(dump(v.store()).await, before, "the victim's bytes changed");
    }

    // A keyspace written before ids were claimed (no claim record) is protected as well.
    v.store()
        .delete(&[b"i/".as_slice(), &victim_id].concat())
        .await
        .unwrap();
    let legacy = dump(v.store()).await;
    let backup = evil.backup(&evil.header(b"attacker"), &[], 2);
    assert!(matches!(
        v.import_backup(&backup, b"attacker").await,
        Err(Error::AlreadyExists {
            item: vault::Item::KeyspaceId,
            ..
        })
    ));
    assert_eq!(dump(v.store()).await, legacy);
    assert_eq!(
        &*v.get_secret(&victim, "seed").await.unwrap(),
        b"victim's seed"
    );
}

/// Deleting a keyspace that shares its id with another (a store aliased before ids were
/// claimed) removes its own header, never the other keyspace's records.
pub async fn deleting_a_keyspace_removes_only_what_it_owns<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let victim = v.create_keyspace("victim", PASSWORD).await.unwrap();
    v.set_secret(&victim, "seed", b"kept").await.unwrap();
    let victim_id = keyspace_id(&v, "victim").await;
    let evil = craft::Keyspace::new("evil", victim_id, [0xee; 32]);
    for claimed in [true, false] {
        if !claimed {
            v.store()
                .delete(&[b"i/".as_slice(), &victim_id].concat())
                .await
                .unwrap();
        }
        v.store()
            .set(b"h/evil", &evil.header(b"attacker"))
            .await
            .unwrap();
        v.delete_keyspace("evil", b"attacker").await.unwrap();
        assert_eq!(v.list_keyspaces().await.unwrap(), vec!["victim"]);
        assert_eq!(
            &*v.get_secret(&victim, "seed").await.unwrap(),
            b"kept",
            "claimed: {claimed}"
        );
    }
    // Its own keyspace goes with everything it owns, the claim included.
    v.delete_keyspace("victim", PASSWORD).await.unwrap();
    assert!(dump(v.store()).await.is_empty());
}

/// A backup built from docs/FORMAT.md alone imports; every structural defect in an otherwise
/// authentic backup (valid MAC, records that decrypt) is refused before anything is written.
pub async fn import_checks_every_record_before_writing<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let ks = craft::Keyspace::new("crafted", [0x11; 16], [0x22; 32]);
    let header = ks.header(b"pw");
    let note = ks.secret("note", b"hello");
    let seed = hex::decode(super::ED_PRIVATE).unwrap();
    let key_pair = |payload: &[u8]| {
        let suffix = ks.suffix(b'k', "ed");
        let value = ks.record(&ks.storage_key(&suffix), b"ed", payload, 2);
        (suffix, value)
    };
    let good_key = key_pair(&[&[2u8][..], &seed].concat());

    let sealed_under = |suffix: Vec<u8>, name: &str| {
        let value = ks.record(&ks.storage_key(&suffix), name.as_bytes(), b"x", 2);
        (suffix, value)
    };
    let mut unknown_kind = ks.suffix(b's', "odd");
    unknown_kind[0] = b'x';
    let mut short = ks.suffix(b's', "short");
    short.pop();
    let mut in_order = vec![note.clone(), good_key.clone()];
    in_order.sort();
    let mut reversed = in_order.clone();
    reversed.reverse();
    let hostile: Vec<(&str, Vec<craft::Record>)> = vec![
        (
            "tag of another name",
            vec![sealed_under(ks.suffix(b's', "other name"), "note")],
        ),
        ("unknown kind byte", vec![sealed_under(unknown_kind, "odd")]),
        ("suffix of 32 bytes", vec![sealed_under(short, "short")]),
        ("repeated record", vec![note.clone(), note.clone()]),
        ("out of order", reversed),
        (
            "key pair of 31 bytes",
            vec![key_pair(&[&[2u8][..], &seed[..31]].concat())],
        ),
        (
            "key pair of 34 bytes",
            vec![key_pair(&[&[2u8][..], &seed, &[0]].concat())],
        ),
        (
            "invalid secp256k1 key",
            vec![key_pair(&[&[1u8][..], &[0u8; 32]].concat())],
        ),
    ];
    for (what, records) in hostile {
        let backup = ks.backup(&header, &records, 2);
        let result = v.import_backup(&backup, b"pw").await;
        assert!(result.is_err(), "{what}: imported");
        assert!(dump(v.store()).await.is_empty(), "{what}: wrote something");
    }

    let backup = ks.backup(&header, &in_order, 2);
    assert_eq!(v.import_backup(&backup, b"pw").await.unwrap(), "crafted");
    let opened = v.unlock("crafted", b"pw").await.unwrap();
    assert_eq!(&*v.get_secret(&opened, "note").await.unwrap(), b"hello");
    assert_eq!(
        hex::encode(&v.key_info(&opened, "ed").await.unwrap().public_key),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    // Header, id claim, two records, and the manifest of the backup's revision with its
    // buckets, exactly as built from the spec.
    let mut expected = vec![
        (b"h/crafted".to_vec(), header.clone()),
        ([b"i/".as_slice(), &ks.id].concat(), b"crafted".to_vec()),
    ];
    for (suffix, value) in &in_order {
        expected.push((ks.storage_key(suffix), value.clone()));
    }
    let listed: Vec<(Vec<u8>, u64)> = in_order.iter().map(|(s, _)| (s.clone(), 1)).collect();
    expected.extend(ks.manifest(1, &listed));
    expected.sort();
    assert_eq!(dump(v.store()).await, expected);
    assert_eq!(
        v.export_backup(&opened).await.unwrap(),
        backup,
        "export writes exactly what the spec says, records in storage-key order"
    );
}

/// Export checks what it exports: a junk record, a header of another keyspace, or a field too
/// large for the format is an error, not a backup that never imports.
pub async fn export_refuses_what_would_not_import<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let ks = v.create_keyspace("k", PASSWORD).await.unwrap();
    v.set_secret(&ks, "s", b"v").await.unwrap();
    let id = keyspace_id(&v, "k").await;
    let header = v.store().get(b"h/k").await.unwrap().unwrap();

    let junk_key = [b"r/".as_slice(), &id, b"s", &[0u8; 32]].concat();
    v.store().set(&junk_key, b"\x01junk").await.unwrap();
    assert!(matches!(
        v.export_backup(&ks).await,
        Err(Error::Corrupted(_))
    ));
    v.store().delete(&junk_key).await.unwrap();

    v.create_keyspace("other", PASSWORD).await.unwrap();
    let other_header = v.store().get(b"h/other").await.unwrap().unwrap();
    v.store().set(b"h/k", &other_header).await.unwrap();
    assert!(matches!(
        v.export_backup(&ks).await,
        Err(Error::Corrupted(_))
    ));

    v.store().set(b"h/k", &vec![1u8; 70_000]).await.unwrap();
    assert!(v.export_backup(&ks).await.is_err());
    v.store().set(b"h/k", &header).await.unwrap();

    let backup = v.export_backup(&ks).await.unwrap();
    let elsewhere = vault(MemoryStore::new());
    assert_eq!(
        elsewhere.import_backup(&backup, PASSWORD).await.unwrap(),
        "k"
    );
}

/// Rekey replaces the keyspace key and id: an old header (a copy of the store, a backup, free
/// pages of the file) with the old password opens nothing current.
pub async fn rekey_revokes_the_old_key_and_password<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let old = v.create_keyspace("k", PASSWORD).await.unwrap();
    v.set_secret(&old, "seed", b"words").await.unwrap();
    let key = import_known(&v, &old, "wallet", KeyType::Secp256k1).await;
    let old_id = keyspace_id(&v, "k").await;
    let old_header = v.store().get(b"h/k").await.unwrap().unwrap();
    let old_backup = v.export_backup(&old).await.unwrap();
    let ciphertext = v.encrypt(&old, b"file").await.unwrap();

    assert!(matches!(
        v.rekey("k", b"wrong", b"new password").await,
        Err(Error::WrongPassword { .. })
    ));
    let new = v.rekey("k", PASSWORD, b"new password").await.unwrap();
    assert_ne!(keyspace_id(&v, "k").await, old_id);
    assert_eq!(&*v.get_secret(&new, "seed").await.unwrap(), b"words");
    assert_eq!(v.key_info(&new, "wallet").await.unwrap(), key);
    assert!(
        matches!(
            v.decrypt(&new, &ciphertext).await,
            Err(Error::DecryptionFailed(_))
        ),
        "the data key changed too"
    );
    assert!(matches!(
        v.unlock("k", PASSWORD).await,
        Err(Error::WrongPassword { .. })
    ));
    // Nothing of the old id is left: no record, no claim.
    let entries = dump(v.store()).await;
    assert!(!entries
        .iter()
        .any(|(key, _)| key.windows(16).any(|w| w == old_id)));
    let count = |prefix: &[u8]| {
        entries
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .count()
    };
    assert_eq!(
        (count(b"h/"), count(b"i/"), count(b"r/"), count(b"m/")),
        (1, 1, 2, 1),
        "header, claim, two records, manifest (and buckets)"
    );
    assert_eq!(count(b"b/") + 5, entries.len());

    // The old key reaches nothing current, even with its header put back.
    assert!(matches!(
        v.get_secret(&old, "seed").await,
        Err(Error::NotFound { .. })
    ));
    // The old header put back opens nothing: its manifest went with the rekey.
    v.store().set(b"h/k", &old_header).await.unwrap();
    assert!(matches!(
        v.unlock("k", PASSWORD).await,
        Err(Error::Tampered {
            tampering: vault::Tampering::ManifestInvalid { .. },
            ..
        })
    ));
    // Copies made before the rekey still open what they hold, and only that.
    let elsewhere = vault(MemoryStore::new());
    elsewhere
        .import_backup(&old_backup, PASSWORD)
        .await
        .unwrap();
    let restored = elsewhere.unlock("k", PASSWORD).await.unwrap();
    assert_eq!(
        &*elsewhere.get_secret(&restored, "seed").await.unwrap(),
        b"words"
    );
}

/// Ed25519 verification is strict: the identity point as public key with an identity `R` and
/// a zero `S` verifies nothing, and of the ed25519-speccheck vectors only vector 3 (canonical,
/// no small-order point, valid under the cofactorless equation) is accepted.
pub async fn ed25519_verification_is_strict<S: KVStore + Clone>(_store: S) {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let signature = [identity, [0u8; 32]].concat();
    for message in [&b""[..], b"pay 100 coins to mallory", b"anything at all"] {
        assert!(
            !matches!(
                vault::verify(KeyType::Ed25519, &identity, message, &signature),
                Ok(true)
            ),
            "the identity key verified {message:?}"
        );
    }
    let cases = include_str!("../fixtures/ed25519-speccheck/cases.json");
    let fields: Vec<&str> = cases
        .split('"')
        .filter(|s| s.len() >= 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    assert_eq!(fields.len(), 36, "12 cases of message, key, signature");
    for (index, case) in fields.chunks(3).enumerate() {
        let (message, key, signature) = (
            hex::decode(case[0]).unwrap(),
            hex::decode(case[1]).unwrap(),
            hex::decode(case[2]).unwrap(),
        );
        let accepted = matches!(
            vault::verify(KeyType::Ed25519, &key, &message, &signature),
            Ok(true)
        );
        assert_eq!(accepted, index == 3, "speccheck vector {index}");
    }
}

/// The KDF upgrade on unlock and a password change take the component-wise maximum of the
/// stored and configured parameters, never lowering one; vaults refuse to write parameters
/// below the documented floor.
pub async fn kdf_upgrade_never_lowers_a_parameter<S: KVStore + Clone>(store: S) {
    let high_memory = KdfParams {
        memory_kib: 38 * 1024,
        iterations: 1,
        parallelism: 1,
    };
    let writer = Vault::with_kdf(store.clone(), high_memory).unwrap();
    writer.create_keyspace("k", PASSWORD).await.unwrap();
    let more_passes = Vault::with_kdf(store, KdfParams::MIN).unwrap();
    more_passes.unlock("k", PASSWORD).await.unwrap();
    let expected = KdfParams {
        memory_kib: 38 * 1024,
        iterations: 2,
        parallelism: 1,
    };
    assert_eq!(more_passes.keyspace_kdf("k").await.unwrap(), expected);
    more_passes
        .change_password("k", PASSWORD, b"new password")
        .await
        .unwrap();
    assert_eq!(more_passes.keyspace_kdf("k").await.unwrap(), expected);

    for (memory_kib, iterations, allowed) in [
        (19 * 1024, 2, true),
        (38 * 1024, 1, true),
        (19 * 1024, 1, false),
        (19 * 1024 - 1, 10, false),
        (1024, 3, false),
        (64, 2, false),
    ] {
        let params = KdfParams {
            memory_kib,
            iterations,
            parallelism: 1,
        };
        assert_eq!(
            Vault::with_kdf(MemoryStore::new(), params).is_ok(),
            allowed,
            "{params:?}"
        );
    }
    assert!(Vault::with_kdf(MemoryStore::new(), KdfParams::INSECURE_FOR_TESTS).is_ok());
}

/// New names refuse bidi controls and invisible characters; names read back from storage are
/// checked, so a crafted record or header cannot hand control characters to a terminal.
pub async fn names_from_storage_are_checked_and_new_names_refuse_invisible_characters<
    S: KVStore + Clone,
>(
    store: S,
) {
    let v = vault(store);
    let ks = v.create_keyspace("k", PASSWORD).await.unwrap();
    for bad in ["pay\u{202E}lapyap", "zero\u{200B}width", "\u{2066}isolate"] {
        assert!(matches!(
            v.set_secret(&ks, bad, b"x").await,
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            v.generate_key(&ks, bad, KeyType::Ed25519).await,
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            v.create_keyspace(bad, PASSWORD).await,
            Err(Error::InvalidInput(_))
        ));
    }
    let crafted = craft::Keyspace::new("c", [0x44; 16], [0x55; 32]);
    plant(&v, &crafted, b"pw").await;
    let name = "evil\u{1b}[2J";
    let suffix = crafted.suffix(b's', name);
    let key = crafted.storage_key(&suffix);
    v.store()
        .set(&key, &crafted.record(&key, name.as_bytes(), b"x", 2))
        .await
        .unwrap();
    let opened = v.unlock("c", b"pw").await.unwrap();
    assert!(matches!(
        v.list_secrets(&opened).await,
        Err(Error::Corrupted(_))
    ));
    v.store().delete(&key).await.unwrap();
    v.store()
        .set(b"h/\x1b[31mred", &crafted.header(b"pw"))
        .await
        .unwrap();
    assert!(matches!(v.list_keyspaces().await, Err(Error::Corrupted(_))));
}

/// Ciphertexts and streams built from docs/FORMAT.md in both versions decrypt: version 2 (what
/// this release writes: associated data padded to 64 bytes) and version 1 (earlier releases);
/// a version byte changed from one to the other fails authentication.
pub async fn ciphertexts_and_streams_of_both_versions_decrypt<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let crafted = craft::Keyspace::new("c", [0x66; 16], [0x77; 32]);
    plant(&v, &crafted, b"pw").await;
    let ks = v.unlock("c", b"pw").await.unwrap();
    for version in [1, 2] {
        let ciphertext = crafted.ciphertext(version, [9; 24], b"both versions");
        assert_eq!(
            &*v.decrypt(&ks, &ciphertext).await.unwrap(),
            b"both versions",
            "one-shot version {version}"
        );
        let mut other = ciphertext.clone();
        other[0] = 3 - version;
        assert!(matches!(
            v.decrypt(&ks, &other).await,
            Err(Error::DecryptionFailed(_))
        ));
    }
    // What this release writes is version 2, byte for byte the spec's layout.
    let written = v.encrypt(&ks, b"both versions").await.unwrap();
    let nonce: [u8; 24] = written[2..26].try_into().unwrap();
    assert_eq!(written, crafted.ciphertext(2, nonce, b"both versions"));

    let full = [5u8; 1024];
    for (version, stream) in [
        (1, crafted.stream_v1(&[(&full, false), (b"end", true)])),
        (2, crafted.stream(&[(&full, false), (b"end", true)])),
    ] {
        let mut dec = v.decrypt_stream(&ks).await.unwrap();
        let mut out = dec.update(&stream).unwrap().to_vec();
        out.extend_from_slice(&dec.finish().unwrap());
        assert_eq!(out.len(), 1027, "stream version {version}");
        let mut other = stream.clone();
        other[4] = 3 - version;
        let mut dec = v.decrypt_stream(&ks).await.unwrap();
        assert!(dec.update(&other).is_err() || dec.finish().is_err());
    }
    let mut enc = v.encrypt_stream(&ks).await.unwrap();
    let header = enc.update(b"x");
    assert_eq!(
        &header[..6],
        b"VLTS\x02\x01",
        "streams are written in version 2"
    );
}

/// A stream ending with an empty chunk after a full one is refused (the encoder writes a full
/// last chunk), and a decryptor that failed once refuses everything after.
pub async fn streams_reject_an_empty_final_chunk_and_stay_failed<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let crafted = craft::Keyspace::new("c", [0x66; 16], [0x77; 32]);
    plant(&v, &crafted, b"pw").await;
    let ks = v.unlock("c", b"pw").await.unwrap();
    let decrypt = |stream: Vec<u8>| {
        let v = &v;
        let ks = &ks;
        async move {
            let mut dec = v.decrypt_stream(ks).await.unwrap();
            let mut out = dec.update(&stream)?.to_vec();
            out.extend_from_slice(&dec.finish()?);
            Ok::<_, Error>(out)
        }
    };
    let full = [7u8; 1024];
    let two_full = crafted.stream(&[(&full, false), (&full, true)]);
    assert_eq!(decrypt(two_full.clone()).await.unwrap().len(), 2048);
    assert!(decrypt(crafted.stream(&[(&[], true)]))
        .await
        .unwrap()
        .is_empty());
    let empty_last = crafted.stream(&[(&full, false), (&full, false), (&[], true)]);
    assert!(matches!(
        decrypt(empty_last).await,
        Err(Error::DecryptionFailed(_))
    ));

    // A bad header, then a good stream: still failed.
    let mut dec = v.decrypt_stream(&ks).await.unwrap();
    assert!(dec.update(&[0u8; 42]).is_err());
    assert!(dec.update(&two_full).is_err());
    assert!(dec.finish().is_err());
    // A bad chunk: nothing more is released, not even the chunks after it.
    let mut bad = two_full.clone();
    bad[50] ^= 1;
    let mut dec = v.decrypt_stream(&ks).await.unwrap();
    assert!(dec.update(&bad[..42 + 1040 + 1]).is_err());
    assert!(dec.update(&[]).is_err());
    assert!(dec.finish().is_err());
}

/// Ethereum addresses: a `+` is not a hex digit and a mixed-case address must carry its EIP-55
/// checksum. A high-S signature is "not valid", not an error.
pub async fn ethereum_addresses_and_signatures_are_parsed_strictly<S: KVStore + Clone>(_store: S) {
    let checksummed = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";
    let expected = vault::parse_eth_address(checksummed).unwrap();
    let lower = checksummed.to_lowercase();
    assert_eq!(vault::parse_eth_address(&lower).unwrap(), expected);
    assert_eq!(
        vault::parse_eth_address(&format!("0x{}", lower[2..].to_uppercase())).unwrap(),
        expected
    );
    assert!(vault::parse_eth_address(&checksummed.replace('E', "e")).is_err());
    assert!(vault::parse_eth_address(&format!("0x+{}", &lower[3..])).is_err());
    assert!(vault::parse_eth_address(&lower[..41]).is_err());

    // The EIP-191 signature of "Some data" by that address, and its high-S twin.
    let signature = hex::decode("b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c").unwrap();
    assert!(vault::verify_eth_personal(&expected, b"Some data", &signature).unwrap());
    let s = k256::NonZeroScalar::try_from(&signature[32..64]).unwrap();
    let high_s: k256::Scalar = -*s;
    let mut twin = signature.clone();
    twin[32..64].copy_from_slice(&high_s.to_bytes());
    twin[64] = 27 + 28 - twin[64]; // the other recovery id
    assert!(!vault::verify_eth_personal(&expected, b"Some data", &twin).unwrap());
    assert_eq!(
        vault::recover_eth_personal(b"Some data", &twin).unwrap(),
        None
    );
    assert!(vault::recover_eth_personal(b"Some data", &twin[..64]).is_err());
}

/// A version below any ever written is corruption, not "written by a newer version"; and the
/// same out-of-bounds KDF parameters give the same error from a store and from a backup.
pub async fn versions_below_any_written_are_corrupted<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let crafted = craft::Keyspace::new("c", [0x12; 16], [0x34; 32]);
    plant(&v, &crafted, b"pw").await;
    let ks = v.unlock("c", b"pw").await.unwrap();
    let suffix = crafted.suffix(b's', "note");
    let key = crafted.storage_key(&suffix);
    for (version, newer) in [(0u8, false), (3, true)] {
        v.store()
            .set(&key, &crafted.record(&key, b"note", b"x", version))
            .await
            .unwrap();
        let result = v.get_secret(&ks, "note").await;
        if newer {
            assert!(
                matches!(result, Err(Error::UnsupportedFormat(_))),
                "{result:?}"
            );
        } else {
            assert!(matches!(result, Err(Error::Corrupted(_))), "{result:?}");
        }
    }

    let zero_header = crafted.header_with(b"pw", craft::KDF, 0);
    v.store().set(b"h/c", &zero_header).await.unwrap();
    assert!(matches!(
        v.unlock("c", b"pw").await,
        Err(Error::Corrupted(_))
    ));

    let fresh = craft::Keyspace::new("fresh", [0x56; 16], [0x78; 32]);
    let zero_backup = fresh.backup(&fresh.header(b"pw"), &[], 0);
    assert!(matches!(
        v.import_backup(&zero_backup, b"pw").await,
        Err(Error::Corrupted(_))
    ));

    let out_of_bounds = fresh.header_with(b"pw", (64, 1000, 1), 1);
    let from_backup = v
        .import_backup(&fresh.backup(&out_of_bounds, &[], 1), b"pw")
        .await
        .unwrap_err();
    v.store().set(b"h/fresh", &out_of_bounds).await.unwrap();
    let from_store = v.unlock("fresh", b"pw").await.unwrap_err();
    assert!(
        matches!(from_backup, Error::Corrupted(_)),
        "{from_backup:?}"
    );
    assert_eq!(from_backup.to_string(), from_store.to_string());

    let mut ciphertext = v.encrypt(&ks, b"data").await.unwrap();
    ciphertext[0] = 0;
    assert!(matches!(
        v.decrypt(&ks, &ciphertext).await,
        Err(Error::DecryptionFailed(_))
    ));
}

/// The idle timeout wipes keys when it passes, without waiting for the next call: an
/// application's timer calls `lock_if_idle` at `idle_deadline`, and `is_locked` never answers
/// true while keys are still in memory.
pub async fn session_idle_deadline_wipes_keys_without_a_call<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    v.create_keyspace("k", PASSWORD).await.unwrap();
    let mut session = v
        .open_session(
            "k",
            PASSWORD,
            vault::SessionOptions::default().idle_timeout(std::time::Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    let deadline = session.idle_deadline().expect("a deadline");
    assert!(deadline > web_time::Instant::now());
    assert!(!session.lock_if_idle());
    session.set_idle_timeout(Some(std::time::Duration::ZERO));
    assert!(format!("{session:?}").contains("locked: false"));
    assert!(session.lock_if_idle(), "idle past the deadline: wiped");
    assert!(format!("{session:?}").contains("locked: true"));
    assert_eq!(session.idle_deadline(), None);
    assert!(matches!(session.list_secrets().await, Err(Error::Locked)));

    let mut session = v
        .open_session(
            "k",
            PASSWORD,
            vault::SessionOptions::default().idle_timeout(std::time::Duration::ZERO),
        )
        .await
        .unwrap();
    assert!(session.is_locked());
    assert!(
        format!("{session:?}").contains("locked: true"),
        "is_locked said true, so the keys must be gone"
    );
    let mut session = v
        .open_session("k", PASSWORD, Default::default())
        .await
        .unwrap();
    assert_eq!(session.idle_deadline(), None);
    assert!(!session.lock_if_idle());
}

/// A session can rekey its own keyspace and keeps working under the new key.
pub async fn session_rekey_keeps_the_session_working<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    v.create_keyspace("k", PASSWORD).await.unwrap();
    let mut session = v
        .open_session("k", PASSWORD, Default::default())
        .await
        .unwrap();
    session.set_secret("s", b"v").await.unwrap();
    session.rekey(PASSWORD, PASSWORD).await.unwrap();
    assert_eq!(&*session.get_secret("s").await.unwrap(), b"v");
    session.set_secret("t", b"w").await.unwrap();
    let ks = v.unlock("k", PASSWORD).await.unwrap();
    assert_eq!(v.list_secrets(&ks).await.unwrap(), vec!["s", "t"]);
}
