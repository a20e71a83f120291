"""Function keys as the Functions host keeps them.

Kinds (Functions "Work with access keys"): the **master** key (``_master``: admin level — every
function, ``/admin`` routes, and everything a system key opens); **host** function keys (function
level for every function); **function** keys (function level for one function); **system** keys
(extension webhooks: ``durabletask_extension`` opens ``/runtime/webhooks/durabletask``).

Where they come from, in this order (later sources win per key):

1. ``AzureWebJobsSecretStorageType`` (app setting or environment):
   * absent or ``files`` — JSON files in the Functions host's file format (``host.json`` with
     ``masterKey`` / ``functionKeys`` / ``systemKeys``, ``<function>.json`` with ``keys``) in
     ``<app-dir>/.durable_ext/secrets`` (or ``DURABLE_EXT_SECRETS_PATH``). Missing keys are
     generated on first start; the directory is 0700, the files 0600.
   * ``containerapp`` — read-only files named as the Container Apps secret store mounts them
     (``host.master``, ``host.function.<name>``, ``host.systemKey.<name>``,
     ``functions.<function>.<name>``) in ``/run/secrets/functions-keys`` (or
     ``DURABLE_EXT_SECRETS_PATH``); nothing is generated, a missing master key is a startup error.
2. App settings / environment variables with those same dotted names (the Kubernetes secret
   names), e.g. ``host.master=...``: how a deployment pins keys without files.

Keys are compared in constant time. Key values are at least 16 characters.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from durable_ext.errors import ConfigError

SYSTEM_KEY_NAME = "durabletask_extension"
STORAGE_TYPE_SETTING = "AzureWebJobsSecretStorageType"
SECRETS_PATH_ENV = "DURABLE_EXT_SECRETS_PATH"
DEFAULT_SECRETS_DIR = Path(".durable_ext") / "secrets"
CONTAINER_APPS_SECRETS_DIR = Path("/run/secrets/functions-keys")
MIN_KEY_LENGTH = 16
_MASTER = "host.master"
_HOST_FUNCTION = "host.function."
_HOST_SYSTEM = "host.systemKey."
_FUNCTION = "functions."


class AuthLevel(IntEnum):
    """What a request may do; a higher level includes the lower ones (Functions ``AuthorizationLevel``)."""

    ANONYMOUS = 0
    FUNCTION = 2
    SYSTEM = 3
    ADMIN = 4

    @classmethod
    def of_function(cls, declared: str | None) -> AuthLevel:
        """A function's ``authLevel`` (``anonymous``/``function``/``admin``; absent → function, as the host)."""
        name = (declared or "FUNCTION").upper()
        return {"ANONYMOUS": cls.ANONYMOUS, "ADMIN": cls.ADMIN}.get(name, cls.FUNCTION)


@dataclass(frozen=True, slots=True)
class Keys:
    master: str
    #: host function keys by name (``default`` first)
    host: Mapping[str, str] = field(default_factory=dict)
    #: system keys by extension name
    system: Mapping[str, str] = field(default_factory=dict)
    #: per-function keys: lower-cased function name → key name → value
    functions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def system_key(self) -> str:
        """The key the durable webhooks want (the master key when no system key exists)."""
        return self.system.get(SYSTEM_KEY_NAME) or self.master

    def level_of(self, presented: str | None, function_name: str | None = None) -> AuthLevel:
        """The level ``presented`` grants (for ``function_name``'s own keys); ANONYMOUS when it matches none."""
        if not presented:
            return AuthLevel.ANONYMOUS
        if _equal(presented, self.master):
            return AuthLevel.ADMIN
        if any(_equal(presented, value) for value in self.system.values()):
            return AuthLevel.SYSTEM
        own = self.functions.get(function_name.lower(), {}) if function_name else {}
        if any(_equal(presented, value) for value in (*self.host.values(), *own.values())):
            return AuthLevel.FUNCTION
        return AuthLevel.ANONYMOUS


def _equal(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def load_keys(
    app_dir: Path, settings: Mapping[str, str], function_names: Iterable[str], *, create: bool = True
) -> tuple[Keys, str]:
    """The app's keys and a one-line description of where they live (for the startup log).

    ``settings`` are the app settings merged with the environment (environment wins). With the
    files store and ``create``, missing keys (master, host ``default``, the durable system key and
    a ``default`` key per function) are generated and written. Raises ConfigError for an unknown
    store, a key that is too short, or (read-only stores) no master key.
    """
    names = list(function_names)
    kind = (settings.get(STORAGE_TYPE_SETTING) or "files").strip().lower()
    override = settings.get(SECRETS_PATH_ENV)
    if kind == "files":
        directory = Path(override) if override else app_dir / DEFAULT_SECRETS_DIR
        found = _read_files_store(directory, names)
        where = f"files in {directory}"
    elif kind == "containerapp":
        directory = Path(override) if override else CONTAINER_APPS_SECRETS_DIR
        found = _read_dotted_dir(directory)
        where = f"Container Apps secret files in {directory}"
        create = False
    else:
        raise ConfigError(
            f"{STORAGE_TYPE_SETTING} is '{settings.get(STORAGE_TYPE_SETTING)}', which durable_ext does not support; "
            "use 'files' (the default) or 'containerapp', or set keys through app settings named like "
            "'host.master' and 'host.systemKey.durabletask_extension'."
        )
    from_settings = _parse_dotted({k: v for k, v in settings.items() if _is_key_name(k)})
    if from_settings.master or from_settings.host or from_settings.system or from_settings.functions:
        where += " and app settings"
    merged = _merge(found, from_settings)
    if create:
        generated = _fill_missing(merged, names)
        if generated != merged:
            _write_files_store(directory, generated, names)
            merged = generated
    if not merged.master:
        raise ConfigError(
            f"No master key: set the app setting 'host.master' or provide it in {where} ({STORAGE_TYPE_SETTING}={kind})."
        )
    _check_lengths(merged)
    return (
        Keys(
            master=merged.master,
            host=dict(merged.host),
            system=dict(merged.system),
            functions={k: dict(v) for k, v in merged.functions.items()},
        ),
        where,
    )


def read_keys(
    settings: Mapping[str, str], function_names: Iterable[str], *, files: Path | None = None, dotted: Path | None = None
) -> Keys:
    """Keys someone else keeps (the Functions host, in worker mode), read only: a files-format store in
    ``files`` and a directory of dotted key files in ``dotted`` (each when it exists), then app settings
    with dotted names. Nothing is generated and no key is required (``master`` may be empty). Raises
    ConfigError for an unreadable or encrypted store or a key that is too short."""
    names = list(function_names)
    found = _Found()
    if files is not None and files.is_dir():
        found = _merge(found, _read_files_store(files, names))
    if dotted is not None and dotted.is_dir():
        found = _merge(found, _read_dotted_dir(dotted))
    found = _merge(found, _parse_dotted({k: v for k, v in settings.items() if _is_key_name(k)}))
    _check_lengths(found)
    return Keys(
        master=found.master,
        host=dict(found.host),
        system=dict(found.system),
        functions={k: dict(v) for k, v in found.functions.items()},
    )


@dataclass(slots=True)
class _Found:
    master: str = ""
    host: dict[str, str] = field(default_factory=dict)
    system: dict[str, str] = field(default_factory=dict)
    functions: dict[str, dict[str, str]] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Found) and (self.master, self.host, self.system, self.functions) == (
            other.master,
            other.host,
            other.system,
            other.functions,
        )


def _is_key_name(name: str) -> bool:
    return name == _MASTER or name.startswith((_HOST_FUNCTION, _HOST_SYSTEM, _FUNCTION))


def _parse_dotted(items: Mapping[str, str]) -> _Found:
    found = _Found()
    for name, value in items.items():
        value = value.strip()
        if name == _MASTER:
            found.master = value
        elif name.startswith(_HOST_FUNCTION):
            found.host[name[len(_HOST_FUNCTION) :]] = value
        elif name.startswith(_HOST_SYSTEM):
            found.system[name[len(_HOST_SYSTEM) :]] = value
        elif name.startswith(_FUNCTION) and name.count(".") >= 2:
            function, key_name = name[len(_FUNCTION) :].rsplit(".", 1)
            found.functions.setdefault(function.lower(), {})[key_name] = value
    return found


def _read_dotted_dir(directory: Path) -> _Found:
    if not directory.is_dir():
        raise ConfigError(f"The key directory {directory} does not exist.")
    items = {}
    for path in directory.iterdir():
        if path.is_file() and _is_key_name(path.name):
            items[path.name] = path.read_text(encoding="utf-8")
    return _parse_dotted(items)


def _read_files_store(directory: Path, function_names: list[str]) -> _Found:
    found = _Found()
    host = _read_json(directory / "host.json")
    if host is not None:
        master = host.get("masterKey")
        found.master = _key_value(master, directory / "host.json") if master else ""
        found.host = _key_list(host.get("functionKeys"), directory / "host.json")
        found.system = _key_list(host.get("systemKeys"), directory / "host.json")
    for name in function_names:
        doc = _read_json(directory / f"{name.lower()}.json")
        if doc is not None:
            found.functions[name.lower()] = _key_list(doc.get("keys"), directory / f"{name.lower()}.json")
    return found


def _read_json(path: Path) -> dict | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"Cannot read the key file {path}: {exc.strerror}.") from None
    _tighten(path, 0o600)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"The key file {path} is not valid JSON: {exc}.") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"The key file {path} must hold a JSON object.")
    return doc


def _key_value(entry: object, path: Path) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
        raise ConfigError(f"The key file {path} has a key without a string 'value'.")
    if entry.get("encrypted"):
        raise ConfigError(f"The key file {path} holds encrypted keys, which durable_ext cannot read.")
    return entry["value"]


def _key_list(entries: object, path: Path) -> dict[str, str]:
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise ConfigError(f"The key file {path} must list keys as an array of {{name, value}} objects.")
    out = {}
    for entry in entries:
        value = _key_value(entry, path)
        name = entry.get("name") if isinstance(entry, dict) else None
        out[str(name or "default")] = value
    return out


def _merge(base: _Found, top: _Found) -> _Found:
    functions = {k: dict(v) for k, v in base.functions.items()}
    for name, keys in top.functions.items():
        functions.setdefault(name, {}).update(keys)
    return _Found(top.master or base.master, {**base.host, **top.host}, {**base.system, **top.system}, functions)


def _fill_missing(found: _Found, function_names: list[str]) -> _Found:
    functions = {k: dict(v) for k, v in found.functions.items()}
    for name in function_names:
        keys = functions.setdefault(name.lower(), {})
        if not keys:
            keys["default"] = new_key()
    return _Found(
        found.master or new_key(),
        found.host or {"default": new_key()},
        {**found.system} if SYSTEM_KEY_NAME in found.system else {**found.system, SYSTEM_KEY_NAME: new_key()},
        functions,
    )


def new_key() -> str:
    """32 random bytes, URL-safe base64 (what the Functions host generates, without its signature)."""
    return secrets.token_urlsafe(32)


def _check_lengths(found: _Found) -> None:
    named = [("host.master", found.master)] if found.master else []  # required or not: the caller's call
    named += [(f"host.function.{n}", v) for n, v in found.host.items()]
    named += [(f"host.systemKey.{n}", v) for n, v in found.system.items()]
    named += [(f"functions.{f}.{n}", v) for f, keys in found.functions.items() for n, v in keys.items()]
    for name, value in named:
        if len(value) < MIN_KEY_LENGTH:
            raise ConfigError(f"The key '{name}' is shorter than {MIN_KEY_LENGTH} characters.")


def _write_files_store(directory: Path, found: _Found, function_names: list[str]) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(directory, 0o700)

    def entry(name: str, value: str) -> dict:
        return {"name": name, "value": value, "encrypted": False}

    host = {
        "masterKey": entry("master", found.master),
        "functionKeys": [entry(n, v) for n, v in found.host.items()],
        "systemKeys": [entry(n, v) for n, v in found.system.items()],
        "source": "runtime",
    }
    _write_private(directory / "host.json", host)
    for name in function_names:
        keys = found.functions.get(name.lower(), {})
        _write_private(directory / f"{name.lower()}.json", {"keys": [entry(n, v) for n, v in keys.items()]})


def _write_private(path: Path, doc: dict) -> None:
    """Write ``doc`` readable by the owner only, atomically (a reader never sees half a file)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _tighten(path: Path, mode: int) -> None:
    """Take group/other permissions away from a key file or directory we own."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            path.chmod(current & mode)
    except OSError:
        pass
