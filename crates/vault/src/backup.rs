//! Keyspace backups: one self-contained, password-protected, versioned blob (`docs/FORMAT.md`).

use kvstore::{Batch, KVStore};

use crate::crypto;
use crate::format::{self, put_bytes16, put_bytes32, Header, Reader};
use crate::keyspace;
use crate::vault::{apply_creating, open_record, record_prefix, Access};
use crate::{Error, Result, Vault};

/// Magic bytes opening every backup.
pub const BACKUP_MAGIC: &[u8; 4] = b"VLTB";
const BACKUP_VERSION: u8 = 1;
const MAC_LEN: usize = 32;

impl<S: KVStore> Vault<S> {
    /// Exports a keyspace: its header (KDF parameters, salt, wrapped key), every record as
    /// stored (already encrypted), and a MAC over all of it. Import needs the password the
    /// keyspace had at export time.
    pub async fn export_backup<'a>(&self, access: impl Into<Access<'a>>) -> Result<Vec<u8>> {
        let access = access.into();
        let owned;
        let ks = match access {
            Access::Unlocked(ks) => ks,
            Access::Password { keyspace, password } => {
                owned = self.unlock(keyspace, password).await?;
                &owned
            }
        };
        let header = self
            .store()
            .get(&format::header_key(ks.name()))
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "keyspace",
                name: ks.name().to_owned(),
            })?;
        let prefix = record_prefix(&ks.id);
        let records = self.scan_all(&prefix).await?;
        let mut out = BACKUP_MAGIC.to_vec();
        out.push(BACKUP_VERSION);
        put_bytes16(&mut out, ks.name().as_bytes());
        put_bytes16(&mut out, &header);
        out.extend_from_slice(&(records.len() as u32).to_le_bytes());
        for (key, value) in &records {
            put_bytes16(&mut out, &key[prefix.len()..]);
            put_bytes32(&mut out, value);
        }
        let mac = crypto::hmac(&ks.backup_key, &[&out]);
        out.extend_from_slice(&mac);
        Ok(out)
    }

    /// Imports a backup under the password it was exported with, into this vault (any
    /// backend, any platform). Everything is verified before anything is written; the keyspace
    /// is then written in one atomic batch. Returns the keyspace's name.
    pub async fn import_backup(&self, backup: &[u8], password: impl AsRef<[u8]>) -> Result<String> {
        let bad = |what: &str| Error::InvalidInput(format!("not a valid vault backup: {what}"));
        if backup.len() < BACKUP_MAGIC.len() + 1 + MAC_LEN || &backup[..4] != BACKUP_MAGIC {
            return Err(bad("wrong magic or too short"));
        }
        let (body, mac) = backup.split_at(backup.len() - MAC_LEN);
        let mut r = Reader::new(&body[4..], "backup");
        let version = r.u8().map_err(|_| bad("truncated"))?;
        if version != BACKUP_VERSION {
            return Err(Error::UnsupportedFormat(format!(
                "backup version {version}"
            )));
        }
        let name = std::str::from_utf8(r.bytes16().map_err(|_| bad("truncated"))?)
            .map_err(|_| bad("keyspace name is not UTF-8"))?
            .to_owned();
        keyspace::validate_name("keyspace", &name, keyspace::MAX_KEYSPACE_NAME_LEN)?;
        let header_bytes = r.bytes16().map_err(|_| bad("truncated"))?;
        let header = Header::decode(header_bytes).map_err(|e| bad(&e.to_string()))?;
        let ks = keyspace::unwrap(&name, &header, password.as_ref())?;
        if !crypto::hmac_verify(&ks.backup_key, &[body], mac) {
            return Err(Error::DecryptionFailed("backup altered or truncated"));
        }
        let count = r.u32().map_err(|_| bad("truncated"))?;
        let prefix = record_prefix(&ks.id);
        let mut batch = Batch::new();
        batch.create(format::header_key(&name), header_bytes.to_vec());
        for _ in 0..count {
            let suffix = r.bytes16().map_err(|_| bad("truncated"))?;
            let value = r.bytes32().map_err(|_| bad("truncated"))?;
            let key = [prefix.as_slice(), suffix].concat();
            open_record(&ks, &key, value)?;
            batch.set(key, value.to_vec());
        }
        r.finish().map_err(|_| bad("trailing bytes"))?;
        apply_creating(self.store(), batch, "keyspace", &name).await?;
        Ok(name)
    }
}
