"""``python -m durable_ext init-worker --app-dir DIR``: prepare an app to run as a function app.

Leaves ``function_app.py`` alone. Writes the entry module next to it, points ``PYTHON_SCRIPT_FILE_NAME``
at it in ``local.settings.json`` ``Values`` (what ``func start`` reads) and adds durable_ext to
``requirements.txt`` (what the deployment installs). It also creates the directory of the local SQLite
hub (``.durable_ext/``) and lists it in ``.funcignore``: the host restarts when a new top-level directory
appears in the app (``FileMonitoringService``), and the local hub must not be deployed. Running it again changes nothing: each step only
writes when its file lacks what it adds. In Azure the same setting must be an app setting; the command
prints it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from durable_ext.errors import ConfigError

ENTRY_FILE = "durable_ext_entry.py"
SCRIPT_SETTING = "PYTHON_SCRIPT_FILE_NAME"
USER_MODULE = "function_app"
DEFAULT_REQUIREMENT = "durable_ext"
LOCAL_HUB_DIR = ".durable_ext"
_MARKER = "Written by `python -m durable_ext init-worker`"
ENTRY_SOURCE = f'''"""Entry module of this function app under the Azure Functions Python worker.

{_MARKER}: the {SCRIPT_SETTING} app setting names this file, so the worker
imports it instead of {USER_MODULE}.py, which stays as you wrote it. durable_ext runs the orchestrators,
activities and entities itself; the Functions host sees the HTTP/timer functions and durable_ext's webhooks.
"""

import {USER_MODULE} as _user_module

from durable_ext.worker import attach

app = attach(_user_module)
'''
_REQUIREMENT_NAME = re.compile(r"^\s*durable[-_.]ext\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class InitResult:
    changed: tuple[str, ...]  # one line per file written
    app_setting: str  # NAME=value to set in Azure


def init_worker(app_dir: Path, requirement: str = DEFAULT_REQUIREMENT) -> InitResult:
    """Prepare ``app_dir``; ConfigError when it has no function_app.py or a file cannot be used."""
    app_dir = app_dir.resolve()
    if not (app_dir / f"{USER_MODULE}.py").is_file():
        raise ConfigError(f"No {USER_MODULE}.py in {app_dir}: init-worker prepares a Python v2 function app.")
    changed = [
        line
        for line in (
            _write_entry(app_dir),
            _set_script_setting(app_dir),
            _add_requirement(app_dir, requirement),
            _prepare_local_hub(app_dir),
        )
        if line
    ]
    return InitResult(tuple(changed), f"{SCRIPT_SETTING}={ENTRY_FILE}")


def _write_entry(app_dir: Path) -> str | None:
    path = app_dir / ENTRY_FILE
    if path.exists():
        current = path.read_text(encoding="utf-8")
        if current == ENTRY_SOURCE:
            return None
        if _MARKER not in current:
            raise ConfigError(f"{path} exists and was not written by init-worker; move it away and run again.")
    path.write_text(ENTRY_SOURCE, encoding="utf-8")
    return f"wrote {ENTRY_FILE}"


def _set_script_setting(app_dir: Path) -> str | None:
    path = app_dir / "local.settings.json"
    try:
        settings = json.loads(path.read_text(encoding="utf-8-sig")) if path.exists() else {"IsEncrypted": False}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}.") from exc
    values = settings.setdefault("Values", {})
    if not isinstance(settings, dict) or not isinstance(values, dict):
        raise ConfigError(f"{path} (Values) must be a JSON object.")
    if values.get(SCRIPT_SETTING) == ENTRY_FILE and values.get("FUNCTIONS_WORKER_RUNTIME") == "python":
        return None
    values[SCRIPT_SETTING] = ENTRY_FILE
    values.setdefault("FUNCTIONS_WORKER_RUNTIME", "python")
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return f"set Values.{SCRIPT_SETTING}={ENTRY_FILE} in local.settings.json"


def _add_requirement(app_dir: Path, requirement: str) -> str | None:
    path = app_dir / "requirements.txt"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if any(_REQUIREMENT_NAME.match(line) for line in text.splitlines()):
        return None
    separator = "" if not text or text.endswith("\n") else "\n"
    path.write_text(f"{text}{separator}{requirement}\n", encoding="utf-8")
    return f"added {requirement} to requirements.txt"


def _prepare_local_hub(app_dir: Path) -> str | None:
    directory = app_dir / LOCAL_HUB_DIR
    created = not directory.is_dir()
    directory.mkdir(exist_ok=True)
    ignore = app_dir / ".funcignore"
    text = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
    listed = any(line.strip().rstrip("/") == LOCAL_HUB_DIR for line in text.splitlines())
    if not listed:
        separator = "" if not text or text.endswith("\n") else "\n"
        ignore.write_text(f"{text}{separator}{LOCAL_HUB_DIR}/\n", encoding="utf-8")
    if created or not listed:
        return f"created {LOCAL_HUB_DIR}/ (local SQLite hub) and listed it in .funcignore"
    return None


def format_report(result: InitResult, app_dir: Path) -> str:
    """What the command prints: the changes (or that there were none) and the Azure app setting."""
    lines = [f"  {line}" for line in result.changed] or ["  nothing to change: already prepared"]
    return "\n".join(
        [
            f"init-worker {app_dir}:",
            *lines,
            "Set this app setting on the function app in Azure:",
            f"  {result.app_setting}",
        ]
    )
