//! Hierarchical deterministic keys: BIP39 mnemonics and seeds, BIP32 derivation of secp256k1
//! keys and SLIP-0010 derivation of Ed25519 keys, with the named paths other wallets use.
//!
//! Maintained crates do the cryptography (`bip39` from rust-bitcoin, `bip32` from iqlusion on
//! RustCrypto's `k256`, `ed25519-dalek-bip32` on `ed25519-dalek`); this module gives them one
//! typed, zeroizing interface and the presets. Every function is checked against the official
//! vectors (trezor/python-mnemonic, BIP32 vectors 1–5, SLIP-0010), natively and in browsers.
//!
//! Seeds stored in a keyspace and keys derived into it: [`Vault::generate_seed`](crate::Vault::generate_seed),
//! [`import_mnemonic`](crate::Vault::import_mnemonic), [`export_mnemonic`](crate::Vault::export_mnemonic),
//! [`derive_key`](crate::Vault::derive_key). Not yet: the key's path recorded with it, the CLI
//! and the JavaScript package.

use zeroize::Zeroizing;

use crate::{crypto, Error, KeyType, Result, SecretBytes};

/// How many words a new mnemonic has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MnemonicLength {
    /// 12 words: 128 bits of entropy.
    Words12,
    /// 24 words: 256 bits of entropy.
    Words24,
}

/// A BIP39 seed (64 bytes), or any BIP32 seed of 16 to 64 bytes; wiped when dropped, never
/// printed.
pub struct Seed(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(..)")
    }
}

impl Seed {
    /// A seed from raw bytes (16 to 64, as BIP32 allows).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for another length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Seed> {
        if !(16..=64).contains(&bytes.len()) {
            return Err(Error::InvalidInput(format!(
                "a seed is 16 to 64 bytes, not {}",
                bytes.len()
            )));
        }
        Ok(Seed(Zeroizing::new(bytes.to_vec())))
    }

    /// The seed's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A new English BIP39 mnemonic from this platform's random source, words separated by single
/// spaces.
///
/// # Errors
///
/// [`Error::RandomSource`] if the random source fails.
pub fn generate_mnemonic(length: MnemonicLength) -> Result<Zeroizing<String>> {
    let mut entropy = Zeroizing::new(vec![
        0u8;
        match length {
            MnemonicLength::Words12 => 16,
            MnemonicLength::Words24 => 32,
        }
    ]);
    crypto::random_bytes(&mut entropy)?;
    mnemonic_from_entropy(&entropy)
}

/// The English BIP39 mnemonic of `entropy` (16, 20, 24, 28 or 32 bytes).
///
/// # Errors
///
/// [`Error::InvalidInput`] for another length.
pub fn mnemonic_from_entropy(entropy: &[u8]) -> Result<Zeroizing<String>> {
    let mnemonic = bip39::Mnemonic::from_entropy(entropy)
        .map_err(|e| Error::InvalidInput(format!("mnemonic entropy: {e}")))?;
    Ok(Zeroizing::new(mnemonic.to_string()))
}

/// The BIP39 seed of an English `mnemonic` (its checksum checked; words in any Unicode form and
/// case-exact, separated by whitespace) and an optional `passphrase` (empty for none), both
/// normalized to NFKD as BIP39 says.
///
/// # Errors
///
/// [`Error::InvalidInput`] for an unknown word, a wrong word count or a bad checksum (the
/// message names which, never the words).
pub fn mnemonic_to_seed(mnemonic: &str, passphrase: &str) -> Result<Seed> {
    seed_of(&parse_mnemonic(mnemonic)?, passphrase)
}

/// The entropy of an English `mnemonic` (checksum checked), as [`mnemonic_to_seed`] reads it.
///
/// # Errors
///
/// As [`mnemonic_to_seed`].
pub fn mnemonic_entropy(mnemonic: &str) -> Result<Zeroizing<Vec<u8>>> {
    Ok(Zeroizing::new(parse_mnemonic(mnemonic)?.to_entropy()))
}

/// [`mnemonic_to_seed`] and [`mnemonic_entropy`] of one parse.
pub(crate) fn mnemonic_seed_and_entropy(
    mnemonic: &str,
    passphrase: &str,
) -> Result<(Seed, Zeroizing<Vec<u8>>)> {
    let parsed = parse_mnemonic(mnemonic)?;
    Ok((
        seed_of(&parsed, passphrase)?,
        Zeroizing::new(parsed.to_entropy()),
    ))
}

/// Parses an English mnemonic; the error names what is wrong, never the words.
fn parse_mnemonic(mnemonic: &str) -> Result<bip39::Mnemonic> {
    bip39::Mnemonic::parse(mnemonic).map_err(|e| {
        Error::InvalidInput(match e {
            bip39::Error::BadWordCount(n) => {
                format!("a mnemonic has 12, 15, 18, 21 or 24 words, not {n}")
            }
            bip39::Error::UnknownWord(i) => {
                format!("word {} of the mnemonic is not in the English list", i + 1)
            }
            bip39::Error::InvalidChecksum => "the mnemonic's checksum does not match".into(),
            _ => "not a valid mnemonic".into(),
        })
    })
}

fn seed_of(parsed: &bip39::Mnemonic, passphrase: &str) -> Result<Seed> {
    let seed = Zeroizing::new(parsed.to_seed(passphrase));
    Seed::from_bytes(seed.as_ref())
}

fn parse_path(path: &str) -> Result<derivation_path::DerivationPath> {
    path.parse()
        .map_err(|_| Error::InvalidInput(format!("not a derivation path: {path:?}")))
}

/// The secp256k1 private key at BIP32 `path` (such as `m/44'/60'/0'/0/0`) of `seed`.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a malformed path or the (astronomically rare) invalid child.
pub fn derive_secp256k1(seed: &Seed, path: &str) -> Result<SecretBytes> {
    let key = bip32_derive(seed, path)?;
    Ok(SecretBytes::from(key.to_bytes().to_vec()))
}

/// The BIP32 extended key at `path` of `seed`.
fn bip32_derive(seed: &Seed, path: &str) -> Result<bip32::XPrv> {
    let parsed: bip32::DerivationPath = path
        .parse()
        .map_err(|_| Error::InvalidInput(format!("not a derivation path: {path:?}")))?;
    bip32::XPrv::derive_from_path(seed.as_bytes(), &parsed).map_err(bip32_failed)
}

fn bip32_failed(e: bip32::Error) -> Error {
    Error::InvalidInput(format!("BIP32 derivation failed: {e}"))
}

/// The Ed25519 private key (32-byte seed) at SLIP-0010 `path` of `seed`; every index must be
/// hardened (`'`), as SLIP-0010 requires for Ed25519.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a malformed path or an index that is not hardened.
pub fn derive_ed25519(seed: &Seed, path: &str) -> Result<SecretBytes> {
    let path = parse_path(path)?;
    let master = ed25519_dalek_bip32::ExtendedSigningKey::from_seed(seed.as_bytes())
        .map_err(|e| Error::InvalidInput(format!("SLIP-0010 master key: {e}")))?;
    let key = master.derive(&path).map_err(|e| match e {
        ed25519_dalek_bip32::Error::ExpectedHardenedIndex(i) => Error::InvalidInput(format!(
            "Ed25519 paths are hardened only (SLIP-0010): index {i} is not"
        )),
        other => Error::InvalidInput(format!("SLIP-0010 derivation failed: {other}")),
    })?;
    Ok(SecretBytes::from(key.signing_key.to_bytes().to_vec()))
}

/// A named derivation path of another wallet, for account or address `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Its name (`"ethereum"`, …).
    pub name: &'static str,
    /// The curve it derives.
    pub key_type: KeyType,
    /// Who uses it.
    pub used_by: &'static str,
    template: &'static str,
}

impl Preset {
    /// The path for `index` (where the template has `{i}`).
    pub fn path(&self, index: u32) -> String {
        self.template.replace("{i}", &index.to_string())
    }
}

/// The named paths (`index` is the last varying level).
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "ethereum",
        key_type: KeyType::Secp256k1,
        used_by: "MetaMask, ethers, Trezor, Ledger (BIP44 addresses)",
        template: "m/44'/60'/0'/0/{i}",
    },
    Preset {
        name: "ethereum-ledger-live",
        key_type: KeyType::Secp256k1,
        used_by: "Ledger Live (one account per index)",
        template: "m/44'/60'/{i}'/0/0",
    },
    Preset {
        name: "solana",
        key_type: KeyType::Ed25519,
        used_by: "Phantom, Solflare, Backpack, the Solana CLI with ?key=i/0",
        template: "m/44'/501'/{i}'/0'",
    },
    Preset {
        name: "solana-bip44",
        key_type: KeyType::Ed25519,
        used_by: "older Solana wallets (Sollet, Trust Wallet's first release)",
        template: "m/44'/501'/{i}'",
    },
    Preset {
        name: "cosmos",
        key_type: KeyType::Secp256k1,
        used_by: "Keplr, the Cosmos SDK",
        template: "m/44'/118'/0'/0/{i}",
    },
];

/// The preset called `name`.
///
/// # Errors
///
/// [`Error::InvalidInput`] for an unknown name (the message lists the known ones).
pub fn preset(name: &str) -> Result<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
        let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        Error::InvalidInput(format!(
            "unknown derivation preset {name:?}; known: {}",
            names.join(", ")
        ))
    })
}

/// The public keys of `preset` at `indices` (33-byte compressed secp256k1 or 32-byte Ed25519),
/// without storing anything: to show a wallet's addresses before the user picks one, or to scan
/// for used accounts. When the index is the path's last, unhardened level (`ethereum`,
/// `cosmos`), the parent is derived once and each address costs one child derivation.
///
/// # Errors
///
/// As [`derive_secp256k1`] and [`derive_ed25519`].
pub fn public_keys(
    seed: &Seed,
    preset: &Preset,
    indices: std::ops::Range<u32>,
) -> Result<Vec<Vec<u8>>> {
    if preset.key_type == KeyType::Secp256k1 {
        return secp256k1_keys(seed, preset, indices, |key| {
            key.verifying_key()
                .to_encoded_point(true)
                .as_bytes()
                .to_vec()
        });
    }
    indices
        .map(|i| Ok(derive_key(seed, preset.key_type, &preset.path(i))?.public_key()))
        .collect()
}

/// The Ethereum addresses of secp256k1 `preset` at `indices` (as [`public_keys`], without the
/// detour through encoded public keys): what a wallet lists before the user picks an account.
///
/// # Errors
///
/// [`Error::InvalidInput`] for an Ed25519 preset; as [`derive_secp256k1`].
pub fn eth_addresses(
    seed: &Seed,
    preset: &Preset,
    indices: std::ops::Range<u32>,
) -> Result<Vec<[u8; 20]>> {
    if preset.key_type != KeyType::Secp256k1 {
        return Err(Error::InvalidInput(format!(
            "preset {} derives Ed25519 keys, which have no Ethereum address",
            preset.name
        )));
    }
    secp256k1_keys(seed, preset, indices, |key| {
        crate::keys::address_of(key.verifying_key())
    })
}

/// `each` of the secp256k1 keys of `preset` at `indices`: the parent derived once when the
/// index is the last, unhardened level, otherwise each from the root.
fn secp256k1_keys<T>(
    seed: &Seed,
    preset: &Preset,
    indices: std::ops::Range<u32>,
    each: impl Fn(&k256::ecdsa::SigningKey) -> T,
) -> Result<Vec<T>> {
    let Some(parent) = preset.template.strip_suffix("/{i}") else {
        return indices
            .map(|i| Ok(each(bip32_derive(seed, &preset.path(i))?.private_key())))
            .collect();
    };
    let parent = bip32_derive(seed, parent)?;
    indices
        .map(|i| {
            let child = bip32::ChildNumber::new(i, false)
                .map_err(|_| Error::InvalidInput(format!("index {i} is not below 2^31")))?;
            Ok(each(
                parent
                    .derive_child(child)
                    .map_err(bip32_failed)?
                    .private_key(),
            ))
        })
        .collect()
}

/// The private key of `preset` at `index`, on its curve.
///
/// # Errors
///
/// As [`derive_secp256k1`] and [`derive_ed25519`].
pub fn derive_preset(seed: &Seed, preset: &Preset, index: u32) -> Result<SecretBytes> {
    derive_raw(seed, preset.key_type, &preset.path(index))
}

/// The raw private key of `key_type` at `path`: BIP32 for secp256k1, SLIP-0010 for Ed25519.
fn derive_raw(seed: &Seed, key_type: KeyType, path: &str) -> Result<SecretBytes> {
    match key_type {
        KeyType::Ed25519 => derive_ed25519(seed, path),
        _ => derive_secp256k1(seed, path),
    }
}

/// The parsed key of `key_type` at `path` (what `Vault::derive_key` stores).
pub(crate) fn derive_key(
    seed: &Seed,
    key_type: KeyType,
    path: &str,
) -> Result<crate::keys::PrivateKey> {
    let bytes: Zeroizing<[u8; 32]> = Zeroizing::new(
        derive_raw(seed, key_type, path)?
            .as_ref()
            .try_into()
            .map_err(|_| Error::Corrupted("a derived key of the wrong length".into()))?,
    );
    crate::keys::PrivateKey::from_bytes(key_type, &bytes)
}

#[cfg(test)]
mod tests {
    //! The official vectors (fixtures extracted from their sources by
    //! `scripts/extract-hd-vectors.py`, which records each repository and commit).
    use super::*;
    use serde_json::Value;

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture JSON")
    }

    fn hex(v: &Value) -> Vec<u8> {
        ::hex::decode(v.as_str().expect("a hex string")).expect("hex")
    }

    /// A bad mnemonic says what is wrong, in the same words for the seed, the entropy and the
    /// import, and never repeats the words.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn bad_mnemonics_are_named_without_their_words() {
        let good = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                    abandon abandon about";
        let cases = [
            (good.replace(" about", " abandon"), "checksum"),
            (good.replace(" about", " zzzzqq"), "word 12 of the mnemonic"),
            (good.replace(" abandon about", " about"), "not 11"),
        ];
        for (words, expected) in &cases {
            let messages = [
                mnemonic_to_seed(words, "").err(),
                mnemonic_entropy(words).err(),
                mnemonic_seed_and_entropy(words, "").err(),
            ];
            for message in messages {
                let Some(Error::InvalidInput(message)) = message else {
                    panic!("{words:?}: expected InvalidInput, got {message:?}");
                };
                assert!(message.contains(expected), "{message}");
                assert!(!message.contains("abandon") && !message.contains("zzzzqq"));
            }
        }
        let (seed, entropy) = mnemonic_seed_and_entropy(good, "TREZOR").unwrap();
        assert_eq!(
            seed.as_bytes(),
            mnemonic_to_seed(good, "TREZOR").unwrap().as_bytes()
        );
        assert_eq!(*entropy, vec![0u8; 16]);
    }

    /// trezor/python-mnemonic: entropy → mnemonic → seed (passphrase "TREZOR") → master xprv.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn bip39_vectors() {
        let f = fixture(include_str!("../tests/fixtures/hd/bip39.json"));
        let passphrase = f["passphrase"].as_str().unwrap();
        let vectors = f["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 24);
        for v in vectors {
            let mnemonic = v["mnemonic"].as_str().unwrap();
            assert_eq!(
                *mnemonic_from_entropy(&hex(&v["entropy"])).unwrap(),
                mnemonic
            );
            let seed = mnemonic_to_seed(mnemonic, passphrase).unwrap();
            assert_eq!(seed.as_bytes(), hex(&v["seed"]).as_slice(), "{mnemonic}");
            let master = bip32::XPrv::new(seed.as_bytes()).unwrap();
            assert_eq!(
                *master.to_string(bip32::Prefix::XPRV),
                v["xprv"].as_str().unwrap()
            );
        }
    }

    /// BIP32 vectors 1–4 through `derive_secp256k1` (the private key) and the xprv/xpub
    /// encodings.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn bip32_vectors() {
        let f = fixture(include_str!("../tests/fixtures/hd/bip32.json"));
        let mut chains = 0;
        for v in f["vectors"].as_array().unwrap() {
            let seed = Seed::from_bytes(&hex(&v["seed"])).unwrap();
            for chain in v["chains"].as_array().unwrap() {
                let path = chain["path"].as_str().unwrap();
                let xprv: bip32::XPrv = chain["xprv"].as_str().unwrap().parse().unwrap();
                let ours = derive_secp256k1(&seed, path).unwrap();
                assert_eq!(&*ours, xprv.to_bytes().as_slice(), "{path}");
                let derived =
                    bip32::XPrv::derive_from_path(seed.as_bytes(), &path.parse().unwrap()).unwrap();
                assert_eq!(
                    *derived.to_string(bip32::Prefix::XPRV),
                    chain["xprv"].as_str().unwrap()
                );
                assert_eq!(
                    derived.public_key().to_string(bip32::Prefix::XPUB),
                    chain["xpub"].as_str().unwrap()
                );
                chains += 1;
            }
        }
        assert_eq!(chains, 17);
        // Vector 5 (invalid extended keys) is kept in the fixture for the day extended keys are
        // imported: this module takes seeds only, and bip32 0.5.3's parser accepts some of those
        // keys (zero depth with a non-zero parent fingerprint or index), so an import will need
        // checks of its own.
        assert_eq!(f["invalid"].as_array().unwrap().len(), 14);
    }

    /// SLIP-0010 vectors: Ed25519 through `derive_ed25519` (private and public keys), and
    /// secp256k1 (the same as BIP32) through `derive_secp256k1`.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn slip10_vectors() {
        let f = fixture(include_str!("../tests/fixtures/hd/slip10.json"));
        let mut checked = 0;
        for v in f["ed25519"].as_array().unwrap() {
            let seed = Seed::from_bytes(&hex(&v["seed"])).unwrap();
            for chain in v["chains"].as_array().unwrap() {
                let path = chain["path"].as_str().unwrap();
                let key = derive_ed25519(&seed, path).unwrap();
                assert_eq!(&*key, hex(&chain["private"]).as_slice(), "{path}");
                let signing = ed25519_dalek::SigningKey::from_bytes(&(*key).try_into().unwrap());
                let mut public = vec![0u8];
                public.extend_from_slice(signing.verifying_key().as_bytes());
                assert_eq!(public, hex(&chain["public"]), "{path}");
                checked += 1;
            }
        }
        for v in f["secp256k1"].as_array().unwrap() {
            let seed = Seed::from_bytes(&hex(&v["seed"])).unwrap();
            for chain in v["chains"].as_array().unwrap() {
                let path = chain["path"].as_str().unwrap();
                let key = derive_secp256k1(&seed, path).unwrap();
                assert_eq!(&*key, hex(&chain["private"]).as_slice(), "{path}");
                checked += 1;
            }
        }
        assert_eq!(checked, 24);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn bad_input_is_refused_with_clear_errors() {
        let msg = |r: Result<Seed>| match r {
            Err(Error::InvalidInput(m)) => m,
            other => panic!("expected InvalidInput, got {other:?}"),
        };
        let words = "abandon ".repeat(11) + "abandon";
        assert!(msg(mnemonic_to_seed(&words, "")).contains("checksum"));
        assert!(msg(mnemonic_to_seed("abandon abandon", "")).contains("not 2"));
        let unknown = "abandon ".repeat(11) + "zzzz";
        assert!(msg(mnemonic_to_seed(&unknown, "")).contains("word 12"));
        let seed = Seed::from_bytes(&[7u8; 64]).unwrap();
        assert!(matches!(
            derive_ed25519(&seed, "m/44'/501'/0"),
            Err(Error::InvalidInput(m)) if m.contains("hardened")
        ));
        assert!(matches!(
            derive_secp256k1(&seed, "m/x"),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            Seed::from_bytes(&[0u8; 8]),
            Err(Error::InvalidInput(_))
        ));
        assert!(
            matches!(preset("dogecoin"), Err(Error::InvalidInput(m)) if m.contains("ethereum"))
        );
        assert_eq!(format!("{seed:?}"), "Seed(..)");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn generated_mnemonics_round_trip_and_the_passphrase_matters() {
        for (length, words) in [(MnemonicLength::Words12, 12), (MnemonicLength::Words24, 24)] {
            let phrase = generate_mnemonic(length).unwrap();
            assert_eq!(phrase.split(' ').count(), words);
            let a = mnemonic_to_seed(&phrase, "").unwrap();
            let b = mnemonic_to_seed(&phrase, "passphrase").unwrap();
            assert_ne!(a.as_bytes(), b.as_bytes());
            assert_ne!(*phrase, *generate_mnemonic(length).unwrap());
        }
        // A preset is its path on its curve.
        let seed = mnemonic_to_seed(&("abandon ".repeat(11) + "about"), "").unwrap();
        for p in PRESETS {
            let key = derive_preset(&seed, p, 3).unwrap();
            let direct = match p.key_type {
                KeyType::Ed25519 => derive_ed25519(&seed, &p.path(3)).unwrap(),
                _ => derive_secp256k1(&seed, &p.path(3)).unwrap(),
            };
            assert_eq!(*key, *direct, "{}", p.name);
            assert_ne!(*key, *derive_preset(&seed, p, 4).unwrap(), "{}", p.name);
        }
    }

    /// The batch path (parent derived once) gives the same keys as deriving each from the root.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn public_keys_match_one_by_one_derivation() {
        let seed = mnemonic_to_seed(&format!("{}about", "abandon ".repeat(11)), "").unwrap();
        for preset in PRESETS {
            let batch = public_keys(&seed, preset, 3..7).unwrap();
            assert_eq!(batch.len(), 4);
            for (i, public) in (3..7).zip(&batch) {
                let secret = derive_preset(&seed, preset, i).unwrap();
                let bytes: [u8; 32] = secret.as_ref().try_into().unwrap();
                let key =
                    crate::keys::PrivateKey::from_bytes(preset.key_type, &Zeroizing::new(bytes))
                        .unwrap();
                assert_eq!(&key.public_key(), public, "{} {i}", preset.name);
            }
        }
        assert!(public_keys(&seed, preset("ethereum").unwrap(), (1 << 31)..(1 << 31) + 1).is_err());
        for name in ["ethereum", "ethereum-ledger-live"] {
            let preset = preset(name).unwrap();
            let addresses = eth_addresses(&seed, preset, 0..3).unwrap();
            let keys = public_keys(&seed, preset, 0..3).unwrap();
            for (address, key) in addresses.iter().zip(&keys) {
                assert_eq!(*address, crate::eth_address(key).unwrap(), "{name}");
            }
        }
        assert!(eth_addresses(&seed, preset("solana").unwrap(), 0..1).is_err());
    }
}
