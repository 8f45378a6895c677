use thiserror::Error;

/// The result of every vault operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a vault operation can fail with. Messages never contain passwords, keys or
/// secret values.
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
    #[error("{kind} {name:?} not found")]
    NotFound {
        /// `"keyspace"`, `"key pair"` or `"secret"`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A keyspace, key pair or secret of that name already exists.
    #[error("{kind} {name:?} already exists")]
    AlreadyExists {
        /// `"keyspace"`, `"key pair"` or `"secret"`.
        kind: &'static str,
        /// Its name.
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
    /// The storage backend failed.
    #[error(transparent)]
    Storage(#[from] kvstore::Error),
}
