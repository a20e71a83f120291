"""What a loaded function app contains: one :class:`FunctionInfo` per function, looked up by durable name.

Durable names are what ``call_activity("X")``, ``start_new("X")`` and entity ids resolve against: the
binding's ``orchestration`` / ``activity`` / ``entityName`` field, else the function name. They are
matched case-insensitively, as the extension's ``FunctionName.Equals`` does (OrdinalIgnoreCase); entity
names are additionally stored lower-cased in entity ids, so lower-casing is the one normal form here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from durable_ext.errors import AppLoadError


class FunctionKind(Enum):
    """What triggers a function. OTHER (timer, queue, blob, …) is listed but never invoked."""

    ORCHESTRATOR = "orchestrationTrigger"
    ACTIVITY = "activityTrigger"
    ENTITY = "entityTrigger"
    HTTP = "httpTrigger"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    """One registered function, read from the azure.functions binding objects.

    ``user_function`` is what ``Function.get_user_function()`` returned: the SDK's sync ``handle`` wrapper
    for orchestrators and entities, the user's own function for activities and plain HTTP functions, and
    the SDK's ``async def`` client middleware for functions with a ``durableClient`` binding.
    """

    function_name: str
    kind: FunctionKind
    #: Name durable callers use; equals ``function_name`` for HTTP and OTHER functions.
    durable_name: str
    user_function: Callable[..., Any]
    #: Parameter that receives the trigger value (activity input, ``HttpRequest``, context JSON).
    trigger_binding_name: str
    #: The trigger's ``type`` as written in function.json (``timerTrigger`` for an OTHER function, …).
    trigger_type: str = ""
    #: HTTP only: route template without the ``api/`` prefix; defaults to the function name.
    route: str | None = None
    #: HTTP only: upper-case method names, or None for every method.
    methods: tuple[str, ...] | None = None
    #: HTTP only: ``ANONYMOUS`` / ``FUNCTION`` / ``ADMIN``.
    auth_level: str | None = None
    client_binding_name: str | None = None
    client_task_hub: str | None = None
    client_connection_name: str | None = None
    is_async: bool = False
    #: ``func.Context.function_directory``: the app directory.
    function_directory: str = ""
    #: True when the signature has a ``context`` parameter that no binding fills (gets a func.Context).
    wants_context: bool = False
    #: Output bindings other than ``$return``; each receives a ``func.Out``.
    out_binding_names: tuple[str, ...] = ()
    #: HTTP only: the ``http`` output binding's name, ``$return`` unless ``route(binding_arg_name=…)``.
    http_output_name: str | None = None
    #: Input bindings this runtime cannot serve (blob, table, …); their parameters receive None.
    unserved_input_names: tuple[str, ...] = ()
    #: ``Function.get_raw_bindings()``: one function.json binding object (JSON text) per binding.
    raw_bindings: tuple[str, ...] = ()


class Registry:
    """The functions of one app, in registration order, with case-insensitive durable-name lookups.

    Raises AppLoadError when two functions of the same kind share a durable name (ignoring case).
    """

    def __init__(self, functions: Iterable[FunctionInfo], app_dir: Path | None = None) -> None:
        self.functions: list[FunctionInfo] = list(functions)
        self.app_dir = app_dir
        self._by_kind: dict[FunctionKind, dict[str, FunctionInfo]] = {
            kind: {} for kind in (FunctionKind.ORCHESTRATOR, FunctionKind.ACTIVITY, FunctionKind.ENTITY)
        }
        for info in self.functions:
            index = self._by_kind.get(info.kind)
            if index is None:
                continue
            key = info.durable_name.lower()
            other = index.get(key)
            if other is not None:
                raise AppLoadError(
                    f"Functions {other.function_name!r} and {info.function_name!r} both register the "
                    f"{info.kind.name.lower()} name {info.durable_name!r} (names are case-insensitive)"
                )
            index[key] = info

    def override(self, info: FunctionInfo) -> FunctionInfo | None:
        """Put ``info`` in place of the function of its kind and durable name (or add it); returns the old one.

        For test kits (``durable_ext.testing`` stubs): the lookups see the new function at once.
        """
        index = self._by_kind.get(info.kind)
        if index is None:
            raise ValueError(f"only orchestrators, activities and entities can be overridden, not {info.kind.name}")
        key = info.durable_name.lower()
        old = index.get(key)
        index[key] = info
        self.functions = [info if f is old else f for f in self.functions]
        if old is None:
            self.functions.append(info)
        return old

    def orchestrator(self, name: str) -> FunctionInfo | None:
        return self._by_kind[FunctionKind.ORCHESTRATOR].get(name.lower())

    def activity(self, name: str) -> FunctionInfo | None:
        return self._by_kind[FunctionKind.ACTIVITY].get(name.lower())

    def entity(self, name: str) -> FunctionInfo | None:
        return self._by_kind[FunctionKind.ENTITY].get(name.lower())

    def orchestrator_names(self) -> list[str]:
        """Durable names as declared (original case), in registration order."""
        return [info.durable_name for info in self._by_kind[FunctionKind.ORCHESTRATOR].values()]

    def activity_names(self) -> list[str]:
        return [info.durable_name for info in self._by_kind[FunctionKind.ACTIVITY].values()]

    def entity_names(self) -> list[str]:
        return [info.durable_name for info in self._by_kind[FunctionKind.ENTITY].values()]

    def http_functions(self) -> list[FunctionInfo]:
        return [info for info in self.functions if info.kind is FunctionKind.HTTP]

    def function(self, function_name: str) -> FunctionInfo | None:
        """Any function by its function name (not durable name), ignoring case."""
        wanted = function_name.lower()
        return next((f for f in self.functions if f.function_name.lower() == wanted), None)

    def __len__(self) -> int:
        return len(self.functions)

    def __repr__(self) -> str:
        return f"Registry({[f.function_name for f in self.functions]!r})"
