// The worker-backed client: the same API as `Vault` and `Session` from `vault_wasm.js`, with all
// work done in a dedicated Web Worker so the page never blocks. See client.d.ts for types.

/** The error every call rejects with; `code` is stable (see VaultErrorCode). */
export class VaultError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'VaultError';
    this.code = code;
  }
}

class Connection {
  constructor(worker) {
    this.worker = worker;
    this.pending = new Map();
    this.sessions = new Map();
    this.nextId = 1;
    worker.onmessage = ({ data }) => {
      if (data.event === 'lock') {
        this.sessions.get(data.handle)?.onlock?.(data.reason);
        return;
      }
      if (data.event === 'sync') {
        const error = data.error && new VaultError(data.error.message, data.error.code);
        this.sessions.get(data.handle)?.onsync?.(error ?? null, data.report ?? null);
        return;
      }
      const call = this.pending.get(data.id);
      if (!call) return;
      this.pending.delete(data.id);
      if (data.ok) call.resolve(data.value);
      else call.reject(new VaultError(data.error.message, data.error.code));
    };
    worker.onerror = (event) => {
      const error = new VaultError(`vault worker failed: ${event.message}`, 'STORAGE_UNAVAILABLE');
      for (const call of this.pending.values()) call.reject(error);
      this.pending.clear();
    };
  }

  call(target, method, args) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, target, method, args });
    });
  }
}

/** The `Session` methods the worker client forwards (checked against the bindings by tests-js/api.test.mjs). */
export const SESSION_METHODS = [
  'lock', 'isLocked', 'unlock', 'rekey', 'keyspaceName', 'keyspaceRevision', 'anchorRevision', 'generateKey', 'importKey', 'listKeys', 'keyInfo',
  'selectKey', 'renameKey', 'deleteKey', 'exportPrivateKey', 'sign', 'signWith', 'signEthPersonal',
  'signHash', 'signTypedData', 'signTransaction', 'signAuthorization', 'generateSeed', 'importMnemonic',
  'exportMnemonic', 'listSeeds', 'deleteSeed', 'deriveKey', 'importKeystore', 'exportKeystore',
  'setSecret', 'setSecrets', 'getSecret', 'listSecrets', 'deleteSecret', 'encrypt', 'decrypt',
  'streamEncryptor', 'streamDecryptor', 'exportBackup', 'sync', 'listHistory', 'restoreHistory', 'adoptRekeyed',
];
/** The `Session` methods the client builds itself, on the forwarded ones. */
export const STREAM_METHODS = ['encryptStream', 'decryptStream'];
/** The `Session` methods the client builds on `encrypt` and `decrypt`: the result copied into the page's array. */
export const COPY_METHODS = ['encryptInto', 'decryptInto'];
/** The `Vault` methods forwarded to the vault object in the worker (`unlock` is its own). */
export const VAULT_METHODS = ['createKeyspace', 'listKeyspaces', 'deleteKeyspace', 'changePassword', 'rekey', 'importBackup', 'cloneKeyspace', 'backend'];

/** A session held by the worker. The worker runs its calls in the order they were made here. */
export class WorkerSession {
  constructor(connection, handle) {
    this.connection = connection;
    this.handle = handle;
    /**
     * Called with "lock", "idle" or "owner" when the session locks (the idle timer runs in the
     * worker; "owner": the tab whose worker held the vault closed, and this tab took over).
     */
    this.onlock = null;
    /** Called after each background sync with (error, report): one of them is null. */
    this.onsync = null;
    connection.sessions.set(handle, this);
  }
  /**
   * Syncs in the background, in the worker: now, as soon as another device's change lands on
   * the server (a long poll on its change feed), shortly after each change made through this
   * session, and every `intervalMs` (default 30 s) regardless. Outcomes go to `onsync`. A sync
   * failing (the server unreachable, the session locked) changes nothing locally; the next one
   * retries.
   */
  startSync({ server, token, intervalMs } = {}) {
    return this.connection.call(this.handle, 'startSync', [{ server, token, intervalMs }]);
  }
  /** Stops background sync (`close` stops it too). */
  stopSync() {
    return this.connection.call(this.handle, 'stopSync', []);
  }
  /** Frees the session in the worker (locks it first). */
  async close() {
    await this.connection.call(this.handle, 'lock', []);
    await this.connection.call(this.handle, 'close', []);
    this.connection.sessions.delete(this.handle);
  }
}
for (const method of SESSION_METHODS) {
  WorkerSession.prototype[method] = function (...args) {
    return this.connection.call(this.handle, method, args);
  };
}

// A TransformStream in the page whose chunks are encrypted or decrypted by a stream cipher held
// by the worker: one call per chunk (which is the backpressure), errors with their codes.
function cipherStream(connection, handle) {
  const close = () => connection.call(handle, 'close', []).catch(() => {});
  return new TransformStream({
    async transform(chunk, controller) {
      try {
        const out = await connection.call(handle, 'update', [chunk]);
        if (out.length > 0) controller.enqueue(out);
      } catch (error) {
        close();
        throw error;
      }
    },
    async flush(controller) {
      try {
        const out = await connection.call(handle, 'finish', []);
        if (out.length > 0) controller.enqueue(out);
      } finally {
        close();
      }
    },
  });
}

/** A TransformStream that encrypts its chunks (the work is done in the worker). */
WorkerSession.prototype.encryptStream = async function () {
  const { handle } = await this.connection.call(this.handle, 'streamEncryptor', []);
  return cipherStream(this.connection, handle);
};

/** A TransformStream that decrypts a stream of this keyspace, erroring on any tampering. */
WorkerSession.prototype.decryptStream = async function () {
  const { handle } = await this.connection.call(this.handle, 'streamDecryptor', []);
  return cipherStream(this.connection, handle);
};

// `encryptInto` and `decryptInto` through the worker: the result crosses from the worker as a
// new array anyway, so these only give the page the same API (the direct API saves the copy).
function copyInto(result, out) {
  if (out.length < result.length) {
    result.fill(0);
    throw new VaultError(`the output array has ${out.length} bytes; this call writes ${result.length}`, 'INVALID_INPUT');
  }
  out.set(result);
  result.fill(0);
  return result.length;
}

/** Encrypts into the start of `out`; resolves to the number of bytes written. */
WorkerSession.prototype.encryptInto = async function (plaintext, out) {
  return copyInto(await this.encrypt(plaintext), out);
};

/** Decrypts into the start of `out`; resolves to the number of bytes written. */
WorkerSession.prototype.decryptInto = async function (ciphertext, out) {
  return copyInto(await this.decrypt(ciphertext), out);
};

/** A vault held by a dedicated worker. */
export class WorkerVault {
  constructor(connection, handle) {
    this.connection = connection;
    this.handle = handle;
  }

  /** Starts a worker and opens the vault in IndexedDB database `dbName` inside it. */
  static async open(dbName, options = {}) {
    const url = options.workerUrl ?? new URL('./worker.js', import.meta.url);
    const connection = new Connection(new Worker(url, { type: 'module' }));
    const { durability, backend, share } = options;
    const { handle } = await connection.call(0, 'open', [dbName, { durability, backend, share }]);
    return new WorkerVault(connection, handle);
  }

  async unlock(name, password, options) {
    const { handle } = await this.connection.call(this.handle, 'unlock', [name, password, options]);
    return new WorkerSession(this.connection, handle);
  }


  /** Stops the worker; every session of this vault ends with it. */
  terminate() {
    this.connection.worker.terminate();
  }
}
for (const method of VAULT_METHODS) {
  WorkerVault.prototype[method] = function (...args) {
    return this.connection.call(this.handle, method, args);
  };
}
/** The static `Vault` functions, called on the worker's module (they need no open vault). */
export const STATIC_METHODS = ['verify', 'verifyEthPersonal', 'ethAddress', 'decodeTransaction', 'syncRegister', 'syncLogin'];
for (const method of STATIC_METHODS) {
  WorkerVault.prototype[method] = function (...args) {
    return this.connection.call(0, method, args);
  };
}
