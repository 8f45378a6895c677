//! Running a parsed command: store opening, passwords, I/O, output and exit codes.

use std::fs::File;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use kvstore::{Blocking, KVStore, RedbStore, SledStore};
use serde_json::json;
use vault::{KeyInfo, Vault, Zeroizing};

use crate::cli::*;

/// A usage problem found after parsing (exit code 2).
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Usage {}

fn usage(message: impl Into<String>) -> anyhow::Error {
    Usage(message.into()).into()
}

pub fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("error: internal error ({message}); please report it");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let json = cli.json;
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let (code, hint) = classify(&err);
            if json {
                let line = json!({ "error": format!("{err:#}"), "exit_code": code });
                eprintln!("{line}");
            } else {
                match hint {
                    Some(hint) => eprintln!("error: {err:#} ({hint})"),
                    None => eprintln!("error: {err:#}"),
                }
            }
            ExitCode::from(code)
        }
    }
}

/// Exit code and a hint saying what to do.
fn classify(err: &anyhow::Error) -> (u8, Option<&'static str>) {
    use kvstore::Error as S;
    if err.downcast_ref::<Usage>().is_some() {
        return (2, Some("see `vault --help`"));
    }
    let storage = |e: &S| match e {
        S::Busy(_) => (
            6,
            Some("another vault process is using this store; retry when it has finished"),
        ),
        S::InvalidInput(_) => (2, None),
        _ => (1, None),
    };
    if let Some(e) = err.downcast_ref::<vault::Error>() {
        return match e {
            vault::Error::WrongPassword { .. } => (3, Some("passwords are case-sensitive; try again")),
            vault::Error::NotFound { .. } => (4, Some("`vault keyspace list`, `vault key list` and `vault secret list` show what exists")),
            vault::Error::AlreadyExists { .. } => (5, Some("choose another name or delete the existing one first")),
            vault::Error::InvalidInput(_) => (2, None),
            vault::Error::DecryptionFailed(_) | vault::Error::Corrupted(_) => (7, None),
            vault::Error::UnsupportedFormat(_) => (7, Some("written by a newer version of vault")),
            vault::Error::Storage(s) => storage(s),
            _ => (1, None),
        };
    }
    if let Some(e) = err.downcast_ref::<S>() {
        return storage(e);
    }
    (1, None)
}

fn default_store(backend: Backend) -> Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "vault")
        .ok_or_else(|| anyhow!("no home directory found; pass --store PATH"))?;
    Ok(dirs.data_dir().join(match backend {
        Backend::Sled => "store.sled",
        Backend::Redb => "store.redb",
    }))
}

/// Opens the store, waiting up to 3 s for another `vault` process to release it.
fn open_store<S>(path: &Path, open: impl Fn(&Path) -> kvstore::Result<S>) -> Result<S> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut waited = Duration::ZERO;
    loop {
        match open(path) {
            Err(kvstore::Error::Busy(_)) if waited < Duration::from_secs(3) => {
                std::thread::sleep(Duration::from_millis(100));
                waited += Duration::from_millis(100);
            }
            Err(kvstore::Error::Busy(_)) => {
                return Err(anyhow::Error::new(kvstore::Error::Busy(format!(
                    "the store {} is in use by another process",
                    path.display()
                ))))
            }
            other => {
                return other.with_context(|| format!("cannot open the store {}", path.display()))
            }
        }
    }
}

async fn dispatch(cli: Cli) -> Result<()> {
    if let Command::Verify(args) = &cli.command {
        return verify(&cli, args);
    }
    let path = match &cli.store {
        Some(path) => path.clone(),
        None => default_store(cli.backend)?,
    };
    // A CLI is one task: writes block in place rather than hop to a thread pool.
    match cli.backend {
        Backend::Sled => {
            let store = open_store(&path, |p| SledStore::open_with(p, Blocking::Inline))?;
            run(&cli, Vault::new(store)).await
        }
        Backend::Redb => {
            let store = open_store(&path, |p| RedbStore::open_with(p, Blocking::Inline))?;
            run(&cli, Vault::new(store)).await
        }
    }
}

// ------------------------------------------------------------------ input

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

fn message_bytes(cli: &Cli, message: &Option<String>, file: &Option<PathBuf>) -> Result<Vec<u8>> {
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

fn decode_signature(text: &str) -> Result<Vec<u8>> {
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
async fn with_spinner<T>(message: &'static str, work: impl std::future::Future<Output = T>) -> T {
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

async fn unlock<S: KVStore>(
    cli: &Cli,
    vault: &Vault<S>,
    keyspace: &str,
) -> Result<vault::UnlockedKeyspace> {
    let password = password(cli, false)?;
    Ok(with_spinner(
        "unlocking (Argon2id)…",
        vault.unlock(keyspace, password.as_bytes()),
    )
    .await?)
}

// ------------------------------------------------------------------ output

fn key_json(info: &KeyInfo) -> serde_json::Value {
    json!({
        "name": info.name,
        "type": info.key_type.as_str(),
        "public_key": hex::encode(&info.public_key),
        "eth_address": info.eth_address().map(|a| vault::eth_checksum_address(&a)),
    })
}

fn key_line(info: &KeyInfo) -> String {
    let mut line = format!(
        "{}\t{}\t{}",
        info.name,
        info.key_type,
        hex::encode(&info.public_key)
    );
    if let Some(address) = info.eth_address() {
        line += &format!("\t{}", vault::eth_checksum_address(&address));
    }
    line
}

fn say(cli: &Cli, human: impl FnOnce() -> String, machine: serde_json::Value) {
    if cli.json {
        println!("{machine}");
    } else {
        println!("{}", human());
    }
}

fn write_output(path: &Option<PathBuf>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(path) => {
            std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|_| out.flush())
                .context("cannot write standard output")
        }
    }
}

// ------------------------------------------------------------------ commands

fn verify(cli: &Cli, args: &VerifyArgs) -> Result<()> {
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

async fn run<S: KVStore>(cli: &Cli, vault: Vault<S>) -> Result<()> {
    match &cli.command {
        Command::Keyspace(cmd) => keyspace(cli, &vault, cmd).await,
        Command::Key(cmd) => key(cli, &vault, cmd).await,
        Command::Sign(args) => {
            let message = message_bytes(cli, &args.message, &args.file)?;
            let ks = unlock(cli, &vault, &args.keyspace).await?;
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
        Command::Verify(args) => verify(cli, args),
        Command::Secret(cmd) => secret(cli, &vault, cmd).await,
        Command::Encrypt(args) => crypt(cli, &vault, args, true).await,
        Command::Decrypt(args) => crypt(cli, &vault, args, false).await,
        Command::Backup(BackupCommand::Export { keyspace, output }) => {
            let ks = unlock(cli, &vault, keyspace).await?;
            let backup = vault.export_backup(&ks).await?;
            write_output(output, &backup)?;
            if output.is_some() {
                say(
                    cli,
                    || format!("exported keyspace {keyspace}"),
                    json!({ "keyspace": keyspace, "bytes": backup.len() }),
                );
            }
            Ok(())
        }
        Command::Backup(BackupCommand::Import { file }) => {
            let backup =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let password = password(cli, false)?;
            let name = with_spinner(
                "checking the backup (Argon2id)…",
                vault.import_backup(&backup, password.as_bytes()),
            )
            .await?;
            say(
                cli,
                || format!("imported keyspace {name}"),
                json!({ "keyspace": name }),
            );
            Ok(())
        }
    }
}

async fn keyspace<S: KVStore>(cli: &Cli, vault: &Vault<S>, cmd: &KeyspaceCommand) -> Result<()> {
    match cmd {
        KeyspaceCommand::Create { name } => {
            let password = password(cli, true)?;
            with_spinner(
                "creating (Argon2id)…",
                vault.create_keyspace(name, password.as_bytes()),
            )
            .await?;
            say(
                cli,
                || format!("created keyspace {name}"),
                json!({ "keyspace": name }),
            );
        }
        KeyspaceCommand::List => {
            let names = vault.list_keyspaces().await?;
            say(cli, || names.join("\n"), json!(names));
        }
        KeyspaceCommand::Delete { name } => {
            let password = password(cli, false)?;
            vault.delete_keyspace(name, password.as_bytes()).await?;
            say(
                cli,
                || format!("deleted keyspace {name}"),
                json!({ "deleted": name }),
            );
        }
        KeyspaceCommand::Passwd { name } => {
            let old = password(cli, false)?;
            let new = new_password(cli)?;
            with_spinner(
                "re-wrapping the keyspace key (Argon2id)…",
                vault.change_password(name, old.as_bytes(), new.as_bytes()),
            )
            .await?;
            say(
                cli,
                || format!("changed the password of keyspace {name}"),
                json!({ "keyspace": name }),
            );
        }
    }
    Ok(())
}

async fn key<S: KVStore>(cli: &Cli, vault: &Vault<S>, cmd: &KeyCommand) -> Result<()> {
    match cmd {
        KeyCommand::Generate {
            keyspace,
            name,
            key_type,
        } => {
            let ks = unlock(cli, vault, keyspace).await?;
            let info = vault.generate_key(&ks, name, (*key_type).into()).await?;
            say(cli, || key_line(&info), key_json(&info));
        }
        KeyCommand::Import {
            keyspace,
            name,
            key_type,
        } => {
            let line = first_line(
                data_stdin(cli, "the private key")?.lock(),
                "the private key on standard input",
            )?;
            let private_key =
                Zeroizing::new(hex::decode(line.trim().trim_start_matches("0x")).map_err(
                    |_| usage("the private key must be 64 hex digits on standard input"),
                )?);
            let ks = unlock(cli, vault, keyspace).await?;
            let info = vault
                .import_key(&ks, name, (*key_type).into(), &private_key)
                .await?;
            say(cli, || key_line(&info), key_json(&info));
        }
        KeyCommand::List { keyspace } => {
            let ks = unlock(cli, vault, keyspace).await?;
            let keys = vault.list_keys(&ks).await?;
            say(
                cli,
                || keys.iter().map(key_line).collect::<Vec<_>>().join("\n"),
                json!(keys.iter().map(key_json).collect::<Vec<_>>()),
            );
        }
        KeyCommand::Show { keyspace, name } => {
            let ks = unlock(cli, vault, keyspace).await?;
            let info = vault.key_info(&ks, name).await?;
            say(
                cli,
                || {
                    let mut text = format!(
                        "name: {}\ntype: {}\npublic key: {}",
                        info.name,
                        info.key_type,
                        hex::encode(&info.public_key)
                    );
                    if let Some(address) = info.eth_address() {
                        text += &format!(
                            "\nethereum address: {}",
                            vault::eth_checksum_address(&address)
                        );
                    }
                    text
                },
                key_json(&info),
            );
        }
        KeyCommand::Rename { keyspace, from, to } => {
            let ks = unlock(cli, vault, keyspace).await?;
            vault.rename_key(&ks, from, to).await?;
            say(
                cli,
                || format!("renamed {from} to {to}"),
                json!({ "renamed": from, "to": to }),
            );
        }
        KeyCommand::Delete { keyspace, name } => {
            let ks = unlock(cli, vault, keyspace).await?;
            vault.delete_key(&ks, name).await?;
            say(
                cli,
                || format!("deleted key pair {name}"),
                json!({ "deleted": name }),
            );
        }
        KeyCommand::Export {
            keyspace,
            name,
            reveal_private_key,
        } => {
            if !reveal_private_key {
                return Err(usage(
                    "exporting prints the private key: add --reveal-private-key to confirm",
                ));
            }
            let ks = unlock(cli, vault, keyspace).await?;
            let private_key =
                Zeroizing::new(hex::encode(&*vault.export_private_key(&ks, name).await?));
            say(
                cli,
                || private_key.to_string(),
                json!({ "name": name, "private_key": *private_key }),
            );
        }
    }
    Ok(())
}

async fn secret<S: KVStore>(cli: &Cli, vault: &Vault<S>, cmd: &SecretCommand) -> Result<()> {
    match cmd {
        SecretCommand::Set { keyspace, name } => {
            let prompt_for_value = std::io::stdin().is_terminal() && !cli.password.password_stdin;
            let stdin = if prompt_for_value {
                None
            } else {
                Some(data_stdin(cli, "the secret value")?)
            };
            let ks = unlock(cli, vault, keyspace).await?;
            let value = match stdin {
                None => Zeroizing::new(
                    rpassword::prompt_password("Secret value: ")
                        .context("cannot read the value")?
                        .into_bytes(),
                ),
                Some(stdin) => {
                    let mut value = Zeroizing::new(Vec::new());
                    stdin
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
                    value
                }
            };
            vault.set_secret(&ks, name, &value).await?;
            say(
                cli,
                || format!("stored secret {name}"),
                json!({ "stored": name }),
            );
        }
        SecretCommand::Get { keyspace, name } => {
            let ks = unlock(cli, vault, keyspace).await?;
            let value = vault.get_secret(&ks, name).await?;
            if cli.json {
                let text = std::str::from_utf8(&value).ok();
                let line = match text {
                    Some(text) => json!({ "name": name, "value": text }),
                    None => {
                        json!({ "name": name, "value_base64": base64::engine::general_purpose::STANDARD.encode(&*value) })
                    }
                };
                println!("{line}");
            } else {
                let mut out = std::io::stdout().lock();
                out.write_all(&value)?;
                if std::io::stdout().is_terminal() {
                    out.write_all(b"\n")?;
                }
                out.flush()?;
            }
        }
        SecretCommand::List { keyspace } => {
            let ks = unlock(cli, vault, keyspace).await?;
            let names = vault.list_secrets(&ks).await?;
            say(cli, || names.join("\n"), json!(names));
        }
        SecretCommand::Delete { keyspace, name } => {
            let ks = unlock(cli, vault, keyspace).await?;
            vault.delete_secret(&ks, name).await?;
            say(
                cli,
                || format!("deleted secret {name}"),
                json!({ "deleted": name }),
            );
        }
    }
    Ok(())
}

/// Streams a file or standard input through the keyspace's stream cipher, 64 KiB at a time.
async fn crypt<S: KVStore>(
    cli: &Cli,
    vault: &Vault<S>,
    args: &CryptArgs,
    encrypt: bool,
) -> Result<()> {
    let (mut input, size): (Box<dyn Read>, Option<u64>) = match &args.input {
        Some(path) => {
            let file =
                File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        }
        None => (Box::new(data_stdin(cli, "the data")?.lock()), None),
    };
    let ks = unlock(cli, vault, &args.keyspace).await?;
    let mut output: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
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
    let result = stream(
        &mut *input,
        &mut *output,
        vault,
        &ks,
        encrypt,
        progress.as_ref(),
    )
    .await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    drop(output);
    if result.is_err() {
        if let Some(path) = &args.output {
            // Never leave unauthenticated plaintext (or a partial ciphertext) behind.
            let _ = std::fs::remove_file(path);
        }
    }
    result
}

async fn stream<S: KVStore>(
    input: &mut dyn Read,
    output: &mut dyn Write,
    vault: &Vault<S>,
    ks: &vault::UnlockedKeyspace,
    encrypt: bool,
    progress: Option<&ProgressBar>,
) -> Result<()> {
    let mut buf = vec![0u8; vault::CHUNK_SIZE];
    if encrypt {
        let mut encryptor = vault.encrypt_stream(ks).await?;
        loop {
            let n = read_some(input, &mut buf)?;
            if n == 0 {
                break;
            }
            output.write_all(&encryptor.update(&buf[..n]))?;
            if let Some(bar) = progress {
                bar.inc(n as u64);
            }
        }
        output.write_all(&encryptor.finish())?;
    } else {
        let mut decryptor = vault.decrypt_stream(ks).await?;
        loop {
            let n = read_some(input, &mut buf)?;
            if n == 0 {
                break;
            }
            output.write_all(&decryptor.update(&buf[..n])?)?;
            if let Some(bar) = progress {
                bar.inc(n as u64);
            }
        }
        output.write_all(&decryptor.finish()?)?;
    }
    output.flush().context("cannot write the output")?;
    Ok(())
}

fn read_some(input: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other.context("cannot read the input"),
        }
    }
}
