#!/usr/bin/env bash
# Installs the runtime, the test tools and Azurite, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
.venv/bin/python -m ruff check .
exec .venv/bin/python -m pytest -q "$@"
