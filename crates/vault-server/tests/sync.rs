//! Two vaults (two devices) syncing one keyspace through the real server on the real
//! PostgreSQL, over HTTP: first upload, a new device cloning it, offline edits on both,
//! a conflict kept as history, a password change travelling, and a second account that sees
//! nothing of the first.
#![cfg(not(target_arch = "wasm32"))]

use kvstore::{KVStore, MemoryStore, PostgresStore};
use vault::{sync_auth_key, KdfParams, Vault};
use vault_server::{app, AppState, Config, HashCost};
use vault_sync::RemoteStore;

async fn start_server() -> String {
    let url = std::env::var("KVSTORE_POSTGRES_URL").expect(
        "KVSTORE_POSTGRES_URL is not set: run scripts/test.sh (it starts a private PostgreSQL)",
    );
    let store = PostgresStore::connect(&url).await.unwrap();
    let config = Config {
        hash_cost: HashCost::INSECURE_FOR_TESTS,
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(store, config).unwrap();
    tokio::spawn(async move { axum::serve(listener, app(state)).await.unwrap() });
    format!("http://{addr}")
}

fn device() -> Vault<MemoryStore> {
    Vault::with_kdf(MemoryStore::new(), KdfParams::INSECURE_FOR_TESTS).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_devices_sync_a_keyspace_through_the_server() {
    let server = start_server().await;
    let account = format!("alice-{:08x}", fastrand::u32(..));
    let auth = sync_auth_key(&account, "pässword", KdfParams::INSECURE_FOR_TESTS).unwrap();
    // The same password typed in the other Unicode form gives the same auth key.
    assert_eq!(
        *auth,
        *sync_auth_key(&account, "pa\u{308}ssword", KdfParams::INSECURE_FOR_TESTS).unwrap()
    );
    RemoteStore::register(&server, &account, &auth)
        .await
        .unwrap();
    assert!(RemoteStore::register(&server, &account, &auth)
        .await
        .is_err());
    let wrong = sync_auth_key(&account, "other", KdfParams::INSECURE_FOR_TESTS).unwrap();
    assert!(RemoteStore::login(&server, &account, &wrong).await.is_err());
    let remote = RemoteStore::login(&server, &account, &auth)
        .await
        .unwrap()
        .namespace("vault")
        .unwrap();

    let (a, b) = (device(), device());
    let ka = a.create_keyspace("wallet", "pw").await.unwrap();
    a.set_secret(&ka, "seed", b"words").await.unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    // The server holds only ciphertext: no name, no value in the clear.
    for (key, value) in remote.scan(kvstore::Scan::all()).await.unwrap() {
        for needle in [&b"seed"[..], b"words"] {
            assert!(!key.windows(needle.len()).any(|w| w == needle));
            assert!(!value.windows(needle.len()).any(|w| w == needle));
        }
    }

    let kb = b.clone_keyspace(&remote, "wallet", "pw").await.unwrap();
    assert_eq!(&*b.get_secret(&kb, "seed").await.unwrap(), b"words");
    a.set_secret(&ka, "from a", b"1").await.unwrap();
    b.set_secret(&kb, "from b", b"2").await.unwrap();
    a.set_secret(&ka, "seed", b"a's").await.unwrap();
    b.set_secret(&kb, "seed", b"b's").await.unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    let report = b.sync_keyspace(&kb, &remote).await.unwrap();
    assert_eq!(report.conflicts, 1);
    // The history record b made travels on its next sync, like any change.
    b.sync_keyspace(&kb, &remote).await.unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    for (v, ks) in [(&a, &ka), (&b, &kb)] {
        assert_eq!(
            v.list_secrets(ks).await.unwrap(),
            ["from a", "from b", "seed"]
        );
        assert_eq!(&*v.get_secret(ks, "seed").await.unwrap(), b"a's");
        let history = v.list_history(ks).await.unwrap();
        assert_eq!(history.len(), 1, "b's value kept, on both devices");
    }

    a.change_password("wallet", "pw", "new pw").await.unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    b.sync_keyspace(&kb, &remote).await.unwrap();
    b.unlock("wallet", "new pw").await.unwrap();

    // Another account on the same server sees nothing of it.
    let other = format!("bob-{:08x}", fastrand::u32(..));
    let other_auth = sync_auth_key(&other, "pw", KdfParams::INSECURE_FOR_TESTS).unwrap();
    RemoteStore::register(&server, &other, &other_auth)
        .await
        .unwrap();
    let bobs = RemoteStore::login(&server, &other, &other_auth)
        .await
        .unwrap()
        .namespace("vault")
        .unwrap();
    assert!(bobs.scan(kvstore::Scan::all()).await.unwrap().is_empty());
    assert!(matches!(
        device().clone_keyspace(&bobs, "wallet", "new pw").await,
        Err(vault::Error::NotFound { .. })
    ));
}
