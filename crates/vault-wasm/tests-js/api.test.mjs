// One list of methods: the worker client forwards exactly the bindings' methods, and
// client.d.ts declares exactly what the client offers. Runs in Node on the built package (no
// browser: the wasm is not instantiated).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Session, Vault } from '../pkg/vault_wasm.js';
import { COPY_METHODS, SESSION_METHODS, STATIC_METHODS, STREAM_METHODS, VAULT_METHODS, WorkerSession, WorkerVault } from '../pkg/client.js';

const GLUE = new Set(['constructor', 'free', '__destroy_into_raw', '__wrap', 'length', 'name', 'prototype']);

function methods(object) {
  return Object.getOwnPropertyNames(object)
    .filter((name) => !GLUE.has(name) && typeof name === 'string')
    .filter((name) => typeof Object.getOwnPropertyDescriptor(object, name).value === 'function')
    .sort();
}

function setters(object) {
  return Object.getOwnPropertyNames(object)
    .filter((name) => Object.getOwnPropertyDescriptor(object, name).set)
    .sort();
}

// Method names declared in `export declare class NAME { ... }` of a .d.ts file.
function declared(dts, className) {
  const body = dts.split(`export declare class ${className}`)[1].split('\n}')[0];
  return [...body.matchAll(/^\s+(?:static\s+)?([a-zA-Z]+)\(/gm)].map((m) => m[1]).sort();
}

test('the worker client forwards every Session method of the bindings, and only those', () => {
  assert.deepEqual([...SESSION_METHODS, ...STREAM_METHODS, ...COPY_METHODS].sort(), methods(Session.prototype));
  assert.deepEqual(setters(Session.prototype), ['onlock'], 'onlock is the only setter');
  for (const method of [...SESSION_METHODS, ...STREAM_METHODS, ...COPY_METHODS]) {
    assert.equal(typeof WorkerSession.prototype[method], 'function', method);
  }
});

test('the worker client offers every Vault method and static function of the bindings', () => {
  assert.deepEqual([...VAULT_METHODS, 'unlock'].sort(), methods(Vault.prototype));
  assert.deepEqual([...STATIC_METHODS, 'open'].sort(), methods(Vault));
  for (const method of [...VAULT_METHODS, ...STATIC_METHODS, 'unlock']) {
    assert.equal(typeof WorkerVault.prototype[method], 'function', method);
  }
});

test('client.d.ts declares exactly what the worker client offers', async () => {
  const dts = await readFile(new URL('../pkg/client.d.ts', import.meta.url), 'utf8');
  assert.deepEqual(
    declared(dts, 'WorkerSession'),
    [...SESSION_METHODS, ...STREAM_METHODS, ...COPY_METHODS, 'close', 'startSync', 'stopSync'].sort(),
  );
  assert.deepEqual(
    declared(dts, 'WorkerVault'),
    [...VAULT_METHODS, ...STATIC_METHODS, 'open', 'unlock', 'terminate'].sort(),
  );
  assert.match(dts, /onlock: \(\(reason: LockReason \| 'owner'\) => void\) \| null;/);
});

test('npm pack ships the module, its types, the worker client, the snippets and the licenses', async () => {
  const { execFileSync } = await import('node:child_process');
  const pkg = new URL('../pkg/', import.meta.url);
  const [report] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: pkg, encoding: 'utf8' }));
  const files = report.files.map((f) => f.path).sort();
  for (const needed of ['vault_wasm.js', 'vault_wasm.d.ts', 'vault_wasm_bg.wasm', 'client.js', 'client.d.ts',
    'worker.js', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE', 'package.json']) {
    assert.ok(files.includes(needed), `${needed} missing from ${files}`);
  }
  assert.ok(files.some((f) => f.startsWith('snippets/')), 'the inline JavaScript snippets are shipped');
  const manifest = JSON.parse(await readFile(new URL('package.json', pkg), 'utf8'));
  assert.equal(manifest.license, 'MIT OR Apache-2.0');
  for (const [entry, target] of Object.entries(manifest.exports)) {
    const paths = typeof target === 'string' ? [target] : Object.values(target);
    for (const path of paths) assert.ok(files.includes(path.replace('./', '')), `export ${entry}: ${path}`);
  }
});
