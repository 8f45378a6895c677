//! Sync between two devices through a remote store (any `KVStore`: here a memory store stands
//! for the server's namespace; the device under test runs on the backend of the suite).

use kvstore::{KVStore, MemoryStore};
use vault::{Error, Item, KeyType, Tampering};

use super::{dump, vault, PASSWORD};

/// Two devices edit offline, sync through the remote, and converge: creates, edits, deletes,
/// key pairs; both at the same revision and with the same records afterwards.
pub async fn two_devices_converge_through_a_remote<S: KVStore + Clone>(store: S) {
    let remote = MemoryStore::new();
    let a = vault(store);
    let b = vault(MemoryStore::new());
    let ka = a.create_keyspace("k", PASSWORD).await.unwrap();
    a.set_secret(&ka, "one", b"1").await.unwrap();
    let first = a.sync_keyspace(&ka, &remote).await.unwrap();
    assert_eq!(first.pushed, 1);

    let kb = b.clone_keyspace(&remote, "k", PASSWORD).await.unwrap();
    assert_eq!(&*b.get_secret(&kb, "one").await.unwrap(), b"1");
    assert!(matches!(
        b.clone_keyspace(&remote, "k", PASSWORD).await,
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        vault(MemoryStore::new())
            .clone_keyspace(&remote, "k", b"wrong")
            .await,
        Err(Error::WrongPassword { .. })
    ));

    // Offline on both: different records, a delete, a key pair.
    a.set_secret(&ka, "from a", b"a").await.unwrap();
    a.generate_key(&ka, "key", KeyType::Ed25519).await.unwrap();
    b.set_secret(&kb, "from b", b"b").await.unwrap();
    b.delete_secret(&kb, "one").await.unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    let rb = b.sync_keyspace(&kb, &remote).await.unwrap();
    assert_eq!((rb.conflicts, rb.pulled, rb.pushed), (0, 2, 2));
    let ra = a.sync_keyspace(&ka, &remote).await.unwrap();
    assert_eq!(ra.conflicts, 0);
    for (v, ks) in [(&a, &ka)] {
        assert_eq!(v.list_secrets(ks).await.unwrap(), ["from a", "from b"]);
    }
    assert_eq!(b.list_secrets(&kb).await.unwrap(), ["from a", "from b"]);
    assert_eq!(
        a.key_info(&ka, "key").await.unwrap(),
        b.key_info(&kb, "key").await.unwrap()
    );
    assert_eq!(
        a.keyspace_revision(&ka).await.unwrap(),
        b.keyspace_revision(&kb).await.unwrap()
    );
    // Nothing left to do: a sync with no change moves nothing.
    let idle = b.sync_keyspace(&kb, &remote).await.unwrap();
    assert_eq!((idle.pushed, idle.pulled, idle.conflicts), (0, 0, 0));
}

/// Both devices change the same secret offline, even to the same revision: the first to sync
/// wins, the other's value is kept as history (never lost), can be listed and restored, and
/// the restore syncs back.
pub async fn a_sync_conflict_keeps_the_losing_value_as_history<S: KVStore + Clone>(store: S) {
    let remote = MemoryStore::new();
    let a = vault(store);
    let b = vault(MemoryStore::new());
    let ka = a.create_keyspace("k", PASSWORD).await.unwrap();
    a.set_secret(&ka, "note", b"base").await.unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    let kb = b.clone_keyspace(&remote, "k", PASSWORD).await.unwrap();
    // One write each since the same sync: the same record revision on both sides.
    a.set_secret(&ka, "note", b"from a").await.unwrap();
    b.set_secret(&kb, "note", b"from b").await.unwrap();
    assert_eq!(
        a.keyspace_revision(&ka).await.unwrap(),
        b.keyspace_revision(&kb).await.unwrap()
    );
    a.sync_keyspace(&ka, &remote).await.unwrap();
    let rb = b.sync_keyspace(&kb, &remote).await.unwrap();
    assert_eq!(rb.conflicts, 1);
    assert_eq!(&*b.get_secret(&kb, "note").await.unwrap(), b"from a");
    let history = b.list_history(&kb).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].item, history[0].name.as_str()),
        (Item::Secret, "note")
    );
    assert!(
        b.list_secrets(&kb).await.unwrap() == ["note"],
        "history is not a secret"
    );
    // History syncs like anything else; restoring it is a change that wins the next round.
    b.sync_keyspace(&kb, &remote).await.unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    assert_eq!(a.list_history(&ka).await.unwrap(), history);
    a.restore_history(&ka, &history[0].id).await.unwrap();
    assert!(a.list_history(&ka).await.unwrap().is_empty());
    a.sync_keyspace(&ka, &remote).await.unwrap();
    b.sync_keyspace(&kb, &remote).await.unwrap();
    assert_eq!(&*b.get_secret(&kb, "note").await.unwrap(), b"from b");
    assert!(b.list_history(&kb).await.unwrap().is_empty());
    assert!(matches!(
        b.restore_history(&kb, "0123").await,
        Err(Error::NotFound { .. })
    ));
}

/// A password change on one device reaches the other through the remote.
pub async fn a_password_change_reaches_the_other_device<S: KVStore + Clone>(store: S) {
    let remote = MemoryStore::new();
    let a = vault(store);
    let b = vault(MemoryStore::new());
    let ka = a.create_keyspace("k", PASSWORD).await.unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    let kb = b.clone_keyspace(&remote, "k", PASSWORD).await.unwrap();
    a.change_password("k", PASSWORD, b"new password")
        .await
        .unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    b.sync_keyspace(&kb, &remote).await.unwrap();
    assert!(matches!(
        b.unlock("k", PASSWORD).await,
        Err(Error::WrongPassword { .. })
    ));
    b.unlock("k", b"new password").await.unwrap();
}

/// A rekey on one device reaches the others, and nothing typed anywhere meanwhile is lost:
/// a change made elsewhere before the rekeyed keyspace reached the remote is taken into it
/// (a value the rekeying device changed too is kept as history), the other device adopts the
/// new keyspace with the new password and carries its own unsynced changes over (a conflicting
/// one kept as history), and afterwards the old password opens nothing anywhere.
pub async fn a_rekey_reaches_the_other_devices<S: KVStore + Clone>(store: S) {
    let remote = MemoryStore::new();
    let a = vault(store);
    let b = vault(MemoryStore::new());
    let ka = a.create_keyspace("k", PASSWORD).await.unwrap();
    a.set_secret(&ka, "shared", b"base").await.unwrap();
    a.set_secret(&ka, "doomed", b"x").await.unwrap();
    a.set_secret(&ka, "both", b"base").await.unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    let kb = b.clone_keyspace(&remote, "k", PASSWORD).await.unwrap();

    // b changes things and syncs while a, offline, rekeys and changes things too.
    b.set_secret(&kb, "shared", b"from b").await.unwrap();
    b.delete_secret(&kb, "doomed").await.unwrap();
    b.set_secret(&kb, "added by b", b"b").await.unwrap();
    b.set_secret(&kb, "both", b"b's").await.unwrap();
    b.sync_keyspace(&kb, &remote).await.unwrap();
    let ka = a.rekey("k", PASSWORD, b"new password").await.unwrap();
    a.set_secret(&ka, "both", b"a's").await.unwrap();
    a.set_secret(&ka, "added by a", b"a").await.unwrap();
    // b, offline again, changes more before it learns of the rekey.
    b.set_secret(&kb, "late from b", b"late").await.unwrap();
    b.set_secret(&kb, "added by a", b"b's too").await.unwrap();

    // a's sync takes b's synced changes, then replaces the keyspace on the remote.
    let ra = a.sync_keyspace(&ka, &remote).await.unwrap();
    assert!(ra.pushed > 0);
    assert_eq!(&*a.get_secret(&ka, "shared").await.unwrap(), b"from b");
    assert_eq!(&*a.get_secret(&ka, "added by b").await.unwrap(), b"b");
    assert!(matches!(
        a.get_secret(&ka, "doomed").await,
        Err(Error::NotFound { .. })
    ));
    // "both": changed on both sides; b synced first and wins, a's value is history.
    assert_eq!(&*a.get_secret(&ka, "both").await.unwrap(), b"b's");
    let history = a.list_history(&ka).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].name, "both");
    // A second sync has nothing left to do.
    let again = a.sync_keyspace(&ka, &remote).await.unwrap();
    assert_eq!((again.pushed, again.pulled, again.conflicts), (0, 0, 0));

    // b: its sync says the keyspace was re-keyed elsewhere; nothing changes locally.
    let before = dump(b.store()).await;
    let err = b.sync_keyspace(&kb, &remote).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("re-keyed"), "{err}");
    assert_eq!(dump(b.store()).await, before, "nothing applied");
    assert!(matches!(
        b.adopt_rekeyed(&kb, &remote, PASSWORD).await,
        Err(Error::WrongPassword { .. })
    ));
    let kb = b
        .adopt_rekeyed(&kb, &remote, b"new password")
        .await
        .unwrap();
    // b's unsynced changes came over: a new item as is, a conflicting one as history.
    assert_eq!(&*b.get_secret(&kb, "late from b").await.unwrap(), b"late");
    assert_eq!(&*b.get_secret(&kb, "added by a").await.unwrap(), b"a");
    let history: Vec<String> = b
        .list_history(&kb)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(history.contains(&"added by a".to_owned()), "{history:?}");
    b.sync_keyspace(&kb, &remote).await.unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    assert_eq!(&*a.get_secret(&ka, "late from b").await.unwrap(), b"late");
    assert_eq!(
        a.list_secrets(&ka).await.unwrap(),
        b.list_secrets(&kb).await.unwrap()
    );
    assert_eq!(
        a.keyspace_revision(&ka).await.unwrap(),
        b.keyspace_revision(&kb).await.unwrap()
    );
    // The old password opens nothing: not on a, not on b, not on the remote.
    assert!(matches!(
        a.unlock("k", PASSWORD).await,
        Err(Error::WrongPassword { .. })
    ));
    assert!(matches!(
        b.unlock("k", PASSWORD).await,
        Err(Error::WrongPassword { .. })
    ));
    assert!(matches!(
        vault(MemoryStore::new())
            .clone_keyspace(&remote, "k", PASSWORD)
            .await,
        Err(Error::WrongPassword { .. })
    ));
    // Nothing of the old keyspace is left on the remote: one header, one claim, one manifest.
    let remote_keys = dump(&remote).await;
    let count = |p: &[u8]| remote_keys.iter().filter(|(k, _)| k.starts_with(p)).count();
    assert_eq!((count(b"h/"), count(b"i/"), count(b"m/")), (1, 1, 1));
}

/// A remote that lies is caught and nothing is applied: a replayed record, a record hidden
/// from its bucket, a remote rolled back below the last sync.
pub async fn a_lying_remote_is_caught<S: KVStore + Clone>(store: S) {
    let remote = MemoryStore::new();
    let a = vault(MemoryStore::new());
    let b = vault(store);
    let ka = a.create_keyspace("k", PASSWORD).await.unwrap();
    a.set_secret(&ka, "s", b"v1").await.unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    let kb = b.clone_keyspace(&remote, "k", PASSWORD).await.unwrap();
    let old_remote = dump(&remote).await;
    a.set_secret(&ka, "s", b"v2").await.unwrap();
    a.sync_keyspace(&ka, &remote).await.unwrap();
    let new_remote = dump(&remote).await;

    // Replay: the remote serves the old record under the new manifest.
    let record = |entries: &[(Vec<u8>, Vec<u8>)]| {
        entries
            .iter()
            .find(|(k, _)| k.starts_with(b"r/"))
            .cloned()
            .unwrap()
    };
    let (key, old_value) = record(&old_remote);
    remote.set(&key, &old_value).await.unwrap();
    let before = dump(b.store()).await;
    assert!(matches!(
        b.sync_keyspace(&kb, &remote).await,
        Err(Error::Tampered {
            tampering: Tampering::Replayed { .. },
            ..
        })
    ));
    assert_eq!(dump(b.store()).await, before, "nothing applied");

    // Rollback: the whole remote put back to before b's last sync.
    remote.set(&key, &record(&new_remote).1).await.unwrap();
    b.sync_keyspace(&kb, &remote).await.unwrap();
    assert_eq!(&*b.get_secret(&kb, "s").await.unwrap(), b"v2");
    remote.clear().await.unwrap();
    for (k, v) in &old_remote {
        remote.set(k, v).await.unwrap();
    }
    assert!(matches!(
        b.sync_keyspace(&kb, &remote).await,
        Err(Error::Tampered {
            tampering: Tampering::RolledBack { .. },
            ..
        })
    ));
    // A remote that lost the keyspace altogether.
    remote.clear().await.unwrap();
    assert!(matches!(
        b.sync_keyspace(&kb, &remote).await,
        Err(Error::Tampered { .. })
    ));
    assert_eq!(&*b.get_secret(&kb, "s").await.unwrap(), b"v2");
}
