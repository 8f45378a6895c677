//! Keyspaces: creation, unlock (with KDF upgrade), password change, deletion, and the unlocked
//! keyspace value that holds the derived keys.

use zeroize::Zeroizing;

use crate::crypto::{self, KdfParams, Key};
use crate::format::{self, put_bytes16, Header, ID_LEN};
use crate::{Error, Result};

/// Longest keyspace name, in bytes.
pub const MAX_KEYSPACE_NAME_LEN: usize = 64;
/// Longest key-pair or secret name, in bytes.
pub const MAX_ITEM_NAME_LEN: usize = 256;

pub(crate) fn validate_name(kind: &'static str, name: &str, max: usize) -> Result<()> {
    if name.is_empty() || name.len() > max || name.chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!(
            "{kind} name {name:?} must be 1 to {max} bytes of UTF-8 without control characters"
        )));
    }
    Ok(())
}

/// An unlocked keyspace: its name, id and the keys derived from its keyspace key. Owned by the
/// caller (stateless API) or by a [`Session`](crate::Session). All key material zeroizes on
/// drop; `Debug` shows only the name.
pub struct UnlockedKeyspace {
    pub(crate) name: String,
    pub(crate) id: [u8; ID_LEN],
    pub(crate) keyspace_key: Key,
    pub(crate) record_key: Key,
    pub(crate) index_key: Key,
    pub(crate) data_key: Key,
    pub(crate) backup_key: Key,
}

impl std::fmt::Debug for UnlockedKeyspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnlockedKeyspace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl UnlockedKeyspace {
    pub(crate) fn new(name: &str, id: [u8; ID_LEN], keyspace_key: Key) -> Self {
        let derive = |info: &[u8]| crypto::hkdf(keyspace_key.as_ref(), &id, info);
        UnlockedKeyspace {
            name: name.to_owned(),
            id,
            record_key: derive(b"vault/v1/record-key"),
            index_key: derive(b"vault/v1/name-index-key"),
            data_key: derive(b"vault/v1/data-key"),
            backup_key: derive(b"vault/v1/backup-key"),
            keyspace_key,
        }
    }

    /// The keyspace's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn wrap_aad(name: &str, header: &Header) -> Vec<u8> {
    let mut aad = b"vault/v1/keyspace-key".to_vec();
    put_bytes16(&mut aad, name.as_bytes());
    aad.extend(header.authenticated());
    aad
}

/// A new header wrapping `keyspace_key` under `password` with fresh salt and nonce.
pub(crate) fn wrap(
    name: &str,
    id: [u8; ID_LEN],
    keyspace_key: &Key,
    password: &[u8],
    kdf: KdfParams,
) -> Result<Header> {
    let mut salt = [0u8; format::SALT_LEN];
    crypto::random_bytes(&mut salt)?;
    let mut nonce = [0u8; crypto::NONCE_LEN];
    crypto::random_bytes(&mut nonce)?;
    let mut header = Header {
        kdf,
        salt,
        id,
        nonce,
        wrapped: [0; format::WRAPPED_LEN],
    };
    let password_key = crypto::derive_password_key(password, &salt, &kdf)?;
    let sealed = crypto::seal_with_nonce(
        &password_key,
        &nonce,
        &wrap_aad(name, &header),
        keyspace_key.as_ref(),
    );
    header.wrapped = sealed
        .as_slice()
        .try_into()
        .map_err(|_| Error::Corrupted("unexpected wrapped key length".into()))?;
    Ok(header)
}

/// Unwraps a header's keyspace key with `password`.
pub(crate) fn unwrap(name: &str, header: &Header, password: &[u8]) -> Result<UnlockedKeyspace> {
    let password_key = crypto::derive_password_key(password, &header.salt, &header.kdf)?;
    let plain = crypto::open_with_nonce(
        &password_key,
        &header.nonce,
        &wrap_aad(name, header),
        &header.wrapped,
    )
    .ok_or_else(|| Error::WrongPassword {
        keyspace: name.to_owned(),
    })?;
    let key: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| Error::Corrupted("wrapped keyspace key has a wrong length".into()))?;
    Ok(UnlockedKeyspace::new(name, header.id, Zeroizing::new(key)))
}
