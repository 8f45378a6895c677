//! `vault backup export` and `vault backup import`.

use anyhow::Result;
use kvstore::KVStore;
use serde_json::json;
use vault::Vault;

use crate::cli::*;
use crate::inputs::{unlock, with_spinner, Inputs};
use crate::output::{printable, say, write_output};

/// Exports to a file (atomically, 0600) or standard output; imports from a file.
pub(crate) async fn run<S: KVStore>(
    cli: &Cli,
    mut inputs: Inputs,
    vault: Vault<S>,
    cmd: &BackupCommand,
) -> Result<()> {
    match cmd {
        BackupCommand::Export { keyspace, output } => {
            let ks = unlock(&inputs, &vault, keyspace).await?;
            let backup = vault.export_backup(&ks).await?;
            drop(vault);
            write_output(output, &backup)?;
            if output.is_some() {
                say(
                    cli,
                    || format!("exported keyspace {}", printable(keyspace)),
                    json!({ "keyspace": keyspace, "bytes": backup.len() }),
                );
            }
        }
        BackupCommand::Import { .. } => {
            let backup = inputs.take_data()?;
            let name = with_spinner(
                "checking the backup (Argon2id)…",
                vault.import_backup(&backup, inputs.password()?),
            )
            .await?;
            say(
                cli,
                || format!("imported keyspace {}", printable(&name)),
                json!({ "keyspace": name }),
            );
        }
    }
    Ok(())
}
