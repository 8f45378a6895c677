//! What a command reads from a person or a pipe: passwords (never from argv), secret values,
//! private keys, messages, backup files and the input of `encrypt`/`decrypt`, all read (or
//! opened) before the store is.

use std::fs::File;
use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use base64::Engine as _;
use indicatif::ProgressBar;
use kvstore::KVStore;
use vault::{Vault, Zeroizing};

use crate::app::usage;
use crate::cli::*;

/// What a command needs from a person or a pipe, read before the store is opened.
#[derive(Default)]
pub(crate) struct Inputs {
    password: Option<Zeroizing<String>>,
    pub(crate) new_password: Option<Zeroizing<String>>,
    /// A secret's value, a private key, a message to sign, a backup file, a mnemonic, a
    /// keystore file, a transaction or typed data.
    data: Option<Zeroizing<Vec<u8>>>,
    /// A second secret: a BIP39 passphrase or a keystore's password.
    pub(crate) extra: Option<Zeroizing<String>>,
    /// The input of `encrypt`/`decrypt`, opened (not read): it streams after the store closed.
    pub(crate) stream: Option<(Box<dyn Read>, Option<u64>)>,
}

impl Inputs {
    pub(crate) fn read(cli: &Cli) -> Result<Inputs> {
        let mut inputs = Inputs::default();
        let with_password = |inputs: &mut Inputs| -> Result<()> {
            inputs.password = Some(password(cli, false)?);
            Ok(())
        };
        match &cli.command {
            Command::Verify(_) | Command::Keyspace(KeyspaceCommand::List) => {}
            Command::Keyspace(KeyspaceCommand::Create { .. }) => {
                inputs.password = Some(password(cli, true)?);
            }
            Command::Keyspace(
                KeyspaceCommand::Delete { .. } | KeyspaceCommand::Revision { .. },
            ) => with_password(&mut inputs)?,
            Command::Keyspace(KeyspaceCommand::Passwd { .. }) => {
                with_password(&mut inputs)?;
                inputs.new_password = Some(new_password(cli)?);
            }
            Command::Keyspace(KeyspaceCommand::Rekey { keep_password, .. }) => {
                with_password(&mut inputs)?;
                if !keep_password {
                    inputs.new_password = Some(new_password(cli)?);
                }
            }
            Command::Key(KeyCommand::Import { .. }) => {
                let line = first_line(
                    data_stdin(cli, "the private key")?.lock(),
                    "the private key on standard input",
                )?;
                let hex_digits = line.trim().trim_start_matches("0x");
                let mut key = Zeroizing::new(vec![0u8; hex_digits.len() / 2]);
                hex::decode_to_slice(hex_digits, &mut key).map_err(|_| {
                    usage("the private key must be 64 hex digits on standard input")
                })?;
                inputs.data = Some(key);
                with_password(&mut inputs)?;
            }
            Command::Key(KeyCommand::Export {
                reveal_private_key: false,
                ..
            }) => {
                return Err(usage(
                    "exporting prints the private key: add --reveal-private-key to confirm",
                ))
            }
            Command::Key(KeyCommand::ImportKeystore {
                file,
                keystore_password_file,
                ..
            }) => {
                inputs.data = Some(Zeroizing::new(std::fs::read(file).with_context(|| {
                    format!("cannot read {}", file.display())
                })?));
                with_password(&mut inputs)?;
                inputs.extra = Some(keystore_password(keystore_password_file, false)?);
            }
            Command::Key(KeyCommand::ExportKeystore {
                keystore_password_file,
                ..
            }) => {
                with_password(&mut inputs)?;
                inputs.extra = Some(keystore_password(keystore_password_file, true)?);
            }
            Command::Key(_) => with_password(&mut inputs)?,
            Command::Seed(SeedCommand::Generate {
                passphrase_file,
                words,
                ..
            }) => {
                if !matches!(words, 12 | 24) {
                    return Err(usage("--words is 12 or 24"));
                }
                inputs.extra = Some(optional_line(passphrase_file, "the passphrase file")?);
                with_password(&mut inputs)?;
            }
            Command::Seed(SeedCommand::Import {
                passphrase_file, ..
            }) => {
                inputs.extra = Some(optional_line(passphrase_file, "the passphrase file")?);
                let words = if std::io::stdin().is_terminal() && !cli.password.password_stdin {
                    Zeroizing::new(
                        rpassword::prompt_password("Mnemonic words: ")
                            .context("cannot read the words")?,
                    )
                } else {
                    first_line(
                        data_stdin(cli, "the mnemonic")?.lock(),
                        "the mnemonic on standard input",
                    )?
                };
                inputs.data = Some(Zeroizing::new(words.as_bytes().to_vec()));
                with_password(&mut inputs)?;
            }
            Command::Seed(SeedCommand::Export {
                reveal_mnemonic: false,
                ..
            }) => {
                return Err(usage(
                    "exporting prints the mnemonic, which gives every key derived from it: add --reveal-mnemonic to confirm",
                ))
            }
            Command::Seed(_) => with_password(&mut inputs)?,
            Command::Eth(EthCommand::DecodeTx { .. }) => {}
            Command::Eth(
                EthCommand::SignTx { file, .. } | EthCommand::SignTypedData { file, .. },
            ) => {
                inputs.data = Some(Zeroizing::new(message_bytes(cli, &None, file)?));
                with_password(&mut inputs)?;
            }
            Command::Eth(_) => with_password(&mut inputs)?,
            Command::Sign(args) => {
                inputs.data = Some(Zeroizing::new(message_bytes(
                    cli,
                    &args.message,
                    &args.file,
                )?));
                with_password(&mut inputs)?;
            }
            Command::Secret(SecretCommand::Set { .. }) => {
                let prompt_for_value =
                    std::io::stdin().is_terminal() && !cli.password.password_stdin;
                // Without a terminal the password must come from a file or the environment, so
                // the value can be read first; on a terminal, password first, then the value.
                if !prompt_for_value {
                    inputs.data = Some(secret_from_stdin(cli)?);
                }
                with_password(&mut inputs)?;
                if prompt_for_value {
                    inputs.data = Some(Zeroizing::new(
                        rpassword::prompt_password("Secret value: ")
                            .context("cannot read the value")?
                            .into_bytes(),
                    ));
                }
            }
            Command::Secret(_) => with_password(&mut inputs)?,
            Command::Encrypt(args) | Command::Decrypt(args) => {
                inputs.stream = Some(open_crypt_input(cli, args)?);
                with_password(&mut inputs)?;
            }
            Command::Backup(BackupCommand::Export { .. }) => with_password(&mut inputs)?,
            Command::Sync(SyncCommand::Status) => {}
            Command::Login { .. } => with_password(&mut inputs)?,
            Command::Sync(SyncCommand::Adopt { .. }) => {
                with_password(&mut inputs)?;
                inputs.new_password = Some(new_password(cli)?);
            }
            Command::Sync(_) => with_password(&mut inputs)?,
            Command::Backup(BackupCommand::Import { file }) => {
                inputs.data =
                    Some(Zeroizing::new(std::fs::read(file).with_context(|| {
                        format!("cannot read {}", file.display())
                    })?));
                with_password(&mut inputs)?;
            }
        }
        Ok(inputs)
    }

    pub(crate) fn password(&self) -> Result<&str> {
        self.password
            .as_deref()
            .map(String::as_str)
            .ok_or_else(|| anyhow!("internal error: no password was read"))
    }

    pub(crate) fn take_data(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        self.data
            .take()
            .ok_or_else(|| anyhow!("internal error: no input was read"))
    }
}

fn secret_from_stdin(cli: &Cli) -> Result<Zeroizing<Vec<u8>>> {
    let mut value = Zeroizing::new(Vec::new());
    data_stdin(cli, "the secret value")?
        .lock()
        .read_to_end(&mut value)
        .context("cannot read standard input")?;
    // `echo value | vault secret set` should not store echo's newline.
    if value.ends_with(b"\n") {
        value.pop();
        if value.ends_with(b"\r") {
            value.pop();
        }
    }
    Ok(value)
}

fn open_crypt_input(cli: &Cli, args: &CryptArgs) -> Result<(Box<dyn Read>, Option<u64>)> {
    match &args.input {
        Some(path) => {
            let file =
                File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            if let Some(output) = &args.output {
                if same_file(&file, output) {
                    return Err(usage(format!(
                        "the output {} is the input: it would be destroyed; choose another -o",
                        output.display()
                    )));
                }
            }
            let size = file.metadata().ok().map(|m| m.len());
            Ok((Box::new(file), size))
        }
        None => Ok((Box::new(data_stdin(cli, "the data")?), None)),
    }
}

/// Whether `path` names the file `file` is open on (same device and inode: hard links and
/// other spellings of the path included). Devices and pipes are never "the same file": reading
/// `/dev/zero` or a FIFO and writing it destroys nothing.
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.is_file() && a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn first_line(reader: impl BufRead, what: &str) -> Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    let mut reader = reader;
    reader
        .read_line(&mut line)
        .with_context(|| format!("cannot read {what}"))?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_owned());
    if trimmed.is_empty() {
        return Err(usage(format!("{what} is empty")));
    }
    Ok(trimmed)
}

/// The first line of `file`, or empty without one (a BIP39 passphrase is optional).
fn optional_line(file: &Option<PathBuf>, what: &str) -> Result<Zeroizing<String>> {
    match file {
        Some(file) => {
            let f = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
            first_line(std::io::BufReader::new(f), what)
        }
        None => Ok(Zeroizing::new(String::new())),
    }
}

/// A keystore file's password: from `file`, VAULT_KEYSTORE_PASSWORD or a prompt (twice for
/// a new one).
fn keystore_password(file: &Option<PathBuf>, confirm: bool) -> Result<Zeroizing<String>> {
    if let Some(file) = file {
        let f = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        return first_line(std::io::BufReader::new(f), "the keystore password file");
    }
    if let Ok(value) = std::env::var("VAULT_KEYSTORE_PASSWORD") {
        return Ok(Zeroizing::new(value));
    }
    prompt("Keystore password: ", confirm)
}

/// The keyspace password, from --password-file, --password-stdin, VAULT_PASSWORD or a prompt.
fn password(cli: &Cli, confirm: bool) -> Result<Zeroizing<String>> {
    let args = &cli.password;
    if let Some(file) = &args.password_file {
        let f = File::open(file)
            .with_context(|| format!("cannot open password file {}", file.display()))?;
        return first_line(std::io::BufReader::new(f), "the password file");
    }
    if args.password_stdin {
        return first_line(std::io::stdin().lock(), "the password on standard input");
    }
    if let Ok(value) = std::env::var("VAULT_PASSWORD") {
        return Ok(Zeroizing::new(value));
    }
    prompt("Password: ", confirm)
}

fn prompt(label: &str, confirm: bool) -> Result<Zeroizing<String>> {
    if !std::io::stdin().is_terminal() {
        return Err(usage(
            "no password given: use --password-file, --password-stdin or VAULT_PASSWORD when not on a terminal",
        ));
    }
    let first =
        Zeroizing::new(rpassword::prompt_password(label).context("cannot read the password")?);
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("Repeat: ").context("cannot read the password")?,
        );
        if *first != *again {
            return Err(usage("the two passwords differ"));
        }
    }
    if first.is_empty() {
        return Err(usage("the password must not be empty"));
    }
    Ok(first)
}

fn new_password(cli: &Cli) -> Result<Zeroizing<String>> {
    if let Some(file) = &cli.password.new_password_file {
        let f = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        return first_line(std::io::BufReader::new(f), "the new password file");
    }
    if let Ok(value) = std::env::var("VAULT_NEW_PASSWORD") {
        return Ok(Zeroizing::new(value));
    }
    prompt("New password: ", true)
}

/// Standard input for data, refused when it already carries the password.
fn data_stdin(cli: &Cli, what: &str) -> Result<std::io::Stdin> {
    if cli.password.password_stdin {
        return Err(usage(format!(
            "standard input carries the password (--password-stdin), so it cannot also carry {what}; use --password-file"
        )));
    }
    Ok(std::io::stdin())
}

pub(crate) fn message_bytes(
    cli: &Cli,
    message: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<Vec<u8>> {
    if let Some(message) = message {
        return Ok(message.clone().into_bytes());
    }
    if let Some(file) = file {
        return std::fs::read(file).with_context(|| format!("cannot read {}", file.display()));
    }
    let mut buf = Vec::new();
    data_stdin(cli, "the message")?
        .read_to_end(&mut buf)
        .context("cannot read standard input")?;
    Ok(buf)
}

pub(crate) fn decode_signature(text: &str) -> Result<Vec<u8>> {
    let text = text.trim();
    let stripped = text.strip_prefix("0x").unwrap_or(text);
    if let Ok(bytes) = hex::decode(stripped) {
        return Ok(bytes);
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| usage("the signature is neither hex nor base64"))
}

/// Awaits `work` with a spinner on standard error (only on a terminal): for the password KDF.
pub(crate) async fn with_spinner<T>(
    message: &'static str,
    work: impl std::future::Future<Output = T>,
) -> T {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner().with_message(message);
        bar.enable_steady_tick(Duration::from_millis(80));
        bar
    });
    let result = work.await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result
}

pub(crate) async fn unlock<S: KVStore>(
    inputs: &Inputs,
    vault: &Vault<S>,
    keyspace: &str,
) -> Result<vault::UnlockedKeyspace> {
    Ok(with_spinner(
        "unlocking (Argon2id)…",
        vault.unlock(keyspace, inputs.password()?),
    )
    .await?)
}
