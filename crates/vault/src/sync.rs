//! Sync of one keyspace between this vault's store and a **remote** store holding the same
//! layout (a server's namespace through its API, or any [`KVStore`]). Offline-first: each side
//! works alone; a sync is a three-way merge of record ids against the state both sides had at
//! the last sync (the *base*, kept locally under `s/` ‖ keyspace id, authenticated).
//!
//! Per record id: changed on one side only → that side's version is taken; changed on both →
//! the remote's wins (whoever synced first), and the local value is kept as a **history**
//! record (kind `h`) the user can list and restore, so a conflict never loses a value. The
//! merged state is written to the remote in one batch conditional on the remote manifest read
//! (another device syncing meanwhile makes this one start again), then locally in one batch,
//! both under a new manifest revision above both sides'.
//!
//! The remote is untrusted: its manifest must authenticate under the keyspace key and never be
//! older than the base (a rollback), and every record taken from it must authenticate and
//! carry exactly the revision its bucket lists (a replay): otherwise [`Error::Tampered`] and
//! nothing is applied.

use std::collections::{BTreeMap, BTreeSet};

use kvstore::{Batch, KVStore};

use crate::format::{
    self, check_record, claim_key, put_bytes16, record_key_of, record_prefix, CheckedRecord, Kind,
    Reader, RecordId, RECORD_SUFFIX_LEN,
};
use crate::keyspace::UnlockedKeyspace;
use crate::manifest::{self, bucket_key, bucket_of, manifest_key, Bucket, Manifest};
use crate::vault::Access;
use crate::{crypto, Error, Item, Result, SecretBytes, Tampering, Vault};

/// Storage-key prefix of sync bases (followed by the keyspace id).
pub(crate) const BASE_PREFIX: &[u8] = b"s/";
const BASE_VERSION: u8 = 1;
const ATTEMPTS: usize = 5;

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncReport {
    /// Records sent to the remote (written or deleted).
    pub pushed: usize,
    /// Records taken from the remote (written or deleted here).
    pub pulled: usize,
    /// Conflicts (both sides changed a record): the remote's version won, the local one was
    /// kept as history.
    pub conflicts: usize,
    /// The keyspace revision both sides are at now.
    pub revision: u64,
}

/// A value kept after it lost a sync conflict ([`Vault::list_history`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Its id, for [`Vault::restore_history`].
    pub id: String,
    /// What it was: a key pair or a secret.
    pub item: Item,
    /// Its name.
    pub name: String,
    /// The revision it was written at.
    pub revision: u64,
}

pub(crate) fn base_key(id: &[u8]) -> Vec<u8> {
    [BASE_PREFIX, id].concat()
}

/// Storage key of a keyspace's *succession* record (`s/` ‖ id ‖ `r`): written by a rekey of a
/// synced keyspace, it names the keyspace the remote still holds (its id, and its key sealed
/// under the new keyspace) until the next sync replaces it there.
pub(crate) fn succession_key(id: &[u8]) -> Vec<u8> {
    [BASE_PREFIX, id, b"r"].concat()
}
const SUCCESSION_VERSION: u8 = 1;

/// The predecessor a rekeyed keyspace replaces on the remote at its next sync.
pub(crate) struct Succession {
    /// The keyspace the remote holds (and this store's sync base is about).
    pub(crate) old: UnlockedKeyspace,
    /// The revision of the rekey: records changed here since are above it.
    pub(crate) revision: u64,
}

fn succession_aead_key(ks: &UnlockedKeyspace) -> crypto::Key {
    crypto::hkdf(ks.keyspace_key.as_ref(), &ks.id, b"vault/v2/succession-key")
}

fn succession_aad(new: &[u8], old: &[u8]) -> Vec<u8> {
    [b"vault/v2/succession".as_slice(), new, old].concat()
}

/// version 1 ‖ old id ‖ revision u64 ‖ nonce ‖ XChaCha20-Poly1305(old keyspace key), under a
/// key derived from the new keyspace's.
pub(crate) fn encode_succession(
    new: &UnlockedKeyspace,
    succession: &Succession,
) -> Result<Vec<u8>> {
    let mut out = vec![SUCCESSION_VERSION];
    out.extend_from_slice(&succession.old.id);
    out.extend_from_slice(&succession.revision.to_le_bytes());
    crypto::seal_into(
        &succession_aead_key(new),
        &succession_aad(&new.id, &succession.old.id),
        succession.old.keyspace_key.as_ref(),
        &mut out,
    )?;
    Ok(out)
}

/// The succession record of keyspace `new` in `store`, if any.
pub(crate) async fn read_succession<S: KVStore>(
    store: &S,
    new: &UnlockedKeyspace,
) -> Result<Option<Succession>> {
    let Some(bytes) = store.get(&succession_key(&new.id)).await? else {
        return Ok(None);
    };
    let corrupted = || Error::Corrupted("the succession record does not authenticate".into());
    let mut r = Reader::new(&bytes, "succession record");
    format::check_version("succession record", r.u8()?, SUCCESSION_VERSION)?;
    let old_id: [u8; format::ID_LEN] = r.array()?;
    let revision = u64::from_le_bytes(r.array()?);
    let key = crypto::open(
        &succession_aead_key(new),
        &succession_aad(&new.id, &old_id),
        r.rest(),
    )
    .ok_or_else(corrupted)?;
    let key: [u8; 32] = key.as_ref().try_into().map_err(|_| corrupted())?;
    Ok(Some(Succession {
        old: UnlockedKeyspace::new(new.name(), old_id, zeroize::Zeroizing::new(key)),
        revision,
    }))
}

/// The history payload keeping `record`'s value: kind ‖ revision ‖ bytes16(name) ‖ payload.
fn history_payload(record: &CheckedRecord) -> Result<SecretBytes> {
    let mut payload = SecretBytes::with_capacity(11 + record.name.len() + record.payload.len());
    payload.vec_mut().push(record.kind.byte());
    payload
        .vec_mut()
        .extend_from_slice(&record.revision.unwrap_or(0).to_le_bytes());
    let mut name_field = Vec::new();
    put_bytes16(&mut name_field, record.name.as_bytes(), "a name")?;
    payload.vec_mut().extend_from_slice(&name_field);
    payload.vec_mut().extend_from_slice(&record.payload);
    Ok(payload)
}

/// Blind writes (`create: false`) of `puts`: what a carried-over change becomes.
fn put_edits(
    puts: &[(Kind, String, SecretBytes)],
) -> impl Iterator<Item = crate::records::Edit<'_>> {
    puts.iter()
        .map(|(kind, name, payload)| crate::records::Edit::Put {
            kind: *kind,
            name,
            payload,
            create: false,
        })
}

/// A fresh history record name (32 hex digits).
fn history_name() -> Result<String> {
    let mut id = [0u8; 16];
    crypto::random_bytes(&mut id)?;
    Ok(id.iter().map(|b| format!("{b:02x}")).collect())
}

/// The state both sides had at the last sync: its revision, the SHA-256 of the header, and the
/// record ids with their revisions.
struct Base {
    revision: u64,
    header: [u8; 32],
    ids: BTreeMap<RecordId, u64>,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn encode_base(ks: &UnlockedKeyspace, base: &Base) -> Vec<u8> {
    let (revision, ids) = (base.revision, &base.ids);
    let mut out = vec![BASE_VERSION];
    out.extend_from_slice(&revision.to_le_bytes());
    out.extend_from_slice(&base.header);
    for (rid, rev) in ids {
        out.extend_from_slice(rid);
        out.extend_from_slice(&rev.to_le_bytes());
    }
    let mac = crypto::hmac(&ks.manifest_key, &[b"vault/v2/sync-base", &ks.id, &out]);
    out.extend_from_slice(&mac);
    out
}

fn decode_base(ks: &UnlockedKeyspace, bytes: &[u8]) -> Result<Base> {
    let corrupted = || Error::Corrupted("the sync base does not authenticate".into());
    let (body, mac) = bytes
        .split_at_checked(bytes.len().checked_sub(32).ok_or_else(corrupted)?)
        .ok_or_else(corrupted)?;
    if !crypto::hmac_verify(
        &ks.manifest_key,
        &[b"vault/v2/sync-base", &ks.id, body],
        mac,
    ) {
        return Err(corrupted());
    }
    let mut r = Reader::new(body, "sync base");
    format::check_version("sync base", r.u8()?, BASE_VERSION)?;
    let revision = u64::from_le_bytes(r.array()?);
    let header = r.array()?;
    let rest = r.rest();
    if !rest.len().is_multiple_of(RECORD_SUFFIX_LEN + 8) {
        return Err(corrupted());
    }
    let ids = rest
        .chunks_exact(RECORD_SUFFIX_LEN + 8)
        .map(|c| {
            let (rid, rev) = c.split_at(RECORD_SUFFIX_LEN);
            Ok((
                rid.try_into().map_err(|_| corrupted())?,
                u64::from_le_bytes(rev.try_into().map_err(|_| corrupted())?),
            ))
        })
        .collect::<Result<_>>()?;
    Ok(Base {
        revision,
        header,
        ids,
    })
}

/// One side's state of a keyspace: manifest (and its store version), every listed record id
/// with its revision, and the buckets.
struct Side {
    manifest: Manifest,
    version: u64,
    ids: BTreeMap<RecordId, u64>,
    buckets: BTreeMap<u8, Bucket>,
}

/// Reads and checks `store`'s manifest and buckets of keyspace `ks` (`None`: no manifest).
async fn read_side<S: KVStore>(store: &S, ks: &UnlockedKeyspace) -> Result<Option<Side>> {
    let Some((bytes, version)) = store.get_versioned(&manifest_key(&ks.id)).await? else {
        return Ok(None);
    };
    let manifest = Manifest::decode(ks, &bytes)?;
    let mut ids = BTreeMap::new();
    let mut buckets = BTreeMap::new();
    for (index, bucket) in (0u8..).zip(crate::records::load_buckets(store, ks, &manifest).await?) {
        ids.extend(bucket.entries().iter().copied());
        buckets.insert(index, bucket);
    }
    Ok(Some(Side {
        manifest,
        version,
        ids,
        buckets,
    }))
}

/// A record of the remote, checked: it authenticates, lies under its id, and carries exactly
/// the revision the remote's bucket lists.
async fn remote_record<R: KVStore>(
    remote: &R,
    ks: &UnlockedKeyspace,
    rid: &RecordId,
    listed: u64,
) -> Result<(Vec<u8>, CheckedRecord)> {
    let key = record_key_of(&ks.id, rid);
    let item = crate::manifest::item_of(rid);
    let Some(value) = remote.get(&key).await? else {
        return Err(ks.tampered(Tampering::Missing { item, name: None }));
    };
    let record = check_record(ks, &key, &value)?;
    if record.revision != Some(listed) {
        return Err(ks.tampered(Tampering::Replayed {
            item,
            name: record.name,
        }));
    }
    Ok((value, record))
}

/// Keyspace `ks` as `remote` holds it, checked whole: its manifest, and every record, which
/// must authenticate and be exactly the one the manifest lists (none replayed, put back or
/// missing).
async fn fetch_checked<R: KVStore>(
    remote: &R,
    ks: &UnlockedKeyspace,
) -> Result<(Side, Vec<(Vec<u8>, Vec<u8>, CheckedRecord)>)> {
    let side = read_side(remote, ks).await?.ok_or_else(|| {
        ks.tampered(Tampering::ManifestInvalid {
            reason: "the remote holds a header without its manifest",
        })
    })?;
    let mut entries = Vec::with_capacity(side.ids.len());
    for (key, value) in remote.scan_all(&record_prefix(&ks.id)).await? {
        let record = check_record(ks, &key, &value)?;
        match side.ids.get(&record.rid) {
            Some(&listed) if record.revision == Some(listed) => {}
            Some(_) => {
                return Err(ks.tampered(Tampering::Replayed {
                    item: record.kind.item(),
                    name: record.name,
                }))
            }
            None => {
                return Err(ks.tampered(Tampering::Resurrected {
                    item: record.kind.item(),
                    name: record.name,
                }))
            }
        }
        entries.push((key, value, record));
    }
    if entries.len() != side.ids.len() {
        return Err(ks.tampered(Tampering::Missing {
            item: Item::Secret,
            name: None,
        }));
    }
    Ok((side, entries))
}

/// What a sync that replaces the remote's predecessor of a rekeyed keyspace removes there.
struct Replacing {
    old_id: [u8; format::ID_LEN],
    /// The store version of the predecessor's manifest on the remote, as read.
    manifest_version: u64,
    /// Every remote key of the predecessor (records, buckets, manifest, claim).
    keys: Vec<Vec<u8>>,
}

impl<S: KVStore> Vault<S> {
    /// Syncs keyspace `access` with `remote` (see the module docs): pushes local changes, pulls
    /// remote ones, keeps the local side of a conflict as history. The first sync of a
    /// keyspace the remote does not hold uploads it whole (header, claim, records, manifest).
    ///
    /// # Errors
    ///
    /// [`Error::Tampered`] for a remote that replays, hides or rolls back (nothing applied);
    /// [`Error::Conflict`] when both sides kept changing through several attempts (retry);
    /// [`Error::NotFound`] if the remote holds this keyspace's name under another keyspace
    /// (re-created or re-keyed elsewhere); storage failures of either side.
    pub async fn sync_keyspace<'a, R: KVStore>(
        &self,
        access: impl Into<Access<'a>>,
        remote: &R,
    ) -> Result<SyncReport> {
        let ks = self.resolve(access.into()).await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Boxed: a sync's state is large, and a debug build in a browser worker (1 MiB of
            // stack) overflowed polling it inline.
            match Box::pin(self.sync_once(&ks, remote)).await {
                Err(Error::Conflict) if attempt < ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    async fn sync_once<R: KVStore>(&self, ks: &UnlockedKeyspace, remote: &R) -> Result<SyncReport> {
        let header_key = format::header_key(ks.name());
        let remote_header = remote.get_versioned(&header_key).await?;
        let mut replacing = None;
        if let Some((bytes, _)) = &remote_header {
            let remote_id = format::Header::id_of(bytes);
            if remote_id.as_ref() != Some(&ks.id) {
                match read_succession(self.store(), ks).await? {
                    // This keyspace was rekeyed here: it replaces its predecessor there, after
                    // taking the predecessor's changes made elsewhere since the last sync.
                    Some(succession) if remote_id.as_ref() == Some(&succession.old.id) => {
                        replacing =
                            Some(Box::pin(self.take_predecessor(ks, remote, &succession)).await?);
                    }
                    _ => {
                        return Err(Error::NotFound {
                            item: Item::Keyspace,
                            name: format!(
                                "{} (the remote holds another keyspace of this name, re-keyed \
                                 on another device: adopt it with its new password)",
                                ks.name()
                            ),
                        })
                    }
                }
            }
        }
        let (local_records, local_manifest, local_version) =
            self.read_all_checked(ks, None).await?;
        let local_header = self
            .store()
            .get_versioned(&header_key)
            .await?
            .ok_or_else(|| Error::not_found(Item::Keyspace, ks.name()))?;
        let base = match self.store().get(&base_key(&ks.id)).await? {
            Some(bytes) => Some(decode_base(ks, &bytes)?),
            None => None,
        };
        let remote_side = read_side(remote, ks).await?;
        if let (Some(base), Some(side)) = (&base, &remote_side) {
            if side.manifest.revision < base.revision {
                return Err(ks.tampered(Tampering::RolledBack {
                    seen: base.revision,
                    found: side.manifest.revision,
                }));
            }
        }
        if base.is_some() && remote_side.is_none() {
            return Err(ks.tampered(Tampering::ManifestInvalid {
                reason: "the remote lost a keyspace it held at the last sync",
            }));
        }

        let local_ids: BTreeMap<RecordId, u64> = local_records
            .iter()
            .map(|(_, _, r)| (r.rid, r.revision.unwrap_or(0)))
            .collect();
        let remote_ids = remote_side
            .as_ref()
            .map(|s| s.ids.clone())
            .unwrap_or_default();
        let base_ids = base.as_ref().map(|b| b.ids.clone()).unwrap_or_default();
        // Both sides at the same revision of a record they both changed since the base may
        // still hold different values (two devices, each one write after the same sync):
        // compare the bytes.
        let local_values: BTreeMap<RecordId, &Vec<u8>> =
            local_records.iter().map(|(_, v, r)| (r.rid, v)).collect();
        let mut diverged = BTreeSet::new();
        for (rid, l) in &local_ids {
            if remote_ids.get(rid) == Some(l) && base_ids.get(rid) != Some(l) {
                let (value, _) = remote_record(remote, ks, rid, *l).await?;
                if Some(&&value) != local_values.get(rid) {
                    diverged.insert(*rid);
                }
            }
        }
        let all: BTreeSet<RecordId> = local_ids
            .keys()
            .chain(remote_ids.keys())
            .chain(base_ids.keys())
            .copied()
            .collect();

        let mut report = SyncReport::default();
        let mut merged = BTreeMap::new();
        let mut push: Vec<RecordId> = Vec::new(); // local → remote (set or delete)
        let mut pull: Vec<RecordId> = Vec::new(); // remote → local (set or delete)
        let mut lost: Vec<RecordId> = Vec::new(); // local values kept as history
        for rid in all {
            let (l, r, b) = (
                local_ids.get(&rid),
                remote_ids.get(&rid),
                base_ids.get(&rid),
            );
            if l == r && !diverged.contains(&rid) {
                if let Some(&rev) = l {
                    merged.insert(rid, rev);
                }
            } else if l == b {
                pull.push(rid);
                if let Some(&rev) = r {
                    merged.insert(rid, rev);
                }
            } else if r == b {
                push.push(rid);
                if let Some(&rev) = l {
                    merged.insert(rid, rev);
                }
            } else {
                report.conflicts += 1;
                pull.push(rid);
                if l.is_some() {
                    lost.push(rid);
                }
                if let Some(&rev) = r {
                    merged.insert(rid, rev);
                }
            }
        }
        report.pushed = push.len();
        report.pulled = pull.len();
        // The header: three-way too (a password change on one side reaches the other; on both
        // sides, the remote's wins).
        let local_hash = sha256(&local_header.0);
        let remote_hash = remote_header.as_ref().map(|(h, _)| sha256(h));
        let base_hash = base.as_ref().map(|b| b.header);
        let (push_header, pull_header) = match remote_hash {
            _ if replacing.is_some() => (true, false),
            None => (true, false),
            Some(r) if r == local_hash => (false, false),
            Some(_) if Some(local_hash) == base_hash => (false, true),
            Some(r) if Some(r) == base_hash => (true, false),
            Some(_) => (false, true),
        };
        let agreed_header = if pull_header {
            remote_hash.unwrap_or(local_hash)
        } else {
            local_hash
        };
        let remote_revision = remote_side.as_ref().map_or(0, |s| s.manifest.revision);
        let remote_write = !push.is_empty() || push_header || remote_side.is_none();
        let local_write = remote_write || !pull.is_empty() || !lost.is_empty() || pull_header;
        if !local_write {
            report.revision = local_manifest.revision;
            return Ok(report);
        }
        // Both sides at one new revision when both are written; a side that only takes the
        // remote's changes adopts the remote's revision (or goes one above its own).
        let revision = if remote_write {
            local_manifest.revision.max(remote_revision).checked_add(1)
        } else if local_manifest.revision < remote_revision {
            Some(remote_revision)
        } else {
            local_manifest.revision.checked_add(1)
        }
        .ok_or_else(|| Error::Corrupted("the keyspace revision overflowed".into()))?;
        let base_revision = if remote_write {
            revision
        } else {
            remote_revision
        };
        // History records are written at the new revision, locally only (they sync on the
        // next round like any local change).
        let local_by_rid: BTreeMap<RecordId, &(Vec<u8>, Vec<u8>, CheckedRecord)> =
            local_records.iter().map(|e| (e.2.rid, e)).collect();
        let mut history = Vec::new();
        for rid in &lost {
            let (_, _, record) = local_by_rid[rid];
            let name = history_name()?;
            let payload = history_payload(record)?;
            let hid = format::record_id(ks, Kind::History, &name);
            merged.insert(hid, revision);
            history.push((hid, name, payload));
        }

        // What the remote gets: pushed records as stored here, and its new buckets and
        // manifest (history records stay local until the next sync pushes them).
        let mut remote_merged = merged.clone();
        for (hid, _, _) in &history {
            remote_merged.remove(hid);
        }
        let mut remote_batch = Batch::new();
        if let Some(replacing) = &replacing {
            remote_batch
                .require_version(manifest_key(&replacing.old_id), replacing.manifest_version);
            for key in &replacing.keys {
                remote_batch.delete(key.clone());
            }
        }
        let mkey = manifest_key(&ks.id);
        match &remote_side {
            Some(side) => {
                remote_batch.require_version(mkey.clone(), side.version);
            }
            None => {
                // First upload: the claim with the header (below).
                remote_batch
                    .require_absent(mkey.clone())
                    .set(claim_key(&ks.id), ks.name().as_bytes().to_vec());
            }
        }
        if push_header {
            match &remote_header {
                Some((_, version)) => remote_batch.require_version(header_key.clone(), *version),
                None => remote_batch.require_absent(header_key.clone()),
            };
            remote_batch.set(header_key.clone(), local_header.0.clone());
        }
        for rid in &push {
            let key = record_key_of(&ks.id, rid);
            match local_by_rid.get(rid) {
                Some((_, value, _)) => remote_batch.set(key, value.clone()),
                None => remote_batch.delete(key),
            };
        }
        let (remote_manifest, remote_buckets) = manifest::build(ks, revision, remote_merged);
        write_buckets(
            &mut remote_batch,
            ks,
            remote_side.as_ref().map(|s| &s.buckets),
            &remote_buckets,
        );
        remote_batch.set(mkey.clone(), remote_manifest.encode(ks));

        // What this side gets: pulled records (checked), history, buckets, manifest, base.
        let mut local_batch = Batch::new();
        local_batch.require_version(mkey.clone(), local_version);
        for rid in &pull {
            let key = record_key_of(&ks.id, rid);
            match remote_ids.get(rid) {
                Some(&listed) => {
                    let (value, _) = remote_record(remote, ks, rid, listed).await?;
                    local_batch.set(key, value);
                }
                None => {
                    local_batch.delete(key);
                }
            }
        }
        let nonces = crypto::random_nonces(history.len())?;
        for ((hid, name, payload), nonce) in history.iter().zip(&nonces) {
            let key = record_key_of(&ks.id, hid);
            let sealed = format::seal_record_with_nonce(ks, &key, name, payload, revision, nonce)?;
            local_batch.set(key, sealed);
        }
        let local_side_buckets = local_bucket_map(&local_ids);
        let (new_manifest, new_buckets) = manifest::build(ks, revision, merged.clone());
        write_buckets(
            &mut local_batch,
            ks,
            Some(&local_side_buckets),
            &new_buckets,
        );
        local_batch.set(mkey, new_manifest.encode(ks));
        let new_base = Base {
            revision: base_revision,
            header: agreed_header,
            ids: remote_merged_ids(&merged, &history),
        };
        local_batch.set(base_key(&ks.id), encode_base(ks, &new_base));
        if let Some(replacing) = &replacing {
            local_batch
                .delete(succession_key(&ks.id))
                .delete(base_key(&replacing.old_id));
        }
        if pull_header {
            if let Some((bytes, _)) = &remote_header {
                local_batch
                    .require_version(header_key.clone(), local_header.1)
                    .set(header_key.clone(), bytes.clone());
            }
        }

        if remote_write {
            remote.batch(remote_batch).await.map_err(|e| match e {
                kvstore::Error::Conflict { .. } => Error::Conflict,
                other => other.into(),
            })?;
        }
        // The remote has the merged state; if this side changed meanwhile, the next attempt
        // finds the remote equal to the base and pushes that change.
        self.store().batch(local_batch).await.map_err(|e| match e {
            kvstore::Error::Conflict { .. } => Error::Conflict,
            other => other.into(),
        })?;
        ks.observe(revision)?;
        report.revision = revision;
        Ok(report)
    }

    /// Before a rekeyed keyspace replaces its predecessor on the remote: takes the changes
    /// made to the predecessor elsewhere since this store's last sync of it (a value changed
    /// here since the rekey too is kept as history, as in any conflict), and lists what the
    /// replacement removes there.
    async fn take_predecessor<R: KVStore>(
        &self,
        ks: &UnlockedKeyspace,
        remote: &R,
        succession: &Succession,
    ) -> Result<Replacing> {
        let old = &succession.old;
        let side = read_side(remote, old).await?.ok_or_else(|| {
            ks.tampered(Tampering::ManifestInvalid {
                reason: "the remote holds the replaced keyspace's header without its manifest",
            })
        })?;
        let base_ids = match self.store().get(&base_key(&old.id)).await? {
            Some(bytes) => {
                let base = decode_base(old, &bytes)?;
                if side.manifest.revision < base.revision {
                    return Err(ks.tampered(Tampering::RolledBack {
                        seen: base.revision,
                        found: side.manifest.revision,
                    }));
                }
                base.ids
            }
            None => BTreeMap::new(),
        };
        let (local, _, _) = self.read_all_checked(ks, None).await?;
        let by_old_rid: BTreeMap<RecordId, &CheckedRecord> = local
            .iter()
            .map(|(_, _, r)| (format::record_id(old, r.kind, &r.name), r))
            .collect();
        let changed: BTreeSet<RecordId> = side
            .ids
            .iter()
            .filter(|(rid, rev)| base_ids.get(*rid) != Some(rev))
            .map(|(rid, _)| *rid)
            .chain(
                base_ids
                    .keys()
                    .filter(|rid| !side.ids.contains_key(*rid))
                    .copied(),
            )
            .collect();
        let mut puts: Vec<(Kind, String, SecretBytes)> = Vec::new();
        let mut deletes: Vec<(Kind, String)> = Vec::new();
        for rid in changed {
            let here = by_old_rid.get(&rid).copied();
            let changed_here = here.is_some_and(|l| l.revision.unwrap_or(0) > succession.revision);
            match side.ids.get(&rid) {
                Some(&listed) => {
                    let (_, theirs) = remote_record(remote, old, &rid, listed).await?;
                    if here.is_some_and(|l| l.payload.as_ref() == theirs.payload.as_ref()) {
                        continue;
                    }
                    if let Some(l) = here.filter(|_| changed_here) {
                        puts.push((Kind::History, history_name()?, history_payload(l)?));
                    }
                    puts.push((theirs.kind, theirs.name.clone(), theirs.payload));
                }
                None => {
                    if let Some(l) = here {
                        if changed_here {
                            puts.push((Kind::History, history_name()?, history_payload(l)?));
                        }
                        deletes.push((l.kind, l.name.clone()));
                    }
                }
            }
        }
        let edits: Vec<crate::records::Edit<'_>> = put_edits(&puts)
            .chain(
                deletes
                    .iter()
                    .map(|(kind, name)| crate::records::Edit::Delete { kind: *kind, name }),
            )
            .collect();
        if !edits.is_empty() {
            self.commit(ks, &edits, crate::records::OnConflict::Retry)
                .await?;
        }
        let mut keys = Vec::new();
        for prefix in [record_prefix(&old.id), manifest::bucket_prefix(&old.id)] {
            keys.extend(remote.scan_all_keys(&prefix).await?);
        }
        keys.push(manifest_key(&old.id));
        keys.push(claim_key(&old.id));
        Ok(Replacing {
            old_id: old.id,
            manifest_version: side.version,
            keys,
        })
    }

    /// Takes in a keyspace rekeyed on another device: the remote holds keyspace `access`'s name
    /// under a new key and id, which `new_password` opens. The remote's keyspace replaces this
    /// one here (checked whole first, then in one batch), and what changed here since the last
    /// sync is carried over: items added or changed here are written (or, where the remote
    /// holds another value, kept as history), so nothing typed on this device is lost. A
    /// deletion made here since the last sync is not carried over (the item stays).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] if the remote holds this very keyspace (sync it instead);
    /// [`Error::NotFound`] if the remote has no keyspace of this name; [`Error::WrongPassword`]
    /// for a wrong `new_password`; [`Error::Tampered`] or [`Error::Corrupted`] for a remote that
    /// does not check out; [`Error::Conflict`] if this keyspace changed meanwhile (retry).
    pub async fn adopt_rekeyed<'a, R: KVStore>(
        &self,
        access: impl Into<Access<'a>>,
        remote: &R,
        new_password: impl AsRef<[u8]>,
    ) -> Result<UnlockedKeyspace> {
        let old = self.resolve(access.into()).await?;
        let name = old.name().to_owned();
        let header_key = format::header_key(&name);
        let header_bytes = remote
            .get(&header_key)
            .await?
            .ok_or_else(|| Error::not_found(Item::Keyspace, &name))?;
        if format::Header::id_of(&header_bytes).as_ref() == Some(&old.id) {
            return Err(Error::InvalidInput(format!(
                "the remote holds keyspace {name:?} under the same key: sync it instead"
            )));
        }
        let header = format::Header::decode(&header_bytes)?;
        let new = crate::keyspace::unwrap(&name, &header, new_password.as_ref())?.keyspace;
        let (side, entries) = Box::pin(fetch_checked(remote, &new)).await?;
        let (local, _, local_version) = Box::pin(self.read_all_checked(&old, None)).await?;
        let base_ids = match self.store().get(&base_key(&old.id)).await? {
            Some(bytes) => decode_base(&old, &bytes)?.ids,
            None => BTreeMap::new(),
        };
        let (_, local_header_version) = self
            .store()
            .get_versioned(&header_key)
            .await?
            .ok_or_else(|| Error::not_found(Item::Keyspace, &name))?;

        // One batch: the old keyspace goes, the remote's comes (as `clone_keyspace` would).
        let mut batch = Batch::new();
        batch.require_version(manifest_key(&old.id), local_version);
        for prefix in [record_prefix(&old.id), manifest::bucket_prefix(&old.id)] {
            for key in self.store().scan_all_keys(&prefix).await? {
                batch.delete(key);
            }
        }
        batch
            .delete(manifest_key(&old.id))
            .delete(base_key(&old.id))
            .delete(succession_key(&old.id));
        if self.store().get(&claim_key(&old.id)).await?.as_deref() == Some(name.as_bytes()) {
            batch.delete(claim_key(&old.id));
        }
        batch
            .require_version(header_key.clone(), local_header_version)
            .set(header_key, header_bytes.clone())
            .create(claim_key(&new.id), name.as_bytes().to_vec());
        for (key, value, _) in &entries {
            batch.create(key.clone(), value.clone());
        }
        let (manifest, buckets) = manifest::build(&new, side.manifest.revision, side.ids.clone());
        for (index, bytes) in buckets {
            batch.create(bucket_key(&new.id, index), bytes);
        }
        batch.create(manifest_key(&new.id), manifest.encode(&new));
        let base = Base {
            revision: side.manifest.revision,
            header: sha256(&header_bytes),
            ids: side.ids.clone(),
        };
        batch.set(base_key(&new.id), encode_base(&new, &base));
        self.store().batch(batch).await.map_err(|e| match e {
            kvstore::Error::Conflict { .. } => Error::Conflict,
            other => other.into(),
        })?;
        new.observe(side.manifest.revision)?;

        // What changed here since the last sync, carried over as local changes of the new
        // keyspace (the next sync pushes them).
        let theirs: BTreeMap<(u8, &str), &SecretBytes> = entries
            .iter()
            .map(|(_, _, r)| ((r.kind.byte(), r.name.as_str()), &r.payload))
            .collect();
        let mut puts: Vec<(Kind, String, SecretBytes)> = Vec::new();
        for (_, _, mine) in &local {
            if base_ids.get(&mine.rid) == Some(&mine.revision.unwrap_or(0)) {
                continue;
            }
            match theirs.get(&(mine.kind.byte(), mine.name.as_str())) {
                Some(value) if value.as_ref() == mine.payload.as_ref() => {}
                // Both changed, or it was deleted there: theirs stands, mine is history.
                Some(_) => puts.push((Kind::History, history_name()?, history_payload(mine)?)),
                None if base_ids.contains_key(&mine.rid) => {
                    puts.push((Kind::History, history_name()?, history_payload(mine)?))
                }
                None => puts.push((
                    mine.kind,
                    mine.name.clone(),
                    SecretBytes::from(mine.payload.to_vec()),
                )),
            }
        }
        if !puts.is_empty() {
            let edits: Vec<crate::records::Edit<'_>> = put_edits(&puts).collect();
            Box::pin(self.commit(&new, &edits, crate::records::OnConflict::Retry)).await?;
        }
        Ok(new)
    }

    /// Fetches keyspace `name` from `remote` into this vault (a new device), after checking
    /// that `password` opens it and that everything in it authenticates; then syncs as usual.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if the remote has no such keyspace; [`Error::AlreadyExists`] if
    /// this vault has one of that name; [`Error::WrongPassword`]; [`Error::Tampered`] or
    /// [`Error::Corrupted`] for a remote that does not check out; storage failures.
    pub async fn clone_keyspace<R: KVStore>(
        &self,
        remote: &R,
        name: &str,
        password: impl AsRef<[u8]>,
    ) -> Result<UnlockedKeyspace> {
        let header_key = format::header_key(name);
        let header_bytes = remote
            .get(&header_key)
            .await?
            .ok_or_else(|| Error::not_found(Item::Keyspace, name))?;
        let header = format::Header::decode(&header_bytes)?;
        let ks = crate::keyspace::unwrap(name, &header, password.as_ref())?.keyspace;
        let (side, entries) = Box::pin(fetch_checked(remote, &ks)).await?;
        let header_hash = sha256(&header_bytes);
        let mut batch = Batch::new();
        batch
            .create(header_key, header_bytes)
            .create(claim_key(&ks.id), name.as_bytes().to_vec());
        for (key, value, _) in entries {
            batch.create(key, value);
        }
        let (manifest, buckets) = manifest::build(&ks, side.manifest.revision, side.ids.clone());
        for (index, bytes) in buckets {
            batch.create(bucket_key(&ks.id, index), bytes);
        }
        batch.create(manifest_key(&ks.id), manifest.encode(&ks));
        let base = Base {
            revision: side.manifest.revision,
            header: header_hash,
            ids: side.ids.clone(),
        };
        batch.set(base_key(&ks.id), encode_base(&ks, &base));
        crate::vault::apply_creating(self.store(), batch, Item::Keyspace, name).await?;
        ks.observe(side.manifest.revision)?;
        Ok(ks)
    }

    /// The values kept after they lost a sync conflict, oldest revision first.
    ///
    /// # Errors
    ///
    /// As [`list_secrets`](Self::list_secrets).
    pub async fn list_history<'a>(
        &self,
        access: impl Into<Access<'a>>,
    ) -> Result<Vec<HistoryEntry>> {
        let ks = self.resolve(access.into()).await?;
        let (records, _, _) = self.read_all_checked(&ks, Some(Kind::History)).await?;
        let mut out = Vec::new();
        for (_, _, record) in records {
            let (kind, revision, name, _) = decode_history(&record.payload)?;
            out.push(HistoryEntry {
                id: record.name,
                item: kind.item(),
                name,
                revision,
            });
        }
        out.sort_by_key(|e| e.revision);
        Ok(out)
    }

    /// Puts history entry `id` back under its name (replacing the current value) and removes
    /// it from the history, in one change.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown id; as [`set_secret`](Self::set_secret).
    pub async fn restore_history<'a>(&self, access: impl Into<Access<'a>>, id: &str) -> Result<()> {
        let ks = self.resolve(access.into()).await?;
        let payload = self.read_checked(&ks, Kind::History, id).await?;
        let (kind, _, name, value) = decode_history(&payload)?;
        let edits = [
            crate::records::Edit::Delete {
                kind: Kind::History,
                name: id,
            },
            crate::records::Edit::Put {
                kind,
                name: &name,
                payload: &value,
                create: false,
            },
        ];
        self.commit(&ks, &edits, crate::records::OnConflict::Retry)
            .await?;
        Ok(())
    }
}

/// A history payload: kind ‖ revision ‖ bytes16(name) ‖ payload.
fn decode_history(payload: &[u8]) -> Result<(Kind, u64, String, SecretBytes)> {
    let mut r = Reader::new(payload, "history record");
    let kind = match Kind::from_byte(r.u8()?) {
        Some(kind @ (Kind::KeyPair | Kind::Secret)) => kind,
        _ => {
            return Err(Error::Corrupted(
                "a history record of an unknown kind".into(),
            ))
        }
    };
    let revision = u64::from_le_bytes(r.array()?);
    let name = crate::keyspace::check_stored_name(
        "history",
        r.bytes16()?,
        crate::keyspace::MAX_ITEM_NAME_LEN,
    )?;
    Ok((kind, revision, name, SecretBytes::from(r.rest().to_vec())))
}

/// The ids of `merged` without the history records just made (the remote does not hold them
/// yet: the base must say so, so the next sync pushes them).
fn remote_merged_ids(
    merged: &BTreeMap<RecordId, u64>,
    history: &[(RecordId, String, SecretBytes)],
) -> BTreeMap<RecordId, u64> {
    let mut ids = merged.clone();
    for (hid, _, _) in history {
        ids.remove(hid);
    }
    ids
}

/// Buckets of a side, from its ids (to know which stored buckets to delete).
fn local_bucket_map(ids: &BTreeMap<RecordId, u64>) -> BTreeMap<u8, Bucket> {
    let mut out: BTreeMap<u8, Bucket> = BTreeMap::new();
    for (rid, rev) in ids {
        out.entry(bucket_of(rid)).or_default().set(*rid, *rev);
    }
    out
}

/// Adds to `batch` every bucket of `new` that differs from `old`, and deletes the buckets that
/// became empty.
fn write_buckets(
    batch: &mut Batch,
    ks: &UnlockedKeyspace,
    old: Option<&BTreeMap<u8, Bucket>>,
    new: &[(u8, Vec<u8>)],
) {
    let new_map: BTreeMap<u8, &Vec<u8>> = new.iter().map(|(i, b)| (*i, b)).collect();
    for (index, bytes) in &new_map {
        let unchanged = old
            .and_then(|o| o.get(index))
            .and_then(Bucket::encode)
            .is_some_and(|b| &&b == bytes);
        if !unchanged {
            batch.set(bucket_key(&ks.id, *index), (*bytes).clone());
        }
    }
    if let Some(old) = old {
        for (index, bucket) in old {
            if !bucket.entries().is_empty() && !new_map.contains_key(index) {
                batch.delete(bucket_key(&ks.id, *index));
            }
        }
    }
}

/// The keys of a sync account, from its password ([`sync_keys`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct SyncKeys {
    /// What the client proves the account with (the server stores a slow hash of it).
    pub auth_key: SecretBytes,
    /// What blinds keyspace names on the server ([`BlindNames`](crate::BlindNames)); the
    /// server never sees it.
    pub names_key: SecretBytes,
}

/// The keys of sync account `account`: one Argon2id of the password (its NFC form) under a
/// salt made from the account name and a label of its own, with `kdf` (use
/// [`KdfParams::DEFAULT`](crate::KdfParams::DEFAULT)), split by HKDF-SHA256 into the auth key
/// and the names key. Neither is any keyspace's key (those are random, wrapped under salts of
/// their own), so a server that learns the auth key opens nothing and cannot derive the names
/// key; like any password verifier, the auth key allows guessing the password offline, at
/// Argon2id's cost.
///
/// # Errors
///
/// [`Error::InvalidInput`] for KDF parameters out of bounds or an empty password.
pub fn sync_keys(
    account: &str,
    password: impl AsRef<[u8]>,
    kdf: crate::KdfParams,
) -> Result<SyncKeys> {
    let password = password.as_ref();
    if password.is_empty() {
        return Err(Error::InvalidInput("the password must not be empty".into()));
    }
    kdf.validate()?;
    let nfc = crate::keyspace::nfc_form(password);
    let password = nfc.as_deref().map_or(password, Vec::as_slice);
    let salt = sha256(&[b"vault/v1/sync-auth\0".as_slice(), account.as_bytes()].concat());
    let master = crypto::derive_password_key(password, &salt[..16], &kdf)?;
    let split =
        |info: &[u8]| SecretBytes::from(crypto::hkdf(master.as_ref(), &salt, info).to_vec());
    Ok(SyncKeys {
        auth_key: split(b"vault/v2/sync-auth-key"),
        names_key: split(b"vault/v2/sync-names-key"),
    })
}

/// The auth key of sync account `account` ([`sync_keys`]`(…).auth_key`).
///
/// # Errors
///
/// As [`sync_keys`].
pub fn sync_auth_key(
    account: &str,
    password: impl AsRef<[u8]>,
    kdf: crate::KdfParams,
) -> Result<SecretBytes> {
    Ok(sync_keys(account, password, kdf)?.auth_key)
}
