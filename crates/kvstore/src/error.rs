use thiserror::Error;

/// The result of every store operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a store operation can fail with, for every backend.
///
/// Variants say what a caller can do: retry later ([`Error::Busy`]), free space
/// ([`Error::QuotaExceeded`]), give up on this backend ([`Error::Unavailable`]), or fix the
/// request ([`Error::InvalidInput`], [`Error::KeyExists`]).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend cannot be used in this environment: no IndexedDB in this context (for
    /// example a private window that disables it), or a storage engine that failed to start.
    #[error("storage backend {backend} is unavailable: {reason}")]
    Unavailable {
        /// Which backend (`"sled"`, `"redb"`, `"indexeddb"`, `"memory"`).
        backend: &'static str,
        /// What the backend reported.
        reason: String,
    },
    /// Another user holds the store: a file locked by another process, or an IndexedDB open
    /// blocked by another tab that keeps an older version open. Retry later or close the other
    /// user.
    #[error("storage is busy: {0}")]
    Busy(String),
    /// The storage quota of the origin or the disk is exhausted; nothing of the failed write
    /// was applied.
    #[error("storage quota exceeded: {0}")]
    QuotaExceeded(String),
    /// An operating-system I/O error.
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The stored data is not what this crate wrote (damaged file, foreign data in the
    /// IndexedDB object store).
    #[error("stored data is corrupted: {0}")]
    Corrupted(String),
    /// A [`Batch`](crate::Batch) `create` found its key already present; the batch was not
    /// applied.
    #[error("key already exists; the batch was not applied")]
    KeyExists {
        /// The key that was present.
        key: Vec<u8>,
    },
    /// The code producing a [`KVStore::batch_with`](crate::KVStore::batch_with) batch stopped
    /// it by returning this error; nothing of the batch was applied. The message is the
    /// producer's.
    #[error("batch aborted by its producer: {0}")]
    Aborted(String),
    /// The request itself is invalid (oversized key or value, bad namespace name).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Any other failure reported by the backend, with its message.
    #[error("storage backend {backend} failed: {message}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// What it reported.
        message: String,
    },
}

impl Error {
    pub(crate) fn backend(backend: &'static str, message: impl ToString) -> Self {
        Error::Backend {
            backend,
            message: message.to_string(),
        }
    }
}
