//! HD wallets in a keyspace: seeds from BIP39 mnemonics, keys derived into the keyspace.

use kvstore::{KVStore, MemoryStore};
use vault::eth::{decode_signed_transaction, Transaction, TypedDataEncoding};
use vault::hd::{self, MnemonicLength};
use vault::keystore::KeystoreKdf;
use vault::{Error, KeyType};

use super::{dump, key_names, vault, PASSWORD};

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
    assert_eq!(key_names(&v, &ks).await, ["eth-0", "sol-0"]);
    // Each records where it came from, through listing, renaming and reloading.
    let origin = a
        .derivation
        .clone()
        .expect("a derived key records its origin");
    assert_eq!(
        (origin.seed.as_str(), origin.path.as_str()),
        ("main", "m/44'/60'/0'/0/0")
    );
    v.rename_key(&ks, "eth-0", "eth-0 renamed").await.unwrap();
    let listed = v.list_keys(&ks).await.unwrap();
    assert_eq!(listed[0].derivation, Some(origin.clone()));
    assert_eq!(
        v.key_info(&ks, "sol-0")
            .await
            .unwrap()
            .derivation
            .unwrap()
            .path,
        "m/44'/501'/0'/0'"
    );
    v.rename_key(&ks, "eth-0 renamed", "eth-0").await.unwrap();
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

/// The Ethereum layer through the vault and a session: a derived key signs hashes, typed data,
/// transactions of each type and EIP-7702 authorizations that recover to its address; keystore
/// v3 files round-trip between keyspaces; wrong input leaves the store as it was.
pub async fn ethereum_signing_and_keystores_through_the_vault<S: KVStore + Clone>(store: S) {
    let v = vault(store);
    let ks = v.create_keyspace("eth", PASSWORD).await.unwrap();
    let words = format!("{}about", "abandon ".repeat(11));
    v.import_mnemonic(&ks, "seed", &words, "").await.unwrap();
    let key = v
        .derive_key(&ks, "seed", "acct", KeyType::Secp256k1, "m/44'/60'/0'/0/0")
        .await
        .unwrap();
    let address = key.eth_address().unwrap();
    // The well-known first account of "abandon … about" (every wallet shows it).
    assert_eq!(
        vault::eth_checksum_address(&address),
        "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
    );

    let hash = [0x42; 32];
    let signature = v.sign_hash(&ks, "acct", &hash).await.unwrap();
    assert_eq!(signature.recover(&hash), Some(address));

    let typed = r#"{"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"chainId","type":"uint256"}],
        "Order":[{"name":"items","type":"Item[]"}],"Item":[{"name":"id","type":"uint256"}]},
        "primaryType":"Order","domain":{"name":"shop","chainId":1},"message":{"items":[{"id":1},{"id":"0x2"}]}}"#;
    for encoding in [TypedDataEncoding::MetaMaskV4, TypedDataEncoding::Spec] {
        let signature = v
            .sign_typed_data(&ks, "acct", typed, encoding)
            .await
            .unwrap();
        let hash = vault::eth::typed_data_hash(typed, encoding).unwrap();
        assert_eq!(signature.recover(&hash), Some(address));
    }

    let authorization = v
        .sign_authorization(&ks, "acct", 1, &[0x77; 20], 0)
        .await
        .unwrap();
    let base = r#""chainId":1,"nonce":0,"gasLimit":60000,"to":"0x3535353535353535353535353535353535353535","value":"0x1""#;
    for (fees, ty) in [
        (r#""gasPrice":"1000000000""#.to_owned(), 0),
        (r#""gasPrice":1,"accessList":[]"#.to_owned(), 1),
        (r#""maxFeePerGas":2,"maxPriorityFeePerGas":1"#.to_owned(), 2),
        (
            format!(
                r#""maxFeePerGas":2,"maxPriorityFeePerGas":1,"authorizationList":[{authorization}]"#
            ),
            4,
        ),
    ] {
        let tx = Transaction::from_json(&format!("{{{base},{fees}}}")).unwrap();
        let raw = v.sign_transaction(&ks, "acct", &tx).await.unwrap();
        let info = decode_signed_transaction(&raw).unwrap();
        assert_eq!((info.tx_type, info.from), (ty, address));
    }

    // The same through a session, with the key selected once.
    let mut session = v
        .open_session("eth", PASSWORD, Default::default())
        .await
        .unwrap();
    session.select_key("acct").await.unwrap();
    assert_eq!(session.sign_hash(&hash).await.unwrap(), signature);
    let tx = Transaction::from_json(&format!(r#"{{{base},"gasPrice":1}}"#)).unwrap();
    assert_eq!(
        session.sign_transaction(&tx).await.unwrap(),
        v.sign_transaction(&ks, "acct", &tx).await.unwrap(),
        "RFC 6979: the same bytes"
    );
    assert_eq!(
        session.sign_authorization(1, &[0x77; 20], 0).await.unwrap(),
        authorization
    );

    // Keystore v3: exported with each KDF, imported into another keyspace, same key.
    let other = v.create_keyspace("other", PASSWORD).await.unwrap();
    for (i, kdf) in [KeystoreKdf::LIGHT, KeystoreKdf::Pbkdf2 { iterations: 4096 }]
        .into_iter()
        .enumerate()
    {
        let file = v
            .export_keystore(&ks, "acct", b"keystore pw", kdf)
            .await
            .unwrap();
        let imported = v
            .import_keystore(&other, &format!("imported {i}"), &file, b"keystore pw")
            .await
            .unwrap();
        assert_eq!(imported.public_key, key.public_key);
        assert_eq!(imported.derivation, None);
    }

    // Refusals: typed errors, nothing written.
    let file = v
        .export_keystore(&ks, "acct", b"keystore pw", KeystoreKdf::LIGHT)
        .await
        .unwrap();
    let before = dump(v.store()).await;
    assert!(matches!(
        v.import_keystore(&other, "x", &file, b"wrong").await,
        Err(Error::DecryptionFailed(_))
    ));
    let lying = file.replace(&hex::encode(address), &"11".repeat(20));
    assert!(matches!(
        v.import_keystore(&other, "x", &lying, b"keystore pw").await,
        Err(Error::InvalidInput(m)) if m.contains("address")
    ));
    v.generate_key(&ks, "ed", KeyType::Ed25519).await.unwrap();
    let before_ed = dump(v.store()).await;
    assert!(matches!(
        v.sign_hash(&ks, "ed", &hash).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        v.export_keystore(&ks, "ed", b"pw", KeystoreKdf::LIGHT)
            .await,
        Err(Error::InvalidInput(_))
    ));
    let from_other = Transaction::from_json(&format!(
        r#"{{{base},"gasPrice":1,"from":"0x0000000000000000000000000000000000000001"}}"#
    ))
    .unwrap();
    assert!(matches!(
        v.sign_transaction(&ks, "acct", &from_other).await,
        Err(Error::InvalidInput(m)) if m.contains("from")
    ));
    assert_eq!(dump(v.store()).await, before_ed);
    assert_ne!(before, before_ed, "only the Ed25519 key was added");
}
