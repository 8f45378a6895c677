//! An independent implementation of `docs/FORMAT.md`, written from the document with the
//! primitives directly (no vault code), to build what an attacker would: headers, records,
//! backups and streams with chosen ids, keys and contents. That it produces bytes the vault
//! accepts (see `import_checks_every_record_before_writing`) is also a check of the document.
//! Everything is built in the current format (header and records version 2, with a manifest)
//! unless a version is given.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// A record of a backup: (storage-key suffix, value).
pub type Record = (Vec<u8>, Vec<u8>);

/// KDF parameters of crafted headers (the tests' cheap ones): m = 64 KiB, t = 1, p = 1.
pub const KDF: (u32, u32, u32) = (64, 1, 1);

fn bytes16(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u16::try_from(bytes.len()).unwrap().to_le_bytes());
    out.extend_from_slice(bytes);
}

fn bytes32(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_le_bytes());
    out.extend_from_slice(bytes);
}

fn hkdf32(ikm: &[u8], salt: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut out)
        .unwrap();
    out
}

pub fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub fn seal(key: &[u8; 32], nonce: &[u8; 24], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    XChaCha20Poly1305::new(key.into())
        .encrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .unwrap()
}

/// A keyspace known to the attacker down to its keyspace key `k`.
pub struct Keyspace {
    pub name: String,
    pub id: [u8; 16],
    pub k: [u8; 32],
}

impl Keyspace {
    pub fn new(name: &str, id: [u8; 16], k: [u8; 32]) -> Self {
        Keyspace {
            name: name.to_owned(),
            id,
            k,
        }
    }

    fn subkey(&self, info: &str) -> [u8; 32] {
        hkdf32(&self.k, &self.id, info.as_bytes())
    }

    pub fn record_key(&self) -> [u8; 32] {
        self.subkey("vault/v1/record-key")
    }

    pub fn index_key(&self) -> [u8; 32] {
        self.subkey("vault/v1/name-index-key")
    }

    pub fn data_key(&self) -> [u8; 32] {
        self.subkey("vault/v1/data-key")
    }

    pub fn backup_key(&self) -> [u8; 32] {
        self.subkey("vault/v1/backup-key")
    }

    pub fn manifest_key(&self) -> [u8; 32] {
        self.subkey("vault/v2/manifest-key")
    }

    /// The 119-byte version-2 header wrapping `k` under `password` with [`KDF`].
    pub fn header(&self, password: &[u8]) -> Vec<u8> {
        self.header_with(password, KDF, 2)
    }

    /// The store entries of a manifest at `revision` listing `records` (storage-key suffix,
    /// revision): every non-empty bucket `b/` ‖ id ‖ index, then the manifest `m/` ‖ id.
    pub fn manifest(&self, revision: u64, records: &[(Vec<u8>, u64)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut buckets = std::collections::BTreeMap::<u8, Vec<(Vec<u8>, u64)>>::new();
        for (suffix, rev) in records {
            buckets
                .entry(suffix[1] & 63)
                .or_default()
                .push((suffix.clone(), *rev));
        }
        let mut digests = [[0u8; 32]; 64];
        let mut entries = Vec::new();
        for (index, mut list) in buckets {
            list.sort();
            let mut value = vec![1u8];
            for (suffix, rev) in list {
                value.extend_from_slice(&suffix);
                value.extend_from_slice(&rev.to_le_bytes());
            }
            let mut hash = Sha256::new();
            hash.update(b"vault/v2/bucket");
            hash.update(self.id);
            hash.update([index]);
            hash.update(&value);
            digests[usize::from(index)] = hash.finalize().into();
            entries.push(([b"b/".as_slice(), &self.id, &[index]].concat(), value));
        }
        let mut manifest = vec![1u8];
        manifest.extend_from_slice(&revision.to_le_bytes());
        for digest in digests {
            manifest.extend_from_slice(&digest);
        }
        let mac = hmac(
            &self.manifest_key(),
            &[b"vault/v2/manifest".as_slice(), &self.id, &manifest].concat(),
        );
        manifest.extend_from_slice(&mac);
        assert_eq!(manifest.len(), 2089);
        entries.push(([b"m/".as_slice(), &self.id].concat(), manifest));
        entries
    }

    /// A header with chosen KDF parameters and header version.
    pub fn header_with(&self, password: &[u8], (m, t, p): (u32, u32, u32), version: u8) -> Vec<u8> {
        let salt = [0x5a; 16];
        let nonce = [0x4e; 24];
        let mut header = vec![version, 1];
        header.extend_from_slice(&m.to_le_bytes());
        header.extend_from_slice(&t.to_le_bytes());
        header.extend_from_slice(&p.to_le_bytes());
        header.extend_from_slice(&salt);
        header.extend_from_slice(&self.id);
        header.push(1);
        assert_eq!(header.len(), 47);
        let mut wrapping_key = [0u8; 32];
        // Only derivable for in-bounds parameters; out-of-bounds headers get a dummy wrap.
        if let Ok(params) = Params::new(m, t, p, Some(32)) {
            if m <= 1024 {
                Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                    .hash_password_into(password, &salt, &mut wrapping_key)
                    .unwrap();
            }
        }
        let mut aad = b"vault/v1/keyspace-key".to_vec();
        bytes16(&mut aad, self.name.as_bytes());
        aad.extend_from_slice(&header);
        let wrapped = seal(&wrapping_key, &nonce, &aad, &self.k);
        header.extend_from_slice(&nonce);
        header.extend_from_slice(&wrapped);
        assert_eq!(header.len(), 119);
        header
    }

    /// `kind ‖ HMAC(index key, kind ‖ name)`: a storage key after `r/` ‖ id.
    pub fn suffix(&self, kind: u8, name: &str) -> Vec<u8> {
        let mut tagged = vec![kind];
        tagged.extend_from_slice(name.as_bytes());
        let mut suffix = vec![kind];
        suffix.extend_from_slice(&hmac(&self.index_key(), &tagged));
        suffix
    }

    /// The whole storage key `r/` ‖ id ‖ suffix.
    pub fn storage_key(&self, suffix: &[u8]) -> Vec<u8> {
        [b"r/".as_slice(), &self.id, suffix].concat()
    }

    /// A record value for `storage_key`: version 1 is version ‖ nonce ‖ AEAD(bytes16(name) ‖
    /// payload); any other version is laid out as version 2, at revision 1.
    pub fn record(&self, storage_key: &[u8], name: &[u8], payload: &[u8], version: u8) -> Vec<u8> {
        self.record_at(storage_key, name, payload, version, 1)
    }

    /// [`record`](Self::record) at keyspace revision `revision` (versions other than 1):
    /// version ‖ revision (u64) ‖ nonce ‖ AEAD with aad `vault/v2/record` ‖ key ‖ version ‖
    /// revision.
    pub fn record_at(
        &self,
        storage_key: &[u8],
        name: &[u8],
        payload: &[u8],
        version: u8,
        revision: u64,
    ) -> Vec<u8> {
        let nonce = [0x33; 24];
        let mut value = vec![version];
        let mut aad = if version == 1 {
            b"vault/v1/record".to_vec()
        } else {
            value.extend_from_slice(&revision.to_le_bytes());
            b"vault/v2/record".to_vec()
        };
        aad.extend_from_slice(storage_key);
        aad.push(version);
        if version != 1 {
            aad.extend_from_slice(&revision.to_le_bytes());
        }
        let mut plain = Vec::new();
        bytes16(&mut plain, name);
        plain.extend_from_slice(payload);
        value.extend_from_slice(&nonce);
        value.extend(seal(&self.record_key(), &nonce, &aad, &plain));
        value
    }

    /// A well-formed secret record: (suffix, value).
    pub fn secret(&self, name: &str, value: &[u8]) -> Record {
        let suffix = self.suffix(b's', name);
        let record = self.record(&self.storage_key(&suffix), name.as_bytes(), value, 2);
        (suffix, record)
    }

    /// A backup of `header` and `records` (suffix, value) in the given order, MACed with this
    /// keyspace's backup key; any version but 1 carries keyspace revision 1 after the header.
    pub fn backup(&self, header: &[u8], records: &[Record], version: u8) -> Vec<u8> {
        let mut out = b"VLTB".to_vec();
        out.push(version);
        bytes16(&mut out, self.name.as_bytes());
        bytes16(&mut out, header);
        if version != 1 {
            out.extend_from_slice(&1u64.to_le_bytes());
        }
        out.extend_from_slice(&u32::try_from(records.len()).unwrap().to_le_bytes());
        for (suffix, value) in records {
            bytes16(&mut out, suffix);
            bytes32(&mut out, value);
        }
        let mac = hmac(&self.backup_key(), &out);
        out.extend_from_slice(&mac);
        out
    }

    /// A stream (version 2: each chunk's associated data is the header zero-padded to 64
    /// bytes) of explicit chunks `(plaintext, last flag)` with a 1,024-byte chunk size.
    pub fn stream(&self, chunks: &[(&[u8], bool)]) -> Vec<u8> {
        self.stream_of_version(2, chunks)
    }

    /// The same in stream version 1 (earlier releases): the header alone is the associated data.
    pub fn stream_v1(&self, chunks: &[(&[u8], bool)]) -> Vec<u8> {
        self.stream_of_version(1, chunks)
    }

    fn stream_of_version(&self, version: u8, chunks: &[(&[u8], bool)]) -> Vec<u8> {
        let salt = [0x77; 32];
        let mut header = b"VLTS".to_vec();
        header.extend_from_slice(&[version, 1]);
        header.extend_from_slice(&1024u32.to_le_bytes());
        header.extend_from_slice(&salt);
        let mut aad = header.clone();
        if version >= 2 {
            aad.resize(64, 0);
        }
        let key = hkdf32(&self.data_key(), &salt, b"vault/v1/stream");
        let mut out = header;
        for (index, (plain, last)) in chunks.iter().enumerate() {
            let mut nonce = [0u8; 24];
            nonce[15..23].copy_from_slice(&(index as u64).to_be_bytes());
            nonce[23] = u8::from(*last);
            out.extend(seal(&key, &nonce, &aad, plain));
        }
        out
    }

    /// A one-shot ciphertext of `version` (1: earlier releases; 2: associated data padded to 64
    /// bytes) with nonce `nonce`.
    pub fn ciphertext(&self, version: u8, nonce: [u8; 24], plaintext: &[u8]) -> Vec<u8> {
        let mut aad = format!("vault/v{version}/data").into_bytes();
        aad.extend_from_slice(&[version, 1]);
        if version >= 2 {
            aad.resize(64, 0);
        }
        let mut out = vec![version, 1];
        out.extend_from_slice(&nonce);
        out.extend(seal(&self.data_key(), &nonce, &aad, plaintext));
        out
    }
}
