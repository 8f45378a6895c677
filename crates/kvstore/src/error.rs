use thiserror::Error;

/// The result of every store operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure reported by a storage engine, kept as the [`source`](std::error::Error::source)
/// of [`Error::Backend`] (an engine's own error type natively; a JavaScript exception's name
/// and message in a browser, see [`JsFailure`]).
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a store operation can fail with, for every backend.
///
/// Variants say what a caller can do: retry later ([`Error::Busy`]), free space
/// ([`Error::QuotaExceeded`]), give up on this backend ([`Error::Unavailable`]), or fix the
/// request ([`Error::InvalidInput`], [`Error::KeyExists`]). [`Error::kind`] classifies every
/// variant into an [`ErrorKind`], a closed set a front end can match without a catch-all arm.
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
    /// A precondition of the batch ([`Batch::require_version`](crate::Batch::require_version)
    /// and the like) did not hold; nothing of the batch was applied. `current` is the key's
    /// version now (`None`: absent), so a caller can retry without reading it again.
    #[error("conflict: the key is not as the batch expected; the batch was not applied")]
    Conflict {
        /// The key whose precondition failed.
        key: Vec<u8>,
        /// What the batch expected.
        expected: crate::Expect,
        /// The key's current version, `None` when absent.
        current: Option<u64>,
    },
    /// [`KVStore::changes`](crate::KVStore::changes) was asked for changes since a version
    /// older than the namespace's horizon: tombstones of deletions after `since` may have been
    /// pruned. Resynchronise from a full scan, then follow the feed from
    /// [`KVStore::last_version`](crate::KVStore::last_version) read before it.
    #[error("changes since version {since} are no longer complete (horizon {horizon}); resync from a full scan")]
    ChangesExpired {
        /// The version asked for.
        since: u64,
        /// The oldest version changes can be asked since.
        horizon: u64,
    },
    /// The code producing a [`KVStore::batch_with`](crate::KVStore::batch_with) batch stopped
    /// it by returning this error; nothing of the batch was applied. The message is the
    /// producer's.
    #[error("batch aborted by its producer: {0}")]
    Aborted(String),
    /// The request itself is invalid (oversized key or value, bad namespace name).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Any other failure reported by the backend; the engine's error is the
    /// [`source`](std::error::Error::source).
    #[error("storage backend {backend} failed: {source}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// What it reported.
        #[source]
        source: BackendError,
    },
}

/// The class of an [`Error`](enum@Error): one per variant, and closed (adding a class is a breaking
/// change), so `vault`'s error codes, the CLI's exit codes and the JavaScript codes can match
/// it exhaustively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// [`Error::Unavailable`].
    Unavailable,
    /// [`Error::Busy`].
    Busy,
    /// [`Error::QuotaExceeded`].
    QuotaExceeded,
    /// [`Error::Io`].
    Io,
    /// [`Error::Corrupted`].
    Corrupted,
    /// [`Error::KeyExists`].
    KeyExists,
    /// [`Error::Conflict`].
    Conflict,
    /// [`Error::ChangesExpired`].
    ChangesExpired,
    /// [`Error::Aborted`].
    Aborted,
    /// [`Error::InvalidInput`].
    InvalidInput,
    /// [`Error::Backend`].
    Backend,
}

impl Error {
    /// This error's class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Busy(_) => ErrorKind::Busy,
            Error::QuotaExceeded(_) => ErrorKind::QuotaExceeded,
            Error::Io(_) => ErrorKind::Io,
            Error::Corrupted(_) => ErrorKind::Corrupted,
            Error::KeyExists { .. } => ErrorKind::KeyExists,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::ChangesExpired { .. } => ErrorKind::ChangesExpired,
            Error::Aborted(_) => ErrorKind::Aborted,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::Backend { .. } => ErrorKind::Backend,
        }
    }

    pub(crate) fn backend(backend: &'static str, source: impl Into<BackendError>) -> Self {
        Error::Backend {
            backend,
            source: source.into(),
        }
    }
}

/// A JavaScript exception (or any other failure reported by a browser API), as the source of
/// [`Error::Backend`]: its `name` (`"AbortError"`, `"DataError"`, …; empty when it had none) and
/// message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{name}: {message}")]
pub struct JsFailure {
    /// The exception's name.
    pub name: String,
    /// Its message.
    pub message: String,
}
