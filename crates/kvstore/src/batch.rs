use crate::keys::{check_key, check_value};
use crate::Result;

/// One operation of a [`Batch`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchOp {
    /// Store `value` under `key`, replacing any previous value.
    Set {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Store `value` under `key` only if `key` is absent; otherwise the whole batch fails with
    /// [`Error::KeyExists`](crate::Error::KeyExists) and nothing of it is applied.
    Create {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove `key` (absent keys are not an error).
    Delete {
        /// The key.
        key: Vec<u8>,
    },
    /// A precondition: unless `key` is as `expect` says before the batch, the whole batch fails
    /// with [`Error::Conflict`](crate::Error::Conflict) and nothing of it is applied. Writes
    /// nothing.
    Require {
        /// The key.
        key: Vec<u8>,
        /// What the key must be.
        expect: Expect,
    },
}

/// What a [`BatchOp::Require`] precondition expects of its key, before the batch is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Expect {
    /// The key is absent (never written, or deleted).
    Absent,
    /// The key is present, at any version.
    Present,
    /// The key is present at exactly this version (from
    /// [`KVStore::get_versioned`](crate::KVStore::get_versioned), a change, or a conflict).
    Version(u64),
}

impl std::fmt::Debug for BatchOp {
    // Values may be ciphertexts or anything else the caller wants kept out of logs: show sizes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchOp::Set { key, value } => write!(f, "Set({key:02x?}, {} bytes)", value.len()),
            BatchOp::Create { key, value } => {
                write!(f, "Create({key:02x?}, {} bytes)", value.len())
            }
            BatchOp::Delete { key } => write!(f, "Delete({key:02x?})"),
            BatchOp::Require { key, expect } => write!(f, "Require({key:02x?}, {expect:?})"),
        }
    }
}

impl BatchOp {
    /// The key this operation touches.
    pub fn key(&self) -> &[u8] {
        match self {
            BatchOp::Set { key, .. }
            | BatchOp::Create { key, .. }
            | BatchOp::Delete { key }
            | BatchOp::Require { key, .. } => key,
        }
    }
}

/// Sets, creates and deletes applied atomically by [`KVStore::batch`](crate::KVStore::batch):
/// after the call every operation is applied, or none is.
///
/// Operations apply in order, so a later operation on the same key wins. Preconditions
/// ([`require_version`](Self::require_version) and the like) are all checked, against the state
/// before the batch, before anything is written; each written key gets the next version of the
/// namespace, in the batch's order.
///
/// ```
/// let mut batch = kvstore::Batch::new();
/// batch.set(b"a", b"1").delete(b"b").create(b"c", b"3");
/// batch.require_version(b"d", 7);
/// assert_eq!(batch.len(), 4);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    ops: Vec<BatchOp>,
}

impl Batch {
    /// A batch of `ops` (checked by whoever made them, or by the commit's validation).
    #[cfg_attr(
        any(
            not(any(feature = "sled", feature = "redb")),
            all(target_arch = "wasm32", target_os = "unknown")
        ),
        allow(dead_code)
    )]
    pub(crate) fn from_ops(ops: Vec<BatchOp>) -> Batch {
        Batch { ops }
    }

    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a [`BatchOp::Set`].
    pub fn set(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Set {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Adds a [`BatchOp::Create`]: the batch fails unless `key` is absent.
    pub fn create(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Create {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Adds a [`BatchOp::Delete`].
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Delete { key: key.into() });
        self
    }

    /// Adds a precondition: `key` is absent before the batch.
    pub fn require_absent(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.require(key, Expect::Absent)
    }

    /// Adds a precondition: `key` is present before the batch.
    pub fn require_present(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.require(key, Expect::Present)
    }

    /// Adds a precondition: `key` is present at exactly `version` before the batch (a
    /// compare-and-swap when the batch also sets `key`).
    pub fn require_version(&mut self, key: impl Into<Vec<u8>>, version: u64) -> &mut Self {
        self.require(key, Expect::Version(version))
    }

    /// Adds a [`BatchOp::Require`].
    pub fn require(&mut self, key: impl Into<Vec<u8>>, expect: Expect) -> &mut Self {
        self.ops.push(BatchOp::Require {
            key: key.into(),
            expect,
        });
        self
    }

    /// The operations, in order.
    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    /// Takes the operations out.
    pub fn into_ops(self) -> Vec<BatchOp> {
        self.ops
    }

    /// How many operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// No operations?
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Whether any operation is a [`BatchOp::Create`], which needs a read inside the write.
    pub fn has_create(&self) -> bool {
        self.ops
            .iter()
            .any(|op| matches!(op, BatchOp::Create { .. }))
    }

    /// Checks every key and value against the limits before anything is written.
    pub(crate) fn validate(&self) -> Result<()> {
        for op in &self.ops {
            check_key(op.key())?;
            if let BatchOp::Set { value, .. } | BatchOp::Create { value, .. } = op {
                check_value(value)?;
            }
        }
        Ok(())
    }
}

/// Where [`KVStore::batch_with`](crate::KVStore::batch_with) sends the operations of a batch as
/// its producer makes them. Each call checks the key and value limits at once; an error means
/// the batch will not be applied, and the producer should return it.
pub trait BatchSink {
    /// Adds a [`BatchOp::Set`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a key or value over the limits;
    /// an IndexedDB request the browser refuses (the transaction is then aborted).
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
    /// Adds a [`BatchOp::Create`].
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set).
    fn create(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
    /// Adds a [`BatchOp::Delete`].
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set), for the key.
    fn delete(&mut self, key: &[u8]) -> Result<()>;
    /// Adds a [`BatchOp::Require`] precondition.
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set), for the key.
    fn require(&mut self, key: &[u8], expect: Expect) -> Result<()>;
}

/// The sink of backends that apply a whole [`Batch`] at once: collects, checking as it goes.
pub(crate) struct Collect(pub(crate) Batch);

impl BatchSink for Collect {
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.0.set(key, value);
        Ok(())
    }

    fn create(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.0.create(key, value);
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.0.delete(key);
        Ok(())
    }

    fn require(&mut self, key: &[u8], expect: Expect) -> Result<()> {
        check_key(key)?;
        self.0.require(key, expect);
        Ok(())
    }
}

/// The producer [`KVStore::batch_with`](crate::KVStore::batch_with) calls: any closure on
/// wasm32, a `Send` one natively (like every future of this crate, see
/// [`MaybeSend`](crate::MaybeSend)).
#[cfg(not(target_arch = "wasm32"))]
pub type BatchFill<'a> = dyn FnMut(&mut dyn BatchSink) -> Result<()> + Send + 'a;
/// The producer [`KVStore::batch_with`](crate::KVStore::batch_with) calls: any closure on
/// wasm32, a `Send` one natively (like every future of this crate, see
/// [`MaybeSend`](crate::MaybeSend)).
#[cfg(target_arch = "wasm32")]
pub type BatchFill<'a> = dyn FnMut(&mut dyn BatchSink) -> Result<()> + 'a;
