//! The write-ahead log of a [`RedbStore`](super::RedbStore) (file stores and redb over OPFS;
//! format and recovery in `backend::wal`).
//!
//! A small commit is applied to redb without durability (`Durability::None`: visible at once,
//! kept in memory and in free pages) and made durable by appending its writes to the log and
//! flushing the log, before redb's commit. Every [`POLICY`]`.records` records, when the log
//! would pass [`POLICY`]`.bytes`, for a commit whose record would pass
//! [`POLICY`]`.max_record`, for a `clear`, and when the last handle is dropped, the commit is a
//! durable redb commit instead (a checkpoint) that also stores a number no record it covers
//! exceeds (the next record's: table `~wal`, key `checkpoint`), and the log starts again at
//! offset 0. On open, the records after the checkpoint are applied in one durable commit.
//!
//! **Admission.** Every write of a store with a log first takes the log's *gate*, an async
//! lock, and holds it until its commit is over; only then does it take redb's write lock
//! (the only writes without it: the log's replay and the layout upgrades when the database
//! opens, and the checkpoint when its last handle drops, when no other write can run). A
//! writer that holds the gate therefore never waits in `begin_write`, so a small commit can do
//! its B-tree work, write its record and commit in redb on the calling thread, and hand only
//! the log's flush to [`Blocking`](crate::Blocking) ([`Log::stage`], [`Log::sync`],
//! [`Log::publish`]); writers that wait for the gate wait asynchronously, never on a thread.
//! The point is the next read: pages a commit wrote on another thread are met cold by the
//! calling thread (a vault read right after a write: 13–16 µs in the store offloaded, 8–9 µs
//! with only the flush offloaded; docs/PERF.md, session 17).

use std::sync::Arc;

use redb::ReadableTable;

use super::{map_err, table, RedbParts};
use crate::backend::wal::{self, LogFile, Policy, Position, Recorder, Wal};
use crate::versions::Parts;
use crate::{Error, Result};

/// The log's size limits: a checkpoint every 256 records or 4 MiB of log; a commit whose
/// record would be over 2 MiB is a checkpoint. The same as sled's: a vault's `set_secrets` of
/// 1,000 records (about 300 KiB plus 41 bytes per record of the keyspace) is logged: as a
/// durable redb commit it cost 1.1–1.2x the code before versions, logged 0.6–0.75x by median
/// (docs/PERF.md, session 23; 256 KiB and 64 KiB before). redb keeps the pages of
/// non-durable commits until the next durable one: between two checkpoints the database holds,
/// in memory and in its file, the pages of up to 4 MiB of logged writes.
pub(crate) const POLICY: Policy = Policy {
    records: 256,
    bytes: 4 * 1024 * 1024,
    max_record: 2 * 1024 * 1024,
};

/// The redb table holding the checkpoint.
const TABLE: &str = "~wal";
const CHECKPOINT_KEY: &[u8] = b"checkpoint";

/// A redb database's log.
pub(crate) struct Log {
    /// The database, so that the last handle's drop can checkpoint it (the stores hold the
    /// log; the log holds the database).
    db: Arc<redb::Database>,
    wal: Wal,
    /// Admits one writer at a time, before redb's write lock (module docs).
    gate: Arc<async_lock::Mutex<()>>,
}

/// A writer's turn at the gate ([`Log::admit`]), until dropped; it can move to another thread.
pub(crate) type Admission = async_lock::MutexGuardArc<()>;

/// A commit whose record is written ([`Log::stage`]): what is left of it.
pub(crate) enum Staged {
    /// A durable redb commit (a checkpoint), its number written: blocking.
    Checkpoint(redb::WriteTransaction, u64),
    /// The record is written at the position, not flushed: [`Log::sync`], then
    /// [`Log::publish`] with the position after it.
    Logged(redb::WriteTransaction, Position),
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").finish_non_exhaustive()
    }
}

/// A recorder for a commit of `namespace`.
pub(crate) fn recorder(namespace: &str) -> Recorder {
    Recorder::new(namespace, POLICY.max_record)
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
    /// Opens the log on `file` for `db`: applies the records after the checkpoint in one
    /// durable commit.
    pub(crate) fn open(db: Arc<redb::Database>, file: LogFile) -> Result<Log> {
        let tx = db.begin_write().map_err(map_err)?;
        let checkpoint = read_checkpoint(&tx)?;
        let (wal, records) = Wal::open(file, POLICY, checkpoint)?;
        if !records.is_empty() {
            for record in &records {
                let (namespace, writes) = wal::decode(record)?;
                let mut parts = RedbParts::open(&tx, &namespace)?;
                for write in writes {
                    parts.apply(write)?;
                }
            }
            write_checkpoint(&tx, checkpoint + records.len() as u64)?;
            tx.commit().map_err(map_err)?;
        }
        // With nothing to apply, `tx` drops uncommitted: an open costs no durable commit.
        Ok(Log {
            db,
            wal,
            gate: Arc::new(async_lock::Mutex::new(())),
        })
    }

    /// Waits (asynchronously) for the gate: no other writer of the database is between its
    /// `begin_write` and the end of its commit until the admission is dropped.
    pub(crate) async fn admit(&self) -> Admission {
        self.gate.lock_arc().await
    }

    /// Commits `tx`, whose writes `recorder` holds: as a flushed log record and a non-durable
    /// redb commit, or as a checkpoint. Blocking: the whole commit where it is called.
    pub(crate) fn commit(&self, tx: redb::WriteTransaction, recorder: Recorder) -> Result<()> {
        self.finish(self.stage(tx, &recorder)?)
    }

    /// Writes `tx`'s record (whose writes `recorder` holds) without flushing it, or, when
    /// this commit must be a checkpoint, its number ([`Position::checkpoint`]). Every
    /// writer holds redb's write lock (`tx`) from here to the end of its commit, so the
    /// position moves on in commit order.
    pub(crate) fn stage(&self, tx: redb::WriteTransaction, recorder: &Recorder) -> Result<Staged> {
        let position = *self.wal.position();
        if self.wal.needs_checkpoint(&position, recorder) {
            // Every record so far is covered by this durable commit.
            let checkpoint = position.checkpoint();
            write_checkpoint(&tx, checkpoint)?;
            return Ok(Staged::Checkpoint(tx, checkpoint));
        }
        let mut next = position;
        self.wal.append(&mut next, recorder)?;
        Ok(Staged::Logged(tx, next))
    }

    /// What is left of a staged commit, all of it here (blocking).
    pub(crate) fn finish(&self, staged: Staged) -> Result<()> {
        match staged {
            Staged::Checkpoint(tx, checkpoint) => {
                tx.commit().map_err(map_err)?;
                self.wal.position().restart(checkpoint);
                Ok(())
            }
            Staged::Logged(tx, next) => {
                self.sync()?;
                self.publish(tx, next)
            }
        }
    }

    /// Makes the records written so far durable (the blocking part of a logged commit).
    pub(crate) fn sync(&self) -> Result<()> {
        self.wal.sync()
    }

    /// Commits a logged commit's `tx` in redb without durability, once its record is flushed,
    /// and moves the position past the record.
    pub(crate) fn publish(&self, mut tx: redb::WriteTransaction, next: Position) -> Result<()> {
        tx.set_durability(redb::Durability::None)
            .map_err(|e| Error::backend("redb", e))?;
        tx.commit().map_err(map_err)?;
        *self.wal.position() = next;
        Ok(())
    }

    /// Commits `tx` durably (a checkpoint), for writes made outside [`Log::commit`].
    pub(crate) fn commit_durable(&self, tx: redb::WriteTransaction) -> Result<()> {
        self.commit(tx, Recorder::checkpoint())
    }
}

impl Drop for Log {
    /// On the last store handle's drop: a checkpoint when records are pending, so that after a
    /// clean close the database file alone holds everything; then releases the log file (an
    /// OPFS handle is exclusive until closed). A failure here loses nothing: the records were
    /// flushed when written and are applied on the next open.
    fn drop(&mut self) {
        let pending = self.wal.position().records;
        if pending > 0 {
            if let Ok(tx) = self.db.begin_write() {
                let _ = self.commit_durable(tx);
            }
        }
        self.wal.close();
    }
}
