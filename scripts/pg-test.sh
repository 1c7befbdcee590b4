#!/usr/bin/env bash
# The registry tests on SQLite and on a throwaway PostgreSQL server: initdb into a temporary
# directory, start the server on a free port of 127.0.0.1 (and nowhere else), run
# `pytest tests/registry_api` with AEO_TEST_DATABASE_URL pointing at it, then stop the server
# and delete the directory, whatever the outcome. Arguments are pytest options:
#   scripts/pg-test.sh -k postgresql -x       (only the PostgreSQL runs, stop at a failure)
# PG_BIN names the PostgreSQL binaries' directory when pg_config is not on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}

if [ -z "${PG_BIN:-}" ]; then
  if command -v pg_config >/dev/null; then
    PG_BIN=$(pg_config --bindir)
  else
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  fi
fi
if [ ! -x "${PG_BIN}/initdb" ]; then
  echo "pg-test: no PostgreSQL server binaries found (initdb); install the postgresql" \
    "package or set PG_BIN" >&2
  exit 1
fi

# initdb and postgres refuse to run as root: run the server as the postgres user then.
as_server=()
if [ "$(id -u)" -eq 0 ]; then
  as_server=(runuser -u postgres --)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/aeo-pg.XXXXXX")
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$dir"
fi
cleanup() {
  "${as_server[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# trust authentication is safe only because the server listens on loopback alone and its
# socket lives in the private temporary directory. fsync off: the data is thrown away.
"${as_server[@]}" "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
  --no-locale >"$dir/initdb.log"
"${as_server[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
  "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null
echo "pg-test: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"

export AEO_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
"$PYTHON" -m pytest tests/registry_api "$@"
