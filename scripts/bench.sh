#!/usr/bin/env bash
# Benchmarks, printed as tables of ours vs. the raw crate.
#   scripts/bench.sh            native (criterion) and browser (headless Chromium)
#   scripts/bench.sh native     only native
#   scripts/bench.sh browser    only the kvstore browser harnesses (IndexedDB in a page; redb over
#                               OPFS beside IndexedDB in a dedicated worker)
#   scripts/bench.sh vault      the vault's native rows and its browser unlock
#   scripts/bench.sh npm        the JS package in headless Chromium beside idb-keyval etc.
#   scripts/bench.sh hd         1,000 Ethereum addresses from one seed beside bip32 used directly
#   scripts/bench.sh writes     secrets written and read on sled and redb beside the same bench
#                               built on the commit before versions (ratios); kvstore batches
#                               of 1,000 with and without a precondition on every key; a
#                               random-key batch on raw redb in three layouts (what versions cost);
#                               one small write on raw sled as an insert and as a batch
#   scripts/bench.sh server     vault-server under load (16 clients, loopback) beside the same
#                               operations issued directly; the PostgreSQL conditional batch
#                               beside a raw unnest insert (a private PostgreSQL, started here)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
what=${1:-all}
# Temporary files (browser profiles that drivers leave behind among them) go under one directory,
# removed on exit.
SCRATCH=$(mktemp -d)
export TMPDIR=$SCRATCH
PG_TEST_DIR=
cleanup() {
    if [ -n "$PG_TEST_DIR" ]; then scripts/postgres.sh stop "$PG_TEST_DIR"; fi
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

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
    echo
    cargo test -p kvstore --release --target wasm32-unknown-unknown --test browser_bench_opfs \
        -- --include-ignored --nocapture 2>&1 | grep -E '^BENCH' | sed 's/^BENCH //'
fi

if [ "$what" = all ] || [ "$what" = vault ]; then
    cargo bench -p vault --bench vault -- --noplot >/dev/null 2>&1
    python3 - <<'PY2'
import json, pathlib
root = pathlib.Path("target/criterion/vault")
def median(name):
    return json.loads((root / name / "new" / "estimates.json").read_text())["median"]["point_estimate"]
def fmt(ns):
    return f"{ns/1e6:.3f} ms" if ns >= 1e5 else f"{ns/1e3:.2f} us"
print("\nvault native benchmarks (median; ratio = ours / raw)")
print(f"{'operation':34} {'ours':>12} {'raw':>12} {'ratio':>7} {'ours ops/s':>12} {'target':>8}")
print(f"{'unlock, default KDF (64 MiB, t=3)':34} {fmt(median('unlock_default_ours')):>12}")
for op, label, target in [("sign_secp256k1", "sign secp256k1 (session)", "1.10"), ("sign_ed25519", "sign Ed25519 (session)", "1.10"),
                          ("verify_secp256k1", "verify secp256k1", "1.10"), ("verify_ed25519", "verify Ed25519", "1.10")]:
    ours, raw = median(f"{op}_ours"), median(f"{op}_raw")
    print(f"{label:34} {fmt(ours):>12} {fmt(raw):>12} {ours/raw:7.2f} {1e9/ours:12,.0f} {target:>8}")
small, large = median("unlock_records_10"), median("unlock_records_10000")
print(f"{'unlock: 10,000 vs 10 records':34} {fmt(large):>12} {fmt(small):>12} {large/small:7.2f} {'':12} {'1.10':>8}")
print(f"{'get one secret among 10,000':34} {fmt(median('get_secret_of_10000_ours')):>12}")
PY2
    cargo bench -q -p vault --bench crypt_alternating 2>/dev/null | sed '/^$/d'
    export WASM_BINDGEN_TEST_TIMEOUT=600 CHROMEDRIVER=/usr/bin/chromedriver
    export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
    cargo test -p vault --release --target wasm32-unknown-unknown --test browser_bench \
        -- --include-ignored --nocapture 2>&1 | sed -n 's/^.*BENCH //p'
fi

if [ "$what" = all ] || [ "$what" = hd ]; then
    cargo bench -q -p vault --bench hd 2>/dev/null | sed '/^$/d'
fi
if [ "$what" = all ] || [ "$what" = writes ]; then
    # This build beside the same bench built on the commit before versions (a worktree under
    # target/, built once), alternating; prints the versions issue's ratios.
    python3 scripts/bench_writes.py
    # Why the batch row misses: the same random-key batch on raw redb in three layouts.
    cargo bench -q -p kvstore --bench random_batches 2>/dev/null | sed '/^$/d'
    # Why sled's set_secret row misses: the vault's commit on raw sled as the old insert, in our
    # layout, and written two other ways (a commit record, a log file).
    cargo bench -q -p kvstore --bench sled_floor 2>/dev/null | sed '/^$/d'
fi

if [ "$what" = all ] || [ "$what" = server ]; then
    eval "$(scripts/postgres.sh start)"
    cargo bench -q -p vault-server --bench load 2>/dev/null | sed '/^$/d'
    scripts/postgres.sh stop "$PG_TEST_DIR"
    PG_TEST_DIR=
fi

if [ "$what" = all ] || [ "$what" = npm ]; then
    scripts/build-npm.sh | tail -1
    (cd crates/vault-wasm/tests-js && npm ci --no-audit --no-fund >/dev/null && npm run -s bench)
fi

if [ "$what" = all ] || [ "$what" = cli ]; then
    command -v rage >/dev/null || cargo install --locked rage
    cargo build -q --release -p vault-cli
    python3 scripts/bench_cli.py
fi
