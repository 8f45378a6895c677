// Writes crates/vault-cli/tests/fixtures/browser.backup: a keyspace backup exported by the
// JavaScript package in headless Chromium, which the CLI's tests import. Run after a
// deliberate backup-format change: `node make-browser-backup.mjs` (after scripts/build-npm.sh).
import { writeFile } from 'node:fs/promises';
import { startBrowser } from './browser.mjs';

const { browser, base, stop } = await startBrowser();
try {
  const page = await browser.newPage();
  await page.goto(`${base}/test-pages/backup.html`);
  const bytes = await page.evaluate(() => window.makeBrowserBackup());
  const out = new URL('../../vault-cli/tests/fixtures/browser.backup', import.meta.url);
  await writeFile(out, Uint8Array.from(bytes));
  console.log(`wrote ${bytes.length} bytes to ${out.pathname}`);
} finally {
  await stop();
}
