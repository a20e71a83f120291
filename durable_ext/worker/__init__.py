"""Worker mode: durable_ext inside the real Azure Functions Python worker (a composition root, like host.py).

An app deployed as a function app gets an entry module (written by ``python -m durable_ext init-worker``)
that the ``PYTHON_SCRIPT_FILE_NAME`` app setting names instead of ``function_app.py``::

    import function_app as _user_module
    from durable_ext.worker import attach

    app = attach(_user_module)

The worker imports that module, which imports the user's ``function_app.py`` exactly once, and calls
``app.get_functions()``. :func:`attach` has replaced that method: the worker reports the app's
HTTP/timer/other functions (their durable client supplied by durable_ext) and durable_ext's webhook
function, never a durable binding (``functions/reported.py``). The orchestrators, activities and entities
run on durable_ext's dispatcher, on its own thread and event loop in the worker process
(``worker/runtime.py``), built by the same :class:`~durable_ext.engine.Engine` as ``durable_ext start``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

from durable_ext.config import HostConfig, export_values, load_config
from durable_ext.errors import ConfigError
from durable_ext.functions.loader import find_app, registry_from_functions
from durable_ext.functions.reported import WEBHOOK_FUNCTION_NAME, rewrite_functions
from durable_ext.web.links import LinkSettings
from durable_ext.worker.keys import function_level_key, host_keys
from durable_ext.worker.runtime import WorkerRuntime

__all__ = ["WEBHOOK_AUTH_LEVEL_SETTING", "WEBHOOK_KEY_SETTING", "attach", "check_storage", "link_settings"]

#: App setting: auth level of the webhook function (``function`` by default, or ``anonymous``/``admin``).
WEBHOOK_AUTH_LEVEL_SETTING = "DURABLE_EXT_WEBHOOK_AUTH_LEVEL"
#: The app setting (a key name of ``durable_ext.auth.keys``) that tells worker mode the webhook function's
#: key, which every link carries as ``code=`` (see ``worker/keys.py`` for the other places it is read from).
WEBHOOK_KEY_SETTING = f"functions.{WEBHOOK_FUNCTION_NAME}.default"
#: Set by the platform on every Azure Functions instance (the worker's own ``is_azure_environment``).
AZURE_MARKERS = ("WEBSITE_INSTANCE_ID", "CONTAINER_NAME")
WEBHOOK_ROUTE = "durabletask/{*path}"
_AUTH_LEVELS = ("ANONYMOUS", "FUNCTION", "ADMIN")
_RUNTIME_ATTRIBUTE = "_durable_ext_runtime"


def attach(target: Any, *, environ: Mapping[str, str] | None = None) -> Any:
    """Make the app object ``target`` (or the one ``FunctionRegister`` of module ``target``) report only
    what the Functions host can bind, and start durable_ext's dispatcher in this process.

    Returns the app object; attaching it twice does nothing more. Never imports the user's module.
    Raises ConfigError (one line naming the setting) for invalid configuration — the worker reports it
    as the app's indexing error — and AppLoadError for an invalid app.
    """
    env = os.environ if environ is None else environ
    if isinstance(target, ModuleType):
        app, app_dir = find_app(target), Path(target.__file__ or ".").resolve().parent
    else:
        app, app_dir = target, Path(env.get("AzureWebJobsScriptRoot") or os.getcwd()).resolve()
    if getattr(app, _RUNTIME_ATTRIBUTE, None) is not None:
        return app
    config = load_config(app_dir, environ=env)
    check_storage(config, env)
    links = link_settings(config, env)
    export_values(config)
    # The one call of the app's own get_functions(): it records names, and a second call would report
    # every function as a duplicate.
    functions = app.get_functions()
    registry = registry_from_functions(functions, config.app_dir)
    runtime = WorkerRuntime(config, registry, links)
    reported = rewrite_functions(
        functions,
        client_binding=runtime.client_binding,
        webhook_handler=runtime.forward,
        webhook_route=WEBHOOK_ROUTE,
        webhook_auth_level=_setting(config, env, WEBHOOK_AUTH_LEVEL_SETTING, "function").upper(),
    )
    app.get_functions = lambda: list(reported)
    setattr(app, _RUNTIME_ATTRIBUTE, runtime)
    runtime.start()
    return app


def check_storage(config: HostConfig, environ: Mapping[str, str]) -> None:
    """In Azure every instance and worker process runs a dispatcher on the same hub: only Azure Storage
    can be shared that way (an SQLite file on the instances' shared /home is not safe to lock)."""
    marker = next((name for name in AZURE_MARKERS if environ.get(name)), None)
    if marker is not None and config.storage.kind != "azure_storage":
        raise ConfigError(
            f"Running in Azure ({marker} is set), durable_ext needs an Azure Storage task hub: set "
            f'host.json (extensions.durableTask.storageProvider.type) to "AzureStorage" (found "{config.storage.kind}").'
        )


def link_settings(config: HostConfig, environ: Mapping[str, str]) -> LinkSettings:
    """Where the host routes the built-in API (``/<routePrefix>/durabletask``) and the key its links carry.

    Level ``function`` (the default): the links carry ``code=`` with the webhook function's key, or a host
    function key, as far as this process can read one (``worker/keys.py``); running in Azure without one is
    a ConfigError, since every link handed out would be refused. ``admin``: no key in the links (only the
    master key opens the function, and it is never handed out: callers add it). ``anonymous``: none needed.
    """
    level = _setting(config, environ, WEBHOOK_AUTH_LEVEL_SETTING, "function").upper()
    if level not in _AUTH_LEVELS:
        raise ConfigError(
            f"App setting {WEBHOOK_AUTH_LEVEL_SETTING} must be one of anonymous, function, admin (got {level.lower()!r})."
        )
    prefix = f"/{config.route_prefix}" if config.route_prefix else ""
    required = ""
    if level == "FUNCTION":
        keys, where = host_keys({**config.values, **environ}, WEBHOOK_FUNCTION_NAME)
        key = function_level_key(keys, WEBHOOK_FUNCTION_NAME)
        marker = next((name for name in AZURE_MARKERS if environ.get(name)), None)
        if key:
            required = f"code={quote(key, safe='')}"
        elif marker is not None:
            raise ConfigError(
                f"Running in Azure ({marker} is set), the links durable_ext hands out need a key the Functions host "
                f"accepts for its function {WEBHOOK_FUNCTION_NAME} (auth level function), and none was found in {where}: "
                f"choose a key of 16+ characters and set it both as the app setting {WEBHOOK_KEY_SETTING} and as that "
                f"function's key (az functionapp function keys set), or name a host key (host.function.<name>), "
                f"or set {WEBHOOK_AUTH_LEVEL_SETTING}=anonymous."
            )
    return LinkSettings(webhook_path=f"{prefix}/durabletask", required_query=required)


def _setting(config: HostConfig, environ: Mapping[str, str], name: str, default: str) -> str:
    """An app setting: the environment first (Azure, ``func start``), then local.settings.json Values."""
    value = environ.get(name) or config.values.get(name)
    return value.strip() if value and value.strip() else default
