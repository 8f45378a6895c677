//! Reading and writing records under the keyspace manifest ([`crate::manifest`]): every read
//! is checked against the manifest, every change is one batch with the manifest's new
//! revision, conditional on the manifest read.

use std::collections::{BTreeMap, BTreeSet};

use kvstore::{BatchSink, Expect, KVStore};

use crate::format::{
    check_record, open_record, record_id, record_key_of, record_prefix, seal_record_with_nonce,
    CheckedRecord, Kind, OpenedRecord, RecordId, HEADER_PREFIX,
};
use crate::keyspace::{check_lookup_name, UnlockedKeyspace, MAX_ITEM_NAME_LEN};
use crate::manifest::{
    bucket_key, bucket_of, bucket_prefix, item_of, manifest_key, Bucket, Manifest, BUCKETS,
};
use crate::{crypto, Error, Item, Result, SecretBytes, Tampering, Vault};

/// Reads that find the store inconsistent re-read this many times when the manifest moved
/// meanwhile (another writer committed between two reads); writes that lose a race retry this
/// many times.
const ATTEMPTS: usize = 8;

/// One change of a commit.
pub(crate) enum Edit<'a> {
    /// Write record `name` with `payload`; with `create`, fail with `AlreadyExists` if the
    /// manifest lists it.
    Put {
        kind: Kind,
        name: &'a str,
        payload: &'a [u8],
        create: bool,
    },
    /// Delete record `name`; `NotFound` if the manifest does not list it.
    Delete { kind: Kind, name: &'a str },
}

/// Whether a commit that lost a race starts again from the new state.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnConflict {
    /// Start again (a blind write such as `set_secret`, a create, a delete).
    Retry,
    /// Report [`Error::Conflict`] (a read-modify-write such as a rename).
    Fail,
}

fn is_tampered(result: &Result<impl Sized>) -> bool {
    matches!(result, Err(Error::Tampered { .. }))
}

/// Checks record `rid` (`name`, of `kind`) read as `value` against the revision its bucket
/// lists (`expected`; `None`: not listed).
fn check_named(
    ks: &UnlockedKeyspace,
    manifest_revision: u64,
    expected: Option<u64>,
    rid: &RecordId,
    kind: Kind,
    name: &str,
    value: Option<&[u8]>,
) -> Result<SecretBytes> {
    let item = kind.item();
    let Some(value) = value else {
        return match expected {
            None => Err(Error::not_found(item, name)),
            Some(_) => Err(ks.tampered(Tampering::Missing {
                item,
                name: Some(name.to_owned()),
            })),
        };
    };
    let key = record_key_of(&ks.id, rid);
    let OpenedRecord {
        name: stored_name,
        payload,
        revision,
    } = open_record(ks, &key, value)?;
    if stored_name != name {
        return Err(Error::Corrupted(
            "a record holds another name than its key".into(),
        ));
    }
    check_revision(ks, manifest_revision, expected, revision, item, name)?;
    Ok(payload)
}

/// Compares a record's authenticated revision with the one its bucket lists (in the manifest
/// at `manifest_revision`).
fn check_revision(
    ks: &UnlockedKeyspace,
    manifest_revision: u64,
    expected: Option<u64>,
    found: Option<u64>,
    item: Item,
    name: &str,
) -> Result<()> {
    let name = name.to_owned();
    match (expected, found) {
        (None, _) => Err(ks.tampered(Tampering::Resurrected { item, name })),
        (Some(expected), Some(found)) if found == expected => Ok(()),
        (Some(expected), Some(found)) if found > expected => {
            Err(ks.tampered(Tampering::RolledBack {
                seen: found,
                found: manifest_revision,
            }))
        }
        (Some(_), _) => Err(ks.tampered(Tampering::Replayed { item, name })),
    }
}

impl<S: KVStore> Vault<S> {
    /// Keyspace `ks`'s manifest, authenticated and checked against the revision seen, with its
    /// store version.
    pub(crate) async fn load_manifest(&self, ks: &UnlockedKeyspace) -> Result<(Manifest, u64)> {
        let stored = self.store().get_versioned(&manifest_key(&ks.id)).await?;
        self.manifest_from(ks, stored).await
    }

    /// [`load_manifest`](Self::load_manifest) from the manifest as read.
    async fn manifest_from(
        &self,
        ks: &UnlockedKeyspace,
        stored: Option<(Vec<u8>, u64)>,
    ) -> Result<(Manifest, u64)> {
        let Some((bytes, version)) = stored else {
            return Err(self.missing_manifest(ks).await?);
        };
        let manifest = self.manifest_of(ks, Some(&bytes)).await?;
        ks.verified(|v| v.manifest_read_at(&bytes, version));
        Ok((manifest, version))
    }

    /// The manifest stored as `bytes`, authenticated and checked against the revision seen.
    async fn manifest_of(&self, ks: &UnlockedKeyspace, bytes: Option<&[u8]>) -> Result<Manifest> {
        let Some(bytes) = bytes else {
            return Err(self.missing_manifest(ks).await?);
        };
        let manifest = Manifest::decode(ks, bytes)?;
        ks.observe(manifest.revision)?;
        Ok(manifest)
    }

    /// The error for a keyspace whose manifest is missing: `NotFound` when the keyspace was
    /// deleted or re-keyed (its header is gone or carries another id), tampering otherwise.
    async fn missing_manifest(&self, ks: &UnlockedKeyspace) -> Result<Error> {
        let header = self
            .store()
            .get(&[HEADER_PREFIX, ks.name().as_bytes()].concat())
            .await?;
        let same_keyspace = header
            .as_deref()
            .and_then(crate::format::Header::id_of)
            .is_some_and(|id| id == ks.id);
        Ok(if same_keyspace {
            ks.tampered(Tampering::ManifestInvalid {
                reason: "the keyspace's manifest is missing",
            })
        } else {
            Error::NotFound {
                item: Item::Keyspace,
                name: ks.name().to_owned(),
            }
        })
    }

    /// Whether the manifest moved since it was read at `version`.
    async fn manifest_moved(&self, ks: &UnlockedKeyspace, version: u64) -> Result<bool> {
        Ok(self
            .store()
            .get_versioned(&manifest_key(&ks.id))
            .await?
            .map(|(_, v)| v)
            != Some(version))
    }

    /// The current revision of keyspace `ks`.
    pub(crate) async fn revision_of(&self, ks: &UnlockedKeyspace) -> Result<u64> {
        Ok(self.load_manifest(ks).await?.0.revision)
    }

    /// Record `name`'s payload, checked against the manifest.
    pub(crate) async fn read_checked(
        &self,
        ks: &UnlockedKeyspace,
        kind: Kind,
        name: &str,
    ) -> Result<SecretBytes> {
        check_lookup_name(kind.label(), name, MAX_ITEM_NAME_LEN)?;
        let rid = record_id(ks, kind, name);
        let index = bucket_of(&rid);
        let key = record_key_of(&ks.id, &rid);
        let mkey = manifest_key(&ks.id);
        let bkey = bucket_key(&ks.id, index);
        let mut attempt = 0;
        let mut with_bucket = false;
        loop {
            // One snapshot (one transaction, one round trip in a browser) for all of them,
            // without versions: the manifest's bytes tell whether it moved (every commit raises
            // its revision). The record's bucket is read only when this keyspace value does not
            // know the one the manifest lists (its digest binds it; most reads after the first).
            with_bucket |= !ks.verified(|v| v.knows_bucket(index)).unwrap_or(false);
            let keys: &[&[u8]] = if with_bucket {
                &[&mkey, &key, &bkey]
            } else {
                &[&mkey, &key]
            };
            let mut got = self.store().get_many(keys).await?.into_iter();
            let (stored_manifest, value, bucket) = (
                got.next().flatten(),
                got.next().flatten(),
                got.next().flatten(),
            );
            // Most reads meet the manifest this value authenticated last, and a bucket it
            // knows: nothing to decode or copy then.
            let known = match (with_bucket, stored_manifest.as_deref()) {
                (false, Some(bytes)) => ks.verified(|v| v.known_read(bytes, index, &rid)).flatten(),
                _ => None,
            };
            let (revision, expected) = if let Some((revision, expected)) = known {
                ks.observe(revision)?;
                (revision, Ok(expected))
            } else {
                let manifest = self.manifest_of(ks, stored_manifest.as_deref()).await?;
                let expected = match Bucket::known_revision(ks, &manifest, index, &rid) {
                    Some(known) => Ok(known),
                    None if with_bucket => Bucket::load(ks, &manifest, index, bucket.as_deref())
                        .map(|bucket| bucket.get(&rid)),
                    None => {
                        // The manifest moved to a bucket this value has not seen: read it too.
                        with_bucket = true;
                        continue;
                    }
                };
                (manifest.revision, expected)
            };
            let result = expected.and_then(|expected| {
                check_named(ks, revision, expected, &rid, kind, name, value.as_deref())
            });
            attempt += 1;
            if is_tampered(&result)
                && attempt < ATTEMPTS
                && self.store().get(&mkey).await? != stored_manifest
            {
                continue;
            }
            return result;
        }
    }

    /// Every record (of `kind`, or all), each fully checked ([`check_record`]) and checked
    /// against the manifest: none replayed, none put back, none missing. Returns them in
    /// storage-key order with their storage keys and stored values, and the manifest with its
    /// store version.
    pub(crate) async fn read_all_checked(
        &self,
        ks: &UnlockedKeyspace,
        kind: Option<Kind>,
    ) -> Result<(Vec<(Vec<u8>, Vec<u8>, CheckedRecord)>, Manifest, u64)> {
        let mut prefix = record_prefix(&ks.id);
        if let Some(kind) = kind {
            prefix.push(kind.byte());
        }
        let mut attempt = 0;
        loop {
            let (manifest, version) = self.load_manifest(ks).await?;
            let result = async {
                let buckets = load_buckets(self.store(), ks, &manifest).await?;
                let mut expected: BTreeMap<RecordId, u64> = buckets
                    .iter()
                    .flat_map(Bucket::entries)
                    .filter(|(rid, _)| kind.is_none_or(|k| rid[0] == k.byte()))
                    .copied()
                    .collect();
                let mut out = Vec::new();
                for (key, value) in self.store().scan_all(&prefix).await? {
                    let record = check_record(ks, &key, &value)?;
                    check_revision(
                        ks,
                        manifest.revision,
                        expected.remove(&record.rid),
                        record.revision,
                        record.kind.item(),
                        &record.name,
                    )?;
                    out.push((key, value, record));
                }
                if let Some(rid) = expected.keys().next() {
                    return Err(ks.tampered(Tampering::Missing {
                        item: item_of(rid),
                        name: None,
                    }));
                }
                Ok(out)
            }
            .await;
            attempt += 1;
            if is_tampered(&result)
                && attempt < ATTEMPTS
                && self.manifest_moved(ks, version).await?
            {
                continue;
            }
            return Ok((result?, manifest, version));
        }
    }

    /// Applies `edits` as one new revision of keyspace `ks`: the records, the buckets they
    /// touch and the manifest in one batch, conditional on the manifest read. Returns the new
    /// revision.
    pub(crate) async fn commit(
        &self,
        ks: &UnlockedKeyspace,
        edits: &[Edit<'_>],
        on_conflict: OnConflict,
    ) -> Result<u64> {
        let rids: Vec<RecordId> = edits
            .iter()
            .map(|edit| {
                let (Edit::Put { kind, name, .. } | Edit::Delete { kind, name }) = edit;
                record_id(ks, *kind, name)
            })
            .collect();
        let touched: BTreeSet<u8> = rids.iter().map(bucket_of).collect();
        let puts = edits
            .iter()
            .filter(|e| matches!(e, Edit::Put { .. }))
            .count();
        let mut attempt = 0;
        // First from what this keyspace value already knows (its last commit or read), without
        // reading the store: the batch is conditional on that manifest version, so a stale
        // base fails with a conflict, and every failure of that attempt (a conflict, an edit
        // meeting a record the stale base lists or misses) starts again from the store.
        loop {
            attempt += 1;
            let cached = if attempt == 1 {
                ks.verified(|v| v.commit_base(&touched)).flatten()
            } else {
                None
            };
            let fast = cached.is_some();
            let (mut manifest, version, mut buckets) = match cached {
                Some(base) => base,
                None => {
                    let (manifest, version, loaded) = self.load_touched(ks, &touched).await?;
                    match loaded {
                        Err(Error::Tampered { .. })
                            if attempt < ATTEMPTS && self.manifest_moved(ks, version).await? =>
                        {
                            continue
                        }
                        other => (manifest, version, other?),
                    }
                }
            };
            let revision = manifest
                .revision
                .checked_add(1)
                .ok_or_else(|| Error::Corrupted("the keyspace revision overflowed".into()))?;
            let mut invalid = None;
            for (edit, rid) in edits.iter().zip(&rids) {
                let bucket = buckets.entry(bucket_of(rid)).or_default();
                match *edit {
                    Edit::Put {
                        kind, name, create, ..
                    } => {
                        if create && bucket.get(rid).is_some() {
                            invalid = Some(Error::AlreadyExists {
                                item: kind.item(),
                                name: name.to_owned(),
                            });
                            break;
                        }
                        bucket.set(*rid, revision);
                    }
                    Edit::Delete { kind, name } => {
                        if !bucket.remove(rid) {
                            invalid = Some(Error::not_found(kind.item(), name));
                            break;
                        }
                    }
                }
            }
            match invalid {
                Some(_) if fast => continue,
                Some(err) => return Err(err),
                None => {}
            }
            let mut bucket_writes = Vec::with_capacity(buckets.len());
            for (&index, bucket) in &buckets {
                let bytes = bucket.encode();
                manifest.digests[usize::from(index)] =
                    Bucket::digest(&ks.id, index, bytes.as_deref());
                bucket_writes.push((bucket_key(&ks.id, index), bytes));
            }
            manifest.revision = revision;
            let manifest_bytes = manifest.encode(ks);
            let mkey = manifest_key(&ks.id);
            // One call to the random source for every nonce (a call costs about a microsecond
            // in a browser).
            let mut nonces = crypto::random_nonces(puts)?.into_iter();
            // Each record sealed as the store takes it: on sled and redb the commit applies
            // the records already sealed while the next ones are (`batch_with_versioned`).
            let mut failed: Option<Error> = None;
            let mut fill = |sink: &mut dyn BatchSink| {
                sink.require(&mkey, Expect::Version(version))?;
                for (edit, rid) in edits.iter().zip(&rids) {
                    let key = record_key_of(&ks.id, rid);
                    match *edit {
                        Edit::Put { name, payload, .. } => {
                            let sealed = nonces
                                .next()
                                .ok_or_else(|| Error::Corrupted("a nonce is missing".into()))
                                .and_then(|nonce| {
                                    seal_record_with_nonce(
                                        ks, &key, name, payload, revision, &nonce,
                                    )
                                });
                            match sealed {
                                Ok(sealed) => sink.set(&key, &sealed)?,
                                Err(err) => {
                                    failed = Some(err);
                                    return Err(kvstore::Error::Aborted(
                                        "sealing a record failed".into(),
                                    ));
                                }
                            }
                        }
                        Edit::Delete { .. } => sink.delete(&key)?,
                    }
                }
                for (key, bytes) in &bucket_writes {
                    match bytes {
                        Some(bytes) => sink.set(key, bytes)?,
                        None => sink.delete(key)?,
                    }
                }
                // The manifest last: the version the store reports for the commit is its version.
                sink.set(&mkey, &manifest_bytes)
            };
            let result = self.store().batch_with_versioned(&mut fill).await;
            if let (Err(kvstore::Error::Aborted(_)), Some(err)) = (&result, failed) {
                return Err(err);
            }
            match result {
                Ok(committed) => {
                    ks.verified(|v| {
                        v.committed(
                            &manifest_bytes,
                            &manifest,
                            committed,
                            &buckets,
                            &bucket_writes,
                        )
                    });
                    ks.observe(revision)?;
                    return Ok(revision);
                }
                // A base from the cache that lost the race: start again from the store, but a
                // read-modify-write reports it (the base was the manifest its read saw: a read
                // that met other bytes would have replaced the cached manifest and its version).
                Err(kvstore::Error::Conflict { .. })
                    if on_conflict == OnConflict::Retry && (fast || attempt < ATTEMPTS) => {}
                Err(kvstore::Error::Conflict { .. }) => return Err(Error::Conflict),
                Err(other) => return Err(other.into()),
            }
        }
    }

    /// The manifest (with its store version) and the buckets in `touched`, checked against
    /// it: read with the manifest in one snapshot, or with one scan when a commit touches
    /// many. A bucket that does not match is returned as the inner error (the caller re-reads
    /// if the manifest moved).
    async fn load_touched(
        &self,
        ks: &UnlockedKeyspace,
        touched: &BTreeSet<u8>,
    ) -> Result<(Manifest, u64, Result<BTreeMap<u8, Bucket>>)> {
        if touched.len() > 8 {
            let (manifest, version) = self.load_manifest(ks).await?;
            let buckets = load_buckets(self.store(), ks, &manifest).await.map(|all| {
                all.into_iter()
                    .enumerate()
                    .filter_map(|(i, b)| {
                        let i = u8::try_from(i).ok()?;
                        touched.contains(&i).then_some((i, b))
                    })
                    .collect()
            });
            return Ok((manifest, version, buckets));
        }
        let mut keys = vec![manifest_key(&ks.id)];
        keys.extend(touched.iter().map(|&index| bucket_key(&ks.id, index)));
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let mut got = self.store().get_many_versioned(&refs).await?.into_iter();
        let (manifest, version) = self.manifest_from(ks, got.next().flatten()).await?;
        let buckets = touched
            .iter()
            .zip(got)
            .map(|(&index, stored)| {
                let bytes = stored.map(|(v, _)| v);
                Ok((index, Bucket::load(ks, &manifest, index, bytes.as_deref())?))
            })
            .collect();
        Ok((manifest, version, buckets))
    }
}

/// All of keyspace `ks`'s buckets in `store` (this vault's, or a sync remote), each checked
/// against `manifest`.
pub(crate) async fn load_buckets<K: KVStore>(
    store: &K,
    ks: &UnlockedKeyspace,
    manifest: &Manifest,
) -> Result<Vec<Bucket>> {
    let prefix = bucket_prefix(&ks.id);
    let mut stored: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
    for (key, value) in store.scan_all(&prefix).await? {
        if let [index] = key[prefix.len()..] {
            stored.insert(index, value);
        }
    }
    (0..BUCKETS as u8)
        .map(|index| Bucket::load(ks, manifest, index, stored.get(&index).map(Vec::as_slice)))
        .collect()
}
