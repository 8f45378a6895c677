// The vault on redb over the Origin Private File System, in headless Chromium: chosen by
// default in the worker client, IndexedDB by choice or where OPFS cannot be held; a vault moved
// from IndexedDB, even when the move is interrupted; a second tab refused with STORAGE_BUSY; and
// workers terminated at random moments during acknowledged writes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBrowser } from './browser.mjs';

/** Worker terminations in the crash test (the issue asks for at least 100). */
const TERMINATIONS = Number(process.env.OPFS_TERMINATIONS ?? 100);

let chromiumAndPages;
let browser;
let base;

before(async () => {
  chromiumAndPages = await startBrowser();
  ({ browser, base } = chromiumAndPages);
});

after(async () => {
  await chromiumAndPages?.stop();
});

async function blankPage(context) {
  const page = await context.newPage();
  await page.goto(`${base}/test-pages/interop.html`);
  // A terminated worker's sync access handle is released by the browser shortly after: until
  // then the file is busy (STORAGE_BUSY), as it is for a second tab.
  await page.evaluate(() => {
    window.openRetrying = async (WorkerVault, name, options) => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await WorkerVault.open(name, options);
        } catch (e) {
          if (e.code !== 'STORAGE_BUSY' || attempt >= 200) throw e;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      }
    };
  });
  return page;
}

test('OPFS by default in the worker client, IndexedDB by choice, and where OPFS cannot be held', async () => {
  const context = await browser.newContext();
  const page = await blankPage(context);
  const r = await page.evaluate(async () => {
    const { WorkerVault } = await import('/pkg/client.js');
    const { default: init, Vault } = await import('/pkg/vault_wasm.js');
    const name = `choice-${Math.random()}`;
    const code = (p) => p.then(() => 'resolved', (e) => e.code);
    let vault = await WorkerVault.open(name);
    const byDefault = await vault.backend();
    await vault.createKeyspace('k', 'pw');
    let session = await vault.unlock('k', 'pw');
    await session.setSecret('s', new TextEncoder().encode('kept in OPFS'));
    vault.terminate();
    // A new worker (a reload): the same file, the same data.
    vault = await WorkerVault.open(name);
    session = await vault.unlock('k', 'pw');
    const reopened = new TextDecoder().decode(await session.getSecret('s'));
    vault.terminate();
    const idb = await WorkerVault.open(`${name}-idb`, { backend: 'indexeddb' });
    const forced = await idb.backend();
    idb.terminate();
    // The direct API on a page's main thread: no sync access handles there.
    await init();
    const direct = await Vault.open(`${name}-page`);
    const onPage = direct.backend();
    const opfsOnPage = await code(Vault.open(`${name}-page2`, { backend: 'opfs' }));
    const badBackend = await code(Vault.open(`${name}-x`, { backend: 'floppy' }));
    return { byDefault, reopened, forced, onPage, opfsOnPage, badBackend };
  });
  assert.deepEqual(r, {
    byDefault: 'opfs',
    reopened: 'kept in OPFS',
    forced: 'indexeddb',
    onPage: 'indexeddb',
    opfsOnPage: 'STORAGE_UNAVAILABLE',
    badBackend: 'INVALID_INPUT',
  });
  await context.close();
});

test('a vault in IndexedDB moves to OPFS, whole, even when the move is interrupted', async () => {
  const context = await browser.newContext();
  const page = await blankPage(context);
  const r = await page.evaluate(async () => {
    const { WorkerVault } = await import('/pkg/client.js');
    const name = `move-${Math.random()}`;
    const count = 3000;
    let vault = await WorkerVault.open(name, { backend: 'indexeddb' });
    await vault.createKeyspace('k', 'pw');
    let session = await vault.unlock('k', 'pw');
    const entries = [];
    for (let i = 0; i < count; i++) entries.push([`s${i}`, new TextEncoder().encode(`value ${i}`)]);
    await session.setSecrets(entries);
    vault.terminate();
    // The move starts in workers terminated at once, a little later, later still (the raw
    // worker protocol: the client would only hand the worker over once open resolved).
    for (const ms of [0, 5, 20, 60, 150, 400]) {
      const worker = new Worker('/pkg/worker.js', { type: 'module' });
      worker.postMessage({ id: 1, target: 0, method: 'open', args: [name, {}] });
      await new Promise((resolve) => setTimeout(resolve, ms));
      worker.terminate();
    }
    vault = await window.openRetrying(WorkerVault, name);
    const backend = await vault.backend();
    session = await vault.unlock('k', 'pw');
    const names = await session.listSecrets();
    let wrong = 0;
    for (const i of [0, 1, 1499, 2998, 2999]) {
      if (new TextDecoder().decode(await session.getSecret(`s${i}`)) !== `value ${i}`) wrong++;
    }
    vault.terminate();
    // IndexedDB was emptied after the switch: opening it by choice finds no keyspace.
    let idb = await WorkerVault.open(name, { backend: 'indexeddb' });
    const left = await idb.listKeyspaces();
    // A vault made there since is not the moved one: later OPFS opens leave it alone.
    await idb.createKeyspace('made later', 'pw');
    idb.terminate();
    for (let i = 0; i < 2; i++) (await window.openRetrying(WorkerVault, name)).terminate();
    idb = await WorkerVault.open(name, { backend: 'indexeddb' });
    const later = await idb.listKeyspaces();
    idb.terminate();
    return { backend, listed: names.length, wrong, left, later };
  });
  assert.deepEqual(r, { backend: 'opfs', listed: 3000, wrong: 0, left: [], later: ['made later'] });
  await context.close();
});

test('a second tab shares the OPFS vault through the first, and takes over when the first closes', async () => {
  const context = await browser.newContext();
  const first = await blankPage(context);
  const second = await blankPage(context);
  const name = `tabs-${Math.random()}`;
  await first.evaluate(async (name) => {
    const { WorkerVault } = await import('/pkg/client.js');
    window.vault = await WorkerVault.open(name);
    await window.vault.createKeyspace('k', 'pw');
    window.session = await window.vault.unlock('k', 'pw');
    await window.session.setSecret('from first', new TextEncoder().encode('1'));
  }, name);
  const r = await second.evaluate(async (name) => {
    const { WorkerVault } = await import('/pkg/client.js');
    window.vault = await WorkerVault.open(name);
    window.locks = [];
    const backend = await window.vault.backend();
    window.session = await window.vault.unlock('k', 'pw');
    window.session.onlock = (reason) => window.locks.push(reason);
    const read = new TextDecoder().decode(await window.session.getSecret('from first'));
    await window.session.setSecret('from second', new TextEncoder().encode('2'));
    return { backend, read };
  }, name);
  assert.deepEqual(r, { backend: 'opfs', read: '1' });
  // The first tab sees the second's write (one store, one owner).
  assert.equal(await first.evaluate(async () => new TextDecoder().decode(await window.session.getSecret('from second'))), '2');
  // Without sharing, another opener is refused, not silently given another store.
  const unshared = await second.evaluate(async (name) => {
    const { WorkerVault } = await import('/pkg/client.js');
    return WorkerVault.open(name, { share: false }).then((v) => { v.terminate(); return 'opened'; }, (e) => e.code);
  }, name);
  assert.equal(unshared, 'STORAGE_BUSY');
  // The first tab's worker ends: the second takes over. Its session went with the old owner.
  await first.evaluate(() => window.vault.terminate());
  await second.waitForFunction(() => window.locks.includes('owner'), null, { timeout: 20000 });
  const after = await second.evaluate(async () => {
    const code = (p) => p.then(() => 'resolved', (e) => e.code);
    const stale = await code(window.session.getSecret('from first'));
    const session = await window.vault.unlock('k', 'pw');
    const names = await session.listSecrets();
    await session.setSecret('after takeover', new TextEncoder().encode('3'));
    return { stale, names, backend: await window.vault.backend() };
  });
  assert.deepEqual(after, { stale: 'LOCKED', names: ['from first', 'from second'], backend: 'opfs' });
  // A new tab now follows the second.
  const third = await blankPage(context);
  const read = await third.evaluate(async (name) => {
    const { WorkerVault } = await import('/pkg/client.js');
    const vault = await WorkerVault.open(name);
    const session = await vault.unlock('k', 'pw');
    return new TextDecoder().decode(await session.getSecret('after takeover'));
  }, name);
  assert.equal(read, '3');
  await context.close();
});

test(`crash: ${TERMINATIONS} workers terminated during acknowledged writes lose nothing and half-apply nothing`, async () => {
  const context = await browser.newContext();
  const page = await blankPage(context);
  const r = await page.evaluate(async (terminations) => {
    const { WorkerVault } = await import('/pkg/client.js');
    const name = `crash-${Math.random()}`;
    const PER_BATCH = 4;
    const setup = await WorkerVault.open(name);
    await setup.createKeyspace('k', 'pw');
    setup.terminate();
    const acknowledged = new Set();
    let next = 0;
    let half = 0;
    let lost = 0;
    let checks = 0;
    for (let round = 0; round < terminations; round++) {
      const vault = await window.openRetrying(WorkerVault, name);
      const session = await vault.unlock('k', 'pw');
      // Everything acknowledged so far is there, and every batch is whole or absent.
      const names = new Set(await session.listSecrets());
      for (const n of acknowledged) if (!names.has(`b${n}-0`)) lost++;
      const counts = new Map();
      for (const s of names) {
        const n = s.slice(1, s.indexOf('-'));
        counts.set(n, (counts.get(n) ?? 0) + 1);
      }
      for (const c of counts.values()) if (c !== PER_BATCH) half++;
      checks++;
      // Write until terminated at a random moment.
      let stop = false;
      const writing = (async () => {
        while (!stop) {
          const n = next++;
          const batch = [];
          for (let j = 0; j < PER_BATCH; j++) batch.push([`b${n}-${j}`, new Uint8Array(64).fill(j)]);
          try {
            await session.setSecrets(batch);
            if (!stop) acknowledged.add(n);
          } catch {
            return;
          }
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 180));
      vault.terminate();
      stop = true;
      // The terminated worker never answers: its pending call is abandoned.
      await Promise.race([writing, new Promise((resolve) => setTimeout(resolve, 10))]);
    }
    return { checks, acknowledged: acknowledged.size, lost, half };
  }, TERMINATIONS);
  console.log(`crash test: ${JSON.stringify(r)}`);
  assert.equal(r.checks, TERMINATIONS);
  assert.ok(r.acknowledged > TERMINATIONS, `writes were acknowledged between terminations: ${JSON.stringify(r)}`);
  assert.equal(r.lost, 0, JSON.stringify(r));
  assert.equal(r.half, 0, JSON.stringify(r));
  await context.close();
});
