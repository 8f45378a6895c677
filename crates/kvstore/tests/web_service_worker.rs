//! The browser suite in a service worker (see `web/suite.rs`).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_service_worker);

#[path = "web/suite.rs"]
mod suite;

/// Outside a dedicated worker there is no sync access handle: opening redb over OPFS fails at
/// once with `Unavailable`, saying why.
#[wasm_bindgen_test::wasm_bindgen_test]
async fn redb_over_opfs_is_unavailable_here() {
    match kvstore::RedbStore::open_opfs("never-created").await {
        Err(kvstore::Error::Unavailable { backend, reason }) => {
            assert_eq!(backend, "opfs");
            assert!(reason.contains("dedicated worker"), "{reason}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
