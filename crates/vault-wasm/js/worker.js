// The vault's Web Worker: owns the wasm module and every vault and session object; the page
// talks to it through `client.js`. All Argon2id and crypto work happens here, off the page's
// thread. Calls reach the wasm objects in the order the page made them (messages are handled
// in order, and each session runs its calls in the order they reach it).
import init, { StreamCipher, Vault } from './vault_wasm.js';

const ready = init();
const objects = new Map();
let nextHandle = 1;

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
      value = method === 'open' ? keep(await Vault.open(...args)) : Vault[method](...args);
    } else {
      const object = objects.get(target);
      if (!object) {
        throw Object.assign(new Error('this vault or session was closed'), { code: 'INVALID_INPUT' });
      }
      if (method === 'close') {
        objects.delete(target);
        object.free();
      } else if (typeof object[method] !== 'function') {
        throw Object.assign(new Error(`no method ${method}`), { code: 'INVALID_INPUT' });
      } else {
        value = await object[method](...args);
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
