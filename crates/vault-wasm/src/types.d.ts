/** A key pair's public description. */
export interface KeyInfo {
    name: string;
    keyType: "secp256k1" | "ed25519";
    /** 33-byte compressed SEC1 (secp256k1) or 32 bytes (Ed25519). */
    publicKey: Uint8Array;
    /** EIP-55 checksummed address, secp256k1 only. */
    ethAddress?: string;
    /** For a key made by `deriveKey`: its seed's name and its path. */
    derivation?: { seed: string; path: string };
}

/** How EIP-712 hashes arrays of structs: MetaMask's `eth_signTypedData_v4` (the default, as ethers, viem and geth) or the EIP's literal text. */
export type TypedDataEncoding = "v4" | "spec";

/** The key derivation of an exported keystore v3 file. */
export type KeystoreKdf = "standard" | "light" | "pbkdf2";

/** What `deriveKey` derives: a named preset and account index, or a free path. */
export type DeriveSpec =
    | { preset: "ethereum" | "ethereum-ledger-live" | "solana" | "solana-bip44" | "cosmos"; index?: number }
    | { path: string; keyType?: "secp256k1" | "ed25519" };

/** A quantity: a number (up to 2^53 - 1), a decimal string or a 0x hex string. */
export type Quantity = number | string;

/** An unsigned transaction, as `eth_signTransaction` takes it (ethers' and viem's names too). */
export interface TransactionRequest {
    /** 0 legacy (EIP-155), 1 EIP-2930, 2 EIP-1559, 4 EIP-7702; inferred from the fields when absent. */
    type?: Quantity | "legacy" | "eip2930" | "eip1559" | "eip7702";
    chainId: Quantity;
    nonce: Quantity;
    gasLimit?: Quantity;
    gas?: Quantity;
    gasPrice?: Quantity;
    maxFeePerGas?: Quantity;
    maxPriorityFeePerGas?: Quantity;
    /** Omit (or null) to create a contract. */
    to?: string | null;
    value?: Quantity;
    data?: string;
    input?: string;
    accessList?: Array<{ address: string; storageKeys: string[] }>;
    authorizationList?: SignedAuthorization[];
    /** When given, must be the signing key's address. */
    from?: string;
}

/** A signed EIP-7702 authorization (quantities as 0x hex). */
export interface SignedAuthorization {
    chainId: string;
    address: string;
    nonce: string;
    yParity: string;
    r: string;
    s: string;
}

/** What `Vault.decodeTransaction` reads from a raw signed transaction. */
export interface DecodedTransaction {
    type: number;
    hash: string;
    from: string;
    chainId: number | null;
}

/** Stable error codes carried by every rejected Promise's `Error.code`. */
export type VaultErrorCode =
    | "WRONG_PASSWORD" | "LOCKED" | "NOT_FOUND" | "ALREADY_EXISTS" | "INVALID_INPUT"
    | "DECRYPTION_FAILED" | "CORRUPTED" | "UNSUPPORTED_FORMAT" | "RANDOM_SOURCE_FAILED"
    | "STORAGE_BUSY" | "QUOTA_EXCEEDED" | "STORAGE_UNAVAILABLE" | "STORAGE_ERROR" | "CONFLICT"
    | "TAMPERED";

/** The `Error` every call rejects with. */
export interface VaultError extends Error {
    code: VaultErrorCode;
}

/**
 * A password: a string, or its UTF-8 bytes. Either way it is compared in Unicode NFC. Copies the
 * bindings make are wiped after use; a `Uint8Array` can also be wiped by the caller
 * (`password.fill(0)`) once the call resolved, which a JavaScript string never can.
 */
export type Password = string | Uint8Array;

/** Why a session locked: `lock()` was called, or its idle timeout passed. */
export type LockReason = "lock" | "idle";

/** Options of `Vault.unlock`. */
export interface UnlockOptions {
    /** Lock (wipe the keys) this many milliseconds after the last call; omit for never. */
    idleTimeoutMs?: number;
}

/** What one `Session.sync` did. */
export interface SyncReport {
    /** Records sent to the server (written or deleted). */
    pushed: number;
    /** Records taken from the server (written or deleted here). */
    pulled: number;
    /** Records both sides changed: the server's version won, this device's was kept as history. */
    conflicts: number;
    /** The keyspace revision both sides are at now. */
    revision: number;
}

/** A value kept after it lost a sync conflict (`Session.listHistory`). */
export interface HistoryEntry {
    /** Its id, for `Session.restoreHistory`. */
    id: string;
    item: "keyPair" | "secret";
    name: string;
    /** The revision it was written at. */
    revision: number;
}

/** Options of `Vault.open`. */
export interface OpenOptions {
    /** "auto" (default): OPFS in a dedicated worker, IndexedDB elsewhere; or force one. */
    backend?: "auto" | "opfs" | "indexeddb";
    /** IndexedDB write durability (default "strict"); OPFS writes always flush. */
    durability?: "strict" | "relaxed" | "default";
}
