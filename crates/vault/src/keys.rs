//! Key pairs: secp256k1 (ECDSA over SHA-256, and Ethereum personal-message signing) and
//! Ed25519. Verification needs only a public key.

use ed25519_dalek::Signer as _;
use k256::ecdsa::{RecoveryId, Signature as EcdsaSignature, SigningKey, VerifyingKey};
use sha3::{Digest, Keccak256};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// The algorithm of a key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// secp256k1: ECDSA over SHA-256 (RFC 6979 nonces, low-S), and Ethereum signing.
    Secp256k1,
    /// Ed25519 (RFC 8032).
    Ed25519,
}

impl KeyType {
    /// The algorithm id stored in records (`docs/FORMAT.md`).
    pub(crate) fn id(self) -> u8 {
        match self {
            KeyType::Secp256k1 => 1,
            KeyType::Ed25519 => 2,
        }
    }

    pub(crate) fn from_id(id: u8) -> Result<Self> {
        match id {
            1 => Ok(KeyType::Secp256k1),
            2 => Ok(KeyType::Ed25519),
            other => Err(Error::UnsupportedFormat(format!(
                "key algorithm id {other}"
            ))),
        }
    }

    /// `"secp256k1"` or `"ed25519"`: the name used by the CLI and the JavaScript package.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Secp256k1 => "secp256k1",
            KeyType::Ed25519 => "ed25519",
        }
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for KeyType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "secp256k1" | "k256" => Ok(KeyType::Secp256k1),
            "ed25519" => Ok(KeyType::Ed25519),
            other => Err(Error::InvalidInput(format!(
                "unknown key type {other:?}: expected \"secp256k1\" or \"ed25519\""
            ))),
        }
    }
}

/// A parsed private key, ready to sign (its public key computed once). Both inner types
/// zeroize on drop and never print themselves.
pub(crate) enum PrivateKey {
    Secp256k1(SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl PrivateKey {
    /// Parses a raw 32-byte key of `key_type` (secp256k1 scalar 0 < k < n, or Ed25519 seed).
    pub(crate) fn from_bytes(key_type: KeyType, bytes: &[u8; 32]) -> Result<Self> {
        Ok(match key_type {
            KeyType::Secp256k1 => {
                PrivateKey::Secp256k1(SigningKey::from_slice(bytes).map_err(|_| {
                    Error::InvalidInput(
                        "not a valid secp256k1 private key (must be 0 < k < n)".into(),
                    )
                })?)
            }
            KeyType::Ed25519 => PrivateKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(bytes)),
        })
    }

    pub(crate) fn key_type(&self) -> KeyType {
        match self {
            PrivateKey::Secp256k1(_) => KeyType::Secp256k1,
            PrivateKey::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// The raw 32 bytes (what [`from_bytes`](Self::from_bytes) takes).
    pub(crate) fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(match self {
            PrivateKey::Secp256k1(key) => key.to_bytes().into(),
            PrivateKey::Ed25519(key) => key.to_bytes(),
        })
    }

    /// The public key: 33-byte compressed SEC1 for secp256k1, 32 bytes for Ed25519.
    pub(crate) fn public_key(&self) -> Vec<u8> {
        match self {
            PrivateKey::Secp256k1(key) => key
                .verifying_key()
                .to_encoded_point(true)
                .as_bytes()
                .to_vec(),
            PrivateKey::Ed25519(key) => key.verifying_key().to_bytes().to_vec(),
        }
    }

    /// secp256k1: 64-byte r ‖ s (low-S) of ECDSA over SHA-256(message), RFC 6979 nonce.
    /// Ed25519: the 64-byte RFC 8032 signature of message.
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            PrivateKey::Secp256k1(key) => {
                let signature: EcdsaSignature = k256::ecdsa::signature::Signer::sign(key, message);
                signature.to_bytes().to_vec()
            }
            PrivateKey::Ed25519(key) => key.sign(message).to_bytes().to_vec(),
        }
    }

    /// EIP-191 personal-message signature: 65 bytes r ‖ s ‖ v with v = 27 + recovery id.
    pub(crate) fn sign_eth_personal(&self, message: &[u8]) -> Result<[u8; 65]> {
        Ok(self.sign_hash(&eth_personal_hash(message))?.to_bytes())
    }

    /// The secp256k1 key, for Ethereum signing.
    pub(crate) fn secp256k1(&self) -> Result<&SigningKey> {
        match self {
            PrivateKey::Secp256k1(key) => Ok(key),
            PrivateKey::Ed25519(_) => Err(Error::InvalidInput(
                "Ethereum signing needs a secp256k1 key pair".into(),
            )),
        }
    }

    /// A recoverable signature over a 32-byte hash (secp256k1 only).
    pub(crate) fn sign_hash(&self, hash: &[u8; 32]) -> Result<crate::eth::EthSignature> {
        crate::eth::sign_prehash(self.secp256k1()?, hash)
    }
}

/// Verifies `signature` over `message` with a public key of `key_type` (formats as produced by
/// the vault's `sign`; secp256k1 keys compressed or uncompressed). `Ok(false)` for a signature
/// that does not verify; `InvalidInput` for a malformed key or signature.
///
/// The rules are strict (`docs/FORMAT.md`): secp256k1 signatures must be low-S (no
/// malleability); Ed25519 follows RFC 8032's cofactorless equation and also rejects a public
/// key or an `R` of small order and any non-canonical `S`, so a key such as the identity point
/// cannot make one signature valid for every message.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a malformed public key or signature (a well-formed signature
/// that does not verify is `Ok(false)`).
pub fn verify(
    key_type: KeyType,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<bool> {
    match key_type {
        KeyType::Secp256k1 => {
            let key = VerifyingKey::from_sec1_bytes(public_key)
                .map_err(|_| Error::InvalidInput("not a secp256k1 public key".into()))?;
            let signature = EcdsaSignature::from_slice(signature)
                .map_err(|_| Error::InvalidInput("not a 64-byte secp256k1 signature".into()))?;
            Ok(k256::ecdsa::signature::Verifier::verify(&key, message, &signature).is_ok())
        }
        KeyType::Ed25519 => {
            let key: [u8; 32] = public_key
                .try_into()
                .map_err(|_| Error::InvalidInput("an Ed25519 public key has 32 bytes".into()))?;
            let signature: [u8; 64] = signature
                .try_into()
                .map_err(|_| Error::InvalidInput("an Ed25519 signature has 64 bytes".into()))?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&key)
                .map_err(|_| Error::InvalidInput("not an Ed25519 public key".into()))?;
            let signature = ed25519_dalek::Signature::from_bytes(&signature);
            Ok(key.verify_strict(message, &signature).is_ok())
        }
    }
}

/// Keccak-256 of the EIP-191 personal message: `"\x19Ethereum Signed Message:\n" ‖ len ‖ message`.
pub fn eth_personal_hash(message: &[u8]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    hasher.update(b"\x19Ethereum Signed Message:\n");
    hasher.update(message.len().to_string().as_bytes());
    hasher.update(message);
    hasher.finalize().into()
}

/// The 20-byte Ethereum address of a secp256k1 public key (compressed or uncompressed).
///
/// # Errors
///
/// [`Error::InvalidInput`] for bytes that are not a secp256k1 public key.
pub fn eth_address(public_key: &[u8]) -> Result<[u8; 20]> {
    let key = VerifyingKey::from_sec1_bytes(public_key)
        .map_err(|_| Error::InvalidInput("not a secp256k1 public key".into()))?;
    Ok(address_of(&key))
}

pub(crate) fn address_of(key: &VerifyingKey) -> [u8; 20] {
    let point = key.to_encoded_point(false);
    let hash = Keccak256::digest(&point.as_bytes()[1..]);
    let mut address = [0u8; 20];
    address.copy_from_slice(&hash[12..]);
    address
}

/// The EIP-55 mixed-case checksum form of an address, with `0x`.
pub fn eth_checksum_address(address: &[u8; 20]) -> String {
    let lower: String = address.iter().map(|b| format!("{b:02x}")).collect();
    let hash = Keccak256::digest(lower.as_bytes());
    let mut out = String::from("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        out.push(if c.is_ascii_alphabetic() && nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    out
}

/// Parses a `0x`-prefixed (or bare) 40-hex-digit Ethereum address. All-lowercase and
/// all-uppercase addresses are taken as they are; a mixed-case address must carry a valid
/// EIP-55 checksum (a typo in it is an error, not another address).
///
/// # Errors
///
/// [`Error::InvalidInput`] for anything but 40 hex digits (with an optional `0x`), or a
/// mixed-case address whose EIP-55 checksum is wrong.
pub fn parse_eth_address(text: &str) -> Result<[u8; 20]> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let bad =
        |why: &str| Error::InvalidInput(format!("{text:?} is not an Ethereum address: {why}"));
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("expected 40 hex digits"));
    }
    let mut out = [0u8; 20];
    for (byte, pair) in out.iter_mut().zip(digits.as_bytes().chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| bad("expected 40 hex digits"))?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| bad("expected 40 hex digits"))?;
    }
    let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
    let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
    if has_upper && has_lower && eth_checksum_address(&out)[2..] != *digits {
        return Err(bad("its mixed case is not a valid EIP-55 checksum"));
    }
    Ok(out)
}

/// Recovers the signer of an EIP-191 personal-message signature (65 bytes r ‖ s ‖ v, v in
/// {0, 1, 27, 28}) and compares it with `address`. `Ok(false)` when the signature is not
/// valid, including high-S signatures (rejected, as Ethereum does since Homestead).
///
/// # Errors
///
/// [`Error::InvalidInput`] for a signature that is not 65 bytes or whose v is not 0, 1, 27 or
/// 28.
pub fn verify_eth_personal(address: &[u8; 20], message: &[u8], signature: &[u8]) -> Result<bool> {
    Ok(recover_eth_personal(message, signature)?.as_ref() == Some(address))
}

/// The address that made an EIP-191 personal-message signature, or `None` when the signature
/// is not valid (high S, r or s out of range, or no key recovers from it). `InvalidInput` only
/// for a signature that is not 65 bytes or whose v is not 0, 1, 27 or 28.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a signature that is not 65 bytes or whose v is not 0, 1, 27 or
/// 28.
pub fn recover_eth_personal(message: &[u8], signature: &[u8]) -> Result<Option<[u8; 20]>> {
    let signature: &[u8; 65] = signature
        .try_into()
        .map_err(|_| Error::InvalidInput("an Ethereum signature has 65 bytes".into()))?;
    let v = match signature[64] {
        v @ (0 | 1) => v,
        v @ (27 | 28) => v - 27,
        v => {
            return Err(Error::InvalidInput(format!(
                "Ethereum signature has invalid v = {v}"
            )))
        }
    };
    let Some(recovery) = RecoveryId::from_byte(v) else {
        return Ok(None);
    };
    let Ok(rs) = EcdsaSignature::from_slice(&signature[..64]) else {
        return Ok(None);
    };
    if rs.normalize_s().is_some() {
        return Ok(None);
    }
    Ok(
        VerifyingKey::recover_from_prehash(&eth_personal_hash(message), &rs, recovery)
            .ok()
            .map(|key| address_of(&key)),
    )
}
