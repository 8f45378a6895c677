//! JavaScript bindings of [`vault`](../vault/README.md) on IndexedDB (see this crate's README for
//! the JavaScript API). Every export forwards to the `vault` crate; the only code here converts
//! types (bytes ↔ `Uint8Array`, errors → `Error` objects with a stable `code`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(any(target_arch = "wasm32", test))]
mod executor;
#[cfg(any(target_arch = "wasm32", test))]
mod queue;
#[cfg(target_arch = "wasm32")]
pub use bindings::*;
