#!/usr/bin/env bash
# Run a command (default: the whole test suite) against a throwaway PostgreSQL server.
#
# Starts PostgreSQL 15 (Debian's postgresql-15 binaries) in a temporary directory on a free port of
# 127.0.0.1, creates the database mild_test, exports TEST_DATABASE_URL for tests/conftest.py, runs the
# command, then always stops the server and removes the directory. initdb refuses to run as root, so
# as root the server runs as the postgres user. fsync is off: the data is thrown away afterwards.
#
#   scripts/with-postgres.sh                      # .venv/bin/python -m pytest
#   scripts/with-postgres.sh .venv/bin/python -m pytest tests/test_queue.py -x
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
if [[ ! -x "$PG_BIN/initdb" ]]; then
    echo "PostgreSQL binaries missing in $PG_BIN; installing postgresql-15" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
fi
if [[ $# -eq 0 ]]; then
    set -- .venv/bin/python -m pytest
fi

# A port nobody listens on now (the OS picks it; the small race with another process is acceptable).
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
TMP="$(mktemp -d -t mild-pg.XXXXXX)"
DATA="$TMP/data"

as_pg() {
    # Run a PostgreSQL binary as the server's owner: postgres when we are root, ourselves otherwise.
    if [[ "$(id -u)" -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cleanup() {
    if [[ -f "$DATA/postmaster.pid" ]]; then
        as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

if [[ "$(id -u)" -eq 0 ]]; then
    chown postgres: "$TMP"
fi
chmod 700 "$TMP"
as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 \
    || { cat "$TMP/initdb.log" >&2; exit 1; }
as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$TMP/server.log" -w \
    -o "-h 127.0.0.1 -p $PORT -k $TMP -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$TMP/server.log" >&2; exit 1; }
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres mild_test

export TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/mild_test"
echo "PostgreSQL on 127.0.0.1:$PORT ($TMP); TEST_DATABASE_URL=$TEST_DATABASE_URL" >&2
status=0
"$@" || status=$?
exit "$status"
