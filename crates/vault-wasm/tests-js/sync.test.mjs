// Sync end to end: the real vault-server binary on the real PostgreSQL (scripts/test.sh starts a
// private one and sets KVSTORE_POSTGRES_URL), two CLI stores and one browser client (the worker
// client in headless Chromium) syncing one keyspace: create, edit, delete, conflicting offline
// edits (the loser kept as history and restored), background sync, password change and rekey.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { ARGS, CHROMIUM, startPages } from './browser.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TARGET = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
const VAULT = join(TARGET, 'debug', 'vault');
const VAULT_SERVER = join(TARGET, 'debug', 'vault-server');

let pages;
let base;
let vaultServer;
let serverUrl;
let browser;
const dirs = [];
// The CLI's environment, without a password or store of the caller's.
const CLI_ENV = { ...process.env };
delete CLI_ENV.VAULT_PASSWORD;
delete CLI_ENV.VAULT_STORE;

before(async () => {
  const database = process.env.KVSTORE_POSTGRES_URL;
  assert.ok(database, 'KVSTORE_POSTGRES_URL is not set: run scripts/test.sh (it starts a private PostgreSQL)');
  ({ server: pages, base } = await startPages());
  vaultServer = spawn(VAULT_SERVER, ['--database-url', database, '--listen', '127.0.0.1:0',
    '--allow-origin', base], { stdio: ['ignore', 'pipe', 'inherit'] });
  serverUrl = await new Promise((resolve, reject) => {
    let out = '';
    vaultServer.on('exit', (code) => reject(new Error(`vault-server exited with ${code}`)));
    vaultServer.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (\S+)/);
      if (m) resolve(`http://${m[1]}`);
    });
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

after(async () => {
  await browser?.close();
  vaultServer?.kill('SIGTERM');
  await new Promise((resolve) => pages?.close(resolve));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A CLI store in a temporary directory, with its password file. */
function cliStore(password) {
  const dir = mkdtempSync(join(tmpdir(), 'vault-sync-e2e-'));
  dirs.push(dir);
  const store = {
    password(pw) { writeFileSync(join(dir, 'pw'), `${pw}\n`); },
    run(args, input) {
      return execFileSync(VAULT, ['--store', join(dir, 'store'), '--password-file', join(dir, 'pw'), ...args], {
        input, encoding: 'utf8', env: CLI_ENV,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    },
    /** Exit status and stderr of a command expected to fail. */
    fails(args) {
      try {
        store.run(args);
      } catch (error) {
        return { status: error.status, stderr: String(error.stderr) };
      }
      throw new Error(`vault ${args.join(' ')} succeeded`);
    },
  };
  store.newPasswordFile = join(dir, 'new-pw');
  store.password(password);
  return store;
}

test('two CLI stores and a browser sync one keyspace through vault-server on PostgreSQL', async () => {
  const account = `e2e-${Math.random().toString(16).slice(2, 10)}`;
  const a = cliStore('account and keyspace pw');
  const b = cliStore('account and keyspace pw');
  a.run(['sync', 'register', '--server', serverUrl, '--account', account]);
  a.run(['sync', 'login', '--server', serverUrl, '--account', account]);
  b.run(['sync', 'login', '--server', serverUrl, '--account', account]);
  a.run(['keyspace', 'create', 'team']);
  a.run(['secret', 'set', 'team', 'wifi'], 'v1');
  a.run(['secret', 'set', 'team', 'doomed'], 'to be deleted');
  a.run(['sync', 'keyspace', 'team']);

  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/test-pages/interop.html`);
  const text = (bytes) => new TextDecoder().decode(bytes);
  await page.evaluate(async ({ serverUrl, account }) => {
    const { WorkerVault } = await import('/pkg/client.js');
    const vault = await WorkerVault.open(`sync-${Math.random()}`);
    const token = await vault.syncLogin(serverUrl, account, 'account and keyspace pw');
    // A wrong account password is refused before anything is fetched.
    window.badLogin = await vault.syncLogin(serverUrl, account, 'nope').then(() => 'ok', (e) => e.code);
    await vault.cloneKeyspace(serverUrl, token, 'team', 'account and keyspace pw');
    window.sync = { vault, token, serverUrl, session: await vault.unlock('team', 'account and keyspace pw') };
  }, { serverUrl, account });
  assert.equal(await page.evaluate(() => window.badLogin), 'STORAGE_ERROR');
  const browserGet = (name) => page.evaluate(async (name) => {
    const bytes = await window.sync.session.getSecret(name).catch((e) => e.code);
    return typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes);
  }, name);
  const browserSet = (name, value) => page.evaluate(
    ([name, value]) => window.sync.session.setSecret(name, new TextEncoder().encode(value)), [name, value]);
  const browserSync = () => page.evaluate(() => window.sync.session.sync(window.sync.serverUrl, window.sync.token));
  assert.equal(await browserGet('wifi'), 'v1');

  // The browser adds a secret; the second CLI store clones and sees both devices' writes.
  await browserSet('from-browser', 'hello from chromium');
  const pushed = await browserSync();
  assert.equal(pushed.pushed, 1);
  b.run(['sync', 'clone', 'team']);
  assert.equal(b.run(['secret', 'get', 'team', 'from-browser']), 'hello from chromium');
  assert.equal(b.run(['secret', 'get', 'team', 'wifi']), 'v1');

  // Background sync, with an interval far longer than this test: what follows arrives by the
  // server's push (the worker's long poll on the change feed) and by the sync after a write.
  await page.evaluate(() => {
    window.sync.reports = [];
    window.sync.session.onsync = (error, report) => window.sync.reports.push(error ? { error: error.code } : report);
    return window.sync.session.startSync({ server: window.sync.serverUrl, token: window.sync.token, intervalMs: 600000 });
  });
  await page.waitForFunction(() => window.sync.reports.length >= 1);
  // Edit and delete on b; the server's push makes the browser sync them in.
  b.run(['secret', 'set', 'team', 'wifi'], 'v2');
  b.run(['secret', 'delete', 'team', 'doomed']);
  b.run(['sync', 'keyspace', 'team']);
  await page.waitForFunction(() => window.sync.reports.some((r) => r.error || r.pulled > 0), null, { timeout: 30000 });
  const pulled = await page.evaluate(() => window.sync.reports.find((r) => r.error || r.pulled > 0));
  assert.equal(pulled.error, undefined, JSON.stringify(pulled));
  assert.equal(pulled.pulled, 2);
  assert.equal(await browserGet('wifi'), 'v2');
  assert.equal(await browserGet('doomed'), 'NOT_FOUND');
  // A change made in the browser goes out by itself (a sync follows each write).
  await page.evaluate(() => window.sync.session.setSecret('auto', new TextEncoder().encode('pushed in the background')));
  await page.waitForFunction(() => window.sync.reports.some((r) => r.error || r.pushed > 0), null, { timeout: 30000 });
  const followed = await page.evaluate(() => window.sync.reports.find((r) => r.error || r.pushed > 0));
  assert.equal(followed.pushed, 1, JSON.stringify(followed));
  await page.evaluate(() => window.sync.session.stopSync());
  a.run(['sync', 'keyspace', 'team']);
  assert.equal(a.run(['secret', 'get', 'team', 'auto']), 'pushed in the background');

  // Conflicting offline edits: a syncs first and wins; the browser's value is kept as history
  // and restored, and reaches a again.
  a.run(['secret', 'set', 'team', 'wifi'], 'from a, offline');
  await browserSet('wifi', 'from the browser, offline');
  a.run(['sync', 'keyspace', 'team']);
  const conflicted = await browserSync();
  assert.equal(conflicted.conflicts, 1);
  assert.equal(await browserGet('wifi'), 'from a, offline');
  const history = await page.evaluate(() => window.sync.session.listHistory());
  assert.equal(history.length, 1);
  assert.equal(history[0].name, 'wifi');
  assert.equal(history[0].item, 'secret');
  await page.evaluate((id) => window.sync.session.restoreHistory(id), history[0].id);
  assert.equal(await browserGet('wifi'), 'from the browser, offline');
  await browserSync();
  a.run(['sync', 'keyspace', 'team']);
  b.run(['sync', 'keyspace', 'team']);
  assert.equal(a.run(['secret', 'get', 'team', 'wifi']), 'from the browser, offline');
  assert.equal(b.run(['secret', 'get', 'team', 'wifi']), 'from the browser, offline');
  assert.equal(b.run(['secret', 'list', 'team']).split('\n').filter(Boolean).sort().join(','),
    'auto,from-browser,wifi');

  // A password change in the browser reaches both CLI stores: the old password stops working.
  await page.evaluate(() => window.sync.vault.changePassword('team', 'account and keyspace pw', 'new keyspace pw'));
  await browserSync();
  a.run(['sync', 'keyspace', 'team']);
  const old = a.fails(['secret', 'get', 'team', 'wifi']);
  assert.equal(old.status, 3, old.stderr);
  a.password('new keyspace pw');
  assert.equal(a.run(['secret', 'get', 'team', 'wifi']), 'from the browser, offline');

  // A rekey on a reaches the browser and b, each adopting it with the new password.
  writeFileSync(a.newPasswordFile, 'rekeyed pw\n');
  a.run(['--new-password-file', a.newPasswordFile, 'keyspace', 'rekey', 'team']);
  a.password('rekeyed pw');
  a.run(['secret', 'set', 'team', 'after-rekey'], 'only under the new key');
  a.run(['sync', 'keyspace', 'team']);
  const stale = await page.evaluate(() => window.sync.session.sync(window.sync.serverUrl, window.sync.token)
    .then(() => null, (e) => ({ code: e.code, message: e.message })));
  assert.equal(stale?.code, 'NOT_FOUND');
  assert.match(stale.message, /re-keyed/);
  await page.evaluate(() => window.sync.session.adoptRekeyed(window.sync.serverUrl, window.sync.token, 'rekeyed pw'));
  assert.equal(await browserGet('after-rekey'), 'only under the new key');
  assert.equal((await browserSync()).conflicts, 0);
  const unlockOld = await page.evaluate(() => window.sync.vault.unlock('team', 'new keyspace pw').then(() => 'ok', (e) => e.code));
  assert.equal(unlockOld, 'WRONG_PASSWORD');
  // b never synced the password change: its current password is still the first one.
  const notFound = b.fails(['sync', 'keyspace', 'team']);
  assert.equal(notFound.status, 4, notFound.stderr);
  assert.match(notFound.stderr, /re-keyed/);
  writeFileSync(b.newPasswordFile, 'rekeyed pw\n');
  b.run(['--new-password-file', b.newPasswordFile, 'sync', 'adopt', 'team']);
  b.password('rekeyed pw');
  assert.equal(b.run(['secret', 'get', 'team', 'after-rekey']), 'only under the new key');
  assert.equal(b.run(['secret', 'get', 'team', 'wifi']), 'from the browser, offline');
  await context.close();
});
