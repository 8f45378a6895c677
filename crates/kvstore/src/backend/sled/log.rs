//! The write-ahead log of a [`SledStore`](super::SledStore) (format and recovery in
//! `backend::wal`).
//!
//! **Why.** A versioned commit writes several entries (the data, a feed entry for each, the
//! state), atomically. As one `sled::Batch` plus sled's flush that cost 2.1–2.3× the single
//! insert and flush the vault made before versions, in the vault's pattern: sled's batch rolls
//! its log buffer twice, each roll a synchronous write of sled's file, and the flush writes
//! every page the commit touched (docs/PERF.md, sessions 17 and 18). One appended record and
//! one `fdatasync` of a file sized once, with the entries inserted one by one in memory,
//! cost close to that old insert.
//!
//! **Commits.** A commit is planned under the namespace's mutex (reads of the state and the
//! versions; the writes gathered and recorded), then its record is appended to the log file
//! and flushed where [`Blocking`](crate::Blocking) says, and once the flush has ended the
//! writes are applied to sled in memory, one insert each, on the calling thread; then the
//! commit resolves. A batch streamed to its commit is planned, logged, flushed and applied the
//! same way on the pool, where its commit runs. (sled's own flushes are off:
//! `flush_every_ms(None)`. A `sled::Batch` is not used for a logged commit: it rolls sled's log
//! buffer twice, and each roll is a synchronous write of sled's file. The record makes the
//! commit atomic across a crash, and the namespace's mutex, which the applying holds and every
//! multi-key read takes, makes it atomic for readers. The writes wait for the flush because
//! sled writes its buffers to its file whenever one fills: applied during the flush, part of a
//! commit could reach the disk before its record, and a power cut then would leave that part
//! without the record that completes it.)
//!
//! **Checkpoints.** Every [`POLICY`]`.records` records, when the log would pass
//! [`POLICY`]`.bytes` (4 MiB), for a commit whose record would pass [`POLICY`]`.max_record`
//! (2 MiB), for a `clear` and when the last handle is dropped, the commit is a *checkpoint*
//! instead: its writes are applied as one `sled::Batch`, the number no record it covers
//! reaches (the next record's: [`Position::checkpoint`](wal::Position::checkpoint)) is stored
//! under [`CHECKPOINT_KEY`] in the database's default tree, sled is flushed, the blob files it
//! wrote since the last checkpoint (pages past 128 KiB, in `blobs/`, which sled never
//! `fsync`s), their directory and its data file are `fsync`ed, and the log starts again at
//! offset 0. sled recovers a prefix of its writes, so a checkpoint number that survives a
//! crash comes with every write before it.
//!
//! **Admission.** Every write takes the log's *gate*, an async lock, until its commit is over:
//! records are written and applied in one order, which is the commit order, and no
//! checkpoint can cover a record whose writes are not applied yet. Writers waiting for the gate
//! wait asynchronously; a checkpoint holds it on the pool until sled's flush ends, even if its
//! future is dropped.
//!
//! **Recovery.** On open, the records after the checkpoint are applied (each one batch on its
//! namespace's tree), then a checkpoint is made. A record already in sled (written out by sled
//! before the crash without a flush) is applied again harmlessly: it holds absolute puts and
//! deletes, applied in order.
//!
//! **Failures and dropped writes.** A record whose write failed is not applied and the
//! position does not move: the next record takes its place. Once written, a record is
//! applied, holding the gate until then: if its flush fails, the next flush (the next
//! write's, or a checkpoint) makes it durable; until then a crash may lose it, like any write
//! whose outcome was an I/O error. A commit whose future is dropped during the flush is still
//! flushed (again) and applied, on the pool, before the gate lets another writer in.

use std::path::Path;
use std::sync::{Arc, Mutex};

use super::{map_err, SledParts};
use crate::backend::wal::{self, FileLog, Policy, Recorder, Wal};
use crate::versions::Parts;
use crate::{Error, Result};

/// The log's limits: a checkpoint every 256 records or 4 MiB of log; a commit whose record
/// would be over 2 MiB is a checkpoint. A vault's `set_secret` record is about 2 KiB plus 41
/// bytes per 64 records of its keyspace; its `set_secrets` of 1,000 records of 100 bytes,
/// about 300 KiB plus 41 bytes per record of the keyspace (its buckets), so it is logged up
/// to about 40,000 records (docs/PERF.md, session 22; 1 MiB and 256 KiB before).
pub(crate) const POLICY: Policy = Policy {
    records: 256,
    bytes: 4 * 1024 * 1024,
    max_record: 2 * 1024 * 1024,
};

/// The log file, in the database's directory.
pub(crate) const FILE: &str = "kvstore.wal";

/// The key of the checkpoint number in the database's default tree.
pub(crate) const CHECKPOINT_KEY: &[u8] = b"~wal/checkpoint";

/// A sled database's log.
pub(crate) struct Log {
    /// The database, so that the last handle's drop can checkpoint it.
    db: sled::Db,
    /// sled's files, `fsync`ed at every checkpoint (`write_checkpoint`).
    files: SledFiles,
    wal: Wal,
    gate: Arc<async_lock::Mutex<()>>,
    /// Called at the start of every flush of the log (tests: what a reader sees meanwhile).
    #[cfg(test)]
    on_sync: Mutex<Option<Box<dyn Fn() + Send>>>,
}

/// A writer's turn at the gate ([`Log::admit`]), until dropped; it can move to another thread.
pub(crate) type Admission = async_lock::MutexGuardArc<()>;

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").finish_non_exhaustive()
    }
}

/// A recorder for a commit of `namespace`.
pub(crate) fn recorder(namespace: &str) -> Recorder {
    Recorder::new(namespace, POLICY.max_record)
}

/// The namespace tree of `namespace` (as `SledStore` names it).
pub(crate) fn tree_name(namespace: &str) -> String {
    format!("~v/{namespace}")
}

fn read_checkpoint(db: &sled::Db) -> Result<u64> {
    match db.get(CHECKPOINT_KEY).map_err(map_err)? {
        None => Ok(0),
        Some(v) => <[u8; 8]>::try_from(v.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| Error::Corrupted("write-ahead log checkpoint is malformed".into())),
    }
}

/// The files sled writes in its directory, for a checkpoint to make durable.
struct SledFiles {
    /// sled's data file, `db` (its log and snapshots of pages).
    data: std::fs::File,
    /// sled's `blobs` directory: a log message larger than a quarter of a segment (128 KiB: a
    /// page holding large values, such as a leaf of 16 vault buckets of 8 KiB or more) is
    /// written to its own file there, named by its log sequence number, which sled never
    /// `fsync`s.
    blobs: std::path::PathBuf,
    /// The highest sequence number of a blob file `fsync`ed so far (`None`: none yet, since
    /// this open).
    synced_blob: Mutex<Option<i64>>,
}

impl SledFiles {
    fn open(dir: &Path) -> Result<SledFiles> {
        // Read and write: Windows flushes only a handle open for writing.
        let data = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join("db"))?;
        Ok(SledFiles {
            data,
            blobs: dir.join("blobs"),
            synced_blob: Mutex::new(None),
        })
    }

    /// `fsync`s every blob file newer than the last one synced, then the directory that lists
    /// them, then the data file whose log points to them: after a checkpoint, nothing it
    /// covers is in a file the disk may not have. (sled recovers up to the first message it
    /// cannot read; a blob lost to a power cut before the checkpoint's entry would stop it
    /// short of the checkpoint, and the log's records before it are gone.)
    fn sync(&self) -> Result<()> {
        let mut synced = self
            .synced_blob
            .lock()
            .map_err(|_| Error::backend("sled", "a checkpoint panicked"))?;
        let mut newest = *synced;
        let entries = match std::fs::read_dir(&self.blobs) {
            Ok(entries) => Some(entries),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        for entry in entries.into_iter().flatten() {
            let entry = entry?;
            let Some(lsn) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i64>().ok())
            else {
                continue; // not sled's
            };
            if synced.is_some_and(|done| lsn <= done) {
                continue;
            }
            match std::fs::File::open(entry.path()) {
                Ok(file) => file.sync_data()?,
                // Collected by sled meanwhile: no longer needed.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            }
            newest = newest.max(Some(lsn));
        }
        if newest != *synced {
            super::super::private::sync_dir(&self.blobs)?;
        }
        self.data.sync_data()?;
        *synced = newest;
        Ok(())
    }
}

/// Stores checkpoint number `number` and makes everything applied so far durable: sled's
/// flush, then an `fsync` of the files it wrote ([`SledFiles::sync`]). (sled's flush writes
/// its log with `sync_file_range` on Linux, which neither flushes the disk's cache nor the
/// file's metadata, and never `fsync`s its blob files; sled's own periodic flusher, which
/// `fsync`s its data file, is off with the log.)
fn write_checkpoint(db: &sled::Db, files: &SledFiles, number: u64) -> Result<()> {
    db.insert(CHECKPOINT_KEY, &number.to_be_bytes())
        .map_err(map_err)?;
    db.flush().map_err(map_err)?;
    files.sync()
}

/// Applies the records of an existing log in directory `dir` to `db`, with the checkpoint
/// that follows them (for an open without a log: the caller then removes the file).
pub(crate) fn drain(db: &sled::Db, dir: &Path) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join(FILE))?;
    Log::open_file(db.clone(), dir, file).map(drop)
}

impl Log {
    /// Opens (creating if needed, private to its owner) the log of `db`, in directory `dir`,
    /// and applies the records after the checkpoint.
    pub(crate) fn open(db: sled::Db, dir: &Path) -> Result<Log> {
        let path = dir.join(FILE);
        super::super::private::create_file(&path)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        Self::open_file(db, dir, file)
    }

    fn open_file(db: sled::Db, dir: &Path, file: std::fs::File) -> Result<Log> {
        let files = SledFiles::open(dir)?;
        let checkpoint = read_checkpoint(&db)?;
        let (wal, records) = Wal::open(Box::new(FileLog::new(file)), POLICY, checkpoint)?;
        if !records.is_empty() {
            for record in &records {
                let (namespace, writes) = wal::decode(record)?;
                let tree = db.open_tree(tree_name(&namespace)).map_err(map_err)?;
                let mut parts = SledParts::replaying(&tree);
                for write in writes {
                    parts.apply(write)?;
                }
                tree.apply_batch(parts.into_batch()?).map_err(map_err)?;
            }
            write_checkpoint(&db, &files, checkpoint + records.len() as u64)?;
        }
        Ok(Log {
            db,
            files,
            wal,
            gate: Arc::new(async_lock::Mutex::new(())),
            #[cfg(test)]
            on_sync: Mutex::new(None),
        })
    }

    /// Waits (asynchronously) for the gate: no other writer of the database commits until the
    /// admission is dropped.
    pub(crate) async fn admit(&self) -> Admission {
        self.gate.lock_arc().await
    }

    /// Writes the record `recorder` holds at the position, without flushing it, and moves the
    /// position past it (only once it is written); `false` when this commit must be a
    /// checkpoint instead ([`Log::checkpoint`]). The caller holds the gate and applies the
    /// commit once the record is written.
    pub(crate) fn append(&self, recorder: &Recorder) -> Result<bool> {
        let mut position = self.wal.position();
        if self.wal.needs_checkpoint(&position, recorder) {
            return Ok(false);
        }
        self.wal.append(&mut position, recorder)?;
        Ok(true)
    }

    /// Makes the records written so far durable (blocking).
    pub(crate) fn sync(&self) -> Result<()> {
        #[cfg(test)]
        if let Some(hook) = &*self.on_sync.lock().unwrap_or_else(|e| e.into_inner()) {
            hook();
        }
        self.wal.sync()
    }

    /// A checkpoint (blocking): stores the next record's number, flushes sled and `fsync`s
    /// its file, so every write applied so far is durable; the log starts again at offset 0.
    /// The caller holds the gate and has applied its own writes.
    pub(crate) fn checkpoint(&self) -> Result<()> {
        let number = self.wal.position().checkpoint();
        write_checkpoint(&self.db, &self.files, number)?;
        self.wal.position().restart(number);
        Ok(())
    }
}

impl Drop for Log {
    /// On the last store handle's drop: a checkpoint when records are pending, so that after a
    /// clean close sled alone holds everything. If it fails, the records the log holds are
    /// applied on the next open.
    fn drop(&mut self) {
        if self.wal.position().records > 0 {
            let _ = self.checkpoint();
        }
        self.wal.close();
    }
}

#[cfg(test)]
mod tests {
    use super::super::SledStore;
    use crate::{Blocking, KVStore};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// sled writes its buffers to its file whenever one fills: a logged write must not reach
    /// sled before its record is durable, or a power cut could keep part of it without the
    /// record. A reader watching during the flush (200 ms) never sees it; right after, it does.
    #[test]
    fn a_logged_write_is_applied_only_once_its_record_is_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::builder()
            .blocking(Blocking::Offload)
            .open(dir.path())
            .unwrap();
        let seen_early = Arc::new(AtomicBool::new(false));
        let (reader, seen) = (store.clone(), seen_early.clone());
        *store.log.as_ref().unwrap().on_sync.lock().unwrap() = Some(Box::new(move || {
            let started = Instant::now();
            while started.elapsed() < Duration::from_millis(200) {
                if futures::executor::block_on(reader.get(b"k"))
                    .unwrap()
                    .is_some()
                {
                    seen.store(true, Ordering::SeqCst);
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }));
        futures::executor::block_on(store.set(b"k", b"v")).unwrap();
        assert!(
            !seen_early.load(Ordering::SeqCst),
            "applied before its record was flushed"
        );
        assert_eq!(
            futures::executor::block_on(store.get(b"k")).unwrap(),
            Some(b"v".to_vec())
        );
        *store.log.as_ref().unwrap().on_sync.lock().unwrap() = None;
    }

    /// sled writes a message past a quarter of its segment to a file of its own, which it
    /// never `fsync`s: a checkpoint does, every one written since the last.
    #[test]
    fn a_checkpoint_syncs_the_blob_files_sled_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let log = store.log.clone().unwrap();
        let newest_blob = || {
            std::fs::read_dir(dir.path().join("blobs"))
                .unwrap()
                .filter_map(|e| e.unwrap().file_name().to_str()?.parse::<i64>().ok())
                .max()
        };
        futures::executor::block_on(async {
            // Past the log's largest record: applied as a checkpoint.
            store.set(b"big", &vec![7; 2_300 << 10]).await.unwrap();
            let first = newest_blob().expect("sled wrote a blob file");
            assert_eq!(*log.files.synced_blob.lock().unwrap(), Some(first));
            // A later one, past the first.
            store.set(b"bigger", &vec![8; 2_400 << 10]).await.unwrap();
            let second = newest_blob().unwrap();
            assert!(second > first);
            assert_eq!(*log.files.synced_blob.lock().unwrap(), Some(second));
        });
        assert_eq!(
            futures::executor::block_on(store.get(b"bigger")).unwrap(),
            Some(vec![8; 2_400 << 10])
        );
    }
}
