//! `vault key …`: generate, import, list, show, rename, delete, export.

use std::io::Write;

use anyhow::{Context, Result};
use kvstore::KVStore;
use serde_json::json;
use vault::{Vault, Zeroizing};

use crate::app::usage;
use crate::cli::*;
use crate::inputs::{unlock, with_spinner, Inputs};
use crate::output::{key_json, key_line, printable, raw_stdout, say, write_output};

pub(crate) async fn run<S: KVStore>(
    cli: &Cli,
    inputs: &mut Inputs,
    vault: &Vault<S>,
    cmd: &KeyCommand,
) -> Result<()> {
    match cmd {
        KeyCommand::Generate {
            keyspace,
            name,
            key_type,
        } => {
            let ks = unlock(inputs, vault, keyspace).await?;
            let info = vault.generate_key(&ks, name, (*key_type).into()).await?;
            say(cli, || key_line(&info), key_json(&info));
        }
        KeyCommand::Import {
            keyspace,
            name,
            key_type,
        } => {
            let private_key = inputs.take_data()?;
            let ks = unlock(inputs, vault, keyspace).await?;
            let info = vault
                .import_key(&ks, name, (*key_type).into(), &private_key)
                .await?;
            say(cli, || key_line(&info), key_json(&info));
        }
        KeyCommand::List { keyspace } => {
            let ks = unlock(inputs, vault, keyspace).await?;
            let keys = vault.list_keys(&ks).await?;
            say(
                cli,
                || keys.iter().map(key_line).collect::<Vec<_>>().join("\n"),
                json!(keys.iter().map(key_json).collect::<Vec<_>>()),
            );
        }
        KeyCommand::Show { keyspace, name } => {
            let ks = unlock(inputs, vault, keyspace).await?;
            let info = vault.key_info(&ks, name).await?;
            say(
                cli,
                || {
                    let mut text = format!(
                        "name: {}\ntype: {}\npublic key: {}",
                        printable(&info.name),
                        info.key_type,
                        hex::encode(&info.public_key)
                    );
                    if let Some(address) = info.eth_address() {
                        text += &format!(
                            "\nethereum address: {}",
                            vault::eth_checksum_address(&address)
                        );
                    }
                    if let Some(derivation) = &info.derivation {
                        text += &format!(
                            "\nderived from: seed {} at {}",
                            printable(&derivation.seed),
                            printable(&derivation.path)
                        );
                    }
                    text
                },
                key_json(&info),
            );
        }
        KeyCommand::Rename { keyspace, from, to } => {
            let ks = unlock(inputs, vault, keyspace).await?;
            vault.rename_key(&ks, from, to).await?;
            say(
                cli,
                || format!("renamed {} to {}", printable(from), printable(to)),
                json!({ "renamed": from, "to": to }),
            );
        }
        KeyCommand::Delete { keyspace, name } => {
            let ks = unlock(inputs, vault, keyspace).await?;
            vault.delete_key(&ks, name).await?;
            say(
                cli,
                || format!("deleted key pair {}", printable(name)),
                json!({ "deleted": name }),
            );
        }
        KeyCommand::Derive {
            keyspace,
            name,
            seed,
            preset,
            index,
            path,
            key_type,
        } => {
            let (key_type, path) = match (preset, path) {
                (Some(preset), _) => {
                    let preset = vault::hd::preset(preset)?;
                    (preset.key_type, preset.path(*index))
                }
                (None, Some(path)) => ((*key_type).into(), path.clone()),
                (None, None) => return Err(usage("give --preset or --path")),
            };
            let ks = unlock(inputs, vault, keyspace).await?;
            let info = vault.derive_key(&ks, seed, name, key_type, &path).await?;
            say(cli, || key_line(&info), key_json(&info));
        }
        KeyCommand::ImportKeystore { keyspace, name, .. } => {
            let file = inputs.take_data()?;
            let file = std::str::from_utf8(&file).context("the keystore is not UTF-8")?;
            let password = inputs.extra.take().unwrap_or_default();
            let ks = unlock(inputs, vault, keyspace).await?;
            let info = with_spinner(
                "decrypting the keystore (scrypt)…",
                vault.import_keystore(&ks, name, file, password.as_bytes()),
            )
            .await?;
            say(cli, || key_line(&info), key_json(&info));
        }
        KeyCommand::ExportKeystore {
            keyspace,
            name,
            output,
            kdf,
            ..
        } => {
            let password = inputs.extra.take().unwrap_or_default();
            let ks = unlock(inputs, vault, keyspace).await?;
            let file = with_spinner(
                "encrypting the keystore…",
                vault.export_keystore(&ks, name, password.as_bytes(), (*kdf).into()),
            )
            .await?;
            match output {
                Some(_) => {
                    write_output(output, file.as_bytes())?;
                    say(
                        cli,
                        || format!("wrote the keystore of {}", printable(name)),
                        json!({ "exported": name }),
                    );
                }
                None => println!("{file}"),
            }
        }
        KeyCommand::Export { keyspace, name, .. } => {
            let ks = unlock(inputs, vault, keyspace).await?;
            let private_key = vault.export_private_key(&ks, name).await?;
            print_private_key(cli, name, &private_key)?;
        }
    }
    Ok(())
}

/// Prints a private key as hex, building the one line in a buffer of its final size (wiped on
/// drop) and writing it unbuffered: no other copy of the key is made.
fn print_private_key(cli: &Cli, name: &str, private_key: &[u8]) -> Result<()> {
    let hex_len = private_key.len() * 2;
    let prefix = if cli.json {
        format!(
            "{{\"name\":{},\"private_key\":\"",
            serde_json::to_string(name)?
        )
    } else {
        String::new()
    };
    let suffix = if cli.json { "\"}\n" } else { "\n" };
    let mut line = Zeroizing::new(vec![0u8; prefix.len() + hex_len + suffix.len()]);
    line[..prefix.len()].copy_from_slice(prefix.as_bytes());
    hex::encode_to_slice(private_key, &mut line[prefix.len()..prefix.len() + hex_len])
        .context("cannot format the key")?;
    line[prefix.len() + hex_len..].copy_from_slice(suffix.as_bytes());
    raw_stdout()?
        .write_all(&line)
        .context("cannot write standard output")
}
