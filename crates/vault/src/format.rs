//! Byte layouts of everything the vault persists or exports, as specified in `docs/FORMAT.md`.
//! Every reader checks lengths and returns [`Error::Corrupted`] (stored data) or
//! [`Error::InvalidInput`] (caller data) instead of panicking.

use crate::crypto::{KdfParams, NONCE_LEN};
use crate::{Error, Result};

/// Version of the keyspace header record.
pub(crate) const HEADER_VERSION: u8 = 1;
/// Version of key-pair and secret records.
pub(crate) const RECORD_VERSION: u8 = 1;
/// Algorithm id of the password KDF: Argon2id, version 0x13.
pub(crate) const KDF_ARGON2ID: u8 = 1;
/// Algorithm id of the AEAD: XChaCha20-Poly1305.
pub(crate) const AEAD_XCHACHA20POLY1305: u8 = 1;

/// Storage-key prefix of keyspace headers (followed by the keyspace name).
pub(crate) const HEADER_PREFIX: &[u8] = b"h/";
/// Storage-key prefix of records (followed by keyspace id, kind, name tag).
pub(crate) const RECORD_PREFIX: &[u8] = b"r/";

pub(crate) const SALT_LEN: usize = 16;
pub(crate) const ID_LEN: usize = 16;
pub(crate) const WRAPPED_LEN: usize = 32 + 16;
/// Bytes of a header before the wrap nonce: authenticated as associated data.
pub(crate) const HEADER_AUTHENTICATED_LEN: usize = 1 + 1 + 12 + SALT_LEN + ID_LEN + 1;

/// A forward-only reader over bytes that fails, instead of panicking, when data runs out.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Reader { bytes, what }
    }

    fn short(&self) -> Error {
        Error::Corrupted(format!("{} is truncated", self.what))
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(self.short());
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| self.short())
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A u16-length-prefixed byte string.
    pub(crate) fn bytes16(&mut self) -> Result<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }

    /// A u32-length-prefixed byte string.
    pub(crate) fn bytes32(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    pub(crate) fn finish(&self) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(Error::Corrupted(format!(
                "{} has trailing bytes",
                self.what
            )))
        }
    }
}

pub(crate) fn put_bytes16(out: &mut Vec<u8>, bytes: &[u8]) {
    // Names are bounded far below 64 KiB by validation.
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
}

pub(crate) fn put_bytes32(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The keyspace header: KDF parameters, salt, keyspace id, and the wrapped keyspace key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub kdf: KdfParams,
    pub salt: [u8; SALT_LEN],
    pub id: [u8; ID_LEN],
    pub nonce: [u8; NONCE_LEN],
    pub wrapped: [u8; WRAPPED_LEN],
}

impl Header {
    /// The bytes authenticated (as associated data) by the key wrap.
    pub(crate) fn authenticated(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_AUTHENTICATED_LEN);
        out.push(HEADER_VERSION);
        out.push(KDF_ARGON2ID);
        out.extend_from_slice(&self.kdf.memory_kib.to_le_bytes());
        out.extend_from_slice(&self.kdf.iterations.to_le_bytes());
        out.extend_from_slice(&self.kdf.parallelism.to_le_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.id);
        out.push(AEAD_XCHACHA20POLY1305);
        out
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = self.authenticated();
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.wrapped);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Header> {
        let mut r = Reader::new(bytes, "keyspace header");
        let version = r.u8()?;
        if version != HEADER_VERSION {
            return Err(Error::UnsupportedFormat(format!(
                "keyspace header version {version}"
            )));
        }
        let kdf_alg = r.u8()?;
        if kdf_alg != KDF_ARGON2ID {
            return Err(Error::UnsupportedFormat(format!(
                "KDF algorithm id {kdf_alg}"
            )));
        }
        let kdf = KdfParams {
            memory_kib: r.u32()?,
            iterations: r.u32()?,
            parallelism: r.u32()?,
        };
        let salt = r.array()?;
        let id = r.array()?;
        let aead = r.u8()?;
        if aead != AEAD_XCHACHA20POLY1305 {
            return Err(Error::UnsupportedFormat(format!(
                "AEAD algorithm id {aead}"
            )));
        }
        let header = Header {
            kdf,
            salt,
            id,
            nonce: r.array()?,
            wrapped: r.array()?,
        };
        r.finish()?;
        // Bounds are checked here, before any KDF work: a hostile record is rejected at once.
        header.kdf.validate().map_err(|_| {
            Error::Corrupted(format!(
                "keyspace header has out-of-bounds KDF parameters {kdf:?}"
            ))
        })?;
        Ok(header)
    }
}

/// The storage key of a keyspace's header.
pub(crate) fn header_key(keyspace: &str) -> Vec<u8> {
    [HEADER_PREFIX, keyspace.as_bytes()].concat()
}
