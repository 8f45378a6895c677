//! `vault sync …`: an account on a vault-server (register, login, status) and the sync of a
//! keyspace with it (keyspace, clone). The session (server, account, token) is kept beside the
//! store in `STORE.sync.json`, readable by its owner only.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use kvstore::KVStore;
use serde_json::{json, Value};
use vault::{sync_auth_key, sync_keys, BlindNames, KdfParams, Vault};
use vault_sync::RemoteStore;

use crate::cli::*;
use crate::inputs::{with_spinner, Inputs};
use crate::output::{printable, say};

/// The namespace of the account that holds the vault.
const NAMESPACE: &str = vault_sync::VAULT_NAMESPACE;

fn session_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".sync.json");
    PathBuf::from(name)
}

/// Writes the session file, private (0600), replacing any previous one whole.
fn save_session(path: &Path, session: &Value) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(session.to_string().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// The saved session: server, account, token and names key.
struct Session {
    server: String,
    account: String,
    token: String,
    names_key: vault::Zeroizing<Vec<u8>>,
}

fn load_session(path: &Path) -> Result<Session> {
    let text = std::fs::read_to_string(path).map_err(|_| {
        anyhow!("this store is not logged in to a server: run `vault login --server URL --account NAME`")
    })?;
    let session: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a session file", path.display()))?;
    let field = |name: &str| {
        session[name].as_str().map(str::to_owned).ok_or_else(|| {
            anyhow!(
                "{} lacks {name}: log in again (`vault login`)",
                path.display()
            )
        })
    };
    let names_key = vault::Zeroizing::new(
        hex::decode(field("names_key")?)
            .with_context(|| format!("{} holds a malformed names key", path.display()))?,
    );
    Ok(Session {
        server: field("server")?,
        account: field("account")?,
        token: field("token")?,
        names_key,
    })
}

/// The account's vault namespace on the server, from the saved session, keyspace names
/// blinded.
fn remote(store: &Path) -> Result<BlindNames<RemoteStore>> {
    let session = load_session(&session_path(store))?;
    let remote = RemoteStore::with_token(&session.server, &session.token).namespace(NAMESPACE)?;
    Ok(BlindNames::new(remote, &session.names_key)?)
}

/// register, login, status: no store needed.
pub(crate) async fn account(
    cli: &Cli,
    inputs: &Inputs,
    store: &Path,
    cmd: &SyncCommand,
) -> Result<()> {
    match cmd {
        SyncCommand::Register { server, account } => {
            let auth = with_spinner("deriving the account key (Argon2id)…", async {
                sync_auth_key(account, inputs.password()?, KdfParams::DEFAULT)
                    .map_err(anyhow::Error::from)
            })
            .await?;
            RemoteStore::register(server, account, &auth)
                .await
                .with_context(|| format!("registering {} on {server}", printable(account)))?;
            say(
                cli,
                || format!("registered account {} on {server}", printable(account)),
                json!({ "server": server, "account": account, "registered": true }),
            );
        }
        SyncCommand::Login { server, account } => {
            let keys = with_spinner("deriving the account keys (Argon2id)…", async {
                sync_keys(account, inputs.password()?, KdfParams::DEFAULT)
                    .map_err(anyhow::Error::from)
            })
            .await?;
            let remote = RemoteStore::login(server, account, &keys.auth_key)
                .await
                .with_context(|| format!("logging in to {server} as {}", printable(account)))?;
            save_session(
                &session_path(store),
                &json!({
                    "server": server, "account": account, "token": remote.token(),
                    "names_key": hex::encode(&*keys.names_key),
                }),
            )?;
            say(
                cli,
                || format!("logged in to {server} as {}", printable(account)),
                json!({ "server": server, "account": account }),
            );
        }
        SyncCommand::Status => {
            let Session {
                server, account, ..
            } = load_session(&session_path(store))?;
            say(
                cli,
                || format!("{} on {server}", printable(&account)),
                json!({ "server": server, "account": account }),
            );
        }
        SyncCommand::Keyspace { .. } | SyncCommand::Clone { .. } | SyncCommand::Adopt { .. } => {
            return Err(anyhow!("internal error: a store command reached `account`"))
        }
    }
    Ok(())
}

/// keyspace, clone: on the store.
pub(crate) async fn run<S: KVStore>(
    cli: &Cli,
    inputs: &Inputs,
    vault: &Vault<S>,
    cmd: &SyncCommand,
) -> Result<()> {
    let store = match &cli.store {
        Some(path) => path.clone(),
        None => crate::store::default_store(cli.backend)?,
    };
    let remote = remote(&store)?;
    match cmd {
        SyncCommand::Keyspace { name } => {
            let keyspace = with_spinner(
                "unlocking (Argon2id)…",
                vault.unlock(name, inputs.password()?),
            )
            .await?;
            let report = vault.sync_keyspace(&keyspace, &remote).await?;
            say(
                cli,
                || {
                    format!(
                        "synced keyspace {}: {} sent, {} received, {} conflicts (kept as history), revision {}",
                        printable(name),
                        report.pushed,
                        report.pulled,
                        report.conflicts,
                        report.revision
                    )
                },
                json!({
                    "keyspace": name, "pushed": report.pushed, "pulled": report.pulled,
                    "conflicts": report.conflicts, "revision": report.revision,
                }),
            );
        }
        SyncCommand::Clone { name } => {
            let keyspace = with_spinner(
                "fetching and checking (Argon2id)…",
                vault.clone_keyspace(&remote, name, inputs.password()?),
            )
            .await?;
            let revision = vault.keyspace_revision(&keyspace).await?;
            say(
                cli,
                || format!("cloned keyspace {} at revision {revision}", printable(name)),
                json!({ "keyspace": name, "revision": revision }),
            );
        }
        SyncCommand::Adopt { name } => {
            let new_password = inputs
                .new_password
                .as_ref()
                .ok_or_else(|| anyhow!("internal error: no new password read"))?;
            let keyspace = with_spinner("unlocking, fetching and checking (Argon2id)…", async {
                let current = vault.unlock(name, inputs.password()?).await?;
                vault
                    .adopt_rekeyed(&current, &remote, new_password.as_bytes())
                    .await
                    .map_err(anyhow::Error::from)
            })
            .await?;
            let revision = vault.keyspace_revision(&keyspace).await?;
            say(
                cli,
                || {
                    format!(
                        "adopted the re-keyed keyspace {} at revision {revision}; its password is now the new one",
                        printable(name)
                    )
                },
                json!({ "keyspace": name, "revision": revision, "adopted": true }),
            );
        }
        SyncCommand::Register { .. } | SyncCommand::Login { .. } | SyncCommand::Status => {
            return Err(anyhow!("internal error: an account command reached `run`"))
        }
    }
    Ok(())
}
