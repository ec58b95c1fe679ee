#!/usr/bin/env bash
# THE test command: install dependencies, start PostgreSQL, lint, type-check, test.
#
#   ./scripts/test.sh [pytest args...]
#
# Every check runs even when an earlier one failed, so one run shows all problems.
# Exit status: pytest's, or 1 when pytest passed but a lint/type/import check failed.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh || exit 1

# Reuse a cluster that is already running (another test run of this checkout, say) and
# leave it running; stop only the one this run started.
if bash scripts/postgres.sh status; then
  started_pg=0
else
  started_pg=1
fi
TEST_POSTGRES_URL=$(bash scripts/postgres.sh start) || exit 1
export TEST_POSTGRES_URL
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
step .venv/bin/ruff check src tests
step .venv/bin/ruff format --check src tests
step .venv/bin/mypy
step .venv/bin/lint-imports

echo "==> .venv/bin/pytest $*"
.venv/bin/pytest "$@"
rc=$?
if ((rc == 5)); then
  echo "test.sh: pytest collected no tests: that is a failure" >&2
fi

if ((${#failed[@]})); then
  printf 'test.sh: FAILED: %s\n' "${failed[@]}" >&2
  ((rc == 0)) && rc=1
fi
exit "$rc"
