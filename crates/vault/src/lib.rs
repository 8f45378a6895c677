#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc)]

#[cfg(all(test, target_arch = "wasm32", target_os = "unknown"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod backup;
mod blind;
mod cipher;
mod crypto;
mod error;
pub mod eth;
mod format;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod hd;
pub mod io;
mod keys;
mod keyspace;
pub mod keystore;
mod manifest;
mod records;
// Unicode NFC of passwords: the browser's own `String.prototype.normalize` in a browser (its
// ICU tables would add ~130 KB to the package), the `unicode-normalization` crate elsewhere
// (native, WASI).
#[cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), path = "nfc/js.rs")]
#[cfg_attr(
    not(all(target_arch = "wasm32", target_os = "unknown")),
    path = "nfc/native.rs"
)]
mod nfc;
mod secret;
mod session;
mod stream;
mod sync;
mod vault;
mod wallet;

pub use backup::BACKUP_MAGIC;
pub use blind::BlindNames;
pub use cipher::CIPHERTEXT_OVERHEAD;
pub use crypto::KdfParams;
pub use error::{Error, ErrorCode, Item, Result, Tampering};
pub use keys::{
    eth_address, eth_checksum_address, eth_personal_hash, parse_eth_address, recover_eth_personal,
    verify, verify_eth_personal, KeyType,
};
pub use keyspace::{UnlockedKeyspace, MAX_ITEM_NAME_LEN, MAX_KEYSPACE_NAME_LEN};
pub use secret::SecretBytes;
pub use session::{Session, SessionOptions};
pub use stream::{StreamDecryptor, StreamEncryptor, CHUNK_SIZE, STREAM_MAGIC};
pub use sync::{sync_auth_key, sync_keys, HistoryEntry, SyncKeys, SyncReport};
pub use vault::{Access, Derivation, KeyInfo, Vault, VaultBuilder};
pub use zeroize::Zeroizing;
