// Writes crates/vault-cli/tests/fixtures/browser.backup: a keyspace backup exported by the
// JavaScript package in headless Chromium, which the CLI's tests import. Run after a
// deliberate backup-format change: `node make-browser-backup.mjs` (after scripts/build-npm.sh).
import { writeFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { serve } from '../../../scripts/serve.mjs';

const server = await serve(0);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/test-pages/backup.html`);
  const bytes = await page.evaluate(() => window.makeBrowserBackup());
  const out = new URL('../../vault-cli/tests/fixtures/browser.backup', import.meta.url);
  await writeFile(out, Uint8Array.from(bytes));
  console.log(`wrote ${bytes.length} bytes to ${out.pathname}`);
} finally {
  await browser.close();
  server.close();
}
