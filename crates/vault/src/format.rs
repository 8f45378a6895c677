//! Byte layouts of everything the vault persists or exports, as specified in `docs/FORMAT.md`:
//! the keyspace header, the id claim, and the records (storage keys, associated data, sealing,
//! key-pair payloads). Every reader checks lengths and returns [`Error::Corrupted`] (stored
//! data) or [`Error::InvalidInput`] (caller data) instead of panicking.

use crate::SecretBytes;
use zeroize::Zeroizing;

use crate::crypto::{self, KdfParams, NONCE_LEN};
use crate::keys::{KeyType, PrivateKey};
use crate::keyspace::{check_stored_name, UnlockedKeyspace, MAX_ITEM_NAME_LEN};
use crate::{Error, Result};

/// Version of the keyspace header this release writes. Version 2 has version 1's layout and
/// means "this keyspace has a manifest and version-2 records"; version 1 headers still open and
/// are upgraded on unlock.
pub(crate) const HEADER_VERSION: u8 = 2;
/// The first header version, written by releases before manifests.
pub(crate) const HEADER_VERSION_1: u8 = 1;
/// Version of key-pair and secret records this release writes (they carry their revision).
pub(crate) const RECORD_VERSION: u8 = 2;
/// Records written before manifests: no revision.
pub(crate) const RECORD_VERSION_1: u8 = 1;
/// Algorithm id of the password KDF: Argon2id, version 0x13.
pub(crate) const KDF_ARGON2ID: u8 = 1;
/// Algorithm id of the AEAD: XChaCha20-Poly1305.
pub(crate) const AEAD_XCHACHA20POLY1305: u8 = 1;

/// Storage-key prefix of keyspace headers (followed by the keyspace name).
pub(crate) const HEADER_PREFIX: &[u8] = b"h/";
/// Storage-key prefix of records (followed by keyspace id, kind, name tag).
pub(crate) const RECORD_PREFIX: &[u8] = b"r/";
/// Storage-key prefix of keyspace-id claims (followed by the keyspace id; the value is the name
/// of the keyspace that owns the id).
pub(crate) const CLAIM_PREFIX: &[u8] = b"i/";

pub(crate) const SALT_LEN: usize = 16;
pub(crate) const ID_LEN: usize = 16;
pub(crate) const WRAPPED_LEN: usize = 32 + 16;
/// Bytes of a header before the wrap nonce: authenticated as associated data.
pub(crate) const HEADER_AUTHENTICATED_LEN: usize = 1 + 1 + 12 + SALT_LEN + ID_LEN + 1;
/// Offset of the keyspace id in a header.
const HEADER_ID_OFFSET: usize = 1 + 1 + 12 + SALT_LEN;
/// Bytes of a record's name tag (HMAC-SHA256).
pub(crate) const NAME_TAG_LEN: usize = 32;
/// Bytes of a record's storage key after `r/` ‖ keyspace id: kind ‖ name tag.
pub(crate) const RECORD_SUFFIX_LEN: usize = 1 + NAME_TAG_LEN;

/// Checks a format version byte. The current version passes; a later one was written by a
/// newer release ([`Error::UnsupportedFormat`]); one below every version ever written (0) was
/// never written by anyone following this format, so the data is [`Error::Corrupted`].
pub(crate) fn check_version(what: &str, version: u8, current: u8) -> Result<()> {
    if version == current {
        Ok(())
    } else if version > current {
        Err(Error::UnsupportedFormat(format!(
            "{what} version {version} (written by a newer release; this one reads {current})"
        )))
    } else {
        Err(Error::Corrupted(format!(
            "{what} version {version} was never written by any release"
        )))
    }
}

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

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
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

fn too_large(what: &str, len: usize, limit: usize) -> Error {
    Error::InvalidInput(format!(
        "{what} of {len} bytes does not fit the format (at most {limit} bytes)"
    ))
}

/// Appends `u16 len ‖ bytes`; a field longer than 65,535 bytes is an error, never truncated.
pub(crate) fn put_bytes16(out: &mut Vec<u8>, bytes: &[u8], what: &str) -> Result<()> {
    let len =
        u16::try_from(bytes.len()).map_err(|_| too_large(what, bytes.len(), u16::MAX as usize))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Appends `u32 len ‖ bytes`; a field longer than `u32::MAX` bytes is an error.
pub(crate) fn put_bytes32(out: &mut Vec<u8>, bytes: &[u8], what: &str) -> Result<()> {
    let len =
        u32::try_from(bytes.len()).map_err(|_| too_large(what, bytes.len(), u32::MAX as usize))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

// ---------------------------------------------------------------------- header

/// The keyspace header: KDF parameters, salt, keyspace id, and the wrapped keyspace key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// [`HEADER_VERSION`] or [`HEADER_VERSION_1`].
    pub version: u8,
    pub kdf: KdfParams,
    pub salt: [u8; SALT_LEN],
    pub id: [u8; ID_LEN],
    pub nonce: [u8; NONCE_LEN],
    pub wrapped: [u8; WRAPPED_LEN],
}

impl Header {
    /// The bytes authenticated (as associated data) by the key wrap: the first 47 bytes.
    pub(crate) fn authenticated(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_AUTHENTICATED_LEN);
        out.push(self.version);
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
        if version != HEADER_VERSION_1 {
            check_version("keyspace header", version, HEADER_VERSION)?;
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
            version,
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

    /// Whether this keyspace has a manifest (header version 2).
    pub(crate) fn has_manifest(&self) -> bool {
        self.version >= HEADER_VERSION
    }

    /// The keyspace id of a stored header without checking anything else: used to find which
    /// keyspaces hold an id even when a header is otherwise damaged.
    pub(crate) fn id_of(bytes: &[u8]) -> Option<[u8; ID_LEN]> {
        bytes
            .get(HEADER_ID_OFFSET..HEADER_ID_OFFSET + ID_LEN)?
            .try_into()
            .ok()
    }
}

/// The storage key of a keyspace's header.
pub(crate) fn header_key(keyspace: &str) -> Vec<u8> {
    [HEADER_PREFIX, keyspace.as_bytes()].concat()
}

/// The storage key of the claim on keyspace id `id`.
pub(crate) fn claim_key(id: &[u8; ID_LEN]) -> Vec<u8> {
    [CLAIM_PREFIX, id].concat()
}

// ---------------------------------------------------------------------- records

/// What a record holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    KeyPair,
    Secret,
    /// A value that lost a sync conflict, kept so nothing is lost (`sync.rs`).
    History,
    /// An HD wallet seed: its mnemonic's entropy and the BIP39 seed (`hd.rs`).
    Seed,
}

impl Kind {
    pub(crate) fn byte(self) -> u8 {
        match self {
            Kind::KeyPair => b'k',
            Kind::Secret => b's',
            Kind::History => b'h',
            Kind::Seed => b'd',
        }
    }

    pub(crate) fn from_byte(byte: u8) -> Option<Kind> {
        match byte {
            b'k' => Some(Kind::KeyPair),
            b's' => Some(Kind::Secret),
            b'h' => Some(Kind::History),
            b'd' => Some(Kind::Seed),
            _ => None,
        }
    }

    pub(crate) fn item(self) -> crate::Item {
        match self {
            Kind::KeyPair => crate::Item::KeyPair,
            Kind::Secret => crate::Item::Secret,
            Kind::History => crate::Item::History,
            Kind::Seed => crate::Item::Seed,
        }
    }

    pub(crate) fn label(self) -> &'static str {
        self.item().as_str()
    }
}

/// The storage-key prefix of all records of keyspace `id`: `r/` ‖ id.
pub(crate) fn record_prefix(id: &[u8]) -> Vec<u8> {
    [RECORD_PREFIX, id].concat()
}

/// HMAC(index key, kind ‖ name): the name tag in a record's storage key.
fn name_tag(ks: &UnlockedKeyspace, kind: Kind, name: &str) -> [u8; NAME_TAG_LEN] {
    crypto::hmac(&ks.index_key, &[&[kind.byte()], name.as_bytes()])
}

/// A record's id: kind ‖ name tag, the 33 bytes of its storage key after `r/` ‖ keyspace id.
pub(crate) type RecordId = [u8; RECORD_SUFFIX_LEN];

/// Record `name`'s id in keyspace `ks`.
pub(crate) fn record_id(ks: &UnlockedKeyspace, kind: Kind, name: &str) -> RecordId {
    let mut rid = [0u8; RECORD_SUFFIX_LEN];
    rid[0] = kind.byte();
    rid[1..].copy_from_slice(&name_tag(ks, kind, name));
    rid
}

/// Storage key of a record: `r/` ‖ keyspace id ‖ kind ‖ HMAC(index key, kind ‖ name).
pub(crate) fn record_key(ks: &UnlockedKeyspace, kind: Kind, name: &str) -> Vec<u8> {
    record_key_of(&ks.id, &record_id(ks, kind, name))
}

/// Storage key of record `rid` of keyspace `id`.
pub(crate) fn record_key_of(id: &[u8; ID_LEN], rid: &RecordId) -> Vec<u8> {
    let mut key = Vec::with_capacity(RECORD_PREFIX.len() + ID_LEN + RECORD_SUFFIX_LEN);
    key.extend_from_slice(RECORD_PREFIX);
    key.extend_from_slice(id);
    key.extend_from_slice(rid);
    key
}

/// Associated data of a record. Version 2: `vault/v2/record` ‖ the whole storage key ‖ 0x02 ‖
/// revision (u64). Version 1: `vault/v1/record` ‖ the whole storage key ‖ 0x01.
fn record_aad(storage_key: &[u8], revision: Option<u64>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(15 + storage_key.len() + 9);
    match revision {
        Some(revision) => {
            aad.extend_from_slice(b"vault/v2/record");
            aad.extend_from_slice(storage_key);
            aad.push(RECORD_VERSION);
            aad.extend_from_slice(&revision.to_le_bytes());
        }
        None => {
            aad.extend_from_slice(b"vault/v1/record");
            aad.extend_from_slice(storage_key);
            aad.push(RECORD_VERSION_1);
        }
    }
    aad
}

/// Encrypts a record at keyspace revision `revision`: version 2 ‖ revision (u64) ‖ nonce ‖
/// ciphertext of (name ‖ payload), bound to its storage key and revision.
pub(crate) fn seal_record_with_nonce(
    ks: &UnlockedKeyspace,
    storage_key: &[u8],
    name: &str,
    payload: &[u8],
    revision: u64,
    nonce: &[u8; NONCE_LEN],
) -> Result<Vec<u8>> {
    let mut plain = Zeroizing::new(Vec::with_capacity(2 + name.len() + payload.len()));
    put_bytes16(&mut plain, name.as_bytes(), "a name")?;
    plain.extend_from_slice(payload);
    let mut out = Vec::with_capacity(1 + 8 + NONCE_LEN + plain.len() + crypto::TAG_LEN);
    out.push(RECORD_VERSION);
    out.extend_from_slice(&revision.to_le_bytes());
    crypto::seal_with_nonce_into(
        &ks.record_key,
        nonce,
        &record_aad(storage_key, Some(revision)),
        &plain,
        &mut out,
    );
    Ok(out)
}

/// An opened record: its name, payload, and the keyspace revision it was written at (`None`
/// for a version-1 record, written before manifests).
pub(crate) struct OpenedRecord {
    pub name: String,
    pub payload: SecretBytes,
    pub revision: Option<u64>,
}

/// Decrypts a record (version 1 or 2); the name must pass the stored-name rules.
pub(crate) fn open_record(
    ks: &UnlockedKeyspace,
    storage_key: &[u8],
    value: &[u8],
) -> Result<OpenedRecord> {
    let (&version, rest) = value
        .split_first()
        .ok_or_else(|| Error::Corrupted("empty record".into()))?;
    let (revision, sealed) = if version == RECORD_VERSION_1 {
        (None, rest)
    } else {
        check_version("record", version, RECORD_VERSION)?;
        let (revision, sealed) = rest
            .split_first_chunk::<8>()
            .ok_or_else(|| Error::Corrupted("record is truncated".into()))?;
        (Some(u64::from_le_bytes(*revision)), sealed)
    };
    let plain = crypto::open(&ks.record_key, &record_aad(storage_key, revision), sealed)
        .ok_or_else(|| {
            Error::Corrupted("a record failed authentication (altered or moved)".into())
        })?;
    let mut r = Reader::new(&plain, "record");
    let name = check_stored_name("record", r.bytes16()?, MAX_ITEM_NAME_LEN)?;
    let payload = SecretBytes::from(r.rest().to_vec());
    Ok(OpenedRecord {
        name,
        payload,
        revision,
    })
}

/// A record that passed every check of [`check_record`].
pub(crate) struct CheckedRecord {
    pub kind: Kind,
    pub name: String,
    pub payload: SecretBytes,
    /// The keyspace revision it was written at (`None`: a version-1 record).
    pub revision: Option<u64>,
    /// Its id in the manifest: kind ‖ name tag (the storage key after `r/` ‖ keyspace id).
    pub rid: RecordId,
}

/// Opens the record stored under `storage_key` of keyspace `ks` and checks everything about
/// it: the key is `r/` ‖ this keyspace's id ‖ a known kind ‖ a 32-byte tag, the value
/// authenticates, the decrypted name is valid and its tag is the one in the key, and a key
/// pair's payload is a valid key. Used wherever records are read in bulk (listing, export,
/// import, rekey), so a record that would fail later fails here, before anything is written.
pub(crate) fn check_record(
    ks: &UnlockedKeyspace,
    storage_key: &[u8],
    value: &[u8],
) -> Result<CheckedRecord> {
    let prefix = record_prefix(&ks.id);
    let suffix = storage_key
        .strip_prefix(prefix.as_slice())
        .ok_or_else(|| Error::Corrupted("a record lies outside its keyspace".into()))?;
    let (&kind_byte, tag) = suffix
        .split_first()
        .filter(|_| suffix.len() == RECORD_SUFFIX_LEN)
        .ok_or_else(|| {
            Error::Corrupted(format!(
                "a record key has a {}-byte suffix instead of {RECORD_SUFFIX_LEN}",
                suffix.len()
            ))
        })?;
    let kind = Kind::from_byte(kind_byte)
        .ok_or_else(|| Error::Corrupted(format!("unknown record kind byte {kind_byte:#04x}")))?;
    let OpenedRecord {
        name,
        payload,
        revision,
    } = open_record(ks, storage_key, value)?;
    if !crypto::hmac_verify(&ks.index_key, &[&[kind.byte()], name.as_bytes()], tag) {
        return Err(Error::Corrupted(
            "a record's name does not match the tag of its key".into(),
        ));
    }
    if kind == Kind::KeyPair {
        decode_key_pair(&payload)?;
    }
    if kind == Kind::Seed {
        decode_seed(&payload)?;
    }
    Ok(CheckedRecord {
        kind,
        name,
        payload,
        revision,
        rid: suffix
            .try_into()
            .map_err(|_| Error::Corrupted("a record key has a wrong length".into()))?,
    })
}

const SEED_VERSION: u8 = 1;

/// A seed payload: version 1 ‖ entropy length (0, 16, 20, 24, 28 or 32) ‖ the mnemonic's
/// entropy ‖ the 64-byte BIP39 seed (made with the passphrase, which is not stored).
pub(crate) fn encode_seed(entropy: &[u8], seed: &crate::hd::Seed) -> SecretBytes {
    let mut out = SecretBytes::with_capacity(2 + entropy.len() + seed.as_bytes().len());
    out.vec_mut().push(SEED_VERSION);
    out.vec_mut().push(entropy.len() as u8);
    out.vec_mut().extend_from_slice(entropy);
    out.vec_mut().extend_from_slice(seed.as_bytes());
    out
}

/// The entropy (empty for a raw seed) and seed of a seed payload.
pub(crate) fn decode_seed(payload: &[u8]) -> Result<(Zeroizing<Vec<u8>>, crate::hd::Seed)> {
    let mut r = Reader::new(payload, "seed record");
    check_version("seed record", r.u8()?, SEED_VERSION)?;
    let len = r.u8()? as usize;
    if !matches!(len, 0 | 16 | 20 | 24 | 28 | 32) {
        return Err(Error::Corrupted(format!(
            "a seed record with {len} bytes of entropy"
        )));
    }
    let rest = r.rest();
    if rest.len() != len + 64 {
        return Err(Error::Corrupted("a seed record of the wrong length".into()));
    }
    let (entropy, seed) = rest.split_at(len);
    Ok((
        Zeroizing::new(entropy.to_vec()),
        crate::hd::Seed::from_bytes(seed).map_err(|_| Error::Corrupted("a bad seed".into()))?,
    ))
}

/// A key-pair payload: key id (1 byte) ‖ 32-byte private key, then for a derived key its
/// origin: seed name (u16 length ‖ UTF-8) ‖ path (u16 length ‖ ASCII).
pub(crate) fn decode_key_pair(payload: &[u8]) -> Result<PrivateKey> {
    Ok(decode_key_pair_with_origin(payload)?.0)
}

pub(crate) fn decode_key_pair_with_origin(
    payload: &[u8],
) -> Result<(PrivateKey, Option<crate::Derivation>)> {
    let mut r = Reader::new(payload, "key pair record");
    let key_type = KeyType::from_id(r.u8()?)?;
    let bytes = Zeroizing::new(r.array::<32>()?);
    let derivation = if r.is_empty() {
        None
    } else {
        let mut text = |what: &str| -> Result<String> {
            String::from_utf8(r.bytes16()?.to_vec())
                .map_err(|_| Error::Corrupted(format!("a key pair's {what} is not UTF-8")))
        };
        Some(crate::Derivation {
            seed: text("seed name")?,
            path: text("derivation path")?,
        })
    };
    r.finish()?;
    let key = PrivateKey::from_bytes(key_type, &bytes)
        .map_err(|_| Error::Corrupted("stored private key is invalid".into()))?;
    Ok((key, derivation))
}

pub(crate) fn encode_key_pair(
    key: &PrivateKey,
    derivation: Option<&crate::Derivation>,
) -> Result<SecretBytes> {
    let mut out = SecretBytes::with_capacity(33);
    out.vec_mut().push(key.key_type().id());
    out.vec_mut().extend_from_slice(key.to_bytes().as_ref());
    if let Some(derivation) = derivation {
        put_bytes16(out.vec_mut(), derivation.seed.as_bytes(), "seed name")?;
        put_bytes16(out.vec_mut(), derivation.path.as_bytes(), "derivation path")?;
    }
    Ok(out)
}
