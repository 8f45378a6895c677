//! Running a parsed command: inputs, store opening, output files and exit codes.
//!
//! Order matters: every input a person or a pipe provides (passwords, secret values, keys,
//! messages, backup files) is read *before* the store is opened, and the store is closed as
//! soon as the command's storage work is done (before streaming a file), because an open
//! store locks out every other `vault` process. Files the CLI writes are created private
//! (umask 077: 0600 files, 0700 directories) and written to a temporary file renamed into
//! place only on success.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use kvstore::{Blocking, KVStore, RedbStore, SledStore};
use serde_json::json;
use vault::{ErrorCode, KeyInfo, Vault, Zeroizing};

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
    // Everything this process creates (store files, backups, decrypted output, temporary
    // files) is for the user alone.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
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
                let class = error_code(&err).map(ErrorCode::as_str);
                let line = json!({ "error": format!("{err:#}"), "exit_code": code, "code": class });
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
    if err.downcast_ref::<Usage>().is_some() {
        return (2, Some("see `vault --help`"));
    }
    match error_code(err) {
        Some(code) => exit_code(code),
        None => (1, None),
    }
}

/// The library's classification of an error, when it came from the library.
fn error_code(err: &anyhow::Error) -> Option<ErrorCode> {
    if let Some(e) = err.downcast_ref::<vault::Error>() {
        return Some(e.code());
    }
    err.downcast_ref::<kvstore::Error>()
        .map(|e| ErrorCode::of_storage(e.kind()))
}

/// The exit code of each error class (README: "Output and exit codes"). Exhaustive on purpose:
/// a new class must be given its code here.
fn exit_code(code: ErrorCode) -> (u8, Option<&'static str>) {
    match code {
        ErrorCode::InvalidInput => (2, None),
        ErrorCode::WrongPassword => (3, Some("passwords are case-sensitive; try again")),
        ErrorCode::NotFound => (
            4,
            Some(
                "`vault keyspace list`, `vault key list` and `vault secret list` show what exists",
            ),
        ),
        ErrorCode::AlreadyExists => (
            5,
            Some("choose another name or delete the existing one first"),
        ),
        ErrorCode::StorageBusy => (
            6,
            Some("another vault process is using this store; retry when it has finished"),
        ),
        ErrorCode::DecryptionFailed | ErrorCode::Corrupted => (7, None),
        ErrorCode::UnsupportedFormat => (7, Some("written by a newer version of vault")),
        ErrorCode::Locked
        | ErrorCode::RandomSourceFailed
        | ErrorCode::QuotaExceeded
        | ErrorCode::StorageUnavailable
        | ErrorCode::StorageError => (1, None),
    }
}

fn default_store(backend: Backend) -> Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "vault")
        .ok_or_else(|| anyhow!("no home directory found; pass --store PATH"))?;
    Ok(dirs.data_dir().join(match backend {
        Backend::Sled => "store.sled",
        Backend::Redb => "store.redb",
    }))
}

/// Opens the store, waiting up to 3 s for another `vault` process to release it. Its directory
/// is created 0700, and a store an older release left readable by others is made private.
fn open_store<S>(path: &Path, open: impl Fn(&Path) -> kvstore::Result<S>) -> Result<S> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    make_private(path).with_context(|| format!("cannot restrict {}", path.display()))?;
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

/// Removes group and other permissions from the store and everything in it (stores written
/// by releases before 0600/0700 were the rule).
fn make_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(()); // not created yet: the umask covers it
    };
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            make_private(&entry?.path())?;
        }
    }
    Ok(())
}

async fn dispatch(cli: Cli) -> Result<()> {
    if let Command::Verify(args) = &cli.command {
        return verify(&cli, args);
    }
    let inputs = Inputs::read(&cli)?;
    let path = match &cli.store {
        Some(path) => path.clone(),
        None => default_store(cli.backend)?,
    };
    // A CLI is one task: writes block in place rather than hop to a thread pool.
    match cli.backend {
        Backend::Sled => {
            let store = open_store(&path, |p| SledStore::open_with(p, Blocking::Inline))?;
            run(&cli, inputs, Vault::new(store)).await
        }
        Backend::Redb => {
            let store = open_store(&path, |p| RedbStore::open_with(p, Blocking::Inline))?;
            run(&cli, inputs, Vault::new(store)).await
        }
    }
}

/// What a command needs from a person or a pipe, read before the store is opened.
#[derive(Default)]
struct Inputs {
    password: Option<Zeroizing<String>>,
    new_password: Option<Zeroizing<String>>,
    /// A secret's value, a private key, a message to sign or a backup file.
    data: Option<Zeroizing<Vec<u8>>>,
    /// The input of `encrypt`/`decrypt`, opened (not read): it streams after the store closed.
    stream: Option<(Box<dyn Read>, Option<u64>)>,
}

impl Inputs {
    fn read(cli: &Cli) -> Result<Inputs> {
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
            Command::Keyspace(KeyspaceCommand::Delete { .. }) => with_password(&mut inputs)?,
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
            Command::Key(_) => with_password(&mut inputs)?,
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

    fn password(&self) -> Result<&str> {
        self.password
            .as_deref()
            .map(String::as_str)
            .ok_or_else(|| anyhow!("internal error: no password was read"))
    }

    fn take_data(&mut self) -> Result<Zeroizing<Vec<u8>>> {
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
/// other spellings of the path included).
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
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

// ------------------------------------------------------------------ output

/// `text` as it is safe to show on a terminal: control characters, bidi controls, zero-width
/// and other invisible or unassigned characters are shown as `\u{…}` escapes (so a name read
/// from a store or a backup cannot move the cursor, recolour the terminal or display as
/// another name), and a backslash as `\\`. Combining marks inside a name stay as they are.
fn printable(text: &str) -> Cow<'_, str> {
    let needs_escape = |(i, c): (usize, char)| {
        c == '\\' || (c != '"' && c != '\'' && escaped(c, i == 0) != c.to_string())
    };
    if !text.char_indices().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (i, c) in text.char_indices() {
        if c == '"' || c == '\'' {
            out.push(c);
        } else {
            out.push_str(&escaped(c, i == 0));
        }
    }
    Cow::Owned(out)
}

/// Rust's `escape_debug` of `c`, as it would be inside a string (after its first character,
/// a combining mark is printable) or at its start.
fn escaped(c: char, at_start: bool) -> String {
    let mut probe = String::from(if at_start { "" } else { "a" });
    probe.push(c);
    let escaped: String = probe.escape_debug().collect();
    escaped[probe.len() - c.len_utf8()..].to_owned()
}

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
        printable(&info.name),
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

/// A list of names: one per line, escaped for a terminal, or one JSON array.
fn say_names(cli: &Cli, names: &[String]) {
    say(
        cli,
        || {
            let lines: Vec<_> = names.iter().map(|n| printable(n)).collect();
            lines.join("\n")
        },
        json!(names),
    );
}

/// Standard output without Rust's buffer in between: secret bytes written here leave no copy
/// in a buffer that outlives the write.
fn raw_stdout() -> Result<File> {
    Ok(File::from(
        std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .context("cannot write standard output")?,
    ))
}

/// Writes `path` through `write`: into a new private temporary file in the same directory,
/// synced, then renamed over `path`. On any error the temporary file is removed and whatever
/// `path` held before is untouched; `path` never holds partial output.
fn write_file_atomically(path: &Path, write: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".vault-")
        .suffix(".partial")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    write(temp.as_file_mut())?;
    temp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // The rename is durable once the directory is.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn write_output(path: &Option<PathBuf>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(path) => write_file_atomically(path, |file| {
            file.write_all(bytes)
                .with_context(|| format!("cannot write {}", path.display()))
        }),
        None => raw_stdout()?
            .write_all(bytes)
            .context("cannot write standard output"),
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

async fn run<S: KVStore>(cli: &Cli, mut inputs: Inputs, vault: Vault<S>) -> Result<()> {
    match &cli.command {
        Command::Keyspace(cmd) => keyspace(cli, &inputs, &vault, cmd).await,
        Command::Key(cmd) => key(cli, &mut inputs, &vault, cmd).await,
        Command::Sign(args) => {
            let message = inputs.take_data()?;
            let ks = unlock(&inputs, &vault, &args.keyspace).await?;
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
        Command::Secret(cmd) => secret(cli, &mut inputs, &vault, cmd).await,
        Command::Encrypt(args) => crypt(inputs, vault, args, true).await,
        Command::Decrypt(args) => crypt(inputs, vault, args, false).await,
        Command::Backup(BackupCommand::Export { keyspace, output }) => {
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
            Ok(())
        }
        Command::Backup(BackupCommand::Import { .. }) => {
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
            Ok(())
        }
    }
}

async fn keyspace<S: KVStore>(
    cli: &Cli,
    inputs: &Inputs,
    vault: &Vault<S>,
    cmd: &KeyspaceCommand,
) -> Result<()> {
    match cmd {
        KeyspaceCommand::Create { name } => {
            with_spinner(
                "creating (Argon2id)…",
                vault.create_keyspace(name, inputs.password()?),
            )
            .await?;
            say(
                cli,
                || format!("created keyspace {}", printable(name)),
                json!({ "keyspace": name }),
            );
        }
        KeyspaceCommand::List => {
            let names = vault.list_keyspaces().await?;
            say_names(cli, &names);
        }
        KeyspaceCommand::Delete { name } => {
            vault.delete_keyspace(name, inputs.password()?).await?;
            say(
                cli,
                || format!("deleted keyspace {}", printable(name)),
                json!({ "deleted": name }),
            );
        }
        KeyspaceCommand::Passwd { name } => {
            let new = inputs
                .new_password
                .as_deref()
                .ok_or_else(|| anyhow!("internal error: no new password was read"))?;
            with_spinner(
                "re-wrapping the keyspace key (Argon2id)…",
                vault.change_password(name, inputs.password()?, new.as_str()),
            )
            .await?;
            say(
                cli,
                || format!("changed the password of keyspace {}", printable(name)),
                json!({ "keyspace": name }),
            );
        }
        KeyspaceCommand::Rekey { name, .. } => {
            let current = inputs.password()?;
            let new = inputs
                .new_password
                .as_deref()
                .map_or(current, String::as_str);
            with_spinner(
                "re-encrypting under a new keyspace key (Argon2id)…",
                vault.rekey(name, current, new),
            )
            .await?;
            say(
                cli,
                || format!("rekeyed keyspace {}", printable(name)),
                json!({ "keyspace": name, "rekeyed": true }),
            );
        }
    }
    Ok(())
}

async fn key<S: KVStore>(
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

async fn secret<S: KVStore>(
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

/// Streams a file or standard input through the keyspace's stream cipher, 64 KiB at a time.
/// The store is closed once the keyspace is unlocked: streaming a large file must not lock
/// other `vault` processes out.
async fn crypt<S: KVStore>(
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

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn names_are_escaped_for_terminals_only_where_needed() {
        assert_eq!(printable("wallet 2"), "wallet 2");
        assert_eq!(printable("über \"key\" it's"), "über \"key\" it's");
        assert_eq!(printable("pa\u{308}ss"), "pa\u{308}ss");
        assert_eq!(printable("red\u{1b}[31m"), "red\\u{1b}[31m");
        assert_eq!(printable("a\u{202E}b"), "a\\u{202e}b");
        assert_eq!(printable("zero\u{200B}width"), "zero\\u{200b}width");
        assert_eq!(printable("tab\there"), "tab\\there");
        assert_eq!(printable("back\\slash"), "back\\\\slash");
        assert_eq!(printable("\u{308}start"), "\\u{308}start");
    }
}
