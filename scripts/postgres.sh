#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests.
#
#   scripts/postgres.sh start   # idempotent; prints the SQLAlchemy URL
#   scripts/postgres.sh url     # prints the URL
#   scripts/postgres.sh status  # exit 0 when running
#   scripts/postgres.sh installed  # exit 0 when the PostgreSQL 15 binaries are there
#   scripts/postgres.sh stop    # stops it and removes its directory
#
# The cluster lives in $TEST_PG_DIR (default /tmp/cargohold-pg), listens on
# 127.0.0.1:$TEST_PG_PORT (default 55432) only, trusts every local connection, and
# runs as the `postgres` system user when started by root (initdb refuses root).
set -euo pipefail

PGBIN=${TEST_PG_BIN:-/usr/lib/postgresql/15/bin}
PGDIR=${TEST_PG_DIR:-/tmp/cargohold-pg}
PGPORT=${TEST_PG_PORT:-55432}
DB=cargohold_test
DATA=$PGDIR/data
URL="postgresql+psycopg://postgres@127.0.0.1:$PGPORT/$DB"

as_pg() {
  if [[ $(id -u) == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [[ -f $DATA/PG_VERSION ]] && as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

psql_() {
  as_pg "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 "$@"
}

start() {
  if [[ ! -x $PGBIN/initdb ]]; then
    echo "postgres.sh: $PGBIN/initdb missing; run scripts/install-test-deps.sh" >&2
    exit 1
  fi
  if [[ ! -f $DATA/PG_VERSION ]]; then
    rm -rf "$PGDIR"
    mkdir -p "$PGDIR"
    if [[ $(id -u) == 0 ]]; then chown postgres:postgres "$PGDIR"; fi
    as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$PGDIR/initdb.log" 2>&1 || { cat "$PGDIR/initdb.log" >&2; exit 1; }
    cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGDIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  fi
  if ! running; then
    as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$PGDIR/server.log" -w -t 60 start >/dev/null \
      || { tail -n 30 "$PGDIR/server.log" >&2; exit 1; }
  fi
  if [[ -z $(psql_ -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DB'") ]]; then
    psql_ -d postgres -c "CREATE DATABASE $DB"
  fi
  echo "$URL"
}

stop() {
  if running; then
    as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
  fi
  rm -rf "$PGDIR"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  status) running ;;
  installed) [[ -x $PGBIN/initdb && -x $PGBIN/pg_ctl ]] ;;
  *)
    echo "usage: $0 start|stop|url|status|installed" >&2
    exit 2
    ;;
esac
