#!/usr/bin/env bash
# Installs what durable_ext needs into the repo: a .venv with the runtime's packages
# (and, with --dev, the test tools and Azurite from npm into node_modules/).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
# Some machines' pip configs name package folders that may not exist; pip warns once per package.
quiet_pip() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
if ! "$PY" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  echo "durable_ext needs Python >= 3.11 (found: $("$PY" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || {
    # Debian ships venv separately.
    if command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq python3-venv; fi
    "$PY" -m venv .venv
  }
fi
quiet_pip .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
if [ "${1:-}" = "--dev" ]; then
  quiet_pip .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  # The monitor's browser tests drive Debian's Chromium (Playwright's own browser download cannot
  # be used here); Playwright for Python is pointed at /usr/bin/chromium.
  if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  fi
  if ! command -v npm >/dev/null; then
    apt-get update -qq && apt-get install -y -qq nodejs npm
  fi
  if [ ! -x node_modules/.bin/azurite ]; then
    npm install --no-audit --no-fund --loglevel=error >/dev/null
  fi
  # Worker mode on the other Python versions the Functions host runs (tests/worker_mode/test_python_versions.py):
  # 3.12 runs the vendored 4.x worker, 3.13+ azure-functions-runtime; one venv each, from that interpreter,
  # with the protobuf runtime the test protos are compiled for.
  PROTOBUF=$(.venv/bin/python -c 'import google.protobuf as p; print(p.__version__)')
  for MINOR in 12 13; do
    VAR=PYTHON3$MINOR
    PYX=${!VAR:-$(ls -d "$HOME"/.pyenv/versions/3.$MINOR.*/bin/python3.$MINOR 2>/dev/null | tail -n 1 || true)}
    PYX=${PYX:-$(command -v python3.$MINOR || true)}
    if [ -z "$PYX" ]; then
      echo "error: no Python 3.$MINOR found (set $VAR, or install it under ~/.pyenv/versions/3.$MINOR.*):" \
           "tests/worker_mode/test_python_versions.py needs it and will fail" >&2
      if [ "${CI:-}" = "true" ]; then exit 1; fi
      continue
    fi
    if [ ! -x .venv3$MINOR/bin/python ]; then
      "$PYX" -m venv .venv3$MINOR
    fi
    if [ "$MINOR" = 12 ]; then EXTRA="azurefunctions-extensions-base"; else EXTRA="azure-functions-runtime"; fi
    quiet_pip .venv3$MINOR/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt \
      $EXTRA grpcio "protobuf==$PROTOBUF"
  done
else
  quiet_pip .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
fi
# durable_ext itself, editable: the `durable-ext` command, and `python -m durable_ext` from any directory.
# The venv's own setuptools builds it (no download) when it is new enough (>= 64), else pip fetches one;
# setuptools' editable-mode warning is noise, so only the last attempt's output is shown.
install_self() { .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e . "$@"; }
install_self --no-build-isolation >/dev/null 2>&1 || install_self >/dev/null 2>&1 || quiet_pip install_self
