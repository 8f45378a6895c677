//! The cryptographic primitives, each from a RustCrypto crate: random bytes, Argon2id, HKDF,
//! HMAC, XChaCha20-Poly1305. Nothing here is hand-rolled.

use crate::SecretBytes;
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::{Error, Result};

/// A 256-bit symmetric key that zeroizes on drop.
pub(crate) type Key = Zeroizing<[u8; 32]>;

pub(crate) const NONCE_LEN: usize = 24;
pub(crate) const TAG_LEN: usize = 16;

/// Fills `buf` from the operating system (natively) or `crypto.getRandomValues` (browser).
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(Error::RandomSource)
}

pub(crate) fn random_key() -> Result<Key> {
    let mut key = Zeroizing::new([0u8; 32]);
    random_bytes(key.as_mut())?;
    Ok(key)
}

/// Argon2id cost parameters of a keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// The defaults: m = 64 MiB, t = 3, p = 1. Measured with `scripts/bench.sh vault` on this
    /// project's 2-core machine (release builds): unlock about 0.10 s natively and about 0.12 s
    /// in headless Chromium on IndexedDB, so unlock in a browser stays well under a second
    /// while costing an attacker 64 MiB and three passes per guess. Stronger than the floor
    /// m = 19 MiB, t = 2, p = 1.
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };

    /// The largest memory accepted when reading a keyspace (256 MiB), so a hostile record
    /// cannot make unlock allocate gigabytes.
    pub const MAX_MEMORY_KIB: u32 = 256 * 1024;
    /// The most passes accepted (10): with the memory bound, unlock stays within seconds.
    pub const MAX_ITERATIONS: u32 = 10;
    /// The most lanes accepted (4).
    pub const MAX_PARALLELISM: u32 = 4;

    /// Cheap parameters for tests and examples only (m = 64 KiB, t = 1): never for real data.
    /// The only parameters below [`KdfParams::MIN`] a [`Vault`](crate::Vault) accepts.
    pub const INSECURE_FOR_TESTS: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    /// The floor for parameters a vault writes (OWASP's Argon2id minimum): memory at least
    /// 19 MiB (19,456 KiB) and memory × passes at least 38,912 KiB, so m = 19 MiB needs t ≥ 2
    /// and m ≥ 38 MiB may use t = 1. [`Vault::with_kdf`](crate::Vault::with_kdf) refuses
    /// anything weaker except [`KdfParams::INSECURE_FOR_TESTS`]. Reading is not affected: a
    /// keyspace written with weaker parameters still opens.
    pub const MIN: KdfParams = KdfParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Checks the documented bounds; both when creating and when reading a keyspace.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for parameters out of bounds.
    pub fn validate(&self) -> Result<()> {
        let ok = (1..=Self::MAX_PARALLELISM).contains(&self.parallelism)
            && (1..=Self::MAX_ITERATIONS).contains(&self.iterations)
            && self.memory_kib >= 8 * self.parallelism
            && self.memory_kib <= Self::MAX_MEMORY_KIB;
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!(
                "Argon2id parameters {self:?} out of bounds (memory 8*p..={} KiB, iterations 1..={}, parallelism 1..={})",
                Self::MAX_MEMORY_KIB,
                Self::MAX_ITERATIONS,
                Self::MAX_PARALLELISM
            )))
        }
    }

    /// Checks the bounds and the floor ([`KdfParams::MIN`]) for parameters a vault will write.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for parameters out of bounds or below the floor.
    pub fn validate_for_writing(&self) -> Result<()> {
        self.validate()?;
        let min = Self::MIN;
        let strong_enough = self.memory_kib >= min.memory_kib
            && u64::from(self.memory_kib) * u64::from(self.iterations)
                >= u64::from(min.memory_kib) * u64::from(min.iterations);
        if strong_enough || *self == Self::INSECURE_FOR_TESTS {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!(
                "Argon2id parameters {self:?} are below the floor (memory >= {} KiB and memory x iterations >= {} KiB); only KdfParams::INSECURE_FOR_TESTS may be weaker",
                min.memory_kib,
                min.memory_kib * min.iterations
            )))
        }
    }

    /// The parameters a keyspace stored with `self` is re-wrapped with by a vault configured
    /// with `configured`: the component-wise maximum, so no parameter is ever lowered. `None`
    /// when nothing would change.
    pub(crate) fn upgrade_to(&self, configured: &KdfParams) -> Option<KdfParams> {
        let target = KdfParams {
            memory_kib: self.memory_kib.max(configured.memory_kib),
            iterations: self.iterations.max(configured.iterations),
            parallelism: self.parallelism.max(configured.parallelism),
        };
        (target != *self).then_some(target)
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Argon2id(password, salt) → 32-byte key, after checking the parameters' bounds.
pub(crate) fn derive_password_key(password: &[u8], salt: &[u8], params: &KdfParams) -> Result<Key> {
    params.validate()?;
    let params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .map_err(|e| Error::InvalidInput(format!("Argon2id parameters rejected: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password, salt, key.as_mut())
        .map_err(|e| Error::InvalidInput(format!("Argon2id failed: {e}")))?;
    Ok(key)
}

/// HKDF-SHA256(ikm, salt, info) → 32-byte key.
pub(crate) fn hkdf(ikm: &[u8], salt: &[u8], info: &[u8]) -> Key {
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, out.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

/// HMAC-SHA256(key, parts...) → 32 bytes.
pub(crate) fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time check of an HMAC-SHA256 tag.
/// Equality of two byte strings in time independent of their contents (not of their lengths).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

pub(crate) fn hmac_verify(key: &[u8; 32], parts: &[&[u8]], tag: &[u8]) -> bool {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(tag).is_ok()
}

/// XChaCha20-Poly1305 with `nonce`: ciphertext ‖ tag.
pub(crate) fn seal_with_nonce(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    XChaCha20Poly1305::new(key.into())
        .encrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("XChaCha20-Poly1305 encrypts any length this crate produces")
}

/// Associated data of the bulk formats (one-shot ciphertexts and stream chunks, version 2) is
/// zero-padded to this many bytes, four Poly1305 blocks: poly1305's AVX2 backend hashes four
/// blocks at a time only while the blocks it has seen are a multiple of four, so the message
/// after 1–3 blocks of associated data would take its one-block path (docs/PERF.md).
pub(crate) const AAD_BLOCK: usize = 64;

/// Appends ciphertext ‖ tag of `plaintext` under `nonce` to `out`, encrypting in place so the
/// plaintext is copied once.
pub(crate) fn seal_append(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) {
    out.reserve(plaintext.len() + TAG_LEN);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = XChaCha20Poly1305::new(key.into())
        .encrypt_in_place_detached(XNonce::from_slice(nonce), aad, &mut out[start..])
        .expect("XChaCha20-Poly1305 encrypts any length this crate produces");
    out.extend_from_slice(&tag);
}

/// Appends nonce ‖ ciphertext ‖ tag of `plaintext` to `out` (XChaCha20-Poly1305, random nonce).
pub(crate) fn seal_into(
    key: &[u8; 32],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let mut nonce = [0u8; NONCE_LEN];
    random_bytes(&mut nonce)?;
    seal_with_nonce_into(key, &nonce, aad, plaintext, out);
    Ok(())
}

/// [`seal_into`] with a nonce the caller drew (a batch draws all of its nonces with
/// [`random_nonces`]).
pub(crate) fn seal_with_nonce_into(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(nonce);
    seal_append(key, nonce, aad, plaintext, out);
}

/// `n` random nonces from one call to the random source (a call costs about a microsecond in a
/// browser, more than sealing a small record).
pub(crate) fn random_nonces(n: usize) -> Result<Vec<[u8; NONCE_LEN]>> {
    let mut nonces = vec![[0u8; NONCE_LEN]; n];
    random_bytes(nonces.as_flattened_mut())?;
    Ok(nonces)
}

/// Opens `ciphertext ‖ tag` under `nonce`; `None` if authentication fails.
pub(crate) fn open_with_nonce(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Option<SecretBytes> {
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
        .map(SecretBytes::from)
}

/// Opens `ciphertext ‖ tag` in place: on success the first `len - 16` bytes of `sealed` are the
/// plaintext (returned as a slice); on failure `None` and `sealed` is unspecified.
pub(crate) fn open_in_place<'a>(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &'a mut [u8],
) -> Option<&'a [u8]> {
    let split = sealed.len().checked_sub(TAG_LEN)?;
    let (ciphertext, tag) = sealed.split_at_mut(split);
    let tag = chacha20poly1305::Tag::clone_from_slice(tag);
    XChaCha20Poly1305::new(key.into())
        .decrypt_in_place_detached(XNonce::from_slice(nonce), aad, ciphertext, &tag)
        .ok()?;
    Some(ciphertext)
}

/// Opens `nonce ‖ ciphertext ‖ tag`; `None` if too short or authentication fails.
pub(crate) fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<SecretBytes> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    open_with_nonce(key, nonce.try_into().ok()?, aad, ciphertext)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Project Wycheproof's XChaCha20-Poly1305 vectors through this module's seal and open.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn xchacha20poly1305_matches_wycheproof() {
        use wycheproof::aead::{TestName, TestSet};
        use wycheproof::TestResult;
        let set = TestSet::load(TestName::XChaCha20Poly1305).unwrap();
        let mut checked = 0;
        for group in &set.test_groups {
            for test in &group.tests {
                let (Ok(key), Ok(nonce)) = (
                    <[u8; 32]>::try_from(test.key.as_slice()),
                    <[u8; NONCE_LEN]>::try_from(test.nonce.as_slice()),
                ) else {
                    // Other key or nonce sizes cannot be expressed through this API at all.
                    assert_eq!(test.result, TestResult::Invalid, "tc {}", test.tc_id);
                    continue;
                };
                let sealed = [test.ct.as_slice(), test.tag.as_slice()].concat();
                let opened = open_with_nonce(&key, &nonce, &test.aad, &sealed);
                match test.result {
                    TestResult::Valid => {
                        assert_eq!(
                            opened.as_deref(),
                            Some(test.pt.as_slice()),
                            "tc {}",
                            test.tc_id
                        );
                        assert_eq!(
                            seal_with_nonce(&key, &nonce, &test.aad, &test.pt),
                            sealed,
                            "tc {}",
                            test.tc_id
                        );
                    }
                    TestResult::Invalid => assert!(opened.is_none(), "tc {} opened", test.tc_id),
                    TestResult::Acceptable => {}
                }
                checked += 1;
            }
        }
        assert!(checked > 10);
    }
}
