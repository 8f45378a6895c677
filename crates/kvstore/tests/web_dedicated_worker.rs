//! The browser suite in a dedicated worker (see `web/suite.rs`).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[path = "web/suite.rs"]
mod suite;
