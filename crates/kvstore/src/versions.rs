//! Versions, preconditions and the change feed: the rules every backend applies, written once.
//!
//! Each namespace keeps its data, three indexes and one state record:
//!
//! - **data**: caller's key → the key's version (8 bytes, big-endian) followed by its value
//!   ([`encode_value`]): a live key is one entry, its version read with its value;
//! - **meta**: caller's key → its version (8 bytes, big-endian) and a liveness byte, for
//!   deleted keys only (tombstones, liveness byte 0);
//! - **log**: version (8 bytes, big-endian) → caller's key, exactly one entry per live key and
//!   per tombstone, so a range over the log from `since` is the change feed (sled stores these
//!   entries in chunks of 32 versions, `backend::sled`; the writes here are the same);
//! - **tombs**: version → caller's key, only for tombstones, so the oldest can be pruned
//!   without walking live entries;
//! - **state**: the last version assigned and the horizon (the highest version of a pruned
//!   tombstone), 16 bytes, in the log part under [`STATE_KEY`].
//!
//! A backend reads, inside its write transaction, the state, the version of every key a batch
//! checks, creates, deletes or writes more than once (from its data entry, or its tombstone)
//! and a few prune candidates; [`plan`] turns that into the writes to apply (and the typed
//! error when a precondition or a create fails); the backend applies them in the same
//! transaction. A key the batch only sets, once, is not read first: its new data entry is
//! written and the entry it replaced tells which feed entry (and tombstone) to remove
//! ([`Current::Unread`], [`apply_plan`]); on sled and redb, whose failed commits write
//! nothing, neither is a key set once and checked once: its precondition is checked against
//! the entry replaced ([`Current::Deferred`]). Reads of values go through [`value_of`]
//! and [`versioned_of`], reads of the feed through [`check_since`]. A batch sent while it is made
//! (sled and redb, `KVStore::batch_with_versioned`) is applied one operation at a time by
//! [`Streamed`], with the same rules.
//!
//! **Earlier layouts.** The first versioned layout (kvstore before 2026-11-28) kept
//! a meta entry for every key, live or not, the values bare, and the state under
//! [`V1_STATE_KEY`]; [`upgrade_from_v1`] moves a namespace from it in one transaction. Stores
//! written before versions hold bare values and no state; [`upgrade_from_unversioned`] gives them
//! versions.

use std::collections::HashMap;

use crate::{BatchOp, Error, Expect, Result};

/// How many tombstones a commit prunes at most (the rest go with later commits).
pub(crate) const PRUNE_PER_COMMIT: usize = 256;

/// Tombstones kept by default: those of the last million versions.
pub const DEFAULT_TOMBSTONE_RETENTION: u64 = 1_000_000;

/// A key's version and liveness, as [`plan`] sees it; encoded, a tombstone's meta entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) version: u64,
    pub(crate) live: bool,
}

impl Meta {
    pub(crate) fn encode(self) -> [u8; 9] {
        let mut out = [0u8; 9];
        out[..8].copy_from_slice(&self.version.to_be_bytes());
        out[8] = u8::from(self.live);
        out
    }
}

/// Decodes a meta entry.
pub(crate) fn decode_meta(bytes: &[u8]) -> Result<Meta> {
    match bytes {
        [v @ .., live @ (0 | 1)] if v.len() == 8 => Ok(Meta {
            version: u64::from_be_bytes(v.try_into().expect("8 bytes")),
            live: *live == 1,
        }),
        _ => Err(Error::Corrupted(format!(
            "version index entry of {} bytes",
            bytes.len()
        ))),
    }
}

/// A data entry: the key's version, big-endian, then its value.
pub(crate) fn encode_value(version: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    encode_value_into(&mut out, version, value);
    out
}

/// [`encode_value`] into `out`, replacing what it held (a buffer reused across entries).
pub(crate) fn encode_value_into(out: &mut Vec<u8>, version: u64, value: &[u8]) {
    out.clear();
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(value);
}

/// Splits a data entry into its version and its value.
pub(crate) fn split_value(entry: &[u8]) -> Result<(u64, &[u8])> {
    match entry.split_first_chunk::<8>() {
        Some((version, value)) => Ok((u64::from_be_bytes(*version), value)),
        None => Err(Error::Corrupted(format!(
            "data entry of {} bytes, shorter than its version",
            entry.len()
        ))),
    }
}

/// The value of a data entry.
pub(crate) fn value_of(entry: &[u8]) -> Result<Vec<u8>> {
    split_value(entry).map(|(_, value)| value.to_vec())
}

/// The value and version of a data entry.
pub(crate) fn versioned_of(entry: &[u8]) -> Result<(Vec<u8>, u64)> {
    split_value(entry).map(|(version, value)| (value.to_vec(), version))
}

/// A log or tombs key: the version, big-endian, so the order of keys is the order of versions.
pub(crate) fn version_key(version: u64) -> [u8; 8] {
    version.to_be_bytes()
}

/// Decodes a log or tombs key.
pub(crate) fn decode_version_key(bytes: &[u8]) -> Result<u64> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| Error::Corrupted(format!("change log key of {} bytes", bytes.len())))
}

/// The state record of a namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct State {
    /// The last version assigned (0: none yet).
    pub(crate) last: u64,
    /// Changes after this version are complete; older tombstones may have been pruned.
    pub(crate) horizon: u64,
}

impl State {
    pub(crate) fn encode(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.last.to_be_bytes());
        out[8..].copy_from_slice(&self.horizon.to_be_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<State> {
        if bytes.len() != 16 {
            return Err(Error::Corrupted(format!(
                "version state of {} bytes",
                bytes.len()
            )));
        }
        let (last, horizon) = bytes.split_at(8);
        Ok(State {
            last: u64::from_be_bytes(last.try_into().expect("8 bytes")),
            horizon: u64::from_be_bytes(horizon.try_into().expect("8 bytes")),
        })
    }

    /// Tombstones at or below this version may be pruned now.
    pub(crate) fn prune_cutoff(self, retention: u64) -> u64 {
        self.last.saturating_sub(retention)
    }
}

/// Which of a namespace's parts a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Data,
    Meta,
    Log,
    Tombs,
}

/// One write of a planned commit, applied in order.
#[derive(Debug)]
pub(crate) enum Write {
    Put(Part, Vec<u8>, Vec<u8>),
    Delete(Part, Vec<u8>),
}

/// What a batch does to a namespace: the writes in order, the values written without reading
/// their keys first, and the new state.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) writes: Vec<Write>,
    /// Data entries of keys not read before planning ([`Current::Unread`],
    /// [`Current::Deferred`]), with their feed entries: written after `writes` by
    /// [`apply_plan`], which then checks a deferred precondition against the entry replaced
    /// and removes the feed entry (and tombstone) it left.
    pub(crate) blind: Vec<Blind>,
    pub(crate) state: State,
}

/// A data entry written without reading its key first.
#[derive(Debug)]
pub(crate) struct Blind {
    /// The index in the batch of the operation setting it (its key and value are that
    /// operation's: [`Blind::written`]).
    pub(crate) at: usize,
    /// The version it gets.
    pub(crate) version: u64,
    /// The key's precondition, checked against the entry the write replaces, and the index of
    /// its `Require` in the batch (the first failure in the batch's order is reported).
    pub(crate) expect: Option<(Expect, usize)>,
}

impl Blind {
    /// The key and value the entry writes, from the batch's operations.
    pub(crate) fn written<'o>(&self, ops: &'o [BatchOp]) -> Result<(&'o [u8], &'o [u8])> {
        match ops.get(self.at) {
            Some(BatchOp::Set { key, value } | BatchOp::Create { key, value }) => Ok((key, value)),
            _ => Err(Error::backend(
                "kvstore",
                "a planned write does not name a set of the batch",
            )),
        }
    }
}

/// Whether `expect` holds for a key whose live version is `live` (`None`: absent or deleted).
fn holds(expect: Expect, live: Option<u64>) -> bool {
    match expect {
        Expect::Absent => live.is_none(),
        Expect::Present => live.is_some(),
        Expect::Version(v) => live == Some(v),
    }
}

/// A key's version and liveness as a commit knows it before planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Current {
    /// Read in the commit's transaction: its version and liveness, or `None` (never written,
    /// or its tombstone pruned).
    Known(Option<Meta>),
    /// Not read: a key the batch only sets, once, without a precondition, and not a prune
    /// candidate. Nothing in the plan depends on its previous entry, which is dealt with when
    /// the new value is written (a B-tree lookup per key saved on redb, whose insert returns
    /// the value it replaces).
    Unread,
    /// Not read: a key the batch sets once and checks once (this precondition), nothing else,
    /// not a prune candidate, on a backend whose failed commit writes nothing
    /// ([`Parts::checks_at_write`]). The precondition is checked against the entry the write
    /// replaces; if it fails, the commit fails with the same [`Error::Conflict`]. With the
    /// index of the `Require` in the batch (the first failure in the batch's order is
    /// reported).
    Deferred(Expect, usize),
}

/// Plans a batch.
///
/// `lookup(at, key)` gives what the commit knows of `key`, named by the operation at index `at`
/// of `ops` (`Some(at)`) or by a prune candidate (`None`) ([`Current::Unread`] only for a key set
/// once by `ops`, with no other operation on it, and not a candidate): the index lets a caller
/// answer without hashing the key again; `candidates` are tombstones `(version, key)` at or
/// below the prune cutoff, oldest first, as read in the same transaction.
///
/// # Errors
///
/// [`Error::Conflict`] for the first failed precondition (checked against the state before the
/// batch, in the batch's order), [`Error::KeyExists`] for a create meeting a live key (checked
/// in order, seeing the batch's earlier operations). Nothing is planned then.
pub(crate) fn plan(
    ops: &[BatchOp],
    state: State,
    lookup: impl Fn(Option<usize>, &[u8]) -> Current,
    candidates: &[(u64, Vec<u8>)],
    retention: u64,
) -> Result<Plan> {
    let current = |at: Option<usize>, key: &[u8]| match lookup(at, key) {
        Current::Known(meta) => Ok(meta),
        Current::Unread | Current::Deferred(..) => Err(Error::backend(
            "kvstore",
            "a commit was planned without reading a key it depends on",
        )),
    };
    for (at, op) in ops.iter().enumerate() {
        if let BatchOp::Require { key, expect } = op {
            if let Current::Deferred(..) = lookup(Some(at), key) {
                continue;
            }
            let found = current(Some(at), key)?;
            if !holds(*expect, found.filter(|m| m.live).map(|m| m.version)) {
                return Err(Error::Conflict {
                    key: key.clone(),
                    expected: *expect,
                    current: found.filter(|m| m.live).map(|m| m.version),
                });
            }
        }
    }

    // What the batch's earlier operations made of a key, borrowed from the operations.
    let mut staged: HashMap<&[u8], Option<Meta>> = HashMap::with_capacity(ops.len());
    let mut writes = Vec::with_capacity(ops.len() * 2);
    let mut blind = Vec::new();
    let mut state = state;
    let staged_meta = |staged: &HashMap<&[u8], Option<Meta>>, at: Option<usize>, key: &[u8]| {
        match staged.get(key) {
            Some(m) => Ok(*m),
            None => current(at, key),
        }
    };
    for (at, op) in ops.iter().enumerate() {
        let (key, value) = match op {
            BatchOp::Require { .. } => continue,
            BatchOp::Create { key, value } => {
                if staged_meta(&staged, Some(at), key)?.is_some_and(|m| m.live) {
                    return Err(Error::KeyExists { key: key.clone() });
                }
                (key.as_slice(), Some(value.as_slice()))
            }
            BatchOp::Set { key, value } => (key.as_slice(), Some(value.as_slice())),
            BatchOp::Delete { key } => (key.as_slice(), None),
        };
        let expect = match lookup(Some(at), key) {
            Current::Known(_) => None,
            Current::Unread => Some(None),
            Current::Deferred(expect, at) => Some(Some((expect, at))),
        };
        // A key not read is set once here and named by no other write (so `staged` needs no
        // entry for it; were it set twice, each write would still remove what the one before
        // left).
        if let (Some(_), Some(expect)) = (value, expect) {
            state.last = state
                .last
                .checked_add(1)
                .ok_or_else(|| Error::Corrupted("version counter overflow".into()))?;
            blind.push(Blind {
                at,
                version: state.last,
                expect,
            });
            continue;
        }
        let old = staged_meta(&staged, Some(at), key)?;
        if value.is_none() && !old.is_some_and(|m| m.live) {
            // Deleting what is absent changes nothing, and gets no version.
            continue;
        }
        state.last = state
            .last
            .checked_add(1)
            .ok_or_else(|| Error::Corrupted("version counter overflow".into()))?;
        let version = state.last;
        if let Some(old) = old {
            writes.push(Write::Delete(Part::Log, version_key(old.version).to_vec()));
            if !old.live {
                writes.push(Write::Delete(
                    Part::Tombs,
                    version_key(old.version).to_vec(),
                ));
                if value.is_some() {
                    writes.push(Write::Delete(Part::Meta, key.to_vec()));
                }
            }
        }
        let live = value.is_some();
        let entry = Meta { version, live };
        match value {
            Some(value) => writes.push(Write::Put(
                Part::Data,
                key.to_vec(),
                encode_value(version, value),
            )),
            None => {
                writes.push(Write::Delete(Part::Data, key.to_vec()));
                writes.push(Write::Put(
                    Part::Tombs,
                    version_key(version).to_vec(),
                    key.to_vec(),
                ));
                writes.push(Write::Put(
                    Part::Meta,
                    key.to_vec(),
                    entry.encode().to_vec(),
                ));
            }
        }
        writes.push(Write::Put(
            Part::Log,
            version_key(version).to_vec(),
            key.to_vec(),
        ));
        staged.insert(key, Some(entry));
    }

    let cutoff = state.prune_cutoff(retention);
    for (version, key) in candidates.iter().take(PRUNE_PER_COMMIT) {
        if *version > cutoff {
            break;
        }
        // Still this tombstone (the batch may have written the key again)?
        if staged_meta(&staged, None, key)?
            != Some(Meta {
                version: *version,
                live: false,
            })
        {
            continue;
        }
        writes.push(Write::Delete(Part::Tombs, version_key(*version).to_vec()));
        writes.push(Write::Delete(Part::Log, version_key(*version).to_vec()));
        writes.push(Write::Delete(Part::Meta, key.clone()));
        staged.insert(key.as_slice(), None);
        state.horizon = state.horizon.max(*version);
    }
    Ok(Plan {
        writes,
        blind,
        state,
    })
}

/// Refuses a feed request older than the horizon.
///
/// # Errors
///
/// [`Error::ChangesExpired`] when `since` is below the horizon.
pub(crate) fn check_since(since: u64, state: State) -> Result<()> {
    if since < state.horizon {
        return Err(Error::ChangesExpired {
            since,
            horizon: state.horizon,
        });
    }
    Ok(())
}

/// Gives a namespace written before versions (bare values, no state) its versions, through
/// `parts` (one transaction): each of `entries` (every data entry, in key order) gets the next
/// version from 1 and its feed entry; the state is written even when there are none (it marks
/// the move as done).
///
/// # Errors
///
/// Any failure of `parts`.
#[cfg_attr(
    any(
        all(target_arch = "wasm32", target_os = "unknown"),
        not(any(feature = "sled", feature = "redb"))
    ),
    allow(dead_code)
)]
pub(crate) fn upgrade_from_unversioned(
    parts: &mut impl Parts,
    entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
) -> Result<()> {
    let mut state = State::default();
    for (key, value) in entries {
        state.last += 1;
        parts.apply(Write::Put(
            Part::Data,
            key.clone(),
            encode_value(state.last, &value),
        ))?;
        parts.apply(Write::Put(Part::Log, version_key(state.last).to_vec(), key))?;
    }
    parts.apply(Write::Put(
        Part::Log,
        STATE_KEY.to_vec(),
        state.encode().to_vec(),
    ))
}

/// Moves a namespace from the first versioned layout to this one, through `parts` (one
/// transaction): each of `entries` (every data entry, bare, in the first layout) gets its
/// version from its meta entry, which goes; tombstones stay as they were; the state moves to
/// [`STATE_KEY`].
///
/// # Errors
///
/// [`Error::Corrupted`] if a value has no live meta entry, or the state does not decode.
#[cfg_attr(
    any(
        all(target_arch = "wasm32", target_os = "unknown"),
        not(any(feature = "sled", feature = "redb"))
    ),
    allow(dead_code)
)]
pub(crate) fn upgrade_from_v1(
    parts: &mut impl Parts,
    entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
) -> Result<()> {
    let state = parts
        .get(Part::Log, V1_STATE_KEY)?
        .map_or(Ok(State::default()), |bytes| State::decode(&bytes))?;
    for (key, value) in entries {
        let meta = parts
            .get(Part::Meta, &key)?
            .as_deref()
            .map(decode_meta)
            .transpose()?;
        let Some(Meta {
            version,
            live: true,
        }) = meta
        else {
            return Err(Error::Corrupted(
                "a value without a live version entry in the first versioned layout".into(),
            ));
        };
        parts.apply(Write::Delete(Part::Meta, key.clone()))?;
        parts.apply(Write::Put(Part::Data, key, encode_value(version, &value)))?;
    }
    parts.apply(Write::Delete(Part::Log, V1_STATE_KEY.to_vec()))?;
    parts.apply(Write::Put(
        Part::Log,
        STATE_KEY.to_vec(),
        state.encode().to_vec(),
    ))
}

/// A namespace's parts inside one write transaction of a synchronous engine (memory, sled,
/// redb): what [`commit`] needs to read and write.
pub(crate) trait Parts {
    /// The value of `key` in `part`.
    fn get(&mut self, part: Part, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// The version of `key`'s data entry, if it has one (without copying its value).
    fn data_version(&mut self, key: &[u8]) -> Result<Option<u64>>;
    /// Applies one write.
    fn apply(&mut self, write: Write) -> Result<()>;
    /// Whether a commit whose writes fail part way writes nothing (writes gather in a
    /// transaction or a batch dropped on error), so that a precondition may be checked while
    /// writing ([`Current::Deferred`]).
    fn checks_at_write(&self) -> bool {
        false
    }
    /// Writes `key`'s data entry and returns the version of the entry it replaced, if any.
    fn put_data(&mut self, key: &[u8], entry: &[u8]) -> Result<Option<u64>> {
        let old = self.data_version(key)?;
        self.apply(Write::Put(Part::Data, key.to_vec(), entry.to_vec()))?;
        Ok(old)
    }
    /// Whether the namespace holds any tombstone (`true` when unsure): without one, a key
    /// written without a read has no tombstone to remove, and its meta entry is not looked up.
    fn has_tombstones(&mut self) -> Result<bool> {
        Ok(true)
    }
    /// Writes `value` under `key` in `part` (what [`apply`](Self::apply) does with a
    /// [`Write::Put`], without owning its bytes).
    fn put(&mut self, part: Part, key: &[u8], value: &[u8]) -> Result<()> {
        self.apply(Write::Put(part, key.to_vec(), value.to_vec()))
    }
    /// Up to `limit` tombstones `(version, key)` at or below `cutoff`, oldest first (engines
    /// that cannot range inside a transaction read them just before it; [`plan`] checks each
    /// against the meta read inside).
    fn tombs_upto(&mut self, cutoff: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>>;
}

/// The key, in the log part, of the state record (log keys are otherwise 8 bytes; this one
/// sorts before them all).
pub(crate) const STATE_KEY: &[u8] = &[0];

/// Where the first versioned layout kept the state record; its presence, without one under
/// [`STATE_KEY`], marks a namespace still in that layout.
pub(crate) const V1_STATE_KEY: &[u8] = b"";

/// A key's version and liveness inside a commit: its data entry's version, else its tombstone.
///
/// # Errors
///
/// [`Error::Corrupted`] for an entry that does not decode, or a live entry in the tombstones'
/// meta part.
pub(crate) fn read_meta(parts: &mut impl Parts, key: &[u8]) -> Result<Option<Meta>> {
    if let Some(version) = parts.data_version(key)? {
        return Ok(Some(Meta {
            version,
            live: true,
        }));
    }
    match parts.get(Part::Meta, key)?.as_deref().map(decode_meta) {
        Some(Ok(Meta { live: true, .. })) => Err(Error::Corrupted(
            "a live version entry without a value".into(),
        )),
        other => other.transpose(),
    }
}

/// Reads the state record through `parts`.
pub(crate) fn read_state(parts: &mut impl Parts) -> Result<State> {
    parts
        .get(Part::Log, STATE_KEY)?
        .map_or(Ok(State::default()), |bytes| State::decode(&bytes))
}

/// Applies `ops` through `parts`: reads what [`plan`] needs, plans, writes.
///
/// # Errors
///
/// As [`plan`], and any failure of `parts`.
pub(crate) fn commit(parts: &mut impl Parts, ops: Vec<BatchOp>, retention: u64) -> Result<u64> {
    let state = read_state(parts)?;
    let candidates = parts.tombs_upto(state.prune_cutoff(retention), PRUNE_PER_COMMIT)?;
    // Which keys to read first: all but those only set, once (`Current::Unread`), and, where
    // the backend allows it, those set once and checked once (`Current::Deferred`).
    struct Uses<'k> {
        key: &'k [u8],
        sets: usize,
        requires: usize,
        other: bool,
        /// The first `Require`: its expectation and index in the batch.
        first: Option<(Expect, usize)>,
        current: Current,
    }
    // One slot per distinct key (first appearance first); `slot_of[at]` is the slot of the
    // key of `ops[at]`, so planning finds what is known of an operation's key without hashing
    // it again, and an operation on the key of the one before it (a `Require` and its `Set`)
    // takes that slot without hashing it at all.
    let mut slots: Vec<Uses<'_>> = Vec::with_capacity(ops.len() + candidates.len());
    let mut index: HashMap<&[u8], usize> = HashMap::with_capacity(ops.len() + candidates.len());
    fn slot_for<'k>(
        index: &mut HashMap<&'k [u8], usize>,
        slots: &mut Vec<Uses<'k>>,
        key: &'k [u8],
    ) -> usize {
        *index.entry(key).or_insert_with(|| {
            slots.push(Uses {
                key,
                sets: 0,
                requires: 0,
                other: false,
                first: None,
                current: Current::Unread,
            });
            slots.len() - 1
        })
    }
    let mut slot_of: Vec<usize> = Vec::with_capacity(ops.len());
    for (at, op) in ops.iter().enumerate() {
        let key = op.key();
        let slot = match slot_of.last() {
            Some(&last) if slots[last].key == key => last,
            _ => slot_for(&mut index, &mut slots, key),
        };
        slot_of.push(slot);
        let uses = &mut slots[slot];
        match op {
            BatchOp::Set { .. } => uses.sets += 1,
            BatchOp::Require { expect, .. } => {
                uses.requires += 1;
                uses.first.get_or_insert((*expect, at));
            }
            _ => uses.other = true,
        }
    }
    for (_, key) in &candidates {
        let slot = slot_for(&mut index, &mut slots, key);
        slots[slot].other = true;
    }
    let defer = parts.checks_at_write();
    let mut deferred = false;
    for uses in slots.iter_mut() {
        uses.current = match (uses.sets, uses.requires, uses.other, uses.first) {
            (1, 0, false, _) => Current::Unread,
            (1, 1, false, Some((expect, at))) if defer => {
                deferred = true;
                Current::Deferred(expect, at)
            }
            _ => Current::Known(read_meta(parts, uses.key)?),
        };
    }
    // Every key of `ops` and `candidates` has a slot.
    let lookup = |slots: &[Uses<'_>], at: Option<usize>, key: &[u8]| match at {
        Some(at) => slots[slot_of[at]].current,
        None => index
            .get(key)
            .map_or(Current::Unread, |&slot| slots[slot].current),
    };
    let mut planned = plan(
        &ops,
        state,
        |at, key| lookup(&slots, at, key),
        &candidates,
        retention,
    );
    if planned.is_err() && deferred {
        // A deferred precondition may fail before this error in the batch's order (every
        // precondition is checked before any create): plan again with every key read
        // (nothing is written yet).
        for uses in slots.iter_mut() {
            if let Current::Deferred(..) = uses.current {
                uses.current = Current::Known(read_meta(parts, uses.key)?);
            }
        }
        planned = plan(
            &ops,
            state,
            |at, key| lookup(&slots, at, key),
            &candidates,
            retention,
        );
    }
    let plan = planned?;
    let last = plan.state.last;
    apply_plan(parts, plan, state, &ops)?;
    Ok(last)
}

/// Removes the tombstone of `key`, written without a read and without a data entry before it,
/// and returns it. `tombstones` caches whether the namespace holds any (asked once per commit,
/// when first needed: a key written blind is neither deleted nor pruned by its batch, so a
/// tombstone of its own is still there).
///
/// # Errors
///
/// [`Error::Corrupted`] for a meta entry that does not decode or is live; any failure of
/// `parts`.
fn remove_tombstone(
    parts: &mut impl Parts,
    tombstones: &mut Option<bool>,
    key: &[u8],
) -> Result<Option<Meta>> {
    let any = match *tombstones {
        Some(any) => any,
        None => *tombstones.insert(parts.has_tombstones()?),
    };
    if !any {
        return Ok(None);
    }
    let Some(tomb) = parts.get(Part::Meta, key)? else {
        return Ok(None);
    };
    let tomb = decode_meta(&tomb)?;
    if tomb.live {
        return Err(Error::Corrupted(
            "a live version entry without a value".into(),
        ));
    }
    let at = version_key(tomb.version).to_vec();
    parts.apply(Write::Delete(Part::Tombs, at.clone()))?;
    parts.apply(Write::Delete(Part::Log, at))?;
    parts.apply(Write::Delete(Part::Meta, key.to_vec()))?;
    Ok(Some(tomb))
}

/// Applies a plan's writes, its blind data entries (each followed by the check of its deferred
/// precondition, and the removal of the feed entry, and tombstone, of the entry it replaced)
/// and, if it changed, its state.
///
/// # Errors
///
/// [`Error::Conflict`] for a deferred precondition that fails (only on backends whose failed
/// commit writes nothing), and any failure of `parts`.
fn apply_plan(parts: &mut impl Parts, plan: Plan, before: State, ops: &[BatchOp]) -> Result<()> {
    for write in plan.writes {
        parts.apply(write)?;
    }
    // The failed deferred precondition first in the batch's order: (its index, the error).
    let mut failed: Option<(usize, Error)> = None;
    // Each entry encoded in one buffer, reused.
    let mut entry = Vec::new();
    // Whether the namespace holds any tombstone, asked once ([`remove_tombstone`]).
    let mut tombstones: Option<bool> = None;
    for blind in plan.blind {
        let (key, value) = blind.written(ops)?;
        encode_value_into(&mut entry, blind.version, value);
        let old = parts.put_data(key, &entry)?;
        parts.put(Part::Log, &version_key(blind.version), key)?;
        if let Some((expect, at)) = blind.expect {
            if !holds(expect, old) {
                if failed.as_ref().is_none_or(|(first, _)| at < *first) {
                    let error = Error::Conflict {
                        key: key.to_vec(),
                        expected: expect,
                        current: old,
                    };
                    failed = Some((at, error));
                }
                continue;
            }
        }
        if failed.is_some() {
            continue; // The commit fails: no need to tidy.
        }
        if let Some(old) = old {
            parts.apply(Write::Delete(Part::Log, version_key(old).to_vec()))?;
            continue;
        }
        remove_tombstone(parts, &mut tombstones, key)?;
    }
    if let Some((_, error)) = failed {
        return Err(error);
    }
    if plan.state != before {
        parts.apply(Write::Put(
            Part::Log,
            STATE_KEY.to_vec(),
            plan.state.encode().to_vec(),
        ))?;
    }
    Ok(())
}

/// A commit applied one operation at a time, as a producer makes them
/// ([`KVStore::batch_with_versioned`](crate::KVStore::batch_with_versioned) on sled and redb,
/// whose writes then overlap the producer's work): the rules of [`plan`], with what it
/// learns of each key kept as it goes instead of read up front.
///
/// A key met for the first time by a set is written without a read (its replaced entry tells
/// which feed entry, or tombstone, to remove, as [`apply_plan`] does); any other first meeting
/// reads the key's version. A precondition is checked against the key as it was before the
/// batch, as soon as it arrives; a create meeting a live key fails the commit, but the
/// operations after it are still checked for a failed precondition, which is the error
/// reported then (preconditions are checked before creates, as in [`plan`]). On any error
/// nothing may be committed: only for backends whose failed commits write nothing.
pub(crate) struct Streamed<'p, P: Parts> {
    parts: &'p mut P,
    retention: u64,
    before: State,
    state: State,
    candidates: Vec<(u64, Vec<u8>)>,
    /// Every key named so far: its version and liveness before the batch and now.
    known: HashMap<Vec<u8>, Seen>,
    /// Whether the namespace held a tombstone, asked once, when first needed.
    tombstones: Option<bool>,
    /// The first create that met a live key: the commit's error unless a later precondition
    /// fails.
    exists: Option<Error>,
    /// Each blind data entry encoded in one buffer, reused.
    entry: Vec<u8>,
}

/// A key's version and liveness before the batch, and after the operations applied so far.
#[derive(Debug, Clone, Copy)]
struct Seen {
    before: Option<Meta>,
    now: Option<Meta>,
}

impl<'p, P: Parts> Streamed<'p, P> {
    /// Starts a commit: reads the state and the tombstones it may prune.
    ///
    /// # Errors
    ///
    /// Any failure of `parts`.
    pub(crate) fn begin(parts: &'p mut P, retention: u64) -> Result<Self> {
        let state = read_state(parts)?;
        let candidates = parts.tombs_upto(state.prune_cutoff(retention), PRUNE_PER_COMMIT)?;
        Ok(Streamed {
            parts,
            retention,
            before: state,
            state,
            candidates,
            known: HashMap::new(),
            tombstones: None,
            exists: None,
            entry: Vec::new(),
        })
    }

    fn next_version(&mut self) -> Result<u64> {
        self.state.last = self
            .state
            .last
            .checked_add(1)
            .ok_or_else(|| Error::Corrupted("version counter overflow".into()))?;
        Ok(self.state.last)
    }

    /// What the commit knows of `key`, read if it was not named before.
    fn seen(&mut self, key: &[u8]) -> Result<Seen> {
        if let Some(seen) = self.known.get(key) {
            return Ok(*seen);
        }
        let meta = read_meta(self.parts, key)?;
        Ok(Seen {
            before: meta,
            now: meta,
        })
    }

    /// Applies one operation.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] for a precondition that does not hold before the batch; any failure
    /// of `parts`. The commit must then be dropped.
    pub(crate) fn apply(&mut self, op: &BatchOp) -> Result<()> {
        let (key, value, create) = match op {
            BatchOp::Require { key, expect } => {
                let seen = self.seen(key)?;
                self.known.entry(key.clone()).or_insert(seen);
                let live = seen.before.filter(|m| m.live).map(|m| m.version);
                if !holds(*expect, live) {
                    return Err(Error::Conflict {
                        key: key.clone(),
                        expected: *expect,
                        current: live,
                    });
                }
                return Ok(());
            }
            // The commit fails: only a failed precondition may still change its error.
            _ if self.exists.is_some() => return Ok(()),
            BatchOp::Set { key, value } => (key, Some(value.as_slice()), false),
            BatchOp::Create { key, value } => (key, Some(value.as_slice()), true),
            BatchOp::Delete { key } => (key, None, false),
        };
        match (value, create, self.known.contains_key(key.as_slice())) {
            (Some(value), false, false) => self.set_unread(key, value),
            _ => self.write_known(key, value, create),
        }
    }

    /// A set of a key not named before: written without a read.
    fn set_unread(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let version = self.next_version()?;
        encode_value_into(&mut self.entry, version, value);
        let old = self.parts.put_data(key, &self.entry)?;
        self.parts.put(Part::Log, &version_key(version), key)?;
        let before = match old {
            Some(old) => {
                self.parts
                    .apply(Write::Delete(Part::Log, version_key(old).to_vec()))?;
                Some(Meta {
                    version: old,
                    live: true,
                })
            }
            None => remove_tombstone(self.parts, &mut self.tombstones, key)?,
        };
        let now = Some(Meta {
            version,
            live: true,
        });
        self.known.insert(key.to_vec(), Seen { before, now });
        Ok(())
    }

    /// A set, create or delete of a key whose version is known, or read now.
    fn write_known(&mut self, key: &[u8], value: Option<&[u8]>, create: bool) -> Result<()> {
        let seen = self.seen(key)?;
        let live = seen.now.is_some_and(|m| m.live);
        if (create && live) || (value.is_none() && !live) {
            if create {
                self.exists = Some(Error::KeyExists { key: key.to_vec() });
            }
            // Deleting what is absent changes nothing, and gets no version.
            self.known.entry(key.to_vec()).or_insert(seen);
            return Ok(());
        }
        let version = self.next_version()?;
        if let Some(old) = seen.now {
            let at = version_key(old.version).to_vec();
            self.parts.apply(Write::Delete(Part::Log, at.clone()))?;
            if !old.live {
                self.parts.apply(Write::Delete(Part::Tombs, at))?;
                if value.is_some() {
                    self.parts.apply(Write::Delete(Part::Meta, key.to_vec()))?;
                }
            }
        }
        let at = version_key(version);
        match value {
            Some(value) => {
                encode_value_into(&mut self.entry, version, value);
                self.parts.put(Part::Data, key, &self.entry)?;
            }
            None => {
                self.parts.apply(Write::Delete(Part::Data, key.to_vec()))?;
                self.parts.put(Part::Tombs, &at, key)?;
                let tomb = Meta {
                    version,
                    live: false,
                };
                self.parts.put(Part::Meta, key, &tomb.encode())?;
            }
        }
        self.parts.put(Part::Log, &at, key)?;
        let now = Some(Meta {
            version,
            live: value.is_some(),
        });
        self.known.insert(
            key.to_vec(),
            Seen {
                before: seen.before,
                now,
            },
        );
        Ok(())
    }

    /// Ends the commit: prunes old tombstones and writes the state. Returns the namespace's
    /// last version.
    ///
    /// # Errors
    ///
    /// [`Error::KeyExists`] for the first create that met a live key; any failure of `parts`.
    /// The commit must then be dropped.
    pub(crate) fn finish(mut self) -> Result<u64> {
        if let Some(error) = self.exists.take() {
            return Err(error);
        }
        let cutoff = self.state.prune_cutoff(self.retention);
        for (version, key) in std::mem::take(&mut self.candidates) {
            if version > cutoff {
                break;
            }
            // Still this tombstone (the batch may have written the key again)?
            let tomb = Meta {
                version,
                live: false,
            };
            if self.seen(&key)?.now != Some(tomb) {
                continue;
            }
            let at = version_key(version).to_vec();
            self.parts.apply(Write::Delete(Part::Tombs, at.clone()))?;
            self.parts.apply(Write::Delete(Part::Log, at))?;
            self.parts.apply(Write::Delete(Part::Meta, key.clone()))?;
            let before = self.known.get(&key).map_or(Some(tomb), |s| s.before);
            self.known.insert(key, Seen { before, now: None });
            self.state.horizon = self.state.horizon.max(version);
        }
        if self.state != self.before {
            self.parts.put(Part::Log, STATE_KEY, &self.state.encode())?;
        }
        Ok(self.state.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &[u8], value: &[u8]) -> BatchOp {
        BatchOp::Set {
            key: key.to_vec(),
            value: value.to_vec(),
        }
    }

    #[test]
    fn encodings_round_trip_and_reject_garbage() {
        let m = Meta {
            version: 0x0102_0304_0506_0708,
            live: false,
        };
        assert_eq!(decode_meta(&m.encode()).unwrap(), m);
        assert!(decode_meta(&[0; 8]).is_err());
        assert!(decode_meta(&[0, 0, 0, 0, 0, 0, 0, 0, 2]).is_err());
        let s = State {
            last: 9,
            horizon: 3,
        };
        assert_eq!(State::decode(&s.encode()).unwrap(), s);
        assert!(State::decode(&[0; 15]).is_err());
        assert_eq!(decode_version_key(&version_key(77)).unwrap(), 77);
        let entry = encode_value(0x0a0b, b"value");
        assert_eq!(versioned_of(&entry).unwrap(), (b"value".to_vec(), 0x0a0b));
        assert_eq!(value_of(&encode_value(3, b"")).unwrap(), b"");
        assert!(matches!(value_of(&[0; 7]), Err(Error::Corrupted(_))));
        assert!(decode_version_key(&[1, 2]).is_err());
    }

    #[test]
    fn a_failed_precondition_plans_nothing_and_names_the_key() {
        let mut meta = HashMap::new();
        meta.insert(
            b"k".to_vec(),
            Some(Meta {
                version: 4,
                live: true,
            }),
        );
        let ops = vec![
            set(b"other", b"x"),
            BatchOp::Require {
                key: b"k".to_vec(),
                expect: Expect::Version(3),
            },
        ];
        match plan(
            &ops,
            State::default(),
            |_, k| Current::Known(meta.get(k).copied().flatten()),
            &[],
            10,
        ) {
            Err(Error::Conflict {
                key,
                current: Some(4),
                expected: Expect::Version(3),
            }) => assert_eq!(key, b"k"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn versions_increase_per_written_key_and_prune_old_tombstones() {
        let meta: HashMap<Vec<u8>, Option<Meta>> = HashMap::new();
        let p = plan(
            &[
                set(b"a", b"1"),
                set(b"b", b"2"),
                BatchOp::Delete {
                    key: b"zz".to_vec(),
                },
            ],
            State {
                last: 5,
                horizon: 0,
            },
            |_, k| Current::Known(meta.get(k).copied().flatten()),
            &[],
            10,
        )
        .unwrap();
        assert_eq!(p.state.last, 7, "deleting an absent key gets no version");

        let mut meta = HashMap::new();
        meta.insert(
            b"t".to_vec(),
            Some(Meta {
                version: 2,
                live: false,
            }),
        );
        meta.insert(
            b"u".to_vec(),
            Some(Meta {
                version: 3,
                live: false,
            }),
        );
        let p = plan(
            &[set(b"u", b"back")],
            State {
                last: 20,
                horizon: 0,
            },
            |_, k| Current::Known(meta.get(k).copied().flatten()),
            &[(2, b"t".to_vec()), (3, b"u".to_vec())],
            10,
        )
        .unwrap();
        // t is pruned (2 <= 21 - 10); u was written again by the batch, so it is not.
        assert_eq!(p.state.horizon, 2);
        assert_eq!(p.state.last, 21);
    }
}
