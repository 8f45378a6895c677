use thiserror::Error;

/// The result of every vault operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a vault operation can fail with. Messages never contain passwords, keys or
/// secret values. [`Error::code`] classifies every error into an [`ErrorCode`], from which the
/// CLI's exit codes and the JavaScript package's error codes both come.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The password does not open this keyspace (or its stored key record was altered). The
    /// store is unchanged.
    #[error("wrong password for keyspace {keyspace:?}")]
    WrongPassword {
        /// The keyspace.
        keyspace: String,
    },
    /// The session is locked, or expired after its idle timeout: unlock again.
    #[error("the session is locked; unlock the keyspace again")]
    Locked,
    /// No such keyspace, key pair or secret.
    #[error("{item} {name:?} not found")]
    NotFound {
        /// What was looked for.
        item: Item,
        /// Its name.
        name: String,
    },
    /// A keyspace, key pair or secret of that name, or (importing a backup) a keyspace with
    /// that id, already exists.
    #[error("{item} {name:?} already exists")]
    AlreadyExists {
        /// What exists.
        item: Item,
        /// Its name (a keyspace id in hex).
        name: String,
    },
    /// The caller's input is invalid (a bad name, a malformed key or signature, parameters out
    /// of bounds); the message says which and why.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A ciphertext, stream or backup failed authentication: it was altered, truncated,
    /// reordered, or belongs to another keyspace.
    #[error("decryption failed: {0}")]
    DecryptionFailed(&'static str),
    /// A stored record failed authentication or does not parse: the store was altered or
    /// damaged. Nothing was returned from it.
    #[error("stored data is corrupted: {0}")]
    Corrupted(String),
    /// Data written by a newer format version, or with an algorithm this build does not know.
    #[error("unsupported format: {0}")]
    UnsupportedFormat(String),
    /// The operating system's (natively) or the browser's (`crypto.getRandomValues`) random
    /// source failed; nothing was written.
    #[error("no secure random source available")]
    RandomSource(#[source] getrandom::Error),
    /// Another writer (a session, a tab, a process) changed what this operation read before
    /// it could write: a password change, rekey or deletion of the keyspace, or the same record.
    /// Nothing was written; read again and retry if it still applies.
    #[error("the vault changed meanwhile (another writer); nothing was written, retry")]
    Conflict,
    /// The store holds a state of the keyspace that the keyspace never wrote, or one older than
    /// a revision already seen: a record replayed, put back after its deletion or removed, or
    /// the keyspace rolled back (see [`Tampering`] and `docs/SECURITY.md`). Nothing was read
    /// from or written over it.
    #[error("keyspace {keyspace:?} was tampered with: {tampering}")]
    Tampered {
        /// The keyspace.
        keyspace: String,
        /// What was found.
        tampering: Tampering,
    },
    /// The storage backend failed.
    #[error(transparent)]
    Storage(kvstore::Error),
}

/// What [`Error::Tampered`] found. Names appear only where the vault could decrypt them (they
/// are never in the clear in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tampering {
    /// A record holds an older value than the keyspace's manifest lists for it (a replay).
    Replayed {
        /// What the record holds.
        item: Item,
        /// Its name.
        name: String,
    },
    /// A record the manifest does not list is present: a deleted record put back, or one
    /// copied in.
    Resurrected {
        /// What the record holds.
        item: Item,
        /// Its name.
        name: String,
    },
    /// A record the manifest lists is missing (deleted behind the vault's back).
    Missing {
        /// What the record held.
        item: Item,
        /// Its name, when the caller asked for it by name.
        name: Option<String>,
    },
    /// The keyspace is at an older revision than one already seen by this keyspace value (or
    /// anchored with [`UnlockedKeyspace::anchor_revision`](crate::UnlockedKeyspace::anchor_revision)),
    /// or a record is newer than the manifest: the manifest was rolled back.
    RolledBack {
        /// The revision seen or anchored before.
        seen: u64,
        /// The revision found.
        found: u64,
    },
    /// The manifest is missing, does not authenticate, or a bucket does not match it.
    ManifestInvalid {
        /// Which.
        reason: &'static str,
    },
}

impl std::fmt::Display for Tampering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tampering::Replayed { item, name } => {
                write!(f, "an older value of {item} {name:?} was put back")
            }
            Tampering::Resurrected { item, name } => write!(
                f,
                "{item} {name:?} is present but the keyspace never wrote it or deleted it"
            ),
            Tampering::Missing { item, name: Some(name) } => {
                write!(f, "{item} {name:?} was removed from the store")
            }
            Tampering::Missing { item, name: None } => {
                write!(f, "a {item} was removed from the store")
            }
            Tampering::RolledBack { seen, found } => write!(
                f,
                "the keyspace is at revision {found}, older than revision {seen} seen before (rolled back)"
            ),
            Tampering::ManifestInvalid { reason } => f.write_str(reason),
        }
    }
}

impl From<kvstore::Error> for Error {
    fn from(err: kvstore::Error) -> Self {
        match err {
            kvstore::Error::Conflict { .. } => Error::Conflict,
            other => Error::Storage(other),
        }
    }
}

/// What an [`Error::NotFound`] or [`Error::AlreadyExists`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Item {
    /// A keyspace (by name).
    Keyspace,
    /// A keyspace id (importing a backup whose keyspace is already here under another name, or
    /// was crafted to alias one).
    KeyspaceId,
    /// A key pair.
    KeyPair,
    /// A secret.
    Secret,
    /// A value kept after it lost a sync conflict.
    History,
    /// An HD wallet seed (from a BIP39 mnemonic).
    Seed,
}

impl Item {
    /// `"keyspace"`, `"keyspace id"`, `"key pair"`, `"secret"`, `"history entry"` or `"seed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Item::Keyspace => "keyspace",
            Item::KeyspaceId => "keyspace id",
            Item::KeyPair => "key pair",
            Item::Secret => "secret",
            Item::History => "history entry",
            Item::Seed => "seed",
        }
    }
}

impl std::fmt::Display for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one classification of errors that every front end uses: the CLI maps it to exit codes,
/// the JavaScript package to `VaultError.code` ([`ErrorCode::as_str`]). Closed on purpose (not
/// `#[non_exhaustive]`): a new code is a breaking change that every front end must handle,
/// never absorbed by a catch-all arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// [`Error::WrongPassword`].
    WrongPassword,
    /// [`Error::Locked`].
    Locked,
    /// [`Error::NotFound`].
    NotFound,
    /// [`Error::AlreadyExists`].
    AlreadyExists,
    /// [`Error::InvalidInput`], or a storage request the backend refused as invalid.
    InvalidInput,
    /// [`Error::DecryptionFailed`].
    DecryptionFailed,
    /// [`Error::Corrupted`], or storage that reports damaged data.
    Corrupted,
    /// [`Error::UnsupportedFormat`].
    UnsupportedFormat,
    /// [`Error::RandomSource`].
    RandomSourceFailed,
    /// Storage held by another process or tab (`kvstore::Error::Busy`).
    StorageBusy,
    /// Storage quota exhausted (`kvstore::Error::QuotaExceeded`).
    QuotaExceeded,
    /// No usable storage here (`kvstore::Error::Unavailable`).
    StorageUnavailable,
    /// Any other storage failure (I/O, the engine's own errors).
    StorageError,
    /// Another writer changed what this operation read before it could write (a precondition
    /// of its batch failed): [`Error::Conflict`]; nothing was written. Retry.
    Conflict,
    /// [`Error::Tampered`]: the store was altered behind the vault's back (a replayed, restored
    /// or removed record, a rolled-back keyspace).
    Tampered,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::WrongPassword,
        ErrorCode::Locked,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::InvalidInput,
        ErrorCode::DecryptionFailed,
        ErrorCode::Corrupted,
        ErrorCode::UnsupportedFormat,
        ErrorCode::RandomSourceFailed,
        ErrorCode::StorageBusy,
        ErrorCode::QuotaExceeded,
        ErrorCode::StorageUnavailable,
        ErrorCode::StorageError,
        ErrorCode::Conflict,
        ErrorCode::Tampered,
    ];

    /// The stable name, as JavaScript sees it in `VaultError.code` and the CLI prints in
    /// `--json` errors: `"WRONG_PASSWORD"`, `"STORAGE_BUSY"`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::WrongPassword => "WRONG_PASSWORD",
            ErrorCode::Locked => "LOCKED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::InvalidInput => "INVALID_INPUT",
            ErrorCode::DecryptionFailed => "DECRYPTION_FAILED",
            ErrorCode::Corrupted => "CORRUPTED",
            ErrorCode::UnsupportedFormat => "UNSUPPORTED_FORMAT",
            ErrorCode::RandomSourceFailed => "RANDOM_SOURCE_FAILED",
            ErrorCode::StorageBusy => "STORAGE_BUSY",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::StorageUnavailable => "STORAGE_UNAVAILABLE",
            ErrorCode::StorageError => "STORAGE_ERROR",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::Tampered => "TAMPERED",
        }
    }

    /// The code of a storage error.
    pub fn of_storage(kind: kvstore::ErrorKind) -> ErrorCode {
        use kvstore::ErrorKind as K;
        match kind {
            K::Busy => ErrorCode::StorageBusy,
            K::QuotaExceeded => ErrorCode::QuotaExceeded,
            K::Unavailable => ErrorCode::StorageUnavailable,
            K::InvalidInput => ErrorCode::InvalidInput,
            K::Corrupted => ErrorCode::Corrupted,
            K::KeyExists => ErrorCode::AlreadyExists,
            K::Conflict => ErrorCode::Conflict,
            K::Io | K::Aborted | K::Backend | K::ChangesExpired => ErrorCode::StorageError,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// This error's class.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::WrongPassword { .. } => ErrorCode::WrongPassword,
            Error::Locked => ErrorCode::Locked,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            Error::InvalidInput(_) => ErrorCode::InvalidInput,
            Error::DecryptionFailed(_) => ErrorCode::DecryptionFailed,
            Error::Corrupted(_) => ErrorCode::Corrupted,
            Error::UnsupportedFormat(_) => ErrorCode::UnsupportedFormat,
            Error::RandomSource(_) => ErrorCode::RandomSourceFailed,
            Error::Conflict => ErrorCode::Conflict,
            Error::Tampered { .. } => ErrorCode::Tampered,
            Error::Storage(storage) => ErrorCode::of_storage(storage.kind()),
        }
    }

    pub(crate) fn not_found(item: Item, name: &str) -> Self {
        Error::NotFound {
            item,
            name: name.to_owned(),
        }
    }
}
