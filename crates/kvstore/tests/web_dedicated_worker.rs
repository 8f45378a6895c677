//! The browser suite in a dedicated worker (see `web/suite.rs`), and redb over the Origin
//! Private File System, which only dedicated workers can hold.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[path = "web/suite.rs"]
mod suite;

#[path = "layout_v1/mod.rs"]
mod layout_v1;

#[path = "web/opfs_file.rs"]
mod opfs_file;

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

    /// Writes `bytes` as OPFS file `name` of this origin (replacing it).
    async fn write_opfs_file(name: &str, bytes: &[u8]) {
        let handle = crate::opfs_file::sync_handle(name).await;
        handle.truncate_with_u32(0).unwrap();
        let at = web_sys::FileSystemReadWriteOptions::new();
        at.set_at(0.0);
        let written = handle.write_with_u8_array_and_options(bytes, &at).unwrap();
        assert_eq!(written as usize, bytes.len());
        handle.flush().unwrap();
        handle.close();
    }

    /// The redb files of `tests/fixtures/layout-v1`, written natively by the first versioned
    /// layout's code, put into OPFS as they are: opened over OPFS they are upgraded in place
    /// (for the logged one, after its write-ahead log's records are applied), as natively.
    #[wasm_bindgen_test]
    async fn a_store_in_the_first_versioned_layout_is_upgraded_in_place() {
        use crate::layout_v1::{check_first_layout, check_first_layout_reopened};
        /// A fixture: its name here, the database file, its write-ahead log if it has one.
        type Fixture = (&'static str, &'static [u8], Option<&'static [u8]>);
        let fixtures: [Fixture; 2] = [
            (
                "plain",
                include_bytes!("fixtures/layout-v1/redb-v1.redb"),
                None,
            ),
            (
                "logged",
                include_bytes!("fixtures/layout-v1/redb-v1-logged.redb"),
                Some(include_bytes!("fixtures/layout-v1/redb-v1-logged.redb.wal")),
            ),
        ];
        for (what, db, log) in fixtures {
            let name = unique_name(&format!("opfs-layout-v1-{what}"));
            write_opfs_file(&name, db).await;
            if let Some(log) = log {
                write_opfs_file(&format!("{name}.wal"), log).await;
            }
            let store = RedbStore::open_opfs(&name).await.unwrap();
            check_first_layout(&store).await;
            drop(store);
            check_first_layout_reopened(&RedbStore::open_opfs(&name).await.unwrap()).await;
            RedbStore::delete_opfs(&name).await.unwrap();
        }
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
