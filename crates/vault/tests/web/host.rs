// Browser host of the vault suite: runs every case on IndexedDB (and memory), included by each
// execution-context test file.

pub use kvstore::testing::stores::{indexeddb, memory};

mod on_indexeddb {
    crate::vault_suite!(wasm, crate::host::indexeddb);
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn memory_store_works_in_the_browser_too() {
    crate::suite::stateless_api_end_to_end(memory().await.0).await;
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn golden_keyspace_written_natively_opens_in_the_browser() {
    let (store, _guard) = indexeddb().await;
    crate::suite::check_golden(store, include_str!("../fixtures/native-keyspace.txt")).await;
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn golden_keyspace_written_in_the_browser_still_opens() {
    let (store, _guard) = indexeddb().await;
    crate::suite::check_golden(store, include_str!("../fixtures/browser-keyspace.txt")).await;
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn golden_version_1_keyspaces_open_and_are_upgraded() {
    for fixture in [
        include_str!("../fixtures/native-keyspace-v1.txt"),
        include_str!("../fixtures/browser-keyspace-v1.txt"),
    ] {
        let (store, _guard) = indexeddb().await;
        crate::suite::check_golden_v1(store, fixture).await;
    }
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn a_password_typed_in_either_unicode_form_opens_the_nfc_fixture() {
    let (store, _guard) = indexeddb().await;
    crate::suite::check_nfc_golden(store, include_str!("../fixtures/nfc-keyspace.txt")).await;
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn a_keyspace_wrapped_before_normalization_opens_and_is_upgraded() {
    let (store, _guard) = indexeddb().await;
    let fixture = include_str!("../fixtures/legacy-nfd-keyspace.txt");
    crate::suite::check_legacy_nfd_keyspace(store, fixture).await;
}

/// Prints a browser-written golden keyspace; `scripts/regenerate-fixtures.sh` saves it as
/// `fixtures/browser-keyspace.txt`.
#[wasm_bindgen_test::wasm_bindgen_test]
#[ignore = "prints the committed browser golden fixture"]
async fn print_browser_golden_fixture() {
    let (store, _guard) = indexeddb().await;
    let text = crate::suite::write_golden(store).await;
    for line in text.lines() {
        wasm_bindgen_test::console_log!("FIXTURE {line}");
    }
}
