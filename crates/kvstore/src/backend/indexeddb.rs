//! IndexedDB for wasm32 in a page, a dedicated worker or a service worker: opening, upgrading
//! and deleting databases and key ranges through the `idb` crate, the per-operation calls
//! through `web-sys` (see **Cost per call**).
//!
//! **Layout** (schema version 2). One IndexedDB database per store name, holding one object
//! store `kv`. A record's IndexedDB key is a binary key (`Uint8Array`): one byte with the
//! namespace name's length, the name, then the caller's key. IndexedDB orders binary keys as
//! unsigned bytes, shorter prefix first — the order of sled, redb and the memory backend — so a
//! namespace is one contiguous key range and a prefix scan is one key range. A record's value is
//! an object `{n, v, d}`: the namespace name, the key's version and the value (`Uint8Array`). A
//! deletion leaves a tombstone `{n, v, t}` under `0x82` ‖ namespace prefix ‖ key, and each
//! namespace's state (last version, horizon: 16 bytes) is under `0x81` ‖ namespace prefix; both
//! tags are above every length byte, so neither falls inside a data range. The change feed is
//! the store's index `feed` on `[n, v]` (records and tombstones), kept by the browser in the
//! same `put`; the index `tombs` on `[n, t]` finds the oldest tombstones to prune. Opening a
//! version-1 database (values stored as bytes, no versions) rewrites it in the upgrade
//! transaction: each namespace's keys get versions 1, 2, ... in key order.
//!
//! **Transactions.** Every operation is one IndexedDB transaction. A write (`set`, `delete`,
//! `batch`) issues, in one call into JavaScript, a `get` of the state and of the record of
//! every key a precondition, create or delete names (plain sets read nothing), and, for commits
//! with a delete, larger ones and every 16 versions, the oldest tombstones; it waits for the
//! last of them (IndexedDB completes a transaction's requests in order), plans, then issues
//! every write in one more call and waits for `complete`. The wait keeps the transaction
//! active: the `success` event wakes this code in a microtask, before the browser may commit,
//! and nothing but IndexedDB requests is awaited inside a transaction. IndexedDB serialises
//! `readwrite` transactions on one store, across tabs and workers too, so a check and its
//! writes are atomic. A failed check aborts the transaction before any write is issued.
//!
//! A commit without a delete takes one round trip instead when this handle knows the namespace
//! holds no tombstone (its first commit reads them; it knows while nobody else commits), or
//! when it is small (under 16 operations, no prune due; each set then deletes its key's
//! possible tombstone blindly): it is planned from the state this handle saw after its last
//! commit, with its preconditions taken as holding, and its reads and writes are issued in one
//! call. The last read's `success` handler, which runs before the transaction can commit,
//! compares the state and the checked records with what the plan assumed and aborts the
//! transaction if any differs (another tab or handle committed, or a precondition fails); the
//! commit is then made again by the reading path above, which applies it or reports the
//! conflict.
//!
//! A scan is one ranged `getAll` (plus one `getAllKeys` over the same range for the keys),
//! never a request per entry.
//!
//! **Cost per call.** Every crossing between WebAssembly and JavaScript costs, and in a real
//! workload (code and caches cold after each IndexedDB round trip) more than a micro-benchmark
//! suggests. So: two event handlers per connection serve every request and transaction (each
//! finds its waiter by the event's target), instead of a new pair of closures per operation;
//! `transaction` and `objectStore` are called with JS strings made once per connection (a Rust
//! `&str` argument is decoded into a new JS string on every call); a commit's reads and its
//! writes are one call into JavaScript each, where small inline helpers issue the requests; a
//! scan's results are packed into one buffer in JavaScript and copied once, instead of about
//! ten calls per entry (entries this crate did not write take the per-entry path, which reports
//! them as [`Error::Corrupted`]).
//!
//! **Durability.** Write transactions request `durability: "strict"` (the third argument of
//! `IDBDatabase.transaction`): Chromium then flushes to disk before `complete` fires (its default
//! is `"relaxed"`: OS buffers only). Firefox accepts the option; its default is already to flush
//! on commit. A browser that ignores the option gives its default. A write future resolves on
//! `complete`, so a resolved write survives closing the tab or the browser; against a power
//! loss it is as durable as the browser's flush.
//!
//! **Other tabs.** When another tab opens the database with a newer schema version, this
//! connection closes itself (`versionchange`) so it does not block that upgrade; later calls
//! here then fail with [`Error::Unavailable`]. If our own open is blocked by an older connection
//! elsewhere, `open` fails with [`Error::Busy`].

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::oneshot;
use idb::{Factory, KeyRange, Request};
use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DomException, Event, IdbDatabase, IdbObjectStore, IdbRequest, IdbTransaction};

use crate::batch::Collect;
use crate::keys::{check_key, prefix_end};
use crate::versions::{self, State};
use crate::{
    Batch, BatchFill, BatchOp, Change, Entry, Error, Expect, JsFailure, KVStore, Result, Scan,
    DEFAULT_NAMESPACE,
};

const BACKEND: &str = "indexeddb";
const OBJECT_STORE: &str = "kv";
const SCHEMA_VERSION: u32 = 2;

/// The durability IndexedDB write transactions request (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// `"strict"`: the browser flushes to disk before a write resolves. The default.
    #[default]
    Strict,
    /// `"relaxed"`: a write resolves once the OS has the data (Chromium's own default);
    /// faster, but a power loss can lose writes that had resolved.
    Relaxed,
    /// Whatever the browser does without the option.
    BrowserDefault,
}

impl Durability {
    fn option(self) -> Option<&'static str> {
        match self {
            Durability::Strict => Some("strict"),
            Durability::Relaxed => Some("relaxed"),
            Durability::BrowserDefault => None,
        }
    }
}

// `IDBDatabase.transaction` and `IDBTransaction.objectStore` declared to take JS values: the
// `web-sys` versions take `&str`, which costs a UTF-8 decode into a new JS string on every call,
// and the hot path here calls them once per operation.
#[wasm_bindgen]
extern "C" {
    type JsDb;
    #[wasm_bindgen(method, catch, js_name = transaction)]
    fn transaction(
        this: &JsDb,
        store: &JsValue,
        mode: &JsValue,
        options: &JsValue,
    ) -> std::result::Result<IdbTransaction, JsValue>;

    type JsTx;
    #[wasm_bindgen(method, catch, js_name = objectStore)]
    fn object_store(this: &JsTx, name: &JsValue) -> std::result::Result<IdbObjectStore, JsValue>;
}

// The hot paths as one call into JavaScript each (see "Cost per call" above): a single get or
// put with its transaction and event handlers, and a batch's sets a chunk at a time. `bytes`
// arguments are views of wasm memory, valid during the call only: IndexedDB copies a key's
// bytes when it converts the key, so keys are passed as `subarray` views; values are
// structured-cloned with their whole buffer, so each is `slice`d into its own buffer first.
#[wasm_bindgen(inline_js = r#"
export function getOne(db, name, key, onOk, onFail) {
    const request = db.transaction(name, "readonly").objectStore(name).get(key);
    request.onsuccess = onOk;
    request.onerror = onFail;
    return request;
}

// A scan's results packed into one buffer for one copy into wasm memory: each key without its
// first `skip` (namespace) bytes, then its value (when `values` is given); `ends` the end offset
// of each. `null` if an entry is not what this crate writes (binary key of the namespace, a
// record `{n, v, d}` with a `Uint8Array` value): the caller then takes the slow path, which
// names it.
export function pack(keys, values, skip) {
    const n = keys.length;
    if (values !== undefined && values.length !== n) return null;
    let total = 0;
    for (let i = 0; i < n; i++) {
        const k = keys[i];
        if (!(k instanceof ArrayBuffer) || k.byteLength < skip) return null;
        total += k.byteLength - skip;
        if (values !== undefined) {
            const r = values[i];
            if (r === null || typeof r !== "object" || !(r.d instanceof Uint8Array)) return null;
            total += r.d.byteLength;
        }
    }
    const bytes = new Uint8Array(total);
    const ends = new Uint32Array(values === undefined ? n : 2 * n);
    let at = 0, e = 0;
    for (let i = 0; i < n; i++) {
        const k = keys[i];
        bytes.set(new Uint8Array(k, skip), at);
        at += k.byteLength - skip;
        ends[e++] = at;
        if (values !== undefined) {
            const v = values[i].d;
            bytes.set(v, at);
            at += v.byteLength;
            ends[e++] = at;
        }
    }
    return [bytes, ends];
}

// A commit in one round trip (`commitChecked` in Rust): the `get`s of the state and of the
// records `expect` names (0 absent, 1 present, 2 at `expectVersions[i]`), then the writes as in
// `applyOps`. The last get's `success` handler runs before the transaction can commit (the writes
// come after it) and aborts it, setting `stale`, if the state is not `state` or a record is not
// as expected.
export function commitChecked(tx, store, keys, keyEnds, expect, expectVersions, state, n, bytes, ends, kinds, versions) {
    // Views of wasm memory are valid during this call only: copy what the handler reads later.
    state = state.slice();
    expect = expect.slice();
    expectVersions = expectVersions.slice();
    const requests = getMany(store, keys, keyEnds);
    const outcome = { stale: false };
    requests[requests.length - 1].onsuccess = () => {
        let ok = sameBytes(requests[0].result, state);
        for (let i = 1; ok && i < requests.length; i++) {
            const r = requests[i].result, e = expect[i - 1];
            ok = e === 0 ? r === undefined
                : e === 1 ? r !== undefined
                : r !== undefined && r !== null && r.v === expectVersions[i - 1];
        }
        if (!ok) {
            outcome.stale = true;
            tx.abort();
        }
    };
    applyOps(store, n, bytes, ends, kinds, versions);
    return outcome;
}

function sameBytes(value, expected) {
    if (value instanceof ArrayBuffer) value = new Uint8Array(value);
    if (!(value instanceof Uint8Array) || value.length !== expected.length) return false;
    for (let i = 0; i < expected.length; i++) if (value[i] !== expected[i]) return false;
    return true;
}

// A `get` for each key of `bytes` (`ends`: the end offset of each key): the requests.
export function getMany(store, bytes, ends) {
    const requests = new Array(ends.length);
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
        requests[i] = store.get(bytes.subarray(start, ends[i]));
        start = ends[i];
    }
    return requests;
}

// The records of settled `get` requests: `[bytes, ends, versions, present]` (the value and the
// version of each record found); `null` if a result is not a record this crate writes.
export function readRecords(requests) {
    const n = requests.length;
    let total = 0;
    for (let i = 0; i < n; i++) {
        const r = requests[i].result;
        if (r === undefined) continue;
        if (r === null || typeof r !== "object" || !(r.d instanceof Uint8Array) || typeof r.v !== "number") return null;
        total += r.d.byteLength;
    }
    const bytes = new Uint8Array(total), ends = new Uint32Array(n);
    const versions = new Float64Array(n), present = new Uint8Array(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
        const r = requests[i].result;
        if (r !== undefined) {
            bytes.set(r.d, at);
            at += r.d.byteLength;
            versions[i] = r.v;
            present[i] = 1;
        }
        ends[i] = at;
    }
    return [bytes, ends, versions, present];
}

// A commit's writes in order. `kinds[i]`: 0 delete (a key), 1 a record `{n, v, d}` (a key, then
// its value), 2 a tombstone `{n, v, t}` (a key), 3 raw bytes (a key, then the bytes); `ends` the
// end offset of each key and value in `bytes`; `versions[i]` the version of kinds 1 and 2.
export function applyOps(store, n, bytes, ends, kinds, versions) {
    let start = 0, e = 0;
    for (let i = 0; i < kinds.length; i++) {
        const keyEnd = ends[e++];
        const key = bytes.subarray(start, keyEnd);
        start = keyEnd;
        const kind = kinds[i];
        if (kind === 0) {
            store.delete(key);
        } else if (kind === 2) {
            store.put({ n, v: versions[i], t: versions[i] }, key);
        } else {
            const valueEnd = ends[e++];
            const value = bytes.slice(keyEnd, valueEnd);
            start = valueEnd;
            store.put(kind === 1 ? { n, v: versions[i], d: value } : value, key);
        }
    }
}

// Schema version 2: records are `{n, v, d}` objects (namespace, version, value), tombstones
// `{n, v, t}`, both indexed by `[n, v]` (the change feed) and tombstones by `[n, t]`. A version 1
// database (values stored as bytes, no versions) is rewritten here, in the upgrade transaction:
// each namespace's keys get versions 1, 2, ... in key order, and a state record.
export function upgradeSchema(event) {
    const request = event.target, db = request.result, tx = request.transaction;
    const store = db.objectStoreNames.contains("kv") ? tx.objectStore("kv") : db.createObjectStore("kv");
    if (!store.indexNames.contains("feed")) store.createIndex("feed", ["n", "v"]);
    if (!store.indexNames.contains("tombs")) store.createIndex("tombs", ["n", "t"]);
    if (event.oldVersion !== 1) return;
    const namespaces = new Map();
    const cursorRequest = store.openCursor();
    cursorRequest.onsuccess = () => {
        const cursor = cursorRequest.result;
        if (!cursor) {
            for (const s of namespaces.values()) {
                const state = new Uint8Array(16);
                new DataView(state.buffer).setBigUint64(0, BigInt(s.last));
                store.put(state, s.stateKey);
            }
            return;
        }
        const key = new Uint8Array(cursor.key);
        const value = cursor.value;
        const len = key[0];
        if (len >= 0x80) {
            cursor.delete(); // not a layout of a released version
        } else if (key.length > len && (value instanceof Uint8Array || value instanceof ArrayBuffer)) {
            const n = String.fromCharCode(...key.subarray(1, 1 + len));
            let s = namespaces.get(n);
            if (!s) {
                const stateKey = new Uint8Array(2 + len);
                stateKey[0] = 0x81;
                stateKey.set(key.subarray(0, 1 + len), 1);
                s = { last: 0, stateKey };
                namespaces.set(n, s);
            }
            s.last += 1;
            cursor.update({ n, v: s.last, d: new Uint8Array(value) });
        }
        cursor.continue();
    };
}
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = getOne)]
    fn get_one(
        db: &IdbDatabase,
        name: &JsValue,
        key: &[u8],
        on_ok: &Function,
        on_fail: &Function,
    ) -> std::result::Result<IdbRequest, JsValue>;

    /// `[bytes, ends]` or `null` (see the JS above).
    #[wasm_bindgen(catch)]
    fn pack(keys: &JsValue, values: &JsValue, skip: u32) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_name = getMany)]
    fn get_many(
        store: &IdbObjectStore,
        bytes: &[u8],
        ends: &[u32],
    ) -> std::result::Result<Array, JsValue>;

    /// The outcome object `{stale}` (see the JS above).
    #[wasm_bindgen(catch, js_name = commitChecked)]
    #[allow(clippy::too_many_arguments)]
    fn commit_checked(
        tx: &IdbTransaction,
        store: &IdbObjectStore,
        keys: &[u8],
        key_ends: &[u32],
        expect: &[u8],
        expect_versions: &[f64],
        state: &[u8],
        namespace: &str,
        bytes: &[u8],
        ends: &[u32],
        kinds: &[u8],
        versions: &[f64],
    ) -> std::result::Result<JsValue, JsValue>;

    /// `[bytes, ends, versions, present]` or `null` (see the JS above).
    #[wasm_bindgen(catch, js_name = readRecords)]
    fn read_records(requests: &Array) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_name = applyOps)]
    fn apply_ops(
        store: &IdbObjectStore,
        namespace: &str,
        bytes: &[u8],
        ends: &[u32],
        kinds: &[u8],
        versions: &[f64],
    ) -> std::result::Result<(), JsValue>;

    #[wasm_bindgen(js_name = upgradeSchema)]
    fn upgrade_schema(event: &JsValue);
}

/// Who waits for which IndexedDB event: a request's `success`/`error`, or a transaction's
/// `complete`/`abort`. Two event handlers per connection serve every request and transaction
/// (creating and dropping a pair of closures per operation measurably slowed each call); each
/// finds its waiter by the event's target.
#[derive(Default)]
struct Waiters(RefCell<Vec<(JsValue, oneshot::Sender<bool>)>>);

impl Waiters {
    fn settle(&self, event: &Event, ok: bool) {
        let Some(target) = event.target() else {
            return;
        };
        let target: &JsValue = target.as_ref();
        let found = {
            let mut waiting = self.0.borrow_mut();
            let index = waiting.iter().position(|(t, _)| t == target);
            index.map(|i| waiting.swap_remove(i).1)
        };
        if let Some(send) = found {
            // The waiting future may have been dropped; nothing to tell then.
            let _ = send.send(ok);
        }
    }
}

/// The JS values every operation passes to IndexedDB, made once per connection.
struct Handles {
    store_name: JsValue,
    readonly: JsValue,
    readwrite: JsValue,
    /// `{ durability }` for write transactions, or `undefined` for the browser's default.
    write_options: JsValue,
    waiters: Rc<Waiters>,
    /// The shared handlers for success (`success`, `complete`) and failure (`error`, `abort`).
    /// Owned by JavaScript (`Closure::into_js_value`), so an event that fires after the last
    /// store handle is gone still finds a live function.
    on_ok: Function,
    on_fail: Function,
}

impl Handles {
    fn new(durability: Durability) -> Result<Self> {
        let write_options = match durability.option() {
            Some(durability) => {
                let options = Object::new();
                Reflect::set(&options, &"durability".into(), &durability.into())
                    .map_err(from_js)?;
                options.into()
            }
            None => JsValue::UNDEFINED,
        };
        let waiters = Rc::new(Waiters::default());
        let (ok, fail) = (waiters.clone(), waiters.clone());
        let on_ok = Closure::<dyn FnMut(Event)>::new(move |event: Event| ok.settle(&event, true));
        let on_fail =
            Closure::<dyn FnMut(Event)>::new(move |event: Event| fail.settle(&event, false));
        Ok(Handles {
            store_name: OBJECT_STORE.into(),
            readonly: "readonly".into(),
            readwrite: "readwrite".into(),
            write_options,
            waiters,
            on_ok: on_ok.into_js_value().unchecked_into(),
            on_fail: on_fail.into_js_value().unchecked_into(),
        })
    }

    /// Registers interest in `target`'s outcome: `true` on success or commit.
    fn wait_for(&self, target: &JsValue) -> oneshot::Receiver<bool> {
        let (send, recv) = oneshot::channel();
        self.waiters.0.borrow_mut().push((target.clone(), send));
        recv
    }
}

struct Connection {
    db: IdbDatabase,
    handles: Handles,
    // Owns the `versionchange` handler for as long as the connection lives.
    _events: idb::Database,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.db.close();
    }
}

/// A [`KVStore`] namespace in an IndexedDB database. Clones share the connection, which closes
/// when the last clone is dropped.
#[derive(Clone)]
pub struct IndexedDbStore {
    connection: Rc<Connection>,
    namespace: Rc<str>,
    retention: u64,
    /// The namespace as this handle (and its clones) last saw it, after its own last commit
    /// or read of the state: what a commit in one round trip starts from, and when to read
    /// tombstones to prune them.
    base: Rc<std::cell::Cell<Option<Base>>>,
    /// Length byte and name: the start of every IndexedDB key of this namespace.
    key_prefix: Rc<[u8]>,
}

impl std::fmt::Debug for IndexedDbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedDbStore")
            .field("database", &self.connection.db.name())
            .field("namespace", &self.namespace)
            .finish()
    }
}

fn js_message(value: &JsValue) -> String {
    if let Some(exception) = value.dyn_ref::<DomException>() {
        return format!("{}: {}", exception.name(), exception.message());
    }
    value
        .as_string()
        .or_else(|| {
            value
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{value:?}"))
}

fn from_idb(err: idb::Error) -> Error {
    Error::backend(BACKEND, err)
}

fn from_js(value: JsValue) -> Error {
    match value.dyn_ref::<DomException>() {
        Some(exception) => from_dom(exception),
        None => Error::backend(
            BACKEND,
            JsFailure {
                name: value
                    .dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.name()))
                    .unwrap_or_default(),
                message: js_message(&value),
            },
        ),
    }
}

fn from_dom(exception: &DomException) -> Error {
    let message = format!("{}: {}", exception.name(), exception.message());
    match exception.name().as_str() {
        "QuotaExceededError" => Error::QuotaExceeded(message),
        "InvalidStateError" => Error::Unavailable {
            backend: BACKEND,
            reason: format!(
                "the connection is closed (another tab may have upgraded the database): {message}"
            ),
        },
        "VersionError" => Error::Unavailable {
            backend: BACKEND,
            reason: format!(
                "the database was created by a newer version of this library: {message}"
            ),
        },
        "SecurityError" => Error::Unavailable {
            backend: BACKEND,
            reason: format!("IndexedDB is not allowed in this context: {message}"),
        },
        _ => Error::backend(
            BACKEND,
            JsFailure {
                name: exception.name(),
                message: exception.message(),
            },
        ),
    }
}

/// Resolves once with whichever of several event handlers fires first (for the rare events:
/// open, delete).
fn signal<T: 'static>() -> (impl Fn(T) + Clone + 'static, oneshot::Receiver<T>) {
    let (send, recv) = oneshot::channel();
    let send = Rc::new(RefCell::new(Some(send)));
    let fire = move |value: T| {
        if let Some(send) = send.borrow_mut().take() {
            let _ = send.send(value);
        }
    };
    (fire, recv)
}

/// Waits for `tx`, whose `complete` and `abort` handlers are the connection's, to commit.
async fn committed(handles: &Handles, tx: &IdbTransaction) -> Result<()> {
    let committed = handles
        .wait_for(tx)
        .await
        .map_err(|_| Error::backend(BACKEND, "transaction events were dropped"))?;
    if committed {
        Ok(())
    } else {
        Err(tx.error().map_or_else(
            || Error::backend(BACKEND, "transaction aborted"),
            |e| from_dom(&e),
        ))
    }
}

/// Waits for `request`, whose `success` and `error` handlers are the connection's, to settle,
/// and returns its result.
async fn request_settled(handles: &Handles, request: &IdbRequest) -> Result<JsValue> {
    handles
        .wait_for(request)
        .await
        .map_err(|_| Error::backend(BACKEND, "request events were dropped"))?;
    request_result(request)
}

/// A running transaction and its object store.
struct Tx<'c> {
    raw: IdbTransaction,
    store: IdbObjectStore,
    handles: &'c Handles,
}

impl Tx<'_> {
    /// Ends issuing requests and waits for the transaction to commit. Errors carry the reason
    /// the browser aborted it.
    async fn finish(self) -> Result<()> {
        self.raw.set_oncomplete(Some(&self.handles.on_ok));
        self.raw.set_onabort(Some(&self.handles.on_fail));
        // No explicit `commit()`: Firefox then lets a failed request go without aborting the
        // transaction (seen with Firefox ESR 153), which would half-apply a batch. The
        // transaction auto-commits once its requests are done.
        committed(self.handles, &self.raw).await
    }

    /// Aborts after a request failed to be issued, and returns that failure.
    fn abandon(self, err: Error) -> Error {
        let _ = self.raw.abort();
        err
    }

    /// Waits for a request's `success` or `error` event and returns its result.
    async fn settled(&self, request: &IdbRequest) -> Result<JsValue> {
        request.set_onsuccess(Some(&self.handles.on_ok));
        request.set_onerror(Some(&self.handles.on_fail));
        request_settled(self.handles, request).await
    }
}

fn request_result(request: &IdbRequest) -> Result<JsValue> {
    match request.error() {
        Ok(Some(e)) => Err(from_dom(&e)),
        _ => request.result().map_err(from_js),
    }
}

fn to_bytes(value: &JsValue) -> Result<Vec<u8>> {
    if let Some(array) = value.dyn_ref::<Uint8Array>() {
        Ok(array.to_vec())
    } else if let Some(buffer) = value.dyn_ref::<js_sys::ArrayBuffer>() {
        Ok(Uint8Array::new(buffer).to_vec())
    } else {
        Err(Error::Corrupted(format!(
            "IndexedDB holds a non-binary value or key: {}",
            js_message(value)
        )))
    }
}

/// The value of a record (`{n, v, d}`, schema version 2).
fn record_data(record: &JsValue) -> Result<Vec<u8>> {
    match Reflect::get(record, &"d".into()) {
        Ok(d) if d.is_instance_of::<Uint8Array>() => Ok(d.unchecked_into::<Uint8Array>().to_vec()),
        _ => Err(Error::Corrupted(format!(
            "IndexedDB holds a value this crate did not write: {}",
            js_message(record)
        ))),
    }
}

/// Options for opening an [`IndexedDbStore`], from [`IndexedDbStore::builder`].
#[derive(Debug, Clone)]
pub struct IndexedDbBuilder {
    name: String,
    durability: Durability,
    retention: u64,
}

impl IndexedDbBuilder {
    /// Keeps tombstones for the last `versions` versions (default
    /// [`DEFAULT_TOMBSTONE_RETENTION`](crate::DEFAULT_TOMBSTONE_RETENTION); see
    /// [`KVStore::changes`]).
    pub fn tombstone_retention(mut self, versions: u64) -> Self {
        self.retention = versions;
        self
    }

    /// The durability write transactions request (default [`Durability::Strict`]).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Opens (creating if needed) the database, as [`IndexedDbStore::open`].
    ///
    /// # Errors
    ///
    /// As [`IndexedDbStore::open`].
    pub async fn open(self) -> Result<IndexedDbStore> {
        IndexedDbStore::open_with(&self.name, self.durability, self.retention).await
    }
}

impl IndexedDbStore {
    /// Opens (creating if needed) the IndexedDB database `name` of this origin with the default
    /// options; the handle is its [`DEFAULT_NAMESPACE`]. Works wherever `indexedDB` exists: a
    /// page, a dedicated or shared worker, a service worker.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] where this context has no usable IndexedDB (or the database was
    /// made by a newer schema), [`Error::Busy`] if another tab keeps an older version open.
    pub async fn open(name: &str) -> Result<Self> {
        Self::builder(name).open().await
    }

    /// Options for opening database `name`:
    /// `IndexedDbStore::builder("app").durability(Durability::Relaxed).open().await`.
    pub fn builder(name: &str) -> IndexedDbBuilder {
        IndexedDbBuilder {
            name: name.to_owned(),
            durability: Durability::default(),
            retention: versions::DEFAULT_TOMBSTONE_RETENTION,
        }
    }

    async fn open_with(name: &str, durability: Durability, retention: u64) -> Result<Self> {
        let factory = Factory::new().map_err(|e| Error::Unavailable {
            backend: BACKEND,
            reason: format!("no IndexedDB in this JavaScript context: {e}"),
        })?;
        let mut request =
            factory
                .open(name, Some(SCHEMA_VERSION))
                .map_err(|e| Error::Unavailable {
                    backend: BACKEND,
                    reason: e.to_string(),
                })?;
        request.on_upgrade_needed(|event| upgrade_schema(&event.into()));
        #[derive(Clone, Copy)]
        enum Outcome {
            Opened,
            Failed,
            Blocked,
        }
        let (fire, done) = signal::<Outcome>();
        let (on_error, on_blocked) = (fire.clone(), fire.clone());
        request.on_success(move |_| fire(Outcome::Opened));
        request.on_error(move |_| on_error(Outcome::Failed));
        request.on_blocked(move |_| on_blocked(Outcome::Blocked));
        let outcome = done
            .await
            .map_err(|_| Error::backend(BACKEND, "open request events were dropped"))?;
        match outcome {
            Outcome::Opened => {}
            Outcome::Blocked => {
                // Keep the handlers alive: if the open completes later, it must not call freed
                // closures. The late connection is closed by the browser when the page goes.
                request.forget_callbacks();
                return Err(Error::Busy(format!(
                    "opening IndexedDB database {name:?} is blocked by a connection in another tab; close it and retry"
                )));
            }
            Outcome::Failed => {
                return Err(match request.error() {
                    Ok(Some(e)) => from_dom(&e),
                    _ => Error::backend(BACKEND, "open failed"),
                })
            }
        }
        let db: IdbDatabase = request.database().map_err(from_idb)?.into();
        let mut events = idb::Database::from(db.clone());
        let to_close = db.clone();
        events.on_version_change(move |_| to_close.close());
        let connection = Rc::new(Connection {
            db,
            handles: Handles::new(durability)?,
            _events: events,
        });
        Self::with_connection(connection, DEFAULT_NAMESPACE, retention)
    }

    /// Deletes the IndexedDB database `name` and everything in it. Open connections to it are
    /// asked to close (this crate's close themselves); the deletion completes once they have.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] where this context has no IndexedDB; the browser refusing or
    /// failing the deletion.
    pub async fn delete_database(name: &str) -> Result<()> {
        let factory = Factory::new().map_err(|e| Error::Unavailable {
            backend: BACKEND,
            reason: format!("no IndexedDB in this JavaScript context: {e}"),
        })?;
        let mut request = factory.delete(name).map_err(from_idb)?;
        let (fire, done) = signal::<bool>();
        let on_error = fire.clone();
        request.on_success(move |_| fire(true));
        request.on_error(move |_| on_error(false));
        let deleted = done
            .await
            .map_err(|_| Error::backend(BACKEND, "delete request events were dropped"))?;
        match (deleted, request.error()) {
            (true, _) => Ok(()),
            (false, Ok(Some(e))) => Err(from_dom(&e)),
            (false, _) => Err(Error::backend(
                BACKEND,
                format!("deleting database {name:?} failed"),
            )),
        }
    }

    fn with_connection(
        connection: Rc<Connection>,
        namespace: &str,
        retention: u64,
    ) -> Result<Self> {
        crate::validate_namespace(namespace)?;
        let mut key_prefix = Vec::with_capacity(namespace.len() + 1);
        // validate_namespace bounds the length far below 256.
        key_prefix.push(namespace.len() as u8);
        key_prefix.extend_from_slice(namespace.as_bytes());
        Ok(IndexedDbStore {
            connection,
            namespace: namespace.into(),
            retention,
            base: Rc::default(),
            key_prefix: key_prefix.into(),
        })
    }

    fn begin(&self, write: bool) -> Result<Tx<'_>> {
        let handles = &self.connection.handles;
        let (mode, options) = if write {
            (&handles.readwrite, &handles.write_options)
        } else {
            (&handles.readonly, &JsValue::UNDEFINED)
        };
        let raw = self
            .connection
            .db
            .unchecked_ref::<JsDb>()
            .transaction(&handles.store_name, mode, options)
            .map_err(from_js)?;
        let store = raw
            .unchecked_ref::<JsTx>()
            .object_store(&handles.store_name)
            .map_err(from_js)?;
        Ok(Tx {
            raw,
            store,
            handles,
        })
    }

    /// This namespace's prefix and `key`, with room for `extra` more bytes.
    fn full_key(&self, key: &[u8], extra: usize) -> Vec<u8> {
        let mut full = Vec::with_capacity(self.key_prefix.len() + key.len() + extra);
        full.extend_from_slice(&self.key_prefix);
        full.extend_from_slice(key);
        full
    }

    fn idb_key(&self, key: &[u8]) -> JsValue {
        // Concatenating in Rust and copying once is one JS call; building in JS is five.
        Uint8Array::from(self.full_key(key, 0).as_slice()).into()
    }

    /// A scan's keys (without the namespace prefix), each followed by its value if `values` is
    /// not `undefined`, packed in JavaScript and copied into wasm memory once: per entry, the
    /// per-entry path below makes about ten calls across the boundary. `None` if an entry is
    /// malformed; the per-entry path then reports which.
    fn unpack(&self, keys: &JsValue, values: &JsValue) -> Option<Vec<Vec<u8>>> {
        let packed: Array = pack(keys, values, self.key_prefix.len() as u32)
            .ok()?
            .dyn_into()
            .ok()?;
        let bytes = packed.get(0).dyn_into::<Uint8Array>().ok()?.to_vec();
        let ends = packed
            .get(1)
            .dyn_into::<js_sys::Uint32Array>()
            .ok()?
            .to_vec();
        let mut start = 0;
        let mut parts = Vec::with_capacity(ends.len());
        for end in ends {
            let end = end as usize;
            parts.push(bytes.get(start..end)?.to_vec());
            start = end;
        }
        Some(parts)
    }

    /// The caller's key inside an IndexedDB key read back from this namespace's range (which
    /// IndexedDB returns as an `ArrayBuffer`): copied once, without the namespace prefix.
    fn strip_key(&self, idb_key: &JsValue) -> Result<Vec<u8>> {
        let prefix_len = self.key_prefix.len() as u32;
        match idb_key.dyn_ref::<js_sys::ArrayBuffer>() {
            Some(buffer) if buffer.byte_length() >= prefix_len => {
                Ok(Uint8Array::new_with_byte_offset(buffer, prefix_len).to_vec())
            }
            _ => Err(Error::Corrupted(format!(
                "IndexedDB returned a key that is not a binary key of this namespace: {}",
                js_message(idb_key)
            ))),
        }
    }

    /// The IndexedDB key range of `scan` within this namespace.
    fn range(&self, scan: &Scan<'_>) -> Result<JsValue> {
        let (lower, lower_open) = scan.lower();
        let upper = match scan.upper() {
            Some(upper) => self.idb_key(&upper),
            None => {
                // The namespace prefix holds no 0xFF byte (ASCII name), so it has an end.
                let end = prefix_end(&self.key_prefix)
                    .ok_or_else(|| Error::backend(BACKEND, "namespace prefix has no end"))?;
                Uint8Array::from(end.as_slice()).into()
            }
        };
        let range = KeyRange::bound(&self.idb_key(lower), &upper, Some(lower_open), Some(true))
            .map_err(from_idb)?;
        Ok(idb::Query::from(range).into())
    }

    fn limit(scan: &Scan<'_>) -> Option<u32> {
        scan.limit.map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Runs one read transaction: issues the request and waits for it to settle. (Waiting for
    /// the transaction's `complete` instead was seen, in Chromium, to fire before a large
    /// value's `get` had its result.)
    async fn read(
        &self,
        issue: impl FnOnce(&IdbObjectStore) -> std::result::Result<IdbRequest, JsValue>,
    ) -> Result<JsValue> {
        let tx = self.begin(false)?;
        let request = match issue(&tx.store) {
            Ok(request) => request,
            Err(err) => return Err(tx.abandon(from_js(err))),
        };
        tx.settled(&request).await
    }
}

/// The first byte of a namespace's state record key (`0x81` ‖ namespace prefix) and of its
/// tombstones' keys (`0x82` ‖ namespace prefix ‖ key): above every namespace length byte (at
/// most 64), so neither falls inside a data range.
const STATE_TAG: u8 = 0x81;
const TOMB_TAG: u8 = 0x82;

/// A record's value and version.
type Versioned = (Vec<u8>, u64);

/// What a handle knows of its namespace at a state it saw committed: read inside a transaction,
/// or reached by its own commit once that completed (never an aborted commit's plan, which
/// another writer's commit could match). Versions only grow and every change moves the state,
/// so finding the state unchanged means nobody committed since.
#[derive(Debug, Clone, Copy)]
struct Base {
    state: State,
    /// The namespace held no tombstone at `state` (known from a read of the tombstones, or a
    /// clear, and kept through this handle's own commits that deleted nothing): sets need not
    /// delete a possible tombstone, and there is nothing to prune.
    tombless: bool,
}

/// What a commit knows of a key before its writes: `Some(version)` when live.
type Known = std::collections::HashMap<Vec<u8>, Option<u64>>;

/// One write of a commit, in IndexedDB terms (a record's value borrowed from the batch).
enum Op<'v> {
    Delete(Vec<u8>),
    Record(Vec<u8>, &'v [u8], u64),
    Tomb(Vec<u8>, u64),
    Raw(Vec<u8>, Vec<u8>),
}

/// A commit's writes as `applyOps` takes them (see the JS above).
struct EncodedOps {
    bytes: Vec<u8>,
    ends: Vec<u32>,
    kinds: Vec<u8>,
    versions: Vec<f64>,
}

/// Encodes `ops` for `applyOps`.
fn encode_ops(ops: &[Op<'_>]) -> Result<EncodedOps> {
    let mut out = EncodedOps {
        bytes: Vec::new(),
        ends: Vec::with_capacity(ops.len() * 2),
        kinds: Vec::with_capacity(ops.len()),
        versions: Vec::with_capacity(ops.len()),
    };
    let end = |bytes: &Vec<u8>| {
        u32::try_from(bytes.len())
            .map_err(|_| Error::InvalidInput("batch larger than 4 GiB".into()))
    };
    for op in ops {
        let (kind, key, value, version): (u8, &[u8], Option<&[u8]>, u64) = match op {
            Op::Delete(key) => (0, key, None, 0),
            Op::Record(key, value, v) => (1, key, Some(value), *v),
            Op::Tomb(key, v) => (2, key, None, *v),
            Op::Raw(key, value) => (3, key, Some(value), 0),
        };
        out.bytes.extend_from_slice(key);
        out.ends.push(end(&out.bytes)?);
        if let Some(value) = value {
            out.bytes.extend_from_slice(value);
            out.ends.push(end(&out.bytes)?);
        }
        out.kinds.push(kind);
        out.versions.push(version as f64);
    }
    Ok(out)
}

/// Full IndexedDB keys packed for `getMany`: the bytes and the end offset of each.
fn pack_keys(keys: &[Vec<u8>]) -> Result<(Vec<u8>, Vec<u32>)> {
    let mut bytes = Vec::with_capacity(keys.iter().map(Vec::len).sum());
    let mut ends = Vec::with_capacity(keys.len());
    for key in keys {
        bytes.extend_from_slice(key);
        ends.push(
            u32::try_from(bytes.len())
                .map_err(|_| Error::InvalidInput("batch too large".into()))?,
        );
    }
    Ok((bytes, ends))
}

/// Versions, preconditions and the feed (see the crate README) in schema version 2: a record is
/// `{n, v, d}` under its key, a tombstone `{n, v, t}` under `0x82` ‖ prefix ‖ key, and the feed
/// is the object store's index on `[n, v]`, which the browser keeps in the same `put`. So an
/// unconditional set is one `put`; only preconditions, creates and deletes read first. A commit
/// is one `readwrite` transaction: it reads the state, the records its checks need and the
/// oldest tombstones, waits for them (the `success` event wakes this code in a microtask, while
/// the transaction is active), then issues every write. IndexedDB serialises `readwrite`
/// transactions on one store across tabs and workers, so a check and its writes are atomic.
impl IndexedDbStore {
    fn state_key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.key_prefix.len() + 1);
        key.push(STATE_TAG);
        key.extend_from_slice(&self.key_prefix);
        key
    }

    fn tomb_key(&self, key: &[u8]) -> Vec<u8> {
        let mut full = Vec::with_capacity(self.key_prefix.len() + key.len() + 1);
        full.push(TOMB_TAG);
        full.extend_from_slice(&self.key_prefix);
        full.extend_from_slice(key);
        full
    }

    /// The key range of this namespace's tombstones.
    fn tomb_range(&self) -> Result<JsValue> {
        let start = self.tomb_key(&[]);
        let end = prefix_end(&start)
            .ok_or_else(|| Error::backend(BACKEND, "namespace prefix has no end"))?;
        let range = KeyRange::bound(
            &Uint8Array::from(start.as_slice()).into(),
            &Uint8Array::from(end.as_slice()).into(),
            Some(false),
            Some(true),
        )
        .map_err(from_idb)?;
        Ok(idb::Query::from(range).into())
    }

    /// The range `[namespace, from]` .. `[namespace, +inf]` of an index on `[n, version]`.
    fn index_range(&self, from: f64) -> Result<JsValue> {
        let lower = Array::of2(&self.namespace.as_ref().into(), &from.into());
        let upper = Array::of2(&self.namespace.as_ref().into(), &f64::INFINITY.into());
        let range = KeyRange::bound(&lower.into(), &upper.into(), Some(false), Some(false))
            .map_err(from_idb)?;
        Ok(idb::Query::from(range).into())
    }

    fn index(&self, tx: &Tx<'_>, name: &str) -> Result<web_sys::IdbIndex> {
        tx.store.index(name).map_err(from_js)
    }

    /// Issues a `get` for each full IndexedDB key, in one call into JavaScript.
    fn issue_gets(&self, tx: &Tx<'_>, keys: &[Vec<u8>]) -> Result<Array> {
        let (bytes, ends) = pack_keys(keys)?;
        get_many(&tx.store, &bytes, &ends).map_err(from_js)
    }

    /// The records of settled `get` requests: value and version of each found.
    fn records(requests: &Array) -> Result<Vec<Option<Versioned>>> {
        let packed: Array = read_records(requests)
            .map_err(from_js)?
            .dyn_into()
            .map_err(|_| {
                Error::Corrupted("IndexedDB holds a value this crate did not write".into())
            })?;
        let bytes = packed.get(0).unchecked_into::<Uint8Array>().to_vec();
        let ends = packed
            .get(1)
            .unchecked_into::<js_sys::Uint32Array>()
            .to_vec();
        let versions = packed
            .get(2)
            .unchecked_into::<js_sys::Float64Array>()
            .to_vec();
        let present = packed.get(3).unchecked_into::<Uint8Array>().to_vec();
        let mut start = 0usize;
        let mut out = Vec::with_capacity(ends.len());
        for ((end, version), present) in ends.into_iter().zip(versions).zip(present) {
            let end = end as usize;
            out.push(if present == 1 {
                let value = bytes
                    .get(start..end)
                    .ok_or_else(|| Error::backend(BACKEND, "bad packed records"))?;
                Some((value.to_vec(), version as u64))
            } else {
                None
            });
            start = end;
        }
        Ok(out)
    }

    /// The state record from a settled `get`.
    fn state_of(request: &IdbRequest) -> Result<State> {
        let value = request_result(request)?;
        if value.is_undefined() {
            return Ok(State::default());
        }
        State::decode(&to_bytes(&value)?)
    }

    /// Issues `ops` in order, in one call into JavaScript.
    fn apply(&self, tx: &Tx<'_>, ops: Vec<Op<'_>>) -> Result<()> {
        let e = encode_ops(&ops)?;
        apply_ops(
            &tx.store,
            &self.namespace,
            &e.bytes,
            &e.ends,
            &e.kinds,
            &e.versions,
        )
        .map_err(from_js)
    }

    /// Commits `ops` in one `readwrite` transaction: in one round trip from the state this
    /// handle saw last when that applies ([`Self::commit_checked`]), otherwise reading first.
    /// Returns the namespace's last version after it.
    async fn commit(&self, ops: Vec<BatchOp>) -> Result<u64> {
        if let Some(last) = self.commit_checked(&ops).await? {
            return Ok(last);
        }
        let tx = self.begin(true)?;
        match self.commit_in(&tx, &ops).await {
            Ok(after) => {
                tx.finish().await?;
                self.base.set(Some(after));
                Ok(after.state.last)
            }
            Err(err) => Err(tx.abandon(err)),
        }
    }

    /// Whether a commit of `ops` from version `last` reads the oldest tombstones: commits with
    /// a delete (the only source of tombstones), larger ones (where knowing which keys have one
    /// saves a `delete` per set) and, every 16 versions, any commit, to prune them. A small
    /// commit of sets instead deletes each key's possible tombstone blindly.
    fn reads_tombs(ops: &[BatchOp], last: u64) -> bool {
        ops.len() >= 16
            || ops.iter().any(|op| matches!(op, BatchOp::Delete { .. }))
            || last / 16 != (last + ops.len() as u64) / 16
    }

    /// A commit in one round trip, for a commit without a delete that needs no tombstones
    /// read: any such commit when the handle knows the namespace holds none
    /// ([`Base::tombless`]), else a small one ([`Self::reads_tombs`]). It is planned from the
    /// state this handle saw after its last commit, with every precondition (and every
    /// create's key being absent) taken as holding; the reads that check all that are issued
    /// together with the writes, and the last read's `success` handler (which runs before the
    /// transaction can commit, the writes being issued after it) aborts the transaction if the
    /// state or a checked record differs. `None` when this does not apply, or the check
    /// aborted it (another handle, tab or worker committed meanwhile, or a precondition
    /// fails): the caller then commits by reading first, which also reports the conflict.
    async fn commit_checked(&self, ops: &[BatchOp]) -> Result<Option<u64>> {
        let Some(Base {
            state: base,
            tombless,
        }) = self.base.get()
        else {
            return Ok(None);
        };
        if base.last == 0
            || ops.iter().any(|op| matches!(op, BatchOp::Delete { .. }))
            || (!tombless && Self::reads_tombs(ops, base.last))
        {
            return Ok(None);
        }
        // What is assumed of each key a precondition or a create names.
        let mut assumed: Vec<(&[u8], Expect)> = Vec::new();
        for op in ops {
            let (key, expect) = match op {
                BatchOp::Require { key, expect } => (key, *expect),
                BatchOp::Create { key, .. } => (key, Expect::Absent),
                _ => continue,
            };
            match assumed.iter().find(|(k, _)| *k == key.as_slice()) {
                Some((_, e)) if *e != expect => return Ok(None),
                Some(_) => {}
                None => assumed.push((key, expect)),
            }
        }
        let known: Known = assumed
            .iter()
            .map(|(k, e)| {
                let version = match e {
                    Expect::Absent => None,
                    // Liveness is all the plan uses of a key it does not write over.
                    Expect::Present => Some(0),
                    Expect::Version(v) => Some(*v),
                };
                (k.to_vec(), version)
            })
            .collect();
        let Ok((writes, state)) = self.plan(ops, base, known, &[], tombless) else {
            return Ok(None); // an error planned from assumptions: let the reading path decide
        };
        if state == base {
            return Ok(None); // nothing to write: the reading path checks the preconditions
        }
        let mut keys = Vec::with_capacity(assumed.len() + 1);
        keys.push(self.state_key());
        keys.extend(assumed.iter().map(|(k, _)| self.full_key(k, 0)));
        let (mut expect, mut versions) = (Vec::new(), Vec::new());
        for (_, e) in &assumed {
            let (kind, version) = match e {
                Expect::Absent => (0u8, 0),
                Expect::Present => (1, 0),
                Expect::Version(v) => (2, *v),
            };
            expect.push(kind);
            versions.push(version as f64);
        }
        let tx = self.begin(true)?;
        let (gets, get_ends) = match pack_keys(&keys) {
            Ok(packed) => packed,
            Err(err) => return Err(tx.abandon(err)),
        };
        let encoded = match encode_ops(&writes) {
            Ok(encoded) => encoded,
            Err(err) => return Err(tx.abandon(err)),
        };
        let outcome = match commit_checked(
            &tx.raw,
            &tx.store,
            &gets,
            &get_ends,
            &expect,
            &versions,
            &base.encode(),
            &self.namespace,
            &encoded.bytes,
            &encoded.ends,
            &encoded.kinds,
            &encoded.versions,
        ) {
            Ok(outcome) => outcome,
            Err(err) => return Err(tx.abandon(from_js(err))),
        };
        match tx.finish().await {
            Ok(()) => {
                // No delete: still no tombstone if there was none.
                self.base.set(Some(Base { state, tombless }));
                Ok(Some(state.last))
            }
            Err(_) if Reflect::get(&outcome, &"stale".into()).ok() == Some(JsValue::TRUE) => {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// Plans and applies `ops` in `tx`, reading first: the state, the records preconditions,
    /// creates and deletes need, and the oldest tombstones when due. Returns what the namespace
    /// will be once `tx` commits (the handle's [`Base`] is only ever what it saw committed: an
    /// aborted commit's plan must not pass for the state another writer may reach).
    async fn commit_in(&self, tx: &Tx<'_>, ops: &[BatchOp]) -> Result<Base> {
        let mut read: Vec<&[u8]> = ops
            .iter()
            .filter(|op| !matches!(op, BatchOp::Set { .. }))
            .map(BatchOp::key)
            .collect();
        read.sort_unstable();
        read.dedup();
        let mut keys = Vec::with_capacity(read.len() + 1);
        keys.push(self.state_key());
        keys.extend(read.iter().map(|k| self.full_key(k, 0)));
        let requests = self.issue_gets(tx, &keys)?;
        let prior = self.base.get();
        let seen = prior.map_or(0, |b| b.state.last);
        // A handle's first commit reads them too, to learn whether there are any.
        let reads_tombs = prior.is_none() || Self::reads_tombs(ops, seen);
        let (tomb_keys, tomb_values) = if reads_tombs {
            let page = versions::PRUNE_PER_COMMIT as u32;
            let index = self.index(tx, "tombs")?;
            let range = self.index_range(f64::NEG_INFINITY)?;
            let keys = index
                .get_all_keys_with_key_and_limit(&range, page)
                .map_err(from_js)?;
            let values = index
                .get_all_with_key_and_limit(&range, page)
                .map_err(from_js)?;
            let values: Array = tx.settled(&values).await?.unchecked_into();
            (request_result(&keys)?.unchecked_into::<Array>(), values)
        } else {
            let last: IdbRequest = requests.get(requests.length() - 1).unchecked_into();
            tx.settled(&last).await?;
            (Array::new(), Array::new())
        };

        let before = Self::state_of(&requests.get(0).unchecked_into())?;
        let rest = requests.slice(1, requests.length());
        let known: Known = read
            .iter()
            .zip(Self::records(&rest)?)
            .map(|(k, r)| (k.to_vec(), r.map(|(_, v)| v)))
            .collect();
        let tomb_prefix = self.tomb_key(&[]).len();
        let mut tombs = Vec::with_capacity(tomb_keys.length() as usize);
        for (k, v) in tomb_keys.iter().zip(tomb_values.iter()) {
            let k = to_bytes(&k)?;
            let t = Reflect::get(&v, &"t".into())
                .map_err(from_js)?
                .as_f64()
                .ok_or_else(|| Error::Corrupted("a tombstone without its version".into()))?;
            tombs.push((t as u64, k.get(tomb_prefix..).unwrap_or_default().to_vec()));
        }
        let mut all_tombs_known = reads_tombs && tombs.len() < versions::PRUNE_PER_COMMIT;
        // No tombstone now if the read found none, or if there was none at the state this
        // handle saw last and nobody committed since.
        let tombless = (all_tombs_known && tombs.is_empty())
            || prior.is_some_and(|b| b.tombless && b.state == before);
        all_tombs_known |= tombless;
        // The namespace as it is now, whatever this commit's fate (a failed check aborts it).
        self.base.set(Some(Base {
            state: before,
            tombless,
        }));

        for op in ops {
            if let BatchOp::Require { key, expect } = op {
                let current = known.get(key).copied().flatten();
                let holds = match expect {
                    Expect::Absent => current.is_none(),
                    Expect::Present => current.is_some(),
                    Expect::Version(v) => current == Some(*v),
                };
                if !holds {
                    return Err(Error::Conflict {
                        key: key.clone(),
                        expected: *expect,
                        current,
                    });
                }
            }
        }
        let (writes, state) = self.plan(ops, before, known, &tombs, all_tombs_known)?;
        let deleted = writes.iter().any(|w| matches!(w, Op::Tomb(..)));
        let after = Base {
            state,
            tombless: tombless && !deleted,
        };
        if !writes.is_empty() {
            self.apply(tx, writes)?;
        }
        Ok(after)
    }

    /// The writes of `ops` (preconditions already checked) and the state after them, from the
    /// state `before`, what is `known` of the keys a create or delete names (`Some(version)`
    /// when live), and the oldest tombstones `tombs` (`all_tombs_known`: every tombstone of the
    /// namespace is among them; otherwise each set deletes its key's possible tombstone).
    ///
    /// # Errors
    ///
    /// [`Error::KeyExists`] for a create meeting a live key (seeing the batch's earlier
    /// operations).
    fn plan<'o>(
        &self,
        ops: &'o [BatchOp],
        before: State,
        mut known: Known,
        tombs: &[(u64, Vec<u8>)],
        all_tombs_known: bool,
    ) -> Result<(Vec<Op<'o>>, State)> {
        let tombed: std::collections::HashSet<&[u8]> =
            tombs.iter().map(|(_, k)| k.as_slice()).collect();
        let mut state = before;
        let mut writes = Vec::with_capacity(ops.len() + 2);
        // Keys this commit wrote: `true` if it left a tombstone under them.
        let mut written: std::collections::HashMap<&[u8], bool> = Default::default();
        for op in ops {
            let (key, value) = match op {
                BatchOp::Require { .. } => continue,
                BatchOp::Create { key, value } => {
                    if known.get(key).copied().flatten().is_some() {
                        return Err(Error::KeyExists { key: key.clone() });
                    }
                    (key, Some(value))
                }
                BatchOp::Set { key, value } => (key, Some(value)),
                BatchOp::Delete { key } => (key, None),
            };
            let live = known.get(key).copied().flatten().is_some();
            if value.is_none() && !live {
                continue; // deleting what is absent changes nothing
            }
            state.last = state
                .last
                .checked_add(1)
                .ok_or_else(|| Error::Corrupted("version counter overflow".into()))?;
            let has_tomb = match written.get(key.as_slice()) {
                Some(tomb) => *tomb,
                None => !all_tombs_known || tombed.contains(key.as_slice()),
            };
            match value {
                Some(value) => {
                    if has_tomb {
                        writes.push(Op::Delete(self.tomb_key(key)));
                    }
                    writes.push(Op::Record(self.full_key(key, 0), value, state.last));
                    known.insert(key.clone(), Some(state.last));
                    written.insert(key, false);
                }
                None => {
                    writes.push(Op::Delete(self.full_key(key, 0)));
                    writes.push(Op::Tomb(self.tomb_key(key), state.last));
                    known.insert(key.clone(), None);
                    written.insert(key, true);
                }
            }
        }
        let cutoff = state.prune_cutoff(self.retention);
        for (t, key) in tombs {
            if *t > cutoff {
                break;
            }
            if written.contains_key(key.as_slice()) {
                continue; // rewritten by this commit
            }
            writes.push(Op::Delete(self.tomb_key(key)));
            state.horizon = state.horizon.max(*t);
        }
        if state != before {
            writes.push(Op::Raw(self.state_key(), state.encode().to_vec()));
        }
        Ok((writes, state))
    }
}

#[async_trait::async_trait(?Send)]
impl KVStore for IndexedDbStore {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        let handles = &self.connection.handles;
        let request = get_one(
            &self.connection.db,
            &handles.store_name,
            &self.full_key(key, 0),
            &handles.on_ok,
            &handles.on_fail,
        )
        .map_err(from_js)?;
        let value = request_settled(handles, &request).await?;
        if value.is_undefined() {
            Ok(None)
        } else {
            record_data(&value).map(Some)
        }
    }

    async fn get_versioned(&self, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        check_key(key)?;
        let tx = self.begin(false)?;
        let requests = match self.issue_gets(&tx, &[self.full_key(key, 0)]) {
            Ok(r) => r,
            Err(err) => return Err(tx.abandon(err)),
        };
        tx.settled(&requests.get(0).unchecked_into()).await?;
        Ok(Self::records(&requests)?.pop().flatten())
    }

    async fn get_many_versioned(&self, keys: &[&[u8]]) -> Result<Vec<Option<(Vec<u8>, u64)>>> {
        for key in keys {
            check_key(key)?;
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // One readonly transaction: one snapshot, and the requests pipelined in one round trip.
        let full: Vec<Vec<u8>> = keys.iter().map(|key| self.full_key(key, 0)).collect();
        let tx = self.begin(false)?;
        let requests = match self.issue_gets(&tx, &full) {
            Ok(r) => r,
            Err(err) => return Err(tx.abandon(err)),
        };
        tx.settled(&requests.get(requests.length() - 1).unchecked_into())
            .await?;
        Self::records(&requests)
    }

    async fn changes(&self, since: u64, limit: usize) -> Result<Vec<Change>> {
        // IndexedDB reads a count of 0 as "no limit": ask for one, return none.
        let fetch = u32::try_from(limit.max(1)).unwrap_or(u32::MAX);
        let tx = self.begin(false)?;
        let issued = (|| {
            let state = self.issue_gets(&tx, &[self.state_key()])?;
            let index = self.index(&tx, "feed")?;
            let range = self.index_range(since.saturating_add(1) as f64)?;
            let keys = index
                .get_all_keys_with_key_and_limit(&range, fetch)
                .map_err(from_js)?;
            let values = index
                .get_all_with_key_and_limit(&range, fetch)
                .map_err(from_js)?;
            Ok((state, keys, values))
        })();
        let (state, keys, values) = match issued {
            Ok(r) => r,
            Err(err) => return Err(tx.abandon(err)),
        };
        // Requests complete in order: once the last has, every one has.
        let values: Array = tx.settled(&values).await?.unchecked_into();
        let keys: Array = request_result(&keys)?.unchecked_into();
        versions::check_since(since, Self::state_of(&state.get(0).unchecked_into())?)?;
        let prefix = self.key_prefix.len();
        let mut out = Vec::with_capacity(keys.length() as usize);
        for (k, record) in keys.iter().zip(values.iter()).take(limit) {
            let k = to_bytes(&k)?;
            let version = Reflect::get(&record, &"v".into())
                .map_err(from_js)?
                .as_f64()
                .ok_or_else(|| Error::Corrupted("a feed entry without its version".into()))?
                as u64;
            let (key, value) = if k.first() == Some(&TOMB_TAG) {
                (k.get(prefix + 1..).unwrap_or_default().to_vec(), None)
            } else {
                (
                    k.get(prefix..).unwrap_or_default().to_vec(),
                    Some(record_data(&record)?),
                )
            };
            out.push(Change {
                key,
                version,
                value,
            });
        }
        Ok(out)
    }

    async fn last_version(&self) -> Result<u64> {
        let tx = self.begin(false)?;
        let state = match self.issue_gets(&tx, &[self.state_key()]) {
            Ok(r) => r,
            Err(err) => return Err(tx.abandon(err)),
        };
        let request: IdbRequest = state.get(0).unchecked_into();
        tx.settled(&request).await?;
        Ok(Self::state_of(&request)?.last)
    }

    async fn contains(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        let key = self.idb_key(key);
        let found = self.read(|s| s.get_key(&key)).await?;
        Ok(!found.is_undefined())
    }

    async fn scan(&self, scan: Scan<'_>) -> Result<Vec<Entry>> {
        if scan.is_empty() {
            return Ok(Vec::new());
        }
        let (range, limit) = (self.range(&scan)?, Self::limit(&scan));
        let tx = self.begin(false)?;
        let issued = get_all(&tx.store, &range, limit, true)
            .and_then(|keys| Ok((keys, get_all(&tx.store, &range, limit, false)?)));
        let (keys, values) = match issued {
            Ok(requests) => requests,
            Err(err) => return Err(tx.abandon(from_js(err))),
        };
        // Requests of a transaction complete in order: once the second has, both have.
        let values: Array = tx.settled(&values).await?.unchecked_into();
        let keys: Array = request_result(&keys)?.unchecked_into();
        if let Some(parts) = self.unpack(&keys, &values) {
            let mut parts = parts.into_iter();
            let mut entries = Vec::with_capacity(parts.len() / 2);
            while let (Some(key), Some(value)) = (parts.next(), parts.next()) {
                entries.push((key, value));
            }
            return Ok(entries);
        }
        if keys.length() != values.length() {
            return Err(Error::backend(BACKEND, "getAll and getAllKeys disagree"));
        }
        keys.iter()
            .zip(values.iter())
            .map(|(k, v)| Ok((self.strip_key(&k)?, record_data(&v)?)))
            .collect()
    }

    async fn scan_keys(&self, scan: Scan<'_>) -> Result<Vec<Vec<u8>>> {
        if scan.is_empty() {
            return Ok(Vec::new());
        }
        let (range, limit) = (self.range(&scan)?, Self::limit(&scan));
        let keys: Array = self
            .read(|s| get_all(s, &range, limit, true))
            .await?
            .unchecked_into();
        if let Some(keys) = self.unpack(&keys, &JsValue::UNDEFINED) {
            return Ok(keys);
        }
        keys.iter().map(|k| self.strip_key(&k)).collect()
    }

    async fn count(&self, prefix: &[u8]) -> Result<u64> {
        let range = self.range(&Scan::prefix(prefix))?;
        let n = self.read(|s| s.count_with_key(&range)).await?;
        n.as_f64()
            .map(|n| n as u64)
            .ok_or_else(|| Error::backend(BACKEND, "count returned a non-number"))
    }

    async fn batch(&self, batch: Batch) -> Result<()> {
        self.batch_versioned(batch).await.map(drop)
    }

    async fn batch_versioned(&self, batch: Batch) -> Result<Option<u64>> {
        batch.validate()?;
        self.commit(batch.into_ops()).await.map(Some)
    }

    async fn batch_with(&self, fill: &mut BatchFill<'_>) -> Result<()> {
        let mut sink = Collect(Batch::new());
        fill(&mut sink)?;
        if sink.0.is_empty() {
            return Ok(());
        }
        self.commit(sink.0.into_ops()).await.map(drop)
    }

    async fn clear(&self) -> Result<()> {
        let tx = self.begin(true)?;
        let state = match self.issue_gets(&tx, &[self.state_key()]) {
            Ok(r) => r,
            Err(err) => return Err(tx.abandon(err)),
        };
        let request: IdbRequest = state.get(0).unchecked_into();
        if let Err(err) = tx.settled(&request).await {
            return Err(tx.abandon(err));
        }
        let cleared = (|| {
            let mut state = Self::state_of(&request)?;
            // Versions go on; every feed from before the clear must resync.
            state.horizon = state.last;
            tx.store
                .delete(&self.range(&Scan::all())?)
                .map_err(from_js)?;
            tx.store.delete(&self.tomb_range()?).map_err(from_js)?;
            self.apply(
                &tx,
                vec![Op::Raw(self.state_key(), state.encode().to_vec())],
            )?;
            Ok(state)
        })();
        match cleared {
            Ok(state) => {
                tx.finish().await?;
                self.base.set(Some(Base {
                    state,
                    tombless: true,
                }));
                Ok(())
            }
            Err(err) => Err(tx.abandon(err)),
        }
    }

    fn namespace_name(&self) -> &str {
        &self.namespace
    }

    fn namespace(&self, name: &str) -> Result<Self> {
        Self::with_connection(self.connection.clone(), name, self.retention)
    }
}

/// One ranged `getAllKeys` (`keys`) or `getAll` request.
fn get_all(
    store: &IdbObjectStore,
    range: &JsValue,
    limit: Option<u32>,
    keys: bool,
) -> std::result::Result<IdbRequest, JsValue> {
    match (keys, limit) {
        (true, Some(n)) => store.get_all_keys_with_key_and_limit(range, n),
        (true, None) => store.get_all_keys_with_key(range),
        (false, Some(n)) => store.get_all_with_key_and_limit(range, n),
        (false, None) => store.get_all_with_key(range),
    }
}
