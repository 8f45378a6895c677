// MV3 service worker of the test extension: the package used directly, as an extension would.
import init, { Vault } from './pkg/vault_wasm.js';

self.runVaultCheck = async () => {
  await init();
  const vault = await Vault.open('extension-' + Math.random());
  await vault.createKeyspace('ext', 'pw');
  const session = await vault.unlock('ext', 'pw');
  const key = await session.generateKey('k', 'secp256k1');
  await session.selectKey('k');
  const message = new TextEncoder().encode('from an extension');
  const signature = await session.sign(message);
  await session.setSecret('s', new TextEncoder().encode('kept'));
  const secret = new TextDecoder().decode(await session.getSecret('s'));
  return { address: key.ethAddress, valid: Vault.verify('secp256k1', key.publicKey, message, signature), secret };
};
