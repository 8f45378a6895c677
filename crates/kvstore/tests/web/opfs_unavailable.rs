// Included by the page and service-worker test files: contexts without sync access handles.

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
