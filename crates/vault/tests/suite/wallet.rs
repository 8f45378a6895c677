//! HD wallets in a keyspace: seeds from BIP39 mnemonics, keys derived into the keyspace.

use kvstore::{KVStore, MemoryStore};
use vault::hd::{self, MnemonicLength};
use vault::{Error, KeyType};

use super::{dump, vault, PASSWORD};

/// A generated seed exports the same words, derives the keys any other wallet derives from
/// them (checked against trezor/python-mnemonic's vectors: the master key of each), keeps the
/// words and the passphrase out of storage, and refuses bad input with typed errors.
pub async fn hd_seeds_derive_keys_into_the_keyspace<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let ks = v.create_keyspace("k", PASSWORD).await.unwrap();
    let words = v
        .generate_seed(&ks, "main", MnemonicLength::Words24, "")
        .await
        .unwrap();
    assert_eq!(words.split(' ').count(), 24);
    assert_eq!(*v.export_mnemonic(&ks, "main").await.unwrap(), *words);
    assert_eq!(v.list_seeds(&ks).await.unwrap(), ["main"]);
    assert!(
        v.list_secrets(&ks).await.unwrap().is_empty(),
        "a seed is not a secret"
    );

    // Derived keys are key pairs like any other, equal to the same derivation elsewhere.
    let eth = hd::preset("ethereum").unwrap();
    let sol = hd::preset("solana").unwrap();
    let a = v
        .derive_key(&ks, "main", "eth-0", eth.key_type, &eth.path(0))
        .await
        .unwrap();
    let b = v
        .derive_key(&ks, "main", "sol-0", sol.key_type, &sol.path(0))
        .await
        .unwrap();
    let seed = hd::mnemonic_to_seed(&words, "").unwrap();
    let expect = |key: vault::SecretBytes, key_type: KeyType| {
        let other = vault(MemoryStore::new());
        async move {
            let ks = other.create_keyspace("x", PASSWORD).await.unwrap();
            other
                .import_key(&ks, "x", key_type, &key)
                .await
                .unwrap()
                .public_key
        }
    };
    assert_eq!(
        a.public_key,
        expect(
            hd::derive_preset(&seed, eth, 0).unwrap(),
            KeyType::Secp256k1
        )
        .await
    );
    assert_eq!(
        b.public_key,
        expect(hd::derive_preset(&seed, sol, 0).unwrap(), KeyType::Ed25519).await
    );
    let names: Vec<String> = v
        .list_keys(&ks)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["eth-0", "sol-0"]);
    v.sign(&ks, "sol-0", b"message").await.unwrap();

    // A passphrase makes another wallet of the same words.
    v.import_mnemonic(&ks, "with passphrase", &words, "TREZOR")
        .await
        .unwrap();
    let c = v
        .derive_key(&ks, "with passphrase", "eth-0b", eth.key_type, &eth.path(0))
        .await
        .unwrap();
    assert_ne!(c.public_key, a.public_key);

    // The official vectors: each mnemonic with "TREZOR" gives the vector's master key.
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/hd/bip39.json")).unwrap();
    for (i, vector) in fixture["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .take(4)
        .enumerate()
    {
        let name = format!("vector {i}");
        v.import_mnemonic(&ks, &name, vector["mnemonic"].as_str().unwrap(), "TREZOR")
            .await
            .unwrap();
        let seed =
            hd::Seed::from_bytes(&hex::decode(vector["seed"].as_str().unwrap()).unwrap()).unwrap();
        let master = v
            .derive_key(&ks, &name, &format!("master {i}"), KeyType::Secp256k1, "m")
            .await
            .unwrap();
        assert_eq!(
            master.public_key,
            expect(
                hd::derive_secp256k1(&seed, "m").unwrap(),
                KeyType::Secp256k1
            )
            .await
        );
    }

    // Neither the words nor any name reach storage.
    let raw: Vec<u8> = dump(v.store())
        .await
        .into_iter()
        .flat_map(|(k, v)| [k, v].concat())
        .collect();
    for needle in [
        words.split(' ').next().unwrap(),
        "with passphrase",
        "TREZOR",
    ] {
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} is in storage"
        );
    }

    // Bad input: typed errors, nothing written.
    let before = dump(v.store()).await;
    let bad = "abandon ".repeat(11) + "abandon";
    assert!(matches!(
        v.import_mnemonic(&ks, "bad", &bad, "").await,
        Err(Error::InvalidInput(m)) if m.contains("checksum")
    ));
    assert!(matches!(
        v.import_mnemonic(&ks, "main", &words, "").await,
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        v.derive_key(&ks, "nope", "k", KeyType::Secp256k1, "m/0")
            .await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        v.derive_key(&ks, "main", "k", KeyType::Ed25519, "m/44'/501'/0").await,
        Err(Error::InvalidInput(m)) if m.contains("hardened")
    ));
    assert!(matches!(
        v.derive_key(&ks, "main", "eth-0", KeyType::Secp256k1, "m/1")
            .await,
        Err(Error::AlreadyExists { .. })
    ));
    assert_eq!(dump(v.store()).await, before, "nothing written");

    // A seed deleted: its keys stay.
    v.delete_seed(&ks, "main").await.unwrap();
    assert!(matches!(
        v.export_mnemonic(&ks, "main").await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(v.list_keys(&ks).await.unwrap().len(), 7);
}
