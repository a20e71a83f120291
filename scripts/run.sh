#!/usr/bin/env bash
# Installs the runtime and serves the top-level function_app.py on the embedded SQLite task hub.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m durable_ext start --app-dir . "$@"
