// The package's browser benchmark: headless Chromium (system /usr/bin/chromium) via Playwright,
// every row measured in the same page against a reference. Prints a table; asserts nothing.
//   cd crates/vault-wasm/tests-js && npm run bench      (after scripts/build-npm.sh; about 2 minutes)
//   npm run bench -- --quick                            (few rounds: a smoke run, not figures)
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARGS, CHROMIUM, startPages } from './browser.mjs';

const { server, base } = await startPages();
// A persistent profile on disk, as a user's: Playwright's default contexts are off the record,
// where Chromium keeps OPFS in memory behind IPC (writes ~10x slower than on disk, flush free),
// which would misrepresent both engines.
const profile = mkdtempSync(join(tmpdir(), 'vault-bench-profile-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  args: ARGS,
});
try {
  const page = await browser.newPage();
  await page.goto(`${base}/test-pages/bench.html`);
  await page.waitForFunction(() => window.benchReady === true);
  const quick = process.argv.includes('--quick');
  const { rows, isolated } = await page.evaluate((quick) => window.bench({ quick }), quick);
  console.log(`vault-wasm browser benchmark (headless Chromium, on-disk profile, direct mode on the page${quick ? ', QUICK: few rounds' : ''})`);
  console.log('after warm-up; ours and the reference alternate; median per operation;'
    + ` ${isolated ? '5 us' : '100 us (NOT cross-origin isolated)'} timer`);
  const fmt = (ms) => (ms < 1 ? `${(ms * 1000).toFixed(1)} us` : `${ms.toFixed(2)} ms`).padStart(10);
  console.log(`${'operation'.padEnd(30)} ${'ours'.padStart(10)} ${'reference'.padStart(10)} ${'ratio'.padStart(6)}  reference / target`);
  for (const r of rows) {
    console.log(`${r.op.padEnd(30)} ${fmt(r.ours)} ${fmt(r.ref)} ${(r.ours / r.ref).toFixed(2).padStart(6)}  ${r.refName} / ${r.target}${/crypt(Into)? 1 MiB/.test(r.op) ? `; ours ${(1.048576 / r.ours).toFixed(2)} GB/s, target >= 0.35` : ''}`);
  }
  const opfs = await page.evaluate((quick) => window.benchOpfs({ quick }), quick);
  console.log(`\nvault on redb over OPFS beside the vault on IndexedDB and idb-keyval, in one dedicated worker (${opfs.backends.join(' / ')}; strict durability for both vaults; idb-keyval uses the browser's default)`);
  console.log(`${'operation'.padEnd(30)} ${'opfs'.padStart(10)} ${'indexeddb'.padStart(10)} ${'idb-keyval'.padStart(10)} ${'opfs items/s'.padStart(13)} ${'vs idb'.padStart(7)} ${'vs keyval'.padStart(9)}`);
  for (const r of opfs.rows) {
    const items = /1,000/.test(r.op) ? 1000 : 1;
    const keyval = r.keyval === null ? '—'.padStart(10) : fmt(r.keyval);
    const vsKeyval = r.keyval === null ? '—' : `${(r.keyval / r.opfs).toFixed(2)}x`;
    console.log(`${r.op.padEnd(30)} ${fmt(r.opfs)} ${fmt(r.idb)} ${keyval} ${(items / (r.opfs / 1000)).toFixed(0).padStart(13)} ${`${(r.idb / r.opfs).toFixed(2)}x`.padStart(7)} ${vsKeyval.padStart(9)}`);
  }
  const ks = await page.evaluate((quick) => window.benchKeystore({ quick }), quick);
  console.log(`\nkeystore v3 import, scrypt n = ${ks.n}, r = 8, p = 1 (median of ${quick ? 1 : 3}): ours in the worker client beside ethers' JavaScript scrypt on the page`);
  console.log(`${'operation'.padEnd(30)} ${'ours'.padStart(10)} ${'ethers'.padStart(10)} ${'ratio'.padStart(6)}  page long tasks (ours / ethers)`);
  console.log(`${'importKeystore'.padEnd(30)} ${fmt(ks.ours)} ${fmt(ks.ref)} ${(ks.ours / ks.ref).toFixed(2).padStart(6)}  ${ks.longTasks.ours} / ${ks.longTasks.ref} (longest ethers task ${ks.longTasks.longestRef.toFixed(0)} ms)${ks.sameAddress ? '' : '  ADDRESS MISMATCH'}`);
} finally {
  await browser.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
