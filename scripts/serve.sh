#!/usr/bin/env bash
# THE start command: install cargohold into .venv and run it.
#
#   ./scripts/serve.sh [cargohold serve args...]
#
# Defaults (cargohold's own): http://127.0.0.1:5000, SQLite + filesystem in ./cargohold-data.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/cargohold serve "$@"
