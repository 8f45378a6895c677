//! The session API: unlock once, work, lock. Every call forwards to [`Vault`]'s stateless
//! core with the session's [`UnlockedKeyspace`]; the session adds only state: the unlocked
//! keyspace, the selected key pair, and the idle timeout.
//!
//! The library has no runtime, so it cannot run a timer of its own. Every call checks the
//! deadline first (an expired session wipes its keys and answers [`Error::Locked`]), and an
//! application that must not keep keys in memory past the deadline schedules one wake-up at
//! [`Session::idle_deadline`] on its own runtime and calls [`Session::lock_if_idle`] then (the
//! browser bindings do exactly that with `setTimeout`).

use crate::SecretBytes;
use std::time::Duration;
use zeroize::Zeroizing;

use kvstore::KVStore;
use web_time::Instant;

use crate::eth::{EthSignature, Transaction, TypedDataEncoding};
use crate::keys::PrivateKey;
use crate::stream::{StreamDecryptor, StreamEncryptor};
use crate::{Error, KeyInfo, KeyType, Result, UnlockedKeyspace, Vault};

/// An unlocked keyspace with a lifetime: [`lock`](Session::lock) zeroizes its keys, and after
/// `idle_timeout` without a call it is expired: [`lock_if_idle`](Session::lock_if_idle),
/// [`is_locked`](Session::is_locked) or any other call wipes its keys, and calls return
/// [`Error::Locked`].
///
/// ```
/// use std::time::Duration;
/// use kvstore::MemoryStore;
/// use vault::{KdfParams, SessionOptions, Vault};
///
/// # futures::executor::block_on(async {
/// let vault = Vault::with_kdf(MemoryStore::new(), KdfParams::INSECURE_FOR_TESTS)?;
/// vault.create_keyspace("k", "pw").await?;
/// let options = SessionOptions::default().idle_timeout(Duration::from_secs(300));
/// let mut session = vault.open_session("k", "pw", options).await?;
/// // An application's timer task: sleep until the deadline, then wipe if still idle.
/// let deadline = session.idle_deadline().expect("a timeout was set");
/// assert!(!session.lock_if_idle(), "not idle yet");
/// # let _ = deadline;
/// # Ok::<(), vault::Error>(())
/// # }).unwrap();
/// ```
pub struct Session<S> {
    vault: Vault<S>,
    keyspace: Option<UnlockedKeyspace>,
    name: String,
    /// The selected key pair, parsed once (its signing key precomputed), zeroized on lock.
    current_key: Option<(String, PrivateKey)>,
    idle_timeout: Option<Duration>,
    last_used: Instant,
    /// The highest keyspace revision seen or anchored, kept across lock and unlock.
    revision_seen: u64,
}

impl<S> std::fmt::Debug for Session<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("keyspace", &self.name)
            .field("locked", &self.keyspace.is_none())
            .field(
                "current_key",
                &self.current_key.as_ref().map(|(name, _)| name),
            )
            .finish_non_exhaustive()
    }
}

/// How a [`Session`] behaves, for [`Vault::open_session`]:
/// `SessionOptions::default().idle_timeout(Duration::from_secs(300))`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionOptions {
    /// Lock after this long without a call (`None`, the default: only
    /// [`Session::lock`] locks it).
    pub idle_timeout: Option<Duration>,
}

impl SessionOptions {
    /// Lock after `timeout` without a call.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }
}

impl<S: KVStore + Clone> Vault<S> {
    /// Unlocks keyspace `name` into a session with `options`.
    ///
    /// # Errors
    ///
    /// As [`Vault::unlock`]: [`Error::NotFound`], [`Error::WrongPassword`], or a header that
    /// does not decode ([`Error::Corrupted`], [`Error::UnsupportedFormat`]).
    pub async fn open_session(
        &self,
        name: &str,
        password: impl AsRef<[u8]>,
        options: SessionOptions,
    ) -> Result<Session<S>> {
        let keyspace = self.unlock(name, password).await?;
        Ok(Session {
            vault: self.clone(),
            keyspace: Some(keyspace),
            name: name.to_owned(),
            current_key: None,
            idle_timeout: options.idle_timeout,
            last_used: Instant::now(),
            revision_seen: 0,
        })
    }
}

impl<S: KVStore> Session<S> {
    /// The session's keyspace name.
    pub fn keyspace_name(&self) -> &str {
        &self.name
    }

    /// Whether the session is locked: its keys are gone from memory. A session idle past its
    /// timeout is locked here (its keys wiped) before answering, so `true` is always the truth.
    pub fn is_locked(&mut self) -> bool {
        self.lock_if_idle();
        self.keyspace.is_none()
    }

    /// When the session expires if no call comes first (`None`: no idle timeout, or already
    /// locked). Every call moves it. Schedule a wake-up then and call
    /// [`lock_if_idle`](Self::lock_if_idle).
    pub fn idle_deadline(&self) -> Option<Instant> {
        let timeout = self.idle_timeout?;
        self.keyspace.as_ref()?;
        Some(
            self.last_used
                .checked_add(timeout)
                .unwrap_or_else(|| self.last_used + Duration::from_secs(u32::MAX.into())),
        )
    }

    /// Locks (wipes the keys) if the session is idle past its timeout; returns whether it is
    /// locked afterwards. Cheap: call it from a timer at [`idle_deadline`](Self::idle_deadline).
    pub fn lock_if_idle(&mut self) -> bool {
        if self.expired() {
            self.lock();
        }
        self.keyspace.is_none()
    }

    fn expired(&self) -> bool {
        self.idle_timeout
            .is_some_and(|timeout| self.last_used.elapsed() >= timeout)
    }

    /// Locks now: the keyspace's keys are zeroized and dropped.
    pub fn lock(&mut self) {
        if let Some(ks) = &self.keyspace {
            self.revision_seen = self.revision_seen.max(ks.revision_seen());
        }
        self.keyspace = None;
        self.current_key = None;
    }

    /// Unlocks again with the password (after [`lock`](Self::lock) or expiry).
    ///
    /// # Errors
    ///
    /// As [`Vault::unlock`].
    pub async fn unlock(&mut self, password: impl AsRef<[u8]>) -> Result<()> {
        let keyspace = self.vault.unlock(&self.name, password).await?;
        // Checked now, not at the next call: a store put back while the session was locked.
        // Unlock read the manifest: its revision is the one this value has seen.
        let found = keyspace.revision_seen();
        keyspace.anchor_revision(self.revision_seen);
        keyspace.observe(found)?;
        self.keyspace = Some(keyspace);
        self.last_used = Instant::now();
        Ok(())
    }

    /// The keyspace's current revision ([`Vault::keyspace_revision`]).
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::keyspace_revision`].
    pub async fn keyspace_revision(&mut self) -> Result<u64> {
        let (vault, ks) = self.access()?;
        vault.keyspace_revision(ks).await
    }

    /// Syncs the keyspace with `remote` ([`Vault::sync_keyspace`]).
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::sync_keyspace`].
    pub async fn sync<R: KVStore>(&mut self, remote: &R) -> Result<crate::SyncReport> {
        let (vault, ks) = self.access()?;
        vault.sync_keyspace(ks, remote).await
    }

    /// Takes in the keyspace as re-keyed on another device ([`Vault::adopt_rekeyed`]) and keeps
    /// working under its key. The revisions seen so far belonged to the replaced keyspace:
    /// the session starts again from the adopted one's.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::adopt_rekeyed`].
    pub async fn adopt_rekeyed<R: KVStore>(
        &mut self,
        remote: &R,
        new_password: impl AsRef<[u8]>,
    ) -> Result<()> {
        let (vault, ks) = self.access()?;
        let adopted = vault.adopt_rekeyed(ks, remote, new_password).await?;
        self.revision_seen = adopted.revision_seen();
        self.keyspace = Some(adopted);
        Ok(())
    }

    /// The values kept after they lost a sync conflict ([`Vault::list_history`]).
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::list_history`].
    pub async fn list_history(&mut self) -> Result<Vec<crate::HistoryEntry>> {
        let (vault, ks) = self.access()?;
        vault.list_history(ks).await
    }

    /// Puts a history entry back under its name ([`Vault::restore_history`]).
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::restore_history`].
    pub async fn restore_history(&mut self, id: &str) -> Result<()> {
        let (vault, ks) = self.access()?;
        vault.restore_history(ks, id).await
    }

    /// Anchors the keyspace at `revision` ([`UnlockedKeyspace::anchor_revision`]): every later
    /// call, after a lock and unlock too, fails with [`Error::Tampered`] if the store holds an
    /// older revision.
    pub fn anchor_revision(&mut self, revision: u64) {
        self.revision_seen = self.revision_seen.max(revision);
        if let Some(ks) = &self.keyspace {
            ks.anchor_revision(revision);
        }
    }

    /// Changes the idle timeout (`None`: never expires).
    pub fn set_idle_timeout(&mut self, idle_timeout: Option<Duration>) {
        self.idle_timeout = idle_timeout;
    }

    /// Replaces the keyspace's key and id ([`Vault::rekey`]) and keeps working under the new
    /// key. Needs the current password even though the session is unlocked: rekeying is what
    /// one does when something may have leaked.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::rekey`].
    pub async fn rekey(
        &mut self,
        password: impl AsRef<[u8]>,
        new_password: impl AsRef<[u8]>,
    ) -> Result<()> {
        self.access()?;
        let rekeyed = self.vault.rekey(&self.name, password, new_password).await?;
        if let Some(old) = &self.keyspace {
            rekeyed.anchor_revision(old.revision_seen());
        }
        self.keyspace = Some(rekeyed);
        Ok(())
    }

    /// The unlocked keyspace, after the idle check; refreshes the idle clock.
    fn access(&mut self) -> Result<(&Vault<S>, &UnlockedKeyspace)> {
        if self.lock_if_idle() {
            return Err(Error::Locked);
        }
        self.last_used = Instant::now();
        let keyspace = self.keyspace.as_ref().ok_or(Error::Locked)?;
        Ok((&self.vault, keyspace))
    }

    /// The selected key pair, after the idle check.
    fn current(&mut self) -> Result<&PrivateKey> {
        self.access()?;
        self.current_key
            .as_ref()
            .map(|(_, key)| key)
            .ok_or_else(|| Error::InvalidInput("no key pair selected in this session".into()))
    }

    /// Selects key pair `name` for [`sign`](Self::sign) and
    /// [`sign_eth_personal`](Self::sign_eth_personal). The key is loaded and parsed once, and
    /// held (zeroizing) until another is selected, it is renamed or deleted through this
    /// session, or the session locks.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::key_info`].
    pub async fn select_key(&mut self, name: &str) -> Result<KeyInfo> {
        let (vault, ks) = self.access()?;
        let (key, info) = vault.key_pair(ks, name).await?;
        self.current_key = Some((name.to_owned(), key));
        Ok(info)
    }

    /// The selected key pair's name.
    pub fn current_key(&self) -> Option<&str> {
        self.current_key.as_ref().map(|(name, _)| name.as_str())
    }

    /// See [`Vault::generate_key`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::generate_key`].
    pub async fn generate_key(&mut self, name: &str, key_type: KeyType) -> Result<KeyInfo> {
        let (vault, ks) = self.access()?;
        vault.generate_key(ks, name, key_type).await
    }

    /// See [`Vault::import_key`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::import_key`].
    pub async fn import_key(
        &mut self,
        name: &str,
        key_type: KeyType,
        private_key: &[u8],
    ) -> Result<KeyInfo> {
        let (vault, ks) = self.access()?;
        vault.import_key(ks, name, key_type, private_key).await
    }

    /// See [`Vault::list_keys`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::list_keys`].
    pub async fn list_keys(&mut self) -> Result<Vec<KeyInfo>> {
        let (vault, ks) = self.access()?;
        vault.list_keys(ks).await
    }

    /// See [`Vault::key_info`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::key_info`].
    pub async fn key_info(&mut self, name: &str) -> Result<KeyInfo> {
        let (vault, ks) = self.access()?;
        vault.key_info(ks, name).await
    }

    /// See [`Vault::rename_key`]; the selection follows the renamed key.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::rename_key`].
    pub async fn rename_key(&mut self, from: &str, to: &str) -> Result<()> {
        let (vault, ks) = self.access()?;
        vault.rename_key(ks, from, to).await?;
        if let Some((selected, _)) = self.current_key.as_mut().filter(|(n, _)| n == from) {
            *selected = to.to_owned();
        }
        Ok(())
    }

    /// See [`Vault::delete_key`]; deleting the selected key clears the selection.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::delete_key`].
    pub async fn delete_key(&mut self, name: &str) -> Result<()> {
        let (vault, ks) = self.access()?;
        vault.delete_key(ks, name).await?;
        if self.current_key() == Some(name) {
            self.current_key = None;
        }
        Ok(())
    }

    /// See [`Vault::generate_seed`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::generate_seed`].
    pub async fn generate_seed(
        &mut self,
        name: &str,
        length: crate::hd::MnemonicLength,
        passphrase: &str,
    ) -> Result<Zeroizing<String>> {
        let (vault, ks) = self.access()?;
        vault.generate_seed(ks, name, length, passphrase).await
    }

    /// See [`Vault::import_mnemonic`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::import_mnemonic`].
    pub async fn import_mnemonic(
        &mut self,
        name: &str,
        mnemonic: &str,
        passphrase: &str,
    ) -> Result<()> {
        let (vault, ks) = self.access()?;
        vault.import_mnemonic(ks, name, mnemonic, passphrase).await
    }

    /// See [`Vault::export_mnemonic`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::export_mnemonic`].
    pub async fn export_mnemonic(&mut self, name: &str) -> Result<Zeroizing<String>> {
        let (vault, ks) = self.access()?;
        vault.export_mnemonic(ks, name).await
    }

    /// See [`Vault::list_seeds`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::list_seeds`].
    pub async fn list_seeds(&mut self) -> Result<Vec<String>> {
        let (vault, ks) = self.access()?;
        vault.list_seeds(ks).await
    }

    /// See [`Vault::delete_seed`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::delete_seed`].
    pub async fn delete_seed(&mut self, name: &str) -> Result<()> {
        let (vault, ks) = self.access()?;
        vault.delete_seed(ks, name).await
    }

    /// See [`Vault::derive_key`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::derive_key`].
    pub async fn derive_key(
        &mut self,
        seed: &str,
        key_name: &str,
        key_type: KeyType,
        path: &str,
    ) -> Result<KeyInfo> {
        let (vault, ks) = self.access()?;
        vault.derive_key(ks, seed, key_name, key_type, path).await
    }

    /// See [`Vault::import_keystore`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::import_keystore`].
    pub async fn import_keystore(
        &mut self,
        name: &str,
        json: &str,
        keystore_password: &[u8],
    ) -> Result<KeyInfo> {
        let (vault, ks) = self.access()?;
        vault
            .import_keystore(ks, name, json, keystore_password)
            .await
    }

    /// See [`Vault::export_keystore`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::export_keystore`].
    pub async fn export_keystore(
        &mut self,
        name: &str,
        keystore_password: &[u8],
        kdf: crate::keystore::KeystoreKdf,
    ) -> Result<String> {
        let (vault, ks) = self.access()?;
        vault
            .export_keystore(ks, name, keystore_password, kdf)
            .await
    }

    /// See [`Vault::export_private_key`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as
    /// [`Vault::export_private_key`].
    pub async fn export_private_key(&mut self, name: &str) -> Result<SecretBytes> {
        let (vault, ks) = self.access()?;
        vault.export_private_key(ks, name).await
    }

    /// Signs with the selected key pair (see [`Vault::sign`]).
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; [`Error::InvalidInput`] when no key pair
    /// is selected.
    pub async fn sign(&mut self, message: &[u8]) -> Result<Vec<u8>> {
        Ok(self.current()?.sign(message))
    }

    /// Signs with key pair `name` (see [`Vault::sign`]).
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::sign`].
    pub async fn sign_with(&mut self, name: &str, message: &[u8]) -> Result<Vec<u8>> {
        let (vault, ks) = self.access()?;
        vault.sign(ks, name, message).await
    }

    /// EIP-191 signature with the selected key pair (see [`Vault::sign_eth_personal`]).
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; [`Error::InvalidInput`] when no key pair
    /// is selected or it is an Ed25519 one.
    pub async fn sign_eth_personal(&mut self, message: &[u8]) -> Result<[u8; 65]> {
        self.current()?.sign_eth_personal(message)
    }

    /// Recoverable signature over a 32-byte hash with the selected key pair (see
    /// [`Vault::sign_hash`]).
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; [`Error::InvalidInput`] when no key pair
    /// is selected or it is an Ed25519 one.
    pub async fn sign_hash(&mut self, hash: &[u8; 32]) -> Result<EthSignature> {
        self.current()?.sign_hash(hash)
    }

    /// EIP-712 signature with the selected key pair (see [`Vault::sign_typed_data`]).
    ///
    /// # Errors
    ///
    /// As [`sign_hash`](Self::sign_hash) and [`crate::eth::typed_data_hash`].
    pub async fn sign_typed_data(
        &mut self,
        json: &str,
        encoding: TypedDataEncoding,
    ) -> Result<EthSignature> {
        let hash = crate::eth::typed_data_hash(json, encoding)?;
        self.current()?.sign_hash(&hash)
    }

    /// Signs a transaction with the selected key pair (see [`Vault::sign_transaction`]).
    ///
    /// # Errors
    ///
    /// As [`sign_hash`](Self::sign_hash); [`Error::InvalidInput`] for a `from` that is not
    /// the key's address.
    pub async fn sign_transaction(&mut self, transaction: &Transaction) -> Result<Vec<u8>> {
        transaction.sign(self.current()?.secp256k1()?)
    }

    /// Signs an EIP-7702 authorization with the selected key pair (see
    /// [`Vault::sign_authorization`]).
    ///
    /// # Errors
    ///
    /// As [`sign_hash`](Self::sign_hash).
    pub async fn sign_authorization(
        &mut self,
        chain_id: u64,
        address: &[u8; 20],
        nonce: u64,
    ) -> Result<String> {
        crate::eth::sign_authorization(self.current()?, chain_id, address, nonce)
    }

    /// See [`Vault::set_secret`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::set_secret`].
    pub async fn set_secret(&mut self, name: &str, value: &[u8]) -> Result<()> {
        let (vault, ks) = self.access()?;
        vault.set_secret(ks, name, value).await
    }

    /// See [`Vault::set_secrets`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::set_secrets`].
    pub async fn set_secrets<N: AsRef<str>, V: AsRef<[u8]>>(
        &mut self,
        secrets: &[(N, V)],
    ) -> Result<()> {
        let (vault, ks) = self.access()?;
        vault.set_secrets(ks, secrets).await
    }

    /// See [`Vault::get_secret`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::get_secret`].
    pub async fn get_secret(&mut self, name: &str) -> Result<SecretBytes> {
        let (vault, ks) = self.access()?;
        vault.get_secret(ks, name).await
    }

    /// See [`Vault::list_secrets`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::list_secrets`].
    pub async fn list_secrets(&mut self) -> Result<Vec<String>> {
        let (vault, ks) = self.access()?;
        vault.list_secrets(ks).await
    }

    /// See [`Vault::delete_secret`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::delete_secret`].
    pub async fn delete_secret(&mut self, name: &str) -> Result<()> {
        let (vault, ks) = self.access()?;
        vault.delete_secret(ks, name).await
    }

    /// See [`Vault::encrypt`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::encrypt`].
    pub async fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let (vault, ks) = self.access()?;
        vault.encrypt(ks, plaintext).await
    }

    /// See [`Vault::decrypt`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::decrypt`].
    pub async fn decrypt(&mut self, ciphertext: &[u8]) -> Result<SecretBytes> {
        let (vault, ks) = self.access()?;
        vault.decrypt(ks, ciphertext).await
    }

    /// See [`Vault::encrypt_stream`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::encrypt_stream`].
    pub async fn encrypt_stream(&mut self) -> Result<StreamEncryptor> {
        let (vault, ks) = self.access()?;
        vault.encrypt_stream(ks).await
    }

    /// See [`Vault::decrypt_stream`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::decrypt_stream`].
    pub async fn decrypt_stream(&mut self) -> Result<StreamDecryptor> {
        let (vault, ks) = self.access()?;
        vault.decrypt_stream(ks).await
    }

    /// See [`Vault::export_backup`].
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when the session is locked; otherwise as [`Vault::export_backup`].
    pub async fn export_backup(&mut self) -> Result<Vec<u8>> {
        let (vault, ks) = self.access()?;
        vault.export_backup(ks).await
    }
}
