// The package's browser benchmark: headless Chromium (system /usr/bin/chromium) via Playwright,
// every row measured in the same page against a reference. Prints a table; asserts nothing.
//   cd crates/vault-wasm/tests-js && npm run bench      (after scripts/build-npm.sh)
import { chromium } from 'playwright-core';
import { serve } from '../../../scripts/serve.mjs';

const server = await serve(0);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/test-pages/bench.html`);
  await page.waitForFunction(() => window.benchReady === true);
  const rows = await page.evaluate(() => window.bench());
  console.log('vault-wasm browser benchmark (headless Chromium, medians, direct mode on the page)');
  console.log(`${'operation'.padEnd(32)} ${'ours'.padStart(10)} ${'reference'.padStart(10)} ${'ratio'.padStart(6)}  reference / target`);
  for (const r of rows) {
    console.log(`${r.op.padEnd(32)} ${r.ours.toFixed(2).padStart(7)} ms ${r.ref.toFixed(2).padStart(7)} ms ${(r.ours / r.ref).toFixed(2).padStart(6)}  ${r.refName} / ${r.target}`);
  }
} finally {
  await browser.close();
  server.close();
}
