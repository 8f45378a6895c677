//! The keyspace manifest: what detects a store that replays an older record, puts back a
//! deleted one, removes one, or rolls the whole keyspace back (`docs/FORMAT.md`, "Manifest").
//!
//! Every record of a version-2 keyspace carries, inside its authenticated data, the keyspace
//! revision it was written at. The record ids (kind ‖ name tag) and those revisions are listed
//! in 64 **buckets** (by the low six bits of the tag's first byte), and the **manifest** holds
//! the keyspace revision and a digest of every bucket, under a MAC of the keyspace. Every change
//! writes the records, the buckets it touched and the manifest in one batch conditional on the
//! manifest's store version, so changes to a keyspace are serialized and the three always agree.
//!
//! A read checks the record against its bucket and the bucket against the manifest: one
//! manifest (2 KiB) and one bucket per record read, whatever the keyspace's size, and unlock
//! reads only the manifest. A manifest older than one this keyspace value has already seen is
//! a rollback; an application anchors revisions across restarts with
//! [`UnlockedKeyspace::anchor_revision`](crate::UnlockedKeyspace::anchor_revision).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::crypto;
use crate::format::{check_version, Kind, Reader, RecordId, ID_LEN, RECORD_SUFFIX_LEN};
use crate::keyspace::UnlockedKeyspace;
use crate::{Error, Item, Result, Tampering};

/// Storage-key prefix of manifests (followed by the keyspace id).
pub(crate) const MANIFEST_PREFIX: &[u8] = b"m/";
/// Storage-key prefix of buckets (followed by the keyspace id and the bucket index).
pub(crate) const BUCKET_PREFIX: &[u8] = b"b/";
/// Buckets per keyspace.
pub(crate) const BUCKETS: usize = 64;
const MANIFEST_VERSION: u8 = 1;
const BUCKET_VERSION: u8 = 1;
const DIGEST_LEN: usize = 32;
const MAC_LEN: usize = 32;
/// Bytes of a manifest: version ‖ revision ‖ 64 digests ‖ MAC.
pub(crate) const MANIFEST_LEN: usize = 1 + 8 + BUCKETS * DIGEST_LEN + MAC_LEN;
/// Bytes of one bucket entry: record id ‖ revision.
const ENTRY_LEN: usize = RECORD_SUFFIX_LEN + 8;

/// The storage key of keyspace `id`'s manifest.
pub(crate) fn manifest_key(id: &[u8; ID_LEN]) -> Vec<u8> {
    [MANIFEST_PREFIX, id].concat()
}

/// The storage-key prefix of keyspace `id`'s buckets.
pub(crate) fn bucket_prefix(id: &[u8; ID_LEN]) -> Vec<u8> {
    [BUCKET_PREFIX, id].concat()
}

/// The storage key of bucket `index` of keyspace `id`.
pub(crate) fn bucket_key(id: &[u8; ID_LEN], index: u8) -> Vec<u8> {
    let mut key = bucket_prefix(id);
    key.push(index);
    key
}

/// The bucket of a record: the low six bits of its name tag's first byte.
pub(crate) fn bucket_of(rid: &RecordId) -> u8 {
    rid[1] & (BUCKETS as u8 - 1)
}

fn invalid(reason: &'static str) -> Tampering {
    Tampering::ManifestInvalid { reason }
}

/// A keyspace's manifest.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub revision: u64,
    pub digests: [[u8; DIGEST_LEN]; BUCKETS],
}

impl Manifest {
    /// The manifest of a keyspace with no records at `revision`.
    pub(crate) fn empty(revision: u64) -> Self {
        Manifest {
            revision,
            digests: [[0; DIGEST_LEN]; BUCKETS],
        }
    }

    fn mac(ks: &UnlockedKeyspace, body: &[u8]) -> [u8; MAC_LEN] {
        crypto::hmac(&ks.manifest_key, &[b"vault/v2/manifest", &ks.id, body])
    }

    pub(crate) fn encode(&self, ks: &UnlockedKeyspace) -> Vec<u8> {
        let mut out = Vec::with_capacity(MANIFEST_LEN);
        out.push(MANIFEST_VERSION);
        out.extend_from_slice(&self.revision.to_le_bytes());
        for digest in &self.digests {
            out.extend_from_slice(digest);
        }
        let mac = Self::mac(ks, &out);
        out.extend_from_slice(&mac);
        out
    }

    /// Decodes and authenticates keyspace `ks`'s manifest (bytes this keyspace value already
    /// authenticated are not authenticated again).
    pub(crate) fn decode(ks: &UnlockedKeyspace, bytes: &[u8]) -> Result<Self> {
        if let Some(manifest) = ks.verified(|v| v.manifest(bytes)).flatten() {
            return Ok(manifest);
        }
        let manifest = Self::authenticate(ks, bytes)?;
        ks.verified(|v| {
            v.manifest = Some((bytes.to_vec(), manifest.clone()));
            v.manifest_version = None;
        });
        Ok(manifest)
    }

    fn authenticate(ks: &UnlockedKeyspace, bytes: &[u8]) -> Result<Self> {
        let tampered = |reason| ks.tampered(invalid(reason));
        let (body, mac) = bytes
            .split_at_checked(bytes.len().saturating_sub(MAC_LEN))
            .filter(|_| bytes.len() == MANIFEST_LEN)
            .ok_or_else(|| tampered("the manifest has a wrong length"))?;
        let mut r = Reader::new(body, "manifest");
        check_version("manifest", r.u8()?, MANIFEST_VERSION)?;
        if !crypto::hmac_verify(&ks.manifest_key, &[b"vault/v2/manifest", &ks.id, body], mac) {
            return Err(tampered("the manifest does not authenticate"));
        }
        let revision = u64::from_le_bytes(r.array()?);
        let mut digests = [[0; DIGEST_LEN]; BUCKETS];
        for digest in &mut digests {
            *digest = r.array()?;
        }
        r.finish()?;
        Ok(Manifest { revision, digests })
    }
}

/// One bucket: the ids and revisions of the records whose tag falls in it, ascending by id.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Bucket {
    entries: Vec<(RecordId, u64)>,
}

impl Bucket {
    /// The digest the manifest holds for bucket `index` stored as `bytes` (`None`: absent,
    /// which is how an empty bucket is stored).
    pub(crate) fn digest(id: &[u8; ID_LEN], index: u8, bytes: Option<&[u8]>) -> [u8; DIGEST_LEN] {
        match bytes {
            None => [0; DIGEST_LEN],
            Some(bytes) => Sha256::new()
                .chain_update(b"vault/v2/bucket")
                .chain_update(id)
                .chain_update([index])
                .chain_update(bytes)
                .finalize()
                .into(),
        }
    }

    /// Decodes bucket `index` of keyspace `ks` after checking it against `manifest` (bytes this
    /// keyspace value already checked against the same digest are not hashed again).
    pub(crate) fn load(
        ks: &UnlockedKeyspace,
        manifest: &Manifest,
        index: u8,
        bytes: Option<&[u8]>,
    ) -> Result<Bucket> {
        let digest = manifest.digests[usize::from(index)];
        if let Some(bytes) = bytes {
            if let Some(bucket) = ks.verified(|v| v.bucket(index, &digest, bytes)).flatten() {
                return Ok(bucket);
            }
        }
        let bucket = Self::check(ks, manifest, index, bytes)?;
        if let Some(bytes) = bytes {
            ks.verified(|v| v.remember_bucket(index, digest, bytes.to_vec(), bucket.clone()));
        }
        Ok(bucket)
    }

    /// The revision bucket `index` of `manifest` lists for record `rid`, if this keyspace value
    /// knows that bucket without reading it (see [`Verified::knows_bucket`]).
    pub(crate) fn known_revision(
        ks: &UnlockedKeyspace,
        manifest: &Manifest,
        index: u8,
        rid: &RecordId,
    ) -> Option<Option<u64>> {
        let digest = &manifest.digests[usize::from(index)];
        ks.verified(|v| v.known_revision(index, digest, rid))
            .flatten()
    }

    fn check(
        ks: &UnlockedKeyspace,
        manifest: &Manifest,
        index: u8,
        bytes: Option<&[u8]>,
    ) -> Result<Bucket> {
        if Self::digest(&ks.id, index, bytes) != manifest.digests[usize::from(index)] {
            return Err(ks.tampered(invalid("a bucket does not match the manifest")));
        }
        let Some(bytes) = bytes else {
            return Ok(Bucket::default());
        };
        // Authenticated through the manifest: anything malformed here was written so.
        let mut r = Reader::new(bytes, "manifest bucket");
        check_version("manifest bucket", r.u8()?, BUCKET_VERSION)?;
        let rest = r.rest();
        if rest.is_empty() || !rest.len().is_multiple_of(ENTRY_LEN) {
            return Err(Error::Corrupted(
                "a manifest bucket has a wrong length".into(),
            ));
        }
        let mut entries = Vec::with_capacity(rest.len() / ENTRY_LEN);
        for chunk in rest.chunks_exact(ENTRY_LEN) {
            let (rid, revision) = chunk.split_at(RECORD_SUFFIX_LEN);
            let rid: RecordId = rid
                .try_into()
                .map_err(|_| Error::Corrupted("a manifest bucket entry is truncated".into()))?;
            let revision =
                u64::from_le_bytes(revision.try_into().map_err(|_| {
                    Error::Corrupted("a manifest bucket entry is truncated".into())
                })?);
            if bucket_of(&rid) != index
                || entries.last().is_some_and(|(last, _)| *last >= rid)
                || revision > manifest.revision
            {
                return Err(Error::Corrupted(
                    "a manifest bucket is out of order or misplaced".into(),
                ));
            }
            entries.push((rid, revision));
        }
        Ok(Bucket { entries })
    }

    /// The stored form (`None` when empty: the bucket is deleted).
    pub(crate) fn encode(&self) -> Option<Vec<u8>> {
        if self.entries.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(1 + self.entries.len() * ENTRY_LEN);
        out.push(BUCKET_VERSION);
        for (rid, revision) in &self.entries {
            out.extend_from_slice(rid);
            out.extend_from_slice(&revision.to_le_bytes());
        }
        Some(out)
    }

    /// The revision record `rid` was last written at, if it exists.
    pub(crate) fn get(&self, rid: &RecordId) -> Option<u64> {
        self.entries
            .binary_search_by(|(r, _)| r.cmp(rid))
            .ok()
            .map(|i| self.entries[i].1)
    }

    pub(crate) fn set(&mut self, rid: RecordId, revision: u64) {
        match self.entries.binary_search_by(|(r, _)| r.cmp(&rid)) {
            Ok(i) => self.entries[i].1 = revision,
            Err(i) => self.entries.insert(i, (rid, revision)),
        }
    }

    /// Removes `rid`; whether it was there.
    pub(crate) fn remove(&mut self, rid: &RecordId) -> bool {
        match self.entries.binary_search_by(|(r, _)| r.cmp(rid)) {
            Ok(i) => {
                self.entries.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    pub(crate) fn entries(&self) -> &[(RecordId, u64)] {
        &self.entries
    }
}

/// Buckets and manifest built from scratch (an upgrade, a rekey, an import): the records' ids
/// and revisions at keyspace revision `revision`. Returns the manifest and every non-empty
/// bucket's (index, stored bytes).
pub(crate) fn build(
    ks: &UnlockedKeyspace,
    revision: u64,
    records: impl IntoIterator<Item = (RecordId, u64)>,
) -> (Manifest, Vec<(u8, Vec<u8>)>) {
    let mut buckets: BTreeMap<u8, Bucket> = BTreeMap::new();
    for (rid, rev) in records {
        buckets.entry(bucket_of(&rid)).or_default().set(rid, rev);
    }
    let mut manifest = Manifest::empty(revision);
    let mut stored = Vec::new();
    for (index, bucket) in buckets {
        if let Some(bytes) = bucket.encode() {
            manifest.digests[usize::from(index)] = Bucket::digest(&ks.id, index, Some(&bytes));
            stored.push((index, bytes));
        }
    }
    (manifest, stored)
}

/// The item a record id names.
pub(crate) fn item_of(rid: &RecordId) -> Item {
    Kind::from_byte(rid[0]).map_or(Item::Secret, Kind::item)
}

/// What a keyspace value has already authenticated: the last manifest and each bucket's last
/// stored form with the digest it matched. Only manifest bytes equal to these skip the MAC; a
/// bucket whose digest an authenticated manifest lists is known without reading it (the digest
/// binds its contents). All of it is public (stored in the clear), so keeping it costs no
/// secrecy.
#[derive(Default)]
pub(crate) struct Verified {
    manifest: Option<(Vec<u8>, Manifest)>,
    /// The store version of the manifest above, when known (from a versioned read of those
    /// bytes, or from this value's own commit of them).
    manifest_version: Option<u64>,
    buckets: BTreeMap<u8, (Vec<u8>, [u8; DIGEST_LEN], Bucket)>,
}

impl Verified {
    fn manifest(&self, bytes: &[u8]) -> Option<Manifest> {
        let (known, manifest) = self.manifest.as_ref()?;
        (known.as_slice() == bytes).then(|| manifest.clone())
    }

    /// Bucket `index` as this value checked it against `digest`, with its stored form.
    fn known(&self, index: u8, digest: &[u8; DIGEST_LEN]) -> Option<(&[u8], &Bucket)> {
        let (bytes, known_digest, bucket) = self.buckets.get(&index)?;
        (known_digest == digest).then_some((bytes.as_slice(), bucket))
    }

    /// Bucket `index`, known with `digest`, if it is stored as `bytes`.
    fn bucket(&self, index: u8, digest: &[u8; DIGEST_LEN], bytes: &[u8]) -> Option<Bucket> {
        self.known(index, digest)
            .filter(|(known, _)| *known == bytes)
            .map(|(_, bucket)| bucket.clone())
    }

    /// `Some(revision of rid)` if bucket `index` is known with `digest` (the digest an
    /// authenticated manifest lists for it): the bucket this value checked against that digest
    /// earlier, or the empty bucket for the empty digest. The stored bytes are not needed.
    fn known_revision(
        &self,
        index: u8,
        digest: &[u8; DIGEST_LEN],
        rid: &RecordId,
    ) -> Option<Option<u64>> {
        if *digest == [0; DIGEST_LEN] {
            return Some(None);
        }
        self.known(index, digest).map(|(_, bucket)| bucket.get(rid))
    }

    /// Whether bucket `index` of the last authenticated manifest is known, so that a read
    /// whose manifest still lists it needs only the manifest and the record.
    pub(crate) fn knows_bucket(&self, index: u8) -> bool {
        self.manifest.as_ref().is_some_and(|(_, manifest)| {
            let digest = &manifest.digests[usize::from(index)];
            *digest == [0; DIGEST_LEN] || self.known(index, digest).is_some()
        })
    }

    /// For a manifest stored as `bytes`, if they are the bytes this value authenticated last
    /// and it knows bucket `index` of that manifest: the manifest's revision and the revision
    /// the bucket lists for `rid`, without copying the manifest.
    pub(crate) fn known_read(
        &self,
        bytes: &[u8],
        index: u8,
        rid: &RecordId,
    ) -> Option<(u64, Option<u64>)> {
        let (known, manifest) = self.manifest.as_ref()?;
        if known.as_slice() != bytes {
            return None;
        }
        let digest = &manifest.digests[usize::from(index)];
        Some((manifest.revision, self.known_revision(index, digest, rid)?))
    }

    fn remember_bucket(&mut self, index: u8, digest: [u8; DIGEST_LEN], bytes: Vec<u8>, b: Bucket) {
        self.buckets.insert(index, (bytes, digest, b));
    }

    /// Notes that the manifest stored as `bytes` is at store version `version` (if these are
    /// the bytes already authenticated).
    pub(crate) fn manifest_read_at(&mut self, bytes: &[u8], version: u64) {
        if self
            .manifest
            .as_ref()
            .is_some_and(|(known, _)| known.as_slice() == bytes)
        {
            self.manifest_version = Some(version);
        }
    }

    /// The state a commit touching buckets `touched` can start from without reading the store:
    /// the manifest, its store version and those buckets, if all are known (a bucket the
    /// manifest lists as empty needs nothing). The commit is conditional on that version, so a
    /// stale state only costs a retry.
    pub(crate) fn commit_base(
        &self,
        touched: &std::collections::BTreeSet<u8>,
    ) -> Option<(Manifest, u64, BTreeMap<u8, Bucket>)> {
        let (_, manifest) = self.manifest.as_ref()?;
        let version = self.manifest_version?;
        let mut buckets = BTreeMap::new();
        for &index in touched {
            let digest = &manifest.digests[usize::from(index)];
            let bucket = if *digest == [0; DIGEST_LEN] {
                Bucket::default()
            } else {
                self.known(index, digest)?.1.clone()
            };
            buckets.insert(index, bucket);
        }
        Some((manifest.clone(), version, buckets))
    }

    /// Records what a commit wrote: its manifest (at store `version`, if the store told) and
    /// buckets are known without a check.
    pub(crate) fn committed(
        &mut self,
        manifest_bytes: &[u8],
        manifest: &Manifest,
        version: Option<u64>,
        buckets: &BTreeMap<u8, Bucket>,
        written: &[(Vec<u8>, Option<Vec<u8>>)],
    ) {
        self.manifest = Some((manifest_bytes.to_vec(), manifest.clone()));
        self.manifest_version = version;
        for ((&index, bucket), (_, bytes)) in buckets.iter().zip(written) {
            match bytes {
                Some(bytes) => {
                    let digest = manifest.digests[usize::from(index)];
                    self.buckets
                        .insert(index, (bytes.clone(), digest, bucket.clone()));
                }
                None => {
                    self.buckets.remove(&index);
                }
            }
        }
    }
}
