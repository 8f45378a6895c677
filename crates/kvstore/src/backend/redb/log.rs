//! The write-ahead log of a [`RedbStore`](super::RedbStore) opened with one
//! ([`RedbBuilder::open_backend_with_log`](super::RedbBuilder::open_backend_with_log); redb over
//! OPFS always has one).
//!
//! **Why.** A durable redb commit writes every page it touched (a versioned single set: 12 pages
//! of 4 KiB and the header) and flushes; on storage where a flush costs by the byte (OPFS in a
//! browser: 13 pages + flush ≈ 0.39 ms, 300 bytes + flush ≈ 0.18 ms, `scripts/bench.sh
//! browser`) a small write is cheaper as one appended record. So a small commit is applied to
//! redb without durability (visible at once, kept in memory and in free pages) and made durable
//! by appending its writes to the log and flushing the log; the write resolves after that
//! flush. Every [`CHECKPOINT_RECORDS`] records, or when the log would pass
//! [`CHECKPOINT_BYTES`], or for a commit whose record would pass [`MAX_RECORD`], the commit is
//! a durable redb commit instead (a checkpoint: it makes every earlier commit durable too) and
//! the log starts again at offset 0.
//!
//! **Format.** The log is a sequence of frames from offset 0:
//! `payload length (u32 LE) ‖ sequence number (u64 LE) ‖ payload ‖ CRC-32 of the three (u32 LE)`.
//! A payload is `namespace length (u16 LE) ‖ namespace ‖ writes`, each write
//! `tag (u8: part 0–3, + 4 for a delete) ‖ key length (u32 LE) ‖ key ‖ [value length (u32 LE)
//! ‖ value]` (the exact writes of the commit, version bookkeeping included). Every durable
//! commit stores, in the same redb transaction, the sequence number of the last record it
//! covers (table `~wal`, key `checkpoint`); the next record is written at offset 0 with the
//! next number.
//!
//! **Recovery.** On open, the frames at offset 0, 1, … are read while each is whole (length in
//! bounds, CRC right) and numbered checkpoint + 1, + 2, …; a torn or stale frame ends the log.
//! Those records are applied in order in one durable commit. Replaying a record redb already
//! has is harmless: a record holds absolute puts and deletes, and every commit redb made after
//! the log's records was a checkpoint, which moved the log on.
//!
//! **Failures.** If writing or flushing the log fails, the commit is dropped (nothing applied in
//! memory) and the error returned; the record may still have reached the file, so after a crash
//! that write may be there, as with any storage error whose outcome is unknown. The next record
//! takes the same number and place.

use std::sync::{Arc, Mutex};

use redb::ReadableTable;

use super::{map_err, table, RedbParts};
use crate::versions::{Part, Parts, Write};
use crate::{Error, Result};

/// Records between checkpoints at most.
pub(crate) const CHECKPOINT_RECORDS: u64 = 256;
/// Bytes of log between checkpoints at most.
pub(crate) const CHECKPOINT_BYTES: u64 = 256 * 1024;
/// A commit whose record would be larger is a checkpoint instead.
pub(crate) const MAX_RECORD: usize = 64 * 1024;

/// The redb table holding the checkpoint.
const TABLE: &str = "~wal";
const CHECKPOINT_KEY: &[u8] = b"checkpoint";
/// Frame overhead: length, sequence number, CRC.
const FRAME: usize = 4 + 8 + 4;

/// The log file and where the next record goes.
pub(crate) struct Log {
    /// The database, so that the last handle's drop can checkpoint it (the stores hold the
    /// log; the log holds the database).
    db: Arc<redb::Database>,
    file: Box<dyn redb::StorageBackend>,
    state: Mutex<Position>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy)]
struct Position {
    /// Where the next frame goes.
    offset: u64,
    /// Its sequence number.
    next: u64,
    /// Records since the last checkpoint.
    records: u64,
}

/// The writes of one commit, encoded as they are applied (see the module docs).
pub(crate) struct Recorder {
    payload: Vec<u8>,
    /// Whether the commit wrote something the log cannot describe (a `clear`): it must then
    /// be a checkpoint.
    unloggable: bool,
}

impl Recorder {
    pub(crate) fn new(namespace: &str) -> Self {
        let mut payload = Vec::with_capacity(256);
        payload.extend_from_slice(&(namespace.len() as u16).to_le_bytes());
        payload.extend_from_slice(namespace.as_bytes());
        Recorder {
            payload,
            unloggable: false,
        }
    }

    pub(crate) fn record(&mut self, write: &Write) {
        if self.unloggable || self.payload.len() > MAX_RECORD {
            return;
        }
        let (tag, key, value) = match write {
            Write::Put(part, key, value) => (part_tag(*part), key, Some(value)),
            Write::Delete(part, key) => (part_tag(*part) + 4, key, None),
        };
        self.payload.push(tag);
        self.payload
            .extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.payload.extend_from_slice(key);
        if let Some(value) = value {
            self.payload
                .extend_from_slice(&(value.len() as u32).to_le_bytes());
            self.payload.extend_from_slice(value);
        }
    }

    pub(crate) fn unloggable(&mut self) {
        self.unloggable = true;
    }
}

fn part_tag(part: Part) -> u8 {
    match part {
        Part::Data => 0,
        Part::Meta => 1,
        Part::Log => 2,
        Part::Tombs => 3,
    }
}

fn tag_part(tag: u8) -> Option<Part> {
    Some(match tag {
        0 => Part::Data,
        1 => Part::Meta,
        2 => Part::Log,
        3 => Part::Tombs,
        _ => return None,
    })
}

fn frame(seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The records of `bytes` numbered `first`, `first + 1`, … from offset 0, up to the first
/// torn, stale or out-of-sequence frame.
fn frames(bytes: &[u8], first: u64) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut expect = first;
    while let Some(head) = bytes.get(at..at + 12) {
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        let seq = u64::from_le_bytes(head[4..12].try_into().expect("8 bytes"));
        if seq != expect || len > MAX_RECORD + 1024 {
            break;
        }
        let Some(body) = bytes.get(at..at + 12 + len + 4) else {
            break;
        };
        let (signed, crc) = body.split_at(12 + len);
        if crc32fast::hash(signed).to_le_bytes() != crc {
            break;
        }
        out.push(&signed[12..]);
        at += body.len();
        expect += 1;
    }
    out
}

/// Applies one record's writes in `tx`.
fn replay(tx: &redb::WriteTransaction, payload: &[u8]) -> Result<()> {
    let corrupted = || Error::Corrupted("write-ahead log record is malformed".into());
    let mut rest = payload;
    let mut take = |n: usize| -> Result<&[u8]> {
        if rest.len() < n {
            return Err(corrupted());
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let len = u16::from_le_bytes(take(2)?.try_into().expect("2 bytes")) as usize;
    let namespace = std::str::from_utf8(take(len)?).map_err(|_| corrupted())?;
    let mut parts = RedbParts::open(tx, namespace)?;
    let mut writes = Vec::new();
    loop {
        let Ok(tag) = take(1) else { break };
        let tag = tag[0];
        let part = tag_part(tag & 3)
            .filter(|_| tag < 8)
            .ok_or_else(corrupted)?;
        let len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
        let key = take(len)?.to_vec();
        if tag < 4 {
            let len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
            writes.push(Write::Put(part, key, take(len)?.to_vec()));
        } else {
            writes.push(Write::Delete(part, key));
        }
    }
    for write in writes {
        parts.apply(write)?;
    }
    Ok(())
}

fn read_checkpoint(tx: &redb::WriteTransaction) -> Result<u64> {
    let t = tx.open_table(table(TABLE)).map_err(map_err)?;
    let value = t.get(CHECKPOINT_KEY).map_err(map_err)?;
    match value {
        None => Ok(0),
        Some(v) => <[u8; 8]>::try_from(v.value())
            .map(u64::from_be_bytes)
            .map_err(|_| Error::Corrupted("write-ahead log checkpoint is malformed".into())),
    }
}

fn write_checkpoint(tx: &redb::WriteTransaction, seq: u64) -> Result<()> {
    let mut t = tx.open_table(table(TABLE)).map_err(map_err)?;
    t.insert(CHECKPOINT_KEY, seq.to_be_bytes().as_slice())
        .map_err(map_err)?;
    Ok(())
}

impl Log {
    /// Opens the log on `file` for `db`: replays the records after the checkpoint in one
    /// durable commit.
    pub(crate) fn open(
        db: Arc<redb::Database>,
        file: Box<dyn redb::StorageBackend>,
    ) -> Result<Log> {
        let len = file.len().map_err(Error::Io)?;
        let mut bytes = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX).min(1 << 30)];
        file.read(0, &mut bytes).map_err(Error::Io)?;
        let tx = db.begin_write().map_err(map_err)?;
        let checkpoint = read_checkpoint(&tx)?;
        let records = frames(&bytes, checkpoint + 1);
        for record in &records {
            replay(&tx, record)?;
        }
        let last = checkpoint + records.len() as u64;
        write_checkpoint(&tx, last)?;
        tx.commit().map_err(map_err)?;
        if len < CHECKPOINT_BYTES {
            // Sized once: appending then never changes the file's length, which would make
            // every flush also write the file's metadata.
            file.set_len(CHECKPOINT_BYTES).map_err(Error::Io)?;
            file.sync_data().map_err(Error::Io)?;
        }
        Ok(Log {
            db,
            file,
            state: Mutex::new(Position {
                offset: 0,
                next: last + 1,
                records: 0,
            }),
        })
    }

    /// Commits `tx`, whose writes `recorder` holds: as a flushed log record and a non-durable
    /// redb commit, or as a checkpoint.
    pub(crate) fn commit(&self, mut tx: redb::WriteTransaction, recorder: Recorder) -> Result<()> {
        let mut position = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let frame_len = (FRAME + recorder.payload.len()) as u64;
        if recorder.unloggable
            || recorder.payload.len() > MAX_RECORD
            || position.records >= CHECKPOINT_RECORDS
            || position.offset + frame_len > CHECKPOINT_BYTES
        {
            // Every record so far is covered by this durable commit.
            write_checkpoint(&tx, position.next - 1)?;
            tx.commit().map_err(map_err)?;
            position.offset = 0;
            position.records = 0;
            return Ok(());
        }
        let frame = frame(position.next, &recorder.payload);
        self.file
            .write(position.offset, &frame)
            .map_err(Error::Io)?;
        self.file.sync_data().map_err(Error::Io)?;
        tx.set_durability(redb::Durability::None)
            .map_err(|e| Error::backend("redb", e))?;
        tx.commit().map_err(map_err)?;
        position.offset += frame_len;
        position.next += 1;
        position.records += 1;
        Ok(())
    }

    /// Commits `tx` durably (a checkpoint), for writes made outside [`Log::commit`].
    pub(crate) fn commit_durable(&self, tx: redb::WriteTransaction) -> Result<()> {
        let mut recorder = Recorder::new("");
        recorder.unloggable();
        self.commit(tx, recorder)
    }
}

impl Drop for Log {
    /// On the last store handle's drop: a checkpoint when records are pending, so that after a
    /// clean close the database file alone holds everything; then releases the log file (an
    /// OPFS handle is exclusive until closed). A failure here loses nothing: the records were
    /// flushed when written and are applied on the next open.
    fn drop(&mut self) {
        let pending = self.state.get_mut().map_or(0, |p| p.records);
        if pending > 0 {
            if let Ok(tx) = self.db.begin_write() {
                let _ = self.commit_durable(tx);
            }
        }
        let _ = self.file.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_stop_at_a_torn_stale_or_out_of_sequence_frame() {
        let mut log = frame(5, b"\x01\x00aX");
        log.extend(frame(6, b"\x01\x00aY"));
        assert_eq!(frames(&log, 5).len(), 2);
        assert_eq!(frames(&log, 6).len(), 0, "stale first frame");
        assert_eq!(
            frames(&log[..log.len() - 1], 5).len(),
            1,
            "torn second frame"
        );
        let mut flipped = log.clone();
        let at = log.len() - 6;
        flipped[at] ^= 1;
        assert_eq!(frames(&flipped, 5).len(), 1, "second frame's CRC");
        let mut skipped = frame(5, b"\x01\x00aX");
        skipped.extend(frame(7, b"\x01\x00aY"));
        assert_eq!(frames(&skipped, 5).len(), 1, "gap in the numbers");
        assert!(frames(&[0u8; 64], 1).is_empty(), "zeroed file");
    }
}
