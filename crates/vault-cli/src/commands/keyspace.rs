//! `vault keyspace …`: create, list, delete, passwd, rekey, revision.

use anyhow::{anyhow, Result};
use kvstore::KVStore;
use serde_json::json;
use vault::Vault;

use crate::cli::*;
use crate::inputs::{with_spinner, Inputs};
use crate::output::{printable, say, say_names};

pub(crate) async fn run<S: KVStore>(
    cli: &Cli,
    inputs: &Inputs,
    vault: &Vault<S>,
    cmd: &KeyspaceCommand,
) -> Result<()> {
    match cmd {
        KeyspaceCommand::Create { name } => {
            with_spinner(
                "creating (Argon2id)…",
                vault.create_keyspace(name, inputs.password()?),
            )
            .await?;
            say(
                cli,
                || format!("created keyspace {}", printable(name)),
                json!({ "keyspace": name }),
            );
        }
        KeyspaceCommand::List => {
            let names = vault.list_keyspaces().await?;
            say_names(cli, &names);
        }
        KeyspaceCommand::Delete { name } => {
            vault.delete_keyspace(name, inputs.password()?).await?;
            say(
                cli,
                || format!("deleted keyspace {}", printable(name)),
                json!({ "deleted": name }),
            );
        }
        KeyspaceCommand::Passwd { name } => {
            let new = inputs
                .new_password
                .as_deref()
                .ok_or_else(|| anyhow!("internal error: no new password was read"))?;
            with_spinner(
                "re-wrapping the keyspace key (Argon2id)…",
                vault.change_password(name, inputs.password()?, new.as_str()),
            )
            .await?;
            say(
                cli,
                || format!("changed the password of keyspace {}", printable(name)),
                json!({ "keyspace": name }),
            );
        }
        KeyspaceCommand::Rekey { name, .. } => {
            let current = inputs.password()?;
            let new = inputs
                .new_password
                .as_deref()
                .map_or(current, String::as_str);
            with_spinner(
                "re-encrypting under a new keyspace key (Argon2id)…",
                vault.rekey(name, current, new),
            )
            .await?;
            say(
                cli,
                || format!("rekeyed keyspace {}", printable(name)),
                json!({ "keyspace": name, "rekeyed": true }),
            );
        }
        KeyspaceCommand::Revision { name, at_least } => {
            let keyspace = with_spinner(
                "unlocking (Argon2id)…",
                vault.unlock(name, inputs.password()?),
            )
            .await?;
            if let Some(anchor) = at_least {
                keyspace.anchor_revision(*anchor);
            }
            let revision = vault.keyspace_revision(&keyspace).await?;
            say(
                cli,
                || revision.to_string(),
                json!({ "keyspace": name, "revision": revision }),
            );
        }
    }
    Ok(())
}
