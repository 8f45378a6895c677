//! [`SecretBytes`]: the buffer every secret value, private key and plaintext is returned in.

use std::ops::Deref;

use zeroize::Zeroize;

/// Secret bytes: a secret's value, an exported private key, a plaintext. Wiped when dropped —
/// the whole allocation, in one bulk pass (`zeroize::Zeroizing<Vec<u8>>` writes byte by byte,
/// which costs as much as decrypting) — and never printed. Read it through `Deref` (`&*secret`
/// or `secret.as_ref()` is a `&[u8]`).
///
/// Copies the caller makes (`to_vec`, a `String`) are the caller's to wipe.
#[derive(Default)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// The bytes, for the caller to read.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// An empty buffer that can grow to `capacity` bytes without moving.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        SecretBytes(Vec::with_capacity(capacity))
    }

    /// The buffer, to fill in place. Callers reserve first: a reallocation would leave a copy
    /// behind that nothing wipes.
    pub(crate) fn vec_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl From<Vec<u8>> for SecretBytes {
    /// Takes ownership of `bytes` (no copy); they are wiped with it.
    fn from(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }
}

impl Deref for SecretBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for SecretBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<{} bytes>)", self.0.len())
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        zeroize::zeroize_bytes(&mut self.0);
        self.0.spare_capacity_mut().zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn secret_bytes_read_as_bytes_and_never_print_them() {
        let secret = SecretBytes::from(b"hunter2".to_vec());
        assert_eq!(&*secret, b"hunter2");
        assert_eq!(secret.as_ref(), b"hunter2");
        assert_eq!(format!("{secret:?}"), "SecretBytes(<7 bytes>)");
    }
}
