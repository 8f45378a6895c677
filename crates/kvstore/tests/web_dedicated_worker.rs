//! The browser suite in a dedicated worker (see `web/suite.rs`), and redb over the Origin
//! Private File System, which only dedicated workers can hold.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[path = "web/suite.rs"]
mod suite;

mod opfs {
    use kvstore::testing::stores::{opfs, unique_name};
    use kvstore::{Error, KVStore, RedbStore};
    use wasm_bindgen_test::wasm_bindgen_test;

    mod conformance {
        kvstore::conformance_tests!(async: #[wasm_bindgen_test::wasm_bindgen_test], open: kvstore::testing::stores::opfs, config: kvstore::testing::Config::browser());
    }

    #[wasm_bindgen_test]
    async fn keeps_data_across_reopen() {
        let name = unique_name("opfs-reopen");
        kvstore::testing::persistence_across_reopen(|| async {
            RedbStore::open_opfs(&name).await.expect("open OPFS")
        })
        .await;
        RedbStore::delete_opfs(&name).await.unwrap();
    }

    /// A sync access handle is exclusive: a second open of the same file is `Busy` (the
    /// first store keeps working), and once the first is closed the file opens again with
    /// its data; deleting an open file is `Busy` too.
    #[wasm_bindgen_test]
    async fn a_second_open_is_busy_until_the_first_closes() {
        let name = unique_name("opfs-busy");
        let first = RedbStore::open_opfs(&name).await.unwrap();
        first.set(b"k", b"v").await.unwrap();
        let second = RedbStore::open_opfs(&name).await;
        assert!(matches!(second, Err(Error::Busy(_))), "{second:?}");
        assert!(matches!(
            RedbStore::delete_opfs(&name).await,
            Err(Error::Busy(_))
        ));
        assert_eq!(first.get(b"k").await.unwrap().as_deref(), Some(&b"v"[..]));
        drop(first);
        let again = RedbStore::open_opfs(&name).await.unwrap();
        assert_eq!(again.get(b"k").await.unwrap().as_deref(), Some(&b"v"[..]));
        drop(again);
        RedbStore::delete_opfs(&name).await.unwrap();
        let fresh = RedbStore::open_opfs(&name).await.unwrap();
        assert_eq!(fresh.get(b"k").await.unwrap(), None, "deleted");
        drop(fresh);
        RedbStore::delete_opfs(&name).await.unwrap();
    }

    #[wasm_bindgen_test]
    async fn commits_report_their_version() {
        let (store, _guard) = opfs().await;
        kvstore::testing::commits_report_their_version(store).await;
    }

    #[wasm_bindgen_test]
    async fn names_are_checked_and_stores_are_independent() {
        for bad in ["", "a/b", "a\\b"] {
            assert!(matches!(
                RedbStore::open_opfs(bad).await,
                Err(Error::InvalidInput(_))
            ));
        }
        let (a, _ga) = opfs().await;
        let (b, _gb) = opfs().await;
        a.set(b"k", b"a").await.unwrap();
        assert_eq!(b.get(b"k").await.unwrap(), None);
    }
}
