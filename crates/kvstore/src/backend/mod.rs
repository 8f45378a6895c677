//! The storage engines behind [`KVStore`](crate::KVStore), one module each; the platform choice
//! is made here, at the `mod` lines.

pub mod memory;

#[cfg(not(target_arch = "wasm32"))]
pub mod redb;
#[cfg(not(target_arch = "wasm32"))]
pub mod sled;

#[cfg(target_arch = "wasm32")]
pub mod indexeddb;
