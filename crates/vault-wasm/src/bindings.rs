use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use kvstore::Durability;

use crate::store::{BrowserStore, Choice};
use vault::eth::TypedDataEncoding;
use vault::{KeyType, SecretBytes, Zeroizing};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_time::Instant;

use crate::queue::Queue;

// Hand-written types the generated `vault_wasm.d.ts` includes (checked against the Rust
// definitions by this crate's native tests).
#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("types.d.ts");

#[wasm_bindgen(inline_js = r#"
export function cipherTransform(cipher) {
    return new TransformStream({
        transform(chunk, controller) {
            const out = cipher.update(chunk);
            if (out.length > 0) controller.enqueue(out);
        },
        flush(controller) {
            const out = cipher.finish();
            if (out.length > 0) controller.enqueue(out);
        },
    });
}
"#)]
extern "C" {
    /// A `TransformStream` whose chunks go through `cipher` (a [`StreamCipher`]).
    #[wasm_bindgen(js_name = cipherTransform)]
    fn cipher_transform(cipher: JsValue) -> JsValue;
}

#[wasm_bindgen]
extern "C" {
    /// The global `setTimeout` (a page, a dedicated worker and a service worker all have it).
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, timeout_ms: i32) -> JsValue;
}

/// Session options from JavaScript: `{ idleTimeoutMs }`, a bare number of milliseconds (the
/// first release's form), or nothing.
fn session_options(value: &JsValue) -> Result<vault::SessionOptions, vault::Error> {
    let idle = if value.is_undefined() || value.is_null() {
        JsValue::UNDEFINED
    } else if value.as_f64().is_some() {
        value.clone()
    } else if value.is_object() {
        Reflect::get(value, &"idleTimeoutMs".into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        return Err(vault::Error::InvalidInput(
            "unlock options must be { idleTimeoutMs } or a number of milliseconds".into(),
        ));
    };
    let options = vault::SessionOptions::default();
    if idle.is_undefined() || idle.is_null() {
        return Ok(options);
    }
    match idle.as_f64() {
        Some(ms) if ms.is_finite() && ms >= 0.0 => {
            Ok(options.idle_timeout(Duration::from_millis(ms as u64)))
        }
        _ => Err(vault::Error::InvalidInput(
            "idleTimeoutMs must be a non-negative number".into(),
        )),
    }
}

/// Secret bytes from JavaScript (a string or a `Uint8Array`), in a buffer wiped on drop.
fn secret_bytes(value: &JsValue, what: &str) -> Result<SecretBytes, vault::Error> {
    if let Some(text) = value.as_string() {
        return Ok(SecretBytes::from(text.into_bytes()));
    }
    match value.dyn_ref::<Uint8Array>() {
        Some(bytes) => Ok(SecretBytes::from(bytes.to_vec())),
        None => Err(vault::Error::InvalidInput(format!(
            "{what} must be a string or a Uint8Array"
        ))),
    }
}

/// The account's vault namespace on the server at `server`, under `credential` (from
/// `syncLogin`: the session token, a dot, and the names key in hex), keyspace names blinded.
fn vault_remote(
    server: &str,
    credential: &str,
) -> Result<vault::BlindNames<vault_sync::RemoteStore>, vault::Error> {
    use kvstore::KVStore;
    let malformed = || vault::Error::InvalidInput("not a credential from syncLogin".into());
    let (token, names_key) = credential.split_once('.').ok_or_else(malformed)?;
    if names_key.len() != 64 || !names_key.is_ascii() {
        return Err(malformed());
    }
    let names_key = Zeroizing::new(
        (0..32)
            .map(|i| u8::from_str_radix(&names_key[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| malformed())?,
    );
    let remote = vault_sync::RemoteStore::with_token(server, token)
        .namespace(vault_sync::VAULT_NAMESPACE)?;
    vault::BlindNames::new(remote, &names_key)
}

/// A JavaScript `Error` with `name = "VaultError"` and a stable `code`.
fn to_js(err: vault::Error) -> JsValue {
    let js = js_sys::Error::new(&err.to_string());
    js.set_name("VaultError");
    let _ = Reflect::set(&js, &"code".into(), &err.code().as_str().into());
    js.into()
}

fn key_type(text: &str) -> Result<KeyType, vault::Error> {
    text.parse()
}

/// `INVALID_INPUT` unless `out` holds `needed` bytes.
fn check_room(out: &Uint8Array, needed: u64) -> vault::Result<()> {
    if u64::from(out.length()) < needed {
        return Err(vault::Error::InvalidInput(format!(
            "the output array has {} bytes; this call writes {needed}",
            out.length()
        )));
    }
    Ok(())
}

/// Copies `data` to the start of `out` (which holds it); its length, for JavaScript.
fn copy_to(out: &Uint8Array, data: &[u8]) -> JsValue {
    out.subarray(0, data.len() as u32).copy_from(data);
    JsValue::from(data.len() as u32)
}

fn bytes(value: impl AsRef<[u8]>) -> JsValue {
    Uint8Array::from(value.as_ref()).into()
}

/// A plain JavaScript object of `fields` (a field whose value is `None` is left out).
fn js_object<const N: usize>(fields: [(&str, Option<JsValue>); N]) -> JsValue {
    let object = Object::new();
    for (key, value) in fields {
        if let Some(value) = value {
            // Setting a property of a fresh plain object cannot fail.
            let _ = Reflect::set(&object, &key.into(), &value);
        }
    }
    object.into()
}

fn key_info(info: &vault::KeyInfo) -> JsValue {
    js_object([
        ("name", Some(info.name.as_str().into())),
        ("keyType", Some(info.key_type.as_str().into())),
        ("publicKey", Some(bytes(&info.public_key))),
        (
            "ethAddress",
            info.eth_address()
                .map(|address| vault::eth_checksum_address(&address).into()),
        ),
        (
            "derivation",
            info.derivation.as_ref().map(|d| {
                js_object([
                    ("seed", Some(d.seed.as_str().into())),
                    ("path", Some(d.path.as_str().into())),
                ])
            }),
        ),
    ])
}

/// JSON given as a string, or as an object (serialized with `JSON.stringify`).
fn json_text(value: &JsValue, what: &str) -> Result<String, vault::Error> {
    if let Some(text) = value.as_string() {
        return Ok(text);
    }
    if value.is_object() {
        if let Ok(text) = js_sys::JSON::stringify(value) {
            if let Some(text) = text.as_string() {
                return Ok(text);
            }
        }
    }
    Err(vault::Error::InvalidInput(format!(
        "{what} must be JSON text or an object JSON.stringify accepts (quantities as strings or numbers, not BigInt)"
    )))
}

fn typed_data_encoding(name: Option<String>) -> Result<TypedDataEncoding, vault::Error> {
    match name.as_deref() {
        None | Some("v4") => Ok(TypedDataEncoding::MetaMaskV4),
        Some("spec") => Ok(TypedDataEncoding::Spec),
        Some(other) => Err(vault::Error::InvalidInput(format!(
            "unknown typed-data encoding {other:?}: \"v4\" (MetaMask, the default) or \"spec\""
        ))),
    }
}

fn keystore_kdf(name: Option<String>) -> Result<vault::keystore::KeystoreKdf, vault::Error> {
    use vault::keystore::KeystoreKdf;
    match name.as_deref() {
        None | Some("standard") => Ok(KeystoreKdf::STANDARD),
        Some("light") => Ok(KeystoreKdf::LIGHT),
        Some("pbkdf2") => Ok(KeystoreKdf::Pbkdf2 {
            iterations: 262_144,
        }),
        Some(other) => Err(vault::Error::InvalidInput(format!(
            "unknown keystore KDF {other:?}: \"standard\", \"light\" or \"pbkdf2\""
        ))),
    }
}

fn eth_signature(signature: vault::eth::EthSignature) -> JsValue {
    bytes(signature.to_bytes())
}

/// `{ preset, index }` or `{ path, keyType }` of `deriveKey`: the key type and the path.
fn derive_spec(spec: &JsValue) -> Result<(KeyType, String), vault::Error> {
    let get = |key: &str| {
        Reflect::get(spec, &key.into())
            .ok()
            .filter(|v| !v.is_undefined())
    };
    let bad = || {
        vault::Error::InvalidInput("deriveKey takes { preset, index } or { path, keyType }".into())
    };
    match (get("preset"), get("path")) {
        (Some(preset), None) => {
            let preset = vault::hd::preset(&preset.as_string().ok_or_else(bad)?)?;
            let index = match get("index") {
                None => 0,
                Some(index) => {
                    let index = index.as_f64().ok_or_else(bad)?;
                    if !(0.0..=u32::MAX as f64).contains(&index) || index.fract() != 0.0 {
                        return Err(vault::Error::InvalidInput(
                            "index is an integer from 0 to 2^32 - 1".into(),
                        ));
                    }
                    index as u32
                }
            };
            Ok((preset.key_type, preset.path(index)))
        }
        (None, Some(path)) => {
            let key_type = match get("keyType") {
                None => KeyType::Secp256k1,
                Some(kt) => key_type(&kt.as_string().ok_or_else(bad)?)?,
            };
            Ok((key_type, path.as_string().ok_or_else(bad)?))
        }
        _ => Err(bad()),
    }
}

/// Runs `future` on [`crate::executor`] (first poll now, later polls as soon as woken) and
/// returns a `Promise` of its outcome.
fn promise<F, T>(future: F) -> Promise
where
    F: std::future::Future<Output = Result<T, vault::Error>> + 'static,
    T: Into<JsValue>,
{
    let mut settle = None;
    let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    // The Promise constructor calls its executor synchronously.
    let Some((resolve, reject)) = settle else {
        return Promise::reject(&"the Promise constructor did not run its executor".into());
    };
    crate::executor::spawn(async move {
        let _ = match future.await {
            Ok(value) => resolve.call1(&JsValue::UNDEFINED, &value.into()),
            Err(err) => reject.call1(&JsValue::UNDEFINED, &to_js(err)),
        };
    });
    promise
}

/// A vault in one IndexedDB database of this origin. Works in a page, a dedicated worker and an
/// extension service worker. Heavy calls (`createKeyspace`, `unlock`, `changePassword`, …) run
/// Argon2id on the calling thread: on a page, use the worker client (`vault-wasm/client`).
#[wasm_bindgen]
pub struct Vault {
    inner: vault::Vault<BrowserStore>,
}

#[wasm_bindgen]
impl Vault {
    /// Opens (creating if needed) vault `dbName`. `options` is `{ backend, durability }` (or,
    /// as in the first release, just the durability):
    /// - `backend: "auto"` (default): redb over the Origin Private File System where this
    ///   context can hold it (a dedicated worker), IndexedDB elsewhere; `"opfs"` or
    ///   `"indexeddb"` to force one (`"opfs"` outside a dedicated worker rejects with
    ///   `STORAGE_UNAVAILABLE`). On OPFS, a vault of the same name still in IndexedDB is moved
    ///   over first (copied, verified, switched, then deleted from IndexedDB; interrupted, the
    ///   next open finishes it). An OPFS vault is owned by one worker at a time: opening it in
    ///   a second tab rejects with `STORAGE_BUSY` (never a silent fallback to IndexedDB).
    /// - `durability` (IndexedDB only): `"strict"` (default: flushed before a write
    ///   resolves), `"relaxed"` or `"default"` (the browser's choice). OPFS writes always
    ///   resolve after the file's `flush()`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Vault>")]
    pub fn open(
        #[wasm_bindgen(js_name = dbName)] db_name: String,
        #[wasm_bindgen(
            unchecked_param_type = "OpenOptions | \"strict\" | \"relaxed\" | \"default\""
        )]
        options: JsValue,
    ) -> Promise {
        promise(async move {
            let (durability, backend) = if options.is_object() {
                (
                    Reflect::get(&options, &"durability".into())
                        .ok()
                        .and_then(|v| v.as_string()),
                    Reflect::get(&options, &"backend".into())
                        .ok()
                        .and_then(|v| v.as_string()),
                )
            } else {
                (options.as_string(), None)
            };
            let durability = match durability.as_deref() {
                None | Some("strict") => Durability::Strict,
                Some("relaxed") => Durability::Relaxed,
                Some("default") => Durability::BrowserDefault,
                Some(other) => {
                    return Err(vault::Error::InvalidInput(format!(
                        "durability {other:?}: expected \"strict\", \"relaxed\" or \"default\""
                    )))
                }
            };
            let choice = match backend.as_deref() {
                None | Some("auto") => Choice::Auto,
                Some("opfs") => Choice::Opfs,
                Some("indexeddb") => Choice::IndexedDb,
                Some(other) => {
                    return Err(vault::Error::InvalidInput(format!(
                        "backend {other:?}: expected \"auto\", \"opfs\" or \"indexeddb\""
                    )))
                }
            };
            let store = BrowserStore::open(&db_name, choice, durability).await?;
            Ok(Vault {
                inner: vault::Vault::new(store),
            })
        })
    }

    /// The engine this vault runs on: `"opfs"` (redb over the Origin Private File System) or
    /// `"indexeddb"`.
    #[wasm_bindgen]
    pub fn backend(&self) -> String {
        self.inner.store().backend().to_owned()
    }

    /// Creates keyspace `name` under `password`.
    #[wasm_bindgen(js_name = createKeyspace, unchecked_return_type = "Promise<void>")]
    pub fn create_keyspace(
        &self,
        name: String,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        let password = secret_bytes(&password, "the password");
        promise(async move {
            inner.create_keyspace(&name, password?).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The keyspace names, sorted (no password needed).
    #[wasm_bindgen(js_name = listKeyspaces, unchecked_return_type = "Promise<string[]>")]
    pub fn list_keyspaces(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let names = inner.list_keyspaces().await?;
            Ok(names.into_iter().map(JsValue::from).collect::<Array>())
        })
    }

    /// Deletes keyspace `name` and everything in it (needs its password).
    #[wasm_bindgen(js_name = deleteKeyspace, unchecked_return_type = "Promise<void>")]
    pub fn delete_keyspace(
        &self,
        name: String,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        let password = secret_bytes(&password, "the password");
        promise(async move {
            inner.delete_keyspace(&name, password?).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Changes keyspace `name`'s password (open sessions keep working). The keyspace key stays
    /// the same: after a leak, use `rekey`.
    #[wasm_bindgen(js_name = changePassword, unchecked_return_type = "Promise<void>")]
    pub fn change_password(
        &self,
        name: String,
        #[wasm_bindgen(js_name = oldPassword, unchecked_param_type = "Password")]
        old_password: JsValue,
        #[wasm_bindgen(js_name = newPassword, unchecked_param_type = "Password")]
        new_password: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        let old_password = secret_bytes(&old_password, "the old password");
        let new_password = secret_bytes(&new_password, "the new password");
        promise(async move {
            inner
                .change_password(&name, old_password?, new_password?)
                .await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Replaces keyspace `name`'s key and id and re-encrypts everything in it, in one atomic
    /// write, under `newPassword` (pass the current password to keep it). Old copies of the
    /// store, old backups and the old password then open nothing current; sessions opened
    /// before fail. Use it after a leak.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn rekey(
        &self,
        name: String,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
        #[wasm_bindgen(js_name = newPassword, unchecked_param_type = "Password")]
        new_password: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        let password = secret_bytes(&password, "the password");
        let new_password = secret_bytes(&new_password, "the new password");
        promise(async move {
            inner.rekey(&name, password?, new_password?).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Unlocks keyspace `name` into a session. With `{ idleTimeoutMs }` it locks itself (a
    /// timer wipes its keys) that long after its last call; without, only `lock()` locks it.
    #[wasm_bindgen(unchecked_return_type = "Promise<Session>")]
    pub fn unlock(
        &self,
        name: String,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UnlockOptions | number")] options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        let password = secret_bytes(&password, "the password");
        let options = session_options(&options);
        promise(async move {
            let (password, options) = (password?, options?);
            let session = inner.open_session(&name, password, options).await?;
            let state = Rc::new(SessionState {
                session: RefCell::new(Some(session)),
                queue: Queue::default(),
                unlocked: Cell::new(true),
                timer_pending: Cell::new(false),
                onlock: RefCell::new(None),
                streams: RefCell::new(Vec::new()),
            });
            SessionState::arm_timer(&state);
            Ok(Session { state })
        })
    }

    /// Fetches keyspace `name` from the vault server (a new device): checks that `password`
    /// opens it and that everything in it authenticates, then stores it here. Later changes
    /// travel with `Session.sync`.
    ///
    /// # Errors
    ///
    /// Rejects with `NOT_FOUND` if the server holds no such keyspace, `ALREADY_EXISTS` if this
    /// vault has one of that name, `WRONG_PASSWORD`, `TAMPERED` or `CORRUPTED` for a server
    /// whose copy does not check out.
    #[wasm_bindgen(js_name = cloneKeyspace, unchecked_return_type = "Promise<void>")]
    pub fn clone_keyspace(
        &self,
        server: String,
        token: String,
        name: String,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        let password = secret_bytes(&password, "the password");
        promise(async move {
            let remote = vault_remote(&server, &token)?;
            inner.clone_keyspace(&remote, &name, password?).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Imports a keyspace backup (from the CLI or `Session.exportBackup`) under the password
    /// it was exported with; resolves to the keyspace's name.
    #[wasm_bindgen(js_name = importBackup, unchecked_return_type = "Promise<string>")]
    pub fn import_backup(
        &self,
        backup: Vec<u8>,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        let password = secret_bytes(&password, "the password");
        promise(async move { inner.import_backup(&backup, password?).await })
    }

    /// Registers `account` on the vault server at `server` (`https://host`), proving it with a
    /// key derived from `password` by Argon2id ([`vault::sync_auth_key`]; no encryption key is
    /// derived from it, and the server stores only a hash of it).
    ///
    /// # Errors
    ///
    /// Rejects with `STORAGE_ERROR` when the name is taken, `STORAGE_UNAVAILABLE` when the
    /// server cannot be reached, `INVALID_INPUT` for an empty password.
    #[wasm_bindgen(js_name = syncRegister, unchecked_return_type = "Promise<void>")]
    pub fn sync_register(
        server: String,
        account: String,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
    ) -> Promise {
        let password = secret_bytes(&password, "the password");
        promise(async move {
            let key = vault::sync_auth_key(&account, password?, vault::KdfParams::DEFAULT)?;
            vault_sync::RemoteStore::register(&server, &account, &key).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Opens a session on the vault server at `server` for `account` and resolves to its
    /// credential (the session token and the key that blinds keyspace names on the server),
    /// for `cloneKeyspace` and `Session.sync`: keep it like a password (it reads and writes the
    /// account's ciphertext).
    ///
    /// # Errors
    ///
    /// Rejects with `STORAGE_ERROR` for a wrong account or password, `STORAGE_UNAVAILABLE`
    /// when the server cannot be reached.
    #[wasm_bindgen(js_name = syncLogin, unchecked_return_type = "Promise<string>")]
    pub fn sync_login(
        server: String,
        account: String,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
    ) -> Promise {
        let password = secret_bytes(&password, "the password");
        promise(async move {
            let keys = vault::sync_keys(&account, password?, vault::KdfParams::DEFAULT)?;
            let remote = vault_sync::RemoteStore::login(&server, &account, &keys.auth_key).await?;
            let names_key: String = keys.names_key.iter().map(|b| format!("{b:02x}")).collect();
            Ok(JsValue::from(format!("{}.{names_key}", remote.token())))
        })
    }

    /// Verifies a signature with a public key only: `keyType` is `"secp256k1"` (64-byte r ‖ s,
    /// ECDSA over SHA-256) or `"ed25519"`.
    ///
    /// # Errors
    ///
    /// Throws `INVALID_INPUT` for an unknown key type or a malformed key or signature (one
    /// that is well formed but does not verify gives `false`).
    #[wasm_bindgen]
    pub fn verify(
        #[wasm_bindgen(js_name = keyType, unchecked_param_type = "\"secp256k1\" | \"ed25519\"")]
        key_type_name: String,
        #[wasm_bindgen(js_name = publicKey)] public_key: Vec<u8>,
        message: Vec<u8>,
        signature: Vec<u8>,
    ) -> Result<bool, JsValue> {
        let kt = key_type(&key_type_name).map_err(to_js)?;
        vault::verify(kt, &public_key, &message, &signature).map_err(to_js)
    }

    /// Verifies an EIP-191 personal-message signature (65 bytes) against a `0x…` address.
    ///
    /// # Errors
    ///
    /// Throws `INVALID_INPUT` for a malformed address or a signature that is not 65 bytes or
    /// has a bad `v` (a high-S or otherwise invalid one gives `false`).
    #[wasm_bindgen(js_name = verifyEthPersonal)]
    pub fn verify_eth_personal(
        address: String,
        message: Vec<u8>,
        signature: Vec<u8>,
    ) -> Result<bool, JsValue> {
        let address = vault::parse_eth_address(&address).map_err(to_js)?;
        vault::verify_eth_personal(&address, &message, &signature).map_err(to_js)
    }

    /// The EIP-55 address of a secp256k1 public key.
    ///
    /// # Errors
    ///
    /// Throws `INVALID_INPUT` for bytes that are not a secp256k1 public key.
    #[wasm_bindgen(js_name = ethAddress)]
    pub fn eth_address(
        #[wasm_bindgen(js_name = publicKey)] public_key: Vec<u8>,
    ) -> Result<String, JsValue> {
        Ok(vault::eth_checksum_address(
            &vault::eth_address(&public_key).map_err(to_js)?,
        ))
    }

    /// Decodes a raw signed transaction: `{ type, hash, from, chainId }` (`chainId` null for a
    /// legacy transaction without EIP-155).
    ///
    /// # Errors
    ///
    /// Throws `INVALID_INPUT` for bytes that are not one canonical signed transaction.
    #[wasm_bindgen(js_name = decodeTransaction, unchecked_return_type = "DecodedTransaction")]
    pub fn decode_transaction(raw: Vec<u8>) -> Result<JsValue, JsValue> {
        let info = vault::eth::decode_signed_transaction(&raw).map_err(to_js)?;
        Ok(js_object([
            ("type", Some(f64::from(info.tx_type).into())),
            ("hash", Some(format!("0x{}", hex::encode(info.hash)).into())),
            ("from", Some(vault::eth_checksum_address(&info.from).into())),
            (
                "chainId",
                Some(info.chain_id.map_or(JsValue::NULL, |c| (c as f64).into())),
            ),
        ]))
    }
}

/// A stream's cipher: what the `TransformStream`s of `encryptStream` and `decryptStream` run,
/// and what `streamEncryptor`/`streamDecryptor` return for other plumbing. Feed `update` the
/// chunks in order, then call `finish` once.
#[wasm_bindgen]
pub struct StreamCipher {
    slot: Rc<CipherSlot>,
}

fn stream_gone() -> JsValue {
    to_js(vault::Error::Locked)
}

#[wasm_bindgen]
impl StreamCipher {
    /// Takes more input; returns the output ready so far (plaintext only once authenticated).
    ///
    /// # Errors
    ///
    /// Throws `LOCKED` once the session locked or the stream finished, `DECRYPTION_FAILED` for
    /// a chunk that fails authentication.
    pub fn update(&self, chunk: Vec<u8>) -> Result<Uint8Array, JsValue> {
        // Wiped in one pass on drop (`Zeroizing<Vec<u8>>` wipes byte by byte: ~1 ms per MiB here).
        let chunk = SecretBytes::from(chunk);
        match self.slot.borrow_mut().as_mut() {
            Some(Cipher::Encrypt(encryptor)) => Ok(Uint8Array::from(&encryptor.update(&chunk)[..])),
            Some(Cipher::Decrypt(decryptor)) => Ok(Uint8Array::from(
                &decryptor.update(&chunk).map_err(to_js)?[..],
            )),
            None => Err(stream_gone()),
        }
    }

    /// Ends the stream: the last output (for decryption, only if the stream is complete).
    ///
    /// # Errors
    ///
    /// As [`update`](Self::update); `DECRYPTION_FAILED` for a truncated or extended stream.
    pub fn finish(&self) -> Result<Uint8Array, JsValue> {
        match self.slot.borrow_mut().take() {
            Some(Cipher::Encrypt(encryptor)) => Ok(Uint8Array::from(&encryptor.finish()[..])),
            Some(Cipher::Decrypt(decryptor)) => {
                Ok(Uint8Array::from(&decryptor.finish().map_err(to_js)?[..]))
            }
            None => Err(stream_gone()),
        }
    }
}

/// `cipher` as a [`StreamCipher`] the session wipes when it locks.
fn stream_cipher(state: &Rc<SessionState>, cipher: Cipher) -> StreamCipher {
    let slot = Rc::new(RefCell::new(Some(cipher)));
    let mut streams = state.streams.borrow_mut();
    streams.retain(|stream| stream.strong_count() > 0);
    streams.push(Rc::downgrade(&slot));
    StreamCipher { slot }
}

/// A `TransformStream` over `cipher`, which the session wipes when it locks.
fn stream_transform(state: &Rc<SessionState>, cipher: Cipher) -> JsValue {
    cipher_transform(JsValue::from(stream_cipher(state, cipher)))
}

/// What a [`Session`] shares with its calls in flight and its idle timer.
struct SessionState {
    /// `None` only while a turn runs.
    session: RefCell<Option<vault::Session<BrowserStore>>>,
    /// Calls run one at a time, in the order JavaScript issued them.
    queue: Queue,
    /// Whether the keys were in memory after the last turn (to tell a lock event).
    unlocked: Cell<bool>,
    timer_pending: Cell<bool>,
    onlock: RefCell<Option<Function>>,
    /// The ciphers of the streams this session made, wiped when it locks.
    streams: RefCell<Vec<Weak<CipherSlot>>>,
}

/// A stream's cipher: `None` once the stream finished or its session locked.
type CipherSlot = RefCell<Option<Cipher>>;

enum Cipher {
    Encrypt(vault::StreamEncryptor),
    Decrypt(vault::StreamDecryptor),
}

impl SessionState {
    /// Called at the end of every turn: reports a lock that happened in it, and keeps one
    /// timer pending for the idle deadline while the session is unlocked.
    fn after_turn(state: &Rc<Self>, explicit_lock: bool) {
        let locked = state
            .session
            .borrow_mut()
            .as_mut()
            .is_none_or(|session| session.is_locked());
        if locked && state.unlocked.replace(false) {
            for stream in state.streams.borrow_mut().drain(..) {
                if let Some(slot) = stream.upgrade() {
                    slot.borrow_mut().take();
                }
            }
            let reason = if explicit_lock { "lock" } else { "idle" };
            let listener = state.onlock.borrow().clone();
            if let Some(listener) = listener {
                let _ = listener.call1(&JsValue::UNDEFINED, &reason.into());
            }
        }
        if !locked {
            state.unlocked.set(true);
            Self::arm_timer(state);
        }
    }

    /// Sets a timer for the idle deadline unless one is pending. When it fires it takes its
    /// turn like any call (so calls issued before it finish first) and wipes the keys if the
    /// session is still idle, or sets a new timer if a call moved the deadline.
    fn arm_timer(state: &Rc<Self>) {
        if state.timer_pending.get() {
            return;
        }
        let Some(deadline) = state
            .session
            .borrow()
            .as_ref()
            .and_then(|session| session.idle_deadline())
        else {
            return;
        };
        let wait = deadline.saturating_duration_since(Instant::now());
        // setTimeout takes at most 2^31 - 1 ms; a longer wait simply fires early and re-arms.
        let wait_ms = i32::try_from(wait.as_millis().saturating_add(1)).unwrap_or(i32::MAX);
        let weak: Weak<Self> = Rc::downgrade(state);
        let fire = Closure::once_into_js(move || {
            let Some(state) = weak.upgrade() else {
                return;
            };
            state.timer_pending.set(false);
            let ticket = state.queue.ticket();
            crate::executor::spawn(async move {
                let _turn = ticket.turn().await;
                if let Some(session) = state.session.borrow_mut().as_mut() {
                    session.lock_if_idle();
                }
                SessionState::after_turn(&state, false);
            });
        });
        state.timer_pending.set(true);
        set_timeout(fire.unchecked_ref(), wait_ms);
    }
}

/// An unlocked keyspace. Calls run one at a time in the order they were made, so a call made
/// after `lock()` never sees the keys. Calls after `lock()` or after the idle timeout reject
/// with code `LOCKED`; when the idle timeout passes, a timer wipes the keys at once (no call
/// needed) and `onlock` is called.
#[wasm_bindgen]
pub struct Session {
    state: Rc<SessionState>,
}

/// A session call: takes its place in line now (in the JavaScript call), runs in its turn.
macro_rules! session_call {
    ($self:ident, |$s:ident| $body:expr) => {
        session_call!($self, false, |$s| $body)
    };
    ($self:ident, $explicit_lock:expr, |$s:ident| $body:expr) => {{
        let state = $self.state.clone();
        let ticket = state.queue.ticket();
        promise(async move {
            let _turn = ticket.turn().await;
            // The session is moved out for the turn (turns never overlap, so nothing else
            // looks for it meanwhile), and the body's `?` ends the inner block only: the
            // session is always put back and the turn's end always reported.
            let mut session = state.session.take();
            let result = match session.as_mut() {
                Some($s) => async { $body }.await,
                None => Err(vault::Error::Locked),
            };
            *state.session.borrow_mut() = session;
            SessionState::after_turn(&state, $explicit_lock);
            result
        })
    }};
}

#[wasm_bindgen]
impl Session {
    /// Locks: keys are zeroized. Every call made after this one runs after it, and so finds
    /// the session locked (until an `unlock` made after it).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn lock(&self) -> Promise {
        session_call!(self, true, |s| {
            s.lock();
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Whether the keys are gone from memory (explicit lock, or idle timeout).
    #[wasm_bindgen(js_name = isLocked, unchecked_return_type = "Promise<boolean>")]
    pub fn is_locked(&self) -> Promise {
        session_call!(self, |s| Ok(JsValue::from(s.is_locked())))
    }

    /// Unlocks again after `lock()` or expiry.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn unlock(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
    ) -> Promise {
        let password = secret_bytes(&password, "the password");
        session_call!(self, |s| {
            s.unlock(password?).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Replaces the keyspace's key and id (see `Vault.rekey`); this session keeps working.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn rekey(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
        #[wasm_bindgen(js_name = newPassword, unchecked_param_type = "Password")]
        new_password: JsValue,
    ) -> Promise {
        let password = secret_bytes(&password, "the password");
        let new_password = secret_bytes(&new_password, "the new password");
        session_call!(self, |s| {
            s.rekey(password?, new_password?).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Called with `"lock"` or `"idle"` when the session locks (set `null` to stop).
    #[wasm_bindgen(setter)]
    pub fn set_onlock(
        &self,
        #[wasm_bindgen(unchecked_param_type = "((reason: LockReason) => void) | null")]
        listener: Option<Function>,
    ) {
        *self.state.onlock.borrow_mut() = listener;
    }

    /// The keyspace's name.
    #[wasm_bindgen(js_name = keyspaceName, unchecked_return_type = "Promise<string>")]
    pub fn keyspace_name(&self) -> Promise {
        session_call!(self, |s| Ok(JsValue::from(s.keyspace_name())))
    }

    /// The keyspace's revision: it goes up by one with every change. Store it outside this
    /// browser profile (a server, another device) and give it to `anchorRevision` after the
    /// next unlock to catch a store put back to an older copy.
    #[wasm_bindgen(js_name = keyspaceRevision, unchecked_return_type = "Promise<number>")]
    pub fn keyspace_revision(&self) -> Promise {
        // Revisions count changes: far below 2^53, exact as a JavaScript number.
        session_call!(self, |s| Ok(JsValue::from(
            s.keyspace_revision().await? as f64
        )))
    }

    /// Syncs the keyspace with the vault server at `server` under session `token` (from
    /// `Vault.syncLogin`): pushes this device's changes, pulls the others', and keeps the local
    /// side of a conflict as history (`listHistory`). Resolves to what it did.
    ///
    /// # Errors
    ///
    /// Rejects with `TAMPERED` for a server that replays, hides or rolls back (nothing is
    /// applied), `CONFLICT` when both sides kept changing (retry), `STORAGE_UNAVAILABLE` when
    /// the server cannot be reached (the local vault works on; sync later).
    #[wasm_bindgen(unchecked_return_type = "Promise<SyncReport>")]
    pub fn sync(&self, server: String, token: String) -> Promise {
        session_call!(self, |s| {
            let remote = vault_remote(&server, &token)?;
            let report = s.sync(&remote).await?;
            Ok(js_object([
                ("pushed", Some((report.pushed as f64).into())),
                ("pulled", Some((report.pulled as f64).into())),
                ("conflicts", Some((report.conflicts as f64).into())),
                ("revision", Some((report.revision as f64).into())),
            ]))
        })
    }

    /// Takes in this keyspace as re-keyed on another device (when `sync` rejects with
    /// `NOT_FOUND` saying so): `newPassword` opens the server's copy, which replaces this one
    /// here; what changed here since the last sync is carried over (a conflicting value kept
    /// as history). The session keeps working under the new key.
    ///
    /// # Errors
    ///
    /// Rejects with `WRONG_PASSWORD` for a wrong new password, `INVALID_INPUT` when the server
    /// holds this very keyspace (nothing to adopt), `TAMPERED` or `CORRUPTED` for a server copy
    /// that does not check out.
    #[wasm_bindgen(js_name = adoptRekeyed, unchecked_return_type = "Promise<void>")]
    pub fn adopt_rekeyed(
        &self,
        server: String,
        token: String,
        #[wasm_bindgen(js_name = newPassword, unchecked_param_type = "Password")]
        new_password: JsValue,
    ) -> Promise {
        let new_password = secret_bytes(&new_password, "the new password");
        session_call!(self, |s| {
            let remote = vault_remote(&server, &token)?;
            s.adopt_rekeyed(&remote, new_password?).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The values kept after they lost a sync conflict, oldest first.
    #[wasm_bindgen(js_name = listHistory, unchecked_return_type = "Promise<HistoryEntry[]>")]
    pub fn list_history(&self) -> Promise {
        session_call!(self, |s| {
            let entries = s.list_history().await?;
            Ok(entries
                .iter()
                .map(|e| {
                    let item = match e.item {
                        vault::Item::KeyPair => "keyPair",
                        _ => "secret",
                    };
                    js_object([
                        ("id", Some(e.id.as_str().into())),
                        ("item", Some(item.into())),
                        ("name", Some(e.name.as_str().into())),
                        ("revision", Some((e.revision as f64).into())),
                    ])
                })
                .collect::<Array>())
        })
    }

    /// Puts history entry `id` back under its name (replacing the current value).
    #[wasm_bindgen(js_name = restoreHistory, unchecked_return_type = "Promise<void>")]
    pub fn restore_history(&self, id: String) -> Promise {
        session_call!(self, |s| {
            s.restore_history(&id).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Anchors the keyspace at `revision`: every later call (after lock and unlock too) rejects
    /// with `TAMPERED` if the store holds an older revision.
    #[wasm_bindgen(js_name = anchorRevision, unchecked_return_type = "Promise<void>")]
    pub fn anchor_revision(&self, revision: f64) -> Promise {
        session_call!(self, |s| {
            if !(revision >= 0.0 && revision.fract() == 0.0 && revision <= 9_007_199_254_740_991.0)
            {
                return Err(vault::Error::InvalidInput(
                    "a revision is a non-negative integer".into(),
                ));
            }
            s.anchor_revision(revision as u64);
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Generates a key pair (`"secp256k1"` or `"ed25519"`).
    #[wasm_bindgen(js_name = generateKey, unchecked_return_type = "Promise<KeyInfo>")]
    pub fn generate_key(
        &self,
        name: String,
        #[wasm_bindgen(js_name = keyType, unchecked_param_type = "\"secp256k1\" | \"ed25519\"")]
        key_type_name: String,
    ) -> Promise {
        session_call!(self, |s| {
            let kt = key_type(&key_type_name)?;
            Ok(key_info(&s.generate_key(&name, kt).await?))
        })
    }

    /// Imports a raw 32-byte private key.
    #[wasm_bindgen(js_name = importKey, unchecked_return_type = "Promise<KeyInfo>")]
    pub fn import_key(
        &self,
        name: String,
        #[wasm_bindgen(js_name = keyType, unchecked_param_type = "\"secp256k1\" | \"ed25519\"")]
        key_type_name: String,
        #[wasm_bindgen(js_name = privateKey)] private_key: Vec<u8>,
    ) -> Promise {
        let private_key = Zeroizing::new(private_key);
        session_call!(self, |s| {
            let kt = key_type(&key_type_name)?;
            Ok(key_info(&s.import_key(&name, kt, &private_key).await?))
        })
    }

    /// All key pairs, sorted by name.
    #[wasm_bindgen(js_name = listKeys, unchecked_return_type = "Promise<KeyInfo[]>")]
    pub fn list_keys(&self) -> Promise {
        session_call!(self, |s| Ok(s
            .list_keys()
            .await?
            .iter()
            .map(key_info)
            .collect::<Array>()))
    }

    /// One key pair's public description.
    #[wasm_bindgen(js_name = keyInfo, unchecked_return_type = "Promise<KeyInfo>")]
    pub fn key_info(&self, name: String) -> Promise {
        session_call!(self, |s| Ok(key_info(&s.key_info(&name).await?)))
    }

    /// Selects the key pair `sign` and `signEthPersonal` use.
    #[wasm_bindgen(js_name = selectKey, unchecked_return_type = "Promise<KeyInfo>")]
    pub fn select_key(&self, name: String) -> Promise {
        session_call!(self, |s| Ok(key_info(&s.select_key(&name).await?)))
    }

    /// Renames a key pair.
    #[wasm_bindgen(js_name = renameKey, unchecked_return_type = "Promise<void>")]
    pub fn rename_key(&self, from: String, to: String) -> Promise {
        session_call!(self, |s| {
            s.rename_key(&from, &to).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Deletes a key pair.
    #[wasm_bindgen(js_name = deleteKey, unchecked_return_type = "Promise<void>")]
    pub fn delete_key(&self, name: String) -> Promise {
        session_call!(self, |s| {
            s.delete_key(&name).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Reveals a key pair's raw 32-byte private key: the only call that does.
    #[wasm_bindgen(js_name = exportPrivateKey, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn export_private_key(&self, name: String) -> Promise {
        session_call!(self, |s| Ok(bytes(&*s.export_private_key(&name).await?)))
    }

    /// Signs with the selected key pair.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn sign(&self, message: Vec<u8>) -> Promise {
        session_call!(self, |s| Ok(bytes(s.sign(&message).await?)))
    }

    /// Signs with key pair `name`.
    #[wasm_bindgen(js_name = signWith, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn sign_with(&self, name: String, message: Vec<u8>) -> Promise {
        session_call!(self, |s| Ok(bytes(s.sign_with(&name, &message).await?)))
    }

    /// EIP-191 personal-message signature (65 bytes r ‖ s ‖ v) with the selected key pair.
    #[wasm_bindgen(js_name = signEthPersonal, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn sign_eth_personal(&self, message: Vec<u8>) -> Promise {
        session_call!(self, |s| Ok(bytes(s.sign_eth_personal(&message).await?)))
    }

    /// Recoverable signature (65 bytes r ‖ s ‖ v, v = 27 or 28) of a 32-byte hash with the
    /// selected secp256k1 key pair. Sign only hashes whose preimage you know.
    #[wasm_bindgen(js_name = signHash, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn sign_hash(&self, hash: Vec<u8>) -> Promise {
        session_call!(self, |s| {
            let hash: [u8; 32] = hash
                .as_slice()
                .try_into()
                .map_err(|_| vault::Error::InvalidInput("a hash to sign has 32 bytes".into()))?;
            Ok(eth_signature(s.sign_hash(&hash).await?))
        })
    }

    /// EIP-712 signature (65 bytes) of typed data (the JSON of `eth_signTypedData_v4`, as text
    /// or an object) with the selected key pair. `encoding`: `"v4"` (MetaMask's, the default)
    /// or `"spec"`; they differ only for arrays of structs.
    #[wasm_bindgen(js_name = signTypedData, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn sign_typed_data(
        &self,
        #[wasm_bindgen(js_name = typedData, unchecked_param_type = "string | object")]
        typed_data: JsValue,
        #[wasm_bindgen(unchecked_param_type = "TypedDataEncoding")] encoding: Option<String>,
    ) -> Promise {
        let json = json_text(&typed_data, "typed data");
        session_call!(self, |s| {
            let encoding = typed_data_encoding(encoding)?;
            Ok(eth_signature(s.sign_typed_data(&json?, encoding).await?))
        })
    }

    /// Signs a transaction (the JSON object of `eth_signTransaction`, as text or an object)
    /// with the selected key pair: the raw bytes for `eth_sendRawTransaction`.
    #[wasm_bindgen(js_name = signTransaction, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn sign_transaction(
        &self,
        #[wasm_bindgen(unchecked_param_type = "TransactionRequest | string")] transaction: JsValue,
    ) -> Promise {
        let json = json_text(&transaction, "the transaction");
        session_call!(self, |s| {
            let tx = vault::eth::Transaction::from_json(&json?)?;
            Ok(bytes(s.sign_transaction(&tx).await?))
        })
    }

    /// Signs an EIP-7702 authorization with the selected key pair: the object a type 4
    /// transaction's `authorizationList` takes. `chainId` 0 authorizes on every chain.
    #[wasm_bindgen(
        js_name = signAuthorization,
        unchecked_return_type = "Promise<SignedAuthorization>"
    )]
    pub fn sign_authorization(
        &self,
        #[wasm_bindgen(js_name = chainId)] chain_id: f64,
        address: String,
        nonce: f64,
    ) -> Promise {
        session_call!(self, |s| {
            let integer = |v: f64, what: &str| {
                if (0.0..=9_007_199_254_740_991.0).contains(&v) && v.fract() == 0.0 {
                    Ok(v as u64)
                } else {
                    Err(vault::Error::InvalidInput(format!(
                        "{what} is a non-negative safe integer"
                    )))
                }
            };
            let address = vault::parse_eth_address(&address)?;
            let json = s
                .sign_authorization(
                    integer(chain_id, "chainId")?,
                    &address,
                    integer(nonce, "nonce")?,
                )
                .await?;
            js_sys::JSON::parse(&json)
                .map_err(|_| vault::Error::InvalidInput("authorization JSON".into()))
        })
    }

    /// Generates a BIP39 mnemonic of 12 or 24 `words` (default 24), stores its seed (with an
    /// optional BIP39 `passphrase`) as seed `name`, and returns the words to show once.
    #[wasm_bindgen(js_name = generateSeed, unchecked_return_type = "Promise<string>")]
    pub fn generate_seed(
        &self,
        name: String,
        words: Option<u32>,
        passphrase: Option<String>,
    ) -> Promise {
        let passphrase = Zeroizing::new(passphrase.unwrap_or_default());
        session_call!(self, |s| {
            let length = match words {
                None | Some(24) => vault::hd::MnemonicLength::Words24,
                Some(12) => vault::hd::MnemonicLength::Words12,
                Some(_) => {
                    return Err(vault::Error::InvalidInput(
                        "a mnemonic has 12 or 24 words".into(),
                    ))
                }
            };
            let words = s.generate_seed(&name, length, &passphrase).await?;
            Ok(JsValue::from(words.as_str()))
        })
    }

    /// Stores the seed of a BIP39 mnemonic (English; checksum checked) with an optional
    /// passphrase as seed `name`. The words are not stored in clear, the passphrase not at all.
    #[wasm_bindgen(js_name = importMnemonic, unchecked_return_type = "Promise<void>")]
    pub fn import_mnemonic(
        &self,
        name: String,
        mnemonic: String,
        passphrase: Option<String>,
    ) -> Promise {
        let mnemonic = Zeroizing::new(mnemonic);
        let passphrase = Zeroizing::new(passphrase.unwrap_or_default());
        session_call!(self, |s| {
            s.import_mnemonic(&name, &mnemonic, &passphrase).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The words of seed `name`: call only on the user's explicit request.
    #[wasm_bindgen(js_name = exportMnemonic, unchecked_return_type = "Promise<string>")]
    pub fn export_mnemonic(&self, name: String) -> Promise {
        session_call!(self, |s| Ok(JsValue::from(
            s.export_mnemonic(&name).await?.as_str()
        )))
    }

    /// The names of the keyspace's seeds, sorted.
    #[wasm_bindgen(js_name = listSeeds, unchecked_return_type = "Promise<string[]>")]
    pub fn list_seeds(&self) -> Promise {
        session_call!(self, |s| Ok(s
            .list_seeds()
            .await?
            .into_iter()
            .map(JsValue::from)
            .collect::<Array>()))
    }

    /// Deletes seed `name` (keys derived from it stay).
    #[wasm_bindgen(js_name = deleteSeed, unchecked_return_type = "Promise<void>")]
    pub fn delete_seed(&self, name: String) -> Promise {
        session_call!(self, |s| {
            s.delete_seed(&name).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Derives key pair `name` from seed `seed`: `{ preset, index }` (`"ethereum"`,
    /// `"ethereum-ledger-live"`, `"solana"`, `"solana-bip44"`, `"cosmos"`) or
    /// `{ path, keyType }` (keyType default `"secp256k1"`).
    #[wasm_bindgen(js_name = deriveKey, unchecked_return_type = "Promise<KeyInfo>")]
    pub fn derive_key(
        &self,
        seed: String,
        name: String,
        #[wasm_bindgen(unchecked_param_type = "DeriveSpec")] spec: JsValue,
    ) -> Promise {
        let spec = derive_spec(&spec);
        session_call!(self, |s| {
            let (key_type, path) = spec?;
            Ok(key_info(
                &s.derive_key(&seed, &name, key_type, &path).await?,
            ))
        })
    }

    /// Imports the key of a keystore v3 file (text or object) decrypted with its password.
    /// Standard scrypt takes seconds: on a page, call it through the worker client.
    #[wasm_bindgen(js_name = importKeystore, unchecked_return_type = "Promise<KeyInfo>")]
    pub fn import_keystore(
        &self,
        name: String,
        #[wasm_bindgen(unchecked_param_type = "string | object")] keystore: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
    ) -> Promise {
        let json = json_text(&keystore, "the keystore");
        let password = secret_bytes(&password, "the keystore password");
        session_call!(self, |s| {
            Ok(key_info(
                &s.import_keystore(&name, &json?, &password?).await?,
            ))
        })
    }

    /// Exports secp256k1 key pair `name` as keystore v3 JSON text under `password`; `kdf`:
    /// `"standard"` (scrypt n = 2^18, the default), `"light"` (n = 2^12) or `"pbkdf2"`.
    #[wasm_bindgen(js_name = exportKeystore, unchecked_return_type = "Promise<string>")]
    pub fn export_keystore(
        &self,
        name: String,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
        #[wasm_bindgen(unchecked_param_type = "KeystoreKdf")] kdf: Option<String>,
    ) -> Promise {
        let password = secret_bytes(&password, "the keystore password");
        session_call!(self, |s| {
            let kdf = keystore_kdf(kdf)?;
            Ok(JsValue::from(
                s.export_keystore(&name, &password?, kdf).await?,
            ))
        })
    }

    /// Stores a secret (bytes; encode strings with `TextEncoder`).
    #[wasm_bindgen(js_name = setSecret, unchecked_return_type = "Promise<void>")]
    pub fn set_secret(&self, name: String, value: Vec<u8>) -> Promise {
        let value = Zeroizing::new(value);
        session_call!(self, |s| {
            s.set_secret(&name, &value).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stores many secrets in one atomic IndexedDB transaction: `[[name, value], ...]`.
    #[wasm_bindgen(js_name = setSecrets, unchecked_return_type = "Promise<void>")]
    pub fn set_secrets(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Array<[string, Uint8Array]>")] entries: Array,
    ) -> Promise {
        type Secret = (String, Zeroizing<Vec<u8>>);
        let parsed: Result<Vec<Secret>, vault::Error> = entries
            .iter()
            .map(|entry| {
                let pair: Array = entry.dyn_into().map_err(|_| {
                    vault::Error::InvalidInput("setSecrets takes [name, value] pairs".into())
                })?;
                let name = pair.get(0).as_string().ok_or_else(|| {
                    vault::Error::InvalidInput("a secret name must be a string".into())
                })?;
                let value = pair.get(1).dyn_into::<Uint8Array>().map_err(|_| {
                    vault::Error::InvalidInput("a secret value must be a Uint8Array".into())
                })?;
                Ok((name, Zeroizing::new(value.to_vec())))
            })
            .collect();
        session_call!(self, |s| {
            s.set_secrets(&parsed?).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// A secret's value.
    #[wasm_bindgen(js_name = getSecret, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn get_secret(&self, name: String) -> Promise {
        session_call!(self, |s| Ok(bytes(&*s.get_secret(&name).await?)))
    }

    /// Secret names, sorted.
    #[wasm_bindgen(js_name = listSecrets, unchecked_return_type = "Promise<string[]>")]
    pub fn list_secrets(&self) -> Promise {
        session_call!(self, |s| Ok(s
            .list_secrets()
            .await?
            .into_iter()
            .map(JsValue::from)
            .collect::<Array>()))
    }

    /// Deletes a secret.
    #[wasm_bindgen(js_name = deleteSecret, unchecked_return_type = "Promise<void>")]
    pub fn delete_secret(&self, name: String) -> Promise {
        session_call!(self, |s| {
            s.delete_secret(&name).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Encrypts bytes under the keyspace (version and algorithm carried in the output).
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn encrypt(&self, plaintext: Vec<u8>) -> Promise {
        let plaintext = SecretBytes::from(plaintext);
        session_call!(self, |s| Ok(bytes(s.encrypt(&plaintext).await?)))
    }

    /// A `TransformStream` that encrypts what is written to it (any chunk sizes) into a stream
    /// of the keyspace (the CLI's `vault decrypt` reads it too): `file.stream().pipeThrough(await
    /// session.encryptStream())`. Memory stays at about one 64 KiB chunk whatever the size.
    /// Locking the session wipes the stream's key: its next chunk fails with `LOCKED`.
    #[wasm_bindgen(
        js_name = encryptStream,
        unchecked_return_type = "Promise<TransformStream<Uint8Array, Uint8Array>>"
    )]
    pub fn encrypt_stream(&self) -> Promise {
        let state = self.state.clone();
        session_call!(self, |s| {
            let cipher = Cipher::Encrypt(s.encrypt_stream().await?);
            Ok(stream_transform(&state, cipher))
        })
    }

    /// A `TransformStream` that decrypts a stream of this keyspace, releasing each chunk only
    /// after it authenticated; it errors (`DECRYPTION_FAILED`) on a truncated, reordered or
    /// altered stream, so a consumer must treat output as untrusted until the stream closed
    /// without error.
    #[wasm_bindgen(
        js_name = decryptStream,
        unchecked_return_type = "Promise<TransformStream<Uint8Array, Uint8Array>>"
    )]
    pub fn decrypt_stream(&self) -> Promise {
        let state = self.state.clone();
        session_call!(self, |s| {
            let cipher = Cipher::Decrypt(s.decrypt_stream().await?);
            Ok(stream_transform(&state, cipher))
        })
    }

    /// The encryption behind `encryptStream` as a plain object (`update(chunk)`, `finish()`),
    /// for plumbing other than Web Streams (Node streams, a worker). Locking the session wipes
    /// it too.
    #[wasm_bindgen(js_name = streamEncryptor, unchecked_return_type = "Promise<StreamCipher>")]
    pub fn stream_encryptor(&self) -> Promise {
        let state = self.state.clone();
        session_call!(self, |s| {
            let cipher = Cipher::Encrypt(s.encrypt_stream().await?);
            Ok(JsValue::from(stream_cipher(&state, cipher)))
        })
    }

    /// The decryption behind `decryptStream` as a plain object (see `streamEncryptor`).
    #[wasm_bindgen(js_name = streamDecryptor, unchecked_return_type = "Promise<StreamCipher>")]
    pub fn stream_decryptor(&self) -> Promise {
        let state = self.state.clone();
        session_call!(self, |s| {
            let cipher = Cipher::Decrypt(s.decrypt_stream().await?);
            Ok(JsValue::from(stream_cipher(&state, cipher)))
        })
    }

    /// Decrypts what `encrypt` produced in this keyspace.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn decrypt(&self, ciphertext: Vec<u8>) -> Promise {
        session_call!(self, |s| Ok(bytes(&*s.decrypt(&ciphertext).await?)))
    }

    /// `encrypt` into the start of `out`, an array the caller reuses, instead of a new array;
    /// resolves to the number of bytes written (`plaintext.length + 42`). For large messages
    /// in a loop: a browser hands out fresh memory for every new array of a megabyte or more,
    /// which costs about as much as encrypting it (docs/PERF.md). Rejects with `INVALID_INPUT`
    /// (writing nothing) when `out` is shorter than `plaintext.length + 42`.
    #[wasm_bindgen(js_name = encryptInto, unchecked_return_type = "Promise<number>")]
    pub fn encrypt_into(&self, plaintext: Vec<u8>, out: Uint8Array) -> Promise {
        let plaintext = SecretBytes::from(plaintext);
        session_call!(self, |s| {
            check_room(&out, (plaintext.len() + vault::CIPHERTEXT_OVERHEAD) as u64)?;
            let sealed = s.encrypt(&plaintext).await?;
            Ok(copy_to(&out, &sealed))
        })
    }

    /// `decrypt` into the start of `out`, an array the caller reuses (and wipes when done),
    /// instead of a new array; resolves to the number of bytes written
    /// (`ciphertext.length - 42`). Rejects with `INVALID_INPUT` (writing nothing) when `out` is
    /// shorter, with `DECRYPTION_FAILED` (writing nothing) as `decrypt` does.
    #[wasm_bindgen(js_name = decryptInto, unchecked_return_type = "Promise<number>")]
    pub fn decrypt_into(&self, ciphertext: Vec<u8>, out: Uint8Array) -> Promise {
        session_call!(self, |s| {
            check_room(
                &out,
                ciphertext.len().saturating_sub(vault::CIPHERTEXT_OVERHEAD) as u64,
            )?;
            let plaintext = s.decrypt(&ciphertext).await?;
            Ok(copy_to(&out, &plaintext))
        })
    }

    /// Exports the keyspace as a password-protected backup (same format as the CLI's).
    #[wasm_bindgen(js_name = exportBackup, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn export_backup(&self) -> Promise {
        session_call!(self, |s| Ok(bytes(s.export_backup().await?)))
    }
}
