//! PostgreSQL, for servers (feature `postgres`, native targets): through sqlx with its smol
//! runtime, so no tokio is needed and any executor drives it.
//!
//! **Schema** (created on first open, portable SQL: no PL/pgSQL, no extension):
//!
//! ```sql
//! CREATE TABLE kvstore_state (
//!     tenant TEXT NOT NULL, ns TEXT NOT NULL,
//!     last_version BIGINT NOT NULL, horizon BIGINT NOT NULL,
//!     PRIMARY KEY (tenant, ns));
//! CREATE TABLE kvstore_entries (
//!     tenant TEXT NOT NULL, ns TEXT NOT NULL, key BYTEA NOT NULL,
//!     version BIGINT NOT NULL, value BYTEA,          -- NULL: a tombstone
//!     PRIMARY KEY (tenant, ns, key));
//! CREATE INDEX kvstore_entries_feed ON kvstore_entries (tenant, ns, version);
//! ```
//!
//! A **tenant** (an account of a server; [`PostgresBuilder::tenant`], default empty) holds
//! namespaces; nothing crosses tenants, and `tenant` leads every key and index (the
//! distribution column on Citus). Each key is one row: its latest version and its value, or
//! `NULL` once deleted (the tombstone, pruned after the retention like every backend's). The
//! change feed is the `version` index; `bytea` sorts as unsigned bytes, like every backend.
//!
//! **Commits.** One transaction: lock the namespace's state row (`SELECT … FOR UPDATE`, so the
//! commits of one namespace are serialized and a precondition is checked against exactly what
//! the commit will meet), read the version of every key the batch names, plan with the same
//! rules as every other backend (`versions.rs`), write every row with one `INSERT … SELECT FROM
//! unnest(…) ON CONFLICT DO UPDATE`, delete pruned tombstones, update the state. A failed
//! precondition rolls back with nothing written. A write resolves after PostgreSQL's commit
//! (durable under the server's `synchronous_commit`, on by default).
//!
//! Reads are single statements (one snapshot each); the change feed reads the horizon and the
//! rows in one `REPEATABLE READ` transaction.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row;

use crate::keys::check_key;
use crate::store::{Change, Entry};
use crate::versions::{self, Meta, Part, State, Write};
use crate::{Batch, Error, KVStore, Result, Scan, DEFAULT_NAMESPACE};

const BACKEND: &str = "postgres";

const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS kvstore_state (tenant TEXT NOT NULL, ns TEXT NOT NULL, \
     last_version BIGINT NOT NULL, horizon BIGINT NOT NULL, PRIMARY KEY (tenant, ns))",
    "CREATE TABLE IF NOT EXISTS kvstore_entries (tenant TEXT NOT NULL, ns TEXT NOT NULL, \
     key BYTEA NOT NULL, version BIGINT NOT NULL, value BYTEA, PRIMARY KEY (tenant, ns, key))",
    "CREATE INDEX IF NOT EXISTS kvstore_entries_feed ON kvstore_entries (tenant, ns, version)",
];

fn map_err(err: sqlx::Error) -> Error {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => Error::Unavailable {
            backend: BACKEND,
            reason: err.to_string(),
        },
        sqlx::Error::Io(io) => Error::Io(io),
        sqlx::Error::Database(db) if db.code().as_deref() == Some("53100") => {
            // disk_full
            Error::QuotaExceeded(db.to_string())
        }
        other => Error::backend(BACKEND, other),
    }
}

/// Whether `err` is a serialization failure or a deadlock (SQLSTATE 40001, 40P01): the
/// transaction was rolled back and may simply be run again. PostgreSQL's default isolation with
/// the state-row lock never produces them; CockroachDB (always `SERIALIZABLE`) and PostgreSQL
/// under `default_transaction_isolation = serializable` can.
fn is_retryable(err: &Error) -> bool {
    let Error::Backend { source, .. } = err else {
        return false;
    };
    source
        .downcast_ref::<sqlx::Error>()
        .and_then(|e| e.as_database_error())
        .and_then(|db| db.code())
        .is_some_and(|code| code == "40001" || code == "40P01")
}

/// How many times a batch is tried when the database asks for a retry ([`is_retryable`]).
const COMMIT_ATTEMPTS: usize = 10;

fn to_db(version: u64) -> Result<i64> {
    i64::try_from(version).map_err(|_| Error::Corrupted(format!("version {version} overflows")))
}

fn from_db(version: i64) -> Result<u64> {
    u64::try_from(version).map_err(|_| Error::Corrupted(format!("stored version {version}")))
}

/// Options for a [`PostgresStore`], from [`PostgresStore::builder`].
#[derive(Debug, Clone)]
pub struct PostgresBuilder {
    tenant: String,
    max_connections: u32,
    retention: u64,
    acquire_timeout: Duration,
}

impl Default for PostgresBuilder {
    fn default() -> Self {
        PostgresBuilder {
            tenant: String::new(),
            max_connections: 8,
            retention: versions::DEFAULT_TOMBSTONE_RETENTION,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl PostgresBuilder {
    /// The tenant (an account) whose namespaces this store reaches (default: the empty name).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }

    /// The most connections the pool opens (default 8).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long a call waits for a free connection before [`Error::Unavailable`] (default
    /// 10 s).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Keeps tombstones for the last `versions` versions (default
    /// [`DEFAULT_TOMBSTONE_RETENTION`](crate::DEFAULT_TOMBSTONE_RETENTION)).
    pub fn tombstone_retention(mut self, versions: u64) -> Self {
        self.retention = versions;
        self
    }

    /// Connects to `url` (`postgres://user@host:port/database`), creates the schema if it is
    /// missing, and returns the tenant's default namespace.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when the server cannot be reached in time; [`Error::Backend`]
    /// for what the server refuses (authentication, a missing database, permissions).
    pub async fn connect(self, url: &str) -> Result<PostgresStore> {
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .connect(url)
            .await
            .map_err(|e| match e {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => Error::Unavailable {
                    backend: BACKEND,
                    reason: e.to_string(),
                },
                other => map_err(other),
            })?;
        create_schema(&pool).await?;
        Ok(PostgresStore {
            pool,
            tenant: self.tenant,
            namespace: DEFAULT_NAMESPACE.to_owned(),
            retention: self.retention,
        })
    }
}

async fn create_schema(pool: &PgPool) -> Result<()> {
    for statement in SCHEMA {
        // Two first opens at once can race on the catalog; the second attempt sees the table.
        if sqlx::query(statement).execute(pool).await.is_err() {
            sqlx::query(statement)
                .execute(pool)
                .await
                .map_err(map_err)?;
        }
    }
    Ok(())
}

/// What a tenant holds ([`PostgresStore::usage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TenantUsage {
    /// Live keys, in every namespace.
    pub keys: u64,
    /// Bytes of those keys and their values.
    pub bytes: u64,
}

/// A [`KVStore`] namespace in a PostgreSQL database (feature `postgres`). Cheap to clone: the
/// connection pool is shared, and so with every handle of [`namespace`](KVStore::namespace).
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    tenant: String,
    namespace: String,
    retention: u64,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("tenant", &self.tenant)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Options: `PostgresStore::builder().tenant("account-7").connect(url).await?`.
    pub fn builder() -> PostgresBuilder {
        PostgresBuilder::default()
    }

    /// Connects with the default options ([`PostgresBuilder::connect`]).
    ///
    /// # Errors
    ///
    /// As [`PostgresBuilder::connect`].
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        Self::builder().connect(url).await
    }

    /// The tenant this store reaches.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The default namespace of another tenant, over the same connection pool (a server
    /// serves each account as a tenant of its own).
    pub fn for_tenant(&self, tenant: impl Into<String>) -> PostgresStore {
        PostgresStore {
            pool: self.pool.clone(),
            tenant: tenant.into(),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            retention: self.retention,
        }
    }

    /// The connection pool, for what this crate does not cover.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// What this store's tenant holds across all its namespaces: the number of live keys and
    /// their bytes (keys and values; tombstones not counted). One aggregate query over the
    /// tenant's rows: for quotas checked now and then, not on every read.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] or [`Error::Backend`] when the database fails.
    pub async fn usage(&self) -> Result<TenantUsage> {
        let row = sqlx::query(
            "SELECT count(*), coalesce(sum(octet_length(key) + octet_length(value)), 0)::BIGINT \
             FROM kvstore_entries WHERE tenant = $1 AND value IS NOT NULL",
        )
        .bind(&self.tenant)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        let keys: i64 = row.try_get(0).map_err(map_err)?;
        let bytes: i64 = row.try_get(1).map_err(map_err)?;
        Ok(TenantUsage {
            keys: from_db(keys)?,
            bytes: from_db(bytes)?,
        })
    }

    /// Rows of the scan's range, in key order (live keys only).
    async fn range(&self, scan: &Scan<'_>, with_values: bool) -> Result<Vec<Entry>> {
        if scan.is_empty() {
            return Ok(Vec::new());
        }
        let (lower, upper) = scan.bounds();
        let (lower, exclusive) = match lower {
            Bound::Included(k) => (k, false),
            Bound::Excluded(k) => (k, true),
            Bound::Unbounded => (Vec::new(), false),
        };
        let upper = match upper {
            Bound::Excluded(k) | Bound::Included(k) => Some(k),
            Bound::Unbounded => None,
        };
        let limit = scan
            .max_entries()
            .map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let sql = match (exclusive, with_values) {
            (false, true) => {
                "SELECT key, value FROM kvstore_entries WHERE tenant = $1 AND ns = $2 \
                 AND value IS NOT NULL AND key >= $3 AND ($4::bytea IS NULL OR key < $4) \
                 ORDER BY key LIMIT $5"
            }
            (true, true) => {
                "SELECT key, value FROM kvstore_entries WHERE tenant = $1 AND ns = $2 \
                 AND value IS NOT NULL AND key > $3 AND ($4::bytea IS NULL OR key < $4) \
                 ORDER BY key LIMIT $5"
            }
            (false, false) => {
                "SELECT key FROM kvstore_entries WHERE tenant = $1 AND ns = $2 \
                 AND value IS NOT NULL AND key >= $3 AND ($4::bytea IS NULL OR key < $4) \
                 ORDER BY key LIMIT $5"
            }
            (true, false) => {
                "SELECT key FROM kvstore_entries WHERE tenant = $1 AND ns = $2 \
                 AND value IS NOT NULL AND key > $3 AND ($4::bytea IS NULL OR key < $4) \
                 ORDER BY key LIMIT $5"
            }
        };
        let rows = sqlx::query(sql)
            .bind(&self.tenant)
            .bind(&self.namespace)
            .bind(lower)
            .bind(upper)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                let key: Vec<u8> = row.try_get(0).map_err(map_err)?;
                let value: Vec<u8> = if with_values {
                    row.try_get(1).map_err(map_err)?
                } else {
                    Vec::new()
                };
                Ok((key, value))
            })
            .collect()
    }

    /// Creates the namespace's state row if needed and locks it for the rest of `tx`: the
    /// commits (and clears) of one namespace are serialized on it.
    async fn lock_state(&self, tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> Result<State> {
        sqlx::query(
            "INSERT INTO kvstore_state (tenant, ns, last_version, horizon) VALUES ($1, $2, 0, 0) \
             ON CONFLICT (tenant, ns) DO NOTHING",
        )
        .bind(&self.tenant)
        .bind(&self.namespace)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
        let row = sqlx::query(
            "SELECT last_version, horizon FROM kvstore_state WHERE tenant = $1 AND ns = $2 \
             FOR UPDATE",
        )
        .bind(&self.tenant)
        .bind(&self.namespace)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
        Ok(State {
            last: from_db(row.try_get(0).map_err(map_err)?)?,
            horizon: from_db(row.try_get(1).map_err(map_err)?)?,
        })
    }

    /// Plans and applies `ops` in one transaction; returns the namespace's last version after.
    async fn commit(&self, ops: Vec<crate::BatchOp>) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let state = self.lock_state(&mut tx).await?;
        let cutoff = state.prune_cutoff(self.retention);
        let candidates: Vec<(u64, Vec<u8>)> = sqlx::query(
            "SELECT version, key FROM kvstore_entries WHERE tenant = $1 AND ns = $2 \
             AND value IS NULL AND version <= $3 ORDER BY version LIMIT $4",
        )
        .bind(&self.tenant)
        .bind(&self.namespace)
        .bind(to_db(cutoff)?)
        .bind(versions::PRUNE_PER_COMMIT as i64)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?
        .iter()
        .map(|row| {
            Ok((
                from_db(row.try_get(0).map_err(map_err)?)?,
                row.try_get(1).map_err(map_err)?,
            ))
        })
        .collect::<Result<_>>()?;
        let mut named: Vec<Vec<u8>> = ops.iter().map(|op| op.key().to_vec()).collect();
        named.extend(candidates.iter().map(|(_, k)| k.clone()));
        named.sort();
        named.dedup();
        let mut meta: HashMap<Vec<u8>, Option<Meta>> =
            named.iter().map(|k| (k.clone(), None)).collect();
        for row in sqlx::query(
            // A join on the unnested keys: one primary-key lookup per key, whatever the
            // planner's statistics say (`key = ANY(…)` was seen to scan the namespace through
            // the feed index on a table never analyzed).
            "SELECT e.key, e.version, e.value IS NOT NULL FROM unnest($3::bytea[]) AS k(key) \
             JOIN kvstore_entries e ON e.tenant = $1 AND e.ns = $2 AND e.key = k.key",
        )
        .bind(&self.tenant)
        .bind(&self.namespace)
        .bind(&named)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?
        {
            let key: Vec<u8> = row.try_get(0).map_err(map_err)?;
            let version = from_db(row.try_get(1).map_err(map_err)?)?;
            let live: bool = row.try_get(2).map_err(map_err)?;
            meta.insert(key, Some(Meta { version, live }));
        }
        // A failed precondition or create returns here: the transaction rolls back on drop.
        let plan = versions::plan(
            &ops,
            state,
            |_, key| versions::Current::Known(meta.get(key).copied().flatten()),
            &candidates,
            self.retention,
        )?;

        // The plan's writes, folded into rows: each key's final version and value (or
        // tombstone), and the keys whose tombstone was pruned.
        let mut values: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let mut rows: HashMap<Vec<u8>, Meta> = HashMap::new();
        let mut pruned: HashSet<Vec<u8>> = HashSet::new();
        // Every key was read, so nothing is blind; were it, a row's upsert replaces whatever
        // the key held.
        let blind = plan
            .blind
            .iter()
            .map(|b| {
                let (key, value) = b.written(&ops)?;
                Ok(Write::Put(
                    Part::Data,
                    key.to_vec(),
                    versions::encode_value(b.version, value),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        for write in plan.writes.into_iter().chain(blind) {
            match write {
                Write::Put(Part::Data, key, entry) => {
                    let (version, value) = versions::split_value(&entry)?;
                    rows.insert(
                        key.clone(),
                        Meta {
                            version,
                            live: true,
                        },
                    );
                    values.insert(key.clone(), value.to_vec());
                    pruned.remove(&key);
                }
                Write::Put(Part::Meta, key, entry) => {
                    rows.insert(key.clone(), versions::decode_meta(&entry)?);
                    pruned.remove(&key);
                }
                // A tombstone's removal: pruned, or replaced by a value (written after it).
                Write::Delete(Part::Meta, key) => {
                    rows.remove(&key);
                    pruned.insert(key);
                }
                // The feed and the tombstones are the rows' `version` and `NULL` value; a
                // deleted value is its row's tombstone (a meta write).
                Write::Put(..) | Write::Delete(..) => {}
            }
        }
        let mut keys = Vec::with_capacity(rows.len());
        let mut row_versions = Vec::with_capacity(rows.len());
        let mut row_values: Vec<Option<Vec<u8>>> = Vec::with_capacity(rows.len());
        for (key, entry) in rows {
            let value = if entry.live {
                values.remove(&key)
            } else {
                None
            };
            if entry.live && value.is_none() {
                return Err(Error::backend(BACKEND, "a planned row lost its value"));
            }
            keys.push(key);
            row_versions.push(to_db(entry.version)?);
            row_values.push(value);
        }
        if !keys.is_empty() {
            sqlx::query(
                "INSERT INTO kvstore_entries (tenant, ns, key, version, value) \
                 SELECT $1, $2, k, v, d FROM unnest($3::bytea[], $4::int8[], $5::bytea[]) AS t(k, v, d) \
                 ON CONFLICT (tenant, ns, key) DO UPDATE \
                 SET version = excluded.version, value = excluded.value",
            )
            .bind(&self.tenant)
            .bind(&self.namespace)
            .bind(&keys)
            .bind(&row_versions)
            .bind(&row_values)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        if !pruned.is_empty() {
            let pruned: Vec<Vec<u8>> = pruned.into_iter().collect();
            sqlx::query(
                "DELETE FROM kvstore_entries WHERE tenant = $1 AND ns = $2 AND key = ANY($3) \
                 AND value IS NULL",
            )
            .bind(&self.tenant)
            .bind(&self.namespace)
            .bind(&pruned)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        if plan.state != state {
            self.write_state(&mut tx, plan.state).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(plan.state.last)
    }

    async fn write_state(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        state: State,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE kvstore_state SET last_version = $3, horizon = $4 \
             WHERE tenant = $1 AND ns = $2",
        )
        .bind(&self.tenant)
        .bind(&self.namespace)
        .bind(to_db(state.last)?)
        .bind(to_db(state.horizon)?)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl KVStore for PostgresStore {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.get_versioned(key).await?.map(|(value, _)| value))
    }

    async fn get_versioned(&self, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        Ok(self.get_many_versioned(&[key]).await?.pop().flatten())
    }

    async fn get_many_versioned(&self, keys: &[&[u8]]) -> Result<Vec<Option<(Vec<u8>, u64)>>> {
        for key in keys {
            check_key(key)?;
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let owned: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
        // One statement: one snapshot.
        let mut found: HashMap<Vec<u8>, (Vec<u8>, u64)> = HashMap::new();
        for row in sqlx::query(
            "SELECT e.key, e.value, e.version FROM unnest($3::bytea[]) AS k(key) \
             JOIN kvstore_entries e ON e.tenant = $1 AND e.ns = $2 AND e.key = k.key \
             WHERE e.value IS NOT NULL",
        )
        .bind(&self.tenant)
        .bind(&self.namespace)
        .bind(&owned)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?
        {
            let key: Vec<u8> = row.try_get(0).map_err(map_err)?;
            let value: Vec<u8> = row.try_get(1).map_err(map_err)?;
            found.insert(key, (value, from_db(row.try_get(2).map_err(map_err)?)?));
        }
        Ok(owned.iter().map(|k| found.get(k).cloned()).collect())
    }

    async fn changes(&self, since: u64, limit: usize) -> Result<Vec<Change>> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let state = sqlx::query(
            "SELECT last_version, horizon FROM kvstore_state WHERE tenant = $1 AND ns = $2",
        )
        .bind(&self.tenant)
        .bind(&self.namespace)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .map(|row| {
            Ok::<_, Error>(State {
                last: from_db(row.try_get(0).map_err(map_err)?)?,
                horizon: from_db(row.try_get(1).map_err(map_err)?)?,
            })
        })
        .transpose()?
        .unwrap_or_default();
        versions::check_since(since, state)?;
        if limit == 0 || since == u64::MAX {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT key, version, value FROM kvstore_entries WHERE tenant = $1 AND ns = $2 \
             AND version > $3 ORDER BY version LIMIT $4",
        )
        .bind(&self.tenant)
        .bind(&self.namespace)
        .bind(i64::try_from(since).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(Change {
                    key: row.try_get(0).map_err(map_err)?,
                    version: from_db(row.try_get(1).map_err(map_err)?)?,
                    value: row.try_get(2).map_err(map_err)?,
                })
            })
            .collect()
    }

    async fn last_version(&self) -> Result<u64> {
        let row =
            sqlx::query("SELECT last_version FROM kvstore_state WHERE tenant = $1 AND ns = $2")
                .bind(&self.tenant)
                .bind(&self.namespace)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        match row {
            Some(row) => from_db(row.try_get(0).map_err(map_err)?),
            None => Ok(0),
        }
    }

    async fn contains(&self, key: &[u8]) -> Result<bool> {
        Ok(self.get_versioned(key).await?.is_some())
    }

    async fn scan(&self, scan: Scan<'_>) -> Result<Vec<Entry>> {
        self.range(&scan, true).await
    }

    async fn scan_keys(&self, scan: Scan<'_>) -> Result<Vec<Vec<u8>>> {
        Ok(self
            .range(&scan, false)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    async fn count(&self, prefix: &[u8]) -> Result<u64> {
        let scan = Scan::prefix(prefix);
        let upper = scan.upper();
        let row = sqlx::query(
            "SELECT count(*) FROM kvstore_entries WHERE tenant = $1 AND ns = $2 \
             AND value IS NOT NULL AND key >= $3 AND ($4::bytea IS NULL OR key < $4)",
        )
        .bind(&self.tenant)
        .bind(&self.namespace)
        .bind(prefix)
        .bind(upper)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        from_db(row.try_get(0).map_err(map_err)?)
    }

    async fn batch(&self, batch: Batch) -> Result<()> {
        self.batch_versioned(batch).await.map(drop)
    }

    async fn batch_versioned(&self, batch: Batch) -> Result<Option<u64>> {
        batch.validate()?;
        if batch.is_empty() {
            return self.last_version().await.map(Some);
        }
        let ops = batch.into_ops();
        let mut attempt = 1;
        loop {
            match self.commit(ops.clone()).await {
                Err(err) if is_retryable(&err) && attempt < COMMIT_ATTEMPTS => {
                    // Exponential backoff with full jitter: 0..2^attempt ms (at most ~0.5 s).
                    let wait = fastrand::u64(0..(1u64 << attempt.min(9)));
                    async_io::Timer::after(Duration::from_millis(wait)).await;
                    attempt += 1;
                }
                other => return other.map(Some),
            }
        }
    }

    async fn clear(&self) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let last = self.lock_state(&mut tx).await?.last;
        sqlx::query("DELETE FROM kvstore_entries WHERE tenant = $1 AND ns = $2")
            .bind(&self.tenant)
            .bind(&self.namespace)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        // Versions go on; every feed from before the clear must resync.
        self.write_state(
            &mut tx,
            State {
                last,
                horizon: last,
            },
        )
        .await?;
        tx.commit().await.map_err(map_err)
    }

    fn namespace_name(&self) -> &str {
        &self.namespace
    }

    fn namespace(&self, name: &str) -> Result<Self> {
        crate::validate_namespace(name)?;
        Ok(PostgresStore {
            pool: self.pool.clone(),
            tenant: self.tenant.clone(),
            namespace: name.to_owned(),
            retention: self.retention,
        })
    }
}
