#!/usr/bin/env bash
# Installs the runtime, the test tools and Azurite, then runs the checks and the whole test suite:
# ruff (style), mypy (types; configured in pyproject.toml), pytest (tests/test_layering.py checks
# the import layering).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
.venv/bin/python -m ruff check .
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest -q "$@"
