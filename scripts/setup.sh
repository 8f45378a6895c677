#!/usr/bin/env bash
# Installs what the tests need, skipping whatever is already there: the wasm32 targets, the
# toolchain of the declared rust-version, clippy and rustfmt, wasm-bindgen-cli at Cargo.lock's
# exact wasm-bindgen version, cargo-deny, Debian's chromium, chromium-driver and firefox-esr,
# and geckodriver. scripts/test.sh runs it first; it needs root (or sudo-less apt-get) only
# when the browsers are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# /dev/null must be the null device. The vault CLI before 2026-11-27 renamed its output file over
# `-o /dev/null`; run as root that made /dev/null a regular file, which then feeds whatever was
# written to it to every program that reads it (rustc's `-` input among them).
if [ ! -c /dev/null ]; then
    echo "setup: /dev/null is not the null device; recreating it" >&2
    rm -f /dev/null && mknod -m 666 /dev/null c 1 3
fi

rust_version=$(awk -F'"' '/^rust-version/ {print $2; exit}' Cargo.toml)
[ -n "$rust_version" ] || { echo "no rust-version in Cargo.toml" >&2; exit 1; }

installed_targets=$(rustup target list --installed)
for target in wasm32-unknown-unknown wasm32-wasip1; do
    grep -qx "$target" <<< "$installed_targets" || rustup target add "$target"
done
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
rustup toolchain list | grep -q "^$rust_version-" \
    || rustup toolchain install "$rust_version" --profile minimal

missing_debs=()
command -v chromium >/dev/null || missing_debs+=(chromium)
command -v chromedriver >/dev/null || missing_debs+=(chromium-driver)
command -v firefox-esr >/dev/null || missing_debs+=(firefox-esr)
# PostgreSQL for kvstore's postgres backend tests (run privately by scripts/postgres.sh).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing_debs+=(postgresql)
if [ ${#missing_debs[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y "${missing_debs[@]}"
fi

WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
[ -n "$WB_VERSION" ] || { echo "no wasm-bindgen in Cargo.lock" >&2; exit 1; }
if ! wasm-bindgen-test-runner --version 2>/dev/null | grep -q " $WB_VERSION\$"; then
    # --locked first; wasm-bindgen-cli 0.2.130's own lock file names a yanked webpki-roots,
    # so fall back to resolving its dependencies afresh (same wasm-bindgen-cli version).
    cargo install --locked wasm-bindgen-cli --version "$WB_VERSION" \
        || cargo install --force wasm-bindgen-cli --version "$WB_VERSION"
fi
command -v geckodriver >/dev/null || cargo install --locked geckodriver
command -v cargo-deny >/dev/null || cargo install --locked cargo-deny

echo "tools: rust $(rustc --version | cut -d' ' -f2) and $rust_version (rust-version)," \
    "wasm-bindgen $WB_VERSION, $(chromium --version), $(firefox-esr --version 2>/dev/null)," \
    "$(geckodriver --version 2>/dev/null | sed -n 1p), $(cargo deny --version)," \
    "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
