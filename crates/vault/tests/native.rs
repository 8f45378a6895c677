//! The vault suite on every native backend, plus what needs native control over the store
//! (failure injection) or the file system (golden fixtures).
#![cfg(not(target_arch = "wasm32"))]

mod suite;

use kvstore::MemoryStore;

use kvstore::testing::stores::{memory, redb, sled};

mod on_memory {
    crate::vault_suite!(blocking, crate::memory);
}
mod on_sled {
    crate::vault_suite!(blocking, crate::sled);
}
mod on_redb {
    crate::vault_suite!(blocking, crate::redb);
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_under_tokio_too() {
    suite::stateless_api_end_to_end(MemoryStore::new()).await;
    let (store, _dir) = sled().await;
    suite::session_api_end_to_end(store).await;
}

const NATIVE_FIXTURE: &str = include_str!("fixtures/native-keyspace.txt");
const BROWSER_FIXTURE: &str = include_str!("fixtures/browser-keyspace.txt");
const NATIVE_FIXTURE_V1: &str = include_str!("fixtures/native-keyspace-v1.txt");
const BROWSER_FIXTURE_V1: &str = include_str!("fixtures/browser-keyspace-v1.txt");

#[test]
fn golden_keyspace_written_natively_still_opens() {
    futures::executor::block_on(suite::check_golden(MemoryStore::new(), NATIVE_FIXTURE));
}

#[test]
fn golden_keyspace_written_in_a_browser_opens_natively() {
    futures::executor::block_on(async {
        let (store, _dir) = sled().await;
        suite::check_golden(store, BROWSER_FIXTURE).await
    });
}

#[test]
fn golden_version_1_keyspaces_open_and_are_upgraded() {
    futures::executor::block_on(async {
        suite::check_golden_v1(MemoryStore::new(), NATIVE_FIXTURE_V1).await;
        let (store, _dir) = sled().await;
        suite::check_golden_v1(store, BROWSER_FIXTURE_V1).await;
    });
}

/// Regenerates `fixtures/native-keyspace.txt` (run by hand after a deliberate format change:
/// `cargo test -p vault --test native -- --ignored regenerate`).
#[test]
#[ignore = "writes the committed golden fixture"]
fn regenerate_native_golden_fixture() {
    let text = futures::executor::block_on(suite::write_golden(MemoryStore::new()));
    std::fs::write(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/native-keyspace.txt"
        ),
        text,
    )
    .unwrap();
}

const NFC_FIXTURE: &str = include_str!("fixtures/nfc-keyspace.txt");
const LEGACY_NFD_FIXTURE: &str = include_str!("fixtures/legacy-nfd-keyspace.txt");

#[test]
fn a_password_typed_in_either_unicode_form_opens_the_nfc_fixture() {
    futures::executor::block_on(async {
        let (store, _dir) = sled().await;
        suite::check_nfc_golden(store, NFC_FIXTURE).await
    });
}

#[test]
fn a_keyspace_wrapped_before_normalization_opens_and_is_upgraded() {
    futures::executor::block_on(suite::check_legacy_nfd_keyspace(
        MemoryStore::new(),
        LEGACY_NFD_FIXTURE,
    ));
}

/// Regenerates `fixtures/nfc-keyspace.txt` (by hand, after a deliberate format change:
/// `cargo test -p vault --test native -- --ignored regenerate`).
#[test]
#[ignore = "writes the committed NFC fixture"]
fn regenerate_nfc_fixture() {
    let text = futures::executor::block_on(suite::write_nfc_golden(MemoryStore::new()));
    std::fs::write(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/nfc-keyspace.txt"
        ),
        text,
    )
    .unwrap();
}

type Hook = Box<dyn FnOnce() + Send>;

/// A memory store that intercepts writes: it fails every write after a set number of them,
/// applying nothing of the failed one (a crash or I/O error at a chosen step), and it can run a
/// hook (another writer, on another thread) just before its next write: the moment between an
/// operation's read and its write.
#[derive(Clone)]
struct InterceptingStore {
    inner: MemoryStore,
    writes_left: std::sync::Arc<std::sync::atomic::AtomicI64>,
    race: std::sync::Arc<std::sync::Mutex<Option<Hook>>>,
    /// A hook run after the given number of further single-key reads (this store reads
    /// several keys one by one, so a commit can land between two of them).
    read_race: std::sync::Arc<std::sync::Mutex<Option<(usize, Hook)>>>,
}

impl InterceptingStore {
    fn new() -> Self {
        InterceptingStore {
            inner: MemoryStore::new(),
            writes_left: std::sync::Arc::new(i64::MAX.into()),
            race: Default::default(),
            read_race: Default::default(),
        }
    }

    fn after_reads(&self, reads: usize, hook: impl FnOnce() + Send + 'static) {
        *self.read_race.lock().unwrap() = Some((reads, Box::new(hook)));
    }

    /// Runs after every single-key read: the pending read hook once its count is reached.
    fn after_read(&self) {
        let mut pending = self.read_race.lock().unwrap();
        let due = match pending.as_mut() {
            Some((left, _)) if *left <= 1 => true,
            Some((left, _)) => {
                *left -= 1;
                false
            }
            None => false,
        };
        if due {
            let (_, hook) = pending.take().unwrap();
            drop(pending);
            std::thread::spawn(hook).join().unwrap();
        }
    }

    fn before_next_write(&self, hook: impl FnOnce() + Send + 'static) {
        *self.race.lock().unwrap() = Some(Box::new(hook));
    }

    /// Runs before every write: the pending hook, to completion on its own thread and
    /// executor, then the failure countdown.
    fn before_write(&self) -> kvstore::Result<()> {
        let hook = self.race.lock().unwrap().take();
        if let Some(hook) = hook {
            std::thread::spawn(hook).join().unwrap();
        }
        if self
            .writes_left
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            > 0
        {
            Ok(())
        } else {
            Err(kvstore::Error::Io(std::io::Error::other(
                "injected failure",
            )))
        }
    }
}

#[kvstore::async_trait]
impl kvstore::KVStore for InterceptingStore {
    async fn get(&self, key: &[u8]) -> kvstore::Result<Option<Vec<u8>>> {
        let got = self.inner.get(key).await;
        self.after_read();
        got
    }
    async fn set(&self, key: &[u8], value: &[u8]) -> kvstore::Result<()> {
        self.before_write()?;
        self.inner.set(key, value).await
    }
    async fn delete(&self, key: &[u8]) -> kvstore::Result<()> {
        self.before_write()?;
        self.inner.delete(key).await
    }
    async fn contains(&self, key: &[u8]) -> kvstore::Result<bool> {
        self.inner.contains(key).await
    }
    async fn get_versioned(&self, key: &[u8]) -> kvstore::Result<Option<(Vec<u8>, u64)>> {
        let got = self.inner.get_versioned(key).await;
        self.after_read();
        got
    }
    async fn changes(&self, since: u64, limit: usize) -> kvstore::Result<Vec<kvstore::Change>> {
        self.inner.changes(since, limit).await
    }
    async fn last_version(&self) -> kvstore::Result<u64> {
        self.inner.last_version().await
    }
    async fn scan(&self, scan: kvstore::Scan<'_>) -> kvstore::Result<Vec<kvstore::Entry>> {
        self.inner.scan(scan).await
    }
    async fn scan_keys(&self, scan: kvstore::Scan<'_>) -> kvstore::Result<Vec<Vec<u8>>> {
        self.inner.scan_keys(scan).await
    }
    async fn count(&self, prefix: &[u8]) -> kvstore::Result<u64> {
        self.inner.count(prefix).await
    }
    async fn batch(&self, batch: kvstore::Batch) -> kvstore::Result<()> {
        self.before_write()?;
        self.inner.batch(batch).await
    }
    async fn batch_versioned(&self, batch: kvstore::Batch) -> kvstore::Result<Option<u64>> {
        self.before_write()?;
        self.inner.batch_versioned(batch).await
    }
    async fn clear(&self) -> kvstore::Result<()> {
        self.before_write()?;
        self.inner.clear().await
    }
    fn namespace_name(&self) -> &str {
        self.inner.namespace_name()
    }
    fn namespace(&self, name: &str) -> kvstore::Result<Self> {
        Ok(InterceptingStore {
            inner: self.inner.namespace(name)?,
            writes_left: self.writes_left.clone(),
            race: self.race.clone(),
            read_race: self.read_race.clone(),
        })
    }
}

#[test]
fn password_change_interrupted_at_each_step_leaves_a_keyspace_that_opens() {
    use std::sync::atomic::Ordering;
    use vault::Error;
    futures::executor::block_on(async {
        for allowed_writes in 0..3 {
            let store = InterceptingStore::new();
            let v = suite::vault(store.clone());
            let ks = v.create_keyspace("k", suite::PASSWORD).await.unwrap();
            v.set_secret(&ks, "s", b"kept").await.unwrap();
            store.writes_left.store(allowed_writes, Ordering::SeqCst);
            let changed = v
                .change_password("k", suite::PASSWORD, b"new password")
                .await;
            store.writes_left.store(i64::MAX, Ordering::SeqCst);
            let old = v.unlock("k", suite::PASSWORD).await;
            let new = v.unlock("k", b"new password").await;
            match changed {
                Ok(()) => {
                    assert!(matches!(old, Err(Error::WrongPassword { .. })));
                    assert!(new.is_ok());
                }
                Err(_) => {
                    assert!(
                        old.is_ok(),
                        "after a failed change the old password must open"
                    );
                    assert!(matches!(new, Err(Error::WrongPassword { .. })));
                }
            }
            let ks = old.or(new).unwrap();
            assert_eq!(&*v.get_secret(&ks, "s").await.unwrap(), b"kept");
        }
    });
}

#[test]
fn secrets_and_debug_output_never_show_key_material() {
    futures::executor::block_on(async {
        let v = suite::vault(MemoryStore::new());
        let ks = v.create_keyspace("k", suite::PASSWORD).await.unwrap();
        v.import_key(
            &ks,
            "ed",
            vault::KeyType::Ed25519,
            &hex::decode(suite::ED_PRIVATE).unwrap(),
        )
        .await
        .unwrap();
        let mut session = v
            .open_session("k", suite::PASSWORD, Default::default())
            .await
            .unwrap();
        let stream = v.encrypt_stream(&ks).await.unwrap();
        let access = vault::Access::Password {
            keyspace: "k",
            password: suite::PASSWORD,
        };
        let printed = format!("{ks:?} {session:?} {stream:?} {access:?} {v:?}");
        assert!(!printed.contains("9d61b1"), "{printed}");
        assert!(!printed.contains("correct horse"), "{printed}");
        let err = v.unlock("k", b"a wrong password").await.unwrap_err();
        assert!(!err.to_string().contains("a wrong password"));
        session.lock();
        assert!(format!("{session:?}").contains("locked: true"));
    });
}

/// The KDF upgrade inside `unlock` racing a password change: the change wins, the old password
/// never works again (before versions, the upgrade's blind write put the old header back).
#[test]
fn a_kdf_upgrade_racing_a_password_change_never_brings_back_the_old_password() {
    use vault::Error;
    futures::executor::block_on(async {
        let store = InterceptingStore::new();
        let weak = suite::vault(store.inner.clone());
        weak.create_keyspace("k", b"old password").await.unwrap();
        let strong = vault::Vault::with_kdf(store.clone(), vault::KdfParams::MIN).unwrap();
        let other = suite::vault(store.inner.clone());
        store.before_next_write(move || {
            futures::executor::block_on(other.change_password(
                "k",
                b"old password",
                b"new password",
            ))
            .unwrap()
        });
        // Unwrapped with the old password, then the re-wrap meets the changed header: the
        // unlock starts again and the old password no longer opens it.
        let unlocked = strong.unlock("k", b"old password").await;
        assert!(
            matches!(unlocked, Err(Error::WrongPassword { .. })),
            "{unlocked:?}"
        );
        assert!(matches!(
            weak.unlock("k", b"old password").await,
            Err(Error::WrongPassword { .. })
        ));
        weak.unlock("k", b"new password").await.unwrap();
    });
}

/// A read that sees a commit land between its reads (a store without snapshots: the manifest
/// read before the commit, the bucket and the record after) is not tampering: it reads again
/// and returns the new value.
#[test]
fn a_read_racing_a_commit_reads_again_instead_of_reporting_tampering() {
    futures::executor::block_on(async {
        let store = InterceptingStore::new();
        let v = suite::vault(store.clone());
        let ks = v.create_keyspace("k", suite::PASSWORD).await.unwrap();
        v.set_secret(&ks, "a", b"first").await.unwrap();
        let other = suite::vault(store.inner.clone());
        store.after_reads(1, move || {
            futures::executor::block_on(async {
                let ks = other.unlock("k", suite::PASSWORD).await.unwrap();
                other.set_secret(&ks, "a", b"second").await.unwrap();
            })
        });
        let read = v.get_secret(&ks, "a").await;
        assert_eq!(read.unwrap().as_ref(), b"second");
        assert!(store.read_race.lock().unwrap().is_none(), "the race ran");
    });
}

/// Two vault values writing one keyspace in turn: each writes from what it knows of the
/// keyspace (its last commit), so every write after the other's starts from a stale base. The
/// conditional commit catches it and the write goes through from the store: nothing is lost,
/// a create meets the other's key, a delete misses the other's deletion.
#[test]
fn writers_taking_turns_lose_nothing_though_each_writes_from_a_stale_base() {
    use vault::{Error, KeyType};
    futures::executor::block_on(async {
        let store = MemoryStore::new();
        let (one, two) = (suite::vault(store.clone()), suite::vault(store.clone()));
        let ks1 = one.create_keyspace("k", suite::PASSWORD).await.unwrap();
        let ks2 = two.unlock("k", suite::PASSWORD).await.unwrap();
        for i in 0..10 {
            one.set_secret(&ks1, &format!("one-{i}"), b"1")
                .await
                .unwrap();
            two.set_secret(&ks2, &format!("two-{i}"), b"2")
                .await
                .unwrap();
        }
        for ks in [&ks1, &ks2] {
            assert_eq!(one.list_secrets(ks).await.unwrap().len(), 20);
            assert_eq!(two.list_secrets(ks).await.unwrap().len(), 20);
        }
        two.generate_key(&ks2, "key", KeyType::Ed25519)
            .await
            .unwrap();
        let again = one.generate_key(&ks1, "key", KeyType::Ed25519).await;
        assert!(
            matches!(again, Err(Error::AlreadyExists { .. })),
            "{again:?}"
        );
        two.delete_secret(&ks2, "one-0").await.unwrap();
        let gone = one.delete_secret(&ks1, "one-0").await;
        assert!(matches!(gone, Err(Error::NotFound { .. })), "{gone:?}");
        assert_eq!(one.get_secret(&ks1, "two-9").await.unwrap().as_ref(), b"2");
    });
}

/// Two renames of one key pair at once: one wins, the other gets `Conflict`, and there is one
/// key pair, not two copies under two names.
#[test]
fn two_renames_of_one_key_one_wins_the_other_gets_a_conflict() {
    use vault::{Access, Error, KeyType};
    futures::executor::block_on(async {
        let store = InterceptingStore::new();
        let v = suite::vault(store.clone());
        let ks = v.create_keyspace("k", suite::PASSWORD).await.unwrap();
        v.generate_key(&ks, "a", KeyType::Ed25519).await.unwrap();
        let other = suite::vault(store.inner.clone());
        store.before_next_write(move || {
            let access = Access::Password {
                keyspace: "k",
                password: suite::PASSWORD,
            };
            futures::executor::block_on(other.rename_key(access, "a", "b")).unwrap()
        });
        let second = v.rename_key(Access::Unlocked(&ks), "a", "c").await;
        assert!(matches!(second, Err(Error::Conflict)), "{second:?}");
        assert_eq!(second.unwrap_err().code(), vault::ErrorCode::Conflict);
        assert_eq!(suite::key_names(&v, &ks).await, ["b"]);
    });
}

/// A secret written between a rekey's scan and its batch: the rekey fails with `Conflict`
/// (nothing written) instead of leaving the secret behind under the old id; retried, it
/// carries the secret over.
#[test]
fn a_rekey_does_not_leave_behind_a_record_written_meanwhile() {
    use vault::{Access, Error};
    futures::executor::block_on(async {
        let store = InterceptingStore::new();
        let v = suite::vault(store.clone());
        let ks = v.create_keyspace("k", suite::PASSWORD).await.unwrap();
        v.set_secret(&ks, "before", b"1").await.unwrap();
        let other = suite::vault(store.inner.clone());
        store.before_next_write(move || {
            let access = Access::Password {
                keyspace: "k",
                password: suite::PASSWORD,
            };
            futures::executor::block_on(other.set_secret(access, "meanwhile", b"2")).unwrap()
        });
        let before = suite::dump(&store.inner).await;
        let late = v.rekey("k", suite::PASSWORD, suite::PASSWORD).await;
        assert!(matches!(late, Err(Error::Conflict)), "{late:?}");
        let after = suite::dump(&store.inner).await;
        let of = |entries: &[(Vec<u8>, Vec<u8>)], prefix: &[u8]| {
            entries
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(of(&after, b"h/"), of(&before, b"h/"), "header unchanged");
        assert_eq!(of(&after, b"i/"), of(&before, b"i/"), "claims unchanged");
        assert_eq!(
            of(&after, b"r/").len(),
            of(&before, b"r/").len() + 1,
            "only the other writer's record"
        );
        let new = v
            .rekey("k", suite::PASSWORD, suite::PASSWORD)
            .await
            .unwrap();
        assert_eq!(v.list_secrets(&new).await.unwrap(), ["before", "meanwhile"]);
    });
}

/// A password change racing another password change: the second one, read before the first
/// wrote, gets `Conflict` instead of silently replacing the first.
#[test]
fn a_password_change_does_not_overwrite_one_made_meanwhile() {
    use vault::Error;
    futures::executor::block_on(async {
        let store = InterceptingStore::new();
        let v = suite::vault(store.clone());
        v.create_keyspace("k", b"p0").await.unwrap();
        let other = suite::vault(store.inner.clone());
        store.before_next_write(move || {
            futures::executor::block_on(other.change_password("k", b"p0", b"p1")).unwrap()
        });
        let late = v.change_password("k", b"p0", b"p2").await;
        assert!(matches!(late, Err(Error::Conflict)), "{late:?}");
        v.unlock("k", b"p1").await.unwrap();
        assert!(v.unlock("k", b"p2").await.is_err());
        assert!(v.unlock("k", b"p0").await.is_err());
    });
}
