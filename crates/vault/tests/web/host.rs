// Browser host of the vault suite: runs every case on IndexedDB (and memory), included by each
// execution-context test file.

use kvstore::{IndexedDbStore, MemoryStore};

pub struct DeleteOnDrop(String);

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.0);
        wasm_bindgen_futures::spawn_local(async move {
            let _ = IndexedDbStore::delete_database(&name).await;
        });
    }
}

pub async fn indexeddb() -> (IndexedDbStore, DeleteOnDrop) {
    let name = format!("vault-test-{}", js_sys::Math::random().to_bits());
    (
        IndexedDbStore::open(&name).await.unwrap(),
        DeleteOnDrop(name),
    )
}

pub async fn memory() -> (MemoryStore, ()) {
    (MemoryStore::new(), ())
}

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
