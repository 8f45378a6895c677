#!/usr/bin/env bash
# Architecture rules checked on the dependency trees (normal dependencies only):
# - no tokio in kvstore or vault, on any target (nor in kvstore's postgres backend);
# - their browser (wasm32-unknown-unknown) trees hold no sled and no tokio (redb is allowed
#   there since it runs over the Origin Private File System, kvstore's `opfs`); kvstore's native tree
#   holds no idb or wasm-bindgen; their wasm32-wasip1 trees hold no browser crate (browser code
#   is chosen by the browser target, not by wasm32 alone).
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
tree() { cargo tree -q -e normal --prefix none "$@" | sed 's/ (\*)//' | sort -u; }
check_absent() {
    local what=$1 pattern=$2; shift 2
    if tree "$@" | grep -Eq "$pattern"; then
        echo "FORBIDDEN: $what in: cargo tree $*"
        tree "$@" | grep -E "$pattern"
        fail=1
    else
        echo "ok: no $what in: cargo tree $*"
    fi
}
for crate in $(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(" ".join(p["name"] for p in json.load(sys.stdin)["packages"] if p["name"] in ("kvstore","vault")))'); do
    # Each target named: `--target all` also counts wasm-bindgen-futures' tokio, which only an
    # emscripten build with an unstable cfg would use.
    for target in "$(rustc -vV | awk '/^host/ {print $2}')" wasm32-wasip1; do
        check_absent tokio '^tokio ' -p "$crate" --target "$target"
    done
    check_absent "sled/tokio" '^(sled|tokio) ' -p "$crate" --target wasm32-unknown-unknown
    check_absent "browser crates" '^(idb|wasm-bindgen|js-sys|web-sys|sled) ' -p "$crate" --target wasm32-wasip1
done
check_absent "idb/wasm-bindgen" '^(idb|wasm-bindgen|js-sys|web-sys) ' -p kvstore
# The JS package's browser tree (with its sync client) holds no sled and no tokio either.
check_absent "sled/tokio" '^(sled|tokio) ' -p vault-wasm --target wasm32-unknown-unknown
# The postgres backend (sqlx on its smol runtime) keeps tokio out too.
check_absent tokio '^tokio ' -p kvstore --features postgres --target "$(rustc -vV | awk '/^host/ {print $2}')"
exit $fail
