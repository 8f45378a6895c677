//! `vault encrypt` and `vault decrypt`: a stream through the keyspace's stream cipher.

use std::io::{IsTerminal, Read, Write};

use anyhow::{anyhow, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use kvstore::KVStore;
use vault::Vault;

use crate::cli::*;
use crate::inputs::{unlock, Inputs};
use crate::output::{raw_stdout, write_file_atomically};

/// Streams a file or standard input through the keyspace's stream cipher, 64 KiB at a time.
/// The store is closed once the keyspace is unlocked: streaming a large file must not lock
/// other `vault` processes out.
pub(crate) async fn run<S: KVStore>(
    mut inputs: Inputs,
    vault: Vault<S>,
    args: &CryptArgs,
    encrypt: bool,
) -> Result<()> {
    let (input, size) = inputs
        .stream
        .take()
        .ok_or_else(|| anyhow!("internal error: no input was opened"))?;
    let ks = unlock(&inputs, &vault, &args.keyspace).await?;
    let cipher = if encrypt {
        Cipher::Encrypt(vault.encrypt_stream(&ks).await?)
    } else {
        Cipher::Decrypt(vault.decrypt_stream(&ks).await?)
    };
    drop((ks, vault, inputs));
    let progress = match size {
        Some(size) if std::io::stderr().is_terminal() && size > 8 << 20 => {
            let bar = ProgressBar::new(size);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec}")
            {
                bar.set_style(style);
            }
            Some(bar)
        }
        _ => None,
    };
    let mut input: Box<dyn Read> = match &progress {
        Some(bar) => Box::new(bar.wrap_read(input)),
        None => input,
    };
    let result = match &args.output {
        Some(path) => write_file_atomically(path, |file| pipe(&mut input, file, cipher)),
        None => pipe(&mut input, &mut raw_stdout()?, cipher),
    };
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    result
}

enum Cipher {
    Encrypt(vault::StreamEncryptor),
    Decrypt(vault::StreamDecryptor),
}

/// One copy loop through the library's stream writer or reader ([`vault::io::copy`], whose
/// buffer is wiped; [`vault::io::copy_buf`], which writes from the reader's own wiped buffer).
/// Writes are unbuffered (each is many whole chunks), so plaintext is only ever in wiped
/// buffers.
fn pipe(input: &mut dyn Read, output: &mut dyn Write, cipher: Cipher) -> Result<()> {
    match cipher {
        Cipher::Encrypt(encryptor) => {
            let mut writer = encryptor.writer(&mut *output);
            vault::io::copy(input, &mut writer).map_err(lift)?;
            writer.finish().map_err(lift)?;
        }
        Cipher::Decrypt(decryptor) => {
            let mut reader = decryptor.reader(input);
            vault::io::copy_buf(&mut reader, output).map_err(lift)?;
        }
    }
    output.flush().context("cannot write the output")
}

/// An I/O error of the stream: the vault error it carries (so its exit code and message are
/// the library's), or the I/O error itself.
fn lift(error: std::io::Error) -> anyhow::Error {
    if vault::io::vault_error(&error).is_some() {
        if let Some(Ok(vault_error)) = error.into_inner().map(|e| e.downcast::<vault::Error>()) {
            return anyhow::Error::new(*vault_error);
        }
        return anyhow!("the stream failed");
    }
    anyhow::Error::new(error).context("cannot read the input or write the output")
}
