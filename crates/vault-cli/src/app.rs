//! The program around the commands: parsing, the runtime, where inputs are read and the store
//! opened, and how errors become exit codes.
//!
//! Order matters: every input a person or a pipe provides (passwords, secret values, keys,
//! messages, backup files) is read *before* the store is opened (`inputs`), and the store is
//! closed as soon as the command's storage work is done (before streaming a file), because an
//! open store locks out every other `vault` process. Files the CLI writes are created private
//! (umask 077: 0600 files, 0700 directories) and written to a temporary file renamed into place
//! only on success (`output`).

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use kvstore::{Blocking, KVStore, RedbStore, SledStore};
use serde_json::json;
use vault::{ErrorCode, Vault};

use crate::cli::*;
use crate::commands;
use crate::inputs::Inputs;
use crate::store::{default_store, open_store, BUSY_TIMEOUT};

/// A usage problem found after parsing (exit code 2).
#[derive(Debug)]
pub(crate) struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
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
        ErrorCode::Conflict => (
            8,
            Some(
                "another vault process changed the same data meanwhile; nothing was written; retry",
            ),
        ),
        ErrorCode::Tampered => (
            9,
            Some("the store was altered behind vault's back; restore it from a backup you trust"),
        ),
        ErrorCode::Locked
        | ErrorCode::RandomSourceFailed
        | ErrorCode::QuotaExceeded
        | ErrorCode::StorageUnavailable
        | ErrorCode::StorageError => (1, None),
    }
}

async fn dispatch(cli: Cli) -> Result<()> {
    if let Command::Verify(args) = &cli.command {
        return commands::sign::verify(&cli, args);
    }
    if let Command::Eth(EthCommand::DecodeTx { raw }) = &cli.command {
        return commands::eth::decode(&cli, raw);
    }
    let inputs = Inputs::read(&cli)?;
    let path = match &cli.store {
        Some(path) => path.clone(),
        None => default_store(cli.backend)?,
    };
    if let Command::Sync(
        cmd @ (SyncCommand::Register { .. } | SyncCommand::Login { .. } | SyncCommand::Status),
    ) = &cli.command
    {
        // Account commands: no store needed.
        return commands::sync::account(&cli, &inputs, &path, cmd).await;
    }
    if let Command::Login { server, account } = &cli.command {
        let cmd = SyncCommand::Login {
            server: server.clone(),
            account: account.clone(),
        };
        return commands::sync::account(&cli, &inputs, &path, &cmd).await;
    }
    // A CLI is one task: writes block in place rather than hop to a thread pool.
    match cli.backend {
        Backend::Sled => {
            let store = open_store(&path, |p| {
                SledStore::builder()
                    .blocking(Blocking::Inline)
                    .busy_timeout(BUSY_TIMEOUT)
                    .open(p)
            })?;
            run(&cli, inputs, Vault::new(store)).await
        }
        Backend::Redb => {
            let store = open_store(&path, |p| {
                RedbStore::builder()
                    .blocking(Blocking::Inline)
                    .busy_timeout(BUSY_TIMEOUT)
                    .open(p)
            })?;
            run(&cli, inputs, Vault::new(store)).await
        }
    }
}

async fn run<S: KVStore>(cli: &Cli, mut inputs: Inputs, vault: Vault<S>) -> Result<()> {
    match &cli.command {
        Command::Keyspace(cmd) => commands::keyspace::run(cli, &inputs, &vault, cmd).await,
        Command::Key(cmd) => commands::key::run(cli, &mut inputs, &vault, cmd).await,
        Command::Seed(cmd) => commands::seed::run(cli, &mut inputs, &vault, cmd).await,
        Command::Eth(cmd) => commands::eth::run(cli, &mut inputs, &vault, cmd).await,
        Command::Sign(args) => commands::sign::sign(cli, inputs, &vault, args).await,
        Command::Verify(args) => commands::sign::verify(cli, args),
        Command::Secret(cmd) => commands::secret::run(cli, &mut inputs, &vault, cmd).await,
        Command::Encrypt(args) => commands::crypt::run(inputs, vault, args, true).await,
        Command::Decrypt(args) => commands::crypt::run(inputs, vault, args, false).await,
        Command::Backup(cmd) => commands::backup::run(cli, inputs, vault, cmd).await,
        Command::Sync(cmd) => commands::sync::run(cli, &inputs, &vault, cmd).await,
        Command::Login { .. } => Err(anyhow::anyhow!("internal error: login reached `run`")),
    }
}
