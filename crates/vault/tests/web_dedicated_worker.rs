//! The vault suite on IndexedDB in a dedicated worker (see `suite/` and `web/host.rs`).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[path = "web/host.rs"]
mod host;
mod suite;
