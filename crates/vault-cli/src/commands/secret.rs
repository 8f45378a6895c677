//! `vault secret …`: set, get, list, delete.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use base64::Engine as _;
use kvstore::KVStore;
use serde_json::json;
use vault::{Vault, Zeroizing};

use crate::cli::*;
use crate::inputs::{unlock, Inputs};
use crate::output::{printable, raw_stdout, say, say_names};

pub(crate) async fn run<S: KVStore>(
    cli: &Cli,
    inputs: &mut Inputs,
    vault: &Vault<S>,
    cmd: &SecretCommand,
) -> Result<()> {
    match cmd {
        SecretCommand::Set { keyspace, name } => {
            let value = inputs.take_data()?;
            let ks = unlock(inputs, vault, keyspace).await?;
            vault.set_secret(&ks, name, &value).await?;
            say(
                cli,
                || format!("stored secret {}", printable(name)),
                json!({ "stored": name }),
            );
        }
        SecretCommand::Get { keyspace, name } => {
            let ks = unlock(inputs, vault, keyspace).await?;
            let value = vault.get_secret(&ks, name).await?;
            let mut out = raw_stdout()?;
            if cli.json {
                let line = match std::str::from_utf8(&value) {
                    Ok(text) => json!({ "name": name, "value": text }),
                    Err(_) => json!({
                        "name": name,
                        "value_base64": base64::engine::general_purpose::STANDARD.encode(&*value),
                    }),
                };
                let mut text = Zeroizing::new(line.to_string());
                text.push('\n');
                out.write_all(text.as_bytes())?;
            } else {
                out.write_all(&value)?;
                if std::io::stdout().is_terminal() {
                    out.write_all(b"\n")?;
                }
            }
        }
        SecretCommand::List { keyspace } => {
            let ks = unlock(inputs, vault, keyspace).await?;
            let names = vault.list_secrets(&ks).await?;
            say_names(cli, &names);
        }
        SecretCommand::Delete { keyspace, name } => {
            let ks = unlock(inputs, vault, keyspace).await?;
            vault.delete_secret(&ks, name).await?;
            say(
                cli,
                || format!("deleted secret {}", printable(name)),
                json!({ "deleted": name }),
            );
        }
    }
    Ok(())
}
