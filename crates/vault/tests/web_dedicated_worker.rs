//! The vault suite on IndexedDB in a dedicated worker (see `suite/` and `web/host.rs`), and on
//! redb over the Origin Private File System, which only dedicated workers can hold.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[path = "web/host.rs"]
mod host;
mod suite;

mod on_opfs {
    crate::vault_suite!(wasm, kvstore::testing::stores::opfs);
}
