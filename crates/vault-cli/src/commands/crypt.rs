//! `vault encrypt` and `vault decrypt`: a stream through the keyspace's stream cipher.

use std::io::{IsTerminal, Read, Write};

use anyhow::{anyhow, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use kvstore::KVStore;
use vault::{Vault, Zeroizing};

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
    let (mut input, size) = inputs
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
    let result = match &args.output {
        Some(path) => write_file_atomically(path, |file| {
            stream(&mut *input, file, cipher, progress.as_ref())
        }),
        None => stream(&mut *input, &mut raw_stdout()?, cipher, progress.as_ref()),
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

/// The copy loop. Writes are unbuffered (each is a whole 64 KiB chunk), so plaintext is only
/// ever in the zeroizing buffers of the stream types and of the read buffer.
fn stream(
    input: &mut dyn Read,
    output: &mut dyn Write,
    cipher: Cipher,
    progress: Option<&ProgressBar>,
) -> Result<()> {
    let mut buf = Zeroizing::new(vec![0u8; vault::CHUNK_SIZE]);
    let write = |output: &mut dyn Write, bytes: &[u8]| {
        output.write_all(bytes).context("cannot write the output")
    };
    match cipher {
        Cipher::Encrypt(mut encryptor) => {
            loop {
                let n = read_some(input, &mut buf)?;
                if n == 0 {
                    break;
                }
                write(output, &encryptor.update(&buf[..n]))?;
                if let Some(bar) = progress {
                    bar.inc(n as u64);
                }
            }
            write(output, &encryptor.finish())?;
        }
        Cipher::Decrypt(mut decryptor) => {
            loop {
                let n = read_some(input, &mut buf)?;
                if n == 0 {
                    break;
                }
                write(output, &decryptor.update(&buf[..n])?)?;
                if let Some(bar) = progress {
                    bar.inc(n as u64);
                }
            }
            write(output, &decryptor.finish()?)?;
        }
    }
    output.flush().context("cannot write the output")
}

fn read_some(input: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other.context("cannot read the input"),
        }
    }
}
