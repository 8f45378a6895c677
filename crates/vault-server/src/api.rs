//! The HTTP API, version 1 (`README.md` documents every route). Bytes travel as base64url
//! without padding; errors are `{"error": CODE, "message": …}` with a stable `CODE`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::{header, request::Parts, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use kvstore::{Batch, Expect, KVStore, PostgresStore, Scan};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Notify;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{Accounts, AuthError, HashCost, AUTH_KEY_LEN};

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// The largest request body accepted, in bytes (default 8 MiB).
    pub max_body_bytes: usize,
    /// The most operations in one batch (default 10,000).
    pub max_batch_ops: usize,
    /// The most entries one scan or feed page returns (default 1,000).
    pub max_page: usize,
    /// The longest a feed request may wait for a change (default 30 s).
    pub max_wait: Duration,
    /// How long a session token lives (default 24 h).
    pub session_ttl: Duration,
    /// Origins allowed to call from a browser (CORS); empty: none.
    pub allowed_origins: Vec<String>,
    /// Argon2id cost of stored auth-key hashes.
    pub hash_cost: HashCost,
    /// The most bytes (keys and values, every namespace) one account may hold (default 1 GiB).
    pub max_account_bytes: u64,
    /// The most keys one account may hold (default 1,000,000).
    pub max_account_keys: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_body_bytes: 8 << 20,
            max_batch_ops: 10_000,
            max_page: 1_000,
            max_wait: Duration::from_secs(30),
            session_ttl: Duration::from_secs(24 * 3600),
            allowed_origins: Vec::new(),
            hash_cost: HashCost::DEFAULT,
            max_account_bytes: 1 << 30,
            max_account_keys: 1_000_000,
        }
    }
}

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    store: PostgresStore,
    accounts: Accounts,
    config: Arc<Config>,
    /// One wake-up per (account, namespace) with feed requests waiting.
    changed: Arc<Mutex<Waiters>>,
    /// Each account's usage as last measured, plus what batches added since (an upper bound).
    usage: Arc<Mutex<HashMap<String, Usage>>>,
}

/// An account's usage estimate for its quota.
#[derive(Clone, Copy)]
struct Usage {
    keys: u64,
    bytes: u64,
    measured: std::time::Instant,
}

/// How long a measured usage is trusted (writes add to it meanwhile; a delete drops it).
const USAGE_TTL: Duration = Duration::from_secs(10);

/// The wake-up of each (account, namespace) that feed requests wait on.
type Waiters = HashMap<(String, String), Arc<Notify>>;

impl AppState {
    /// The server's state over `store` (any tenant of the database: the server picks its own).
    ///
    /// # Errors
    ///
    /// A storage error opening the server's own namespaces.
    pub fn new(store: PostgresStore, config: Config) -> kvstore::Result<Self> {
        Ok(AppState {
            accounts: Accounts::new(&store, config.hash_cost)?,
            store,
            config: Arc::new(config),
            changed: Arc::default(),
            usage: Arc::default(),
        })
    }

    fn usage_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Usage>> {
        self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuses a batch adding `keys` keys and `bytes` bytes that would take `account` over its
    /// quota. Usage is measured (one aggregate query) at most every [`USAGE_TTL`] and counted
    /// up by the batches accepted meanwhile; overwrites count as additions until the next
    /// measurement, so the estimate errs on the full side, never past the quota by more than
    /// the batches racing one check.
    async fn check_quota(&self, account: &str, keys: u64, bytes: u64) -> Result<(), ApiError> {
        let cached = self
            .usage_map()
            .get(account)
            .copied()
            .filter(|u| u.measured.elapsed() < USAGE_TTL);
        let usage = match cached {
            Some(usage) => usage,
            None => {
                let measured = self.store.for_tenant(tenant(account)).usage().await?;
                let usage = Usage {
                    keys: measured.keys,
                    bytes: measured.bytes,
                    measured: std::time::Instant::now(),
                };
                self.usage_map().insert(account.to_owned(), usage);
                usage
            }
        };
        let config = &self.config;
        if usage.keys.saturating_add(keys) > config.max_account_keys
            || usage.bytes.saturating_add(bytes) > config.max_account_bytes
        {
            return Err(ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "QUOTA_EXCEEDED",
                format!(
                    "the account's quota is {} keys and {} bytes; it holds about {} keys and {} bytes",
                    config.max_account_keys, config.max_account_bytes, usage.keys, usage.bytes
                ),
            ));
        }
        Ok(())
    }

    /// Counts an accepted batch into the account's usage estimate; a batch that deleted
    /// something makes the next check measure again.
    fn count_usage(&self, account: &str, keys: u64, bytes: u64, deleted: bool) {
        let mut map = self.usage_map();
        if deleted {
            map.remove(account);
        } else if let Some(usage) = map.get_mut(account) {
            usage.keys = usage.keys.saturating_add(keys);
            usage.bytes = usage.bytes.saturating_add(bytes);
        }
        if map.len() > 100_000 {
            map.retain(|_, u| u.measured.elapsed() < USAGE_TTL);
        }
    }

    fn notify(&self, account: &str, ns: &str) -> Arc<Notify> {
        let mut map = self.changed.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= 10_000 {
            // Drop the wake-ups nobody waits on (only the map holds them).
            map.retain(|_, notify| Arc::strong_count(notify) > 1);
        }
        map.entry((account.to_owned(), ns.to_owned()))
            .or_default()
            .clone()
    }

    /// The account's namespace `ns`.
    fn namespace(&self, account: &str, ns: &str) -> Result<PostgresStore, ApiError> {
        self.store
            .for_tenant(tenant(account))
            .namespace(ns)
            .map_err(ApiError::from)
    }
}

/// The database tenant holding `account`'s namespaces.
fn tenant(account: &str) -> String {
    format!("acct/{account}")
}

/// Logs every refused request (4xx: bad token, another account's data is never reachable, an
/// oversized or malformed body, a failed precondition) with its method, path and status; never
/// a header or a body.
async fn log_refusals(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() {
        tracing::warn!(%method, %path, status = status.as_u16(), "request refused");
    }
    response
}

/// The router of API version 1 with its layers (body limit, CORS, request logs).
pub fn app(state: AppState) -> Router {
    let cors = if state.config.allowed_origins.is_empty() {
        CorsLayer::new()
    } else {
        let origins: Vec<HeaderValue> = state
            .config
            .allowed_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(Duration::from_secs(600))
    };
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/v1/health", get(|| async { "ok" }))
        .route("/v1/accounts", post(create_account))
        .route("/v1/sessions", post(login))
        .route("/v1/ns/{ns}/batch", post(batch))
        .route("/v1/ns/{ns}/get", post(get_many))
        .route("/v1/ns/{ns}/scan", get(scan))
        .route("/v1/ns/{ns}/changes", get(changes))
        .with_state(state)
        .layer(DefaultBodyLimit::max(limit))
        .layer(cors)
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn(log_refusals))
}

// ---------------------------------------------------------------- errors

/// An error response: status, stable code, message, and extra fields.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    extra: serde_json::Value,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: json!({}),
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_INPUT", message)
    }
}

impl From<kvstore::Error> for ApiError {
    fn from(err: kvstore::Error) -> Self {
        match err {
            kvstore::Error::Conflict {
                key,
                expected,
                current,
            } => ApiError {
                extra: json!({
                    "key": B64.encode(&key),
                    "expected": expect_json(expected),
                    "current": current,
                }),
                ..Self::new(StatusCode::CONFLICT, "CONFLICT", "a precondition failed")
            },
            kvstore::Error::KeyExists { key } => ApiError {
                extra: json!({ "key": B64.encode(&key) }),
                ..Self::new(StatusCode::CONFLICT, "KEY_EXISTS", "a created key exists")
            },
            kvstore::Error::ChangesExpired { since, horizon } => ApiError {
                extra: json!({ "since": since, "horizon": horizon }),
                ..Self::new(
                    StatusCode::GONE,
                    "CHANGES_EXPIRED",
                    "changes this old were pruned: resync from a full scan",
                )
            },
            kvstore::Error::InvalidInput(message) => Self::bad(message),
            kvstore::Error::QuotaExceeded(_) => Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "QUOTA_EXCEEDED",
                "storage is full",
            ),
            other => {
                tracing::error!(error = %other, "storage failure");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "STORAGE_ERROR",
                    "storage failed; retry later",
                )
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::BadName => Self::bad(format!(
                "an account name is 1 to 64 of A-Z a-z 0-9 . _ @ -, and an auth key {AUTH_KEY_LEN} bytes"
            )),
            AuthError::Exists => Self::new(
                StatusCode::CONFLICT,
                "ACCOUNT_EXISTS",
                "this account name is taken",
            ),
            AuthError::Denied => Self::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "unknown account, wrong auth key, or an expired or unknown token",
            ),
            AuthError::Storage(err) => err.into(),
            AuthError::Random => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "RANDOM_SOURCE_FAILED",
                "no random source",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), self.extra.as_object()) {
            body.extend(extra.clone());
        }
        (self.status, Json(body)).into_response()
    }
}

fn expect_json(expect: Expect) -> serde_json::Value {
    match expect {
        Expect::Absent => json!("absent"),
        Expect::Present => json!("present"),
        Expect::Version(v) => json!({ "version": v }),
        _ => json!(null),
    }
}

fn bytes(text: &str, what: &str) -> Result<Vec<u8>, ApiError> {
    B64.decode(text)
        .map_err(|_| ApiError::bad(format!("{what} is not base64url without padding")))
}

// ---------------------------------------------------------------- accounts

#[derive(Deserialize)]
struct Credentials {
    account: String,
    auth_key: String,
}

async fn create_account(
    State(state): State<AppState>,
    Json(body): Json<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let key = bytes(&body.auth_key, "auth_key")?;
    state.accounts.create(&body.account, &key).await?;
    tracing::info!(account = %body.account, "account created");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "account": body.account })),
    ))
}

async fn login(
    State(state): State<AppState>,
    Json(body): Json<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let key = bytes(&body.auth_key, "auth_key")?;
    let ttl = state.config.session_ttl.as_secs();
    match state.accounts.login(&body.account, &key, ttl).await {
        Ok(token) => Ok(Json(
            json!({ "token": B64.encode(token), "expires_in": ttl }),
        )),
        Err(err) => {
            tracing::warn!(account = %body.account, "login refused");
            Err(err.into())
        }
    }
}

/// The account of the request's bearer token.
struct Account(String);

impl FromRequestParts<AppState> for Account {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|t| B64.decode(t.trim()).ok());
        let Some(token) = token else {
            tracing::warn!(path = %parts.uri.path(), "request without a valid bearer token");
            return Err(AuthError::Denied.into());
        };
        match state.accounts.account_of(&token).await {
            Ok(account) => Ok(Account(account)),
            Err(err) => {
                tracing::warn!(path = %parts.uri.path(), "request with an unknown or expired token");
                Err(err.into())
            }
        }
    }
}

// ---------------------------------------------------------------- data

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
    Set { key: String, value: String },
    Create { key: String, value: String },
    Delete { key: String },
    Require { key: String, expect: ExpectJson },
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ExpectJson {
    Absent,
    Present,
    Version(u64),
}

#[derive(Deserialize)]
struct BatchBody {
    ops: Vec<Op>,
}

async fn batch(
    State(state): State<AppState>,
    Account(account): Account,
    Path(ns): Path<String>,
    Json(body): Json<BatchBody>,
) -> Result<impl IntoResponse, ApiError> {
    if body.ops.len() > state.config.max_batch_ops {
        return Err(ApiError::bad(format!(
            "a batch holds at most {} operations",
            state.config.max_batch_ops
        )));
    }
    let store = state.namespace(&account, &ns)?;
    let mut batch = Batch::new();
    let (mut added_keys, mut added_bytes, mut deleted) = (0u64, 0u64, false);
    for op in body.ops {
        match op {
            Op::Set { key, value } => {
                let (key, value) = (bytes(&key, "a key")?, bytes(&value, "a value")?);
                added_keys += 1;
                added_bytes += (key.len() + value.len()) as u64;
                batch.set(key, value);
            }
            Op::Create { key, value } => {
                let (key, value) = (bytes(&key, "a key")?, bytes(&value, "a value")?);
                added_keys += 1;
                added_bytes += (key.len() + value.len()) as u64;
                batch.create(key, value);
            }
            Op::Delete { key } => {
                deleted = true;
                batch.delete(bytes(&key, "a key")?);
            }
            Op::Require { key, expect } => {
                let expect = match expect {
                    ExpectJson::Absent => Expect::Absent,
                    ExpectJson::Present => Expect::Present,
                    ExpectJson::Version(v) => Expect::Version(v),
                };
                batch.require(bytes(&key, "a key")?, expect);
            }
        }
    }
    let ops = batch.len();
    if added_keys > 0 {
        state.check_quota(&account, added_keys, added_bytes).await?;
    }
    let committed = store.batch_versioned(batch).await?;
    state.count_usage(&account, added_keys, added_bytes, deleted);
    let last_version = match committed {
        Some(version) => version,
        None => store.last_version().await?,
    };
    state.notify(&account, &ns).notify_waiters();
    tracing::info!(account = %account, ns = %ns, ops, last_version, "batch applied");
    Ok(Json(json!({ "last_version": last_version })))
}

#[derive(Deserialize)]
struct GetBody {
    keys: Vec<String>,
}

#[derive(Serialize)]
struct Versioned {
    value: String,
    version: u64,
}

async fn get_many(
    State(state): State<AppState>,
    Account(account): Account,
    Path(ns): Path<String>,
    Json(body): Json<GetBody>,
) -> Result<impl IntoResponse, ApiError> {
    if body.keys.len() > state.config.max_page {
        return Err(ApiError::bad(format!(
            "at most {} keys per request",
            state.config.max_page
        )));
    }
    let store = state.namespace(&account, &ns)?;
    let keys: Vec<Vec<u8>> = body
        .keys
        .iter()
        .map(|k| bytes(k, "a key"))
        .collect::<Result<_, _>>()?;
    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let values: Vec<Option<Versioned>> = store
        .get_many_versioned(&refs)
        .await?
        .into_iter()
        .map(|found| {
            found.map(|(value, version)| Versioned {
                value: B64.encode(value),
                version,
            })
        })
        .collect();
    Ok(Json(json!({ "values": values })))
}

#[derive(Deserialize)]
struct ScanQuery {
    #[serde(default)]
    prefix: String,
    after: Option<String>,
    limit: Option<usize>,
}

async fn scan(
    State(state): State<AppState>,
    Account(account): Account,
    Path(ns): Path<String>,
    Query(query): Query<ScanQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let store = state.namespace(&account, &ns)?;
    let prefix = bytes(&query.prefix, "prefix")?;
    let after = query
        .after
        .as_deref()
        .map(|a| bytes(a, "after"))
        .transpose()?;
    let limit = query
        .limit
        .unwrap_or(state.config.max_page)
        .min(state.config.max_page);
    let mut scan = Scan::prefix(&prefix).limit(limit);
    if let Some(after) = &after {
        scan = scan.after(after);
    }
    let entries: Vec<_> = store
        .scan(scan)
        .await?
        .into_iter()
        .map(|(k, v)| json!({ "key": B64.encode(k), "value": B64.encode(v) }))
        .collect();
    Ok(Json(json!({ "entries": entries })))
}

#[derive(Deserialize)]
struct ChangesQuery {
    #[serde(default)]
    since: u64,
    limit: Option<usize>,
    /// Seconds to wait for a change when there is none yet (long poll).
    #[serde(default)]
    wait: u64,
}

async fn changes(
    State(state): State<AppState>,
    Account(account): Account,
    Path(ns): Path<String>,
    Query(query): Query<ChangesQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let store = state.namespace(&account, &ns)?;
    let limit = query
        .limit
        .unwrap_or(state.config.max_page)
        .min(state.config.max_page);
    let wait = Duration::from_secs(query.wait).min(state.config.max_wait);
    let notify = state.notify(&account, &ns);
    // Registered before the read: a batch landing between the read and the wait wakes it.
    let woken = notify.notified();
    tokio::pin!(woken);
    woken.as_mut().enable();
    let mut found = store.changes(query.since, limit).await?;
    if found.is_empty() && !wait.is_zero() {
        let _ = tokio::time::timeout(wait, woken).await;
        found = store.changes(query.since, limit).await?;
    }
    let last_version = store.last_version().await?;
    let changes: Vec<_> = found
        .into_iter()
        .map(|c| {
            json!({
                "key": B64.encode(&c.key),
                "version": c.version,
                "value": c.value.map(|v| B64.encode(v)),
            })
        })
        .collect();
    Ok(Json(
        json!({ "changes": changes, "last_version": last_version }),
    ))
}
