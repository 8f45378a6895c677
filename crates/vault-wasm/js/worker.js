// The vault's Web Worker: owns the wasm module and every vault and session object; the page
// talks to it through `client.js`. All Argon2id and crypto work happens here, off the page's
// thread. Calls reach the wasm objects in the order the page made them (messages are handled
// in order, and each session runs its calls in the order they reach it).
import init, { StreamCipher, Vault } from './vault_wasm.js';

const ready = init();
const objects = new Map();
let nextHandle = 1;

// Background sync: per session handle, the server, token and timer (see startSync).
const syncs = new Map();
// Session calls that change the keyspace: a background sync follows them shortly.
const WRITES = new Set([
  'setSecret', 'setSecrets', 'deleteSecret', 'generateKey', 'importKey', 'renameKey', 'deleteKey',
  'restoreHistory',
]);
const SYNC_AFTER_WRITE_MS = 300;

// One background sync of session `handle` (never two at once); its outcome goes to the page.
async function syncNow(handle) {
  const sync = syncs.get(handle);
  const session = objects.get(handle);
  if (!sync || !session || sync.running) return;
  sync.running = true;
  try {
    const report = await session.sync(sync.server, sync.token);
    self.postMessage({ event: 'sync', handle, report });
  } catch (error) {
    self.postMessage({
      event: 'sync',
      handle,
      error: { message: String(error?.message ?? error), code: error?.code ?? 'STORAGE_ERROR' },
    });
  } finally {
    sync.running = false;
  }
}

function stopSync(handle) {
  const sync = syncs.get(handle);
  if (!sync) return;
  clearInterval(sync.interval);
  clearTimeout(sync.soon);
  sync.watching.abort();
  syncs.delete(handle);
}

// The server's push: a long poll on the account's change feed (the namespace the vault syncs
// in). Whenever another device's batch lands, a sync follows; on an error, it waits and polls
// again (the interval sync goes on regardless).
const NAMESPACE = 'vault';
const WAIT_S = 25;
async function watch(handle, sync) {
  const url = (since, wait) =>
    `${sync.server.replace(/\/$/, '')}/v1/ns/${NAMESPACE}/changes?since=${since}&limit=1&wait=${wait}`;
  const poll = async (since, wait) => {
    const response = await fetch(url(since, wait), {
      // The credential is the session token, a dot, and the names key (never sent).
      headers: { authorization: `Bearer ${sync.token.split('.')[0]}` },
      signal: sync.watching.signal,
    });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    return response.json();
  };
  let since = null;
  while (syncs.get(handle) === sync) {
    try {
      if (since === null) {
        since = (await poll(0, 0)).last_version;
        continue;
      }
      const { changes, last_version: last } = await poll(since, WAIT_S);
      if (changes.length > 0) {
        since = last;
        syncNow(handle);
      }
    } catch (error) {
      if (sync.watching.signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 5000));
    }
  }
}

function startSync(handle, { server, token, intervalMs = 30000 } = {}) {
  if (typeof server !== 'string' || typeof token !== 'string') {
    throw Object.assign(new Error('startSync needs { server, token }'), { code: 'INVALID_INPUT' });
  }
  if (!(Number.isFinite(intervalMs) && intervalMs >= 100)) {
    throw Object.assign(new Error('intervalMs must be at least 100'), { code: 'INVALID_INPUT' });
  }
  stopSync(handle);
  const sync = { server, token, running: false, watching: new AbortController() };
  sync.interval = setInterval(() => syncNow(handle), intervalMs);
  syncs.set(handle, sync);
  syncNow(handle);
  watch(handle, sync);
}

function keep(object) {
  const handle = nextHandle++;
  objects.set(handle, object);
  return { handle };
}

self.onmessage = async ({ data: { id, target, method, args } }) => {
  try {
    await ready;
    let value;
    if (target === 0) {
      value = method === 'open' ? keep(await Vault.open(...args)) : await Vault[method](...args);
    } else {
      const object = objects.get(target);
      if (!object) {
        throw Object.assign(new Error('this vault or session was closed'), { code: 'INVALID_INPUT' });
      }
      if (method === 'close') {
        stopSync(target);
        objects.delete(target);
        object.free();
      } else if (method === 'startSync') {
        startSync(target, args[0]);
      } else if (method === 'stopSync') {
        stopSync(target);
      } else if (typeof object[method] !== 'function') {
        throw Object.assign(new Error(`no method ${method}`), { code: 'INVALID_INPUT' });
      } else {
        value = await object[method](...args);
        const sync = syncs.get(target);
        if (sync && WRITES.has(method)) {
          clearTimeout(sync.soon);
          sync.soon = setTimeout(() => syncNow(target), SYNC_AFTER_WRITE_MS);
        }
        if (value instanceof StreamCipher) value = keep(value);
        if (object instanceof Vault && method === 'unlock') {
          const session = value;
          value = keep(session);
          const { handle } = value;
          session.onlock = (reason) => self.postMessage({ event: 'lock', handle, reason });
        }
      }
    }
    self.postMessage({ id, ok: true, value });
  } catch (error) {
    self.postMessage({
      id,
      ok: false,
      error: { message: String(error?.message ?? error), code: error?.code ?? 'STORAGE_ERROR' },
    });
  } finally {
    // This worker's copies of byte arguments (passwords, secrets, plaintexts, keys) are wiped;
    // the page's own arrays are the page's to wipe.
    for (const arg of args ?? []) if (arg instanceof Uint8Array) arg.fill(0);
  }
};
