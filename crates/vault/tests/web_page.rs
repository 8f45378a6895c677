//! The vault suite on IndexedDB in a page (see `suite/` and `web/host.rs`).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[path = "web/host.rs"]
mod host;
mod suite;
