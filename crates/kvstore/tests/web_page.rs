//! The browser suite in a page (see `web/suite.rs`).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[path = "web/suite.rs"]
mod suite;

#[path = "web/opfs_unavailable.rs"]
mod opfs_unavailable;
