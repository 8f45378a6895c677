//! The command-line grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Password-protected keyspaces of signing keys and secrets, on an embedded store.
///
/// Exit codes: 0 success, 1 other error, 2 bad input or usage, 3 wrong password, 4 not found,
/// 5 already exists, 6 store busy, 7 data failed authentication (altered, truncated, foreign),
/// 8 conflict (another process changed the same data meanwhile; retry).
#[derive(Parser, Debug)]
#[command(name = "vault", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The store: a directory (sled) or file (redb). Default: the platform's data directory.
    #[arg(long, global = true, env = "VAULT_STORE", value_name = "PATH")]
    pub store: Option<PathBuf>,

    /// The storage backend.
    #[arg(long, global = true, env = "VAULT_BACKEND", value_enum, default_value_t = Backend::Sled)]
    pub backend: Backend,

    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(flatten)]
    pub password: PasswordArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Where the keyspace password comes from (default: a no-echo prompt). Never an argument.
#[derive(Args, Debug)]
pub struct PasswordArgs {
    /// Read the password from the first line of this file.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        conflicts_with = "password_stdin"
    )]
    pub password_file: Option<PathBuf>,
    /// Read the password from the first line of standard input.
    #[arg(long, global = true)]
    pub password_stdin: bool,
    /// For `keyspace passwd` and `keyspace rekey`: read the new password from this file.
    #[arg(long, global = true, value_name = "FILE")]
    pub new_password_file: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// sled 0.34 (the default)
    Sled,
    /// redb
    Redb,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyTypeArg {
    Secp256k1,
    Ed25519,
}

impl From<KeyTypeArg> for vault::KeyType {
    fn from(k: KeyTypeArg) -> Self {
        match k {
            KeyTypeArg::Secp256k1 => vault::KeyType::Secp256k1,
            KeyTypeArg::Ed25519 => vault::KeyType::Ed25519,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create, list, delete keyspaces; change a keyspace's password.
    #[command(subcommand)]
    Keyspace(KeyspaceCommand),
    /// Key pairs: generate, import, list, show, rename, delete, export.
    #[command(subcommand)]
    Key(KeyCommand),
    /// HD wallet seeds: generate or import a BIP39 mnemonic, list, delete, export the words.
    /// Keys are derived from a seed with `vault key derive`.
    #[command(subcommand)]
    Seed(SeedCommand),
    /// Ethereum: sign transactions, EIP-712 typed data, hashes and EIP-7702 authorizations
    /// with a secp256k1 key pair; decode a signed transaction (no store needed).
    #[command(subcommand)]
    Eth(EthCommand),
    /// Sign a message (argument, --file, or standard input) with a key pair.
    Sign(SignArgs),
    /// Verify a signature with a public key (or an Ethereum address); needs no password.
    Verify(VerifyArgs),
    /// Secrets: set (value from standard input or a prompt), get, list, delete.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Encrypt a file or standard input to standard output (streaming, any size).
    Encrypt(CryptArgs),
    /// Decrypt what `encrypt` wrote.
    ///
    /// To a file (-o), the plaintext appears under its name only once the whole input has
    /// authenticated. To standard output, plaintext is written chunk by chunk as each chunk
    /// authenticates, so a truncated or altered input may already have produced output: the
    /// exit code (7) is then the only signal, as with `age`. Use -o when that matters.
    Decrypt(CryptArgs),
    /// Export or import a keyspace backup (the JavaScript package's format too).
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Sync keyspaces with a vault-server: register or log in once, then sync (offline edits
    /// on several devices converge; the server sees only ciphertext).
    #[command(subcommand)]
    Sync(SyncCommand),
    /// Log in to a vault-server account (the same as `vault sync login`).
    Login {
        /// The server, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// The account name.
        #[arg(long)]
        account: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SyncCommand {
    /// Create an account on a server. The password read is the account's (not a keyspace's):
    /// the server gets a key derived from it, never the password.
    Register {
        /// The server, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// The account name.
        #[arg(long)]
        account: String,
    },
    /// Log in to an account (asks for the account's password) and remember the session for
    /// this store (in STORE.sync.json, private).
    Login {
        /// The server, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// The account name.
        #[arg(long)]
        account: String,
    },
    /// Sync a keyspace with the logged-in account (asks for the keyspace's password).
    Keyspace { name: String },
    /// Fetch a keyspace of the account into this store (a new device).
    Clone { name: String },
    /// Take in a keyspace re-keyed on another device (when `vault sync keyspace` says so):
    /// asks for this store's current password and the new one (--new-password-file or
    /// VAULT_NEW_PASSWORD); changes made here since the last sync are carried over.
    Adopt { name: String },
    /// Which server and account this store syncs with.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum KeyspaceCommand {
    /// Create a keyspace (asks for the password twice).
    Create { name: String },
    /// List keyspaces (no password needed).
    List,
    /// Delete a keyspace and everything in it.
    Delete { name: String },
    /// Change a keyspace's password (the keyspace key stays; see `rekey`).
    Passwd { name: String },
    /// Replace a keyspace's key and id and re-encrypt everything, so that no old copy of the
    /// store, old backup or old password opens anything current. Asks for a new password
    /// (like `passwd`) unless --keep-password.
    Rekey {
        name: String,
        /// Keep the current password.
        #[arg(long)]
        keep_password: bool,
    },
    /// Print a keyspace's revision: it goes up by one with every change. Record it elsewhere
    /// and check it later with --at-least to catch a store put back to an older copy.
    Revision {
        name: String,
        /// Fail (exit code 9, tampered) if the keyspace is older than this revision.
        #[arg(long)]
        at_least: Option<u64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Generate a key pair.
    Generate {
        keyspace: String,
        name: String,
        #[arg(long = "type", value_enum, default_value_t = KeyTypeArg::Secp256k1)]
        key_type: KeyTypeArg,
    },
    /// Import a raw 32-byte private key, given as hex on standard input.
    Import {
        keyspace: String,
        name: String,
        #[arg(long = "type", value_enum)]
        key_type: KeyTypeArg,
    },
    /// List key pairs.
    List { keyspace: String },
    /// Show a key pair's public key (and Ethereum address for secp256k1).
    Show { keyspace: String, name: String },
    /// Rename a key pair.
    Rename {
        keyspace: String,
        from: String,
        to: String,
    },
    /// Delete a key pair.
    Delete { keyspace: String, name: String },
    /// Print a private key as hex. Needs --reveal-private-key.
    Export {
        keyspace: String,
        name: String,
        /// Confirms that the private key may be printed.
        #[arg(long)]
        reveal_private_key: bool,
    },
    /// Derive a key pair from a seed (`vault seed`), by preset or by path; the key records
    /// its seed and path.
    Derive {
        keyspace: String,
        name: String,
        /// The seed to derive from.
        #[arg(long)]
        seed: String,
        /// A named path: ethereum (m/44'/60'/0'/0/i), ethereum-ledger-live
        /// (m/44'/60'/i'/0/0), solana (m/44'/501'/i'/0'), solana-bip44 (m/44'/501'/i'),
        /// cosmos (m/44'/118'/0'/0/i).
        #[arg(long, conflicts_with = "path", required_unless_present = "path")]
        preset: Option<String>,
        /// The account index of --preset.
        #[arg(long, default_value_t = 0, requires = "preset")]
        index: u32,
        /// A free path, e.g. "m/44'/60'/0'/0/7" (Ed25519 paths are hardened throughout).
        #[arg(long)]
        path: Option<String>,
        /// The key type of --path.
        #[arg(long = "type", value_enum, default_value_t = KeyTypeArg::Secp256k1)]
        key_type: KeyTypeArg,
    },
    /// Import the key of a keystore v3 (Web3 Secret Storage) file. The file's password comes
    /// from --keystore-password-file, VAULT_KEYSTORE_PASSWORD or a prompt.
    ImportKeystore {
        keyspace: String,
        name: String,
        /// The keystore file.
        file: PathBuf,
        /// Read the keystore's password from the first line of this file.
        #[arg(long, value_name = "FILE")]
        keystore_password_file: Option<PathBuf>,
    },
    /// Write a secp256k1 key pair as a keystore v3 file, encrypted under a new keystore
    /// password (--keystore-password-file, VAULT_KEYSTORE_PASSWORD or a prompt).
    ExportKeystore {
        keyspace: String,
        name: String,
        /// The keystore file (mode 0600, written atomically; default standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The key derivation: standard (scrypt n = 2^18, what geth and ethers write), light
        /// (scrypt n = 2^12) or pbkdf2 (262,144 iterations).
        #[arg(long, value_enum, default_value_t = KeystoreKdfArg::Standard)]
        kdf: KeystoreKdfArg,
        /// Read the keystore's password from the first line of this file.
        #[arg(long, value_name = "FILE")]
        keystore_password_file: Option<PathBuf>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeystoreKdfArg {
    /// scrypt n = 2^18, r = 8, p = 1
    Standard,
    /// scrypt n = 2^12, r = 8, p = 6
    Light,
    /// PBKDF2-HMAC-SHA256, 262,144 iterations
    Pbkdf2,
}

impl From<KeystoreKdfArg> for vault::keystore::KeystoreKdf {
    fn from(k: KeystoreKdfArg) -> Self {
        match k {
            KeystoreKdfArg::Standard => Self::STANDARD,
            KeystoreKdfArg::Light => Self::LIGHT,
            KeystoreKdfArg::Pbkdf2 => Self::Pbkdf2 {
                iterations: 262_144,
            },
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum SeedCommand {
    /// Generate a BIP39 mnemonic and store its seed; prints the words once, to write down.
    Generate {
        keyspace: String,
        name: String,
        /// 12 or 24 words.
        #[arg(long, default_value_t = 24)]
        words: u8,
        /// Read a BIP39 passphrase (the "25th word") from the first line of this file.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Import a BIP39 mnemonic (English), read from standard input or a no-echo prompt.
    Import {
        keyspace: String,
        name: String,
        /// Read a BIP39 passphrase (the "25th word") from the first line of this file.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// List seeds.
    List { keyspace: String },
    /// Delete a seed (keys derived from it stay).
    Delete { keyspace: String, name: String },
    /// Print a seed's words. Needs --reveal-mnemonic.
    Export {
        keyspace: String,
        name: String,
        /// Confirms that the words may be printed.
        #[arg(long)]
        reveal_mnemonic: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum EthCommand {
    /// Sign a transaction given as JSON (file or standard input): prints the raw signed
    /// transaction as 0x hex, for eth_sendRawTransaction.
    SignTx {
        keyspace: String,
        key: String,
        /// The transaction JSON file (default: standard input).
        file: Option<PathBuf>,
    },
    /// Sign EIP-712 typed data (the JSON of eth_signTypedData_v4, file or standard input).
    SignTypedData {
        keyspace: String,
        key: String,
        /// The typed-data JSON file (default: standard input).
        file: Option<PathBuf>,
        /// Hash arrays of structs as the EIP's text reads, not as MetaMask's V4 (the default,
        /// which ethers, viem and geth share).
        #[arg(long)]
        spec: bool,
    },
    /// Sign a 32-byte hash (0x hex) recoverably: r ‖ s ‖ v.
    SignHash {
        keyspace: String,
        key: String,
        /// The hash, 64 hex digits.
        hash: String,
    },
    /// Sign an EIP-7702 authorization; prints its JSON for a transaction's authorizationList.
    Authorize {
        keyspace: String,
        key: String,
        /// The chain (0: every chain).
        #[arg(long)]
        chain_id: u64,
        /// The contract to delegate to.
        #[arg(long)]
        address: String,
        /// The account's nonce at the time the authorization is processed.
        #[arg(long)]
        nonce: u64,
    },
    /// Decode a raw signed transaction (0x hex): its type, hash, signer and chain.
    DecodeTx {
        /// The raw transaction, 0x hex.
        raw: String,
    },
}

#[derive(Args, Debug)]
pub struct SignArgs {
    pub keyspace: String,
    pub key: String,
    /// The message (omit to read --file or standard input).
    pub message: Option<String>,
    /// Read the message from this file.
    #[arg(long, conflicts_with = "message")]
    pub file: Option<PathBuf>,
    /// Ethereum personal-message signature (EIP-191), 65 bytes r ‖ s ‖ v.
    #[arg(long)]
    pub eth: bool,
    /// Print the signature as base64 instead of hex.
    #[arg(long)]
    pub base64: bool,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The signature, hex or base64.
    #[arg(long)]
    pub signature: String,
    /// The public key, hex (with --type).
    #[arg(long, required_unless_present = "address")]
    pub public_key: Option<String>,
    /// The key type of --public-key.
    #[arg(long = "type", value_enum, default_value_t = KeyTypeArg::Secp256k1)]
    pub key_type: KeyTypeArg,
    /// Verify an Ethereum personal signature against this address instead.
    #[arg(long, conflicts_with = "public_key")]
    pub address: Option<String>,
    /// The message (omit to read --file or standard input).
    pub message: Option<String>,
    /// Read the message from this file.
    #[arg(long, conflicts_with = "message")]
    pub file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum SecretCommand {
    /// Store a secret; the value comes from standard input or a no-echo prompt, never argv.
    Set { keyspace: String, name: String },
    /// Print a secret's value.
    Get { keyspace: String, name: String },
    /// List secret names.
    List { keyspace: String },
    /// Delete a secret.
    Delete { keyspace: String, name: String },
}

#[derive(Args, Debug)]
pub struct CryptArgs {
    pub keyspace: String,
    /// Input file (default: standard input).
    pub input: Option<PathBuf>,
    /// Output file (default: standard output): written to a private temporary file beside it
    /// and renamed into place only on success, so a failure leaves any existing file as it
    /// was (through a symbolic link, the file it names). A device or FIFO (`/dev/null`) is
    /// written in place. Must not be the input.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Write a keyspace's backup to a file (or standard output).
    Export {
        keyspace: String,
        /// The backup file (mode 0600, written atomically).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Import a backup file (with the password it was exported with).
    Import { file: PathBuf },
}
