//! What the stores of `tests/fixtures/layout-v1` (kvstore's first versioned layout) hold, read
//! through today's code after the upgrade: shared by the native tests (sled, redb) and the
//! browser's (redb over OPFS, the same file bytes).

use kvstore::KVStore;

/// What each first-layout fixture holds (its README), read through today's code; then writes
/// that cross the old entries (an overwrite, a delete, a tombstone written again) go on from
/// the old versions.
pub async fn check_first_layout<S: KVStore>(store: &S) {
    let live: [(&[u8], &[u8], u64); 4] = [
        (b"a", b"second", 5),
        (b"b", b"bee", 1),
        (b"c/1", b"see", 6),
        (b"\xff\x00", b"", 3),
    ];
    for (key, value, version) in live {
        assert_eq!(
            store.get_versioned(key).await.unwrap(),
            Some((value.to_vec(), version)),
            "{key:?}"
        );
        assert_eq!(store.get(key).await.unwrap().as_deref(), Some(value));
    }
    assert_eq!(store.get(b"gone").await.unwrap(), None);
    assert_eq!(store.last_version().await.unwrap(), 7);
    let feed: Vec<(Vec<u8>, u64, Option<Vec<u8>>)> = store
        .changes(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.key, c.version, c.value))
        .collect();
    assert_eq!(
        feed,
        vec![
            (b"b".to_vec(), 1, Some(b"bee".to_vec())),
            (b"\xff\x00".to_vec(), 3, Some(Vec::new())),
            (b"a".to_vec(), 5, Some(b"second".to_vec())),
            (b"c/1".to_vec(), 6, Some(b"see".to_vec())),
            (b"gone".to_vec(), 7, None),
        ]
    );
    let scanned = store.scan(kvstore::Scan::prefix(b"")).await.unwrap();
    assert_eq!(scanned.len(), 4);
    assert_eq!(scanned[0], (b"a".to_vec(), b"second".to_vec()));

    let second = store.namespace("second").unwrap();
    assert_eq!(second.last_version().await.unwrap(), 3);
    assert_eq!(
        second.get_versioned(b"y").await.unwrap(),
        Some((b"why".to_vec(), 3))
    );
    let feed = second.changes(0, 10).await.unwrap();
    assert_eq!(feed.len(), 2);
    assert_eq!(
        (feed[0].key.as_slice(), feed[0].value.as_deref()),
        (&b"x"[..], None)
    );

    // A create over the old tombstone, a precondition on an old version, a delete.
    let mut batch = kvstore::Batch::new();
    batch
        .create(*b"gone", *b"back")
        .require_version(*b"a", 5)
        .set(*b"a", *b"third")
        .delete(*b"b");
    assert_eq!(store.batch_versioned(batch).await.unwrap(), Some(10));
    assert_eq!(
        store.get_versioned(b"gone").await.unwrap(),
        Some((b"back".to_vec(), 8))
    );
    let feed = store.changes(6, 10).await.unwrap();
    let keys: Vec<&[u8]> = feed.iter().map(|c| c.key.as_slice()).collect();
    assert_eq!(keys, [&b"gone"[..], b"a", b"b"]);
}

/// After the upgrade, on reopen: the writes of [`check_first_layout`] kept, nothing upgraded
/// twice.
pub async fn check_first_layout_reopened<S: KVStore>(store: &S) {
    assert_eq!(store.last_version().await.unwrap(), 10);
    assert_eq!(
        store.get(b"a").await.unwrap().as_deref(),
        Some(&b"third"[..])
    );
    assert_eq!(store.get(b"b").await.unwrap(), None);
    assert_eq!(
        store.get_versioned(b"c/1").await.unwrap(),
        Some((b"see".to_vec(), 6))
    );
    assert_eq!(store.changes(0, 100).await.unwrap().len(), 5);
}
