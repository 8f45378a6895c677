//! One-shot encryption of bytes under a keyspace's data key.

use crate::SecretBytes;

use crate::crypto::{self, Key};
use crate::format::AEAD_XCHACHA20POLY1305;
use crate::{Error, Result};

/// Version of the one-shot ciphertext format written (version 1 is still read).
pub(crate) const DATA_VERSION: u8 = 2;

/// The associated data of `version`: `vault/v{version}/data` ‖ version ‖ algorithm, and from
/// version 2 zero-padded to [`crypto::AAD_BLOCK`] bytes (docs/FORMAT.md, docs/PERF.md).
fn aad(version: u8) -> Vec<u8> {
    let mut aad = format!("vault/v{version}/data").into_bytes();
    aad.extend_from_slice(&[version, AEAD_XCHACHA20POLY1305]);
    if version >= 2 {
        aad.resize(crypto::AAD_BLOCK, 0);
    }
    aad
}

/// What [`Vault::encrypt`](crate::Vault::encrypt) adds to a plaintext: version, algorithm,
/// nonce and tag (docs/FORMAT.md), 42 bytes; a ciphertext is `plaintext.len() +
/// CIPHERTEXT_OVERHEAD` bytes.
pub const CIPHERTEXT_OVERHEAD: usize = 2 + crypto::NONCE_LEN + crypto::TAG_LEN;

/// version ‖ algorithm ‖ nonce ‖ ciphertext ‖ tag.
pub(crate) fn encrypt(key: &Key, plaintext: &[u8]) -> Result<Vec<u8>> {
    // One allocation of the final size: growing a small vector to megabytes costs a copy.
    let mut out = Vec::with_capacity(plaintext.len() + CIPHERTEXT_OVERHEAD);
    out.extend_from_slice(&[DATA_VERSION, AEAD_XCHACHA20POLY1305]);
    crypto::seal_into(key, &aad(DATA_VERSION), plaintext, &mut out)?;
    Ok(out)
}

pub(crate) fn decrypt(key: &Key, ciphertext: &[u8]) -> Result<SecretBytes> {
    match ciphertext {
        [version @ (1 | DATA_VERSION), AEAD_XCHACHA20POLY1305, sealed @ ..] => {
            crypto::open(key, &aad(*version), sealed).ok_or(Error::DecryptionFailed(
                "ciphertext altered, truncated or from another keyspace",
            ))
        }
        [0, ..] => Err(Error::DecryptionFailed(
            "ciphertext version 0 was never written by any release",
        )),
        [version, algorithm, ..] => Err(Error::UnsupportedFormat(format!(
            "ciphertext version {version}, algorithm {algorithm}"
        ))),
        _ => Err(Error::DecryptionFailed("ciphertext too short")),
    }
}
