//! IndexedDB for wasm32 in a page, a dedicated worker or a service worker: opening, upgrading
//! and deleting databases and key ranges through the `idb` crate, the per-operation calls
//! through `web-sys` (see **Cost per call**).
//!
//! **Layout.** One IndexedDB database per store name, holding one object store `kv` (schema
//! version 1). A record's IndexedDB key is a binary key (`Uint8Array`): one byte with the
//! namespace name's length, the name, then the caller's key. IndexedDB orders binary keys as
//! unsigned bytes, shorter prefix first — the order of sled, redb and the memory backend — so a
//! namespace is one contiguous key range and a prefix scan is one key range. Values are stored
//! as `Uint8Array`s. A namespace's version indexes (see the crate README) are key ranges of the
//! same object store whose first byte is 0x80 (key → version), 0x81 (version → key, and the
//! state record) or 0x82 (tombstones by version), followed by the same namespace prefix.
//!
//! **Transactions.** Every operation is one IndexedDB transaction. A write (`set`, `delete`,
//! `batch`) first issues, in one call into JavaScript, a `get` for the state record and for the
//! version entry of every key it names, and reads the oldest tombstones; it waits for the last
//! of them (IndexedDB completes a transaction's requests in order), plans the batch (checking
//! preconditions and creates), then issues every write in one more call and waits for the
//! transaction's `complete`. The wait in between keeps the transaction active: the `success`
//! event wakes this code in a microtask, before the browser may commit, and nothing but
//! IndexedDB requests is awaited inside a transaction. A failed check aborts the transaction
//! before any write is issued; a request that throws makes us abort it explicitly. A scan is
//! one ranged `getAll` (plus one `getAllKeys` over the same range for the keys), never a
//! request per entry.
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
use idb::{Factory, KeyRange, ObjectStoreParams, Request};
use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DomException, Event, IdbDatabase, IdbObjectStore, IdbRequest, IdbTransaction};

use crate::batch::Collect;
use crate::keys::{check_key, prefix_end};
use crate::versions::{self, decode_meta, Meta, Part, State, Write};
use crate::{
    Batch, BatchFill, BatchOp, Change, Entry, Error, JsFailure, KVStore, Result, Scan,
    DEFAULT_NAMESPACE,
};

const BACKEND: &str = "indexeddb";
const OBJECT_STORE: &str = "kv";
const SCHEMA_VERSION: u32 = 1;

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
// of each. `null` if an entry is not what this crate writes (binary key of the namespace,
// `Uint8Array` or `ArrayBuffer` value): the caller then takes the slow path, which names it.
export function pack(keys, values, skip) {
    const n = keys.length;
    if (values !== undefined && values.length !== n) return null;
    let total = 0;
    for (let i = 0; i < n; i++) {
        const k = keys[i];
        if (!(k instanceof ArrayBuffer) || k.byteLength < skip) return null;
        total += k.byteLength - skip;
        if (values !== undefined) {
            const v = values[i];
            if (!(v instanceof Uint8Array || v instanceof ArrayBuffer)) return null;
            total += v.byteLength;
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
            const v = values[i];
            bytes.set(v instanceof Uint8Array ? v : new Uint8Array(v), at);
            at += v.byteLength;
            ends[e++] = at;
        }
    }
    return [bytes, ends];
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

// The results of settled `get` requests packed for one copy: `[bytes, ends, present]`; `null`
// if a value is not one this crate writes.
export function packResults(requests) {
    const n = requests.length;
    let total = 0;
    for (let i = 0; i < n; i++) {
        const v = requests[i].result;
        if (v === undefined) continue;
        if (!(v instanceof Uint8Array || v instanceof ArrayBuffer)) return null;
        total += v.byteLength;
    }
    const bytes = new Uint8Array(total), ends = new Uint32Array(n), present = new Uint8Array(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
        const v = requests[i].result;
        if (v !== undefined) {
            bytes.set(v instanceof Uint8Array ? v : new Uint8Array(v), at);
            at += v.byteLength;
            present[i] = 1;
        }
        ends[i] = at;
    }
    return [bytes, ends, present];
}

// A commit's writes in order: `kinds[i]` 1 for a put (a key then a value in `bytes`), 0 for a
// delete (a key); `ends` the end offset of each key and value.
export function applyAll(store, bytes, ends, kinds) {
    let start = 0, e = 0;
    for (let i = 0; i < kinds.length; i++) {
        const keyEnd = ends[e++];
        if (kinds[i] === 1) {
            const valueEnd = ends[e++];
            store.put(bytes.slice(keyEnd, valueEnd), bytes.subarray(start, keyEnd));
            start = valueEnd;
        } else {
            store.delete(bytes.subarray(start, keyEnd));
            start = keyEnd;
        }
    }
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

    /// `[bytes, ends, present]` or `null` (see the JS above).
    #[wasm_bindgen(catch, js_name = packResults)]
    fn pack_results(requests: &Array) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_name = applyAll)]
    fn apply_all(
        store: &IdbObjectStore,
        bytes: &[u8],
        ends: &[u32],
        kinds: &[u8],
    ) -> std::result::Result<(), JsValue>;
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
        request.on_upgrade_needed(|event| {
            use idb::DatabaseEvent;
            if let Ok(db) = event.database() {
                if !db.store_names().iter().any(|n| n == OBJECT_STORE) {
                    let _ = db.create_object_store(OBJECT_STORE, ObjectStoreParams::new());
                }
            }
        });
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

/// The first byte of the IndexedDB keys of a namespace's version indexes (`crate::versions`):
/// above every namespace length byte (at most 64), so the indexes never fall inside a data
/// range, and each index of a namespace is one key range of its own.
fn part_tag(part: Part) -> Option<u8> {
    match part {
        Part::Data => None,
        Part::Meta => Some(0x80),
        Part::Log => Some(0x81),
        Part::Tombs => Some(0x82),
    }
}

/// Versions, preconditions and the feed (see `crate::versions`): every commit is one
/// `readwrite` transaction that first reads the state, the version entries of the keys it
/// writes and the oldest tombstones, then, in the same transaction, issues every write. The
/// transaction stays active across the wait: the read's `success` event wakes this code in a
/// microtask, before the browser can commit. Transactions on one object store are serialised
/// by IndexedDB, across tabs and workers too, so the check and the writes are atomic.
impl IndexedDbStore {
    /// The IndexedDB key of `key` in `part` of this namespace.
    fn part_key(&self, part: Part, key: &[u8]) -> Vec<u8> {
        let mut full = Vec::with_capacity(self.key_prefix.len() + key.len() + 1);
        full.extend(part_tag(part));
        full.extend_from_slice(&self.key_prefix);
        full.extend_from_slice(key);
        full
    }

    /// The key range of `part` of this namespace from `from` (inclusive) on.
    fn part_range(&self, part: Part, from: &[u8]) -> Result<JsValue> {
        let start = self.part_key(part, from);
        let end = prefix_end(&self.part_key(part, &[]))
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

    /// Issues a `get` for each full IndexedDB key, in one call into JavaScript.
    fn issue_gets(&self, tx: &Tx<'_>, keys: &[Vec<u8>]) -> Result<Array> {
        let mut bytes = Vec::with_capacity(keys.iter().map(Vec::len).sum());
        let mut ends = Vec::with_capacity(keys.len());
        for key in keys {
            bytes.extend_from_slice(key);
            ends.push(
                u32::try_from(bytes.len())
                    .map_err(|_| Error::InvalidInput("batch too large".into()))?,
            );
        }
        get_many(&tx.store, &bytes, &ends).map_err(from_js)
    }

    /// Waits for the last of `requests` (requests of a transaction complete in order) and
    /// returns every result.
    async fn results(&self, tx: &Tx<'_>, requests: &Array) -> Result<Vec<Option<Vec<u8>>>> {
        let n = requests.length();
        if n == 0 {
            return Ok(Vec::new());
        }
        let last: IdbRequest = requests.get(n - 1).unchecked_into();
        tx.settled(&last).await?;
        Self::collected(requests)
    }

    /// The results of `requests`, all settled (a request issued after them has settled).
    fn collected(requests: &Array) -> Result<Vec<Option<Vec<u8>>>> {
        if let Some(packed) = pack_results(requests)
            .ok()
            .and_then(|p| p.dyn_into::<Array>().ok())
        {
            let bytes = packed.get(0).unchecked_into::<Uint8Array>().to_vec();
            let ends = packed
                .get(1)
                .unchecked_into::<js_sys::Uint32Array>()
                .to_vec();
            let present = packed.get(2).unchecked_into::<Uint8Array>().to_vec();
            let mut start = 0usize;
            let mut out = Vec::with_capacity(ends.len());
            for (end, present) in ends.into_iter().zip(present) {
                let end = end as usize;
                out.push(if present == 1 {
                    Some(
                        bytes
                            .get(start..end)
                            .ok_or_else(|| Error::backend(BACKEND, "bad packed results"))?
                            .to_vec(),
                    )
                } else {
                    None
                });
                start = end;
            }
            return Ok(out);
        }
        // Something this crate did not write: the per-request path names it.
        requests
            .iter()
            .map(|r| {
                let value = request_result(r.unchecked_ref())?;
                if value.is_undefined() {
                    Ok(None)
                } else {
                    to_bytes(&value).map(Some)
                }
            })
            .collect()
    }

    /// Issues `writes` in order, in one call into JavaScript.
    fn apply(&self, tx: &Tx<'_>, writes: Vec<Write>) -> Result<()> {
        let mut bytes = Vec::new();
        let mut ends = Vec::with_capacity(writes.len() * 2);
        let mut kinds = Vec::with_capacity(writes.len());
        let end = |bytes: &Vec<u8>| {
            u32::try_from(bytes.len())
                .map_err(|_| Error::InvalidInput("batch larger than 4 GiB".into()))
        };
        for write in writes {
            match write {
                Write::Put(part, key, value) => {
                    bytes.extend(part_tag(part));
                    bytes.extend_from_slice(&self.key_prefix);
                    bytes.extend_from_slice(&key);
                    ends.push(end(&bytes)?);
                    bytes.extend_from_slice(&value);
                    ends.push(end(&bytes)?);
                    kinds.push(1);
                }
                Write::Delete(part, key) => {
                    bytes.extend(part_tag(part));
                    bytes.extend_from_slice(&self.key_prefix);
                    bytes.extend_from_slice(&key);
                    ends.push(end(&bytes)?);
                    kinds.push(0);
                }
            }
        }
        apply_all(&tx.store, &bytes, &ends, &kinds).map_err(from_js)
    }

    /// Commits `ops` (an empty list only upgrades a namespace written before versions) in one
    /// `readwrite` transaction.
    async fn commit(&self, ops: Vec<BatchOp>) -> Result<()> {
        let tx = self.begin(true)?;
        match self.commit_in(&tx, ops).await {
            Ok(()) => tx.finish().await,
            Err(err) => Err(tx.abandon(err)),
        }
    }

    async fn commit_in(&self, tx: &Tx<'_>, ops: Vec<BatchOp>) -> Result<()> {
        // Round 1: the state, the version entry of every key the batch names, the oldest
        // tombstones.
        let mut names: Vec<&[u8]> = versions::keys_of(&ops).collect();
        names.sort_unstable();
        names.dedup();
        let mut keys = Vec::with_capacity(names.len() + 1);
        keys.push(self.part_key(Part::Log, versions::STATE_KEY));
        keys.extend(names.iter().map(|k| self.part_key(Part::Meta, k)));
        let requests = self.issue_gets(tx, &keys)?;
        let tombs = self.part_range(Part::Tombs, &[])?;
        let prune = Some(versions::PRUNE_PER_COMMIT as u32);
        let tomb_keys = get_all(&tx.store, &tombs, prune, true).map_err(from_js)?;
        let tomb_values = get_all(&tx.store, &tombs, prune, false).map_err(from_js)?;
        let mut results = self.results(tx, &requests).await?.into_iter();
        let tomb_values: Array = tx.settled(&tomb_values).await?.unchecked_into();
        let tomb_keys: Array = request_result(&tomb_keys)?.unchecked_into();

        let stored_state = results.next().flatten();
        let mut state = stored_state
            .as_deref()
            .map(State::decode)
            .transpose()?
            .unwrap_or_default();
        let mut meta: std::collections::HashMap<Vec<u8>, Option<Meta>> = names
            .iter()
            .zip(results)
            .map(|(k, m)| Ok((k.to_vec(), m.as_deref().map(decode_meta).transpose()?)))
            .collect::<Result<_>>()?;
        let mut writes = Vec::new();
        if stored_state.is_none() {
            // Round 2, once per namespace: data written before versions gets versions now.
            let data = self.range(&Scan::all())?;
            let request = get_all(&tx.store, &data, None, true).map_err(from_js)?;
            let existing: Array = tx.settled(&request).await?.unchecked_into();
            if existing.length() > 0 {
                let existing = existing
                    .iter()
                    .map(|k| self.strip_key(&k))
                    .collect::<Result<Vec<_>>>()?;
                let upgrade = versions::upgrade_plan(existing.clone());
                for (i, key) in existing.into_iter().enumerate() {
                    if let Some(m) = meta.get_mut(&key) {
                        *m = Some(Meta {
                            version: i as u64 + 1,
                            live: true,
                        });
                    }
                }
                state = upgrade.state;
                writes = upgrade.writes;
            }
        }
        let before = if stored_state.is_some() {
            state
        } else {
            State {
                last: u64::MAX,
                horizon: 0,
            }
        };

        let mut candidates = Vec::new();
        let cutoff = state.prune_cutoff(self.retention);
        for (k, v) in tomb_keys.iter().zip(tomb_values.iter()) {
            let k = to_bytes(&k)?;
            let version =
                versions::decode_version_key(k.get(k.len().saturating_sub(8)..).unwrap_or(&[]))?;
            if version > cutoff {
                break;
            }
            candidates.push((version, to_bytes(&v)?));
        }
        let missing: Vec<Vec<u8>> = candidates
            .iter()
            .filter(|(_, k)| !meta.contains_key(k))
            .map(|(_, k)| k.clone())
            .collect();
        if !missing.is_empty() {
            // Round 3, only when tombstones are due for pruning: their version entries.
            let keys: Vec<Vec<u8>> = missing
                .iter()
                .map(|k| self.part_key(Part::Meta, k))
                .collect();
            let requests = self.issue_gets(tx, &keys)?;
            for (key, m) in missing.into_iter().zip(self.results(tx, &requests).await?) {
                meta.insert(key, m.as_deref().map(decode_meta).transpose()?);
            }
        }
        let plan = versions::plan(ops, state, &meta, &candidates, self.retention)?;
        writes.extend(plan.writes);
        if plan.state != before {
            writes.push(Write::Put(
                Part::Log,
                versions::STATE_KEY.to_vec(),
                plan.state.encode().to_vec(),
            ));
        }
        if writes.is_empty() {
            return Ok(());
        }
        self.apply(tx, writes)
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
            to_bytes(&value).map(Some)
        }
    }

    async fn get_versioned(&self, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        check_key(key)?;
        for _ in 0..2 {
            let tx = self.begin(false)?;
            let keys = [
                self.part_key(Part::Log, versions::STATE_KEY),
                self.part_key(Part::Data, key),
                self.part_key(Part::Meta, key),
            ];
            let requests = match self.issue_gets(&tx, &keys) {
                Ok(r) => r,
                Err(err) => return Err(tx.abandon(err)),
            };
            let [state, value, meta] = <[_; 3]>::try_from(self.results(&tx, &requests).await?)
                .map_err(|_| Error::backend(BACKEND, "lost a request's result"))?;
            if state.is_none() && value.is_some() {
                // A namespace written before versions: upgrade it, then read again.
                self.commit(Vec::new()).await?;
                continue;
            }
            return match (value, meta) {
                (Some(value), Some(meta)) => Ok(Some((value, decode_meta(&meta)?.version))),
                _ => Ok(None),
            };
        }
        Err(Error::backend(BACKEND, "the namespace did not upgrade"))
    }

    async fn changes(&self, since: u64, limit: usize) -> Result<Vec<Change>> {
        let Some(from) = since.checked_add(1) else {
            return Ok(Vec::new());
        };
        // IndexedDB reads a count of 0 as "no limit": ask for one, return none.
        let fetch = u32::try_from(limit.max(1)).unwrap_or(u32::MAX);
        for _ in 0..2 {
            let tx = self.begin(false)?;
            let log_range = self.part_range(Part::Log, &versions::version_key(from))?;
            let issued = self
                .issue_gets(&tx, &[self.part_key(Part::Log, versions::STATE_KEY)])
                .and_then(|state| {
                    let data = self.range(&Scan::all())?;
                    let count = tx.store.count_with_key(&data).map_err(from_js)?;
                    let keys =
                        get_all(&tx.store, &log_range, Some(fetch), true).map_err(from_js)?;
                    let values =
                        get_all(&tx.store, &log_range, Some(fetch), false).map_err(from_js)?;
                    Ok((state, count, keys, values))
                });
            let (state, count, keys, values) = match issued {
                Ok(r) => r,
                Err(err) => return Err(tx.abandon(err)),
            };
            // Requests complete in order: once the last has, every one has.
            let log_values: Array = tx.settled(&values).await?.unchecked_into();
            let log_keys: Array = request_result(&keys)?.unchecked_into();
            let state = Self::collected(&state)?.pop().flatten();
            let Some(state) = state else {
                if request_result(&count)?.as_f64().unwrap_or(0.0) > 0.0 {
                    self.commit(Vec::new()).await?;
                    continue;
                }
                return Ok(Vec::new());
            };
            versions::check_since(since, State::decode(&state)?)?;
            let mut entries = Vec::with_capacity(log_keys.length() as usize);
            for (k, v) in log_keys.iter().zip(log_values.iter()) {
                let k = to_bytes(&k)?;
                let version = versions::decode_version_key(
                    k.get(k.len().saturating_sub(8)..).unwrap_or(&[]),
                )?;
                entries.push((version, to_bytes(&v)?));
            }
            entries.truncate(limit);
            if entries.is_empty() {
                return Ok(Vec::new());
            }
            let mut keys = Vec::with_capacity(2 * entries.len());
            for (_, key) in &entries {
                keys.push(self.part_key(Part::Meta, key));
                keys.push(self.part_key(Part::Data, key));
            }
            let requests = match self.issue_gets(&tx, &keys) {
                Ok(r) => r,
                Err(err) => return Err(tx.abandon(err)),
            };
            let mut results = self.results(&tx, &requests).await?.into_iter();
            let mut out = Vec::with_capacity(entries.len());
            for (version, key) in entries {
                let (meta, value) = (results.next().flatten(), results.next().flatten());
                let meta = meta
                    .as_deref()
                    .map(decode_meta)
                    .transpose()?
                    .ok_or_else(|| Error::Corrupted("a change without its version entry".into()))?;
                if meta.version != version {
                    return Err(Error::Corrupted(
                        "the change log disagrees with a version entry".into(),
                    ));
                }
                out.push(Change {
                    key,
                    version,
                    value: if meta.live { value } else { None },
                });
            }
            return Ok(out);
        }
        Err(Error::backend(BACKEND, "the namespace did not upgrade"))
    }

    async fn last_version(&self) -> Result<u64> {
        for _ in 0..2 {
            let tx = self.begin(false)?;
            let issued = self
                .issue_gets(&tx, &[self.part_key(Part::Log, versions::STATE_KEY)])
                .and_then(|state| {
                    let data = self.range(&Scan::all())?;
                    Ok((state, tx.store.count_with_key(&data).map_err(from_js)?))
                });
            let (state, count) = match issued {
                Ok(r) => r,
                Err(err) => return Err(tx.abandon(err)),
            };
            let n = tx.settled(&count).await?.as_f64().unwrap_or(0.0);
            match Self::collected(&state)?.pop().flatten() {
                Some(state) => return Ok(State::decode(&state)?.last),
                None if n > 0.0 => self.commit(Vec::new()).await?,
                None => return Ok(0),
            }
        }
        Err(Error::backend(BACKEND, "the namespace did not upgrade"))
    }

    async fn set(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut batch = Batch::new();
        batch.set(key, value);
        self.batch(batch).await
    }

    async fn delete(&self, key: &[u8]) -> Result<()> {
        let mut batch = Batch::new();
        batch.delete(key);
        self.batch(batch).await
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
            .map(|(k, v)| Ok((self.strip_key(&k)?, to_bytes(&v)?)))
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
        batch.validate()?;
        self.commit(batch.into_ops()).await
    }

    async fn batch_with(&self, fill: &mut BatchFill<'_>) -> Result<()> {
        let mut sink = Collect(Batch::new());
        fill(&mut sink)?;
        if sink.0.is_empty() {
            return Ok(());
        }
        self.commit(sink.0.into_ops()).await
    }

    async fn clear(&self) -> Result<()> {
        let tx = self.begin(true)?;
        let issued = self
            .issue_gets(&tx, &[self.part_key(Part::Log, versions::STATE_KEY)])
            .and_then(|state| {
                let last = self.range(&Scan::all())?;
                Ok((state, last))
            });
        let (state, data_range) = match issued {
            Ok(r) => r,
            Err(err) => return Err(tx.abandon(err)),
        };
        let state = match self.results(&tx, &state).await {
            Ok(mut r) => r.pop().flatten().map(|s| State::decode(&s)).transpose(),
            Err(err) => return Err(tx.abandon(err)),
        };
        let mut state = match state {
            Ok(s) => s.unwrap_or_default(),
            Err(err) => return Err(tx.abandon(err)),
        };
        // Versions go on; every feed from before the clear must resync.
        state.horizon = state.last;
        let cleared = (|| {
            tx.store.delete(&data_range).map_err(from_js)?;
            for part in [Part::Meta, Part::Log, Part::Tombs] {
                let range = self.part_range(part, &[])?;
                tx.store.delete(&range).map_err(from_js)?;
            }
            self.apply(
                &tx,
                vec![Write::Put(
                    Part::Log,
                    versions::STATE_KEY.to_vec(),
                    state.encode().to_vec(),
                )],
            )
        })();
        match cleared {
            Ok(()) => tx.finish().await,
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
