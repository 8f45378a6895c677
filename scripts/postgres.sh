#!/usr/bin/env bash
# A private PostgreSQL for tests and benchmarks: a temporary directory, loopback only, never a
# system service. Debian's `postgresql` package provides the binaries (scripts/setup.sh
# installs it); initdb refuses root, so the server runs as the `postgres` user.
#
#   eval "$(scripts/postgres.sh start)"   # exports KVSTORE_POSTGRES_URL and PG_TEST_DIR
#   scripts/postgres.sh stop "$PG_TEST_DIR"
#   scripts/postgres.sh kill DIR       # SIGKILL the server and its backends (a crash)
#   scripts/postgres.sh restart DIR    # start it again on its port (crash recovery runs)
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed (apt-get install -y postgresql)" >&2; exit 1; }
as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "${1:-}" in
start)
    dir=$(mktemp -d /tmp/kvstore-pg.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_postgres "$bin/initdb" -A trust -U postgres -D "$dir/data" >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    # A free loopback port.
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_postgres "$bin/pg_ctl" -D "$dir/data" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=on" \
        -l "$dir/log" start >/dev/null || { cat "$dir/log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    echo "export PG_TEST_DIR=$dir"
    echo "export KVSTORE_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    dir=${2:?usage: postgres.sh stop DIR}
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
kill)
    dir=${2:?usage: postgres.sh kill DIR}
    pid=$(head -1 "$dir/data/postmaster.pid")
    # The postmaster and every backend at once, as a power cut would stop them.
    children=$(ps -o pid= --ppid "$pid" || true)
    kill -9 "$pid" $children
    for p in $pid $children; do
        while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
    done
    ;;
restart)
    dir=${2:?usage: postgres.sh restart DIR}
    port=$(cat "$dir/port")
    as_postgres "$bin/pg_ctl" -D "$dir/data" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=on" \
        -l "$dir/log" start >/dev/null || { cat "$dir/log" >&2; exit 1; }
    ;;
*)
    echo "usage: $0 start | stop DIR | kill DIR | restart DIR" >&2
    exit 2
    ;;
esac
