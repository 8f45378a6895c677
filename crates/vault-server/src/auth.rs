//! Accounts and sessions. A client proves an account with an **auth key**: 32 bytes it derives
//! from the user's password separately from every encryption key (a different salt and
//! label), so what the server sees opens nothing. The server keeps only a slow hash of it
//! (Argon2id with its own random salt), and hands out random session tokens, stored as their
//! SHA-256, that expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argon2::{Algorithm, Argon2, Params, Version};
use kvstore::{Batch, KVStore, PostgresStore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Argon2id cost of the stored auth-key hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
}

impl HashCost {
    /// OWASP's Argon2id minimum: 19 MiB, 2 passes. The auth key is already a strong 256-bit
    /// value derived slowly on the client; this hash only keeps a stolen database from being a
    /// list of credentials.
    pub const DEFAULT: HashCost = HashCost {
        memory_kib: 19 * 1024,
        iterations: 2,
    };
    /// For tests only.
    pub const INSECURE_FOR_TESTS: HashCost = HashCost {
        memory_kib: 64,
        iterations: 1,
    };
}

const RECORD_VERSION: u8 = 1;
const SALT_LEN: usize = 16;
pub(crate) const AUTH_KEY_LEN: usize = 32;
pub(crate) const TOKEN_LEN: usize = 32;

/// Why an account or session request failed.
#[derive(Debug)]
pub(crate) enum AuthError {
    BadName,
    Exists,
    Denied,
    Storage(kvstore::Error),
    Random,
}

impl From<kvstore::Error> for AuthError {
    fn from(err: kvstore::Error) -> Self {
        AuthError::Storage(err)
    }
}

/// Account names: 1 to 64 of `A-Z a-z 0-9 . _ @ -`.
pub(crate) fn valid_account(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
}

fn hash(cost: HashCost, salt: &[u8], key: &[u8]) -> Result<[u8; 32], AuthError> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, Some(32))
        .map_err(|_| AuthError::Denied)?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(key, salt, &mut out)
        .map_err(|_| AuthError::Denied)?;
    Ok(out)
}

fn random<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| AuthError::Random)?;
    Ok(out)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The server's own tables: accounts and sessions, in the reserved tenant `""` (account data
/// lives in tenants `acct/NAME`, so nothing collides).
#[derive(Clone)]
pub(crate) struct Accounts {
    accounts: PostgresStore,
    sessions: PostgresStore,
    cost: HashCost,
    /// Sessions checked in the last few seconds (token hash → account, expiry, checked at),
    /// so a burst of requests reads the database once. Bounded; nothing secret (hashes).
    recent: Arc<Mutex<Recent>>,
}

/// Token hash → (account, expiry, when checked).
type Recent = HashMap<[u8; 32], (String, u64, Instant)>;

/// How long a checked session is trusted without reading it again.
const RECENT_FOR: Duration = Duration::from_secs(10);
/// The most sessions remembered at once.
const RECENT_MAX: usize = 10_000;

impl Accounts {
    pub(crate) fn new(store: &PostgresStore, cost: HashCost) -> kvstore::Result<Self> {
        let own = store.for_tenant("");
        Ok(Accounts {
            accounts: own.namespace("accounts")?,
            sessions: own.namespace("sessions")?,
            cost,
            recent: Arc::default(),
        })
    }

    /// Registers `name` with the hash of `auth_key`.
    pub(crate) async fn create(&self, name: &str, auth_key: &[u8]) -> Result<(), AuthError> {
        if !valid_account(name) || auth_key.len() != AUTH_KEY_LEN {
            return Err(AuthError::BadName);
        }
        let salt: [u8; SALT_LEN] = random()?;
        let digest = hash(self.cost, &salt, auth_key)?;
        let mut record = vec![RECORD_VERSION];
        record.extend_from_slice(&self.cost.memory_kib.to_le_bytes());
        record.extend_from_slice(&self.cost.iterations.to_le_bytes());
        record.extend_from_slice(&salt);
        record.extend_from_slice(&digest);
        let mut batch = Batch::new();
        batch
            .require_absent(name.as_bytes().to_vec())
            .set(name.as_bytes().to_vec(), record);
        match self.accounts.batch(batch).await {
            Ok(()) => Ok(()),
            Err(kvstore::Error::Conflict { .. }) => Err(AuthError::Exists),
            Err(other) => Err(other.into()),
        }
    }

    /// Checks `auth_key` against `name`'s hash and opens a session: its token and lifetime.
    pub(crate) async fn login(
        &self,
        name: &str,
        auth_key: &[u8],
        ttl_secs: u64,
    ) -> Result<[u8; TOKEN_LEN], AuthError> {
        let record = if valid_account(name) {
            self.accounts.get(name.as_bytes()).await?
        } else {
            None
        };
        // An unknown account costs the same hash as a known one.
        let (cost, salt, expected) = match record.as_deref() {
            Some([RECORD_VERSION, rest @ ..]) if rest.len() == 8 + SALT_LEN + 32 => {
                let (m, rest) = rest.split_at(4);
                let (t, rest) = rest.split_at(4);
                let (salt, expected) = rest.split_at(SALT_LEN);
                let cost = HashCost {
                    memory_kib: u32::from_le_bytes(m.try_into().unwrap_or_default()),
                    iterations: u32::from_le_bytes(t.try_into().unwrap_or_default()),
                };
                (cost, salt.to_vec(), Some(expected.to_vec()))
            }
            _ => (self.cost, vec![0u8; SALT_LEN], None),
        };
        let digest = hash(cost, &salt, auth_key)?;
        let ok = expected.is_some_and(|e| bool::from(e.ct_eq(&digest)))
            && auth_key.len() == AUTH_KEY_LEN;
        if !ok {
            return Err(AuthError::Denied);
        }
        let token: [u8; TOKEN_LEN] = random()?;
        let mut value = now().saturating_add(ttl_secs).to_le_bytes().to_vec();
        value.extend_from_slice(name.as_bytes());
        self.sessions.set(&Sha256::digest(token), &value).await?;
        Ok(token)
    }

    /// The account of a live session token.
    pub(crate) async fn account_of(&self, token: &[u8]) -> Result<String, AuthError> {
        if token.len() != TOKEN_LEN {
            return Err(AuthError::Denied);
        }
        let key: [u8; 32] = Sha256::digest(token).into();
        if let Some(account) = self.recent_account(&key) {
            return Ok(account);
        }
        let Some(value) = self.sessions.get(&key).await? else {
            return Err(AuthError::Denied);
        };
        let (expiry, name) = value.split_at_checked(8).ok_or(AuthError::Denied)?;
        let expiry = u64::from_le_bytes(expiry.try_into().map_err(|_| AuthError::Denied)?);
        if expiry <= now() {
            self.sessions.delete(&key).await?;
            return Err(AuthError::Denied);
        }
        let account = String::from_utf8(name.to_vec()).map_err(|_| AuthError::Denied)?;
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() >= RECENT_MAX {
            recent.retain(|_, (_, _, at)| at.elapsed() < RECENT_FOR);
            if recent.len() >= RECENT_MAX {
                recent.clear();
            }
        }
        recent.insert(key, (account.clone(), expiry, Instant::now()));
        Ok(account)
    }

    /// The account of a session checked less than [`RECENT_FOR`] ago and not expired.
    fn recent_account(&self, key: &[u8; 32]) -> Option<String> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let (account, expiry, at) = recent.get(key)?;
        (at.elapsed() < RECENT_FOR && *expiry > now()).then(|| account.clone())
    }
}
