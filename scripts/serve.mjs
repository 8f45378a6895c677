// A static server for the demo and the browser tests (no dependencies):
//   node scripts/serve.mjs [port]      (default 8080; 0 picks a free port)
// `/` serves examples/web, `/pkg/` the built npm package, `/test-pages/` the test pages and
// `/node_modules/` the test project's packages (for the benchmark page).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const mounts = [
  ['/pkg/', join(root, 'crates/vault-wasm/pkg')],
  ['/test-pages/', join(root, 'crates/vault-wasm/tests-js/pages')],
  ['/fixtures/', join(root, 'crates/vault-cli/tests/fixtures')],
  ['/node_modules/', join(root, 'crates/vault-wasm/tests-js/node_modules')],
  ['/', join(root, 'examples/web')],
];
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css', '.ts': 'text/plain',
};

export function serve(port = 0) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const [prefix, dir] = mounts.find(([p]) => path.startsWith(p));
    let file = normalize(join(dir, path.slice(prefix.length)));
    if (!file.startsWith(dir)) { res.writeHead(403).end(); return; }
    if (file.endsWith('/') || file === dir) file = join(file, 'index.html');
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store',
        // Cross-origin isolation: everything here is same-origin, and isolation gives
        // `performance.now()` 5 µs resolution instead of 100 µs (the benchmark needs it).
        'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp',
      });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await serve(Number(process.argv[2] ?? 8080));
  console.log(`serving the demo at http://127.0.0.1:${server.address().port}/`);
}
