//! `vault-sync`: [`RemoteStore`], a [`KVStore`] over `vault-server`'s API version 1, so a vault
//! syncs with a server through `vault::Vault::sync_keyspace` exactly as with any other store.
//!
//! Natively, plain HTTP (put TLS in front of the server); in a browser (wasm32) requests go
//! through `fetch`, with the browser's TLS and CORS.
#![forbid(unsafe_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use kvstore::{Batch, BatchOp, Change, Entry, Error, Expect, KVStore, Result, Scan};
use serde_json::{json, Value};

const BACKEND: &str = "vault-server";

/// The namespace of an account in which clients keep the vault (the CLI and the JS package
/// alike, so they sync with each other).
pub const VAULT_NAMESPACE: &str = "vault";

/// One namespace of an account on a vault server.
#[derive(Clone)]
pub struct RemoteStore {
    http: reqwest::Client,
    base: String,
    token: String,
    namespace: String,
}

impl std::fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStore")
            .field("server", &self.base)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

fn unavailable(err: impl std::fmt::Display) -> Error {
    Error::Unavailable {
        backend: BACKEND,
        reason: err.to_string(),
    }
}

fn decode(text: Option<&str>) -> Result<Vec<u8>> {
    B64.decode(text.unwrap_or_default())
        .map_err(|_| Error::Corrupted("the server sent bytes that are not base64url".into()))
}

fn refused(message: String) -> Error {
    Error::Backend {
        backend: BACKEND,
        source: message.into(),
    }
}

/// The error a server's answer stands for.
fn error_of(status: u16, body: &Value) -> Error {
    let message = body["message"].as_str().unwrap_or_default().to_owned();
    match body["error"].as_str().unwrap_or_default() {
        "CONFLICT" => Error::Conflict {
            key: decode(body["key"].as_str()).unwrap_or_default(),
            expected: match &body["expected"] {
                Value::String(s) if s == "present" => Expect::Present,
                Value::Object(o) => Expect::Version(o["version"].as_u64().unwrap_or_default()),
                _ => Expect::Absent,
            },
            current: body["current"].as_u64(),
        },
        "KEY_EXISTS" => Error::KeyExists {
            key: decode(body["key"].as_str()).unwrap_or_default(),
        },
        "CHANGES_EXPIRED" => Error::ChangesExpired {
            since: body["since"].as_u64().unwrap_or_default(),
            horizon: body["horizon"].as_u64().unwrap_or_default(),
        },
        "INVALID_INPUT" => Error::InvalidInput(message),
        "QUOTA_EXCEEDED" => Error::QuotaExceeded(message),
        "UNAUTHORIZED" => refused(format!("the server refused the session: {message}")),
        _ if status == 413 => {
            Error::InvalidInput("the request is over the server's body limit".into())
        }
        _ => unavailable(format!("the server answered {status}: {message}")),
    }
}

impl RemoteStore {
    /// Registers `account` on the server at `base` (`http://host:port`) with `auth_key`
    /// (from `vault::sync_auth_key`).
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] when the name is taken or refused; [`Error::Unavailable`] when the
    /// server cannot be reached.
    pub async fn register(base: &str, account: &str, auth_key: &[u8]) -> Result<()> {
        let http = reqwest::Client::new();
        let response = http
            .post(format!("{base}/v1/accounts"))
            .json(&json!({"account": account, "auth_key": B64.encode(auth_key)}))
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status().as_u16();
        if status == 201 {
            return Ok(());
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        Err(match body["error"].as_str() {
            Some("ACCOUNT_EXISTS") => refused(format!("account {account:?} exists")),
            _ => error_of(status, &body),
        })
    }

    /// Opens a session for `account` and returns its default namespace.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] for a wrong account or key; [`Error::Unavailable`] when the server
    /// cannot be reached.
    pub async fn login(base: &str, account: &str, auth_key: &[u8]) -> Result<RemoteStore> {
        let http = reqwest::Client::new();
        let response = http
            .post(format!("{base}/v1/sessions"))
            .json(&json!({"account": account, "auth_key": B64.encode(auth_key)}))
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.map_err(unavailable)?;
        if status != 200 {
            return Err(error_of(status, &body));
        }
        let token = body["token"]
            .as_str()
            .ok_or_else(|| unavailable("the server sent no token"))?
            .to_owned();
        Ok(RemoteStore {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
            namespace: kvstore::DEFAULT_NAMESPACE.to_owned(),
        })
    }

    /// A store for a session token obtained earlier ([`token`](Self::token)), in the
    /// default namespace. Nothing is checked until the first call.
    pub fn with_token(base: &str, token: &str) -> RemoteStore {
        RemoteStore {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            namespace: kvstore::DEFAULT_NAMESPACE.to_owned(),
        }
    }

    /// The session token, to keep (privately) for [`with_token`](Self::with_token).
    pub fn token(&self) -> &str {
        &self.token
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let url = format!("{}/v1/ns/{}/{path}", self.base, self.namespace);
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(unavailable)?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == 200 {
            Ok(body)
        } else {
            Err(error_of(status, &body))
        }
    }

    async fn page(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Vec<Entry>> {
        let mut path = format!("scan?prefix={}&limit={limit}", B64.encode(prefix));
        if let Some(after) = after {
            path.push_str(&format!("&after={}", B64.encode(after)));
        }
        let body = self.call(reqwest::Method::GET, &path, None).await?;
        body["entries"]
            .as_array()
            .ok_or_else(|| unavailable("a malformed scan answer"))?
            .iter()
            .map(|e| Ok((decode(e["key"].as_str())?, decode(e["value"].as_str())?)))
            .collect()
    }
}

/// The server's largest page.
const PAGE: usize = 1_000;

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl KVStore for RemoteStore {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.get_versioned(key).await?.map(|(v, _)| v))
    }

    async fn get_versioned(&self, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        Ok(self.get_many_versioned(&[key]).await?.pop().flatten())
    }

    async fn get_many_versioned(&self, keys: &[&[u8]]) -> Result<Vec<Option<(Vec<u8>, u64)>>> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(PAGE) {
            let keys: Vec<String> = chunk.iter().map(|k| B64.encode(k)).collect();
            let body = self
                .call(reqwest::Method::POST, "get", Some(json!({ "keys": keys })))
                .await?;
            for value in body["values"].as_array().into_iter().flatten() {
                out.push(if value.is_null() {
                    None
                } else {
                    Some((
                        decode(value["value"].as_str())?,
                        value["version"].as_u64().unwrap_or_default(),
                    ))
                });
            }
        }
        if out.len() != keys.len() {
            return Err(unavailable("a malformed get answer"));
        }
        Ok(out)
    }

    async fn changes(&self, since: u64, limit: usize) -> Result<Vec<Change>> {
        let path = format!("changes?since={since}&limit={}", limit.min(PAGE));
        let body = self.call(reqwest::Method::GET, &path, None).await?;
        body["changes"]
            .as_array()
            .ok_or_else(|| unavailable("a malformed changes answer"))?
            .iter()
            .map(|c| {
                Ok(Change {
                    key: decode(c["key"].as_str())?,
                    version: c["version"].as_u64().unwrap_or_default(),
                    value: match c["value"].as_str() {
                        Some(v) => Some(decode(Some(v))?),
                        None => None,
                    },
                })
            })
            .collect()
    }

    async fn last_version(&self) -> Result<u64> {
        let path = format!("changes?since={}&limit=1", u64::MAX);
        let body = self.call(reqwest::Method::GET, &path, None).await?;
        Ok(body["last_version"].as_u64().unwrap_or_default())
    }

    async fn contains(&self, key: &[u8]) -> Result<bool> {
        Ok(self.get_versioned(key).await?.is_some())
    }

    async fn scan(&self, scan: Scan<'_>) -> Result<Vec<Entry>> {
        let mut out: Vec<Entry> = Vec::new();
        let limit = scan.max_entries().unwrap_or(usize::MAX);
        let mut after: Option<Vec<u8>> = scan.start_after().map(<[u8]>::to_vec);
        while out.len() < limit {
            let want = (limit - out.len()).min(PAGE);
            let page = self.page(scan.key_prefix(), after.as_deref(), want).await?;
            let done = page.len() < want;
            after = page.last().map(|(k, _)| k.clone()).or(after);
            out.extend(page);
            if done {
                break;
            }
        }
        Ok(out)
    }

    async fn scan_keys(&self, scan: Scan<'_>) -> Result<Vec<Vec<u8>>> {
        Ok(self.scan(scan).await?.into_iter().map(|(k, _)| k).collect())
    }

    async fn count(&self, prefix: &[u8]) -> Result<u64> {
        Ok(self.scan(Scan::prefix(prefix)).await?.len() as u64)
    }

    async fn batch(&self, batch: Batch) -> Result<()> {
        let mut ops = Vec::with_capacity(batch.len());
        for op in batch.into_ops() {
            ops.push(match op {
                BatchOp::Set { key, value } => {
                    json!({"op": "set", "key": B64.encode(key), "value": B64.encode(value)})
                }
                BatchOp::Create { key, value } => {
                    json!({"op": "create", "key": B64.encode(key), "value": B64.encode(value)})
                }
                BatchOp::Delete { key } => json!({"op": "delete", "key": B64.encode(key)}),
                BatchOp::Require { key, expect } => {
                    let expect = match expect {
                        Expect::Absent => json!("absent"),
                        Expect::Present => json!("present"),
                        Expect::Version(v) => json!({ "version": v }),
                        _ => return Err(Error::InvalidInput("an unknown precondition".into())),
                    };
                    json!({"op": "require", "key": B64.encode(key), "expect": expect})
                }
                _ => return Err(Error::InvalidInput("an unknown batch operation".into())),
            });
        }
        if ops.is_empty() {
            return Ok(());
        }
        self.call(reqwest::Method::POST, "batch", Some(json!({ "ops": ops })))
            .await?;
        Ok(())
    }

    async fn clear(&self) -> Result<()> {
        Err(Error::InvalidInput(
            "clearing a namespace is not part of the server API".into(),
        ))
    }

    fn namespace_name(&self) -> &str {
        &self.namespace
    }

    fn namespace(&self, name: &str) -> Result<Self> {
        kvstore::validate_namespace(name)?;
        Ok(RemoteStore {
            namespace: name.to_owned(),
            ..self.clone()
        })
    }
}
