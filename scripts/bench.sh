#!/usr/bin/env bash
# Benchmarks, printed as tables of ours vs. the raw crate.
#   scripts/bench.sh            native (criterion) and browser (headless Chromium)
#   scripts/bench.sh native     only native
#   scripts/bench.sh browser    only the browser harness
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
what=${1:-all}

if [ "$what" = all ] || [ "$what" = native ]; then
    cargo bench -p kvstore --bench native -- --noplot >/dev/null
    python3 - <<'PY'
import json, pathlib
root = pathlib.Path("target/criterion")
rows = [("set", "ours", "one durable set", 1), ("set", "inline", "one durable set, inline", 1),
        ("get", "ours", "100 gets", 100),
        ("batch", "ours", "batch of 1,000 sets", 1000), ("batch", "inline", "batch of 1,000, inline", 1000),
        ("scan", "ours", "prefix scan of 10,000", 10000)]
print("\nkvstore native benchmarks (median; ratio = ours / raw, target <= 1.10)")
print(f"{'backend':8} {'operation':24} {'ours':>12} {'raw':>12} {'ratio':>7}  {'ours items/s':>14}")
def median(group, name):
    p = root / group / name / "new" / "estimates.json"
    return json.loads(p.read_text())["median"]["point_estimate"]
def fmt(ns):
    return f"{ns/1e6:.3f} ms" if ns >= 1e5 else f"{ns/1e3:.2f} us"
for backend in ("sled", "redb"):
    for op, variant, label, items in rows:
        ours, raw = median(backend, f"{op}_{variant}"), median(backend, f"{op}_raw")
        print(f"{backend:8} {label:24} {fmt(ours):>12} {fmt(raw):>12} {ours/raw:7.2f}  {items/(ours/1e9):14,.0f}")
PY
fi

if [ "$what" = all ] || [ "$what" = browser ]; then
    export WASM_BINDGEN_TEST_TIMEOUT=600 CHROMEDRIVER=/usr/bin/chromedriver
    export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
    cargo test -p kvstore --release --target wasm32-unknown-unknown --test browser_bench \
        -- --include-ignored --nocapture 2>&1 | grep -E '^(BENCH|kvstore|backend|-)' | sed 's/^BENCH //'
fi
