#!/usr/bin/env bash
# Builds the npm package into crates/vault-wasm/pkg, offline: cargo (size-tuned profile
# `wasm-release`), then the local wasm-bindgen (Cargo.lock's version), then wasm-opt -Oz when
# one is on PATH. Prints the .wasm size, raw and gzipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
OUT=crates/vault-wasm/pkg
cargo build -p vault-wasm --target wasm32-unknown-unknown --profile wasm-release
rm -rf "$OUT"
wasm-bindgen --target web --remove-name-section --out-dir "$OUT" \
    target/wasm32-unknown-unknown/wasm-release/vault_wasm.wasm
if command -v wasm-opt >/dev/null; then
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals "$OUT/vault_wasm_bg.wasm" -o "$OUT/vault_wasm_bg.wasm" \
        || echo "wasm-opt failed; keeping the unoptimised wasm"
fi
cp crates/vault-wasm/js/{client.js,client.d.ts,worker.js,package.json} crates/vault-wasm/README.md \
    LICENSE-MIT LICENSE-APACHE "$OUT/"
raw=$(stat -c %s "$OUT/vault_wasm_bg.wasm")
gz=$(gzip -9 -c "$OUT/vault_wasm_bg.wasm" | wc -c)
echo "built $OUT: vault_wasm_bg.wasm $raw bytes raw, $gz bytes gzipped"
