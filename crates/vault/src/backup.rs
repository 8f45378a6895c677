//! Keyspace backups: one self-contained, password-protected, versioned blob (`docs/FORMAT.md`).
//!
//! A backup is untrusted input: whoever made it chose its password, so its MAC only proves it
//! was made with the key inside it, not that it belongs to this store. Import therefore checks
//! everything before writing anything: the structure, the MAC, every record (kind, key length,
//! name tag, order, payload), and that the keyspace id it carries is not used by any keyspace
//! here; the id is then claimed in the same atomic write as the records.

use kvstore::{Batch, KVStore};

use crate::crypto;
use crate::format::{
    self, check_record, check_version, claim_key, put_bytes16, put_bytes32, record_prefix, Header,
    Reader,
};
use crate::keyspace::{self, check_stored_name, UnlockedKeyspace, MAX_KEYSPACE_NAME_LEN};
use crate::manifest;
use crate::vault::{apply_creating, Access};
use crate::{Error, Item, Result, Vault};

/// Magic bytes opening every backup.
pub const BACKUP_MAGIC: &[u8; 4] = b"VLTB";
/// Version 2 carries the keyspace revision and version-2 records; version 1 (written before
/// manifests) is still imported, and upgraded with the keyspace on its first unlock.
pub(crate) const BACKUP_VERSION: u8 = 2;
const BACKUP_VERSION_1: u8 = 1;
const MAC_LEN: usize = 32;

fn malformed(what: &str) -> Error {
    Error::InvalidInput(format!("not a valid vault backup: {what}"))
}

/// A backup whose structure parsed; nothing in it is authenticated yet.
pub(crate) struct ParsedBackup<'a> {
    pub name: String,
    pub header_bytes: &'a [u8],
    pub header: Header,
    /// The keyspace revision at export (`None`: a version-1 backup).
    pub revision: Option<u64>,
    /// (storage-key suffix after `r/` ‖ id, record value), in file order.
    pub records: Vec<(&'a [u8], &'a [u8])>,
    body: &'a [u8],
    mac: &'a [u8],
}

impl<'a> ParsedBackup<'a> {
    /// Parses the structure: magic, version, name, header (its KDF bounds checked before any
    /// work), records, MAC. No key is needed and nothing is authenticated.
    pub(crate) fn parse(backup: &'a [u8]) -> Result<Self> {
        let body_len = backup
            .len()
            .checked_sub(MAC_LEN)
            .filter(|&n| n > BACKUP_MAGIC.len())
            .ok_or_else(|| malformed("too short"))?;
        let (body, mac) = backup.split_at(body_len);
        let mut r = Reader::new(body, "backup");
        if r.take(BACKUP_MAGIC.len())? != BACKUP_MAGIC {
            return Err(malformed("wrong magic"));
        }
        let truncated = |_| malformed("truncated");
        let version = r.u8().map_err(truncated)?;
        if version != BACKUP_VERSION_1 {
            check_version("backup", version, BACKUP_VERSION)?;
        }
        let name = check_stored_name(
            "keyspace",
            r.bytes16().map_err(truncated)?,
            MAX_KEYSPACE_NAME_LEN,
        )
        .map_err(|_| malformed("the keyspace name is not a valid name"))?;
        let header_bytes = r.bytes16().map_err(truncated)?;
        let header = Header::decode(header_bytes)?;
        // A version-2 backup holds a keyspace with a manifest, a version-1 one a keyspace
        // without: anything else was not written by any release.
        if header.has_manifest() != (version == BACKUP_VERSION) {
            return Err(malformed(
                "the header version does not match the backup version",
            ));
        }
        let revision = if version == BACKUP_VERSION {
            Some(u64::from_le_bytes(r.array().map_err(truncated)?))
        } else {
            None
        };
        let count = r.u32().map_err(truncated)?;
        let mut records = Vec::new();
        for _ in 0..count {
            let suffix = r.bytes16().map_err(truncated)?;
            let value = r.bytes32().map_err(truncated)?;
            records.push((suffix, value));
        }
        r.finish().map_err(|_| malformed("trailing bytes"))?;
        Ok(ParsedBackup {
            name,
            header_bytes,
            header,
            revision,
            records,
            body,
            mac,
        })
    }

    /// Checks the MAC under `keyspace`'s backup key.
    pub(crate) fn verify_mac(&self, keyspace: &UnlockedKeyspace) -> Result<()> {
        if !crypto::hmac_verify(&keyspace.backup_key, &[self.body], self.mac) {
            return Err(Error::DecryptionFailed("backup altered or truncated"));
        }
        Ok(())
    }

    /// Checks every record: strictly ascending storage keys (no repeats), each one fully valid
    /// ([`check_record`]), and of the backup's format: a version-2 record at a revision no later
    /// than the backup's in a version-2 backup, a version-1 record in a version-1 backup.
    /// Returns their ids and revisions (for the manifest of a version-2 backup).
    pub(crate) fn verify_records(
        &self,
        keyspace: &UnlockedKeyspace,
    ) -> Result<Vec<(crate::format::RecordId, u64)>> {
        let mut ids = Vec::with_capacity(self.records.len());
        let prefix = record_prefix(&keyspace.id);
        let mut previous: Option<&[u8]> = None;
        for (index, &(suffix, value)) in self.records.iter().enumerate() {
            if previous.is_some_and(|p| p >= suffix) {
                return Err(Error::Corrupted(format!(
                    "backup record {index} repeats or is out of order"
                )));
            }
            previous = Some(suffix);
            let key = [prefix.as_slice(), suffix].concat();
            let record = check_record(keyspace, &key, value)
                .map_err(|e| Error::Corrupted(format!("backup record {index}: {e}")))?;
            match (self.revision, record.revision) {
                (Some(backup), Some(revision)) if revision <= backup => {
                    ids.push((record.rid, revision));
                }
                (None, None) => {}
                _ => {
                    return Err(Error::Corrupted(format!(
                        "backup record {index} does not match the backup's format or revision"
                    )))
                }
            }
        }
        Ok(ids)
    }
}

impl<S: KVStore> Vault<S> {
    /// Exports a keyspace: its header (KDF parameters, salt, wrapped key), every record as
    /// stored (already encrypted), and a MAC over all of it. Import needs the password the
    /// keyspace had at export time.
    ///
    /// Everything is checked first: the stored header must decode and carry this keyspace's
    /// id, and every record must open and be valid, so a backup that exports also imports.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupted`] if the stored header does not belong to this keyspace or a record
    /// fails its checks; [`Error::InvalidInput`] for a field too large for the format; with
    /// [`Access::Password`], what [`unlock`](Self::unlock) fails with; storage failures.
    pub async fn export_backup<'a>(&self, access: impl Into<Access<'a>>) -> Result<Vec<u8>> {
        let ks = self.resolve(access.into()).await?;
        let header = self
            .store()
            .get(&format::header_key(ks.name()))
            .await?
            .ok_or_else(|| Error::not_found(Item::Keyspace, ks.name()))?;
        if Header::decode(&header)?.id != ks.id {
            return Err(Error::Corrupted(format!(
                "the stored header of keyspace {:?} belongs to another keyspace id (rekeyed or replaced since it was unlocked)",
                ks.name()
            )));
        }
        let prefix = record_prefix(&ks.id);
        // Every record checked, against the manifest too: a backup never carries a replayed,
        // restored or half-removed keyspace.
        let (records, manifest, _) = self.read_all_checked(&ks, None).await?;
        let records: Vec<(Vec<u8>, Vec<u8>)> = records
            .into_iter()
            .map(|(key, value, _)| (key, value))
            .collect();
        let mut out = BACKUP_MAGIC.to_vec();
        out.push(BACKUP_VERSION);
        put_bytes16(&mut out, ks.name().as_bytes(), "the keyspace name")?;
        put_bytes16(&mut out, &header, "the keyspace header")?;
        out.extend_from_slice(&manifest.revision.to_le_bytes());
        let count = u32::try_from(records.len())
            .map_err(|_| Error::InvalidInput("too many records for one backup".into()))?;
        out.extend_from_slice(&count.to_le_bytes());
        for (key, value) in &records {
            put_bytes16(&mut out, &key[prefix.len()..], "a record key")?;
            put_bytes32(&mut out, value, "a record")?;
        }
        let mac = crypto::hmac(&ks.backup_key, &[&out]);
        out.extend_from_slice(&mac);
        Ok(out)
    }

    /// Imports a backup under the password it was exported with, into this vault (any
    /// backend, any platform). Returns the keyspace's name.
    ///
    /// Everything is verified before anything is written (structure, MAC, every record), the
    /// name must be free (`AlreadyExists` of an [`Item::Keyspace`]) and the keyspace id unused
    /// by any keyspace of this store (`AlreadyExists` of an [`Item::KeyspaceId`]: the same
    /// keyspace is already here under another name, or the backup was crafted to alias one).
    /// The header, the id claim and every record are then written in one atomic batch of
    /// creates; on any error nothing is written.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for bytes that are not a backup; [`Error::UnsupportedFormat`]
    /// for a newer one; [`Error::Corrupted`] for an out-of-bounds header or a record that fails
    /// its checks; [`Error::WrongPassword`]; [`Error::DecryptionFailed`] for an altered backup;
    /// [`Error::AlreadyExists`] for a name or a keyspace id in use; storage failures. Nothing
    /// is written on error.
    pub async fn import_backup(&self, backup: &[u8], password: impl AsRef<[u8]>) -> Result<String> {
        let parsed = ParsedBackup::parse(backup)?;
        let keyspace = keyspace::unwrap(&parsed.name, &parsed.header, password.as_ref())?.keyspace;
        parsed.verify_mac(&keyspace)?;
        self.check_id_unused(&keyspace.id).await?;
        let ids = parsed.verify_records(&keyspace)?;
        let prefix = record_prefix(&keyspace.id);
        let mut batch = Batch::new();
        if let Some(revision) = parsed.revision {
            let (manifest, buckets) = manifest::build(&keyspace, revision, ids);
            for (index, bytes) in buckets {
                batch.create(manifest::bucket_key(&keyspace.id, index), bytes);
            }
            batch.create(
                manifest::manifest_key(&keyspace.id),
                manifest.encode(&keyspace),
            );
        }
        batch
            .create(
                format::header_key(&parsed.name),
                parsed.header_bytes.to_vec(),
            )
            .create(claim_key(&keyspace.id), parsed.name.as_bytes());
        for &(suffix, value) in &parsed.records {
            batch.create([prefix.as_slice(), suffix].concat(), value.to_vec());
        }
        apply_creating(self.store(), batch, Item::Keyspace, &parsed.name).await?;
        Ok(parsed.name)
    }
}
