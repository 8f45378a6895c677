//! A batch fed to its commit while its producer still makes it
//! ([`KVStore::batch_with_versioned`](crate::KVStore::batch_with_versioned) on sled and redb,
//! natively, with [`Blocking::Offload`](super::Blocking::Offload)): the producer's sink
//! ([`Forward`]) checks each operation and sends them in chunks over a channel; the commit,
//! started on the thread pool with the first full chunk, applies each chunk as it arrives
//! ([`Feed::commit`]), so making the operations (the vault sealing records) and writing them
//! overlap. A batch smaller than a chunk never starts it: the sink hands it back whole, to be
//! applied like any batch.

use std::sync::mpsc::{self, Receiver, Sender};

use crate::keys::{check_key, check_value};
use crate::versions::{Parts, Streamed};
use crate::{BatchOp, BatchSink, Error, Expect, Result};

/// Operations per message: a thread wake-up for every 64 operations, not for each.
pub(crate) const CHUNK: usize = 64;

/// What the producer sends.
enum Message {
    Ops(Vec<BatchOp>),
    /// The producer finished: the commit may be made.
    End,
}

/// The producer's sink.
pub(crate) struct Forward<'a> {
    sender: Sender<Message>,
    buffer: Vec<BatchOp>,
    /// Starts the commit, called with the first full chunk (taken then).
    start: Option<Box<dyn FnOnce() + 'a>>,
}

/// The commit's side of the channel.
pub(crate) struct Feed(Receiver<Message>);

/// The producer's end of the channel, before it becomes a sink.
pub(crate) struct Outlet(Sender<Message>);

/// A channel from a producer to a commit.
pub(crate) fn channel() -> (Outlet, Feed) {
    let (sender, receiver) = mpsc::channel();
    (Outlet(sender), Feed(receiver))
}

impl Outlet {
    /// The producer's sink; `start` is called once, before the first full chunk is sent.
    pub(crate) fn sink<'a>(self, start: Box<dyn FnOnce() + 'a>) -> Forward<'a> {
        Forward {
            sender: self.0,
            buffer: Vec::with_capacity(CHUNK),
            start: Some(start),
        }
    }
}

/// The error the sink returns once the commit stopped (its own error is the one reported).
fn stopped() -> Error {
    Error::Aborted("the commit stopped before the batch was complete".into())
}

impl Forward<'_> {
    fn start(&mut self) {
        if let Some(start) = self.start.take() {
            start();
        }
    }

    fn push(&mut self, op: BatchOp) -> Result<()> {
        self.buffer.push(op);
        if self.buffer.len() >= CHUNK {
            self.start();
            let ops = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
            self.sender.send(Message::Ops(ops)).map_err(|_| stopped())?;
        }
        Ok(())
    }

    /// Ends the batch: sends what is left and the end, or, if the commit never started (the
    /// batch is smaller than a chunk), returns the operations, for the caller to apply whole.
    pub(crate) fn end(mut self) -> Result<Option<Vec<BatchOp>>> {
        let ops = std::mem::take(&mut self.buffer);
        if self.start.is_some() {
            return Ok(Some(ops));
        }
        if !ops.is_empty() {
            self.sender.send(Message::Ops(ops)).map_err(|_| stopped())?;
        }
        self.sender.send(Message::End).map_err(|_| stopped())?;
        Ok(None)
    }
}

impl BatchSink for Forward<'_> {
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.push(BatchOp::Set {
            key: key.to_vec(),
            value: value.to_vec(),
        })
    }

    fn create(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.push(BatchOp::Create {
            key: key.to_vec(),
            value: value.to_vec(),
        })
    }

    fn delete(&mut self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.push(BatchOp::Delete { key: key.to_vec() })
    }

    fn require(&mut self, key: &[u8], expect: Expect) -> Result<()> {
        check_key(key)?;
        self.push(BatchOp::Require {
            key: key.to_vec(),
            expect,
        })
    }
}

impl Feed {
    /// Applies every operation the producer sends through `parts`, as they arrive, and
    /// finishes the commit when it ends. Returns the namespace's last version.
    ///
    /// # Errors
    ///
    /// As [`Streamed`]; [`Error::Aborted`] if the producer stopped without ending the batch.
    /// The transaction must then be dropped.
    pub(crate) fn commit(self, parts: &mut impl Parts, retention: u64) -> Result<u64> {
        let mut commit = Streamed::begin(parts, retention)?;
        loop {
            match self.0.recv() {
                Ok(Message::Ops(ops)) => {
                    for op in &ops {
                        commit.apply(op)?;
                    }
                }
                Ok(Message::End) => return commit.finish(),
                Err(_) => return Err(Error::Aborted("the batch's producer failed".into())),
            }
        }
    }
}

/// What [`Blocking::stream`](super::Blocking::stream) did with a batch.
pub(crate) enum Fed<T> {
    /// Committed while it was made, with the commit's answer (never in a browser worker).
    Committed(T),
    /// Not committed: the whole batch, to apply like any batch.
    Whole(crate::Batch),
}

impl<T> Fed<T> {
    /// Collects what `fill` sends.
    pub(crate) fn collect(fill: &mut crate::BatchFill<'_>) -> Result<Self> {
        let mut sink = crate::batch::Collect(crate::Batch::new());
        fill(&mut sink)?;
        Ok(Fed::Whole(sink.0))
    }
}
