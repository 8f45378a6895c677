#!/usr/bin/env bash
# The one test command: installs what is missing, then runs every check and test.
#
#   scripts/test.sh            everything (what CI runs)
#
# Steps: tool set-up (only what is missing) -> cargo fmt --check -> clippy (native, wasm32)
# -> dependency checks -> native tests -> browser tests (headless Chromium and Firefox, in a
# page, a dedicated worker and a service worker). Fails if any step fails or runs no test.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
LOG_DIR=$(mktemp -d)
TOTAL_PASSED=0

step() { printf '\n==> %s\n' "$*"; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

# Runs a test command, shows its output, and fails unless it passed at least one test.
run_tests() {
    local name=$1; shift
    local log="$LOG_DIR/$name.log"
    step "$name: $*"
    if ! "$@" 2>&1 | tee "$log"; then die "$name"; fi
    local passed
    passed=$( { grep -Eo 'test result: ok\. [0-9]+ passed' "$log" | awk '{print $4}' || true;
                grep -Eo '^# pass [0-9]+' "$log" | awk '{print $3}' || true; } | awk '{s+=$1} END {print s+0}')
    if grep -Eq 'test result: FAILED|^# fail [1-9]' "$log"; then die "$name: a test failed"; fi
    [ "$passed" -gt 0 ] || die "$name ran no test"
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    echo "--- $name: $passed passed"
}

# ---------------------------------------------------------------- set-up
step "set-up (installs only what is missing)"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

missing_debs=()
command -v chromium >/dev/null || missing_debs+=(chromium)
command -v chromedriver >/dev/null || missing_debs+=(chromium-driver)
command -v firefox-esr >/dev/null || missing_debs+=(firefox-esr)
if [ ${#missing_debs[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y "${missing_debs[@]}"
fi

WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
[ -n "$WB_VERSION" ] || die "no wasm-bindgen in Cargo.lock"
if ! wasm-bindgen-test-runner --version 2>/dev/null | grep -q " $WB_VERSION\$"; then
    # --locked first; wasm-bindgen-cli 0.2.130's own lock file names a yanked webpki-roots,
    # so fall back to resolving its dependencies afresh (same wasm-bindgen-cli version).
    cargo install --locked wasm-bindgen-cli --version "$WB_VERSION" \
        || cargo install --force wasm-bindgen-cli --version "$WB_VERSION"
fi
command -v geckodriver >/dev/null || cargo install --locked geckodriver
echo "tools: wasm-bindgen $WB_VERSION, $(chromium --version), $(firefox-esr --version 2>/dev/null), $(geckodriver --version | head -1)"

# ---------------------------------------------------------------- static checks
step "cargo fmt --check"
cargo fmt --all -- --check || die "cargo fmt"

step "clippy, native"
cargo clippy --workspace --all-targets -- -D warnings || die "clippy native"
step "clippy, wasm32"
cargo clippy --workspace --all-targets --target wasm32-unknown-unknown -- -D warnings \
    || die "clippy wasm32"

step "dependency checks"
scripts/check-deps.sh || die "dependency checks"

# ---------------------------------------------------------------- native tests
run_tests native cargo test --workspace

# ---------------------------------------------------------------- browser tests
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300}
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
for crate in kvstore vault vault-wasm; do
    run_tests "chromium-$crate" env CHROMEDRIVER=/usr/bin/chromedriver \
        cargo test -p "$crate" --target wasm32-unknown-unknown
    run_tests "firefox-$crate" env GECKODRIVER="$(command -v geckodriver)" \
        cargo test -p "$crate" --target wasm32-unknown-unknown
done

# ---------------------------------------------------------------- npm package
step "build the npm package"
scripts/build-npm.sh || die "npm package build"
step "npm ci (Playwright core, @noble/curves, ethers; no browser download)"
(cd crates/vault-wasm/tests-js && npm ci --no-audit --no-fund) || die "npm ci"
run_tests "npm-package" bash -c 'cd crates/vault-wasm/tests-js && npm test'

printf '\nAll steps passed.\n%d passed, 0 failed\n' "$TOTAL_PASSED"
