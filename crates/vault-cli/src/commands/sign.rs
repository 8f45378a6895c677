//! `vault sign` and `vault verify` (which needs no store).

use anyhow::{bail, Result};
use base64::Engine as _;
use kvstore::KVStore;
use serde_json::json;
use vault::Vault;

use crate::app::usage;
use crate::cli::*;
use crate::inputs::{decode_signature, message_bytes, unlock, Inputs};
use crate::output::say;

pub(crate) fn verify(cli: &Cli, args: &VerifyArgs) -> Result<()> {
    let message = message_bytes(cli, &args.message, &args.file)?;
    let signature = decode_signature(&args.signature)?;
    let valid = match (&args.address, &args.public_key) {
        (Some(address), _) => {
            vault::verify_eth_personal(&vault::parse_eth_address(address)?, &message, &signature)?
        }
        (None, Some(public_key)) => {
            let public_key = hex::decode(public_key.trim().trim_start_matches("0x"))
                .map_err(|_| usage("the public key must be hex"))?;
            vault::verify(args.key_type.into(), &public_key, &message, &signature)?
        }
        (None, None) => return Err(usage("give --public-key or --address")),
    };
    say(
        cli,
        || {
            if valid {
                "valid".into()
            } else {
                "invalid".into()
            }
        },
        json!({ "valid": valid }),
    );
    if valid {
        Ok(())
    } else {
        bail!("the signature is not valid for this message and key")
    }
}

/// `vault sign`: ECDSA, Ed25519 or an Ethereum personal signature with a stored key pair.
pub(crate) async fn sign<S: KVStore>(
    cli: &Cli,
    mut inputs: Inputs,
    vault: &Vault<S>,
    args: &SignArgs,
) -> Result<()> {
    let message = inputs.take_data()?;
    let ks = unlock(&inputs, vault, &args.keyspace).await?;
    let signature = if args.eth {
        vault
            .sign_eth_personal(&ks, &args.key, &message)
            .await?
            .to_vec()
    } else {
        vault.sign(&ks, &args.key, &message).await?
    };
    let text = if args.base64 {
        base64::engine::general_purpose::STANDARD.encode(&signature)
    } else {
        hex::encode(&signature)
    };
    say(cli, || text.clone(), json!({ "signature": text }));
    Ok(())
}
