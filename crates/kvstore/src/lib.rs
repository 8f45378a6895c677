#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc)]

mod batch;
mod error;
mod keys;
mod maybe_send;
mod store;
mod versions;

pub mod backend;

#[cfg(feature = "testing")]
pub mod testing;

pub use async_trait::async_trait;
pub use batch::{Batch, BatchFill, BatchOp, BatchSink, Expect};
pub use error::{BackendError, Error, ErrorKind, JsFailure, Result};
pub use keys::{validate_namespace, MAX_KEY_LEN, MAX_NAMESPACE_LEN, MAX_VALUE_LEN};
pub use maybe_send::{MaybeSend, MaybeSync};
pub use store::{Change, Entry, KVStore, Scan, DEFAULT_NAMESPACE, SCAN_PAGE};
pub use versions::DEFAULT_TOMBSTONE_RETENTION;

#[cfg(all(feature = "indexeddb", target_arch = "wasm32", target_os = "unknown"))]
pub use backend::indexeddb::{Durability, IndexedDbBuilder, IndexedDbStore};
pub use backend::memory::MemoryStore;
#[cfg(all(feature = "opfs", target_arch = "wasm32", target_os = "unknown"))]
pub use backend::opfs::OpfsBackend;
#[cfg(all(feature = "postgres", not(target_arch = "wasm32")))]
pub use backend::postgres::{PostgresBuilder, PostgresStore, TenantUsage};
#[cfg(any(
    all(
        feature = "redb",
        not(all(target_arch = "wasm32", target_os = "unknown"))
    ),
    all(feature = "opfs", target_arch = "wasm32", target_os = "unknown")
))]
pub use backend::redb::{RedbBuilder, RedbStore};
#[cfg(all(feature = "sled", not(target_arch = "wasm32")))]
pub use backend::sled::{SledBuilder, SledStore};
#[cfg(any(
    all(
        any(feature = "sled", feature = "redb"),
        not(all(target_arch = "wasm32", target_os = "unknown"))
    ),
    all(feature = "opfs", target_arch = "wasm32", target_os = "unknown")
))]
pub use backend::Blocking;

/// The backend a native application gets when it does not choose one: sled, the store the
/// original design names. See the crate README for the trade-off against `RedbStore`.
#[cfg(all(feature = "sled", not(target_arch = "wasm32")))]
pub type DefaultStore = SledStore;

/// The backend a browser application gets: IndexedDB.
#[cfg(all(feature = "indexeddb", target_arch = "wasm32", target_os = "unknown"))]
pub type DefaultStore = IndexedDbStore;
