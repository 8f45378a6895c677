// The vault on redb over OPFS beside the vault on IndexedDB and idb-keyval, all in this one
// dedicated worker (OPFS sync access handles exist only in dedicated workers). Started by
// bench.html's `benchOpfs`; posts back its rows. Method as bench.html: warm-up, alternating
// blocks, median per operation.
import init, { Vault } from '/pkg/vault_wasm.js';
import { createStore, get, set, setMany } from '/node_modules/idb-keyval/dist/index.js';

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function block(fn, n, offset) {
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn(offset + i);
  return (performance.now() - t) / n;
}
// Each side's median block, per operation, the sides taking turns going first.
async function compare(sides, { warm, size, rounds }) {
  for (let i = 0; i < warm; i++) for (const side of sides) await side(i);
  const times = sides.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < sides.length; k++) {
      const s = (k + r) % sides.length;
      times[s].push(await block(sides[s], size, r * size));
    }
  }
  return times.map(median);
}

self.onmessage = async ({ data: { quick } }) => {
  try {
    await init();
    const scale = quick ? 0.1 : 1;
    const open = async (backend) => {
      const vault = await Vault.open(`bench-${backend}-${Math.random()}`, { backend, durability: 'strict' });
      await vault.createKeyspace('bench', 'benchmark password');
      return { vault, backend: vault.backend(), session: await vault.unlock('bench', 'benchmark password') };
    };
    const opfs = await open('opfs');
    const idb = await open('indexeddb');
    const store = createStore(`bench-keyval-${Math.random()}`, 'kv');
    const value = new Uint8Array(100).fill(7);
    const name = (i) => `secret-${i % 500}`;
    const rows = [];
    const batches = { warm: Math.ceil(10 * scale), size: 1, rounds: Math.ceil(21 * scale) };
    const entries = (i) => Array.from({ length: 1000 }, (_, j) => [`b-${i % 4}-${j}`, value]);
    let [o, i, k] = await compare([
      (n) => opfs.session.setSecrets(entries(n)),
      (n) => idb.session.setSecrets(entries(n)),
      (n) => setMany(entries(n), store),
    ], batches);
    rows.push({ op: 'setSecrets, 1,000 (batch)', opfs: o, idb: i, keyval: k, keyvalName: 'setMany' });
    const singles = { warm: Math.ceil(500 * scale), size: 10, rounds: Math.ceil(40 * scale) };
    [o, i, k] = await compare([
      (n) => opfs.session.setSecret(name(n), value),
      (n) => idb.session.setSecret(name(n), value),
      (n) => set(name(n), value, store),
    ], singles);
    rows.push({ op: 'setSecret, one', opfs: o, idb: i, keyval: k, keyvalName: 'set' });
    [o, i, k] = await compare([
      (n) => opfs.session.getSecret(name(n)),
      (n) => idb.session.getSecret(name(n)),
      (n) => get(name(n), store),
    ], singles);
    rows.push({ op: 'getSecret', opfs: o, idb: i, keyval: k, keyvalName: 'get' });
    [o, i] = await compare([
      () => opfs.vault.unlock('bench', 'benchmark password'),
      () => idb.vault.unlock('bench', 'benchmark password'),
    ], { warm: 1, size: 1, rounds: quick ? 1 : 5 });
    rows.push({ op: 'unlock (Argon2id 64 MiB, t=3)', opfs: o, idb: i, keyval: null, keyvalName: '' });
    self.postMessage({ ok: true, rows, backends: [opfs.backend, idb.backend] });
  } catch (e) {
    self.postMessage({ ok: false, error: `${e.code}: ${e.message}` });
  }
};
