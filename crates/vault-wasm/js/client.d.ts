import type { DecodedTransaction, DeriveSpec, HistoryEntry, KeyInfo, KeystoreKdf, LockReason, Password, SignedAuthorization, SyncReport, TransactionRequest, TypedDataEncoding, UnlockOptions, VaultErrorCode } from './vault_wasm.js';
export type { DecodedTransaction, DeriveSpec, HistoryEntry, KeyInfo, KeystoreKdf, LockReason, Password, SignedAuthorization, SyncReport, TransactionRequest, TypedDataEncoding, UnlockOptions, VaultErrorCode } from './vault_wasm.js';

export type KeyType = 'secp256k1' | 'ed25519';

/** The error every call rejects with. */
export declare class VaultError extends Error {
  readonly name: 'VaultError';
  readonly code: VaultErrorCode;
}

/** A session held by the worker: the same methods as `Session`, all asynchronous, run in the order they are called. */
export declare class WorkerSession {
  /** Called with "lock", "idle" or "owner" (the tab that owned the vault closed) when the session locks. */
  onlock: ((reason: LockReason | 'owner') => void) | null;
  /** Called after each background sync (`startSync`) with its error or its report. */
  onsync: ((error: VaultError | null, report: SyncReport | null) => void) | null;
  lock(): Promise<void>;
  isLocked(): Promise<boolean>;
  unlock(password: Password): Promise<void>;
  rekey(password: Password, newPassword: Password): Promise<void>;
  keyspaceName(): Promise<string>;
  /** The keyspace's revision: one more with every change. */
  keyspaceRevision(): Promise<number>;
  /** Reject every later call with `TAMPERED` if the store is older than `revision`. */
  anchorRevision(revision: number): Promise<void>;
  generateKey(name: string, keyType: KeyType): Promise<KeyInfo>;
  importKey(name: string, keyType: KeyType, privateKey: Uint8Array): Promise<KeyInfo>;
  listKeys(): Promise<KeyInfo[]>;
  keyInfo(name: string): Promise<KeyInfo>;
  selectKey(name: string): Promise<KeyInfo>;
  renameKey(from: string, to: string): Promise<void>;
  deleteKey(name: string): Promise<void>;
  exportPrivateKey(name: string): Promise<Uint8Array>;
  sign(message: Uint8Array): Promise<Uint8Array>;
  signWith(name: string, message: Uint8Array): Promise<Uint8Array>;
  signEthPersonal(message: Uint8Array): Promise<Uint8Array>;
  /** Recoverable signature (65 bytes r ‖ s ‖ v) of a 32-byte hash with the selected key pair. */
  signHash(hash: Uint8Array): Promise<Uint8Array>;
  /** EIP-712 signature (65 bytes) of `eth_signTypedData_v4` JSON; encoding "v4" (default) or "spec". */
  signTypedData(typedData: string | object, encoding?: TypedDataEncoding): Promise<Uint8Array>;
  /** Signs a transaction: the raw bytes for eth_sendRawTransaction. */
  signTransaction(transaction: TransactionRequest | string): Promise<Uint8Array>;
  /** Signs an EIP-7702 authorization for a type 4 transaction's authorizationList. */
  signAuthorization(chainId: number, address: string, nonce: number): Promise<SignedAuthorization>;
  /** Generates a BIP39 mnemonic (12 or 24 words, default 24), stores its seed; returns the words to show once. */
  generateSeed(name: string, words?: 12 | 24, passphrase?: string): Promise<string>;
  /** Stores the seed of a BIP39 mnemonic, with an optional passphrase. */
  importMnemonic(name: string, mnemonic: string, passphrase?: string): Promise<void>;
  /** A seed's words: only on the user's explicit request. */
  exportMnemonic(name: string): Promise<string>;
  listSeeds(): Promise<string[]>;
  deleteSeed(name: string): Promise<void>;
  /** Derives key pair `name` from seed `seed` by preset and index, or by path. */
  deriveKey(seed: string, name: string, spec: DeriveSpec): Promise<KeyInfo>;
  /** Imports a keystore v3 file's key (scrypt runs in the worker: the page never freezes). */
  importKeystore(name: string, keystore: string | object, password: Password): Promise<KeyInfo>;
  /** Exports a secp256k1 key pair as keystore v3 JSON. */
  exportKeystore(name: string, password: Password, kdf?: KeystoreKdf): Promise<string>;
  setSecret(name: string, value: Uint8Array): Promise<void>;
  setSecrets(entries: Array<[string, Uint8Array]>): Promise<void>;
  getSecret(name: string): Promise<Uint8Array>;
  listSecrets(): Promise<string[]>;
  deleteSecret(name: string): Promise<void>;
  encrypt(plaintext: Uint8Array): Promise<Uint8Array>;
  decrypt(ciphertext: Uint8Array): Promise<Uint8Array>;
  /** `encrypt` into the start of `out` (at least `plaintext.length + 42` bytes, else INVALID_INPUT); resolves to the bytes written. Through the worker the result is copied into `out`: the direct API's `encryptInto` saves that copy. */
  encryptInto(plaintext: Uint8Array, out: Uint8Array): Promise<number>;
  /** `decrypt` into the start of `out` (at least `ciphertext.length - 42` bytes, else INVALID_INPUT); resolves to the bytes written. */
  decryptInto(ciphertext: Uint8Array, out: Uint8Array): Promise<number>;
  /** A TransformStream in the page that encrypts its chunks (the work is done in the worker). */
  encryptStream(): Promise<TransformStream<Uint8Array, Uint8Array>>;
  /** A TransformStream that decrypts a stream of this keyspace, erroring on any tampering or truncation. */
  decryptStream(): Promise<TransformStream<Uint8Array, Uint8Array>>;
  exportBackup(): Promise<Uint8Array>;
  /** Syncs with the vault server now (`token` from `syncLogin`): pushes, pulls, keeps conflicts' losers as history. */
  sync(server: string, token: string): Promise<SyncReport>;
  /** The values kept after they lost a sync conflict, oldest first. */
  listHistory(): Promise<HistoryEntry[]>;
  /** Puts history entry `id` back under its name. */
  restoreHistory(id: string): Promise<void>;
  /** Takes in this keyspace as re-keyed on another device (when `sync` rejects with NOT_FOUND saying so); this device's unsynced changes are carried over. */
  adoptRekeyed(server: string, token: string, newPassword: Password): Promise<void>;
  /** Syncs in the background (in the worker): now, when another device's change lands on the server (long poll), shortly after each change here, and every `intervalMs` (default 30,000); outcomes go to `onsync`. */
  startSync(options: SyncOptions): Promise<void>;
  /** Stops background sync. */
  stopSync(): Promise<void>;
  /** The stream cipher behind encryptStream, held by the worker (its handle). */
  streamEncryptor(): Promise<{ handle: number }>;
  /** The stream cipher behind decryptStream, held by the worker (its handle). */
  streamDecryptor(): Promise<{ handle: number }>;
  /** Locks the session and frees it in the worker. */
  close(): Promise<void>;
}

/** Background sync options (`WorkerSession.startSync`). */
export interface SyncOptions {
  /** The vault server, e.g. `https://vault.example.com`. */
  server: string;
  /** A session token from `syncLogin`. */
  token: string;
  /** Milliseconds between syncs (at least 100; default 30,000). */
  intervalMs?: number;
}

export interface WorkerVaultOptions {
  /** Where `worker.js` is served (default: beside this module). */
  workerUrl?: string | URL;
  /** IndexedDB write durability (default "strict"); OPFS writes always flush. */
  durability?: 'strict' | 'relaxed' | 'default';
  /**
   * "auto" (default): redb over the Origin Private File System (the worker can hold it), moving a
   * vault of the same name over from IndexedDB once; IndexedDB where OPFS is missing. Or force one.
   */
  backend?: 'auto' | 'opfs' | 'indexeddb';
  /**
   * Share an OPFS vault between tabs (default true): the first tab's worker owns the file and the
   * others forward their calls to it; when that tab closes, another takes over (its sessions through
   * the old owner lock with reason "owner"). `false`: a second tab gets STORAGE_BUSY instead.
   */
  share?: boolean;
}

/** A vault held by a dedicated Web Worker: the same API as `Vault`, never blocking the page. */
export declare class WorkerVault {
  static open(dbName: string, options?: WorkerVaultOptions): Promise<WorkerVault>;
  createKeyspace(name: string, password: Password): Promise<void>;
  listKeyspaces(): Promise<string[]>;
  deleteKeyspace(name: string, password: Password): Promise<void>;
  changePassword(name: string, oldPassword: Password, newPassword: Password): Promise<void>;
  rekey(name: string, password: Password, newPassword: Password): Promise<void>;
  unlock(name: string, password: Password, options?: UnlockOptions | number): Promise<WorkerSession>;
  importBackup(backup: Uint8Array, password: Password): Promise<string>;
  /** The engine the vault runs on. */
  backend(): Promise<'opfs' | 'indexeddb'>;
  verify(keyType: KeyType, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  verifyEthPersonal(address: string, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  ethAddress(publicKey: Uint8Array): Promise<string>;
  /** Decodes a raw signed transaction: type, hash, signer, chain id. */
  decodeTransaction(raw: Uint8Array): Promise<DecodedTransaction>;
  /** Fetches keyspace `name` from the vault server (a new device), checking everything. */
  cloneKeyspace(server: string, token: string, name: string, password: Password): Promise<void>;
  /** Registers a sync account (the password proves it through Argon2id; the server never sees it). */
  syncRegister(server: string, account: string, password: Password): Promise<void>;
  /** Opens a sync session; resolves to its token (keep it like a password). */
  syncLogin(server: string, account: string, password: Password): Promise<string>;
  terminate(): void;
}

/** The `Session` methods the worker client forwards. */
export declare const SESSION_METHODS: readonly string[];
/** The `Session` methods the client builds on the forwarded ones. */
export declare const STREAM_METHODS: readonly string[];
/** The `Session` methods the client builds on `encrypt` and `decrypt` (copying into the page's array). */
export declare const COPY_METHODS: readonly string[];
/** The `Vault` methods forwarded to the vault object in the worker. */
export declare const VAULT_METHODS: readonly string[];
/** The static `Vault` functions the worker client offers on `WorkerVault`. */
export declare const STATIC_METHODS: readonly string[];
