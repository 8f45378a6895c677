// The package loaded directly inside a dedicated worker (no client): create, unlock, sign,
// verify, and report back.
import init, { Vault } from '/pkg/vault_wasm.js';

self.onmessage = async () => {
  try {
    await init();
    const vault = await Vault.open('direct-worker-' + Math.random());
    await vault.createKeyspace('ks', 'pw');
    const session = await vault.unlock('ks', 'pw');
    const key = await session.generateKey('ed', 'ed25519');
    await session.selectKey('ed');
    const message = new TextEncoder().encode('from a worker');
    const signature = await session.sign(message);
    const valid = Vault.verify('ed25519', key.publicKey, message, signature);
    let wrong = null;
    try { await vault.unlock('ks', 'nope'); } catch (e) { wrong = e.code; }
    self.postMessage({ ok: true, valid, wrong, signatureLength: signature.length });
  } catch (e) {
    self.postMessage({ ok: false, error: `${e.code}: ${e.message}` });
  }
};
