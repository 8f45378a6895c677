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
    let keys = vault::sync_keys(&account, "pässword", KdfParams::INSECURE_FOR_TESTS).unwrap();
    assert_eq!(*keys.auth_key, *auth);
    let raw = RemoteStore::login(&server, &account, &auth)
        .await
        .unwrap()
        .namespace("vault")
        .unwrap();
    let remote = vault::BlindNames::new(raw.clone(), &keys.names_key).unwrap();

    let (a, b) = (device(), device());
    let ka = a.create_keyspace("wallet", "pw").await.unwrap();
    a.set_secret(&ka, "seed", b"words").await.unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    // The server holds only ciphertext: no keyspace name, no item name, no value in the clear.
    let held = raw.scan(kvstore::Scan::all()).await.unwrap();
    assert!(held.len() > 3);
    for (key, value) in held {
        for needle in [&b"wallet"[..], b"seed", b"words"] {
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
    // Without the names key, the keyspace is not found even on the right account.
    assert!(matches!(
        device().clone_keyspace(&raw, "wallet", "new pw").await,
        Err(vault::Error::NotFound { .. })
    ));
    assert!(matches!(
        device().clone_keyspace(&bobs, "wallet", "new pw").await,
        Err(vault::Error::NotFound { .. })
    ));
}

/// A server that lies, as a test double in front of the real one: reads of some keys answer
/// what the double was told to (an older value: a replay; nothing: a hidden record; another
/// key's value: a reordering), or every read answers an old snapshot (a rollback). Writes go
/// through to the real server.
/// key → the value a [`Liar`] answers (`None`: it hides the key).
type Lies = std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>;

#[derive(Clone, Debug)]
struct Liar {
    inner: RemoteStore,
    /// key → the value to answer (`None`: hide it).
    lies: std::sync::Arc<std::sync::Mutex<Lies>>,
    /// Serve only the keys in `lies` (a whole old snapshot).
    snapshot_only: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Liar {
    fn new(inner: RemoteStore) -> Liar {
        Liar {
            inner,
            lies: Default::default(),
            snapshot_only: Default::default(),
        }
    }

    fn tell(&self, lies: impl IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>, snapshot: bool) {
        let mut map = self.lies.lock().unwrap();
        map.clear();
        map.extend(lies);
        self.snapshot_only
            .store(snapshot, std::sync::atomic::Ordering::SeqCst);
    }

    fn honest(&self) {
        self.tell([], false);
    }

    /// What a read of `key` answers, given the truth.
    fn answer(&self, key: &[u8], truth: Option<(Vec<u8>, u64)>) -> Option<(Vec<u8>, u64)> {
        let lies = self.lies.lock().unwrap();
        match lies.get(key) {
            Some(lie) => lie
                .clone()
                .map(|v| (v, truth.map_or(1, |(_, version)| version))),
            None if self.snapshot_only.load(std::sync::atomic::Ordering::SeqCst) => None,
            None => truth,
        }
    }

    fn answer_scan(&self, prefix: &[u8], truth: Vec<kvstore::Entry>) -> Vec<kvstore::Entry> {
        let mut out: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = truth
            .into_iter()
            .filter_map(|(k, v)| {
                let answered = self.answer(&k, Some((v, 1)))?;
                Some((k, answered.0))
            })
            .collect();
        for (key, lie) in self.lies.lock().unwrap().iter() {
            if let (true, Some(value)) = (key.starts_with(prefix), lie) {
                out.insert(key.clone(), value.clone());
            }
        }
        out.into_iter().collect()
    }
}

#[kvstore::async_trait]
impl KVStore for Liar {
    async fn get(&self, key: &[u8]) -> kvstore::Result<Option<Vec<u8>>> {
        Ok(self.get_versioned(key).await?.map(|(v, _)| v))
    }
    async fn get_versioned(&self, key: &[u8]) -> kvstore::Result<Option<(Vec<u8>, u64)>> {
        Ok(self.answer(key, self.inner.get_versioned(key).await?))
    }
    async fn get_many_versioned(
        &self,
        keys: &[&[u8]],
    ) -> kvstore::Result<Vec<Option<(Vec<u8>, u64)>>> {
        let truth = self.inner.get_many_versioned(keys).await?;
        Ok(keys
            .iter()
            .zip(truth)
            .map(|(k, t)| self.answer(k, t))
            .collect())
    }
    async fn changes(&self, since: u64, limit: usize) -> kvstore::Result<Vec<kvstore::Change>> {
        self.inner.changes(since, limit).await
    }
    async fn last_version(&self) -> kvstore::Result<u64> {
        self.inner.last_version().await
    }
    async fn contains(&self, key: &[u8]) -> kvstore::Result<bool> {
        Ok(self.get_versioned(key).await?.is_some())
    }
    async fn scan(&self, scan: kvstore::Scan<'_>) -> kvstore::Result<Vec<kvstore::Entry>> {
        let prefix = scan.key_prefix().to_vec();
        let truth = self.inner.scan(kvstore::Scan::prefix(&prefix)).await?;
        Ok(self.answer_scan(&prefix, truth))
    }
    async fn scan_keys(&self, scan: kvstore::Scan<'_>) -> kvstore::Result<Vec<Vec<u8>>> {
        Ok(self.scan(scan).await?.into_iter().map(|(k, _)| k).collect())
    }
    async fn count(&self, prefix: &[u8]) -> kvstore::Result<u64> {
        Ok(self.scan(kvstore::Scan::prefix(prefix)).await?.len() as u64)
    }
    async fn batch(&self, batch: kvstore::Batch) -> kvstore::Result<()> {
        self.inner.batch(batch).await
    }
    async fn clear(&self) -> kvstore::Result<()> {
        self.inner.clear().await
    }
    fn namespace_name(&self) -> &str {
        self.inner.namespace_name()
    }
    fn namespace(&self, name: &str) -> kvstore::Result<Self> {
        Ok(Liar::new(self.inner.namespace(name)?))
    }
}

async fn contents(store: &MemoryStore) -> Vec<kvstore::Entry> {
    store.scan(kvstore::Scan::all()).await.unwrap()
}

/// Against the real server on PostgreSQL, behind a lying double: a replayed record, a hidden
/// record, two records' values swapped, and the whole keyspace rolled back are each caught
/// (`Tampered`, or `Corrupted` for a value under another key), and nothing is applied
/// locally; told the truth again, the same sync succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn a_lying_server_is_caught() {
    let server = start_server().await;
    let account = format!("carol-{:08x}", fastrand::u32(..));
    let auth = sync_auth_key(&account, "pw", KdfParams::INSECURE_FOR_TESTS).unwrap();
    RemoteStore::register(&server, &account, &auth)
        .await
        .unwrap();
    let honest = RemoteStore::login(&server, &account, &auth)
        .await
        .unwrap()
        .namespace("vault")
        .unwrap();
    let liar = Liar::new(honest.clone());
    let (a, b) = (device(), device());
    let ka = a.create_keyspace("k", "pw").await.unwrap();
    a.set_secret(&ka, "one", b"1").await.unwrap();
    a.set_secret(&ka, "two", b"2").await.unwrap();
    a.sync_keyspace(&ka, &honest).await.unwrap();
    let kb = b.clone_keyspace(&liar, "k", "pw").await.unwrap();
    let old = honest.scan(kvstore::Scan::all()).await.unwrap();
    a.set_secret(&ka, "one", b"1 again").await.unwrap();
    a.set_secret(&ka, "two", b"2 again").await.unwrap();
    a.sync_keyspace(&ka, &honest).await.unwrap();
    let new = honest.scan(kvstore::Scan::all()).await.unwrap();
    let records: Vec<&kvstore::Entry> = new.iter().filter(|(k, _)| k.starts_with(b"r/")).collect();
    assert_eq!(records.len(), 2);
    let old_value = |key: &[u8]| old.iter().find(|(k, _)| k == key).unwrap().1.clone();
    let before = contents(b.store()).await;

    let caught = |result: vault::Result<vault::SyncReport>| match result {
        Err(vault::Error::Tampered { tampering, .. }) => format!("{tampering:?}"),
        Err(vault::Error::Corrupted(_)) => "Corrupted".to_owned(),
        other => panic!("the lie went through: {other:?}"),
    };
    // Replay: an older copy of a record.
    liar.tell(
        [(records[0].0.clone(), Some(old_value(&records[0].0)))],
        false,
    );
    assert!(caught(b.sync_keyspace(&kb, &liar).await).starts_with("Replayed"));
    // Hide: a record the manifest lists, gone.
    liar.tell([(records[1].0.clone(), None)], false);
    assert!(caught(b.sync_keyspace(&kb, &liar).await).starts_with("Missing"));
    // Reorder: two records' values swapped.
    liar.tell(
        [
            (records[0].0.clone(), Some(records[1].1.clone())),
            (records[1].0.clone(), Some(records[0].1.clone())),
        ],
        false,
    );
    caught(b.sync_keyspace(&kb, &liar).await);
    assert!(b.clone_keyspace(&liar, "k", "pw").await.is_err());
    assert_eq!(contents(b.store()).await, before, "nothing applied");

    // Rollback: after b has seen the new state, the whole old snapshot.
    liar.honest();
    b.sync_keyspace(&kb, &liar).await.unwrap();
    assert_eq!(&*b.get_secret(&kb, "one").await.unwrap(), b"1 again");
    let seen = contents(b.store()).await;
    liar.tell(old.iter().map(|(k, v)| (k.clone(), Some(v.clone()))), true);
    assert!(caught(b.sync_keyspace(&kb, &liar).await).starts_with("RolledBack"));
    assert_eq!(contents(b.store()).await, seen, "nothing applied");
    liar.honest();
    let report = b.sync_keyspace(&kb, &liar).await.unwrap();
    assert_eq!((report.pushed, report.pulled), (0, 0));
}
