//! The conformance suite on PostgreSQL (feature `postgres`), under a non-tokio executor and
//! under tokio, against the server whose URL is in `KVSTORE_POSTGRES_URL`: `scripts/test.sh`
//! starts a private one (loopback, temporary directory) and sets it. Each test works in a
//! tenant of its own, so the tests share one database and run in parallel.
#![cfg(all(feature = "postgres", not(target_arch = "wasm32")))]

use kvstore::testing::Config;
use kvstore::{Batch, Error, KVStore, PostgresStore};

const CONFIG: Config = Config::native();

fn url() -> String {
    std::env::var("KVSTORE_POSTGRES_URL").expect(
        "KVSTORE_POSTGRES_URL is not set: run scripts/test.sh (it starts a private PostgreSQL), \
         or point it at a database you can write, e.g. postgres://postgres@127.0.0.1:55432/postgres",
    )
}

/// A tenant no other test uses.
fn tenant() -> String {
    format!("test-{:016x}", fastrand::u64(..))
}

async fn postgres() -> (PostgresStore, ()) {
    let store = PostgresStore::builder()
        .tenant(tenant())
        .connect(&url())
        .await
        .expect("connect to KVSTORE_POSTGRES_URL");
    (store, ())
}

mod postgres_blocking {
    kvstore::conformance_tests!(blocking: #[test] futures::executor::block_on, open: super::postgres, config: super::CONFIG);
}
mod postgres_tokio {
    kvstore::conformance_tests!(async: #[tokio::test(flavor = "multi_thread")], open: super::postgres, config: super::CONFIG);
}

#[test]
fn commits_report_their_version() {
    futures::executor::block_on(async {
        let (store, _guard) = postgres().await;
        kvstore::testing::commits_report_their_version(store).await;
    });
}

#[test]
fn tombstones_are_pruned_past_the_retention() {
    futures::executor::block_on(async {
        let store = PostgresStore::builder()
            .tenant(tenant())
            .tombstone_retention(8)
            .connect(&url())
            .await
            .unwrap();
        kvstore::testing::tombstones_are_pruned_past_the_retention(store, 8).await;
    });
}

/// Tenants share tables, never data: the same namespace and key in two tenants are two
/// entries, with versions of their own.
#[test]
fn tenants_are_isolated() {
    futures::executor::block_on(async {
        let a = PostgresStore::builder()
            .tenant(tenant())
            .connect(&url())
            .await
            .unwrap();
        let b = PostgresStore::builder()
            .tenant(tenant())
            .connect(&url())
            .await
            .unwrap();
        a.set(b"k", b"a").await.unwrap();
        a.set(b"k", b"a2").await.unwrap();
        assert_eq!(b.get(b"k").await.unwrap(), None);
        b.set(b"k", b"b").await.unwrap();
        assert_eq!(
            a.get_versioned(b"k").await.unwrap(),
            Some((b"a2".to_vec(), 2))
        );
        assert_eq!(
            b.get_versioned(b"k").await.unwrap(),
            Some((b"b".to_vec(), 1))
        );
        b.clear().await.unwrap();
        assert_eq!(a.get(b"k").await.unwrap(), Some(b"a2".to_vec()));
        assert_eq!(
            b.changes(0, 10).await.map(|c| c.len()).ok(),
            None,
            "b's horizon moved"
        );
        assert_eq!(a.changes(0, 10).await.unwrap().len(), 1);
    });
}

/// Two connections (two server processes, as a server's workers would) doing compare-and-swap
/// increments on one key end at the exact count: the state row lock serializes commits.
#[test]
fn two_pools_compare_and_swap_without_losing_an_update() {
    futures::executor::block_on(async {
        let tenant = tenant();
        let a = PostgresStore::builder()
            .tenant(&tenant)
            .connect(&url())
            .await
            .unwrap();
        let b = PostgresStore::builder()
            .tenant(&tenant)
            .connect(&url())
            .await
            .unwrap();
        a.set(b"counter", &0u64.to_le_bytes()).await.unwrap();
        let increment = |store: PostgresStore| async move {
            let mut conflicts = 0;
            for _ in 0..40 {
                loop {
                    let (value, version) = store.get_versioned(b"counter").await.unwrap().unwrap();
                    let n = u64::from_le_bytes(value.try_into().unwrap()) + 1;
                    let mut batch = Batch::new();
                    batch
                        .require_version(b"counter".to_vec(), version)
                        .set(b"counter".to_vec(), n.to_le_bytes().to_vec());
                    match store.batch(batch).await {
                        Ok(()) => break,
                        Err(Error::Conflict { .. }) => conflicts += 1,
                        Err(other) => panic!("{other}"),
                    }
                }
            }
            conflicts
        };
        let (ca, cb) = futures::join!(increment(a.clone()), increment(b));
        let value = a.get(b"counter").await.unwrap().unwrap();
        assert_eq!(u64::from_le_bytes(value.try_into().unwrap()), 80);
        eprintln!("conflicts retried: {}", ca + cb);
    });
}

#[test]
fn an_unreachable_server_is_unavailable_not_a_hang() {
    futures::executor::block_on(async {
        let err = PostgresStore::builder()
            .acquire_timeout(std::time::Duration::from_secs(2))
            .connect("postgres://postgres@127.0.0.1:1/postgres")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    });
}

/// Under `SERIALIZABLE` (CockroachDB's only isolation, and PostgreSQL's when configured so),
/// concurrent commits to one namespace make the database abort some with SQLSTATE 40001; the
/// store runs them again, so every batch lands and none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serialization_failures_are_retried() {
    let base = url();
    let sep = if base.contains('?') { '&' } else { '?' };
    let serializable =
        format!("{base}{sep}options=-c%20default_transaction_isolation%3Dserializable");
    let store = PostgresStore::builder()
        .tenant(tenant())
        .max_connections(8)
        .connect(&serializable)
        .await
        .unwrap();
    let isolation: String = sqlx::query_scalar("SHOW transaction_isolation")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(isolation, "serializable");
    let tasks: Vec<_> = (0..3u8)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..20u8 {
                    let mut batch = Batch::new();
                    batch.set(vec![t, i], vec![i]);
                    store.batch(batch).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.count(b"").await.unwrap(), 60);
    assert_eq!(
        store.last_version().await.unwrap(),
        60,
        "each batch applied once"
    );
    let usage = store.usage().await.unwrap();
    assert_eq!((usage.keys, usage.bytes), (60, 60 * 3));
}
