//! The write-ahead log of the redb backend (files and OPFS) and of the sled backend: its file,
//! its frames and records, and where the next record goes; the `log` modules of
//! `backend::redb` and `backend::sled` decide how commits use it.
//!
//! **Why.** A durable commit of an engine writes every page or node it touched and flushes;
//! where a flush costs by the byte (OPFS in a browser, small `fsync`s natively), a
//! small commit is cheaper as one appended record and one flush of the log. The engine applies
//! the commit without durability, the record makes it durable, and every so often a durable
//! commit of the engine (a *checkpoint*, which stores the number of the last record it covers
//! in the same atomic write) lets the log start again at offset 0.
//!
//! **Format.** The log is a sequence of frames from offset 0:
//! `payload length (u32 LE) ‖ sequence number (u64 LE) ‖ payload ‖ CRC-32 of the three (u32 LE)`.
//! A payload is `namespace length (u16 LE) ‖ namespace ‖ writes`, each write
//! `tag (u8: part 0–3, + 4 for a delete) ‖ key length (u32 LE) ‖ key ‖ [value length (u32 LE)
//! ‖ value]`: the exact writes of the commit, version bookkeeping included.
//!
//! **Recovery.** On open, the frames at offset 0, 1, … are read while each is whole (length in
//! bounds, CRC right) and numbered checkpoint + 1, + 2, …; a torn or stale frame ends the log.
//! A checkpoint takes the number of the next record ([`Position::checkpoint`]), so a record
//! whose commit never ended is never applied after a checkpoint made since.
//! Applying a record the engine already has is harmless: a record holds absolute puts and
//! deletes, and every write the engine made outside the log was a checkpoint, which moved the
//! log on. The CRC guards against torn writes, not against an attacker (the vault's manifest
//! does that).
//!
//! **Failures.** The position moves on only once a record is written (and, for a checkpoint,
//! once the engine's durable commit succeeded): a record whose write or flush failed is
//! overwritten by the next one, and until then may be applied after a crash, like any write
//! whose outcome was an I/O error.

use std::sync::{Mutex, MutexGuard};

use crate::versions::{Part, Write};
use crate::{Error, Result};

/// Frame overhead: length, sequence number, CRC.
pub(crate) const FRAME: usize = 4 + 8 + 4;

/// A record up to this size is copied into its frame and written at once; a larger one is
/// written in three parts (header, payload, CRC) without a copy.
const IN_ONE_WRITE: usize = 64 * 1024;

/// The storage a log lives on, used as a plain file: a redb storage backend (a file natively,
/// an OPFS sync access handle in a browser) or, for sled, a file ([`FileLog`]).
pub(crate) trait LogStorage: Send + Sync {
    /// The length of the storage in bytes.
    fn len(&self) -> std::io::Result<u64>;
    /// Fills `out` from `offset`.
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()>;
    /// Sets the length in bytes.
    fn set_len(&self, len: u64) -> std::io::Result<()>;
    /// Writes `data` at `offset`.
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()>;
    /// Makes every write so far durable.
    fn sync_data(&self) -> std::io::Result<()>;
    /// Releases the storage.
    fn close(&self) -> std::io::Result<()>;
}

#[cfg(any(feature = "redb", feature = "opfs"))]
impl<T: redb::StorageBackend> LogStorage for T {
    fn len(&self) -> std::io::Result<u64> {
        redb::StorageBackend::len(self)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        redb::StorageBackend::read(self, offset, out)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        redb::StorageBackend::set_len(self, len)
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        redb::StorageBackend::write(self, offset, data)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        redb::StorageBackend::sync_data(self)
    }

    fn close(&self) -> std::io::Result<()> {
        redb::StorageBackend::close(self)
    }
}

/// A log in a plain file (the sled backend's).
#[cfg(all(feature = "sled", not(target_arch = "wasm32")))]
pub(crate) struct FileLog(Mutex<std::fs::File>);

#[cfg(all(feature = "sled", not(target_arch = "wasm32")))]
impl FileLog {
    pub(crate) fn new(file: std::fs::File) -> Self {
        FileLog(Mutex::new(file))
    }

    fn at(&self, offset: u64) -> std::io::Result<MutexGuard<'_, std::fs::File>> {
        use std::io::Seek;
        let mut file = lock(&self.0);
        file.seek(std::io::SeekFrom::Start(offset))?;
        Ok(file)
    }
}

#[cfg(all(feature = "sled", not(target_arch = "wasm32")))]
impl LogStorage for FileLog {
    fn len(&self) -> std::io::Result<u64> {
        Ok(lock(&self.0).metadata()?.len())
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        std::io::Read::read_exact(&mut *self.at(offset)?, out)
    }

    /// Grows the file with zeros written out, not a sparse hole: a write into a hole
    /// allocates blocks, which would make every flush also write the file system's metadata.
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        use std::io::{Seek, Write};
        let mut file = lock(&self.0);
        let from = file.metadata()?.len();
        if len <= from {
            return file.set_len(len);
        }
        file.seek(std::io::SeekFrom::Start(from))?;
        let zeros = vec![0u8; 64 * 1024];
        let mut left = len - from;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            file.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        file.sync_all()
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(&mut *self.at(offset)?, data)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        lock(&self.0).sync_data()
    }

    fn close(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The storage of a log.
pub(crate) type LogFile = Box<dyn LogStorage>;

/// How much log there is between checkpoints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// Records between checkpoints at most.
    pub(crate) records: u64,
    /// Bytes of log at most (the file is sized to this once).
    pub(crate) bytes: u64,
    /// A commit whose record would be larger is a checkpoint instead.
    pub(crate) max_record: usize,
}

/// Where the next record goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position {
    /// Where the next frame goes.
    pub(crate) offset: u64,
    /// Its sequence number.
    pub(crate) next: u64,
    /// Records since the last checkpoint.
    pub(crate) records: u64,
}

impl Position {
    /// The number a checkpoint made now takes: the next record's. Every record written before
    /// has a smaller one; a record that was written under this number but whose commit never
    /// ended (its flush failed, or its write was dropped) may lie whole at offset 0, where the
    /// log starts again, and must not be applied after the checkpoint: numbered as covered,
    /// it never is.
    pub(crate) fn checkpoint(&self) -> u64 {
        self.next
    }

    /// After a checkpoint numbered `checkpoint`: the log starts again at offset 0 with the
    /// number after it.
    pub(crate) fn restart(&mut self, checkpoint: u64) {
        self.offset = 0;
        self.next = checkpoint + 1;
        self.records = 0;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A log: its file, its policy, and the position of the next record.
pub(crate) struct Wal {
    file: LogFile,
    policy: Policy,
    position: Mutex<Position>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Wal {
    /// Reads `file`'s records numbered after `checkpoint` (each payload) and sizes the file;
    /// the log starts again at offset 0 after the last of them.
    pub(crate) fn open(
        file: LogFile,
        policy: Policy,
        checkpoint: u64,
    ) -> Result<(Self, Vec<Vec<u8>>)> {
        let len = file.len().map_err(Error::Io)?;
        let mut bytes = vec![0u8; usize::try_from(len.min(policy.bytes)).unwrap_or(0)];
        file.read(0, &mut bytes).map_err(Error::Io)?;
        let records: Vec<Vec<u8>> = frames(&bytes, checkpoint + 1, policy.max_record)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        if len < policy.bytes {
            // Sized once: appending then never changes the file's length, which would make
            // every flush also write the file's metadata.
            file.set_len(policy.bytes).map_err(Error::Io)?;
            file.sync_data().map_err(Error::Io)?;
        }
        let wal = Wal {
            file,
            policy,
            position: Mutex::new(Position {
                offset: 0,
                next: checkpoint + records.len() as u64 + 1,
                records: 0,
            }),
        };
        Ok((wal, records))
    }

    /// The position, locked for a moment: a commit reads it when it writes its record and moves
    /// it when it ends, both under redb's write lock, so in commit order.
    pub(crate) fn position(&self) -> MutexGuard<'_, Position> {
        lock(&self.position)
    }

    /// Whether a commit whose record is `recorder` must be a checkpoint instead.
    pub(crate) fn needs_checkpoint(&self, position: &Position, recorder: &Recorder) -> bool {
        let frame = (FRAME + recorder.payload.len()) as u64;
        recorder.unloggable
            || recorder.payload.len() > self.policy.max_record
            || position.records >= self.policy.records
            || position.offset + frame > self.policy.bytes
    }

    /// Writes `recorder`'s record at the position and moves it on (not yet flushed: see
    /// [`Wal::sync`]).
    pub(crate) fn append(&self, position: &mut Position, recorder: &Recorder) -> Result<()> {
        let payload = &recorder.payload;
        if payload.len() <= IN_ONE_WRITE {
            let frame = frame(position.next, payload);
            self.file
                .write(position.offset, &frame)
                .map_err(Error::Io)?;
        } else {
            // Not copied into one frame: copying it into a fresh buffer took about 0.2 ms of a
            // vault batch of 1,000 records (docs/PERF.md, session 22).
            let head = frame_head(position.next, payload);
            let mut crc = crc32fast::Hasher::new();
            crc.update(&head);
            crc.update(payload);
            let body = position.offset + head.len() as u64;
            self.file.write(position.offset, &head).map_err(Error::Io)?;
            self.file.write(body, payload).map_err(Error::Io)?;
            self.file
                .write(body + payload.len() as u64, &crc.finalize().to_le_bytes())
                .map_err(Error::Io)?;
        }
        position.offset += (FRAME + payload.len()) as u64;
        position.next += 1;
        position.records += 1;
        Ok(())
    }

    /// Makes every record written so far durable.
    pub(crate) fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(Error::Io)
    }

    /// Releases the file.
    pub(crate) fn close(&self) {
        let _ = self.file.close();
    }
}

/// The writes of one commit, encoded as they are applied (see the module docs).
pub(crate) struct Recorder {
    payload: Vec<u8>,
    /// Whether the commit wrote something the log cannot describe (a `clear`): it must then
    /// be a checkpoint.
    unloggable: bool,
    /// Past this size the record is not kept (the commit will be a checkpoint).
    limit: usize,
}

impl Recorder {
    pub(crate) fn new(namespace: &str, limit: usize) -> Self {
        let mut payload = Vec::with_capacity(256);
        payload.extend_from_slice(&(namespace.len() as u16).to_le_bytes());
        payload.extend_from_slice(namespace.as_bytes());
        Recorder {
            payload,
            unloggable: false,
            limit,
        }
    }

    /// A recorder for a commit that is a checkpoint whatever it writes.
    pub(crate) fn checkpoint() -> Self {
        let mut recorder = Recorder::new("", 0);
        recorder.unloggable();
        recorder
    }

    /// Records a write (the tests' form of [`record_put`](Self::record_put) and
    /// [`record_delete`](Self::record_delete)).
    #[cfg(test)]
    pub(crate) fn record(&mut self, write: &Write) {
        match write {
            Write::Put(part, key, value) => self.record_put(*part, key, value),
            Write::Delete(part, key) => self.record_delete(*part, key),
        }
    }

    /// Records a put of `value` under `key` in `part`.
    pub(crate) fn record_put(&mut self, part: Part, key: &[u8], value: &[u8]) {
        self.record_raw(part_tag(part), key, Some(value));
    }

    /// Records a delete of `key` in `part`.
    pub(crate) fn record_delete(&mut self, part: Part, key: &[u8]) {
        self.record_raw(part_tag(part) + 4, key, None);
    }

    fn record_raw(&mut self, tag: u8, key: &[u8], value: Option<&[u8]>) {
        if self.unloggable || self.payload.len() > self.limit {
            return;
        }
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

/// A frame's header: the payload's length and the record's sequence number.
fn frame_head(seq: u64, payload: &[u8]) -> [u8; 12] {
    let mut head = [0u8; 12];
    head[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    head[4..].copy_from_slice(&seq.to_le_bytes());
    head
}

/// A whole frame: header, payload, and the CRC of both.
fn frame(seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME + payload.len());
    out.extend_from_slice(&frame_head(seq, payload));
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The records of `bytes` numbered `first`, `first + 1`, … from offset 0, up to the first
/// torn, stale or out-of-sequence frame.
fn frames(bytes: &[u8], first: u64, max_record: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut expect = first;
    while let Some(head) = bytes.get(at..at + 12) {
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        let seq = u64::from_le_bytes(head[4..12].try_into().expect("8 bytes"));
        if seq != expect || len > max_record + 1024 {
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

/// A record's namespace and writes.
pub(crate) fn decode(payload: &[u8]) -> Result<(String, Vec<Write>)> {
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
    let namespace = std::str::from_utf8(take(len)?)
        .map_err(|_| corrupted())?
        .to_owned();
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
    Ok((namespace, writes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_stop_at_a_torn_stale_or_out_of_sequence_frame() {
        let mut log = frame(5, b"\x01\x00aX");
        log.extend(frame(6, b"\x01\x00aY"));
        assert_eq!(frames(&log, 5, 100).len(), 2);
        assert_eq!(frames(&log, 6, 100).len(), 0, "stale first frame");
        assert_eq!(
            frames(&log[..log.len() - 1], 5, 100).len(),
            1,
            "torn second frame"
        );
        let mut flipped = log.clone();
        let at = log.len() - 6;
        flipped[at] ^= 1;
        assert_eq!(frames(&flipped, 5, 100).len(), 1, "second frame's CRC");
        let mut skipped = frame(5, b"\x01\x00aX");
        skipped.extend(frame(7, b"\x01\x00aY"));
        assert_eq!(frames(&skipped, 5, 100).len(), 1, "gap in the numbers");
        assert!(frames(&[0u8; 64], 1, 100).is_empty(), "zeroed file");
    }

    /// A record too large to copy into one frame is written in three parts: the same bytes,
    /// read back by the next open; so is a small one after it.
    #[cfg(all(feature = "sled", not(target_arch = "wasm32")))]
    #[test]
    fn a_large_record_is_written_as_its_frame() {
        let policy = Policy {
            records: 16,
            bytes: 1 << 20,
            max_record: 512 * 1024,
        };
        let file = tempfile::tempfile().unwrap();
        let log = || Box::new(FileLog::new(file.try_clone().unwrap()));
        let (wal, none) = Wal::open(log(), policy, 0).unwrap();
        assert!(none.is_empty());
        let mut large = Recorder::new("ns", policy.max_record);
        large.record_put(Part::Data, b"big", &vec![7; IN_ONE_WRITE + 100]);
        let mut small = Recorder::new("ns", policy.max_record);
        small.record_put(Part::Data, b"small", b"v");
        let mut position = *wal.position();
        wal.append(&mut position, &large).unwrap();
        wal.append(&mut position, &small).unwrap();
        assert_eq!(
            position.offset as usize,
            2 * FRAME + large.payload.len() + small.payload.len()
        );
        let mut bytes = vec![0u8; position.offset as usize];
        log().read(0, &mut bytes).unwrap();
        let mut expected = frame(1, &large.payload);
        expected.extend(frame(2, &small.payload));
        assert_eq!(bytes, expected);
        let (_, records) = Wal::open(log(), policy, 0).unwrap();
        assert_eq!(records, vec![large.payload.clone(), small.payload.clone()]);
    }

    #[test]
    fn records_decode_to_the_writes_recorded() {
        let writes = vec![
            Write::Put(Part::Data, b"k".to_vec(), b"v".to_vec()),
            Write::Delete(Part::Log, vec![0, 0, 0, 0, 0, 0, 0, 7]),
            Write::Put(Part::Tombs, vec![1; 8], Vec::new()),
            Write::Delete(Part::Meta, b"gone".to_vec()),
        ];
        let mut recorder = Recorder::new("ns", 1 << 20);
        for w in &writes {
            recorder.record(w);
        }
        let (namespace, decoded) = decode(&recorder.payload).unwrap();
        assert_eq!(namespace, "ns");
        assert_eq!(format!("{decoded:?}"), format!("{writes:?}"));
        assert!(matches!(
            decode(&recorder.payload[..recorder.payload.len() - 1]),
            Err(Error::Corrupted(_))
        ));
    }
}
