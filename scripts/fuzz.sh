#!/usr/bin/env bash
# Fuzzes every decoder of stored or imported bytes (keyspace header, record, backup import,
# one-shot decrypt, stream decryption, public key / signature / address parsing) with
# cargo-fuzz and libFuzzer, starting from seeds made from the golden fixtures.
#
#   scripts/fuzz.sh [SECONDS]       each target for SECONDS (default 60)
#   scripts/fuzz.sh --runs N        each target for N executions (the note's figures: 10000000)
#   FUZZ_TARGETS="keys stream" scripts/fuzz.sh ...   only these targets (e.g. two shells, two cores)
#
# Installs what it needs (a nightly toolchain through rustup, cargo-fuzz from crates.io).
# Limits, per input: 8 KiB (-max_len), 10 s (-timeout), and no single allocation over 4 MiB
# (-malloc_limit_mb; no decoder needs more than a small multiple of its input). Any crash,
# hang, leak or oversized allocation stops that target, leaves a reproducer in
# crates/vault/fuzz/artifacts/<target>/ and makes the script fail: commit the reproducer with
# the fix; `cargo test` replays it on stable (crates/vault/tests/fuzz_corpus.rs). New inputs
# go to crates/vault/fuzz/corpus/<target>/, which is minimized (cargo fuzz cmin) at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
FUZZ_DIR=crates/vault/fuzz
read -r -a TARGETS <<< "${FUZZ_TARGETS:-header record backup decrypt stream keys}"

limit=(-max_total_time="${1:-60}")
if [ "${1:-}" = "--runs" ]; then
    limit=(-runs="${2:?--runs needs a number}")
fi

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

echo "==> seeds from the golden fixtures"
cargo test -q -p vault --test fuzz_corpus -- --ignored write_seed_corpus >/dev/null

summary=()
status=0
for target in "${TARGETS[@]}"; do
    echo "==> fuzzing $target (${limit[*]})"
    log=$(mktemp)
    if cargo +nightly fuzz run --fuzz-dir "$FUZZ_DIR" "$target" -- \
        "${limit[@]}" -max_len=8192 -timeout=10 -malloc_limit_mb=4 -rss_limit_mb=2048 \
        -print_final_stats=1 2>&1 | tee "$log" | grep -E '^(Done|#[0-9]+ +DONE)|ERROR|SUMMARY'; then
        result=ok
    else
        result=FAILED
        status=1
    fi
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
    secs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -Eo '[0-9]+ second' | grep -Eo '[0-9]+' || echo '?')
    rss=$(grep -Eo 'stat::peak_rss_mb: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
    summary+=("$(printf '%-8s %-7s %12s runs %6s s  peak RSS %5s MB' "$target" "$result" "$runs" "$secs" "$rss")")
    rm -f "$log"
done

echo "==> minimizing the corpora"
for target in "${TARGETS[@]}"; do
    cargo +nightly fuzz cmin --fuzz-dir "$FUZZ_DIR" "$target" -- -max_len=8192 >/dev/null 2>&1 \
        || echo "cmin $target failed (corpus left as is)"
done

echo
printf '%s\n' "${summary[@]}"
exit $status
