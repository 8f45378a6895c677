//! [`Vault`]: every operation, over one [`KVStore`]. This is the stateless API and the one core
//! the session API forwards to.

use crate::SecretBytes;
use std::ops::Deref;

use kvstore::{Batch, KVStore, Scan};
use zeroize::Zeroizing;

use crate::crypto::{self, KdfParams};
use crate::format::{
    self, check_record, claim_key, decode_key_pair, decode_key_pair_with_origin, encode_key_pair,
    record_key, record_prefix, seal_record_with_nonce, CheckedRecord, Header, Kind, CLAIM_PREFIX,
    HEADER_PREFIX, ID_LEN,
};
use crate::keys::{self, KeyType, PrivateKey};
use crate::keyspace::{
    self, check_lookup_name, check_stored_name, validate_name, UnlockedKeyspace, MAX_ITEM_NAME_LEN,
    MAX_KEYSPACE_NAME_LEN,
};
use crate::manifest::{self, bucket_key, bucket_prefix, manifest_key, Manifest};
use crate::records::{Edit, OnConflict};
use crate::stream::{StreamDecryptor, StreamEncryptor};
use crate::{Error, Item, Result};

/// What a stateless call authenticates with: a keyspace's password (derived for this call
/// only), or an [`UnlockedKeyspace`] the caller owns.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Access<'a> {
    /// Unlock `keyspace` with `password` for this one call.
    Password {
        /// The keyspace.
        keyspace: &'a str,
        /// Its password.
        password: &'a [u8],
    },
    /// An already unlocked keyspace.
    Unlocked(&'a UnlockedKeyspace),
}

impl std::fmt::Debug for Access<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Access::Password { keyspace, .. } => {
                write!(f, "Access::Password({keyspace:?}, <redacted>)")
            }
            Access::Unlocked(ks) => write!(f, "Access::Unlocked({:?})", ks.name()),
        }
    }
}

impl<'a> From<&'a UnlockedKeyspace> for Access<'a> {
    fn from(keyspace: &'a UnlockedKeyspace) -> Self {
        Access::Unlocked(keyspace)
    }
}

pub(crate) enum Resolved<'a> {
    Borrowed(&'a UnlockedKeyspace),
    Owned(Box<UnlockedKeyspace>),
}

impl Deref for Resolved<'_> {
    type Target = UnlockedKeyspace;
    fn deref(&self) -> &UnlockedKeyspace {
        match self {
            Resolved::Borrowed(ks) => ks,
            Resolved::Owned(ks) => ks,
        }
    }
}

/// Options for a [`Vault`], from [`Vault::builder`].
#[derive(Debug, Clone)]
pub struct VaultBuilder<S> {
    store: S,
    kdf: KdfParams,
}

impl<S: KVStore> VaultBuilder<S> {
    /// The Argon2id parameters new keyspaces, password changes, rekeys and upgrades on unlock
    /// use (default [`KdfParams::DEFAULT`]).
    pub fn kdf(mut self, kdf: KdfParams) -> Self {
        self.kdf = kdf;
        self
    }

    /// The vault.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for KDF parameters outside the bounds or below the floor
    /// ([`KdfParams::MIN`]), except [`KdfParams::INSECURE_FOR_TESTS`].
    pub fn build(self) -> Result<Vault<S>> {
        self.kdf.validate_for_writing()?;
        Ok(Vault {
            store: self.store,
            kdf: self.kdf,
        })
    }
}

/// A key pair's public description.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// Its name in the keyspace.
    pub name: String,
    /// Its algorithm.
    pub key_type: KeyType,
    /// Its public key (33-byte compressed SEC1 for secp256k1, 32 bytes for Ed25519).
    pub public_key: Vec<u8>,
    /// Where it was derived from, for a key made by [`Vault::derive_key`] (`None` for a
    /// generated or imported one).
    pub derivation: Option<Derivation>,
}

/// The origin of a derived key pair: its seed and path, recorded with the key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Derivation {
    /// The name of the seed it was derived from (the seed may since have been deleted or
    /// renamed).
    pub seed: String,
    /// Its derivation path, as given (`m/44'/60'/0'/0/0`).
    pub path: String,
}

impl KeyInfo {
    /// The Ethereum address of a secp256k1 key pair (`None` for Ed25519).
    pub fn eth_address(&self) -> Option<[u8; 20]> {
        match self.key_type {
            KeyType::Secp256k1 => keys::eth_address(&self.public_key).ok(),
            KeyType::Ed25519 => None,
        }
    }
}

/// A vault over one [`KVStore`] namespace: keyspaces, key pairs, secrets, encryption. Holds no
/// secret state: every call is given what it needs (the stateless API). Cheap to clone when the
/// store is.
///
/// See the crate README for an example of each API.
#[derive(Clone, Debug)]
pub struct Vault<S> {
    store: S,
    kdf: KdfParams,
}

impl<S: KVStore> Vault<S> {
    /// A vault over `store`, creating keyspaces with [`KdfParams::DEFAULT`].
    pub fn new(store: S) -> Self {
        Vault {
            store,
            kdf: KdfParams::DEFAULT,
        }
    }

    /// Options for a vault over `store`: `Vault::builder(store).kdf(params).build()?`.
    pub fn builder(store: S) -> VaultBuilder<S> {
        VaultBuilder {
            store,
            kdf: KdfParams::DEFAULT,
        }
    }

    /// `Vault::builder(store).kdf(kdf).build()`: a vault that creates keyspaces, changes
    /// passwords and upgrades weaker keyspaces on unlock with `kdf`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for parameters outside the bounds or below the floor
    /// ([`KdfParams::MIN`]), except [`KdfParams::INSECURE_FOR_TESTS`].
    pub fn with_kdf(store: S, kdf: KdfParams) -> Result<Self> {
        Self::builder(store).kdf(kdf).build()
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The KDF parameters this vault writes.
    pub fn kdf(&self) -> KdfParams {
        self.kdf
    }

    // ------------------------------------------------------------------ keyspaces

    /// Creates keyspace `name` under `password` and returns it unlocked. Its random id is
    /// claimed in the same atomic write as its header.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad name or an empty password; [`Error::AlreadyExists`] if
    /// the name is taken; [`Error::RandomSource`]; storage failures. Nothing is written on
    /// error.
    pub async fn create_keyspace(
        &self,
        name: &str,
        password: impl AsRef<[u8]>,
    ) -> Result<UnlockedKeyspace> {
        validate_name("keyspace", name, MAX_KEYSPACE_NAME_LEN)?;
        check_password(password.as_ref())?;
        let keyspace = UnlockedKeyspace::generate(name)?;
        let header = keyspace::wrap(&keyspace, password.as_ref(), self.kdf)?;
        let mut batch = Batch::new();
        batch
            .create(format::header_key(name), header.encode())
            .create(claim_key(&keyspace.id), name.as_bytes())
            .create(
                manifest_key(&keyspace.id),
                Manifest::empty(1).encode(&keyspace),
            );
        apply_creating(&self.store, batch, Item::Keyspace, name).await?;
        keyspace.observe(1)?;
        Ok(keyspace)
    }

    /// The names of all keyspaces, sorted; no password needed.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupted`] for a stored name that breaks the name rules; storage failures.
    pub async fn list_keyspaces(&self) -> Result<Vec<String>> {
        self.store
            .scan_all_keys(HEADER_PREFIX)
            .await?
            .iter()
            .map(|key| {
                let name = key.get(HEADER_PREFIX.len()..).unwrap_or_default();
                check_stored_name("keyspace", name, MAX_KEYSPACE_NAME_LEN)
            })
            .collect()
    }

    async fn header(&self, name: &str) -> Result<Header> {
        Ok(self.header_versioned(name).await?.0)
    }

    /// Keyspace `name`'s header and its store version, for a write that must not overwrite a
    /// header changed since it was read (see [`Self::write_header`]).
    async fn header_versioned(&self, name: &str) -> Result<(Header, u64)> {
        check_lookup_name("keyspace", name, MAX_KEYSPACE_NAME_LEN)?;
        let (bytes, version) = self
            .store
            .get_versioned(&format::header_key(name))
            .await?
            .ok_or_else(|| Error::not_found(Item::Keyspace, name))?;
        Ok((Header::decode(&bytes)?, version))
    }

    /// Replaces keyspace `name`'s header only if it is still at `version`: a password change,
    /// rekey or deletion made in between is never undone. [`Error::Conflict`] otherwise,
    /// nothing written.
    async fn write_header(&self, name: &str, version: u64, header: &Header) -> Result<()> {
        let key = format::header_key(name);
        let mut batch = Batch::new();
        batch
            .require_version(key.clone(), version)
            .set(key, header.encode());
        self.store.batch(batch).await?;
        Ok(())
    }

    /// Unlocks keyspace `name`. A wrong password gives [`Error::WrongPassword`] and writes
    /// nothing. If any of the keyspace's KDF parameters is weaker than this vault's, its key is
    /// re-wrapped with the component-wise stronger parameters (one atomic write, never lowering
    /// anything) before returning; so is a keyspace wrapped under a password's bytes as typed
    /// rather than their NFC form (written before passwords were normalized).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::WrongPassword`] (nothing written); [`Error::Corrupted`] or
    /// [`Error::UnsupportedFormat`] for a header that does not decode (out-of-bounds KDF
    /// parameters included, rejected before any KDF work); storage failures of the re-wrap.
    pub async fn unlock(&self, name: &str, password: impl AsRef<[u8]>) -> Result<UnlockedKeyspace> {
        // A header changed between our read and our re-wrap (a password change, a rekey) wins:
        // the re-wrap is conditional on the version read, and on a conflict the unlock starts
        // again from the new header, where the old password may no longer open anything.
        let mut attempts = 0;
        loop {
            let (header, version) = self.header_versioned(name).await?;
            let opened = keyspace::unwrap(name, &header, password.as_ref())?;
            let upgrade = header.kdf.upgrade_to(&self.kdf);
            if !header.has_manifest() {
                let kdf = upgrade.unwrap_or(header.kdf);
                match self
                    .upgrade_keyspace(&opened.keyspace, password.as_ref(), kdf, version)
                    .await
                {
                    Err(Error::Conflict) if attempts < 3 => attempts += 1,
                    Err(other) => return Err(other),
                    Ok(()) => return Ok(opened.keyspace),
                }
                continue;
            }
            // The manifest authenticates (and sets the revision this keyspace value has seen);
            // one read of a fixed size, whatever the keyspace holds.
            self.load_manifest(&opened.keyspace).await?;
            if upgrade.is_none() && !opened.legacy_password_form {
                return Ok(opened.keyspace);
            }
            let kdf = upgrade.unwrap_or(header.kdf);
            let rewrapped = keyspace::wrap(&opened.keyspace, password.as_ref(), kdf)?;
            match self.write_header(name, version, &rewrapped).await {
                Err(Error::Conflict) if attempts < 3 => attempts += 1,
                Err(Error::Conflict) => return Err(Error::Conflict),
                Err(other) => return Err(other),
                Ok(()) => return Ok(opened.keyspace),
            }
        }
    }

    /// Upgrades a keyspace written before manifests (header version 1): every record is
    /// checked, re-sealed as a version-2 record at revision 1, and written with the buckets,
    /// the manifest and a version-2 header (re-wrapped under `password` with `kdf`) in one
    /// batch, conditional on the header read at `header_version` and on no manifest existing.
    async fn upgrade_keyspace(
        &self,
        ks: &UnlockedKeyspace,
        password: &[u8],
        kdf: KdfParams,
        header_version: u64,
    ) -> Result<()> {
        const REVISION: u64 = 1;
        let records = self.store.scan_all(&record_prefix(&ks.id)).await?;
        let nonces = crypto::random_nonces(records.len())?;
        let mut batch = Batch::new();
        let mut ids = Vec::with_capacity(records.len());
        for ((key, value), nonce) in records.iter().zip(&nonces) {
            let record = check_record(ks, key, value)?;
            let sealed =
                seal_record_with_nonce(ks, key, &record.name, &record.payload, REVISION, nonce)?;
            batch.set(key.clone(), sealed);
            ids.push((record.rid, REVISION));
        }
        let (manifest, buckets) = manifest::build(ks, REVISION, ids);
        for (index, bytes) in buckets {
            batch.set(bucket_key(&ks.id, index), bytes);
        }
        let header = keyspace::wrap(ks, password, kdf)?;
        let key = format::header_key(ks.name());
        batch
            .require_version(key.clone(), header_version)
            .create(manifest_key(&ks.id), manifest.encode(ks))
            .set(key, header.encode());
        self.store.batch(batch).await.map_err(|e| match e {
            kvstore::Error::KeyExists { .. } => Error::Conflict,
            other => other.into(),
        })?;
        ks.observe(REVISION)
    }

    /// The keyspace's current revision: it goes up by one with every change (a record set,
    /// created, renamed or deleted; a batch of secrets is one change). Store it outside the
    /// store (a server, another device, the application's own storage) and give it back to
    /// [`UnlockedKeyspace::anchor_revision`] after the next unlock: a store rolled back to an
    /// older consistent state is then caught (see `docs/SECURITY.md`).
    ///
    /// # Errors
    ///
    /// [`Error::Tampered`] for a manifest that does not authenticate or is older than one
    /// already seen; with [`Access::Password`], what [`unlock`](Self::unlock) fails with;
    /// storage failures.
    pub async fn keyspace_revision<'a>(&self, access: impl Into<Access<'a>>) -> Result<u64> {
        let ks = self.resolve(access.into()).await?;
        self.revision_of(&ks).await
    }

    /// The KDF parameters keyspace `name` is stored with.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::Corrupted`] or [`Error::UnsupportedFormat`] for a header
    /// that does not decode.
    pub async fn keyspace_kdf(&self, name: &str) -> Result<KdfParams> {
        Ok(self.header(name).await?.kdf)
    }

    /// Changes keyspace `name`'s password: only its wrapped key is rewritten, in one atomic
    /// write, so a failure at any point leaves either the old or the new password working.
    /// Unlocked keyspaces and sessions keep working (the keyspace key is unchanged).
    ///
    /// The keyspace key stays the same, so an old copy of the header (a backup, a copy of the
    /// store, free pages of its file) still opens every record with the old password. When the
    /// old password may be known to someone else, use [`rekey`](Self::rekey) instead.
    ///
    /// # Errors
    ///
    /// As [`unlock`](Self::unlock) with the old password; [`Error::InvalidInput`] for an empty
    /// new password. On any error the old password still opens the keyspace.
    pub async fn change_password(
        &self,
        name: &str,
        old_password: impl AsRef<[u8]>,
        new_password: impl AsRef<[u8]>,
    ) -> Result<()> {
        check_password(new_password.as_ref())?;
        let (header, version) = self.header_versioned(name).await?;
        let opened = keyspace::unwrap(name, &header, old_password.as_ref())?;
        let kdf = header.kdf.upgrade_to(&self.kdf).unwrap_or(header.kdf);
        let rewrapped =
            keyspace::wrap_version(&opened.keyspace, new_password.as_ref(), kdf, header.version)?;
        self.write_header(name, version, &rewrapped).await
    }

    /// Replaces keyspace `name`'s key and id: every record is re-encrypted under a new random
    /// keyspace key, the header is re-wrapped under `new_password` (pass the current password
    /// to keep it), and the old records, the old id claim and the old header are replaced in
    /// one atomic write. Returns the keyspace unlocked under its new key.
    ///
    /// After a rekey nothing made before it opens anything current: not an old header with the
    /// old password, not an old backup's key, not an [`UnlockedKeyspace`] or session of the old
    /// key (their calls fail). Use it when a password, a backup or a copy of the store may
    /// have leaked. Copies made before the rekey still open the records *they* hold.
    ///
    /// Every record is checked first; if one fails, nothing is written.
    ///
    /// # Errors
    ///
    /// As [`unlock`](Self::unlock); [`Error::InvalidInput`] for an empty new password;
    /// [`Error::Corrupted`] if a record fails its checks; [`Error::RandomSource`]; storage
    /// failures. Nothing is written on error (one atomic batch).
    pub async fn rekey(
        &self,
        name: &str,
        password: impl AsRef<[u8]>,
        new_password: impl AsRef<[u8]>,
    ) -> Result<UnlockedKeyspace> {
        check_password(new_password.as_ref())?;
        let (header, header_version) = self.header_versioned(name).await?;
        let old = keyspace::unwrap(name, &header, password.as_ref())?.keyspace;
        let owned = self.owns_records(name, &old.id).await?;
        let mut batch = Batch::new();
        // Every record checked first: in a keyspace with a manifest, against it (nothing
        // replayed, put back or missing is carried over), and the new keyspace continues the
        // old one's revisions.
        let (records, revision) = if header.has_manifest() {
            let (records, manifest, version) = self.read_all_checked(&old, None).await?;
            // A record written after this scan would be left behind: the rekey fails instead.
            batch.require_version(manifest_key(&old.id), version);
            if owned {
                for key in self.store.scan_all_keys(&bucket_prefix(&old.id)).await? {
                    batch.delete(key);
                }
                batch.delete(manifest_key(&old.id));
            }
            let records: Vec<(Vec<u8>, CheckedRecord)> =
                records.into_iter().map(|(key, _, r)| (key, r)).collect();
            (records, manifest.revision.saturating_add(1))
        } else {
            let mut checked = Vec::new();
            for (key, value) in self.store.scan_all(&record_prefix(&old.id)).await? {
                let record = check_record(&old, &key, &value)?;
                checked.push((key, record));
            }
            (checked, 1)
        };
        let new = UnlockedKeyspace::generate(name)?;
        // A synced keyspace: the new one replaces it on the remote at its next sync
        // (a succession record; rekeyed again before that sync, the first one still stands).
        let succession = match crate::sync::read_succession(&self.store, &old).await? {
            Some(prior) => {
                batch.delete(crate::sync::succession_key(&old.id));
                Some(prior)
            }
            None if self.store.contains(&crate::sync::base_key(&old.id)).await? => {
                Some(crate::sync::Succession {
                    old: UnlockedKeyspace::new(name, old.id, old.keyspace_key.clone()),
                    revision,
                })
            }
            None => None,
        };
        if let Some(succession) = &succession {
            batch.set(
                crate::sync::succession_key(&new.id),
                crate::sync::encode_succession(&new, succession)?,
            );
        }
        let kdf = header.kdf.upgrade_to(&self.kdf).unwrap_or(header.kdf);
        let new_header = keyspace::wrap(&new, new_password.as_ref(), kdf)?;
        let nonces = crypto::random_nonces(records.len())?;
        let mut ids = Vec::with_capacity(records.len());
        for ((key, record), nonce) in records.iter().zip(&nonces) {
            let new_key = record_key(&new, record.kind, &record.name);
            let sealed = seal_record_with_nonce(
                &new,
                &new_key,
                &record.name,
                &record.payload,
                revision,
                nonce,
            )?;
            batch.create(new_key, sealed);
            ids.push((format::record_id(&new, record.kind, &record.name), revision));
            if owned {
                batch.delete(key.clone());
            }
        }
        let (manifest, buckets) = manifest::build(&new, revision, ids);
        for (index, bytes) in buckets {
            batch.create(bucket_key(&new.id, index), bytes);
        }
        batch.create(manifest_key(&new.id), manifest.encode(&new));
        if self.claim_holder(&old.id).await?.as_deref() == Some(name) {
            batch.delete(claim_key(&old.id));
        }
        batch
            .create(claim_key(&new.id), name.as_bytes())
            .require_version(format::header_key(name), header_version)
            .set(format::header_key(name), new_header.encode());
        apply_creating(&self.store, batch, Item::Keyspace, name).await?;
        new.observe(revision)?;
        Ok(new)
    }

    /// Deletes keyspace `name` and everything it owns, in one atomic batch; needs its
    /// password. Records under its id are deleted only when the id is its own (claimed by it,
    /// or, for a keyspace written before ids were claimed, held by no other keyspace).
    ///
    /// # Errors
    ///
    /// As [`unlock`](Self::unlock); storage failures. Nothing is deleted on error.
    pub async fn delete_keyspace(&self, name: &str, password: impl AsRef<[u8]>) -> Result<()> {
        // Not `unlock`: a KDF upgrade would derive again and rewrite a header about to go.
        let (header, header_version) = self.header_versioned(name).await?;
        let id = keyspace::unwrap(name, &header, password.as_ref())?
            .keyspace
            .id;
        let mut batch = Batch::new();
        if self.owns_records(name, &id).await? {
            for prefix in [record_prefix(&id), bucket_prefix(&id)] {
                for key in self.store.scan_all_keys(&prefix).await? {
                    batch.delete(key);
                }
            }
            batch.delete(manifest_key(&id));
        }
        batch
            .delete(crate::sync::base_key(&id))
            .delete(crate::sync::succession_key(&id));
        if self.claim_holder(&id).await?.as_deref() == Some(name) {
            batch.delete(claim_key(&id));
        }
        // Deleted only as it was read: a keyspace re-created or re-keyed meanwhile is not.
        batch
            .require_version(format::header_key(name), header_version)
            .delete(format::header_key(name));
        self.store.batch(batch).await?;
        Ok(())
    }

    /// The keyspace that claimed `id`, if any.
    async fn claim_holder(&self, id: &[u8; ID_LEN]) -> Result<Option<String>> {
        self.store
            .get(&claim_key(id))
            .await?
            .map(|name| check_stored_name("keyspace id claim", &name, MAX_KEYSPACE_NAME_LEN))
            .transpose()
    }

    /// The keyspaces whose stored header carries `id` (normally one; more only in a store
    /// written before ids were claimed and then given a hostile backup).
    async fn headers_with_id(&self, id: &[u8; ID_LEN]) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for (key, value) in self.store.scan_all(HEADER_PREFIX).await? {
            if Header::id_of(&value).as_ref() == Some(id) {
                let name = key.get(HEADER_PREFIX.len()..).unwrap_or_default();
                names.push(String::from_utf8_lossy(name).into_owned());
            }
        }
        Ok(names)
    }

    /// Whether the records under `id` belong to keyspace `name`.
    async fn owns_records(&self, name: &str, id: &[u8; ID_LEN]) -> Result<bool> {
        Ok(match self.claim_holder(id).await? {
            Some(holder) => holder == name,
            None => self.headers_with_id(id).await?.iter().all(|n| n == name),
        })
    }

    /// Fails with `AlreadyExists` unless `id` is unused: unclaimed, in no stored header (which
    /// covers keyspaces written before ids were claimed), with no record under it.
    pub(crate) async fn check_id_unused(&self, id: &[u8; ID_LEN]) -> Result<()> {
        let in_use = self.claim_holder(id).await?.is_some()
            || !self.headers_with_id(id).await?.is_empty()
            || !self
                .store
                .scan_keys(Scan::prefix(&record_prefix(id)).limit(1))
                .await?
                .is_empty();
        if in_use {
            return Err(id_in_use(id));
        }
        Ok(())
    }

    pub(crate) async fn resolve<'a>(&self, access: Access<'a>) -> Result<Resolved<'a>> {
        match access {
            Access::Unlocked(ks) => Ok(Resolved::Borrowed(ks)),
            Access::Password { keyspace, password } => Ok(Resolved::Owned(Box::new(
                self.unlock(keyspace, password).await?,
            ))),
        }
    }

    /// Every record of `kind`, each fully checked ([`check_record`]) and checked against the
    /// manifest, sorted by name.
    pub(crate) async fn list_records(
        &self,
        ks: &UnlockedKeyspace,
        kind: Kind,
    ) -> Result<Vec<(String, SecretBytes)>> {
        let (records, _, _) = self.read_all_checked(ks, Some(kind)).await?;
        let mut out: Vec<(String, SecretBytes)> = records
            .into_iter()
            .map(|(_, _, record)| (record.name, record.payload))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    pub(crate) async fn delete_record(
        &self,
        ks: &UnlockedKeyspace,
        kind: Kind,
        name: &str,
    ) -> Result<()> {
        check_lookup_name(kind.label(), name, MAX_ITEM_NAME_LEN)?;
        self.commit(ks, &[Edit::Delete { kind, name }], OnConflict::Retry)
            .await?;
        Ok(())
    }

    /// Loads and parses key pair `name` (the session caches its selected key this way).
    pub(crate) async fn private_key(
        &self,
        ks: &UnlockedKeyspace,
        name: &str,
    ) -> Result<PrivateKey> {
        decode_key_pair(&self.read_checked(ks, Kind::KeyPair, name).await?)
    }

    /// Loads key pair `name` with its description.
    pub(crate) async fn key_pair(
        &self,
        ks: &UnlockedKeyspace,
        name: &str,
    ) -> Result<(PrivateKey, KeyInfo)> {
        let (key, derivation) =
            decode_key_pair_with_origin(&self.read_checked(ks, Kind::KeyPair, name).await?)?;
        let info = key_info(name, &key, derivation);
        Ok((key, info))
    }

    // ------------------------------------------------------------------ key pairs

    /// Generates a key pair of `key_type` named `name`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad name; [`Error::AlreadyExists`];
    /// [`Error::RandomSource`]; with [`Access::Password`], what [`unlock`](Self::unlock) fails
    /// with; storage failures.
    pub async fn generate_key<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
        key_type: KeyType,
    ) -> Result<KeyInfo> {
        loop {
            let bytes = crypto::random_key()?;
            // A random 256-bit value is a valid secp256k1 scalar with overwhelming probability;
            // retry on the rare one that is not.
            if let Ok(key) = PrivateKey::from_bytes(key_type, &bytes) {
                return self.store_key(access.into(), name, key, None).await;
            }
        }
    }

    /// Imports a raw 32-byte private key (secp256k1 scalar or Ed25519 seed) as `name`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad name, a key that is not 32 bytes or not a valid key of
    /// its type; [`Error::AlreadyExists`]; with [`Access::Password`], what
    /// [`unlock`](Self::unlock) fails with; storage failures.
    pub async fn import_key<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
        key_type: KeyType,
        private_key: &[u8],
    ) -> Result<KeyInfo> {
        let bytes: [u8; 32] = private_key
            .try_into()
            .map_err(|_| Error::InvalidInput("a private key has exactly 32 bytes".into()))?;
        let key = PrivateKey::from_bytes(key_type, &Zeroizing::new(bytes))?;
        self.store_key(access.into(), name, key, None).await
    }

    pub(crate) async fn store_key(
        &self,
        access: Access<'_>,
        name: &str,
        key: PrivateKey,
        derivation: Option<Derivation>,
    ) -> Result<KeyInfo> {
        validate_name("key pair", name, MAX_ITEM_NAME_LEN)?;
        let ks = self.resolve(access).await?;
        let payload = encode_key_pair(&key, derivation.as_ref())?;
        let edit = Edit::Put {
            kind: Kind::KeyPair,
            name,
            payload: &payload,
            create: true,
        };
        self.commit(&ks, &[edit], OnConflict::Retry).await?;
        Ok(key_info(name, &key, derivation))
    }

    /// All key pairs (name, type, public key), sorted by name. Decrypts key-pair records only.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupted`] if a record fails its checks; with [`Access::Password`], what
    /// [`unlock`](Self::unlock) fails with; storage failures.
    pub async fn list_keys<'a>(&self, access: impl Into<Access<'a>>) -> Result<Vec<KeyInfo>> {
        let ks = self.resolve(access.into()).await?;
        self.list_records(&ks, Kind::KeyPair)
            .await?
            .into_iter()
            .map(|(name, payload)| {
                let (key, derivation) = decode_key_pair_with_origin(&payload)?;
                Ok(key_info(&name, &key, derivation))
            })
            .collect()
    }

    /// One key pair's public description (its [`KeyInfo::eth_address`] for secp256k1).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::Corrupted`] for an altered record; with
    /// [`Access::Password`], what [`unlock`](Self::unlock) fails with; storage failures.
    pub async fn key_info<'a>(&self, access: impl Into<Access<'a>>, name: &str) -> Result<KeyInfo> {
        let ks = self.resolve(access.into()).await?;
        Ok(self.key_pair(&ks, name).await?.1)
    }

    /// Renames key pair `from` to `to`, atomically.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for `from`; [`Error::AlreadyExists`] or [`Error::InvalidInput`] for
    /// `to`; [`Error::Corrupted`]; with [`Access::Password`], what [`unlock`](Self::unlock)
    /// fails with; storage failures (the rename is one atomic batch).
    pub async fn rename_key<'a>(
        &self,
        access: impl Into<Access<'a>>,
        from: &str,
        to: &str,
    ) -> Result<()> {
        validate_name("key pair", to, MAX_ITEM_NAME_LEN)?;
        let ks = self.resolve(access.into()).await?;
        let payload = self.read_checked(&ks, Kind::KeyPair, from).await?;
        if from == to {
            return Ok(());
        }
        // Renamed only as it was read (the commit is conditional on the manifest read before
        // it, and is not retried): of two renames of one key, one wins and the other gets a
        // conflict, not a second copy under another name.
        let edits = [
            Edit::Delete {
                kind: Kind::KeyPair,
                name: from,
            },
            Edit::Put {
                kind: Kind::KeyPair,
                name: to,
                payload: &payload,
                create: true,
            },
        ];
        self.commit(&ks, &edits, OnConflict::Fail).await?;
        Ok(())
    }

    /// Deletes key pair `name`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; with [`Access::Password`], what [`unlock`](Self::unlock) fails
    /// with; storage failures.
    pub async fn delete_key<'a>(&self, access: impl Into<Access<'a>>, name: &str) -> Result<()> {
        let ks = self.resolve(access.into()).await?;
        self.delete_record(&ks, Kind::KeyPair, name).await
    }

    /// Exports key pair `name`'s raw 32-byte private key. The only call that reveals one.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::Corrupted`] for an altered record; with
    /// [`Access::Password`], what [`unlock`](Self::unlock) fails with; storage failures.
    pub async fn export_private_key<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
    ) -> Result<SecretBytes> {
        let ks = self.resolve(access.into()).await?;
        let key = self.private_key(&ks, name).await?;
        Ok(SecretBytes::from(key.to_bytes().to_vec()))
    }

    /// Signs `message` with key pair `name`: secp256k1 ECDSA over SHA-256 (64-byte r ‖ s,
    /// low-S, RFC 6979) or Ed25519 (64 bytes).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::Corrupted`] for an altered record; with
    /// [`Access::Password`], what [`unlock`](Self::unlock) fails with; storage failures.
    pub async fn sign<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
        message: &[u8],
    ) -> Result<Vec<u8>> {
        let ks = self.resolve(access.into()).await?;
        Ok(self.private_key(&ks, name).await?.sign(message))
    }

    /// EIP-191 personal-message signature (65 bytes r ‖ s ‖ v) with secp256k1 key pair `name`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an Ed25519 key pair; [`Error::NotFound`];
    /// [`Error::Corrupted`]; with [`Access::Password`], what [`unlock`](Self::unlock) fails
    /// with; storage failures.
    pub async fn sign_eth_personal<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
        message: &[u8],
    ) -> Result<[u8; 65]> {
        let ks = self.resolve(access.into()).await?;
        self.private_key(&ks, name)
            .await?
            .sign_eth_personal(message)
    }

    // ------------------------------------------------------------------ secrets

    /// Stores secret `name` (replacing any previous value).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad name; [`Error::RandomSource`]; with
    /// [`Access::Password`], what [`unlock`](Self::unlock) fails with; storage failures.
    pub async fn set_secret<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
        value: &[u8],
    ) -> Result<()> {
        validate_name("secret", name, MAX_ITEM_NAME_LEN)?;
        let ks = self.resolve(access.into()).await?;
        let edit = Edit::Put {
            kind: Kind::Secret,
            name,
            payload: value,
            create: false,
        };
        self.commit(&ks, &[edit], OnConflict::Retry).await?;
        Ok(())
    }

    /// Stores many secrets in one atomic write: all of them, or on error none.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad name; [`Error::RandomSource`]; with
    /// [`Access::Password`], what [`unlock`](Self::unlock) fails with; storage failures.
    /// Nothing of the batch is written on error.
    pub async fn set_secrets<'a, N: AsRef<str>, V: AsRef<[u8]>>(
        &self,
        access: impl Into<Access<'a>>,
        secrets: &[(N, V)],
    ) -> Result<()> {
        let ks = self.resolve(access.into()).await?;
        let mut edits = Vec::with_capacity(secrets.len());
        for (name, value) in secrets {
            validate_name("secret", name.as_ref(), MAX_ITEM_NAME_LEN)?;
            edits.push(Edit::Put {
                kind: Kind::Secret,
                name: name.as_ref(),
                payload: value.as_ref(),
                create: false,
            });
        }
        if edits.is_empty() {
            return Ok(());
        }
        self.commit(&ks, &edits, OnConflict::Retry).await?;
        Ok(())
    }

    /// Secret `name`'s value.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::Corrupted`] for an altered record; with
    /// [`Access::Password`], what [`unlock`](Self::unlock) fails with; storage failures.
    pub async fn get_secret<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
    ) -> Result<SecretBytes> {
        let ks = self.resolve(access.into()).await?;
        self.read_checked(&ks, Kind::Secret, name).await
    }

    /// The names of all secrets, sorted. Decrypts secret records only.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupted`] if a record fails its checks; with [`Access::Password`], what
    /// [`unlock`](Self::unlock) fails with; storage failures.
    pub async fn list_secrets<'a>(&self, access: impl Into<Access<'a>>) -> Result<Vec<String>> {
        let ks = self.resolve(access.into()).await?;
        Ok(self
            .list_records(&ks, Kind::Secret)
            .await?
            .into_iter()
            .map(|(name, _)| name)
            .collect())
    }

    /// Deletes secret `name`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; with [`Access::Password`], what [`unlock`](Self::unlock) fails
    /// with; storage failures.
    pub async fn delete_secret<'a>(&self, access: impl Into<Access<'a>>, name: &str) -> Result<()> {
        let ks = self.resolve(access.into()).await?;
        self.delete_record(&ks, Kind::Secret, name).await
    }

    // ------------------------------------------------------------------ encryption

    /// Encrypts `plaintext` under the keyspace's data key (format in `docs/FORMAT.md`).
    ///
    /// # Errors
    ///
    /// [`Error::RandomSource`]; with [`Access::Password`], what [`unlock`](Self::unlock) fails
    /// with.
    pub async fn encrypt<'a>(
        &self,
        access: impl Into<Access<'a>>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let ks = self.resolve(access.into()).await?;
        crate::cipher::encrypt(&ks.data_key, plaintext)
    }

    /// Decrypts what [`encrypt`](Self::encrypt) produced in the same keyspace.
    ///
    /// # Errors
    ///
    /// [`Error::DecryptionFailed`] for a ciphertext altered, truncated or from another
    /// keyspace; [`Error::UnsupportedFormat`] for a newer format; with [`Access::Password`],
    /// what [`unlock`](Self::unlock) fails with.
    pub async fn decrypt<'a>(
        &self,
        access: impl Into<Access<'a>>,
        ciphertext: &[u8],
    ) -> Result<SecretBytes> {
        let ks = self.resolve(access.into()).await?;
        crate::cipher::decrypt(&ks.data_key, ciphertext)
    }

    /// A streaming encryptor under the keyspace's data key (constant memory, any size).
    ///
    /// # Errors
    ///
    /// [`Error::RandomSource`]; with [`Access::Password`], what [`unlock`](Self::unlock) fails
    /// with.
    pub async fn encrypt_stream<'a>(
        &self,
        access: impl Into<Access<'a>>,
    ) -> Result<StreamEncryptor> {
        let ks = self.resolve(access.into()).await?;
        StreamEncryptor::new(&ks.data_key)
    }

    /// A streaming decryptor for what [`encrypt_stream`](Self::encrypt_stream) produced.
    ///
    /// # Errors
    ///
    /// With [`Access::Password`], what [`unlock`](Self::unlock) fails with (the stream itself
    /// is checked as it is fed to the decryptor).
    pub async fn decrypt_stream<'a>(
        &self,
        access: impl Into<Access<'a>>,
    ) -> Result<StreamDecryptor> {
        let ks = self.resolve(access.into()).await?;
        Ok(StreamDecryptor::new(&ks.data_key))
    }
}

/// Applies a batch whose `create`s guard `name` (an `item`) and possibly a keyspace-id claim:
/// a conflict becomes `AlreadyExists` for whichever was taken.
pub(crate) async fn apply_creating<S: KVStore>(
    store: &S,
    batch: Batch,
    item: Item,
    name: &str,
) -> Result<()> {
    store.batch(batch).await.map_err(|e| match e {
        kvstore::Error::KeyExists { key } => {
            match <&[u8; ID_LEN]>::try_from(key.strip_prefix(CLAIM_PREFIX).unwrap_or_default()) {
                Ok(id) => id_in_use(id),
                Err(_) => Error::AlreadyExists {
                    item,
                    name: name.to_owned(),
                },
            }
        }
        other => other.into(),
    })
}

/// The error for a keyspace id that another keyspace already uses.
pub(crate) fn id_in_use(id: &[u8; ID_LEN]) -> Error {
    Error::AlreadyExists {
        item: Item::KeyspaceId,
        name: id.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

pub(crate) fn key_info(name: &str, key: &PrivateKey, derivation: Option<Derivation>) -> KeyInfo {
    KeyInfo {
        name: name.to_owned(),
        key_type: key.key_type(),
        public_key: key.public_key(),
        derivation,
    }
}

fn check_password(password: &[u8]) -> Result<()> {
    if password.is_empty() {
        return Err(Error::InvalidInput("the password must not be empty".into()));
    }
    Ok(())
}
