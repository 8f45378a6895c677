use std::rc::Rc;
use std::time::Duration;

use futures::lock::Mutex;
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use kvstore::{Durability, IndexedDbStore};
use vault::KeyType;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** A key pair's public description. */
export interface KeyInfo {
    name: string;
    keyType: "secp256k1" | "ed25519";
    /** 33-byte compressed SEC1 (secp256k1) or 32 bytes (Ed25519). */
    publicKey: Uint8Array;
    /** EIP-55 checksummed address, secp256k1 only. */
    ethAddress?: string;
}

/** Stable error codes carried by every rejected Promise's `Error.code`. */
export type VaultErrorCode =
    | "WRONG_PASSWORD" | "LOCKED" | "NOT_FOUND" | "ALREADY_EXISTS" | "INVALID_INPUT"
    | "DECRYPTION_FAILED" | "CORRUPTED" | "UNSUPPORTED_FORMAT" | "STORAGE_BUSY"
    | "QUOTA_EXCEEDED" | "STORAGE_UNAVAILABLE" | "STORAGE_ERROR";

/** The `Error` every call rejects with. */
export interface VaultError extends Error {
    code: VaultErrorCode;
}
"#;

fn code(err: &vault::Error) -> &'static str {
    use kvstore::Error as S;
    match err {
        vault::Error::WrongPassword { .. } => "WRONG_PASSWORD",
        vault::Error::Locked => "LOCKED",
        vault::Error::NotFound { .. } => "NOT_FOUND",
        vault::Error::AlreadyExists { .. } => "ALREADY_EXISTS",
        vault::Error::InvalidInput(_) => "INVALID_INPUT",
        vault::Error::DecryptionFailed(_) => "DECRYPTION_FAILED",
        vault::Error::Corrupted(_) => "CORRUPTED",
        vault::Error::UnsupportedFormat(_) => "UNSUPPORTED_FORMAT",
        vault::Error::Storage(S::Busy(_)) => "STORAGE_BUSY",
        vault::Error::Storage(S::QuotaExceeded(_)) => "QUOTA_EXCEEDED",
        vault::Error::Storage(S::Unavailable { .. }) => "STORAGE_UNAVAILABLE",
        vault::Error::Storage(S::InvalidInput(_)) => "INVALID_INPUT",
        _ => "STORAGE_ERROR",
    }
}

/// A JavaScript `Error` with `name = "VaultError"` and a stable `code`.
fn to_js(err: vault::Error) -> JsValue {
    let js = js_sys::Error::new(&err.to_string());
    js.set_name("VaultError");
    let _ = Reflect::set(&js, &"code".into(), &code(&err).into());
    js.into()
}

fn key_type(text: &str) -> Result<KeyType, vault::Error> {
    text.parse()
}

fn bytes(value: impl AsRef<[u8]>) -> JsValue {
    Uint8Array::from(value.as_ref()).into()
}

fn key_info(info: &vault::KeyInfo) -> JsValue {
    let object = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&object, &k.into(), &v);
    };
    set("name", info.name.as_str().into());
    set("keyType", info.key_type.as_str().into());
    set("publicKey", bytes(&info.public_key));
    if let Some(address) = info.eth_address() {
        set("ethAddress", vault::eth_checksum_address(&address).into());
    }
    object.into()
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
    inner: vault::Vault<IndexedDbStore>,
}

#[wasm_bindgen]
impl Vault {
    /// Opens (creating if needed) the vault stored in IndexedDB database `dbName`. Writes
    /// request `durability: "strict"` (flushed to disk before they resolve) unless `durability`
    /// says `"relaxed"` or `"default"` (the browser's own choice).
    #[wasm_bindgen(unchecked_return_type = "Promise<Vault>")]
    pub fn open(
        #[wasm_bindgen(js_name = dbName)] db_name: String,
        #[wasm_bindgen(unchecked_param_type = "\"strict\" | \"relaxed\" | \"default\"")] durability: Option<String>,
    ) -> Promise {
        promise(async move {
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
            let store = IndexedDbStore::open_with(&db_name, durability).await?;
            Ok(Vault {
                inner: vault::Vault::new(store),
            })
        })
    }

    /// Creates keyspace `name` under `password`.
    #[wasm_bindgen(js_name = createKeyspace, unchecked_return_type = "Promise<void>")]
    pub fn create_keyspace(&self, name: String, password: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner.create_keyspace(&name, password).await?;
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
    pub fn delete_keyspace(&self, name: String, password: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner.delete_keyspace(&name, password).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Changes keyspace `name`'s password (open sessions keep working).
    #[wasm_bindgen(js_name = changePassword, unchecked_return_type = "Promise<void>")]
    pub fn change_password(
        &self,
        name: String,
        old_password: String,
        new_password: String,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner
                .change_password(&name, old_password, new_password)
                .await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Unlocks keyspace `name` into a session that locks itself after `idleTimeoutMs` without
    /// a call (omit for no timeout).
    #[wasm_bindgen(unchecked_return_type = "Promise<Session>")]
    pub fn unlock(
        &self,
        name: String,
        password: String,
        #[wasm_bindgen(js_name = idleTimeoutMs)] idle_timeout_ms: Option<f64>,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let timeout = match idle_timeout_ms {
                Some(ms) if ms.is_finite() && ms >= 0.0 => Some(Duration::from_millis(ms as u64)),
                Some(_) => {
                    return Err(vault::Error::InvalidInput(
                        "idleTimeoutMs must be a non-negative number".into(),
                    ))
                }
                None => None,
            };
            let session = inner.open_session(&name, password, timeout).await?;
            Ok(Session {
                inner: Rc::new(Mutex::new(session)),
            })
        })
    }

    /// Imports a keyspace backup (from the CLI or `Session.exportBackup`) under the password
    /// it was exported with; resolves to the keyspace's name.
    #[wasm_bindgen(js_name = importBackup, unchecked_return_type = "Promise<string>")]
    pub fn import_backup(&self, backup: Vec<u8>, password: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move { inner.import_backup(&backup, password).await })
    }

    /// Verifies a signature with a public key only: `keyType` is `"secp256k1"` (64-byte r ‖ s,
    /// ECDSA over SHA-256) or `"ed25519"`.
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
    #[wasm_bindgen(js_name = ethAddress)]
    pub fn eth_address(
        #[wasm_bindgen(js_name = publicKey)] public_key: Vec<u8>,
    ) -> Result<String, JsValue> {
        Ok(vault::eth_checksum_address(
            &vault::eth_address(&public_key).map_err(to_js)?,
        ))
    }
}

/// An unlocked keyspace. Calls after `lock()` or after the idle timeout reject with code
/// `LOCKED`. Calls are queued, so concurrent calls from JavaScript are safe.
#[wasm_bindgen]
pub struct Session {
    inner: Rc<Mutex<vault::Session<IndexedDbStore>>>,
}

macro_rules! session_call {
    ($self:ident, |$s:ident| $body:expr) => {{
        let inner = $self.inner.clone();
        promise(async move {
            let mut guard = inner.lock().await;
            let $s = &mut *guard;
            $body
        })
    }};
}

#[wasm_bindgen]
impl Session {
    /// Locks now: keys are zeroized.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn lock(&self) -> Promise {
        session_call!(self, |s| {
            s.lock();
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Whether the session is locked (explicitly or by its idle timeout).
    #[wasm_bindgen(js_name = isLocked, unchecked_return_type = "Promise<boolean>")]
    pub fn is_locked(&self) -> Promise {
        session_call!(self, |s| Ok(JsValue::from(s.is_locked())))
    }

    /// Unlocks again after `lock()` or expiry.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn unlock(&self, password: String) -> Promise {
        session_call!(self, |s| {
            s.unlock(password).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The keyspace's name.
    #[wasm_bindgen(js_name = keyspaceName, unchecked_return_type = "Promise<string>")]
    pub fn keyspace_name(&self) -> Promise {
        session_call!(self, |s| Ok(JsValue::from(s.keyspace_name())))
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

    /// Stores a secret (bytes; encode strings with `TextEncoder`).
    #[wasm_bindgen(js_name = setSecret, unchecked_return_type = "Promise<void>")]
    pub fn set_secret(&self, name: String, value: Vec<u8>) -> Promise {
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
        let parsed: Result<Vec<(String, Vec<u8>)>, vault::Error> = entries
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
                Ok((name, value.to_vec()))
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
        session_call!(self, |s| Ok(bytes(s.encrypt(&plaintext).await?)))
    }

    /// Decrypts what `encrypt` produced in this keyspace.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn decrypt(&self, ciphertext: Vec<u8>) -> Promise {
        session_call!(self, |s| Ok(bytes(&*s.decrypt(&ciphertext).await?)))
    }

    /// Exports the keyspace as a password-protected backup (same format as the CLI's).
    #[wasm_bindgen(js_name = exportBackup, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn export_backup(&self) -> Promise {
        session_call!(self, |s| Ok(bytes(s.export_backup().await?)))
    }
}
