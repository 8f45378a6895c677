#!/usr/bin/env bash
# Rewrites the vault's golden fixtures: one keyspace written natively, one written in headless
# Chromium. Only after a deliberate format change (and a new format version in docs/FORMAT.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo test -p vault --test native -- --ignored regenerate_native_golden_fixture
CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=300 \
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test -p vault --target wasm32-unknown-unknown --test web_page -- \
    --include-ignored --nocapture print_browser_golden_fixture 2>&1 \
    | sed -n 's/^.*FIXTURE //p' > crates/vault/tests/fixtures/browser-keyspace.txt
wc -l crates/vault/tests/fixtures/*.txt
