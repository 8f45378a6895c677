//! `vault-server`: a sync server for vault stores on PostgreSQL. Accounts, each with its own
//! kvstore tenant; an HTTP API (version 1, `README.md`) for conditional batches, reads, scans
//! and the change feed with long polling. The server stores and returns opaque bytes: the
//! vault encrypts everything before it leaves the client, so the server never sees a
//! password, a key, a name or a plaintext.
#![forbid(unsafe_code)]
#![cfg(not(target_arch = "wasm32"))]

mod api;
mod auth;

pub use api::{app, AppState, Config};
pub use auth::HashCost;
