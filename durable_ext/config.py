"""host.json + local.settings.json + environment → one frozen :class:`HostConfig`.

Follows what ``func start`` and the Durable Task extension do with the same files, so an app that runs
there runs here with the same hub, port and routes:

* host.json is read in the v2 shape (``extensions.durableTask``, ``extensions.http``) or the v1 shape
  (top-level ``durableTask`` and ``http``). Option names are matched case-insensitively, because the .NET
  host binds options that way. A missing host.json means all defaults.
* local.settings.json is optional. Its ``Values`` are app settings; an environment variable of the same
  name wins over them, as with ``func start``.
* The environment also supplies ``DURABLE_EXT_SQLITE_PATH``, ``DURABLE_EXT_HOST`` and the lock timeouts
  ``DURABLE_EXT_ORCHESTRATION_LOCK_SECONDS`` / ``DURABLE_EXT_ACTIVITY_LOCK_SECONDS``.

Every invalid input raises :class:`~durable_ext.errors.ConfigError` with a message that names the file and
the setting.
"""

import json
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from durable_ext.errors import ConfigError

HOST_JSON = "host.json"
LOCAL_SETTINGS_JSON = "local.settings.json"
DEFAULT_HUB_NAME = "TestHubName"
DEFAULT_CONNECTION_NAME = "AzureWebJobsStorage"
DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_BIND_HOST = "127.0.0.1"
DEFAULT_PORT = 7071
DEFAULT_PARTITION_COUNT = 4
DEFAULT_ENTITY_BATCH_SIZE = 5000
WORKER_PROCESSES_SETTING = "FUNCTIONS_WORKER_PROCESS_COUNT"
#: Without the app setting, on the SQLite hub: one host process per core, up to two (a Python process
#: runs user code on one core at a time; past two, processes mostly wait for each other on the file's
#: write lock). An instance stays with its process there, and a commit wakes waiters in the others.
#: Azure Storage keeps the Functions default, one: its messages go through queues any process may
#: take, and a status waiter in one process hears of another's commit only by polling.
DEFAULT_WORKER_PROCESSES = min(2, os.cpu_count() or 1)
MAX_WORKER_PROCESSES = 10
#: App setting: "false" lets the host processes run on any CPU (default true: see ``pin_processes``).
PIN_PROCESSES_SETTING = "DURABLE_EXT_PIN_PROCESSES"
#: App settings: milliseconds an orchestrator episode / an activity call may take and its function
#: still count as quick enough to run on the event loop's thread (``dispatcher.inline``); 0 turns that off.
INLINE_EPISODE_SETTING = "DURABLE_EXT_INLINE_EPISODE_MS"
DEFAULT_INLINE_EPISODE_LIMIT = timedelta(milliseconds=5)
INLINE_ACTIVITY_SETTING = "DURABLE_EXT_INLINE_ACTIVITY_MS"
DEFAULT_INLINE_ACTIVITY_LIMIT = timedelta(milliseconds=1)
IDLE_SPIN_SETTING = "DURABLE_EXT_IDLE_SPIN_US"
#: Seconds the host's event loop polls before it sleeps (``eventloop``): ~a client's turnaround.
DEFAULT_IDLE_SPIN = 100e-6
DEFAULT_SQLITE_FILE = Path(".durable_ext") / "taskhub.sqlite"
#: functionTimeout when host.json has none: the Functions host's default outside the Consumption plan
#: (Premium, Dedicated, local ``func start``); Consumption ("WEBSITE_SKU" = "Dynamic") defaults to 5 minutes
#: and allows at most 10.
DEFAULT_FUNCTION_TIMEOUT = timedelta(minutes=30)
CONSUMPTION_FUNCTION_TIMEOUT = timedelta(minutes=5)
CONSUMPTION_MAX_FUNCTION_TIMEOUT = timedelta(minutes=10)
SQLITE_PATH_ENV = "DURABLE_EXT_SQLITE_PATH"
DEFAULT_SESSION_IDLE_SECONDS = 30.0
DEFAULT_SESSION_MAX_EVENTS = 200_000
BIND_HOST_ENV = "DURABLE_EXT_HOST"

_HUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,44}")
_WHOLE_SETTING = re.compile(r"%([^%]+)%")
_INTEGER = re.compile(r"[+-]?[0-9]+")
ORCHESTRATION_LOCK_ENV = "DURABLE_EXT_ORCHESTRATION_LOCK_SECONDS"
ACTIVITY_LOCK_ENV = "DURABLE_EXT_ACTIVITY_LOCK_SECONDS"
DEFAULT_ORCHESTRATION_LOCK = timedelta(seconds=120)
DEFAULT_ACTIVITY_LOCK = timedelta(seconds=300)


class StorageKind(StrEnum):
    """The task hub providers this build has (``storageProvider.type``, case-insensitive)."""

    SQLITE = "sqlite"
    AZURE_STORAGE = "azure_storage"


# .NET TimeSpan text as host.json writes it: [d.]hh:mm:ss[.fffffff]
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?")
# storageProvider.type, lower-cased → StorageConfig.kind.
_STORAGE_KINDS = {"sqlite": StorageKind.SQLITE, "azurestorage": StorageKind.AZURE_STORAGE}
_SUPPORTED_TYPES = '"sqlite" (the default), "AzureStorage"'


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """Where the task hub lives (``extensions.durableTask.storageProvider``)."""

    kind: StorageKind
    sqlite_path: Path | None  # sqlite only: absolute path of the task hub file (not created here)
    connection_name: str  # name of the app setting holding the Azure Storage connection string
    connection_string: str | None  # its value (environment first, then Values); None if unset
    partition_count: int  # azure_storage: control queues, 1..16
    options: Mapping[str, Any]  # the storageProvider object as written, for provider-specific knobs


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Extended sessions (durable_ext.dispatcher.sessions documents the meaning and defaults):
    ``extendedSessionsEnabled``, ``extendedSessionIdleTimeoutInSeconds``, ``extendedSessionMaxEvents``."""

    enabled: bool = True
    idle_timeout: float = DEFAULT_SESSION_IDLE_SECONDS
    max_events: int = DEFAULT_SESSION_MAX_EVENTS


@dataclass(frozen=True, slots=True)
class HostConfig:
    """Everything the host needs from configuration, resolved and validated."""

    app_dir: Path
    hub_name: str
    storage: StorageConfig
    max_concurrent_activities: int
    max_concurrent_orchestrations: int
    max_concurrent_entities: int
    max_entity_batch_size: int
    default_version: str | None
    route_prefix: str  # without leading or trailing slashes; "" means routes sit at the root
    host: str
    port: int
    values: Mapping[str, str]  # local.settings.json "Values"
    cors_origins: tuple[str, ...] = ()  # local.settings.json "Host.CORS" (comma-separated origins)
    # How long a worker holds a work item before another may take it (a dead worker's work is
    # retried after this). From the environment; crash-recovery tests shorten them.
    orchestration_lock_timeout: timedelta = DEFAULT_ORCHESTRATION_LOCK
    activity_lock_timeout: timedelta = DEFAULT_ACTIVITY_LOCK
    #: host.json ``functionTimeout``; None means unlimited ("-1").
    function_timeout: timedelta | None = DEFAULT_FUNCTION_TIMEOUT
    sessions: SessionSettings = SessionSettings()
    #: Host processes ``durable-ext start`` runs on the one port (app setting ``FUNCTIONS_WORKER_PROCESS_COUNT``).
    worker_processes: int = 1
    #: With several host processes, each is bound to one CPU (``supervisor.cpu_plan``); app setting
    #: ``DURABLE_EXT_PIN_PROCESSES``.
    pin_processes: bool = True
    #: How long an episode may take for its function to count as quick (``dispatcher.inline``); zero:
    #: every episode runs on a user thread. App setting ``DURABLE_EXT_INLINE_EPISODE_MS``.
    inline_episode_limit: timedelta = DEFAULT_INLINE_EPISODE_LIMIT
    #: The same for a plain ``def`` activity's calls. App setting ``DURABLE_EXT_INLINE_ACTIVITY_MS``.
    inline_activity_limit: timedelta = DEFAULT_INLINE_ACTIVITY_LIMIT
    #: Seconds ``durable-ext start``'s event loop polls before it sleeps (``eventloop``); 0: never.
    #: App setting ``DURABLE_EXT_IDLE_SPIN_US`` (microseconds); by default only on SQLite hubs.
    idle_spin: float = DEFAULT_IDLE_SPIN


class _Section:
    """One JSON object of a config file, read case-insensitively; knows its dotted path for messages."""

    __slots__ = ("_file", "_items", "_path", "raw")

    def __init__(self, file: str, path: str, raw: Any) -> None:
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            raise ConfigError(f"{file} ({path}) must be a JSON object, got {_show(raw)}.")
        self._file = file
        self._path = path
        self._items = {key.lower(): value for key, value in raw.items()}
        self.raw = raw

    def get(self, name: str) -> Any:
        return self._items.get(name.lower())

    def has(self, name: str) -> bool:
        return name.lower() in self._items

    def where(self, name: str) -> str:
        """``file (dotted.path.name)``, the form every message uses to name a setting."""
        return f"{self._file} ({self._path + '.' if self._path else ''}{name})"

    def section(self, name: str) -> "_Section":
        return _Section(self._file, f"{self._path + '.' if self._path else ''}{name}", self.get(name))

    def integer(self, name: str, default: int, *, high: int | None = None) -> int:
        """The option as an int in 1..high (or any positive int); numeric strings count, as in .NET."""
        raw = self.get(name)
        if raw is None:
            return default
        value = _to_int(raw)
        if value is None or value < 1 or (high is not None and value > high):
            wanted = f"an integer between 1 and {high}" if high is not None else "a positive integer"
            raise ConfigError(f"{self.where(name)} must be {wanted}, got {_show(raw)}.")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """The option as a bool; "true"/"false" strings count, as in .NET."""
        raw = self.get(name)
        if raw is None:
            return default
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise ConfigError(f"{self.where(name)} must be true or false, got {_show(raw)}.")

    def string(self, name: str) -> str | None:
        raw = self.get(name)
        if raw is not None and not isinstance(raw, str):
            raise ConfigError(f"{self.where(name)} must be a string, got {_show(raw)}.")
        return raw


def load_config(
    app_dir: str | Path,
    *,
    port: int | None = None,
    host: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> HostConfig:
    """Read ``app_dir``'s host.json and local.settings.json and resolve them against ``environ``.

    ``port`` and ``host`` are command-line overrides and win over the files. ``environ`` defaults to
    ``os.environ``; it is only read. Nothing is created on disk. Raises ConfigError on any invalid input.
    """
    env = os.environ if environ is None else environ
    root = Path(app_dir).expanduser().resolve()
    if not root.is_dir():
        raise ConfigError(f"App directory {root} does not exist or is not a directory.")
    values, settings_port, cors = _read_local_settings(root / LOCAL_SETTINGS_JSON)
    host_doc = _read_json(root / HOST_JSON)
    durable, http = _host_sections(host_doc)
    # Defaults of the extension outside the Consumption plan.
    per_cpu = 10 * (os.cpu_count() or 1)
    storage = _storage(durable.section("storageProvider"), root, values, env)
    return HostConfig(
        app_dir=root,
        hub_name=_hub_name(durable, values, env),
        storage=storage,
        max_concurrent_activities=durable.integer("maxConcurrentActivityFunctions", per_cpu),
        max_concurrent_orchestrations=durable.integer("maxConcurrentOrchestratorFunctions", per_cpu),
        max_concurrent_entities=durable.integer("maxConcurrentEntityFunctions", per_cpu),
        max_entity_batch_size=durable.integer("maxEntityOperationBatchSize", DEFAULT_ENTITY_BATCH_SIZE),
        default_version=durable.string("defaultVersion"),
        route_prefix=_route_prefix(http),
        host=_bind_host(host, env),
        port=_port(port, settings_port),
        values=MappingProxyType(values),
        cors_origins=cors,
        orchestration_lock_timeout=_env_seconds(env, ORCHESTRATION_LOCK_ENV, DEFAULT_ORCHESTRATION_LOCK),
        activity_lock_timeout=_env_seconds(env, ACTIVITY_LOCK_ENV, DEFAULT_ACTIVITY_LOCK),
        function_timeout=_function_timeout(_Section(HOST_JSON, "", host_doc), values, env),
        sessions=SessionSettings(
            enabled=durable.boolean("extendedSessionsEnabled", True),
            idle_timeout=float(
                durable.integer("extendedSessionIdleTimeoutInSeconds", int(DEFAULT_SESSION_IDLE_SECONDS))
            ),
            max_events=durable.integer("extendedSessionMaxEvents", DEFAULT_SESSION_MAX_EVENTS),
        ),
        worker_processes=_worker_processes(values, env, storage.kind),
        pin_processes=_pin_processes(values, env),
        inline_episode_limit=_inline_limit(INLINE_EPISODE_SETTING, DEFAULT_INLINE_EPISODE_LIMIT, values, env),
        inline_activity_limit=_inline_limit(INLINE_ACTIVITY_SETTING, DEFAULT_INLINE_ACTIVITY_LIMIT, values, env),
        idle_spin=_idle_spin(values, env, storage.kind),
    )


def _worker_processes(values: Mapping[str, str], env: Mapping[str, str], kind: StorageKind) -> int:
    """``FUNCTIONS_WORKER_PROCESS_COUNT``: as for the Functions host's language workers, 1 to 10
    processes, each running user code with its own share of the work; unset:
    :data:`DEFAULT_WORKER_PROCESSES` on SQLite, 1 on Azure Storage."""
    raw = app_setting(WORKER_PROCESSES_SETTING, values, env)
    if raw is None or raw.strip() == "":
        return DEFAULT_WORKER_PROCESSES if kind is StorageKind.SQLITE else 1
    count = _to_int(raw)
    if count is None or not 1 <= count <= MAX_WORKER_PROCESSES:
        raise ConfigError(
            f"App setting {WORKER_PROCESSES_SETTING} must be a whole number from 1 to {MAX_WORKER_PROCESSES}, "
            f"got {_show(raw)}."
        )
    return count


def _pin_processes(values: Mapping[str, str], env: Mapping[str, str]) -> bool:
    raw = app_setting(PIN_PROCESSES_SETTING, values, env)
    if raw is None or raw.strip() == "":
        return True
    if raw.strip().lower() in ("true", "1", "false", "0"):
        return raw.strip().lower() in ("true", "1")
    raise ConfigError(f"App setting {PIN_PROCESSES_SETTING} must be true or false, got {_show(raw)}.")


def _inline_limit(setting: str, default: timedelta, values: Mapping[str, str], env: Mapping[str, str]) -> timedelta:
    raw = app_setting(setting, values, env)
    if raw is None or raw.strip() == "":
        return default
    try:
        milliseconds = float(raw)
    except ValueError:
        milliseconds = float("nan")
    if not 0 <= milliseconds <= 60_000:  # also false for NaN and infinity
        raise ConfigError(
            f"App setting {setting} must be a number of milliseconds from 0 (off) to 60000, got {_show(raw)}."
        )
    return timedelta(milliseconds=milliseconds)


def _idle_spin(values: Mapping[str, str], env: Mapping[str, str], kind: StorageKind) -> float:
    """``DURABLE_EXT_IDLE_SPIN_US``; unset: :data:`DEFAULT_IDLE_SPIN` on SQLite, none on Azure
    Storage, where the loop mostly waits for storage round trips (spinning there only took CPU
    from whatever answers them: an Azurite beside the host answered 11 % slower)."""
    raw = app_setting(IDLE_SPIN_SETTING, values, env)
    if raw is None or raw.strip() == "":
        return DEFAULT_IDLE_SPIN if kind is StorageKind.SQLITE else 0.0
    microseconds = _to_int(raw)
    if microseconds is None or not 0 <= microseconds <= 10_000:
        raise ConfigError(
            f"App setting {IDLE_SPIN_SETTING} must be a whole number of microseconds from 0 (off) to 10000, "
            f"got {_show(raw)}."
        )
    return microseconds / 1e6


def export_values(config: HostConfig, environ: MutableMapping[str, str] = os.environ) -> None:
    """Put local.settings.json ``Values`` into ``environ`` for user code; variables already set win."""
    for name, value in config.values.items():
        environ.setdefault(name, value)


def _read_json(path: Path) -> Any:
    """The parsed file, or None when it does not exist. A UTF-8 BOM is tolerated (editors on Windows)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from exc


def _host_sections(doc: Any) -> tuple[_Section, _Section]:
    """The durableTask and http sections of host.json, from the v2 or the v1 shape."""
    root = _Section(HOST_JSON, "", doc)
    if not root.has("extensions") and (root.has("durableTask") or root.has("http")):
        return root.section("durableTask"), root.section("http")
    extensions = root.section("extensions")
    return extensions.section("durableTask"), extensions.section("http")


def _hub_name(durable: _Section, values: Mapping[str, str], env: Mapping[str, str]) -> str:
    raw = durable.string("hubName")
    if raw is None:
        return DEFAULT_HUB_NAME
    return resolve_hub_name(raw, durable.where("hubName"), values, env)


def resolve_hub_name(raw: str, where: str, values: Mapping[str, str], env: Mapping[str, str]) -> str:
    """A task hub name as written in ``where`` (host.json's hubName, a client binding's taskHub):
    ``%Setting%`` resolved, then checked against the extension's name rules.

    Raises ConfigError naming ``where`` and, when one was used, the app setting.
    """
    name, via = raw, ""
    # Like the extension's TryResolveWholeString: only a value that is entirely %Setting% is resolved.
    match = _WHOLE_SETTING.fullmatch(raw)
    if match:
        setting = match.group(1)
        resolved = app_setting(setting, values, env)
        if resolved is None:
            raise ConfigError(
                f"{where} refers to app setting '{setting}', which is set neither in "
                f"the environment nor in {LOCAL_SETTINGS_JSON} Values."
            )
        name, via = resolved, f" (from app setting '{setting}')"
    if not is_valid_hub_name(name):
        raise ConfigError(f"Task hub name {name!r}{via} in {where} is invalid: {HUB_NAME_RULE}")
    return name


#: What a task hub name must look like (EXT ``DurableTaskOptions.ValidateHubName``), for messages.
HUB_NAME_RULE = "it should contain only alphanumeric characters, start with a letter, and have length between 3 and 45."


def is_valid_hub_name(name: str) -> bool:
    return _HUB_NAME.fullmatch(name) is not None


def validate_hub_name(name: str, where: str) -> str:
    """``name`` if it is a valid task hub name, else ConfigError saying ``where`` it came from
    (``"given with --task-hub-name"``)."""
    if not is_valid_hub_name(name):
        raise ConfigError(f"Task hub name {name!r} {where} is invalid: {HUB_NAME_RULE}")
    return name


def _storage(provider: _Section, app_dir: Path, values: Mapping[str, str], env: Mapping[str, str]) -> StorageConfig:
    raw_type = provider.get("type")
    kind = StorageKind.SQLITE if raw_type is None else _STORAGE_KINDS.get(str(raw_type).lower())
    if kind is None:
        raise ConfigError(
            f"{provider.where('type')} is {_show(raw_type)}, which durable_ext does not support; "
            f"supported values: {_SUPPORTED_TYPES}."
        )
    connection_name = provider.string("connectionName")
    if connection_name is None:
        connection_name = provider.string("connectionStringName")  # obsolete alias, still in samples
    connection_name = connection_name or DEFAULT_CONNECTION_NAME
    is_azure = kind is StorageKind.AZURE_STORAGE
    return StorageConfig(
        kind=kind,
        sqlite_path=_sqlite_path(provider, app_dir, env) if kind is StorageKind.SQLITE else None,
        connection_name=connection_name,
        connection_string=app_setting(connection_name, values, env),
        partition_count=(
            provider.integer("partitionCount", DEFAULT_PARTITION_COUNT, high=16)
            if is_azure
            else DEFAULT_PARTITION_COUNT
        ),
        options=MappingProxyType(dict(provider.raw)),
    )


def _sqlite_path(provider: _Section, app_dir: Path, env: Mapping[str, str]) -> Path:
    """storageProvider.path (relative to the app), else $DURABLE_EXT_SQLITE_PATH (relative to the
    working directory, as a shell user expects), else <app_dir>/.durable_ext/taskhub.sqlite."""
    configured = provider.string("path")
    if configured:
        return (app_dir / Path(configured).expanduser()).resolve()
    from_env = env.get(SQLITE_PATH_ENV)
    if from_env:
        return Path(from_env).expanduser().resolve()
    return app_dir / DEFAULT_SQLITE_FILE


def _env_seconds(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    """A positive number of seconds from environment variable ``name``, else ``default``."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < 365 * 24 * 3600:  # also false for NaN and infinity
        raise ConfigError(f"Environment variable {name} must be a positive number of seconds, got {raw!r}.")
    return timedelta(seconds=seconds)


def _function_timeout(root: _Section, values: Mapping[str, str], env: Mapping[str, str]) -> timedelta | None:
    """host.json ``functionTimeout`` as the Functions host reads it: "hh:mm:ss" (or "d.hh:mm:ss"),
    -1 for unlimited, a default and a maximum that depend on the plan (``WEBSITE_SKU``)."""
    consumption = (app_setting("WEBSITE_SKU", values, env) or "").lower() == "dynamic"
    raw = root.get("functionTimeout")
    if raw is None:
        return CONSUMPTION_FUNCTION_TIMEOUT if consumption else DEFAULT_FUNCTION_TIMEOUT
    where = root.where("functionTimeout")
    if raw in (-1, "-1"):
        if consumption:
            raise ConfigError(f"{where} cannot be unlimited (-1) on the Consumption plan; the maximum is 00:10:00.")
        return None
    match = _TIMESPAN.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if match is None:
        raise ConfigError(f'{where} must be a time span "hh:mm:ss" or -1 for unlimited, got {_show(raw)}.')
    days, hours, minutes, seconds, fraction = match.groups()
    if int(minutes) > 59 or int(seconds) > 59:
        raise ConfigError(f'{where} must be a time span "hh:mm:ss" or -1 for unlimited, got {_show(raw)}.')
    value = timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds),
        microseconds=int((fraction or "0").ljust(7, "0")[:6]),
    )
    if value < timedelta(seconds=1):
        raise ConfigError(f"{where} must be at least 00:00:01, got {_show(raw)}.")
    if consumption and value > CONSUMPTION_MAX_FUNCTION_TIMEOUT:
        raise ConfigError(f"{where} must be at most 00:10:00 on the Consumption plan, got {_show(raw)}.")
    return value


def _route_prefix(http: _Section) -> str:
    prefix = http.string("routePrefix")
    return DEFAULT_ROUTE_PREFIX if prefix is None else prefix.strip("/")


def _bind_host(host: str | None, env: Mapping[str, str]) -> str:
    return host or env.get(BIND_HOST_ENV) or DEFAULT_BIND_HOST


def _port(port: int | None, settings_port: int | None) -> int:
    if port is None:
        return settings_port if settings_port is not None else DEFAULT_PORT
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"Port must be an integer between 1 and 65535, got {port!r}.")
    return port


def _read_local_settings(path: Path) -> tuple[dict[str, str], int | None, tuple[str, ...]]:
    """(Values, Host.LocalHttpPort, Host.CORS) of local.settings.json; ({}, None, ()) without the file."""
    doc = _read_json(path)
    if doc is None:
        return {}, None, ()
    root = _Section(LOCAL_SETTINGS_JSON, "", doc)
    if root.get("IsEncrypted") in (True, "true", "True"):
        raise ConfigError(
            f"Encrypted {LOCAL_SETTINGS_JSON} is not supported; run `func settings decrypt` in {path.parent}."
        )
    values = {
        name: _setting_text(value)
        for name, value in root.section("Values").raw.items()
        # A null value leaves the setting unset, as func does.
        if value is not None
    }
    host = root.section("Host")
    port = host.integer("LocalHttpPort", DEFAULT_PORT, high=65535) if host.has("LocalHttpPort") else None
    cors = host.string("CORS") or ""
    return values, port, tuple(origin.strip() for origin in cors.split(",") if origin.strip())


def app_setting(name: str, values: Mapping[str, str], env: Mapping[str, str]) -> str | None:
    """An app setting: the environment wins over local.settings.json Values, as with ``func start``."""
    if name in env:
        return env[name]
    return values.get(name)


def _setting_text(value: Any) -> str:
    # func wants strings; we accept what users write (5, true) and store it as its JSON text.
    return value if isinstance(value, str) else json.dumps(value)


def _to_int(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _INTEGER.fullmatch(raw.strip()):
        return int(raw)
    return None


def _show(raw: Any) -> str:
    """A value as the user wrote it in JSON, for messages."""
    try:
        return json.dumps(raw)
    except (TypeError, ValueError):
        return repr(raw)
