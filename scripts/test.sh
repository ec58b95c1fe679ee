#!/usr/bin/env bash
# THE test command: install dependencies, check the clients, start PostgreSQL, lint,
# type-check, test, and gate coverage.
#
#   ./scripts/test.sh [pytest args...]
#
# What a run needs depends on what it selects (path arguments; `-k`/`-m` do not count):
#
#   no path, `tests`, `.`, or a path under tests/e2e     "full": Debian packages (apt, only
#       when one is missing) + .venv; every client must run (scripts/preflight.py: podman,
#       buildah, skopeo, docker-registry, wrk, PostgreSQL) or the run stops with one line
#       naming the missing piece.
#   any other paths (tests/unit, tests/functional, ...)  .venv only, never apt. PostgreSQL
#       is started when it is installed; when it is not, the PostgreSQL tests skip (and fail
#       under CI=true).
#
# Coverage (branch) is measured and gated only when no pytest argument is given, i.e. on the
# whole suite: scripts/coverage_gate.py checks the 100% gates and the floor in pyproject.toml.
#
# Every check runs even when an earlier one failed, so one run shows all problems.
# Exit status: pytest's, or 1 when pytest passed but a lint/type/import/coverage check failed.
set -uo pipefail
cd "$(dirname "$0")/.."

full=1
selected=0
for arg in "$@"; do
  [[ $arg == -* ]] && continue
  path=${arg%%::*}
  [[ -e $path ]] || continue
  selected=1
  case $(realpath -m --relative-to=. "$path") in
    . | tests | tests/e2e | tests/e2e/*) ;;
    *) continue ;;
  esac
  full=2
done
# full: 1 = nothing selected by path (the whole suite), 2 = a path needs the clients.
if ((selected && full == 1)); then full=0; fi

if ((full)); then
  bash scripts/install-test-deps.sh || exit 1
else
  bash scripts/install-test-deps.sh --venv || exit 1
fi

if ((full)); then
  .venv/bin/python scripts/preflight.py || exit 1
fi

# Reuse a cluster that is already running (another test run of this checkout, say) and
# leave it running; stop only the one this run started.
started_pg=0
if bash scripts/postgres.sh status || ((full)) || bash scripts/postgres.sh installed; then
  bash scripts/postgres.sh status || started_pg=1
  TEST_POSTGRES_URL=$(bash scripts/postgres.sh start) || exit 1
  export TEST_POSTGRES_URL
else
  echo "test.sh: PostgreSQL is not installed: its tests skip (./scripts/test.sh installs it)"
fi
started_s3=0
cleanup() {
  if ((started_pg)); then bash scripts/postgres.sh stop || true; fi
  if ((started_s3)); then bash scripts/seaweedfs.sh stop || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# SeaweedFS as the S3 server (exports TEST_S3_*); like PostgreSQL, stopped only if started here.
if ! bash scripts/seaweedfs.sh status; then started_s3=1; fi
s3_env=$(bash scripts/seaweedfs.sh start) || exit 1
eval "$s3_env"

failed=()
step() {
  echo "==> $*"
  "$@" || failed+=("$*")
}
step .venv/bin/ruff check src tests scripts
step .venv/bin/ruff format --check src tests scripts
step .venv/bin/mypy
step .venv/bin/lint-imports

cov=()
if (($# == 0)); then
  rm -f .coverage
  cov=(--cov --cov-report=)
fi
echo "==> .venv/bin/pytest ${cov[*]} $*"
.venv/bin/pytest "${cov[@]}" "$@"
rc=$?
if ((rc == 5)); then
  echo "test.sh: pytest collected no tests: that is a failure" >&2
fi
if ((${#cov[@]})); then
  step .venv/bin/python scripts/coverage_gate.py
fi

if ((${#failed[@]})); then
  printf 'test.sh: FAILED: %s\n' "${failed[@]}" >&2
  ((rc == 0)) && rc=1
fi
exit "$rc"
