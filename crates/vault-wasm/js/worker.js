// The vault's Web Worker: owns the wasm module and every vault and session object; the page
// talks to it through `client.js`. All Argon2id and crypto work happens here, off the page's
// thread. Calls reach the wasm objects in the order the page made them (messages are handled
// in order, and each session runs its calls in the order they reach it).
//
// Several tabs, one vault: an OPFS vault can be open in one worker only (a sync access handle
// is exclusive). The first worker to open vault NAME takes the Web Lock `vault-wasm:NAME` and
// owns the file (the *leader*); the workers of other tabs (*followers*) forward their calls to
// it over the BroadcastChannel of the same name. When the leader's tab closes, the browser
// releases its lock and one follower takes over: it opens the file itself, and the sessions it
// had through the old leader are gone (their keys were there): the page gets `onlock("owner")`
// and their calls reject with LOCKED until it unlocks again. `{ share: false }` opts out (a
// second tab then gets STORAGE_BUSY).
import init, { StreamCipher, Vault } from './vault_wasm.js';

const ready = init();
const objects = new Map();
/** Who gets the events of each handle (lock and sync events): this worker's page or a follower. */
const owners = new Map();
const toPage = (event) => self.postMessage(event);

// Background sync: per session handle, the server, token and timer (see startSync).
const syncs = new Map();
// Session calls that change the keyspace: a background sync follows them shortly.
const WRITES = new Set([
  'setSecret', 'setSecrets', 'deleteSecret', 'generateKey', 'importKey', 'renameKey', 'deleteKey',
  'restoreHistory',
]);
const SYNC_AFTER_WRITE_MS = 300;

const failure = (error) => ({
  message: String(error?.message ?? error), code: error?.code ?? 'STORAGE_ERROR',
});
const coded = (message, code) => Object.assign(new Error(message), { code });

// One background sync of session `handle` (never two at once); its outcome goes to the page.
async function syncNow(handle) {
  const sync = syncs.get(handle);
  const session = objects.get(handle);
  if (!sync || !session || sync.running) return;
  sync.running = true;
  const emit = owners.get(handle) ?? toPage;
  try {
    const report = await session.sync(sync.server, sync.token);
    emit({ event: 'sync', handle, report });
  } catch (error) {
    emit({ event: 'sync', handle, error: failure(error) });
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
    throw coded('startSync needs { server, token }', 'INVALID_INPUT');
  }
  if (!(Number.isFinite(intervalMs) && intervalMs >= 100)) {
    throw coded('intervalMs must be at least 100', 'INVALID_INPUT');
  }
  stopSync(handle);
  const sync = { server, token, running: false, watching: new AbortController() };
  sync.interval = setInterval(() => syncNow(handle), intervalMs);
  syncs.set(handle, sync);
  syncNow(handle);
  watch(handle, sync);
}

// Handles are random: after a leader changes, a follower's old handles must not name another
// tab's objects in the new leader.
function keep(object, emit = toPage) {
  let handle;
  do handle = 1 + Math.floor(Math.random() * 2 ** 48); while (objects.has(handle));
  objects.set(handle, object);
  owners.set(handle, emit);
  return { handle };
}

// ---------------------------------------------------------------- opening, leader, follower

/** The vaults this worker leads, by name: { handle } of the shared Vault object. */
const led = new Map();
/** This worker's vault as a follower, if it is one: see follow(). */
let follower = null;

const lockName = (name) => `vault-wasm:${name}`;
const canShare = () => typeof BroadcastChannel === 'function' && self.navigator?.locks;

/** Opens vault `name` here, retrying while a previous owner's file handle is being released. */
async function openHere(name, options) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await Vault.open(name, options);
    } catch (error) {
      if (error?.code !== 'STORAGE_BUSY' || attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Serves vault `name`'s followers over its BroadcastChannel. */
function lead(name, handle) {
  led.set(name, { handle });
  const channel = new BroadcastChannel(lockName(name));
  channel.onmessage = async ({ data }) => {
    if (data?.kind !== 'request') return;
    const { from, id, target, method, args } = data;
    const emit = (event) => channel.postMessage({ kind: 'event', to: from, event });
    try {
      // A follower's `open` gets the vault this worker already has open.
      const value = target === 0 && method === 'open'
        ? { handle }
        : await execute({ target, method, args }, emit);
      channel.postMessage({ kind: 'reply', to: from, id, ok: true, value });
    } catch (error) {
      channel.postMessage({ kind: 'reply', to: from, id, ok: false, error: failure(error) });
    } finally {
      for (const arg of args ?? []) if (arg instanceof Uint8Array) arg.fill(0);
    }
  };
}

/** Opens vault `name`: as its leader when no worker leads it, else as a follower. */
async function open(name, options = {}) {
  const opts = typeof options === 'object' && options !== null ? options : { durability: options };
  if (led.has(name)) return { handle: led.get(name).handle };
  if (opts.share === false || opts.backend === 'indexeddb' || !canShare()) {
    return keep(await Vault.open(name, opts));
  }
  const leader = await new Promise((resolve) => {
    navigator.locks.request(lockName(name), { ifAvailable: true }, (lock) => {
      resolve(lock !== null);
      // Held for this worker's life: the browser releases it when the worker ends.
      return lock ? new Promise(() => {}) : undefined;
    });
  });
  if (leader) {
    const kept = keep(await openHere(name, opts));
    lead(name, kept.handle);
    return kept;
  }
  return follow(name, opts);
}

/** Forwards this worker's calls to the leader of vault `name`, and takes over when it goes. */
async function follow(name, options) {
  const channel = new BroadcastChannel(lockName(name));
  const from = `${Date.now()}-${Math.random()}`;
  const pending = new Map();
  let nextId = 1;
  follower = { name, channel, pending, sessions: new Set() };
  channel.onmessage = ({ data }) => {
    if (data?.to !== from) return;
    if (data.kind === 'event') {
      toPage(data.event);
      return;
    }
    const call = pending.get(data.id);
    if (!call) return;
    pending.delete(data.id);
    if (data.ok) call.resolve(data.value);
    else call.reject(coded(data.error.message, data.error.code));
  };
  follower.call = (target, method, args) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject, open: target === 0 && method === 'open' });
    channel.postMessage({ kind: 'request', from, id, target, method, args });
  });
  // Take over when the leader goes (its lock is released with its worker).
  navigator.locks.request(lockName(name), async () => {
    const vault = await openHere(name, options);
    const was = follower;
    follower = null;
    channel.close();
    tookOver = true;
    // The page keeps its vault handle; the sessions it had through the leader are gone.
    let handle = was.vaultHandle;
    if (handle === undefined) handle = keep(vault).handle;
    objects.set(handle, vault);
    owners.set(handle, toPage);
    for (const lost of was.sessions) toPage({ event: 'lock', handle: lost, reason: 'owner' });
    for (const call of pending.values()) {
      // An `open` still waiting (the leader went before answering: a worker terminated while
      // this one asked) gets the vault this worker now holds; any other call had its session
      // in the old leader.
      if (call.open) call.resolve({ handle });
      else call.reject(coded('the tab that held this vault closed: unlock again', 'LOCKED'));
    }
    lead(name, handle);
    return new Promise(() => {});
  });
  const mine = follower;
  const value = await mine.call(0, 'open', [name, options]);
  mine.vaultHandle = value.handle;
  return value;
}

/** Whether this worker took a vault over from a leader that went away: a handle it does not know
 * is then one of the sessions that went with it. */
let tookOver = false;

// ---------------------------------------------------------------- calls

/** Runs one call on this worker's objects; `emit` gets the events of what it creates. */
async function execute({ target, method, args }, emit) {
  if (target === 0) return Vault[method](...args);
  const object = objects.get(target);
  if (!object) {
    if (tookOver) throw coded('the tab that held this vault closed: unlock again', 'LOCKED');
    throw coded('this vault or session was closed', 'INVALID_INPUT');
  }
  if (method === 'close') {
    stopSync(target);
    objects.delete(target);
    owners.delete(target);
    object.free();
    return undefined;
  }
  if (method === 'startSync') return startSync(target, args[0]);
  if (method === 'stopSync') return stopSync(target);
  if (typeof object[method] !== 'function') throw coded(`no method ${method}`, 'INVALID_INPUT');
  let value = await object[method](...args);
  const sync = syncs.get(target);
  if (sync && WRITES.has(method)) {
    clearTimeout(sync.soon);
    sync.soon = setTimeout(() => syncNow(target), SYNC_AFTER_WRITE_MS);
  }
  if (value instanceof StreamCipher) value = keep(value, emit);
  if (object instanceof Vault && method === 'unlock') {
    const session = value;
    value = keep(session, emit);
    const { handle } = value;
    session.onlock = (reason) => (owners.get(handle) ?? emit)({ event: 'lock', handle, reason });
  }
  return value;
}

self.onmessage = async ({ data: { id, target, method, args } }) => {
  try {
    await ready;
    let value;
    if (target === 0 && method === 'open') {
      value = await open(...args);
    } else if (follower && target !== 0) {
      const mine = follower;
      value = await mine.call(target, method, args);
      if (method === 'unlock' && value?.handle !== undefined) mine.sessions.add(value.handle);
    } else {
      value = await execute({ target, method, args }, toPage);
    }
    self.postMessage({ id, ok: true, value });
  } catch (error) {
    self.postMessage({ id, ok: false, error: failure(error) });
  } finally {
    // This worker's copies of byte arguments (passwords, secrets, plaintexts, keys) are wiped;
    // the page's own arrays are the page's to wipe.
    for (const arg of args ?? []) if (arg instanceof Uint8Array) arg.fill(0);
  }
};
