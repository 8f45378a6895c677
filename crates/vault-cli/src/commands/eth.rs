//! `vault eth …`: Ethereum transactions, typed data, hashes and authorizations.

use anyhow::{Context, Result};
use kvstore::KVStore;
use serde_json::json;
use vault::eth::{decode_signed_transaction, Transaction, TypedDataEncoding};
use vault::Vault;

use crate::app::usage;
use crate::cli::*;
use crate::inputs::{unlock, Inputs};
use crate::output::say;

fn hex_arg(text: &str, what: &str) -> Result<Vec<u8>> {
    hex::decode(text.trim().trim_start_matches("0x"))
        .map_err(|_| usage(format!("{what} must be hex")))
}

/// `vault eth decode-tx`, which needs no store.
pub(crate) fn decode(cli: &Cli, raw: &str) -> Result<()> {
    let info = decode_signed_transaction(&hex_arg(raw, "the transaction")?)?;
    let from = vault::eth_checksum_address(&info.from);
    let hash = format!("0x{}", hex::encode(info.hash));
    say(
        cli,
        || {
            format!(
                "type: {}\nhash: {hash}\nfrom: {from}\nchain id: {}",
                info.tx_type,
                info.chain_id
                    .map_or("none (pre-EIP-155)".to_owned(), |c| c.to_string())
            )
        },
        json!({ "type": info.tx_type, "hash": hash, "from": from, "chain_id": info.chain_id }),
    );
    Ok(())
}

pub(crate) async fn run<S: KVStore>(
    cli: &Cli,
    inputs: &mut Inputs,
    vault: &Vault<S>,
    cmd: &EthCommand,
) -> Result<()> {
    match cmd {
        EthCommand::SignTx { keyspace, key, .. } => {
            let json = inputs.take_data()?;
            let tx = Transaction::from_json(
                std::str::from_utf8(&json).context("the transaction is not UTF-8")?,
            )?;
            let ks = unlock(inputs, vault, keyspace).await?;
            let raw = vault.sign_transaction(&ks, key, &tx).await?;
            let info = decode_signed_transaction(&raw)?;
            let raw = format!("0x{}", hex::encode(&raw));
            let hash = format!("0x{}", hex::encode(info.hash));
            say(
                cli,
                || raw.clone(),
                json!({ "raw": raw, "hash": hash, "type": info.tx_type,
                        "from": vault::eth_checksum_address(&info.from) }),
            );
        }
        EthCommand::SignTypedData {
            keyspace,
            key,
            spec,
            ..
        } => {
            let json = inputs.take_data()?;
            let json = std::str::from_utf8(&json).context("the typed data is not UTF-8")?;
            let encoding = if *spec {
                TypedDataEncoding::Spec
            } else {
                TypedDataEncoding::MetaMaskV4
            };
            // Hashed before the unlock, so bad typed data fails without the KDF.
            let hash = vault::eth::typed_data_hash(json, encoding)?;
            let ks = unlock(inputs, vault, keyspace).await?;
            let signature = vault.sign_hash(&ks, key, &hash).await?;
            let text = format!("0x{}", hex::encode(signature.to_bytes()));
            say(cli, || text.clone(), json!({ "signature": text }));
        }
        EthCommand::SignHash {
            keyspace,
            key,
            hash,
        } => {
            let hash: [u8; 32] = hex_arg(hash, "the hash")?
                .try_into()
                .map_err(|_| usage("the hash must be 32 bytes (64 hex digits)"))?;
            let ks = unlock(inputs, vault, keyspace).await?;
            let signature = vault.sign_hash(&ks, key, &hash).await?;
            let text = format!("0x{}", hex::encode(signature.to_bytes()));
            say(cli, || text.clone(), json!({ "signature": text }));
        }
        EthCommand::Authorize {
            keyspace,
            key,
            chain_id,
            address,
            nonce,
        } => {
            let address = vault::parse_eth_address(address)?;
            let ks = unlock(inputs, vault, keyspace).await?;
            let authorization = vault
                .sign_authorization(&ks, key, *chain_id, &address, *nonce)
                .await?;
            let value: serde_json::Value = serde_json::from_str(&authorization)?;
            say(cli, || authorization.clone(), value);
        }
        EthCommand::DecodeTx { raw } => decode(cli, raw)?,
    }
    Ok(())
}
