//! One-shot encryption of bytes under a keyspace's data key.

use crate::SecretBytes;

use crate::crypto::{self, Key};
use crate::format::AEAD_XCHACHA20POLY1305;
use crate::{Error, Result};

/// Version of the one-shot ciphertext format.
pub(crate) const DATA_VERSION: u8 = 1;

fn aad() -> Vec<u8> {
    let mut aad = b"vault/v1/data".to_vec();
    aad.extend_from_slice(&[DATA_VERSION, AEAD_XCHACHA20POLY1305]);
    aad
}

/// version ‖ algorithm ‖ nonce ‖ ciphertext ‖ tag.
pub(crate) fn encrypt(key: &Key, plaintext: &[u8]) -> Result<Vec<u8>> {
    // One allocation of the final size: growing a small vector to megabytes costs a copy.
    let mut out = Vec::with_capacity(2 + crypto::NONCE_LEN + plaintext.len() + crypto::TAG_LEN);
    out.extend_from_slice(&[DATA_VERSION, AEAD_XCHACHA20POLY1305]);
    crypto::seal_into(key, &aad(), plaintext, &mut out)?;
    Ok(out)
}

pub(crate) fn decrypt(key: &Key, ciphertext: &[u8]) -> Result<SecretBytes> {
    match ciphertext {
        [DATA_VERSION, AEAD_XCHACHA20POLY1305, sealed @ ..] => crypto::open(key, &aad(), sealed)
            .ok_or(Error::DecryptionFailed(
                "ciphertext altered, truncated or from another keyspace",
            )),
        [0, ..] => Err(Error::DecryptionFailed(
            "ciphertext version 0 was never written by any release",
        )),
        [version, algorithm, ..] => Err(Error::UnsupportedFormat(format!(
            "ciphertext version {version}, algorithm {algorithm}"
        ))),
        _ => Err(Error::DecryptionFailed("ciphertext too short")),
    }
}
