//! `vault seed …`: BIP39 seeds (generate, import, list, delete, export).

use anyhow::{Context, Result};
use kvstore::KVStore;
use serde_json::json;
use vault::hd::MnemonicLength;
use vault::{Vault, Zeroizing};

use crate::cli::*;
use crate::inputs::{unlock, Inputs};
use crate::output::{printable, say, say_names};

pub(crate) async fn run<S: KVStore>(
    cli: &Cli,
    inputs: &mut Inputs,
    vault: &Vault<S>,
    cmd: &SeedCommand,
) -> Result<()> {
    let passphrase = inputs.extra.take().unwrap_or_default();
    match cmd {
        SeedCommand::Generate {
            keyspace,
            name,
            words,
            ..
        } => {
            let length = if *words == 12 {
                MnemonicLength::Words12
            } else {
                MnemonicLength::Words24
            };
            let ks = unlock(inputs, vault, keyspace).await?;
            let mnemonic = vault.generate_seed(&ks, name, length, &passphrase).await?;
            print_mnemonic(cli, name, &mnemonic)?;
        }
        SeedCommand::Import { keyspace, name, .. } => {
            let words = inputs.take_data()?;
            let words = std::str::from_utf8(&words).context("the mnemonic is not UTF-8")?;
            let ks = unlock(inputs, vault, keyspace).await?;
            vault.import_mnemonic(&ks, name, words, &passphrase).await?;
            say(
                cli,
                || format!("imported seed {}", printable(name)),
                json!({ "imported": name }),
            );
        }
        SeedCommand::List { keyspace } => {
            let ks = unlock(inputs, vault, keyspace).await?;
            say_names(cli, &vault.list_seeds(&ks).await?);
        }
        SeedCommand::Delete { keyspace, name } => {
            let ks = unlock(inputs, vault, keyspace).await?;
            vault.delete_seed(&ks, name).await?;
            say(
                cli,
                || format!("deleted seed {}", printable(name)),
                json!({ "deleted": name }),
            );
        }
        SeedCommand::Export { keyspace, name, .. } => {
            let ks = unlock(inputs, vault, keyspace).await?;
            let mnemonic = vault.export_mnemonic(&ks, name).await?;
            print_mnemonic(cli, name, &mnemonic)?;
        }
    }
    Ok(())
}

/// Prints the words on one line (or in JSON), from a buffer wiped on drop, unbuffered.
fn print_mnemonic(cli: &Cli, name: &str, mnemonic: &str) -> Result<()> {
    let line = Zeroizing::new(if cli.json {
        format!(
            "{{\"name\":{},\"mnemonic\":{}}}\n",
            serde_json::to_string(name)?,
            serde_json::to_string(mnemonic)?
        )
    } else {
        format!("{mnemonic}\n")
    });
    use std::io::Write;
    crate::output::raw_stdout()?
        .write_all(line.as_bytes())
        .context("cannot write standard output")
}
