"""Import ``function_app.py`` and turn its azure.functions registrations into a :class:`Registry`.

Mirrors the Python worker's indexing (``azure_functions_worker/loader.py`` ``index_function_app``): the
module must define exactly one module-level ``FunctionRegister`` (``df.DFApp``, ``func.FunctionApp``, …),
whose ``get_functions()`` is called once. Everything is read from the binding objects, never from JSON.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func
from azure.functions.decorators.core import Binding, BindingDirection

from durable_ext.errors import AppLoadError
from durable_ext.functions.invoke import is_coroutine_function
from durable_ext.functions.registry import FunctionInfo, FunctionKind, Registry
from durable_ext.functions.validate import check_function

_KINDS = {kind.value: kind for kind in FunctionKind if kind is not FunctionKind.OTHER}

#: The binding attribute that overrides the durable name, per kind (SDK ``decorators/metadata.py``).
_NAME_ATTRIBUTES = {
    FunctionKind.ORCHESTRATOR: "orchestration",
    FunctionKind.ACTIVITY: "activity",
    FunctionKind.ENTITY: "entity_name",
}

#: Module name -> app directory, for every module an app imported from inside its directory (apart
#: from the app module itself, which never needs evicting: each app gets its own name).
_imported_from: dict[str, Path] = {}


def load_app(app_dir: Path, module_name: str = "function_app") -> Registry:
    """Import ``<app_dir>/<module_name>.py`` and register its functions.

    ``app_dir`` goes first on ``sys.path`` and stays there, so the app's own imports (``shared_code…``)
    work, now and in functions that import lazily. The module stays in ``sys.modules`` because
    ``df_loads`` resolves custom classes through it. It is named ``function_app``, as on Azure (so
    payloads carrying ``"__module__": "function_app"`` decode), unless another app already holds that
    name in this process; then it gets a stable per-directory name. Modules an earlier app imported from
    its own directory leave ``sys.modules`` when this app ships a module with the same top-level name
    (two apps with a ``shared_code`` package): the app loaded last wins such names.

    Raises AppLoadError when the file is missing or fails to import, when it defines no app or more
    than one, when ``get_functions()`` rejects the registrations, when a function's parameters do not
    match its bindings (``functions.validate``, as the Python worker refuses it), or when durable
    names collide.
    """
    app_dir = Path(app_dir).resolve()
    path = app_dir / f"{module_name}.py"
    if not path.is_file():
        raise AppLoadError(f"No {path.name} in {app_dir}")
    module = _import_module(app_dir, path, module_name)
    attribute, app = _find_app(module, path)
    try:
        # get_functions() records names on the app object; a second call would report every function as
        # a duplicate, so this is the only call.
        functions = app.get_functions()
    except Exception as exc:
        raise AppLoadError(f"Function app {attribute!r} in {path} is invalid: {exc}") from exc
    for function in functions:
        check_function(function)
    return Registry((_function_info(f, app_dir) for f in functions), app_dir=app_dir)


def _import_module(app_dir: Path, path: Path, base_name: str) -> ModuleType:
    _evict_other_apps_modules(app_dir)
    directory = str(app_dir)
    if directory in sys.path:
        sys.path.remove(directory)
    sys.path.insert(0, directory)

    name = _module_name(app_dir, base_name)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    before = set(sys.modules)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise AppLoadError(
            f"Failed to load {path}: {type(exc).__name__}: {exc} (at {_location(exc, app_dir, path)})"
        ) from exc
    finally:
        for added in set(sys.modules) - before - {name}:
            imported = sys.modules.get(added)
            if imported is not None and _is_inside(imported, app_dir):
                _imported_from[added] = app_dir
    return module


def _module_name(app_dir: Path, base_name: str) -> str:
    """``base_name`` if free or held by this same app; else a name derived from the directory."""
    held = sys.modules.get(base_name)
    if held is None or _directory_of(held) == app_dir:
        return base_name
    # Stable across runs (unlike a counter), so persisted custom-object payloads keep resolving.
    return f"{base_name}__{_stable_hash(str(app_dir)):016x}"


def _stable_hash(text: str) -> int:
    # FNV-1a 64: str.__hash__ is salted per process.
    value = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def _evict_other_apps_modules(app_dir: Path) -> None:
    """Forget modules a previously loaded app imported when this app ships a module of the same name.

    Only matters when several apps load into one process (tests): without it the second app's
    ``import shared_code`` would silently get the first app's package from ``sys.modules``.
    """
    for name, owner in list(_imported_from.items()):
        top = name.partition(".")[0]
        if owner != app_dir and ((app_dir / f"{top}.py").is_file() or (app_dir / top).is_dir()):
            sys.modules.pop(name, None)
            del _imported_from[name]


def _directory_of(module: ModuleType | None) -> Path | None:
    file = getattr(module, "__file__", None)
    return Path(file).resolve().parent if file else None


def _is_inside(module: ModuleType, app_dir: Path) -> bool:
    directory = _directory_of(module)
    return directory is not None and directory.is_relative_to(app_dir)


def _location(exc: BaseException, app_dir: Path, path: Path) -> str:
    """file:line of the failure, preferring the innermost frame in the app's own code."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if Path(f.filename).is_absolute() and Path(f.filename).is_relative_to(app_dir)]
    frame = (own or frames or [None])[-1]  # type: ignore[list-item]
    return f"{frame.filename}:{frame.lineno}" if frame is not None else str(path)


def _find_app(module: ModuleType, path: Path) -> tuple[str, func.FunctionRegister]:
    # Counted per attribute, as the worker does: two names for one object is also an error there.
    apps = [(name, value) for name, value in vars(module).items() if isinstance(value, func.FunctionRegister)]
    if not apps:
        raise AppLoadError(
            f"No function app found in {path}: define app = df.DFApp() (or func.FunctionApp()) at module level"
        )
    if len(apps) > 1:
        names = ", ".join(name for name, _ in apps)
        raise AppLoadError(f"More than one function app is defined in {path} ({names}); keep exactly one")
    return apps[0]


def _function_info(function: Any, app_dir: Path) -> FunctionInfo:
    """Build the FunctionInfo of one ``azure.functions.decorators.function_app.Function``."""
    name: str = function.get_function_name()
    trigger = function.get_trigger()
    bindings: list[Binding] = function.get_bindings()
    user_function = function.get_user_function()
    kind = _KINDS.get(trigger.type, FunctionKind.OTHER)

    name_attribute = _NAME_ATTRIBUTES.get(kind)
    durable_name = (getattr(trigger, name_attribute, None) if name_attribute else None) or name

    client = next((b for b in bindings if b.type == "durableClient"), None)
    outputs = [b for b in bindings if b.direction == BindingDirection.OUT.value]
    http_output = next((b for b in outputs if b.type == "http"), None)
    unserved = [b for b in bindings if b is not trigger and b is not client and b not in outputs]
    is_http = kind is FunctionKind.HTTP
    durable_wrapper = kind in (FunctionKind.ORCHESTRATOR, FunctionKind.ENTITY)

    return FunctionInfo(
        function_name=name,
        kind=kind,
        durable_name=durable_name,
        user_function=user_function,
        trigger_binding_name=trigger.name,
        trigger_type=str(trigger.type),
        route=getattr(trigger, "route", None) if is_http else None,
        methods=_method_names(getattr(trigger, "methods", None)) if is_http else None,
        auth_level=_enum_name(getattr(trigger, "auth_level", None)) if is_http else None,
        client_binding_name=client.name if client else None,
        client_task_hub=getattr(client, "task_hub", None) if client else None,
        client_connection_name=getattr(client, "connection_name", None) if client else None,
        is_async=is_coroutine_function(user_function),
        function_directory=str(app_dir),
        # The orchestrator/entity wrappers' only parameter is literally "context"; they are called
        # positionally, never with a func.Context.
        wants_context=not durable_wrapper and _wants_context(user_function, {b.name for b in bindings}),
        out_binding_names=tuple(b.name for b in outputs if b.name != "$return"),
        http_output_name=http_output.name if http_output else None,
        unserved_input_names=tuple(b.name for b in unserved),
        raw_bindings=tuple(function.get_raw_bindings()),
    )


def _wants_context(user_function: Any, binding_names: set[str]) -> bool:
    """The worker's ``is_context_required``: a ``context`` parameter that no binding fills."""
    try:
        parameters = inspect.signature(user_function).parameters
    except (TypeError, ValueError):
        return False
    return "context" in parameters and "context" not in binding_names


def _method_names(methods: Iterable[Any] | None) -> tuple[str, ...] | None:
    names = tuple(_enum_name(m) or "" for m in methods or ())
    return names or None


def _enum_name(value: Any) -> str | None:
    """Upper-case name of an AuthLevel / HttpMethod enum member or of the plain string given instead."""
    if value is None:
        return None
    if isinstance(value, Enum):
        return value.name
    return str(value).upper()
