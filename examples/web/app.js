// The demo: every call goes through the worker-backed client, so the page never blocks.
import { WorkerVault } from '/pkg/client.js';

const $ = (id) => document.getElementById(id);
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const unhex = (text) => Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
const utf8 = (text) => new TextEncoder().encode(text);

const vault = await WorkerVault.open('vault-demo');
let session = null;
const keys = new Map();

function show(error) {
  $('message').textContent = error ? `${error.code}: ${error.message}` : '';
}

async function run(action) {
  try {
    show(null);
    await action();
  } catch (error) {
    show(error);
    if (error.code === 'LOCKED') await setLocked();
  }
}

async function setLocked() {
  session = null;
  $('status').textContent = 'Locked';
  $('keys').replaceChildren();
  $('sign-key').replaceChildren();
  $('secrets').textContent = '';
}

async function refresh() {
  $('keyspaces').textContent = (await vault.listKeyspaces()).join(', ');
  if (!session) return;
  $('status').textContent = `Unlocked: ${await session.keyspaceName()}`;
  const list = await session.listKeys();
  keys.clear();
  $('keys').replaceChildren(...list.map((key) => {
    keys.set(key.name, key);
    const item = document.createElement('li');
    item.textContent = `${key.name} (${key.keyType}) ${key.ethAddress ?? hex(key.publicKey)}`;
    return item;
  }));
  $('sign-key').replaceChildren(...list.map((key) => new Option(key.name, key.name)));
  $('secrets').textContent = (await session.listSecrets()).join(', ');
}

async function requireSession() {
  if (!session) throw Object.assign(new Error('unlock a keyspace first'), { code: 'LOCKED' });
  return session;
}

$('create').onclick = () => run(async () => {
  await vault.createKeyspace($('keyspace').value, $('password').value);
  await refresh();
});

$('unlock').onclick = () => run(async () => {
  session = await vault.unlock($('keyspace').value, $('password').value, Number($('timeout').value) * 1000);
  // The worker wipes the keys when the idle timeout passes and tells the page.
  session.onlock = () => setLocked();
  $('password').value = '';
  await refresh();
});

$('lock').onclick = () => run(async () => {
  if (session) await session.close();
  await setLocked();
});

let counter = 0;
for (const [button, type] of [['gen-secp', 'secp256k1'], ['gen-ed', 'ed25519']]) {
  $(button).onclick = () => run(async () => {
    const s = await requireSession();
    await s.generateKey(`${type}-${Date.now().toString(36)}-${counter++}`, type);
    await refresh();
  });
}

$('sign').onclick = () => run(async () => {
  const s = await requireSession();
  $('signature').textContent = hex(await s.signWith($('sign-key').value, utf8($('msg').value)));
  $('verified').textContent = '';
});

$('verify').onclick = () => run(async () => {
  const key = keys.get($('sign-key').value);
  const ok = await vault.verify(key.keyType, key.publicKey, utf8($('msg').value), unhex($('signature').textContent));
  $('verified').textContent = ok ? 'valid' : 'invalid';
});

$('store-secret').onclick = () => run(async () => {
  const s = await requireSession();
  await s.setSecret($('secret-name').value, utf8($('secret-value').value));
  $('secret-value').value = '';
  await refresh();
});

$('reveal-secret').onclick = () => run(async () => {
  const s = await requireSession();
  $('revealed').textContent = new TextDecoder().decode(await s.getSecret($('secret-name').value));
});

await refresh();
window.demoReady = true;
